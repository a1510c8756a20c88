/* tls_io.c - the BearSSL engine loop over (rfd, wfd) with deadlines,
 * application-data read/write/close, and the names of versions, suites
 * and error codes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "fdio.h"
#include "tls.h"
#include "util.h"

int
tls_entropy(br_ssl_engine_context *eng)
{
	unsigned char seed[32];
	size_t got = 0;
	ssize_t r;

	while (got < sizeof seed) {
		r = getrandom(seed + got, sizeof seed - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	br_ssl_engine_inject_entropy(eng, seed, sizeof seed);
	explicit_bzero(seed, sizeof seed);
	return 0;
}

/* Writes the staged records. 0, or -1 (t->io_err set). */
static int
stage_flush(struct tls *t, int64_t deadline)
{
	size_t off = 0;
	long r;

	while (off < t->stage_len) {
		r = io_fd_write(t->wfd, t->stage + off, t->stage_len - off,
		    deadline);
		if (r < 0) {
			t->io_err = errno ? errno : EIO;
			return -1;
		}
		off += (size_t)r;
	}
	t->stage_len = 0;
	return 0;
}

/* Reads record bytes for the engine through the read-ahead buffer:
 * >0, 0 at EOF, -1 (errno). */
static long
rec_read(struct tls *t, unsigned char *dst, size_t len, int64_t deadline)
{
	size_t n;
	long r;

	if (t->rbuf_off == t->rbuf_len) {
		if (len >= sizeof t->rbuf)
			return io_fd_read(t->rfd, dst, len, deadline);
		r = io_fd_read(t->rfd, t->rbuf, sizeof t->rbuf, deadline);
		if (r <= 0)
			return r;
		t->rbuf_off = 0;
		t->rbuf_len = (size_t)r;
	}
	n = t->rbuf_len - t->rbuf_off;
	if (n > len)
		n = len;
	memcpy(dst, t->rbuf + t->rbuf_off, n);
	t->rbuf_off += n;
	return (long)n;
}

int
tls_run(struct tls *t, unsigned want, int64_t deadline)
{
	br_ssl_engine_context *eng = t->eng;
	unsigned st;
	unsigned char *buf;
	size_t len;
	long r;

	for (;;) {
		if (t->io_eof || t->io_err)
			return -1;
		st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED) {
			/* an alert or close_notify may be staged */
			(void)stage_flush(t, deadline);
			errno = br_ssl_engine_last_error(eng) ? EPROTO : 0;
			return -1;
		}
		/* records to send always go first: small ones are staged
		 * so that a flight of records leaves in one segment */
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			if (len <= sizeof t->stage - t->stage_len) {
				memcpy(t->stage + t->stage_len, buf, len);
				t->stage_len += len;
				br_ssl_engine_sendrec_ack(eng, len);
				continue;
			}
			if (stage_flush(t, deadline) < 0)
				return -1;
			r = io_fd_write(t->wfd, buf, len, deadline);
			if (r < 0) {
				t->io_err = errno ? errno : EIO;
				return -1;
			}
			br_ssl_engine_sendrec_ack(eng, (size_t)r);
			continue;
		}
		if (st & want)
			return 0;
		if (st & BR_SSL_RECVREC) {
			/* the peer may be waiting for what is staged */
			if (stage_flush(t, deadline) < 0)
				return -1;
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			r = rec_read(t, buf, len, deadline);
			if (r < 0) {
				t->io_err = errno ? errno : EIO;
				return -1;
			}
			if (r == 0) {
				t->io_eof = 1;
				errno = 0;
				return -1;
			}
			br_ssl_engine_recvrec_ack(eng, (size_t)r);
			continue;
		}
		/* nothing to do and not what was wanted: stuck */
		(void)stage_flush(t, deadline);
		t->io_err = EIO;
		errno = EIO;
		return -1;
	}
}

/* What a failed tls_run() means for a reader: 0 clean end, -1 error. */
static long
tls_ended(struct tls *t)
{
	if (t->io_err) {
		errno = t->io_err;
		return -1;
	}
	if (t->io_eof)
		return 0;
	if (br_ssl_engine_last_error(t->eng) == BR_ERR_OK)
		return 0;
	errno = EPROTO;
	return -1;
}

