/* pop3_mbox.c - the maildir session of the TRANSACTION and UPDATE
 * states: lock and scan at login, STAT/LIST/UIDL from the scanned names
 * (sizes from ,W=, no stat or open per message), RETR/TOP streamed from
 * the file in large blocks (LF -> CRLF, dot-stuffing, never the whole
 * message in memory), DELE/RSET marks, and the deletions at QUIT.
 *
 * new/ -> cur/: a message is moved to cur/ when it has been retrieved
 * (RETR), which is what maildir's "seen by the client" means; the move
 * keeps its name up to ':' and so its UIDL. Nothing is moved or deleted
 * when the session ends any other way than QUIT. */
#include <bearssl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pop3.h"
#include "util.h"

static void mb_counts(struct pop3_mbox *mb, char *buf, size_t size)
{
	snprintf(buf, size, "%llu message%s (%llu octets)",
	    (unsigned long long)mb->live_count,
	    mb->live_count == 1 ? "" : "s",
	    (unsigned long long)mb->live_bytes);
}

static void mb_close(struct pop3_mbox *mb)
{
	if (mb->lock_fd >= 0)
		close(mb->lock_fd);
	mb->lock_fd = -1;
	maildir_list_free(&mb->list);
}

void mbox_close(struct pop3 *s)
{
	mb_close(&s->mb);
}

enum pop3_ev mbox_open(struct pop3 *s, const char *maildir)
{
	struct pop3_mbox *mb = &s->mb;
	struct maildir_list *l = &mb->list;
	size_t i, j;
	uint64_t size;

	memset(mb, 0, sizeof *mb);
	mb->lock_fd = -1;
	if (copy_str(mb->maildir, sizeof mb->maildir, maildir) < 0) {
		log_msg(LOG_ERR, "maildir path too long for %s", s->login);
		return pop3_err(s, R_MAILDIR_TEMP);
	}
	mb->lock_fd = maildir_lock(maildir);
	if (mb->lock_fd < 0) {
		if (errno == EWOULDBLOCK || errno == EAGAIN) {
			log_msg(LOG_NOTICE, "mailbox of %s in use by another "
			    "session", s->login);
			return pop3_err(s, R_INUSE);
		}
		log_msg(LOG_ERR, "cannot lock maildir %s: %s", maildir,
		    strerror(errno));
		return pop3_err(s, R_MAILDIR_TEMP);
	}
	/* Leftovers of deliveries killed long ago (36 h rule). */
	maildir_clean_tmp(maildir, MAILDIR_TMP_MAX_AGE);
	if (maildir_scan_cached(maildir, l) < 0) {
		log_msg(LOG_ERR, "cannot read maildir %s: %s", maildir,
		    strerror(errno));
		mb_close(mb);
		return pop3_err(s, R_MAILDIR_TEMP);
	}
	/* Sizes: from the names; a message without ,W= (dropped in by
	 * another program) is measured once. One that vanished meanwhile
	 * is left out before anyone sees its number. */
	for (i = j = 0; i < l->n; i++) {
		if (maildir_msg_size(maildir, l, i, &size) < 0) {
			if (errno == ENOENT)
				continue;
			log_msg(LOG_ERR, "cannot measure a message in %s: %s",
			    maildir, strerror(errno));
			mb_close(mb);
			return pop3_err(s, R_MAILDIR_TEMP);
		}
		l->msg[i].size = size;
		l->msg[i].deleted = 0;
		if (i != j)
			l->msg[j] = l->msg[i];
		j++;
		mb->live_bytes += size;
	}
	l->n = j;
	mb->live_count = j;
	pop3_enter_state(s, POP3_TRANSACTION);
	mb_counts(mb, s->rarg, sizeof s->rarg);
	return pop3_ok(s, R_LOGGED_IN);
}

/* A message number argument: digits only, 1..n (so "4294967297" and
 * "0" are no message). Returns the index or -1 with the reply set. */
