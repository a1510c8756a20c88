/* textdb.h - the user database's text source as mailbox-admin edits it:
 * read (optionally under an exclusive lock on PATH.lock), split into
 * lines exactly as `cdb -c -m` does, validate every record with
 * userdb_parse(), change records in memory, then write the text back and
 * rebuild PATH.cdb atomically (temporary files, fsync, rename, fsync of
 * the directory). Comments, blank lines and the order of untouched lines
 * are kept; new records are appended. */
#ifndef POSTERN_TEXTDB_H
#define POSTERN_TEXTDB_H

#include <stddef.h>
#include <sys/types.h>
#include "userdb.h"

#define TDB_LINE_MAX  (USERDB_KEY_MAX + USERDB_VALUE_MAX + 64)

struct tdb_line {
	const char *text;   /* without the newline; not NUL-terminated */
	size_t len;
	size_t key_off, key_len;  /* key_len 0: comment or blank line */
	size_t val_off;     /* value = text[val_off..len) */
	unsigned lineno;    /* line number in the file read, 0 = new */
	int deleted;
	int owned;          /* text was malloc'ed by tdb_set/tdb_append */
};

struct tdb {
	const char *path;          /* text source */
	const char *cdb;           /* compiled database */
	int lock_fd;               /* -1: not locked */
	int exists;                /* the text file existed */
	mode_t mode;               /* of the text file (0640 when new) */
	uid_t uid;
	gid_t gid;
	char *buf;                 /* the file as read */
	size_t buflen;
	struct tdb_line *line;
	size_t n, cap;
	int changed;
	/* record check; NULL: userdb_parse() (the user database). Set it
	 * after tdb_open() for other files of the same line format. */
	int (*check)(const char *key, size_t klen, const char *val,
	    size_t vlen, const char **error_r);
};

/* Opens the text database: with lock, first takes an exclusive flock on
 * PATH.lock (created 0600; waits for other writers). Reads PATH (a
 * missing file is an empty database when missing_ok, else an error) and
 * splits it into lines. Returns 0, or exits (74 I/O, 66 missing, 65 a
 * NUL byte or overlong line). */
void tdb_open(struct tdb *t, const char *path, const char *cdb, int lock,
    int missing_ok);

/* Validates every record with userdb_parse() and looks for duplicate
 * keys; prints "PATH:LINE: KEY: problem" on stderr for each error (at
 * most max_report of them). Returns the number of errors. */
unsigned tdb_validate(struct tdb *t, unsigned max_report);

/* Index of the record with this key (lowercase), or -1. */
long tdb_find(const struct tdb *t, const char *key);

/* Parses record i into *e (it was validated). 0 / -1. */
int tdb_entry(const struct tdb *t, size_t i, struct userdb_entry *e);

/* Key of record i, NUL-terminated into buf[USERDB_KEY_MAX]. */
void tdb_key(const struct tdb *t, size_t i, char *buf);

/* Formats a record line in the column layout: fields[0] is the key, the
 * others follow separated by blanks. 0 / -1 when it does not fit. */
int tdb_format(char *out, size_t size, const char *const *fields,
    size_t nfields);

/* Appends a new record line / replaces record i by a new line. The line
 * is split and validated like a line of the file; -1 with *error_r when
 * it does not parse (nothing changed). */
int tdb_append(struct tdb *t, const char *line, const char **error_r);
int tdb_set(struct tdb *t, size_t i, const char *line, const char **error_r);
void tdb_delete(struct tdb *t, size_t i);

/* Writes the text (when changed) and the CDB: both temporary files are
 * complete and fsynced before either rename, so on failure nothing
 * changed; returns 0, or -1 after printing why (temporaries removed). */
int tdb_commit(struct tdb *t);

/* Builds only the CDB from the text as read. 0 / -1 (message printed). */
int tdb_build(struct tdb *t);

/* Releases the lock and memory. */
void tdb_close(struct tdb *t);

#endif
