/* fsutil.h - small file-system helpers shared by the maildir and the
 * spool queues: bounded path formatting, whole writes and reads, a
 * write-behind buffer, directory fsync, mkdir -p, a path walk that never
 * follows a symbolic link (for work done as root), flock'ed lock files
 * and a directory reader on getdents64 with a caller-owned buffer. */
#ifndef POSTERN_FSUTIL_H
#define POSTERN_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Formats into buf[size]; -1 with ENAMETOOLONG when it does not fit. */
__attribute__((format(printf, 3, 4)))
int fsutil_path(char *buf, size_t size, const char *fmt, ...);

/* Writes all n bytes (EINTR retried). 0 / -1 (errno; EIO on a 0 write).
 * Only write(2) and errno: async-signal-safe, never logs. */
int fsutil_write_all(int fd, const void *p, size_t n);

/* The same with pwrite(2) from offset off on (the file offset is left
 * alone; EINVAL for off < 0). */
int fsutil_pwrite_all(int fd, const void *p, size_t n, off_t off);

/* Reads until size bytes or end of file (EINTR retried). The length
 * read, or -1 (errno). */
ssize_t fsutil_read_full(int fd, void *buf, size_t size);

/* Appends p[0..n) to the write-behind buffer buf[cap] holding *len bytes,
 * writing to fd what does not fit (a chunk >= cap goes straight through).
 * 0 / -1 (errno). */
int fsutil_wbuf_put(int fd, unsigned char *buf, size_t cap, size_t *len,
    const void *p, size_t n);

/* Writes out the buffered bytes and empties the buffer. 0 / -1. */
int fsutil_wbuf_flush(int fd, const unsigned char *buf, size_t *len);

/* fsyncs the directory path. 0 / -1 (errno kept across the close). */
int fsutil_fsync_dir(const char *path);

/* mkdir -p: creates path and its missing parents with mode 0700;
 * existing directories are fine. 0 / -1. */
int fsutil_mkdir_p(const char *path);

/* How fsutil_open_dir_nofollow() treats missing components. */
struct fsutil_mkdirs {
	mode_t mode;        /* 0: do not create (ENOENT); else mkdirat mode */
	int chown;          /* give each directory created to uid:gid */
	uid_t uid;
	gid_t gid;
	unsigned created;   /* out: how many directories were created */
};

/* Opens the directory named by the first len octets of the absolute path,
 * walking from "/" one component at a time with openat(O_NOFOLLOW |
 * O_DIRECTORY): a symbolic link anywhere in the path is never followed
 * (ELOOP), a component that is not a directory fails (ENOTDIR), one
 * that changed between the open and the check fails with EAGAIN, and an
 * empty, "." or ".." component is refused (EINVAL). With mk and
 * mk->mode, missing components are created (mkdirat); with mk->chown,
 * each one created is chowned through its descriptor, after checking
 * that it is still the directory just made (owned by this process;
 * otherwise EAGAIN). The final directory is opened O_RDONLY, the others
 * O_PATH. Returns the fd, or -1 with errno and *fail_r (if not NULL) set
 * to the length of the path prefix that ends with the failing component.
 * No allocation. */
int fsutil_open_dir_nofollow(const char *path, size_t len,
    struct fsutil_mkdirs *mk, size_t *fail_r);

/* One step of that walk: opens (O_RDONLY) the directory name in dfd
 * without following a link, creating it as mk says (mk may be NULL).
 * fd / -1 (errno as above). */
int fsutil_openat_dir(int dfd, const char *name, struct fsutil_mkdirs *mk);

/* Opens (creating, 0600, O_NOFOLLOW) the lock file path and takes an
 * exclusive flock on it, waiting when block, else failing with
 * EWOULDBLOCK. Returns the fd to keep open, or -1 (errno; ENOENT when
 * its directory is missing). */
int fsutil_lock(const char *path, int block);

/* A directory being read with getdents64 into a caller-owned buffer (no
 * allocation; one system call fills the whole buffer). */
struct fsutil_dir {
	int fd;
	unsigned char *buf;
	size_t size, pos, len;
};

/* Opens path for reading with buf[size] (size >= 4096). 0 / -1 (errno;
 * ENOENT for a missing directory). */
int fsutil_dir_open(struct fsutil_dir *d, const char *path, void *buf,
    size_t size);

/* Decodes the linux_dirent64 record at buf[*pos] of the len bytes of
 * buf: its header and then the whole record must fit (else -1, EIO, as
 * for a forged saved listing), its name is NUL-terminated within it.
 * Gives the name (*nlen_r octets), its d_type and moves *pos past it.
 * The one record decoder of fsutil_dir_next and the maildir scan. */
int fsutil_dent_take(const unsigned char *buf, size_t len, size_t *pos,
    const char **name_r, size_t *nlen_r, unsigned char *type_r);

/* The next entry, "." and ".." skipped: 1 with *name_r (NUL-terminated,
 * valid until the next call), *len_r and *type_r (a DT_* value, DT_UNKNOWN
 * on file systems that do not tell), 0 at the end, -1 on error (errno). */
int fsutil_dir_next(struct fsutil_dir *d, const char **name_r,
    size_t *len_r, unsigned char *type_r);

/* Closes the directory (errno kept). */
void fsutil_dir_close(struct fsutil_dir *d);

#endif
