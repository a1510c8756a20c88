/* base64.c - RFC 4648 base64 (the standard alphabet), strict: the length
 * is a multiple of 4, '=' only as final padding, no blanks, and the bits
 * left over by padding must be zero, so each byte string has exactly one
 * accepted encoding. */
#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
base64_decode(const char *in, size_t len, unsigned char *out, size_t size)
{
	size_t pad = 0, outlen, i, o = 0;

	if (len % 4 != 0)
		return -1;
	if (len == 0)
		return 0;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	outlen = len / 4 * 3 - pad;
	if (outlen > size || outlen > (size_t)0x7fffffff)
		return -1;
	for (i = 0; i < len; i += 4) {
		int v[4], k, n = 4;
		unsigned long w;

		if (i + 4 == len)
			n = 4 - (int)pad;
		for (k = 0; k < 4; k++) {
			v[k] = k < n ? base64_value((unsigned char)in[i + k]) : 0;
			if (v[k] < 0)
				return -1;
		}
		w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
		    ((unsigned long)v[2] << 6) | (unsigned long)v[3];
		if (n == 2 && (v[1] & 0x0f) != 0)
			return -1;
		if (n == 3 && (v[2] & 0x03) != 0)
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (n > 2)
			out[o++] = (unsigned char)(w >> 8);
		if (n > 3)
			out[o++] = (unsigned char)w;
	}
	return (long)o;
}

long
base64_encode(const unsigned char *in, size_t len, char *out, size_t size)
{
	size_t need, i, o = 0;

	if (len > ((size_t)0x7fffffff / 4) * 3 - 3)
		return -1;
	need = (len + 2) / 3 * 4 + 1;
	if (size < need)
		return -1;
	for (i = 0; i + 3 <= len; i += 3) {
		unsigned long w = ((unsigned long)in[i] << 16) |
		    ((unsigned long)in[i + 1] << 8) | in[i + 2];
		out[o++] = alphabet[(w >> 18) & 63];
		out[o++] = alphabet[(w >> 12) & 63];
		out[o++] = alphabet[(w >> 6) & 63];
		out[o++] = alphabet[w & 63];
	}
	if (len - i == 1) {
		unsigned long w = (unsigned long)in[i] << 16;
		out[o++] = alphabet[(w >> 18) & 63];
		out[o++] = alphabet[(w >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		unsigned long w = ((unsigned long)in[i] << 16) |
		    ((unsigned long)in[i + 1] << 8);
		out[o++] = alphabet[(w >> 18) & 63];
		out[o++] = alphabet[(w >> 12) & 63];
		out[o++] = alphabet[(w >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}