long
tls_read(struct tls *t, void *buf, size_t n, int64_t deadline)
{
	unsigned char *p;
	size_t len;

	if (tls_run(t, BR_SSL_RECVAPP, deadline) < 0)
		return tls_ended(t);
	p = br_ssl_engine_recvapp_buf(t->eng, &len);
	if (len > n)
		len = n;
	memcpy(buf, p, len);
	/* remember where the handed-out plaintext lies (tls_wipe_consumed) */
	if (t->app_lo == NULL || p < t->app_lo)
		t->app_lo = p;
	if (t->app_hi == NULL || p + len > t->app_hi)
		t->app_hi = p + len;
	br_ssl_engine_recvapp_ack(t->eng, len);
	return (long)len;
}

/* Zeroes [lo, hi) except the spans keep[k] = [klo, khi). */
static void
wipe_except(unsigned char *lo, unsigned char *hi, unsigned char *const *klo,
    unsigned char *const *khi, size_t nkeep)
{
	unsigned char *p = lo, *next, *resume;
	size_t k;

	while (p < hi) {
		/* the first kept span that starts at or after p, or covers p */
		next = hi;
		resume = NULL;
		for (k = 0; k < nkeep; k++) {
			if (khi[k] <= p || klo[k] >= hi)
				continue;
			if (klo[k] <= p) {
				next = p;
				resume = khi[k];
				break;
			}
			if (klo[k] < next) {
				next = klo[k];
				resume = khi[k];
			}
		}
		if (next > p)
			explicit_bzero(p, (size_t)(next - p));
		if (resume == NULL)
			break;
		p = resume;
	}
}

void
tls_wipe_consumed(struct tls *t)
{
	br_ssl_engine_context *eng = t->eng;
	unsigned char *klo[2], *khi[2], *p;
	size_t len, n = 0;
	unsigned st;

	if (eng == NULL || t->app_lo == NULL)
		return;
	st = br_ssl_engine_current_state(eng);
	if (st & BR_SSL_RECVAPP) {
		/* plaintext not handed out yet */
		p = br_ssl_engine_recvapp_buf(eng, &len);
		klo[n] = p;
		khi[n++] = p + len;
	}
	if ((st & BR_SSL_RECVREC) && eng->ibuf != NULL) {
		/* a record being received lies from the buffer's start to
		 * where its next bytes go */
		p = br_ssl_engine_recvrec_buf(eng, &len);
		if (p != NULL && p > eng->ibuf) {
			klo[n] = eng->ibuf;
			khi[n++] = p;
		}
	}
	wipe_except(t->app_lo, t->app_hi, klo, khi, n);
	t->app_lo = t->app_hi = NULL;
}

int
tls_write(struct tls *t, const void *buf, size_t n, int64_t deadline)
{
	const unsigned char *src = buf;
	unsigned char *p;
	size_t len;

	while (n > 0) {
		if (tls_run(t, BR_SSL_SENDAPP, deadline) < 0) {
			if (errno == 0)
				errno = EPIPE;
			return -1;
		}
		p = br_ssl_engine_sendapp_buf(t->eng, &len);
		if (len > n)
			len = n;
		memcpy(p, src, len);
		br_ssl_engine_sendapp_ack(t->eng, len);
		src += len;
		n -= len;
	}
	br_ssl_engine_flush(t->eng, 0);
	/* pushes the records out; SENDAPP comes back once they are sent
	 * or staged, and the stage is written last */
	if (tls_run(t, BR_SSL_SENDAPP, deadline) < 0 ||
	    stage_flush(t, deadline) < 0) {
		if (errno == 0)
			errno = EPIPE;
		return -1;
	}
	return 0;
}

size_t
tls_pending(struct tls *t)
{
	size_t len = 0;

	if (t->eng == NULL)
		return 0;
	if (br_ssl_engine_current_state(t->eng) & BR_SSL_RECVAPP)
		(void)br_ssl_engine_recvapp_buf(t->eng, &len);
	return len;
}