static long msg_index(struct pop3 *s, const char *arg, int deleted_ok)
{
	struct maildir_list *l = &s->mb.list;
	uint64_t v;

	if (parse_uint(arg, strlen(arg), l->n, &v) < 0 || v == 0) {
		s->rid = R_NOSUCHMSG;
		return -1;
	}
	if (!deleted_ok && l->msg[v - 1].deleted) {
		s->rid = R_DELETED_ALREADY;
		return -1;
	}
	return (long)(v - 1);
}

enum pop3_ev cmd_stat(struct pop3 *s, char *args)
{
	if (args)
		return pop3_err(s, R_SYNTAX);
	snprintf(s->rarg, sizeof s->rarg, "%llu %llu",
	    (unsigned long long)s->mb.live_count,
	    (unsigned long long)s->mb.live_bytes);
	return pop3_ok(s, R_STAT);
}

/* "N SIZE\r\n" */
static void list_line(struct pop3 *s, size_t i)
{
	char buf[48];
	size_t n;

	n = pop3_u64(buf, i + 1);
	buf[n++] = ' ';
	n += pop3_u64(buf + n, s->mb.list.msg[i].size);
	buf[n++] = '\r';
	buf[n++] = '\n';
	io_write(&s->io, buf, n);
}

enum pop3_ev cmd_list(struct pop3 *s, char *args)
{
	struct maildir_list *l = &s->mb.list;
	char *v[1];
	long i;
	size_t k;

	if (pop3_args(args, v, 1) < 0)
		return pop3_err(s, R_SYNTAX);
	if (args) {
		if ((i = msg_index(s, v[0], 0)) < 0)
			return EV_ERR;
		snprintf(s->rarg, sizeof s->rarg, "%ld %llu", i + 1,
		    (unsigned long long)l->msg[i].size);
		return pop3_ok(s, R_LIST_ONE);
	}
	mb_counts(&s->mb, s->rarg, sizeof s->rarg);
	reply_status(s, 1, R_LIST_ALL, s->rarg);
	for (k = 0; k < l->n; k++)
		if (!l->msg[k].deleted)
			list_line(s, k);
	io_write(&s->io, ".\r\n", 3);
	return EV_QUIET;
}

/* The unique id: the file name up to the first ':' (SPEC). RFC 1939
 * allows 1..70 characters 0x21..0x7E; a name outside that gets
 * "sha256/" + 40 hex digits of the SHA-256 of that part of the name. It
 * is stable, and never equal to a real name ('/' cannot occur in one).
 * out must hold POP3_UIDL_MAX bytes. */
static size_t uidl_get(const struct maildir_list *l, size_t i, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const struct maildir_msg *m = &l->msg[i];
	const unsigned char *name =
	    (const unsigned char *)l->names + m->name_off;
	size_t len = m->uidl_len, k;
	br_sha256_context c;
	unsigned char h[32];

	if (len >= 1 && len <= POP3_UIDL_MAX) {
		for (k = 0; k < len; k++)
			if (name[k] < 0x21 || name[k] > 0x7e)
				break;
		if (k == len) {
			memcpy(out, name, len);
			return len;
		}
	}
	br_sha256_init(&c);
	br_sha256_update(&c, name, len);
	br_sha256_out(&c, h);
	memcpy(out, "sha256/", 7);
	for (k = 0; k < 20; k++) {
		out[7 + 2 * k] = hex[h[k] >> 4];
		out[8 + 2 * k] = hex[h[k] & 15];
	}
	return 47;
}

static void uidl_line(struct pop3 *s, size_t i)
{
	char buf[32 + POP3_UIDL_MAX];
	size_t n;

	n = pop3_u64(buf, i + 1);
	buf[n++] = ' ';
	n += uidl_get(&s->mb.list, i, buf + n);
	buf[n++] = '\r';
	buf[n++] = '\n';
	io_write(&s->io, buf, n);
}

enum pop3_ev cmd_uidl(struct pop3 *s, char *args)
{
	struct maildir_list *l = &s->mb.list;
	char *v[1];
	long i;
	size_t k, n;

