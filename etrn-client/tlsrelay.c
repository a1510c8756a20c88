/* tlsrelay.c - etrn-client --atrn over TLS: one poll() loop that drives the
 * BearSSL client engine without blocking and moves the turned-around
 * session's bytes between the provider (TLS records on the socket) and
 * the smtp-handler serving it (plain bytes on two pipes). Nothing is
 * buffered here beyond the engine's own buffers. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "tlsrelay.h"
#include "util.h"

/* What the handler writes after the provider is gone is read into this
 * and dropped. */
static unsigned char drop_buf[4096];

/* The ciphertext tls_run() read ahead (t->rbuf) goes to the engine
 * first. 1 when some was fed. */
static int
feed_readahead(struct tls *t)
{
	unsigned char *buf;
	size_t len, n;

	if (t->rbuf_off >= t->rbuf_len)
		return 0;
	buf = br_ssl_engine_recvrec_buf(t->eng, &len);
	if (buf == NULL || len == 0)
		return 0;
	n = t->rbuf_len - t->rbuf_off;
	if (n > len)
		n = len;
	memcpy(buf, t->rbuf + t->rbuf_off, n);
	t->rbuf_off += n;
	br_ssl_engine_recvrec_ack(t->eng, n);
	return 1;
}

/* One write of staged or engine records to the provider. 0 / -1. */
static int
net_write(struct tls *t, int fd, int64_t deadline)
{
	unsigned char *buf;
	size_t len;
	long r;

	if (t->stage_len > 0) {
		r = io_fd_write(fd, t->stage, t->stage_len, deadline);
		if (r < 0)
			return -1;
		memmove(t->stage, t->stage + r, t->stage_len - (size_t)r);
		t->stage_len -= (size_t)r;
		return 0;
	}
	buf = br_ssl_engine_sendrec_buf(t->eng, &len);
	if (buf == NULL || len == 0)
		return 0;
	r = io_fd_write(fd, buf, len, deadline);
	if (r < 0)
		return -1;
	br_ssl_engine_sendrec_ack(t->eng, (size_t)r);
	return 0;
}

/* One read of records from the provider. 1 data, 0 EOF, -1 error. */
static int
net_read(struct tls *t, int fd, int64_t deadline)
{
	unsigned char *buf;
	size_t len;
	long r;

	buf = br_ssl_engine_recvrec_buf(t->eng, &len);
	if (buf == NULL || len == 0)
		return 1;
	r = io_fd_read(fd, buf, len, deadline);
	if (r <= 0)
		return r == 0 ? 0 : -1;
	br_ssl_engine_recvrec_ack(t->eng, (size_t)r);
	return 1;
}

int
relay_tls(struct tls *t, int net_fd, int to_child, int from_child,
    unsigned idle_s, int64_t session_deadline, const char **error_r)
{
	br_ssl_engine_context *eng = t->eng;
	struct pollfd pf[3];
	int net_done = 0, child_eof = 0, ended = 0, rc = -1;
	int i_net, i_in, i_out, n, r;
	unsigned char *buf;
	unsigned st;
	size_t len;
	int64_t dl, now;
	long got;

	*error_r = NULL;
	for (;;) {
		st = br_ssl_engine_current_state(eng);
		if (!net_done && (st & BR_SSL_CLOSED)) {
			net_done = 1;
			if (!ended)
				ended = 2;
		}
		if (!net_done && (st & BR_SSL_RECVREC) && feed_readahead(t))
			continue;
		/* the provider is gone: the handler sees its input end */
		if (net_done && to_child >= 0) {
			close(to_child);
			to_child = -1;
		}
		/* plaintext nobody will read any more is dropped */
		if (to_child < 0 && (st & BR_SSL_RECVAPP)) {
			(void)br_ssl_engine_recvapp_buf(eng, &len);
			br_ssl_engine_recvapp_ack(eng, len);
			continue;
		}
		if (child_eof && (net_done || (t->stage_len == 0 &&
		    !(st & BR_SSL_SENDREC)))) {
			rc = ended == 1 ? 0 : 1;
			break;
		}

		n = 0;
		i_net = i_in = i_out = -1;
		if (!net_done) {
			short ev = 0;
			if (t->stage_len > 0 || (st & BR_SSL_SENDREC))
				ev |= POLLOUT;
			if (st & BR_SSL_RECVREC)
				ev |= POLLIN;
			if (ev) {
				pf[n].fd = net_fd;
				pf[n].events = ev;
				i_net = n++;
			}
		}
		if (!child_eof && (net_done || (st & BR_SSL_SENDAPP))) {
			pf[n].fd = from_child;
			pf[n].events = POLLIN;
			i_in = n++;
		}
		if (to_child >= 0 && (st & BR_SSL_RECVAPP)) {
			pf[n].fd = to_child;
			pf[n].events = POLLOUT;
			i_out = n++;
		}
		if (n == 0) {
			*error_r = "TLS engine stuck";
			break;
		}
		dl = deadline_min(deadline_in(idle_s), session_deadline);
		now = clock_ms();
		if (dl && dl <= now) {
			*error_r = "deadline passed";
			break;
		}
		r = poll(pf, (nfds_t)n, dl ? (int)(dl - now) : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*error_r = "poll failed";
			break;
		}
		if (r == 0) {
			*error_r = "no progress before the deadline";
			break;
		}

		if (i_net >= 0 && pf[i_net].revents) {
			r = 1;
			if (pf[i_net].revents & (POLLOUT | POLLERR | POLLHUP) &&
			    (t->stage_len > 0 ||
			    (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC)))
				r = net_write(t, net_fd, dl) < 0 ? -1 : 1;
			if (r > 0 && (pf[i_net].revents & (POLLIN | POLLERR |
			    POLLHUP)) && (br_ssl_engine_current_state(eng) &
			    BR_SSL_RECVREC))
				r = net_read(t, net_fd, dl);
			if (r <= 0) {
				net_done = 1;
				if (!ended)
					ended = 2;
			}
		}
		if (i_in >= 0 && pf[i_in].revents) {
			if (net_done) {
				got = io_fd_read(from_child, drop_buf,
				    sizeof drop_buf, dl);
			} else {
				buf = br_ssl_engine_sendapp_buf(eng, &len);
				got = 1;
				if (buf != NULL && len > 0) {
					got = io_fd_read(from_child, buf, len, dl);
					if (got > 0) {
						br_ssl_engine_sendapp_ack(eng,
						    (size_t)got);
						br_ssl_engine_flush(eng, 0);
					}
				}
			}
			if (got <= 0) {
				child_eof = 1;
				if (!ended)
					ended = 1;
				if (!net_done)
					br_ssl_engine_close(eng);
			}
		}
		if (i_out >= 0 && to_child >= 0 && pf[i_out].revents) {
			buf = br_ssl_engine_recvapp_buf(eng, &len);
			if (buf != NULL && len > 0) {
				got = io_fd_write(to_child, buf, len, dl);
				if (got > 0)
					br_ssl_engine_recvapp_ack(eng, (size_t)got);
				else {
					/* the handler stopped reading */
					close(to_child);
					to_child = -1;
				}
			}
		}
	}
	if (to_child >= 0)
		close(to_child);
	close(from_child);
	wipe(drop_buf, sizeof drop_buf);
	return rc;
}
