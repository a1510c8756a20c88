/* dsnparam.c - RFC 3461 parameter values: xtext both ways, RET, ENVID,
 * NOTIFY and ORCPT; strict, bounded, no allocation. */
#include "dsnparam.h"

#include <string.h>
#include <strings.h>

static const char *const notify_names[] = { "SUCCESS", "FAILURE", "DELAY" };

int dsnparam_xchar(unsigned char c)
{
	return c >= '!' && c <= '~' && c != '+' && c != '=';
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;                    /* lowercase is not xtext */
}

long dsnparam_xtext_decode(const char *in, size_t len, int canonical,
    char *out, size_t size)
{
	size_t i, n = 0;

	if (size == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '+') {
			int hi, lo;
			if (len - i < 3 ||
			    (hi = hexval((unsigned char)in[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)in[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0 || (canonical && dsnparam_xchar(c)))
				return -1;
			i += 2;
		} else if (!dsnparam_xchar(c))
			return -1;
		if (n + 1 >= size)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return (long)n;
}

long dsnparam_xtext_encode(const char *s, size_t len, char *out,
    size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (size - n < 4)
			return -1;
		if (dsnparam_xchar(c))
			out[n++] = (char)c;
		else {
			out[n++] = '+';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= size)
		return -1;
	out[n] = '\0';
	return (long)n;
}

int dsnparam_ret(const char *val, size_t len, enum queue_ret *ret_r)
{
	if (len == 4 && strncasecmp(val, "FULL", 4) == 0)
		*ret_r = QUEUE_RET_FULL;
	else if (len == 4 && strncasecmp(val, "HDRS", 4) == 0)
		*ret_r = QUEUE_RET_HDRS;
	else
		return -1;
	return 0;
}

int dsnparam_envid_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > QUEUE_ENVID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '!' || s[i] > '~')
			return 0;
	return 1;
}

int dsnparam_envid(const char *val, size_t len,
    char out[QUEUE_ENVID_MAX + 1])
{
	long n = dsnparam_xtext_decode(val, len, 0, out, QUEUE_ENVID_MAX + 1);

	if (n < 0 || !dsnparam_envid_ok(out, (size_t)n)) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int dsnparam_notify(const char *val, size_t len, unsigned *bits_r)
{
	size_t pos = 0, i, n;

	*bits_r = 0;
	if (len == 5 && strncasecmp(val, "NEVER", 5) == 0) {
		*bits_r = QUEUE_NOTIFY_NEVER;
		return 0;
	}
	while (pos < len) {
		for (i = 0; i < 3; i++) {
			n = strlen(notify_names[i]);
			if (len - pos >= n &&
			    strncasecmp(val + pos, notify_names[i], n) == 0 &&
			    (pos + n == len || val[pos + n] == ','))
				break;
		}
		if (i == 3 || (*bits_r & (1u << i)))
			goto bad;                 /* unknown or repeated */
		*bits_r |= 1u << i;
		pos += n;
		if (pos < len && ++pos == len)
			goto bad;                 /* a trailing comma */
	}
	if (*bits_r)
		return 0;
bad:
	*bits_r = 0;
	return -1;
}

int dsnparam_notify_valid(unsigned bits)
{
	return bits != 0 && (bits & ~15u) == 0 &&
	    (!(bits & QUEUE_NOTIFY_NEVER) || bits == QUEUE_NOTIFY_NEVER);
}

long dsnparam_notify_format(unsigned bits, char *out, size_t size)
{
	size_t i, n = 0, k;

	if (!dsnparam_notify_valid(bits) || size < 31)
		return -1;
	if (bits == QUEUE_NOTIFY_NEVER) {
		memcpy(out, "NEVER", 6);
		return 5;
	}
	for (i = 0; i < 3; i++)
		if (bits & (1u << i)) {
			if (n)
				out[n++] = ',';
			k = strlen(notify_names[i]);
			memcpy(out + n, notify_names[i], k);
			n += k;
		}
	out[n] = '\0';
	return (long)n;
}

/* The length of the addr-type before ';', 0 if there is none. */
static size_t addr_type_len(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && ((s[i] >= 'a' && s[i] <= 'z') ||
	    (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
	    s[i] == '-'))
		i++;
	return i < len && s[i] == ';' ? i : 0;
}

int dsnparam_orcpt_ok(const char *val, size_t len)
{
	char tmp[QUEUE_ORCPT_MAX + 1];
	size_t t, i;
	long n;

	if (len == 0 || len > QUEUE_ORCPT_MAX)
		return 0;
	t = addr_type_len(val, len);
	if (t == 0 || t + 1 >= len)
		return 0;
	n = dsnparam_xtext_decode(val + t + 1, len - t - 1, 0, tmp,
	    sizeof tmp);
	if (n <= 0)
		return 0;
	for (i = 0; i < (size_t)n; i++)
		if ((unsigned char)tmp[i] < ' ' || tmp[i] == 0x7f)
			return 0;
	return 1;
}

int dsnparam_orcpt_decode(const char *val, char *out, size_t size,
    size_t *type_len_r)
{
	size_t len = strlen(val), t;

	if (!dsnparam_orcpt_ok(val, len))
		return -1;
	t = addr_type_len(val, len);
	*type_len_r = t;
	return dsnparam_xtext_decode(val + t + 1, len - t - 1, 0, out,
	    size) < 0 ? -1 : 0;
}
