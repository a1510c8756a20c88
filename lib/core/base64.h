/* base64.h - RFC 4648 base64, strict: no blanks, correct padding,
 * no bits left over. */
#ifndef POSTERN_BASE64_H
#define POSTERN_BASE64_H

#include <stddef.h>

/* Decodes in[0..len) into out[size]. Returns the decoded length, or -1
 * (invalid input, or it does not fit). */
long base64_decode(const char *in, size_t len, unsigned char *out,
    size_t size);

/* The value (0..63) of one digit of the standard alphabet, or -1 for
 * anything else (including '='): for decoders of other framings (PEM). */
int base64_value(unsigned char c);

/* Encodes into out[size] with NUL. Returns the length or -1 if too small. */
long base64_encode(const unsigned char *in, size_t len, char *out,
    size_t size);

#endif
