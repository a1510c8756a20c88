/* maildir.h - maildir storage (SPEC "Maildirs"): unique names, atomic
 * delivery with ,S= and ,W= in the name, a scan of new/ and cur/ without
 * a stat or open per message, moves and deletes, and the exclusive
 * per-session mailbox lock. */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAILDIR_NAME_MAX  256
#define MAILDIR_PATH_MAX  1280       /* maildir + "/new/" + name */
#define MAILDIR_WBUF      65536

/* Creates path (and missing parents, 0700) with tmp/ new/ cur/ (0700).
 * Existing directories are fine. 0 / -1 (errno). */
int maildir_make(const char *path);

/* A unique base name "time.M<usec>P<pid>Q<n>.<host>" (no ,S= ,W=). */
void maildir_unique(char *buf, size_t size);

/* Creates DIR/tmp/<unique name> exclusively (0600, O_NOFOLLOW), a new
 * name for each of a few tries while one exists; the name goes into
 * name[size]. fd / -1 (errno; ENOENT when DIR/tmp is missing). Shared by
 * deliveries and the spool queues. */
int maildir_tmp_create(const char *dir, char *name, size_t size);

/* One delivery in progress: a file in tmp/, written through a buffer,
 * counting octets as stored (S, LF line ends) and as sent by POP3
 * (W, every LF counted as CRLF). */
struct maildir_delivery {
	int fd;
	char dir[MAILDIR_PATH_MAX];
	char base[MAILDIR_NAME_MAX];
	uint64_t size_s, size_w;
	uint64_t kicked;          /* octets whose writeback was started */
	size_t wlen;
	int synced;               /* maildir_deliver_sync() done */
	unsigned char wbuf[MAILDIR_WBUF];
};

/* Opens tmp/<unique> in maildir (creating the maildir if missing).
 * 0 / -1 (errno: ENOSPC, EACCES, ...). */
int maildir_deliver_open(struct maildir_delivery *d, const char *maildir);

/* Appends stored bytes (LF line ends expected). Every MAILDIR_KICK
 * octets written starts their writeback (sync_file_range), so that the
 * fsync of a big message waits for its tail only. 0 / -1 (errno). */
#define MAILDIR_KICK (4u << 20)
int maildir_deliver_write(struct maildir_delivery *d, const void *p,
    size_t n);

/* Flushes and fsyncs the tmp file without publishing it: a delivery to
 * several maildirs syncs every copy first, so that the renames that
 * follow can hardly fail. 0 / -1 (errno); on -1 call abort. */
int maildir_deliver_sync(struct maildir_delivery *d);

/* Flushes, fsyncs (unless synced), renames to new/<base>,S=<s>,W=<w> and
 * fsyncs new/.
 * The message is then wholly in new/. On -1 nothing is left behind. */
int maildir_deliver_commit(struct maildir_delivery *d);

/* Removes the tmp file (any time before commit). */
void maildir_deliver_abort(struct maildir_delivery *d);

/* A scanned mailbox. Names live in one arena; entries are 16 bytes (a
 * 100,000-message mailbox is 1.6 MB of entries plus its names). Fields
 * are read and assigned as plain members (no address taken of the bit
 * fields). */
struct maildir_msg {
	uint32_t name_off;     /* into maildir_list.names */
	uint16_t name_len : 9; /* file name length (< MAILDIR_NAME_MAX + 3) */
	uint16_t in_new : 1;   /* 1: new/NAME, 0: cur/NAME */
	uint16_t deleted : 1;  /* marked by the session (POP3 DELE) */
	uint16_t scan_ : 5;    /* private to maildir_scan.c */
	uint16_t uidl_len;     /* name up to the first ':' */
	uint64_t size;         /* RFC 1939 octets (W); MAILDIR_SIZE_UNKNOWN */
};
#define MAILDIR_SIZE_UNKNOWN UINT64_MAX
#define MAILDIR_SIZE_W_MAX   (UINT64_C(1) << 40)  /* a larger ,W= is not believed */

struct maildir_list {
	struct maildir_msg *msg;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
};

