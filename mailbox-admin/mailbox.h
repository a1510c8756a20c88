/* mailbox.h - mailbox-admin's work on maildirs: creating a new user's
 * maildir (and missing parents) owned by the service user, removing a
 * deleted user's maildir safely, and usage figures for `stat`. */
#ifndef POSTERN_ADMIN_MAILBOX_H
#define POSTERN_ADMIN_MAILBOX_H

#include <stdint.h>
#include <sys/types.h>

struct mailbox_owner {
	int set;          /* 0: leave ownership alone */
	uid_t uid;
	gid_t gid;
};

/* Decides who owns new maildirs: --owner USER (must exist; requires
 * root), else "postern" when run as root and that user exists, else
 * nobody in particular (no chown). Exits 67 for an unknown --owner. */
void mailbox_owner(const char *name, struct mailbox_owner *o);

/* Creates the maildir path (0700, tmp/ new/ cur/) and missing parents
 * (0700); directories it creates get the owner. The path is walked from
 * / on descriptors and no symbolic link in it is ever followed: a link
 * (or a directory swapped in while it is created) makes it fail.
 * 0 / -1 (message printed). An existing maildir is kept as it is
 * (missing tmp/ new/ cur/ are added). */
int mailbox_create(const char *path, const struct mailbox_owner *o);

/* 1 when path is a real directory (no symbolic link in the whole path)
 * holding real tmp/, new/ and cur/ directories, 0 when it does not
 * exist, -1 when it is something else (*why says what). */
int mailbox_is_maildir(const char *path, const char **why);

/* Walks the path again as mailbox_is_maildir() does, re-checks that it
 * is a maildir, and removes the tree on descriptors without following
 * symbolic links (a link is removed, never its target) and without
 * leaving its file system. 0 (also when it is gone) / -1 (message
 * printed). */
int mailbox_remove(const char *path);

/* Messages and bytes (POP3 octets, as quotas count them) in new/ and
 * cur/. 0 / -1 (errno). */
int mailbox_usage(const char *path, uint64_t *new_n, uint64_t *new_bytes,
    uint64_t *cur_n, uint64_t *cur_bytes);

#endif
