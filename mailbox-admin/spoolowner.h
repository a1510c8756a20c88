/* spoolowner.h - the queue commands of mailbox-admin act as the spool's
 * owner: started as root, they switch for good to the user that owns the
 * spool directory before touching the spool or the network, so every
 * file they create has the owner the handlers expect, and no SMTP, TLS or
 * DNS code runs as root. */
#ifndef POSTERN_ADMIN_SPOOLOWNER_H
#define POSTERN_ADMIN_SPOOLOWNER_H

/* Not root: 0, nothing done (the files are whoever runs it). Root:
 * opens spool walking from / without following a symbolic link, takes
 * its owner, and switches to that user with its primary group and
 * supplementary groups from /etc/passwd and /etc/group (exactly what a
 * handler's --user does), verified to stick (root cannot be regained).
 * Refused (-1 with *error_r, a message naming the spool): a missing
 * spool (errno ENOENT), one with a link in its path or that is not a
 * directory, one owned by root, or by a uid without an /etc/passwd entry,
 * or whose owner's primary group is root. After a failed switch the
 * process must exit. */
int spool_become_owner(const char *spool, const char **error_r);

#endif
