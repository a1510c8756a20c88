/* sasl.h - SASL message decoding for PLAIN (RFC 4616), LOGIN and
 * EXTERNAL (RFC 4422): base64 in, bounded fields out. */
#ifndef POSTERN_SASL_H
#define POSTERN_SASL_H

#include <stddef.h>

#define SASL_FIELD_MAX 256

struct sasl_plain {
	char authzid[SASL_FIELD_MAX];
	char authcid[SASL_FIELD_MAX];
	char passwd[SASL_FIELD_MAX];
};

/* Decodes a base64 PLAIN message ("=" alone is an empty message, which
 * is invalid for PLAIN). Fields must fit, contain no NUL, authcid and
 * passwd non-empty. Returns 0, or -1 with *error_r. The caller wipes
 * the struct after use. */
int sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *p,
    const char **error_r);

/* Decodes one base64 LOGIN field (user name or password) into out[size].
 * Returns the length, or -1 (invalid base64, a NUL inside, or it does
 * not fit with its NUL). An empty line or "=" decodes to "" (length 0;
 * the caller decides whether that is acceptable). */
long sasl_login_field(const char *b64, size_t len, char *out, size_t size);

/* EXTERNAL: decodes the optional authorization identity ("=" or empty =
 * none -> out[0] = 0). Returns 0 or -1. */
int sasl_external_decode(const char *b64, size_t len, char *out,
    size_t size);

#endif
