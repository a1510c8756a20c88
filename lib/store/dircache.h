/* dircache.h - a saved copy of one directory's listing (the getdents64
 * records of new/ or cur/ of a maildir), valid while the directory's
 * device, inode, mtime and ctime are those recorded with it.
 *
 * Reading a 100,000-entry directory on ext4 costs the kernel ~50 ms
 * (an htree walk and an rbtree of every entry); reading the same records
 * back from a file in the page cache costs a few. The copy is a pure
 * cache: it is only ever used when its stamp equals the directory's, and
 * every record read back is checked again by the reader
 * (maildir_scan.c), so a damaged or forged file costs a rescan, never a
 * wrong name.
 *
 * File: header {magic[16], dev, ino, mtime s/ns, ctime s/ns, total} (8
 * octets each after the magic, host order), then chunks {uint32 len,
 * len octets of records, 0 < len <= DIRCACHE_CHUNK_MAX}; total is the
 * sum of the lens. Written to PATH.tmp (O_NOFOLLOW, 0600) and renamed:
 * a reader sees a whole file or none. One writer at a time (the fixed
 * temporary name): maildir_scan.c writes only for the holder of the
 * maildir lock. */
#ifndef POSTERN_DIRCACHE_H
#define POSTERN_DIRCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define DIRCACHE_CHUNK_MAX (256u * 1024)
#define DIRCACHE_PATH_MAX  1400
/* A directory changed in the last DIRCACHE_SETTLE seconds is not saved:
 * a change in the same timestamp tick as our fstat would leave its
 * mtime and ctime as they were (see dircache_begin). */
#define DIRCACHE_SETTLE    2

struct dircache_stamp {
	int64_t v[6];      /* dev, ino, mtime s, ns, ctime s, ns */
};

void dircache_stamp(const struct stat *st, struct dircache_stamp *s);

/* 1 when the directory open on fd lives on a file system whose
 * directory mtime/ctime another host's change may not update here at
 * once (FUSE, e.g. GlusterFS; NFS, SMB/CIFS, Ceph, 9P, AFS, GFS2, OCFS2):
 * such a stamp cannot prove a saved listing current, so none is used or
 * saved there and the directory is read live. 0 for local file systems
 * (and when fstatfs fails: the stamp check still holds on one host). */
int dircache_untrusted_fs(int fd);

/* Reader: opens path when its stamp equals s. fd at the first chunk, or
 * -1 (no such file, another stamp, a bad header: scan instead). */
int dircache_open(const char *path, const struct dircache_stamp *s,
    uint64_t *total_r);

/* The next chunk into buf[room]: its length (> 0), 0 at a clean end
 * after exactly total octets, -1 when the file is damaged. */
ssize_t dircache_next(int fd, void *buf, size_t room, uint64_t total,
    uint64_t *done);

/* Writer. */
struct dircache_writer {
	int fd;                            /* -1: not writing */
	uint64_t total;
	struct dircache_stamp st;
	char tmp[DIRCACHE_PATH_MAX];
	char path[DIRCACHE_PATH_MAX];
};

/* Starts a copy for a directory whose stamp is s, taken by an fstat that
 * came after the wall-clock time before (CLOCK_REALTIME): only when the
 * directory's last change (mtime, ctime) is at least DIRCACHE_SETTLE
 * seconds older than before, so that any later change gets a later
 * timestamp. w->fd is -1 when nothing is to be written. */
void dircache_begin(struct dircache_writer *w, const char *path,
    const struct dircache_stamp *s, const struct timespec *before);

/* Appends one chunk of records (the bytes getdents64 returned). A failure
 * abandons the copy. */
void dircache_chunk(struct dircache_writer *w, const void *p, size_t len);

/* Writes the header and renames the copy into place; or abandons it. */
void dircache_commit(struct dircache_writer *w);
void dircache_abort(struct dircache_writer *w);

#endif
