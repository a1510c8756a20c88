/* data.c - message data: DATA (dot-terminated) and BDAT (counted chunks,
 * RFC 3030), one byte-level pass, nothing held in memory, no line limit.
 *
 * DATA: only <CRLF>.<CRLF> ends it. A bare LF (LF without CR) or a bare
 * CR never ends anything and never starts a line; the message is read to
 * its real end and refused (554 5.6.0): see "Bare CR and LF" in
 * smtp-handler(8). Leading dots are unstuffed; lines are stored with LF.
 * The machine looks at the bytes already buffered in struct io (read
 * only) and consumes exactly up to the end of the data with io_read(),
 * so pipelined commands after the final dot stay in the buffer.
 * BDAT chunks are converted CRLF -> LF with the same bare CR/LF rule.
 *
 * Every stored byte goes through body_emit(), which counts the size
 * (--max-size: beyond it nothing more is stored, the data is still read
 * to the end, then 552 5.3.4) and the Received: headers (hop count). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp.h"
#include "util.h"

#define BDAT_BUF      16384

static unsigned char bdat_buf[BDAT_BUF];
static unsigned char scratch[IO_INBUF];

/* Header tracking for the hop count, on the stored (LF) stream. */
struct hdr_scan {
	int in_headers;
	int at_line_start;
	unsigned n;               /* bytes of the current line seen, max 9 */
	char start[9];
};

/* DATA machine states */
enum { D_LS, D_MID, D_CR, D_DOT, D_DOTCR };

struct body_state {
	struct smtp_body b;
	struct hdr_scan h;
	int dstate;               /* DATA: D_* */
	int cr_pending;           /* BDAT: chunk ended in CR */
};

static struct body_state body;
static char msg_id[MAILDIR_NAME_MAX];

static void
hdr_feed(struct hdr_scan *h, struct smtp_body *b, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && h->in_headers; i++) {
		char c = p[i];
		if (c == '\n') {
			if (h->at_line_start && h->n == 0)
				h->in_headers = 0;             /* empty line */
			h->at_line_start = 1;
			h->n = 0;
			continue;
		}
		if (h->at_line_start && h->n < sizeof h->start) {
			h->start[h->n++] = c;
			if (h->n == sizeof h->start &&
			    !strncasecmp(h->start, "received:", 9))
				b->received++;
		}
	}
}

static void
body_start(void)
{
	memset(&body, 0, sizeof body);
	body.h.in_headers = 1;
	body.h.at_line_start = 1;
}

/* Stores n bytes (in stored form: LF line ends), counting the size as
 * on the wire (each LF was a CRLF) against --max-size. */
static void
body_emit(struct session *s, const char *p, size_t n)
{
	struct smtp_body *b = &body.b;
	const char *q = p, *end = p + n;
	uint64_t lf = 0;

	while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		lf++;
		q++;
	}
	b->size += n + lf;
	hdr_feed(&body.h, b, p, n);
	if (b->size > s->cfg->max_size && !b->too_big) {
		b->too_big = 1;
		log_msg(LOG_NOTICE, "message over %llu octets: refusing it",
		    (unsigned long long)s->cfg->max_size);
	}
	if (b->too_big || b->write_errno)
		return;
	b->stored += n;
	deliver_write(s, b, p, n);
}

static enum reply
open_failed(struct session *s, int err)
{
	transaction_reset(s);
	return err == ENOSPC || err == EDQUOT ? R_NO_STORAGE : R_TEMPFAIL;
}

static enum reply
finish(struct session *s)
{
	enum reply r = deliver_finish(s, &body.b, msg_id);

	transaction_reset(s);
	return r;
}

/* Runs the DATA machine over p[0..n). Returns how many bytes belong to
 * the data; *end_r is set when they include the final <CRLF>.<CRLF>. */
static size_t
data_feed(struct session *s, const unsigned char *p, size_t n, int *end_r)
{
	size_t i = 0, j;

	*end_r = 0;
	while (i < n) {
		switch (body.dstate) {
		case D_LS:
			if (p[i] == '.') {
				body.dstate = D_DOT;
				i++;
				break;
			}
			body.dstate = D_MID;
			break;
		case D_MID:
			for (j = i; j < n && p[j] != '\r' && p[j] != '\n'; j++)
				;
			if (j > i)
				body_emit(s, (const char *)p + i, j - i);
			i = j;
			if (i == n)
				break;
			if (p[i] == '\r')
				body.dstate = D_CR;
			else {
				body.b.bare_eol = 1;          /* LF without CR */
				body_emit(s, "\n", 1);
			}
			i++;
			break;
		case D_CR:
			if (p[i] == '\n') {
				body_emit(s, "\n", 1);
				body.dstate = D_LS;
				i++;
			} else {
				body.b.bare_eol = 1;          /* CR without LF */
				body_emit(s, "\r", 1);
				body.dstate = D_MID;
			}
			break;
		case D_DOT:                /* "." at a line start: unstuff */
			if (p[i] == '\r') {
				body.dstate = D_DOTCR;
				i++;
			} else
				body.dstate = D_MID;
			break;
		case D_DOTCR:
			if (p[i] == '\n') {
				*end_r = 1;
				return i + 1;
			}
			body.b.bare_eol = 1;
			body_emit(s, "\r", 1);
			body.dstate = D_MID;
			break;
		}
	}
	return n;
}

