/* util.h - small helpers every program needs: strict number parsing,
 * sizes with K/M/G suffixes, constant-time comparison, secret wiping,
 * monotonic clock, 8-bit test, RFC 5322 dates. */
#ifndef POSTERN_UTIL_H
#define POSTERN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Parses the decimal number s[0..len) strictly: digits only, no sign, no
 * blanks, no leading "+", at least one digit, value <= max.
 * Returns 0 and stores *out_r, or -1 (errno EINVAL or ERANGE). */
int parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out_r);

/* Parses a size: decimal bytes, optionally followed by one of K, M, G
 * (powers of 1024, either case). "0" is valid. Returns 0 or -1. */
int parse_size(const char *s, uint64_t *out_r);
/* A duration: digits with one unit s, m, h, d or w ("10d", "36h", "0s";
 * a bare number is seconds), at most UTIL_DURATION_MAX seconds, into
 * *secs_r. 0 / -1 (EINVAL, ERANGE). */
#define UTIL_DURATION_MAX (UINT64_C(100) * 365 * 86400)
int parse_duration(const char *s, uint64_t *secs_r);

/* Formats n bytes as the shortest exact K/M/G form ("100M", "1536K",
 * "12345"); writes at most size bytes including NUL. */
void format_size(uint64_t n, char *buf, size_t size);

/* 1 if a[0..n) equals b[0..n), 0 otherwise; time depends only on n. */
int ct_equal(const void *a, const void *b, size_t n);

/* Overwrites n bytes at p with zeros in a way the compiler keeps. */
void wipe(void *p, size_t n);

/* Milliseconds from CLOCK_MONOTONIC. */
int64_t clock_ms(void);

/* Lowercases ASCII letters of s in place. */
void ascii_lower(char *s);

/* Copies src into dst[size] with NUL; returns -1 (nothing useful in dst)
 * if it does not fit, else the length. */
int copy_str(char *dst, size_t size, const char *src);

/* Copies what fits of src into dst[size] (always NUL-terminated when
 * size > 0); returns the length copied. For text that may be cut
 * (server replies, log details). */
size_t copy_str_trunc(char *dst, size_t size, const char *src);

/* 1 if p[0..n) holds an octet >= 0x80, else 0. */
int has_8bit(const char *p, size_t n);

/* Formats the time t (seconds since the epoch) as an RFC 5322 date in
 * local time ("Sun, 06 Dec 2026 23:45:00 +0000") into buf[size] (64 is
 * ample); the epoch's date when t cannot be formatted. */
void rfc5322_date(int64_t t, char *buf, size_t size);

#endif