	if (pop3_args(args, v, 1) < 0)
		return pop3_err(s, R_SYNTAX);
	if (args) {
		if ((i = msg_index(s, v[0], 0)) < 0)
			return EV_ERR;
		n = pop3_u64(s->rarg, (uint64_t)i + 1);
		s->rarg[n++] = ' ';
		n += uidl_get(l, (size_t)i, s->rarg + n);
		s->rarg[n] = '\0';
		return pop3_ok(s, R_UIDL_ONE);
	}
	reply_status(s, 1, R_UIDL_ALL, NULL);
	for (k = 0; k < l->n; k++)
		if (!l->msg[k].deleted)
			uidl_line(s, k);
	io_write(&s->io, ".\r\n", 3);
	return EV_QUIET;
}

/* The byte-level transfer of RETR/TOP: LF -> CRLF, a '.' starting a
 * line is doubled, TOP stops after the header and n body lines. */
struct xfer {
	int bol;            /* at the start of a line */
	int limited;        /* TOP */
	int in_header;
	int done;
	uint64_t body_left;
	size_t line_len;    /* TOP: octets of the current line so far */
	unsigned char last; /* TOP: its last octet */
};

/* Converts src[0..n) into dst, which must hold 2 * n bytes. */
static size_t xfer_block(struct xfer *x, unsigned char *dst,
    const unsigned char *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *p = src, *end = src + n, *nl;
	size_t len;

	while (p < end && !x->done) {
		if (x->bol && *p == '.')
			*d++ = '.';
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl ? nl : end) - p);
		memcpy(d, p, len);
		d += len;
		p += len;
		if (x->limited && len) {
			x->line_len += len;
			x->last = p[-1];
		}
		if (!nl) {
			x->bol = 0;
			break;
		}
		*d++ = '\r';
		*d++ = '\n';
		p++;
		x->bol = 1;
		if (!x->limited)
			continue;
		if (x->in_header) {
			if (x->line_len == 0 ||
			    (x->line_len == 1 && x->last == '\r')) {
				x->in_header = 0;
				if (x->body_left == 0)
					x->done = 1;
			}
		} else if (--x->body_left == 0) {
			x->done = 1;
		}
		x->line_len = 0;
	}
	return (size_t)(d - dst);
}

static long read_block(int fd, unsigned char *buf, size_t size)
{
	ssize_t n;

	do
		n = read(fd, buf, size);
	while (n < 0 && errno == EINTR);
	return (long)n;
}

/* Sends message i (whole, or TOP with body_lines). */
static enum pop3_ev send_msg(struct pop3 *s, size_t i, int top,
    uint64_t body_lines)
{
	/* scratch blocks: too large for the stack, written before read */
	static unsigned char in[POP3_XFER_IN];
	static unsigned char out[2 * POP3_XFER_IN + 8];
	struct pop3_mbox *mb = &s->mb;
	struct maildir_msg *m = &mb->list.msg[i];
	struct xfer x = { 1, top, 1, 0, body_lines, 0, 0 };
	long n;
	int fd;

	fd = maildir_msg_open(mb->maildir, &mb->list, i);
	if (fd < 0) {
		int e = errno;

		log_msg(e == ENOENT ? LOG_NOTICE : LOG_ERR, "message %zu of "
		    "%s: %s", i + 1, s->login, strerror(e));
		return pop3_err(s, e == ENOENT ? R_VANISHED : R_READ_FAILED);
	}
	n = read_block(fd, in, sizeof in);
	if (n < 0) {
		log_msg(LOG_ERR, "reading message %zu of %s: %s", i + 1,
		    s->login, strerror(errno));
		close(fd);
		return pop3_err(s, R_READ_FAILED);
	}
	if (top) {
		reply_status(s, 1, R_TOP, NULL);
	} else {
		snprintf(s->rarg, sizeof s->rarg, "%llu octets",
		    (unsigned long long)m->size);
		reply_status(s, 1, R_RETR, s->rarg);
	}
	while (n > 0) {
		size_t o = xfer_block(&x, out, in, (size_t)n);

		if (io_write(&s->io, out, o) < 0)
			break;
		if (x.done)
			break;
		n = read_block(fd, in, sizeof in);
	}
	close(fd);
	if (n < 0) {
		/* The status line and part of the message are gone: the
		 * only honest end is to close. */
		log_msg(LOG_ERR, "reading message %zu of %s: %s; closing",
		    i + 1, s->login, strerror(errno));
		s->result = "read-error";
		return EV_DROP;
	}
	if (!x.bol)
		io_write(&s->io, "\r\n", 2);
	io_write(&s->io, ".\r\n", 3);
	if (s->io.failed)
		return EV_DROP;
	if (!top) {
		s->retrieved++;
		if (m->in_new) {
			if (maildir_msg_to_cur(mb->maildir, &mb->list, i) < 0)
				log_msg(LOG_WARNING, "cannot move message %zu "
				    "of %s to cur/: %s", i + 1, s->login,
				    strerror(errno));
			else
				mb->moved = 1;
		}
	}
	return EV_QUIET;
}

