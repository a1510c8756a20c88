/* dataparse.c - the DATA/BDAT byte machine: wire form (CRLF, dot-stuffed)
 * to stored form (LF), with the bare CR/LF rule.
 *
 * Fast path: at a line start, a line without a leading dot whose only CR
 * and LF are its final CRLF is copied whole (found a word at a time);
 * everything else - a dot, a bare CR or LF, a line split across reads -
 * goes through the byte states below. Only out_line() and out_byte() add
 * LFs (the spans out_add() copies have none), so they count them. Both give the same output for any
 * split of the input (tests/t-smtp-data-parse checks this against a
 * byte-at-a-time reference). */
#include <stdint.h>
#include <string.h>

#include "dataparse.h"

enum {
	D_LS,       /* at a line start (after CRLF) */
	D_MID,      /* inside a line */
	D_CR,       /* after a CR inside a line */
	D_DOT,      /* after a "." at a line start */
	D_DOTCR     /* after ".<CR>" at a line start */
};

#if defined(__SSE2__) && !defined(DP_PORTABLE)
#include <emmintrin.h>

/* Length of the longest prefix of p[0..n) without CR or LF: sixteen
 * bytes at a time (SSE2, always there on x86-64), then bytewise. */
static size_t
plain_len(const unsigned char *p, size_t n)
{
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	__m128i v;
	unsigned m;
	size_t i = 0;

	while (n - i >= 16) {
		v = _mm_loadu_si128((const void *)(p + i));
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
	while (i < n && p[i] != '\r' && p[i] != '\n')
		i++;
	return i;
}
#else
#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Length of the longest prefix of p[0..n) without CR or LF: eight bytes
 * at a time while no byte of the word can be one (a zero byte in w^CR
 * or w^LF; the test has no false negatives), then bytewise. */
static size_t
plain_len(const unsigned char *p, size_t n)
{
	size_t i = 0;
	uint64_t w, a, b;

	while (n - i >= 8) {
		memcpy(&w, p + i, 8);
		a = w ^ (ONES * '\r');
		b = w ^ (ONES * '\n');
		if ((((a - ONES) & ~a) | ((b - ONES) & ~b)) & HIGHS)
			break;
		i += 8;
	}
	while (i < n && p[i] != '\r' && p[i] != '\n')
		i++;
	return i;
}
#endif

void
dp_flush(struct dataparse *d)
{
	if (d->out_len > 0) {
		d->emit(d->ctx, d->out, d->out_len, d->out_lf);
		d->out_len = d->out_lf = 0;
	}
}

static void
out_add(struct dataparse *d, const unsigned char *p, size_t n)
{
	size_t k;

	while (n > 0) {
		if (d->out_len == DP_OUT)
			dp_flush(d);
		k = DP_OUT - d->out_len;
		if (k > n)
			k = n;
		memcpy(d->out + d->out_len, p, k);
		d->out_len += k;
		p += k;
		n -= k;
	}
}

static void
out_byte(struct dataparse *d, char c)
{
	if (d->out_len == DP_OUT)
		dp_flush(d);
	d->out[d->out_len++] = c;
	d->out_lf += c == '\n';
}

/* A line's text and its (stored) LF. */
static void
out_line(struct dataparse *d, const unsigned char *p, size_t n)
{
	if (n < DP_OUT - d->out_len) {
		memcpy(d->out + d->out_len, p, n);
		d->out[d->out_len + n] = '\n';
		d->out_len += n + 1;
		d->out_lf++;
		return;
	}
	out_add(d, p, n);
	out_byte(d, '\n');
}

void
dp_start(struct dataparse *d, dp_emit_fn *emit, void *ctx)
{
	d->state = D_LS;
	d->bare_eol = 0;
	d->emit = emit;
	d->ctx = ctx;
	d->out_len = d->out_lf = 0;
}

size_t
dp_data(struct dataparse *d, const unsigned char *p, size_t n, int *end_r)
{
	size_t i = 0, k;

	*end_r = 0;
	while (i < n) {
		switch (d->state) {
		case D_LS:
			if (p[i] == '.') {
				d->state = D_DOT;
				i++;
				break;
			}
			k = plain_len(p + i, n - i);
			if (n - i - k >= 2 && p[i + k] == '\r' &&
			    p[i + k + 1] == '\n') {
				out_line(d, p + i, k);    /* stays D_LS */
				i += k + 2;
				break;
			}
			d->state = D_MID;
			break;
		case D_MID:
			k = plain_len(p + i, n - i);
			out_add(d, p + i, k);
			i += k;
			if (i == n)
				break;
			if (p[i] == '\r')
				d->state = D_CR;
			else {
				d->bare_eol = 1;          /* LF without CR */
				out_byte(d, '\n');
			}
			i++;
			break;
		case D_CR:
			if (p[i] == '\n') {
				out_byte(d, '\n');
				d->state = D_LS;
				i++;
			} else {
				d->bare_eol = 1;          /* CR without LF */
				out_byte(d, '\r');
				d->state = D_MID;
			}
			break;
		case D_DOT:                /* "." at a line start: unstuff */
			if (p[i] == '\r') {
				d->state = D_DOTCR;
				i++;
			} else
				d->state = D_MID;
			break;
		case D_DOTCR:
			if (p[i] == '\n') {
				*end_r = 1;
				d->state = D_LS;
				return i + 1;
			}
			d->bare_eol = 1;
			out_byte(d, '\r');
			d->state = D_MID;
			break;
		}
	}
	return n;
}

void
dp_bdat(struct dataparse *d, const unsigned char *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (d->state == D_CR) {
			d->state = D_MID;
			if (p[i] == '\n') {
				out_byte(d, '\n');
				i++;
				continue;
			}
			d->bare_eol = 1;                  /* CR without LF */
			out_byte(d, '\r');
		}
		k = plain_len(p + i, n - i);
		if (n - i - k >= 2 && p[i + k] == '\r' && p[i + k + 1] == '\n') {
			out_line(d, p + i, k);
			i += k + 2;
			continue;
		}
		out_add(d, p + i, k);
		i += k;
		if (i == n)
			break;
		if (p[i] == '\r')
			d->state = D_CR;
		else {
			d->bare_eol = 1;                  /* LF without CR */
			out_byte(d, '\n');
		}
		i++;
	}
}

void
dp_bdat_end(struct dataparse *d)
{
	if (d->state == D_CR) {
		d->bare_eol = 1;
		out_byte(d, '\r');
		d->state = D_MID;
	}
}