void
tls_close(struct tls *t, int64_t deadline)
{
	int64_t d = deadline_min(deadline, clock_ms() + 2000);
	unsigned char *p;
	size_t len;

	if (t->eng == NULL)
		return;
	br_ssl_engine_close(t->eng);
	/* run until closed; application data still arriving is dropped */
	while (tls_run(t, BR_SSL_RECVAPP, d) == 0) {
		p = br_ssl_engine_recvapp_buf(t->eng, &len);
		(void)p;
		br_ssl_engine_recvapp_ack(t->eng, len);
	}
}

int
tls_last_error(struct tls *t)
{
	int err;

	if (t->eng == NULL)
		return 0;
	err = br_ssl_engine_last_error(t->eng);
	if (err == BR_ERR_OK && (t->io_err || t->io_eof))
		err = BR_ERR_IO;
	return err;
}

const char *
tls_version_name(struct tls *t)
{
	if (t->eng == NULL)
		return "none";
	switch (br_ssl_engine_get_version(t->eng)) {
	case BR_TLS12: return "TLSv1.2";
	case BR_TLS11: return "TLSv1.1";
	case BR_TLS10: return "TLSv1.0";
	default: return "unknown";
	}
}

const char *
tls_suite_name(struct tls *t)
{
	if (t->eng == NULL)
		return "none";
	switch (t->eng->session.cipher_suite) {
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-ECDSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-RSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-ECDSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-RSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-ECDSA-CHACHA20-POLY1305";
	case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-RSA-CHACHA20-POLY1305";
	default:
		return "unknown";
	}
}

static const struct {
	int code;
	const char *text;
} tls_errors[] = {
	{ BR_ERR_OK, "no error" },
	{ BR_ERR_BAD_PARAM, "bad parameter" },
	{ BR_ERR_BAD_STATE, "bad engine state" },
	{ BR_ERR_UNSUPPORTED_VERSION, "unsupported protocol version" },
	{ BR_ERR_BAD_VERSION, "unexpected protocol version" },
	{ BR_ERR_BAD_LENGTH, "bad record length" },
	{ BR_ERR_TOO_LARGE, "record too large" },
	{ BR_ERR_BAD_MAC, "bad record MAC" },
	{ BR_ERR_NO_RANDOM, "no entropy" },
	{ BR_ERR_UNKNOWN_TYPE, "unknown record type" },
	{ BR_ERR_UNEXPECTED, "unexpected message" },
	{ BR_ERR_BAD_CCS, "bad ChangeCipherSpec" },
	{ BR_ERR_BAD_ALERT, "bad alert" },
	{ BR_ERR_BAD_HANDSHAKE, "bad handshake message" },
	{ BR_ERR_OVERSIZED_ID, "oversized session ID" },
	{ BR_ERR_BAD_CIPHER_SUITE, "no common cipher suite" },
	{ BR_ERR_BAD_COMPRESSION, "unsupported compression" },
	{ BR_ERR_BAD_FRAGLEN, "bad fragment length" },
	{ BR_ERR_BAD_SECRENEG, "bad secure renegotiation" },
	{ BR_ERR_EXTRA_EXTENSION, "unexpected extension" },
	{ BR_ERR_BAD_SNI, "bad server name indication" },
	{ BR_ERR_BAD_HELLO_DONE, "bad ServerHelloDone" },
	{ BR_ERR_LIMIT_EXCEEDED, "limit exceeded" },
	{ BR_ERR_BAD_FINISHED, "bad Finished message" },
	{ BR_ERR_RESUME_MISMATCH, "session resumption mismatch" },
	{ BR_ERR_INVALID_ALGORITHM, "unsupported algorithm" },
	{ BR_ERR_BAD_SIGNATURE, "bad signature" },
	{ BR_ERR_WRONG_KEY_USAGE, "key usage forbids this" },
	{ BR_ERR_NO_CLIENT_AUTH, "no client certificate" },
	{ BR_ERR_IO, "I/O error, timeout or connection closed" },
	{ BR_ERR_X509_OK, "certificate chain valid" },
	{ BR_ERR_X509_INVALID_VALUE, "certificate: invalid value" },
	{ BR_ERR_X509_TRUNCATED, "certificate: truncated" },
	{ BR_ERR_X509_EMPTY_CHAIN, "certificate: empty chain" },
	{ BR_ERR_X509_INNER_TRUNC, "certificate: inner truncation" },
	{ BR_ERR_X509_BAD_TAG_CLASS, "certificate: bad tag class" },
	{ BR_ERR_X509_BAD_TAG_VALUE, "certificate: bad tag value" },
	{ BR_ERR_X509_INDEFINITE_LENGTH, "certificate: indefinite length" },
	{ BR_ERR_X509_EXTRA_ELEMENT, "certificate: extra element" },
	{ BR_ERR_X509_UNEXPECTED, "certificate: unexpected element" },
	{ BR_ERR_X509_NOT_CONSTRUCTED, "certificate: not constructed" },
	{ BR_ERR_X509_NOT_PRIMITIVE, "certificate: not primitive" },
	{ BR_ERR_X509_PARTIAL_BYTE, "certificate: partial byte" },
	{ BR_ERR_X509_BAD_BOOLEAN, "certificate: bad boolean" },
	{ BR_ERR_X509_OVERFLOW, "certificate: overflow" },
	{ BR_ERR_X509_BAD_DN, "certificate: bad distinguished name" },
	{ BR_ERR_X509_BAD_TIME, "certificate: bad time" },
	{ BR_ERR_X509_UNSUPPORTED, "certificate: unsupported feature" },
	{ BR_ERR_X509_LIMIT_EXCEEDED, "certificate: limit exceeded" },
	{ BR_ERR_X509_WRONG_KEY_TYPE, "certificate: wrong key type" },
	{ BR_ERR_X509_BAD_SIGNATURE, "certificate: bad signature" },
	{ BR_ERR_X509_TIME_UNKNOWN, "certificate: time unknown" },
	{ BR_ERR_X509_EXPIRED, "certificate expired or not yet valid" },
	{ BR_ERR_X509_DN_MISMATCH, "certificate: issuer name mismatch" },
	{ BR_ERR_X509_BAD_SERVER_NAME, "certificate does not match the server name" },
	{ BR_ERR_X509_CRITICAL_EXTENSION, "certificate: unknown critical extension" },
	{ BR_ERR_X509_NOT_CA, "certificate: issuer is not a CA" },
	{ BR_ERR_X509_FORBIDDEN_KEY_USAGE, "certificate: key usage forbids this" },
	{ BR_ERR_X509_WEAK_PUBLIC_KEY, "certificate: weak public key" },
	{ BR_ERR_X509_NOT_TRUSTED, "certificate not trusted" },
};