enum pop3_ev cmd_retr(struct pop3 *s, char *args)
{
	char *v[1];
	long i;

	if (pop3_args(args, v, 1) != 1)
		return pop3_err(s, R_SYNTAX);
	if ((i = msg_index(s, v[0], 0)) < 0)
		return EV_ERR;
	return send_msg(s, (size_t)i, 0, 0);
}

enum pop3_ev cmd_top(struct pop3 *s, char *args)
{
	char *v[2];
	uint64_t lines;
	long i;

	if (pop3_args(args, v, 2) != 2 ||
	    parse_uint(v[1], strlen(v[1]), UINT64_MAX, &lines) < 0)
		return pop3_err(s, R_SYNTAX);
	if ((i = msg_index(s, v[0], 0)) < 0)
		return EV_ERR;
	return send_msg(s, (size_t)i, 1, lines);
}

enum pop3_ev cmd_dele(struct pop3 *s, char *args)
{
	struct pop3_mbox *mb = &s->mb;
	char *v[1];
	long i;

	if (pop3_args(args, v, 1) != 1)
		return pop3_err(s, R_SYNTAX);
	if ((i = msg_index(s, v[0], 0)) < 0)
		return EV_ERR;
	mb->list.msg[i].deleted = 1;
	mb->live_count--;
	mb->live_bytes -= mb->list.msg[i].size;
	mb->marked++;
	snprintf(s->rarg, sizeof s->rarg, "%ld", i + 1);
	return pop3_ok(s, R_DELE_OK);
}

enum pop3_ev cmd_rset(struct pop3 *s, char *args)
{
	struct pop3_mbox *mb = &s->mb;
	size_t k;

	if (args)
		return pop3_err(s, R_SYNTAX);
	for (k = 0; k < mb->list.n; k++) {
		if (mb->list.msg[k].deleted) {
			mb->list.msg[k].deleted = 0;
			mb->live_count++;
			mb->live_bytes += mb->list.msg[k].size;
		}
	}
	mb->marked = 0;
	mb_counts(mb, s->rarg, sizeof s->rarg);
	return pop3_ok(s, R_RSET);
}

int mbox_update(struct pop3 *s)
{
	struct pop3_mbox *mb = &s->mb;
	size_t k, failed = 0;

	for (k = 0; k < mb->list.n; k++) {
		int r;

		if (!mb->list.msg[k].deleted)
			continue;
		r = maildir_msg_delete(mb->maildir, &mb->list, k);
		if (r < 0) {
			log_msg(LOG_ERR, "cannot delete message %zu of %s: %s",
			    k + 1, s->login, strerror(errno));
			failed++;
		} else if (r > 0) {
			/* not counted as deleted: someone else did it */
			log_msg(LOG_NOTICE, "message %zu of %s was already "
			    "removed by another program", k + 1, s->login);
			s->gone++;
		} else {
			s->deleted++;
		}
	}
	if ((s->deleted || mb->moved) && maildir_sync(mb->maildir) < 0)
		log_msg(LOG_WARNING, "fsync of maildir %s: %s", mb->maildir,
		    strerror(errno));
	/* The mailbox is free before the reply goes out: a client that
	 * reconnects at once must not meet its own session's lock. */
	if (mb->lock_fd >= 0)
		close(mb->lock_fd);
	mb->lock_fd = -1;
	return failed ? -1 : 0;
}
