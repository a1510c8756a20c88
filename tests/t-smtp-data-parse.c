/* t-smtp-data-parse.c - differential test of smtp-handler/dataparse.c
 * (built and run by tests/t-smtp-data-parse.sh): random message data,
 * split at random read boundaries, through dp_data()/dp_bdat(), against
 * a byte-at-a-time reference that is the DATA/BDAT machine as it was
 * before the fast path. Same stored bytes, same bare CR/LF verdict, same
 * end of data (so the same bytes left for the next command), for every
 * split. Also: every span handed to emit() but the last is DP_OUT long,
 * and its LF count is right. Built with and without -DDP_PORTABLE (the
 * SSE2 scan and the portable one).
 *
 * Usage: t-smtp-data-parse [ITERATIONS [SEED]] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataparse.h"

static unsigned passed, failed;

#define CHECK(c, ...) do { \
	if (c) passed++; \
	else { failed++; fprintf(stderr, "FAIL: %s:%d: %s: ", __FILE__, \
	    __LINE__, #c); fprintf(stderr, __VA_ARGS__); \
	    fputc('\n', stderr); } \
} while (0)

static uint64_t rng;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t
below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* A growable byte string. */
struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
put1(struct buf *b, unsigned char c)
{
	put(b, &c, 1);
}

/* --- the reference: one byte at a time ---------------------------- */

enum { R_LS, R_MID, R_CR, R_DOT, R_DOTCR };

/* DATA over the whole input; returns the length of the data (through
 * the final CRLF.CRLF), or n with *end_r = 0. */
static size_t
ref_data(const unsigned char *p, size_t n, struct buf *out, int *bare_r,
    int *end_r)
{
	int st = R_LS;
	size_t i;

	*bare_r = *end_r = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];
again:
		switch (st) {
		case R_LS:
			if (c == '.') {
				st = R_DOT;
				break;
			}
			st = R_MID;
			goto again;
		case R_MID:
			if (c == '\r')
				st = R_CR;
			else if (c == '\n') {
				*bare_r = 1;
				put1(out, '\n');
			} else
				put1(out, c);
			break;
		case R_CR:
			if (c == '\n') {
				put1(out, '\n');
				st = R_LS;
				break;
			}
			*bare_r = 1;
			put1(out, '\r');
			st = R_MID;
			goto again;
		case R_DOT:
			if (c == '\r') {
				st = R_DOTCR;
				break;
			}
			st = R_MID;
			goto again;
		case R_DOTCR:
			if (c == '\n') {
				*end_r = 1;
				return i + 1;
			}
			*bare_r = 1;
			put1(out, '\r');
			st = R_MID;
			goto again;
		}
	}
	return n;
}

/* BDAT over all chunks, then LAST. */
static void
ref_bdat(const unsigned char *p, size_t n, struct buf *out, int *bare_r)
{
	int cr = 0;
	size_t i;

	*bare_r = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (cr) {
			cr = 0;
			if (c == '\n') {
				put1(out, '\n');
				continue;
			}
			*bare_r = 1;
			put1(out, '\r');
		}
		if (c == '\r')
			cr = 1;
		else {
			if (c == '\n')
				*bare_r = 1;
			put1(out, c);
		}
	}
	if (cr) {
		*bare_r = 1;
		put1(out, '\r');
	}
}

/* --- the parser under test ---------------------------------------- */

static struct dataparse dp;
static struct buf got;
static size_t emits, short_emits;

static void
emit(void *ctx, const char *p, size_t n, size_t lf)
{
	size_t i, nl = 0;

	(void)ctx;
	CHECK(n > 0, "empty span");
	for (i = 0; i < n; i++)
		nl += p[i] == '\n';
	CHECK(lf == nl, "span of %zu bytes: %zu LF, told %zu", n, nl, lf);
	if (n != DP_OUT)
		short_emits++;
	CHECK(short_emits <= 1 || n != DP_OUT,
	    "a short span before a full one");
	emits++;
	put(&got, p, n);
}

