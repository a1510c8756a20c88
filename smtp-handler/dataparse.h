/* dataparse.h - message data from the wire to the stored form, as a pure
 * transformation (no I/O, no allocation): DATA (dot-terminated, dot-
 * stuffed) and BDAT chunks (RFC 3030), CRLF line ends -> LF.
 *
 * Rules (the smuggling protections; see "Bare CR and LF" in
 * smtp-handler(8)): only <CRLF>.<CRLF> ends DATA; a line starts only
 * after a CRLF, and a leading dot there is removed. A bare LF (LF not
 * after CR) or a bare CR (CR not before LF) ends nothing and starts no
 * line: it is stored as it is and sets bare_eol, so that the message is
 * refused once it has been read to its end. No line length limit.
 *
 * The stored bytes are gathered in out[] and handed to emit() in large
 * spans (DP_OUT bytes, the last one shorter at dp_flush()). */
#ifndef POSTERN_DATAPARSE_H
#define POSTERN_DATAPARSE_H

#include <stddef.h>

/* Larger than the maildir's write buffer, so that every full span goes
 * straight to write(2). */
#define DP_OUT 131072

/* Stores p[0..n), of which lf bytes are LF. */
typedef void dp_emit_fn(void *ctx, const char *p, size_t n, size_t lf);

struct dataparse {
	int state;                /* internal */
	int bare_eol;             /* a bare CR or LF was seen */
	dp_emit_fn *emit;         /* linked, not copied */
	void *ctx;
	size_t out_len, out_lf;   /* bytes in out[], LFs among them */
	char out[DP_OUT];
};

/* Starts a message: at a line start, nothing seen. */
void dp_start(struct dataparse *d, dp_emit_fn *emit, void *ctx);

/* DATA: runs over p[0..n) and returns how many of those bytes belong to
 * the data; *end_r is set when they end with the final <CRLF>.<CRLF>
 * (the bytes after it are not looked at). May be called with any split
 * of the input. */
size_t dp_data(struct dataparse *d, const unsigned char *p, size_t n,
    int *end_r);

/* BDAT: converts the chunk bytes p[0..n) (any split). */
void dp_bdat(struct dataparse *d, const unsigned char *p, size_t n);

/* BDAT LAST: a chunk that ended in CR has no LF to come: sets bare_eol
 * (and stores the CR). */
void dp_bdat_end(struct dataparse *d);

/* Hands the gathered bytes to emit(). Call at the end of the data. */
void dp_flush(struct dataparse *d);

#endif
