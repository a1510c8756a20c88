/* pop3_auth.c - the AUTHORIZATION commands: USER/PASS (RFC 1939), APOP
 * (RFC 1939, only for users with an apop= secret), AUTH PLAIN and AUTH
 * EXTERNAL (RFC 5034, 4616, 4422) with initial response or continuation.
 * Every way in ends in the same place: the per-address throttle, the
 * growing per-connection delay and try limit, the RFC 3206 codes, and on
 * success the maildir session (pop3_mbox.c). Credentials are checked only
 * through lib/auth.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cdbfile.h"
#include "log.h"
#include "pop3.h"
#include "sasl.h"
#include "throttle.h"
#include "tls.h"
#include "util.h"

int pop3_plaintext_ok(const struct pop3 *s)
{
	return s->tls != NULL || s->peer.is_loopback || s->peer.is_pipe ||
	    s->opt->allow_plaintext;
}

/* EXTERNAL is offered only when the client certificate, judged right
 * after the handshake by the shared rule (lib/certauth.h, pop3_tls.c),
 * names a user allowed on POP3. */
int pop3_external_ok(struct pop3 *s)
{
	return s->tls != NULL && s->client_ca != NULL && s->ext_state > 0;
}

/* APOP is possible when at least one user has an apop= option
 * (auth_apop_any: the mapped database is searched for the text; a false
 * positive only adds the timestamp to the greeting). */
int pop3_apop_possible(const char *users_cdb)
{
	return auth_apop_any(users_cdb) == 1;
}

/* RFC 1939 timestamp: <pid.seconds.microseconds@hostname>. */
void pop3_make_timestamp(struct pop3 *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(s->timestamp, sizeof s->timestamp, "<%ld.%lld.%06ld@%s>",
	    (long)getpid(), (long long)ts.tv_sec, ts.tv_nsec / 1000,
	    s->hostname);
}