static void
start(void)
{
	got.n = 0;
	emits = short_emits = 0;
	dp_start(&dp, emit, NULL);
}

/* The next read size: often tiny, sometimes large. */
static size_t
next_split(size_t left)
{
	size_t k;

	switch (below(4)) {
	case 0: k = 1 + below(3); break;
	case 1: k = 1 + below(100); break;
	case 2: k = 1 + below(20000); break;
	default: k = 1 + below(300000); break;
	}
	return k < left ? k : left;
}

/* --- random message data ------------------------------------------ */

static void
gen_text(struct buf *b, size_t len)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz .,:0123";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)alpha[below(sizeof alpha - 1)];
		if (below(200) == 0)
			c = (unsigned char)below(256);     /* any byte */
		put1(b, c);
	}
}

static void
gen(struct buf *b)
{
	static const char *const bits[] = {
		"\r\n", "\r\n.\r\n", ".", "..", "\r", "\n", "\n.\r\n",
		"\r.\r\n", ".\r\n", "\r\n.\n", "\r\n.\r.\r\n", "\r\r\n",
		"\n\r", "\r\n..\r\n", "\r\n.x\r\n", "\0", "\r\n\r\n",
	};
	size_t parts, i, big = below(8) == 0;

	b->n = 0;
	if (below(3) == 0) {
		/* a dense mix of the interesting bytes */
		size_t len = below(big ? 200000 : 300);
		for (i = 0; i < len; i++)
			put1(b, (unsigned char)".\r\na"[below(4)]);
		return;
	}
	parts = 1 + below(big ? 4000 : 30);
	for (i = 0; i < parts; i++) {
		switch (below(6)) {
		case 0: {
			const char *s = bits[below(sizeof bits / sizeof *bits)];
			put(b, s, strlen(s) + (s[0] == '\0'));
			break;
		}
		case 1:
			gen_text(b, below(big && below(20) == 0 ? 200000 : 2000));
			put(b, "\r\n", 2);
			break;
		default:
			gen_text(b, below(100));
			put(b, "\r\n", 2);
			break;
		}
	}
	if (below(2))
		put(b, "\r\n.\r\n", 5);
	if (below(2))
		put(b, "QUIT\r\n", 6);
}

static void
one_data(const struct buf *in, unsigned iter)
{
	struct buf ref = { 0 };
	size_t ref_len, off = 0, k, len;
	int ref_bare, ref_end, end = 0;

	ref_len = ref_data(in->p, in->n, &ref, &ref_bare, &ref_end);
	start();
	while (off < in->n && !end) {
		len = next_split(in->n - off);
		k = dp_data(&dp, in->p + off, len, &end);
		CHECK(k == len || (end && k < len), "iter %u: consumed %zu of "
		    "%zu without the end", iter, k, len);
		CHECK(k > 0, "iter %u: no progress", iter);
		if (k == 0)
			break;
		off += k;
	}
	dp_flush(&dp);
	CHECK(end == ref_end, "iter %u: end %d, reference %d", iter, end,
	    ref_end);
	CHECK(off == ref_len, "iter %u: data length %zu, reference %zu",
	    iter, off, ref_len);
	CHECK(dp.bare_eol == ref_bare, "iter %u: bare %d, reference %d",
	    iter, dp.bare_eol, ref_bare);
	CHECK(got.n == ref.n && (ref.n == 0 || !memcmp(got.p, ref.p, ref.n)),
	    "iter %u: stored %zu bytes, reference %zu, differ", iter, got.n,
	    ref.n);
	free(ref.p);
}