static const char *
alert_text(int alert)
{
	switch (alert) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 90: return "user_canceled";
	case 100: return "no_renegotiation";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	default: return "alert";
	}
}

const char *
tls_error_text(int err)
{
	static const char *const kinds[] = {
		"received fatal alert: ", "sent fatal alert: " };
	static char buf[80];
	size_t i;

	for (i = 0; i < sizeof tls_errors / sizeof tls_errors[0]; i++)
		if (tls_errors[i].code == err)
			return tls_errors[i].text;
	if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_RECV_FATAL_ALERT + 256) {
		snprintf(buf, sizeof buf, "%s%s", kinds[0],
		    alert_text(err - BR_ERR_RECV_FATAL_ALERT));
		return buf;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT + 256) {
		snprintf(buf, sizeof buf, "%s%s", kinds[1],
		    alert_text(err - BR_ERR_SEND_FATAL_ALERT));
		return buf;
	}
	return "unknown TLS error";
}

const char *
tls_handshake_error(struct tls *t, const char *what)
{
	int err = t->eng ? br_ssl_engine_last_error(t->eng) : 0;

	if (t->io_err == ETIMEDOUT)
		snprintf(t->errbuf, sizeof t->errbuf, "%s: timed out", what);
	else if (t->io_err)
		snprintf(t->errbuf, sizeof t->errbuf, "%s: %s", what,
		    strerror(t->io_err));
	else if (t->io_eof && err == BR_ERR_OK)
		snprintf(t->errbuf, sizeof t->errbuf,
		    "%s: peer closed the connection", what);
	else
		snprintf(t->errbuf, sizeof t->errbuf, "%s: %s (%d)", what,
		    tls_error_text(err), err);
	return t->errbuf;
}