/* Reads new/ and cur/ (no stat/open per message), sizes from ,W= when
 * present. Order: delivery time, i.e. the "SECONDS.M<usec>" prefix of the
 * name (SECONDS < 2^32), then the whole name; names without that prefix
 * come last, by name. (RFC 1939 only needs message numbers stable within
 * a session; delivery order is what clients expect to see.) A missing
 * maildir is an empty list. The directories are read with getdents64
 * straight into the names arena (sized from the directory's st_size,
 * doubled when short), the entries grow by doubling, the sort is an
 * in-place radix sort: peak memory is about the names plus 16 bytes a
 * message. maildir_list_free() releases. 0 / -1 (errno). */
int maildir_scan(const char *maildir, struct maildir_list *l);
void maildir_list_free(struct maildir_list *l);

/* maildir_scan for the holder of maildir_lock(): each of new/ and cur/
 * is read from its saved listing (dircache.h: maildir/.postern-new.cache
 * and .postern-cur.cache) while the directory's dev, inode, mtime and
 * ctime are those saved with it, else listed and saved anew (only once
 * it has been unchanged for DIRCACHE_SETTLE seconds). Same result as
 * maildir_scan; a damaged copy only costs a listing. */
int maildir_scan_cached(const char *maildir, struct maildir_list *l);

/* The name of entry i (not NUL-terminated: use name_len) -> copies
 * "new/NAME" or "cur/NAME" into buf. 0 / -1 if it does not fit. */
int maildir_msg_relpath(const struct maildir_list *l, size_t i, char *buf,
    size_t size);

/* Size of entry i: from the name, else measured once by reading the file
 * (LFs counted as CRLF) and cached in the entry. 0 / -1 (errno). */
int maildir_msg_size(const char *maildir, struct maildir_list *l, size_t i,
    uint64_t *size_r);

/* Opens entry i read-only (O_NOFOLLOW). A message another program moved
 * to cur/ or renamed (its flags changed) is found by its unique part
 * (maildir_msg_refind) and the entry takes its new name. fd / -1 (errno
 * ENOENT when it was removed by someone else). */
int maildir_msg_open(const char *maildir, struct maildir_list *l, size_t i);

/* Finds entry i's message under another name: a regular file in cur/,
 * then new/, whose name up to its first ':' is entry i's (its UIDL; the
 * unique part, flags after ":2," may differ). Found: the entry takes that
 * name (copied to the names arena, which may move) and 0. -1 with errno
 * ENOENT when there is none (or the UIDL part is empty: a name that
 * starts with ':'). One directory listing per call. */
int maildir_msg_refind(const char *maildir, struct maildir_list *l, size_t i);

/* Moves entry i from new/ to cur/ as "NAME:2," (keeping the UIDL) and
 * updates the entry. Never replaces a file in cur/: -1 with EEXIST then,
 * the message staying in new/. 0 / -1. */
int maildir_msg_to_cur(const char *maildir, struct maildir_list *l,
    size_t i);

/* Unlinks entry i, looking it up by its unique part when another
 * program renamed it (maildir_msg_refind). 0: deleted by us; 1: no file
 * of that unique part is left (someone else deleted it); -1 (errno). */
int maildir_msg_delete(const char *maildir, struct maildir_list *l, size_t i);

/* fsyncs new/ and cur/ (after a batch of moves or deletes). */
int maildir_sync(const char *maildir);

/* Takes the exclusive session lock (flock on <maildir>/.postern-lock,
 * creating the maildir if missing). Returns an fd to keep open for the
 * session (the lock dies with the process), or -1 with errno
 * EWOULDBLOCK when another session holds it. */
int maildir_lock(const char *maildir);

/* Sum of sizes and count of messages in new/ and cur/ (for quotas):
 * the W size of a name with ,W=; else (a name another program gave) the
 * stored size, from ,S= or one fstatat. Never opens a message: its cost
 * is a listing of new/ and cur/ plus one fstatat per such name. 0 / -1. */
int maildir_usage(const char *maildir, uint64_t *bytes_r, uint64_t *count_r);

/* Removes tmp/ files older than max_age seconds (maildir's 36 h rule). */
void maildir_clean_tmp(const char *maildir, unsigned max_age);
#define MAILDIR_TMP_MAX_AGE (36 * 3600)   /* the maildir convention */

#endif