enum reply
smtp_data(struct session *s, char *args)
{
	struct io *io = &s->io;
	int end = 0;
	long n = 0;

	(void)args;
	maildir_unique(msg_id, sizeof msg_id);
	if (deliver_open(s, msg_id) < 0)
		return open_failed(s, errno);
	body_start();
	body.dstate = D_LS;
	reply(s, R_DATA_GO);
	while (!end) {
		size_t have = io->in_len - io->in_off, k;

		if (have == 0) {
			/* nothing buffered: one byte through io_read() waits
			 * (flushing the 354) and buffers whatever came */
			if ((n = io_read(io, scratch, 1)) <= 0)
				break;
			data_feed(s, scratch, 1, &end);
			continue;
		}
		/* peek at the buffered bytes, consume only the data */
		k = data_feed(s, io->in + io->in_off, have, &end);
		if ((n = io_read(io, scratch, k)) != (long)k) {
			n = IO_ERROR;
			break;
		}
	}
	if (!end) {
		deliver_abort(s);
		transaction_reset(s);
		if (n == IO_TIMEOUT)
			reply_arg(s, R_TIMEOUT, s->cfg->hostname);
		log_msg(LOG_NOTICE, "connection %s during DATA: message "
		    "discarded", n == IO_TIMEOUT ? "timed out" : "lost");
		s->quit = 1;
		return R_NONE;
	}
	return finish(s);
}

/* BDAT chunk bytes -> stored form (CRLF -> LF). */
static void
bdat_feed(struct session *s, const unsigned char *p, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (body.cr_pending) {
			body.cr_pending = 0;
			if (p[i] == '\n') {
				body_emit(s, "\n", 1);
				start = i + 1;
				continue;
			}
			body.b.bare_eol = 1;
			body_emit(s, "\r", 1);
			start = i;
		}
		if (p[i] == '\r') {
			if (i > start)
				body_emit(s, (const char *)p + start, i - start);
			body.cr_pending = 1;
			start = i + 1;
		} else if (p[i] == '\n') {
			body.b.bare_eol = 1;              /* LF without CR */
		}
	}
	if (!body.cr_pending && n > start)
		body_emit(s, (const char *)p + start, n - start);
}

void
bdat_abort(struct session *s)
{
	if (deliver_is_open(s))
		deliver_abort(s);
}

/* The current failure of a BDAT sequence, if any. */
static enum reply
bdat_failure(void)
{
	if (body.b.too_big)
		return R_TOO_BIG;
	if (body.b.bare_eol)
		return R_BARE_EOL;
	if (body.b.write_errno)
		return body.b.write_errno == ENOSPC ||
		    body.b.write_errno == EDQUOT ? R_NO_STORAGE : R_TEMPFAIL;
	return R_NONE;
}

enum reply
smtp_bdat(struct session *s, char *args)
{
	uint64_t size, left;
	char *sp, *last_word;
	int last = 0;
	enum reply refuse = R_NONE;
	char num[24];

	sp = strchr(args, ' ');
	last_word = sp ? sp + 1 : NULL;
	if (last_word) {
		while (*last_word == ' ')
			last_word++;
		if (strcasecmp(last_word, "LAST"))
			return R_SYNTAX;
		last = 1;
	}
	if (parse_uint(args, sp ? (size_t)(sp - args) : strlen(args),
	    UINT64_MAX / 4, &size) < 0)
		return R_SYNTAX;
	/* Whatever happens, the chunk is read (and maybe dropped), so that
	 * its bytes are never taken for commands. */
	if (s->state == ST_INIT)
		refuse = R_SEQ_HELO;
	else if (s->state == ST_READY)
		refuse = R_SEQ_NEED_MAIL;
	else if (s->state == ST_MAIL)
		refuse = R_NO_RCPTS;
	else if (s->state == ST_RCPT) {
		maildir_unique(msg_id, sizeof msg_id);
		if (deliver_open(s, msg_id) < 0) {
			refuse = open_failed(s, errno);
			s->bdat_failed = refuse;
			enter_state(s, ST_BDAT);
		} else {
			body_start();
			enter_state(s, ST_BDAT);
		}
	}
	for (left = size; left > 0;) {
		size_t want = left < sizeof bdat_buf ? (size_t)left
		    : sizeof bdat_buf;
		long n = io_read(&s->io, bdat_buf, want);
		if (n <= 0) {
			bdat_abort(s);
			transaction_reset(s);
			if (n == IO_TIMEOUT)
				reply_arg(s, R_TIMEOUT, s->cfg->hostname);
			log_msg(LOG_NOTICE, "connection %s during BDAT: "
			    "message discarded", n == IO_TIMEOUT ? "timed out"
			    : "lost");
			s->quit = 1;
			return R_NONE;
		}
		left -= (uint64_t)n;
		if (refuse == R_NONE && !s->bdat_failed)
			bdat_feed(s, bdat_buf, (size_t)n);
	}
	if (refuse != R_NONE && s->state != ST_BDAT)
		return refuse;
	if (!s->bdat_failed && (s->bdat_failed = bdat_failure()) != R_NONE)
		deliver_abort(s);
	if (!last) {
		if (s->bdat_failed)
			return s->bdat_failed;
		snprintf(num, sizeof num, "%llu", (unsigned long long)size);
		reply_arg(s, R_CHUNK_OK, num);
		return R_NONE;
	}
	if (s->bdat_failed) {
		enum reply r = s->bdat_failed;
		transaction_reset(s);
		return r;
	}
	if (body.cr_pending) {
		body.cr_pending = 0;
		body.b.bare_eol = 1;
		transaction_reset(s);
		return R_BARE_EOL;
	}
	return finish(s);
}