static void
one_bdat(const struct buf *in, unsigned iter)
{
	struct buf ref = { 0 };
	size_t off = 0, len;
	int ref_bare;

	ref_bdat(in->p, in->n, &ref, &ref_bare);
	start();
	while (off < in->n) {
		len = next_split(in->n - off);
		dp_bdat(&dp, in->p + off, len);
		off += len;
		if (below(4) == 0)
			dp_flush(&dp);         /* as at the end of a chunk */
		else
			continue;
		emits = short_emits = 0;
	}
	dp_bdat_end(&dp);
	dp_flush(&dp);
	CHECK(dp.bare_eol == ref_bare, "iter %u: BDAT bare %d, reference %d",
	    iter, dp.bare_eol, ref_bare);
	CHECK(got.n == ref.n && (ref.n == 0 || !memcmp(got.p, ref.p, ref.n)),
	    "iter %u: BDAT stored %zu bytes, reference %zu, differ", iter,
	    got.n, ref.n);
	free(ref.p);
}

/* Fixed cases, written out. */
static void
fixed(void)
{
	static const struct {
		const char *in, *out;
		int bare, end;
		size_t len;
	} c[] = {
		{ "a\r\n.\r\n", "a\n", 0, 1, 6 },
		{ ".\r\n", "", 0, 1, 3 },
		{ "..\r\n.\r\n", ".\n", 0, 1, 7 },
		{ ".a\r\n.\r\nX", "a\n", 0, 1, 7 },
		{ "a\n.\r\n", "a\n.\n", 1, 0, 5 },
		{ "a\r\n.\n", "a\n\n", 1, 0, 5 },
		{ "a\r.\r\n", "a\r.\n", 1, 0, 5 },
		{ "a\r\n.\r.\r\n", "a\n\r.\n", 1, 0, 8 },
		{ "a\r\n.\r\n.\r\n", "a\n", 0, 1, 6 },
		{ "\r\n.\r\n", "\n", 0, 1, 5 },
	};
	size_t i, k, split;
	int end;

	for (i = 0; i < sizeof c / sizeof *c; i++) {
		size_t n = strlen(c[i].in);
		for (split = 0; split <= n; split++) {
			start();
			k = dp_data(&dp, (const unsigned char *)c[i].in, split,
			    &end);
			if (!end && split < n) {
				k += dp_data(&dp, (const unsigned char *)
				    c[i].in + split, n - split, &end);
			}
			dp_flush(&dp);
			CHECK(end == c[i].end && k == c[i].len &&
			    dp.bare_eol == c[i].bare &&
			    got.n == strlen(c[i].out) &&
			    !memcmp(got.p, c[i].out, got.n),
			    "case %zu split %zu", i, split);
		}
	}
}

/* Lines that end exactly at, just before and just after the end of the
 * output buffer, and lines longer than it, in one read and split. */
static void
boundaries(void)
{
	static const size_t tail[] = { 0, 1, 2, 3, 7, 8, 9, 100 };
	struct buf in = { 0 };
	size_t i, j, len;

	for (i = 0; i < sizeof tail / sizeof *tail; i++) {
		for (j = 0; j < 3; j++) {
			in.n = 0;
			len = DP_OUT - tail[i] - 1;
			while (len-- > 0)
				put1(&in, 'a');
			put(&in, "\r\n", 2);   /* stored: DP_OUT - tail[i] */
			for (len = tail[i] + j; len-- > 1;)
				put1(&in, 'b');
			put(&in, j == 2 ? "\r\r\n" : "\r\n", j == 2 ? 3 : 2);
			len = DP_OUT * (j + 1) + tail[i];
			while (len-- > 0)
				put1(&in, 'c');
			put(&in, "\r\n.\r\n", 5);
			one_data(&in, (unsigned)(1000000 + i * 3 + j));
			one_bdat(&in, (unsigned)(1000000 + i * 3 + j));
		}
	}
	free(in.p);
}

int
main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10)
	    : 3000, i;
	struct buf in = { 0 };

	rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261124;
	if (rng == 0)
		rng = 1;
	printf("# seed %llu, %u iterations\n", (unsigned long long)rng, iters);
	fixed();
	boundaries();
	for (i = 0; i < iters; i++) {
		gen(&in);
		one_data(&in, i);
		one_bdat(&in, i);
	}
	free(in.p);
	free(got.p);
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