static void sleep_s(unsigned sec)
{
	struct timespec ts = { (time_t)sec, 0 };

	while (sec && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A failed attempt of any kind: logged, delayed (fail_delay seconds
 * times the number of failures so far), counted; the third one closes. */
static enum pop3_ev login_failed(struct pop3 *s, const char *user,
    const char *mech, enum reply_id id, const char *why, int record)
{
	s->auth_failures++;
	log_msg(LOG_NOTICE, "login failed: user=%s mech=%s peer=%s: %s "
	    "(failure %u of %u)", user[0] ? user : "-", mech, s->peer.addr,
	    why, s->auth_failures, POP3_AUTH_TRIES);
	if (record)
		throttle_failed(s->opt->throttle, s->peer.addr);
	sleep_s(s->opt->fail_delay * s->auth_failures);
	s->have_user = 0;
	if (s->auth_failures >= POP3_AUTH_TRIES) {
		s->leave = 1;
		s->result = "auth-failed";
		if (id == R_AUTH_FAILED)
			id = R_AUTH_FAILED_LAST;
	}
	return pop3_err(s, id);
}

/* The common end of every login: the auth result -> reply, throttle,
 * and on success the mailbox. pending: throttle_attempt() recorded this
 * attempt as a pending failure; it stays one only for a rejection. */
static enum pop3_ev login_result(struct pop3 *s, enum auth_result r,
    const char *user, const char *mech, struct userdb_entry *e, int pending)
{
	enum pop3_ev ev;

	if (pending && r != AUTH_REJECTED)
		throttle_withdraw(s->opt->throttle, s->peer.addr);
	switch (r) {
	case AUTH_OK:
		break;
	case AUTH_LOCKED:
		return login_failed(s, user, mech, R_AUTH_LOCKED,
		    "account locked", 0);
	case AUTH_BARRED:
		return login_failed(s, user, mech, R_AUTH_BARRED,
		    "account barred from POP3 (nopop3)", 0);
	case AUTH_TEMPFAIL:
		return login_failed(s, user, mech, R_AUTH_TEMP,
		    "temporary failure (database or crypt)", 0);
	case AUTH_REJECTED:
	default:
		return login_failed(s, user, mech, R_AUTH_FAILED,
		    "wrong user or secret", !pending);
	}
	/* A success does not clear the address's earlier failures (they
	 * age out): else one valid account would buy fresh guesses at
	 * another. */
	copy_str(s->login, sizeof s->login, user);
	s->mech = mech;
	s->have_user = 0;
	ev = mbox_open(s, e->maildir);
	if (ev == EV_OK)
		log_msg(LOG_INFO, "login: user=%s mech=%s peer=%s", user, mech,
		    s->peer.addr);
	else {
		s->login[0] = '\0';
		s->mech = NULL;
	}
	return ev;
}

/* Refuses without verifying while the address is throttled; else the
 * attempt is recorded as a pending failure (*pending_r) in the same
 * step, so that parallel sessions cannot all slip in. */
static int throttled(struct pop3 *s, int *pending_r)
{
	unsigned d = throttle_attempt(s->opt->throttle, s->peer.addr,
	    pending_r);

	if (d)
		log_msg(LOG_NOTICE, "peer %s throttled for %u s", s->peer.addr,
		    d);
	return d != 0;
}

static enum pop3_ev login_password(struct pop3 *s, const char *user,
    const char *pw, const char *mech)
{
	/* scratch: large, so static; filled by the look-up, wiped after */
	static struct userdb_entry e;
	enum auth_result r;
	enum pop3_ev ev;
	int pending;

	if (throttled(s, &pending))
		return login_failed(s, user, mech, R_AUTH_THROTTLED,
		    "address throttled", 0);
	r = auth_password(s->opt->users, AUTH_POP3, user, pw, &e);
	ev = login_result(s, r, user, mech, &e, pending);
	wipe(&e, sizeof e);
	return ev;
}

/* A user name: an address as stored in the database (bounded, no
 * blanks or control characters), lowercased. */
static int set_name(char *dst, size_t size, const char *src)
{
	const unsigned char *p;

	for (p = (const unsigned char *)src; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return -1;
	if (!src[0] || copy_str(dst, size, src) < 0)
		return -1;
	ascii_lower(dst);
	return 0;
}

enum pop3_ev cmd_user(struct pop3 *s, char *args)
{
	if (!pop3_plaintext_ok(s))
		return pop3_err(s, R_PLAINTEXT);
	if (!args || set_name(s->user, sizeof s->user, args) < 0) {
		s->have_user = 0;
		return pop3_err(s, R_USER_BAD);
	}
	s->have_user = 1;
	return pop3_ok(s, R_USER_OK);
}

enum pop3_ev cmd_pass(struct pop3 *s, char *args)
{
	if (!pop3_plaintext_ok(s))
		return pop3_err(s, R_PLAINTEXT);
	if (!s->have_user)
		return pop3_err(s, R_NEED_USER);
	if (!args || !args[0]) {
		s->have_user = 0;
		return pop3_err(s, R_SYNTAX);
	}
	/* The password is the rest of the line: it may contain blanks. */
	return login_password(s, s->user, args, "USER");
}

enum pop3_ev cmd_apop(struct pop3 *s, char *args)
{
	/* scratch: large, so static; filled by the look-up, wiped after */
	static struct userdb_entry e;
	char user[USERDB_KEY_MAX], digest[33];
	char *v[2];
	enum auth_result r;
	enum pop3_ev ev;
	size_t i;
	int pending;

	if (!s->apop)
		return pop3_err(s, R_APOP_NONE);
	if (pop3_args(args, v, 2) != 2 || strlen(v[1]) != 32 ||
	    set_name(user, sizeof user, v[0]) < 0)
		return pop3_err(s, R_SYNTAX);
	for (i = 0; i < 32; i++) {
		char ch = v[1][i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return pop3_err(s, R_SYNTAX);
		digest[i] = ch;
	}
	digest[32] = '\0';
	s->have_user = 0;
	if (throttled(s, &pending))
		return login_failed(s, user, "APOP", R_AUTH_THROTTLED,
		    "address throttled", 0);
	r = auth_apop(s->opt->users, user, s->timestamp, digest, &e);
	ev = login_result(s, r, user, "APOP", &e, pending);
	wipe(&e, sizeof e);
	return ev;
}

/* The SASL response: the initial response, or one continuation line
 * read after "+ ". Returns 1 with *resp_r set, 0 when the client
 * cancelled ("*"; reply set), -1 when the connection ended. */
static int sasl_response(struct pop3 *s, char *initial, char *buf,
    size_t size, const char **resp_r)
{
	int n, flags;

	if (initial) {
		*resp_r = initial;
		return 1;
	}
	io_write(&s->io, "+ \r\n", 4);
	n = io_getline(&s->io, buf, size, &flags);
	io_wipe_consumed(&s->io);
	if (n == IO_EOF || n == IO_TIMEOUT || n == IO_ERROR) {
		s->result = n == IO_TIMEOUT ? "timeout" : "eof";
		return -1;
	}
	if (n == IO_TOOLONG || (flags & IO_LINE_NUL)) {
		s->rid = R_AUTH_BADB64;
		return 0;
	}
	if (strcmp(buf, "*") == 0) {
		s->rid = R_AUTH_CANCEL;
		return 0;
	}
	*resp_r = buf;
	return 1;
}

static void auth_list(struct pop3 *s)
{
	reply_status(s, 1, R_AUTH_LIST, NULL);
	if (pop3_plaintext_ok(s))
		io_write(&s->io, "PLAIN\r\n", 7);
	if (pop3_external_ok(s))
		io_write(&s->io, "EXTERNAL\r\n", 10);
	io_write(&s->io, ".\r\n", 3);
}

static enum pop3_ev auth_plain(struct pop3 *s, char *initial)
{
	/* scratch: large, so static; written before read */
	static char buf[POP3_SASL_LINE];
	static struct sasl_plain p;
	char user[USERDB_KEY_MAX];
	const char *resp, *error;
	enum pop3_ev ev;
	int r;

	if (!pop3_plaintext_ok(s))
		return pop3_err(s, R_PLAINTEXT);
	r = sasl_response(s, initial, buf, sizeof buf, &resp);
	if (r <= 0)
		return r < 0 ? EV_DROP : EV_ERR;
	r = sasl_plain_decode(resp, strlen(resp), &p, &error);
	wipe(buf, sizeof buf);
	if (r < 0) {
		log_msg(LOG_INFO, "AUTH PLAIN: bad response: %s", error);
		ev = pop3_err(s, R_AUTH_BADB64);
	} else if (set_name(user, sizeof user, p.authcid) < 0) {
		ev = login_failed(s, "", "PLAIN", R_AUTH_FAILED,
		    "invalid user name", 1);
	} else if (p.authzid[0] && strcasecmp(p.authzid, p.authcid) != 0) {
		ev = login_failed(s, user, "PLAIN", R_AUTH_AUTHZID,
		    "authorization identity differs", 0);
	} else {
		ev = login_password(s, user, p.passwd, "PLAIN");
	}
	wipe(&p, sizeof p);
	return ev;
}

static enum pop3_ev auth_external(struct pop3 *s, char *initial)
{
	/* scratch: large, so static; written before read */
	static char buf[POP3_SASL_LINE];
	static struct userdb_entry e;
	char authz[USERDB_KEY_MAX];
	const char *resp;
	enum auth_result ar;
	enum pop3_ev ev;
	int r;

	if (!pop3_external_ok(s))
		return pop3_err(s, R_AUTH_MECH);
	r = sasl_response(s, initial, buf, sizeof buf, &resp);
	if (r <= 0)
		return r < 0 ? EV_DROP : EV_ERR;
	if (sasl_external_decode(resp, strlen(resp), authz, sizeof authz) < 0)
		return pop3_err(s, R_AUTH_BADB64);
	if (authz[0] && strcasecmp(authz, s->ext_user) != 0)
		return login_failed(s, s->ext_user, "EXTERNAL", R_AUTH_AUTHZID,
		    "authorization identity differs", 0);
	ar = auth_identity(s->opt->users, AUTH_POP3, s->ext_user, &e);
	ev = login_result(s, ar, s->ext_user, "EXTERNAL", &e, 0);
	wipe(&e, sizeof e);
	return ev;
}

enum pop3_ev cmd_auth(struct pop3 *s, char *args)
{
	char *v[2];
	int n;

	if (!args) {
		auth_list(s);
		return EV_QUIET;
	}
	n = pop3_args(args, v, 2);
	if (n < 1)
		return pop3_err(s, R_SYNTAX);
	s->have_user = 0;
	if (strcasecmp(v[0], "PLAIN") == 0)
		return auth_plain(s, n == 2 ? v[1] : NULL);
	if (strcasecmp(v[0], "EXTERNAL") == 0)
		return auth_external(s, n == 2 ? v[1] : NULL);
	return pop3_err(s, R_AUTH_MECH);
}
