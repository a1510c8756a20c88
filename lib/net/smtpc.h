/* smtpc.h - a small SMTP client over lib/io and lib/tls, for etrn-client
 * (push + ETRN) and the hold-queue flusher: connect with a deadline,
 * multi-line replies, EHLO capabilities, STARTTLS (client side, with the
 * buffered-bytes rule), implicit TLS, AUTH PLAIN, one mail transaction
 * per message (pipelined when offered), dot-stuffing and CRLF from
 * LF-stored files, QUIT. No allocation: everything lives in struct smtpc
 * (which is large: put it in static storage or the heap, not the stack
 * of a deep call chain). */
#ifndef POSTERN_SMTPC_H
#define POSTERN_SMTPC_H

#include <stddef.h>
#include <stdint.h>
#include "io.h"
#include "tls.h"

#define SMTPC_REPLY_MAX   512     /* last reply text kept (lines joined) */
#define SMTPC_LINE_MAX    1024    /* one reply line read */
#define SMTPC_REPLY_LINES 200     /* more lines in one reply = error */

/* EHLO capabilities (what the server advertised in its last EHLO). */
#define SMTPC_CAP_PIPELINING  0x0001
#define SMTPC_CAP_STARTTLS    0x0002
#define SMTPC_CAP_ETRN        0x0004
#define SMTPC_CAP_AUTH_PLAIN  0x0008
#define SMTPC_CAP_AUTH_LOGIN  0x0010
#define SMTPC_CAP_SIZE        0x0020
#define SMTPC_CAP_8BITMIME    0x0040
#define SMTPC_CAP_ENHANCED    0x0080
#define SMTPC_CAP_SMTPUTF8    0x0100
#define SMTPC_CAP_AUTH        0x0200  /* any AUTH line */
#define SMTPC_CAP_ATRN        0x0400  /* RFC 2645 On-Demand Mail Relay */
#define SMTPC_CAP_DSN         0x0800  /* RFC 3461 */

/* Result codes other than an SMTP reply code (100..599). */
#define SMTPC_ERR   (-1)   /* connection lost, timeout, malformed reply;
                              c->reply says which */

struct smtpc {
	int fd;                       /* the socket, -1 before connect */
	int tls_on;
	int esmtp;                    /* last greeting exchange was EHLO */
	unsigned caps;                /* SMTPC_CAP_* from the last EHLO */
	uint64_t size_max;            /* SIZE n, 0 = none given */
	unsigned timeout;             /* seconds per network wait, and
	                                 for each whole reply */
	int64_t session_deadline;     /* absolute clock_ms() bound of the
	                                 whole session, 0 = none (kept by
	                                 smtpc_connect/attach/close) */
	int code;                     /* last reply code or SMTPC_ERR */
	char reply[SMTPC_REPLY_MAX];  /* last reply, "250 2.0.0 text" */
	char peer[300];               /* "host[addr]:port" for logs */
	struct io io;
	struct tls tls;
};

/* Bounds the whole session (connect, every reply, TLS, the message
 * data, QUIT) to seconds from now (0 = no bound). Set it before
 * smtpc_connect; it stays until changed. Each reply is bounded besides
 * by c->timeout in total, however many continuation lines it has. */
void smtpc_set_session(struct smtpc *c, unsigned seconds);

/* Connects to host (a DNS name or an IP literal; names are resolved with
 * getaddrinfo, every address tried in turn) and port, each attempt bounded
 * by timeout seconds. Sets up c->io. 0, or -1 with *error_r. */
int smtpc_connect(struct smtpc *c, const char *host, unsigned port,
    unsigned timeout, const char **error_r);

/* smtpc_connect with flags: SMTPC_NOT_SELF skips every address of host
 * that smtpc_addr_is_self() calls ours (for a next hop learnt from DNS:
 * delivering to ourselves would loop); when none is left, -1 with an
 * *error_r that says so. */
#define SMTPC_NOT_SELF 0x1
int smtpc_connect_flags(struct smtpc *c, const char *host, unsigned port,
    unsigned timeout, unsigned flags, const char **error_r);

