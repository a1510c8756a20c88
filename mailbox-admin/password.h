/* password.h - new passwords for mailbox-admin: read once from standard
 * input or twice from the terminal with echo off (never from argv), then
 * hashed with libxcrypt; the clear text is wiped right after hashing. */
#ifndef POSTERN_ADMIN_PASSWORD_H
#define POSTERN_ADMIN_PASSWORD_H

#include <stddef.h>

#define PASSWORD_MAX 1024

/* The crypt prefix of a --scheme name (NULL = default yescrypt); exits
 * 64 for an unknown scheme. */
const char *password_prefix(const char *scheme);

/* Reads a new password (from_stdin: one line of standard input; else
 * twice from /dev/tty, exit 64 when there is none) and stores its hash
 * (prefix as from password_prefix()) in hash[size]. Exits 65 for an
 * empty or overlong password or a mismatch, 70 when hashing fails. */
void password_new(int from_stdin, const char *prefix, char *hash,
    size_t size);

#endif
