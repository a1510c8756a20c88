/* data.c - message data: DATA (dot-terminated) and BDAT (counted chunks,
 * RFC 3030), nothing held in memory, no line limit.
 *
 * The wire-to-stored conversion (end of data, dot-unstuffing, CRLF -> LF,
 * the bare CR/LF rule: only <CRLF>.<CRLF> ends DATA; a bare CR or LF
 * makes the message refused, 554 5.6.0, after its real end) is
 * dataparse.c. Here: the input is looked at in place in struct io
 * (io_peek) and exactly the data is consumed (io_consume), so pipelined
 * commands after the final dot or after a BDAT chunk stay buffered.
 *
 * Every stored byte goes through body_emit(), which counts the size
 * (--max-size: beyond it nothing more is stored, the data is still read
 * to the end, then 552 5.3.4) and the Received: headers (hop count). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dataparse.h"
#include "log.h"
#include "smtp.h"
#include "util.h"

/* Header tracking for the hop count, on the stored (LF) stream. */
struct hdr_scan {
	int in_headers;
	int at_line_start;
	unsigned n;               /* bytes of the current line seen, max 9 */
	char start[9];
};

/* Message data comes through this larger input buffer (io_set_inbuf):
 * fewer, larger reads. Its pages are touched only as far as reads fill
 * them. */
#define DATA_INBUF 131072

static unsigned char data_inbuf[DATA_INBUF];

/* dataparse hands over spans of DP_OUT bytes: larger than the maildir's
 * write buffer, they go straight to write(2) without another copy. */
_Static_assert(DP_OUT > MAILDIR_WBUF, "DP_OUT must exceed MAILDIR_WBUF");

static void body_emit(void *ctx, const char *p, size_t n, size_t lf);

struct body_state {
	struct smtp_body b;
	struct hdr_scan h;
	struct session *s;
	struct dataparse dp;      /* its out[] pages are touched only as
	                             far as a message fills them */
};

/* The message being received and its id: set up by body_start() and
 * maildir_unique() before each use. Static storage: dataparse's out[]
 * (DP_OUT) is too large for the stack, and its pages are touched only
 * as far as a message fills them. smtp_data_reset() clears the rest at
 * every session start. */
static struct body_state body;
static char msg_id[MAILDIR_NAME_MAX];

void
smtp_data_reset(void)
{
	memset(&body.b, 0, sizeof body.b);
	memset(&body.h, 0, sizeof body.h);
	body.s = NULL;
	dp_start(&body.dp, body_emit, &body);
	msg_id[0] = '\0';
}

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
body_start(struct session *s)
{
	memset(&body.b, 0, sizeof body.b);
	memset(&body.h, 0, sizeof body.h);
	body.h.in_headers = 1;
	body.h.at_line_start = 1;
	body.s = s;
	dp_start(&body.dp, body_emit, &body);
}

/* Stores what dataparse gathered. */
static void
body_flush(void)
{
	dp_flush(&body.dp);
	if (body.dp.bare_eol)
		body.b.bare_eol = 1;
}

/* Stores n bytes (in stored form: LF line ends, lf of them), counting
 * the size as on the wire (each LF was a CRLF) against --max-size. */
static void
body_emit(void *ctx, const char *p, size_t n, size_t lf)
{
	struct body_state *bs = ctx;
	struct session *s = bs->s;
	struct smtp_body *b = &bs->b;

	b->size += n + lf;
	hdr_feed(&bs->h, b, p, n);
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

enum reply
smtp_data(struct session *s, char *args)
{
	struct io *io = &s->io;
	const unsigned char *p;
	int end = 0;
	long n = 0;

	(void)args;
	maildir_unique(msg_id, sizeof msg_id);
	if (deliver_open(s, msg_id) < 0)
		return open_failed(s, errno);
	body_start(s);
	io_set_inbuf(io, data_inbuf, sizeof data_inbuf);
	reply(s, R_DATA_GO);
	while (!end) {
		/* waits (flushing the 354) when nothing is buffered */
		if ((n = io_peek(io, &p)) <= 0)
			break;
		io_consume(io, dp_data(&body.dp, p, (size_t)n, &end));
	}
	if (!end) {
		deliver_abort(s);
		transaction_reset(s);
		if (n == IO_TIMEOUT)
			reply_arg(s, R_TIMEOUT, s->cfg->hostname);
		log_msg(LOG_NOTICE, "connection %s during DATA: message "
		    "discarded", n == IO_TIMEOUT ? "timed out" : "lost");
		s->quit = 1;
		s->end_result = n == IO_TIMEOUT ? "timeout" :
		    "disconnected in transaction";
		return R_NONE;
	}
	body_flush();
	return finish(s);
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
			body_start(s);
			enter_state(s, ST_BDAT);
		}
	}
	io_set_inbuf(&s->io, data_inbuf, sizeof data_inbuf);
	for (left = size; left > 0;) {
		const unsigned char *p;
		long n = io_peek(&s->io, &p);
		size_t k;

		if (n <= 0) {
			bdat_abort(s);
			transaction_reset(s);
			if (n == IO_TIMEOUT)
				reply_arg(s, R_TIMEOUT, s->cfg->hostname);
			log_msg(LOG_NOTICE, "connection %s during BDAT: "
			    "message discarded", n == IO_TIMEOUT ? "timed out"
			    : "lost");
			s->quit = 1;
			s->end_result = n == IO_TIMEOUT ? "timeout" :
			    "disconnected in transaction";
			return R_NONE;
		}
		k = (uint64_t)n < left ? (size_t)n : (size_t)left;
		if (refuse == R_NONE && !s->bdat_failed)
			dp_bdat(&body.dp, p, k);
		io_consume(&s->io, k);
		left -= k;
	}
	if (refuse == R_NONE && !s->bdat_failed)
		body_flush();
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
	dp_bdat_end(&body.dp);
	if (body.dp.bare_eol) {
		body.b.bare_eol = 1;
		transaction_reset(s);
		return R_BARE_EOL;
	}
	return finish(s);
}
