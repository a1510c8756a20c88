/* edit.h - helpers the commands share to edit the database: open it for
 * a change (locked, validated), find records of a kind, format records
 * from entries, and commit. */
#ifndef POSTERN_ADMIN_EDIT_H
#define POSTERN_ADMIN_EDIT_H

#include "admin.h"
#include "textdb.h"
#include "userdb.h"

/* Opens the database for a change: lock, read (missing = empty),
 * validate; exits 65 when the text already has errors. */
void edit_open(const struct admin *a, struct tdb *t);

/* Opens the database read-only (no lock), validated; exits 66 when it is
 * missing, 65 when it has errors. */
void edit_open_ro(const struct admin *a, struct tdb *t);

/* Record index of the user key (parsed into *e); exits 65 when there is
 * none or the key is not a user. */
size_t edit_user(const struct tdb *t, const char *key,
    struct userdb_entry *e);

/* A user line from its entry (key, hash, maildir, options). */
void edit_user_line(const struct userdb_entry *e, char *out, size_t size);

/* Replaces record i / appends a record, exiting 65 with a message when
 * the line does not validate (nothing written). */
void edit_set(struct tdb *t, size_t i, const char *line);
void edit_append(struct tdb *t, const char *line);

/* Commits; exits 74 on failure (nothing changed). */
void edit_commit(struct tdb *t);

/* 1 when the domain (lowercase) of key "local@domain" is a local
 * ("domain") entry, 2 when it is a hold domain, 0 when it is absent. */
int edit_domain_kind(const struct tdb *t, const char *domain);

#endif
