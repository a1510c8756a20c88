/* data.c - message data: DATA (dot-terminated) and BDAT (counted chunks,
 * RFC 3030), one pass, nothing held in memory.
 *
 * DATA is read line by line: only a line "." that follows a CRLF and
 * itself ends in CRLF ends it. A bare LF (a line end without CR) or a
 * bare CR inside a line never ends anything; the message is read to its
 * real end and refused (554 5.6.0): see "BARE CR AND LF" in
 * smtp-handler(8). Leading dots are unstuffed; lines are stored with LF.
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

#define DATA_LINE_MAX 65536        /* longest line in message data */
#define BDAT_BUF      16384

static char data_line[DATA_LINE_MAX + 1];
static unsigned char bdat_buf[BDAT_BUF];

/* Header tracking for the hop count, on the stored (LF) stream. */
struct hdr_scan {
	int in_headers;
	int at_line_start;
	unsigned n;               /* bytes of the current line seen, max 9 */
	char start[9];
};

struct body_state {
	struct smtp_body b;
	struct hdr_scan h;
	int line_too_long;
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

/* Stores n bytes (already in stored form) unless the message is dead. */
static void
body_emit(struct session *s, const char *p, size_t n)
{
	struct smtp_body *b = &body.b;

	hdr_feed(&body.h, b, p, n);
	if (b->too_big || b->write_errno)
		return;
	b->stored += n;
	deliver_write(s, b, p, n);
}

/* Counts wire octets; returns 0 when the data is over the limit. */
static int
body_count(struct session *s, uint64_t wire)
{
	struct smtp_body *b = &body.b;

	b->size += wire;
	if (b->size > s->cfg->max_size && !b->too_big) {
		b->too_big = 1;
		log_msg(LOG_NOTICE, "message over %llu octets: refusing it",
		    (unsigned long long)s->cfg->max_size);
	}
	return !b->too_big;
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
	enum reply r;

	if (body.line_too_long) {
		deliver_abort(s);
		r = R_DATA_LINE;
	} else
		r = deliver_finish(s, &body.b, msg_id);
	transaction_reset(s);
	return r;
}

enum reply
smtp_data(struct session *s, char *args)
{
	int at_start = 1, flags;
	long n;

	(void)args;
	maildir_unique(msg_id, sizeof msg_id);
	if (deliver_open(s, msg_id) < 0)
		return open_failed(s, errno);
	body_start();
	reply(s, R_DATA_GO);
	for (;;) {
		char *p;
		size_t len;
		int crlf;

		n = io_getline(&s->io, data_line, sizeof data_line, &flags);
		if (n == IO_TOOLONG) {
			/* the line is gone: the message cannot be stored */
			body.line_too_long = 1;
			body.b.too_big = 1;
			at_start = 1;
			continue;
		}
		if (n < 0) {
			deliver_abort(s);
			transaction_reset(s);
			if (n == IO_TIMEOUT)
				reply_arg(s, R_TIMEOUT, s->cfg->hostname);
			log_msg(LOG_NOTICE, "connection %s during DATA: "
			    "message discarded", n == IO_TIMEOUT ? "timed out"
			    : "lost");
			s->quit = 1;
			return R_NONE;
		}
		len = (size_t)n;
		crlf = !(flags & IO_LINE_BARELF);
		if (at_start && crlf && len == 1 && data_line[0] == '.')
			break;                                 /* <CRLF>.<CRLF> */
		p = data_line;
		if (at_start && len > 0 && p[0] == '.') {
			p++;                                   /* unstuff */
			len--;
		}
		if (!crlf || memchr(p, '\r', len))
			body.b.bare_eol = 1;
		if (body_count(s, len + 2)) {
			p[len] = '\n';
			body_emit(s, p, len + 1);
		} else
			hdr_feed(&body.h, &body.b, p, len);
		at_start = crlf;
	}
	return finish(s);
}

/* BDAT chunk bytes -> stored form (CRLF -> LF). */
static void
bdat_feed(struct session *s, const unsigned char *p, size_t n)
{
	size_t i, start = 0;

	if (!body_count(s, n))
		return;
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
