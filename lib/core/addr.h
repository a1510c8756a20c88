/* addr.h - mail address and mailbox-name rules (SPEC): what may become a
 * database key and, through it, a path. */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX   64
#define ADDR_DOMAIN_MAX  253
#define ADDR_MAX         (ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX)

/* Mailbox name (local part as postern stores it): letters, digits,
 * - . _ +; no leading/trailing/doubled '.'; 1..64 octets. 1 valid, 0 not. */
int addr_local_valid(const char *s, size_t len);

/* DNS name: labels of letters, digits, '-' (not at label ends), 1..63
 * each, total <= 253, at least one dot... a single label is accepted too
 * (e.g. "localhost"). A trailing dot is not accepted. 1 / 0. */
int addr_domain_valid(const char *s, size_t len);

/* Splits "local@domain" (exactly one '@', both parts valid), lowercases
 * into local_r[ADDR_LOCAL_MAX+1] and domain_r[ADDR_DOMAIN_MAX+1].
 * Returns 0, or -1 with *error_r a message. */
int addr_split(const char *addr, char *local_r, char *domain_r,
    const char **error_r);

/* Lowercased "local@domain" into out[ADDR_MAX+1] when valid. 0 / -1. */
int addr_normalise(const char *addr, char *out, const char **error_r);

#endif