/* 1 when a (AF_INET or AF_INET6) is a loopback or unspecified address
 * (127/8, 0/8, ::1, ::, and their IPv4-mapped forms) or an address of
 * one of this host's interfaces (getifaddrs); 0 otherwise. */
struct sockaddr;
int smtpc_addr_is_self(const struct sockaddr *a);

/* Uses an already connected pair of fds instead (tests, fuzzing). */
void smtpc_attach(struct smtpc *c, int rfd, int wfd, unsigned timeout);

/* Reads one (multi-line) reply. Returns its code or SMTPC_ERR. */
int smtpc_reply(struct smtpc *c);

/* Sends one command line (CRLF added) and reads its reply. The line must
 * not contain CR or LF (SMTPC_ERR otherwise). Returns the code. */
int smtpc_cmd(struct smtpc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* EHLO helo (falling back to HELO when EHLO gets 5xx) and capability
 * parsing into c->caps. Returns the final code. */
int smtpc_ehlo(struct smtpc *c, const char *helo);

/* Parses one EHLO keyword line ("PIPELINING", "AUTH PLAIN LOGIN",
 * "SIZE 1000") into caps/size (exposed for tests and fuzzing). */
void smtpc_parse_cap(const char *line, unsigned *caps, uint64_t *size_max);

/* STARTTLS: sends the command; on 220 drops whatever the server sent
 * after the 220 (logged: a man in the middle may append fake replies),
 * runs the TLS client handshake, forgets the capabilities (the caller
 * sends EHLO again). anchors NULL + server_name NULL = opportunistic
 * encryption without certificate verification (hop-to-hop delivery);
 * otherwise the chain is verified against anchors for server_name.
 * Returns 0 established, 1 the server refused STARTTLS (c->reply), -1
 * failure (*error_r; the connection is unusable). */
int smtpc_starttls(struct smtpc *c, const struct tls_anchors *anchors,
    const char *server_name, const char **error_r);

/* Implicit TLS right after connect (port 465 style). 0 / -1. */
int smtpc_tls_start(struct smtpc *c, const struct tls_anchors *anchors,
    const char *server_name, const char **error_r);

/* AUTH PLAIN with an initial response. Refuses (-1 without sending
 * anything, *error_r) when the connection is not encrypted and
 * allow_plain is 0. Returns the reply code, or -1. The caller wipes
 * the password. */
int smtpc_auth_plain(struct smtpc *c, const char *user, const char *pass,
    int allow_plain, const char **error_r);

/* One mail transaction. rcpt_code[i] / rcpt_reply[i] receive, for each
 * recipient, the code that decides its fate: the MAIL reply when MAIL
 * failed, the RCPT reply when RCPT failed, else the final DATA reply.
 * msgfd is read from its current offset to EOF (LF or CRLF line ends;
 * sent as CRLF, dot-stuffed). Pipelined (MAIL, RCPT..., DATA in one
 * write) when the server offers PIPELINING. Returns 0 when the session
 * is still usable, SMTPC_ERR when the connection broke (recipients not
 * yet decided get code 0). */
struct smtpc_txn {
	const char *sender;           /* "" = <> */
	const char *const *rcpt;
	size_t nrcpt;
	int msgfd;
	uint64_t size;                /* for SIZE=, 0 = unknown */
	int smtputf8;                 /* add SMTPUTF8 if the server offers it */
	const char *body;             /* BODY= value (8BITMIME...) added if
	                               * the server offers 8BITMIME; NULL none */
	/* RFC 3461, sent only when the server offers DSN (NULL: none):
	 * RET= and ENVID= (as on the wire: xtext) on MAIL; per recipient
	 * NOTIFY= and ORCPT= on RCPT ([nrcpt], an entry NULL or ""). */
	const char *ret, *envid;
	const char *const *notify;
	const char *const *orcpt;
	int *rcpt_code;               /* [nrcpt] out */
	char (*rcpt_reply)[200];      /* [nrcpt] out, may be NULL */
};
int smtpc_send(struct smtpc *c, const struct smtpc_txn *t);

/* QUIT (reply awaited briefly), TLS close, close the socket. Safe to
 * call on a broken or closed connection. */
void smtpc_quit(struct smtpc *c);

/* Closes without QUIT. */
void smtpc_close(struct smtpc *c);

#endif
