/* userdb.c - the user database record format (SPEC "The user database",
 * postern-users(5)) and lookups in its CDB. One parser serves
 * mailbox-admin (text source) and the handlers (CDB values), so both
 * accept exactly the same records. */
#include "userdb.h"
#include "cdbfile.h"
#include "addr.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <cdb.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ERRBUF_SIZE 160

static char errbuf[ERRBUF_SIZE];

struct tok {
	const char *p;
	size_t n;
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Next field of v[*pos..len) separated by blanks (and commas when
 * commas != 0). 1 = a field in *t, 0 = none left. */
static int
next_tok(const char *v, size_t len, size_t *pos, int commas, struct tok *t)
{
	size_t i = *pos, start;

	while (i < len && (is_blank(v[i]) || (commas && v[i] == ',')))
		i++;
	if (i >= len) {
		*pos = i;
		return 0;
	}
	start = i;
	while (i < len && !is_blank(v[i]) && !(commas && v[i] == ','))
		i++;
	t->p = v + start;
	t->n = i - start;
	*pos = i;
	return 1;
}

static int
tok_is(const struct tok *t, const char *word)
{
	size_t n = strlen(word);

	return t->n == n && memcmp(t->p, word, n) == 0;
}

/* "name=" prefix: 1 and the value in *val. */
static int
tok_param(const struct tok *t, const char *name, struct tok *val)
{
	size_t n = strlen(name);

	if (t->n <= n + 1 || memcmp(t->p, name, n) != 0 || t->p[n] != '=')
		return 0;
	val->p = t->p + n + 1;
	val->n = t->n - n - 1;
	return 1;
}

static int
fail(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

/* msg with the offending field quoted (control characters were already
 * refused, so the text is printable). */
static int
fail_tok(const char **error_r, const char *msg, const struct tok *t)
{
	int n = t->n > 60 ? 60 : (int)t->n;

	snprintf(errbuf, sizeof errbuf, "%s '%.*s%s'", msg, n, t->p,
	    t->n > 60 ? "..." : "");
	*error_r = errbuf;
	return -1;
}

static int
tok_copy(char *dst, size_t size, const struct tok *t)
{
	if (t->n >= size)
		return -1;
	memcpy(dst, t->p, t->n);
	dst[t->n] = '\0';
	return 0;
}

static int
valid_key(const char *key, const char **error_r)
{
	const char *at;
	size_t len = strlen(key), i;

	if (len == 0)
		return fail(error_r, "empty key");
	if (len >= USERDB_KEY_MAX)
		return fail(error_r, "key too long");
	for (i = 0; i < len; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			return fail(error_r, "key must be lowercase");
	at = strchr(key, '@');
	if (at == NULL) {
		if (!addr_domain_valid(key, len))
			return fail(error_r, "key is not a valid domain name");
		return 0;
	}
	if (strchr(at + 1, '@') != NULL)
		return fail(error_r, "key has more than one '@'");
	if (!addr_local_valid(key, (size_t)(at - key)))
		return fail(error_r, "invalid mailbox name in key "
		    "(letters, digits, - . _ + only; no leading, trailing or "
		    "doubled '.'; at most 64 octets)");
	if (!addr_domain_valid(at + 1, strlen(at + 1)))
		return fail(error_r, "invalid domain in key");
	return 0;
}

static int
parse_hash(const struct tok *t, struct userdb_entry *e, const char **error_r)
{
	size_t i;
	int cs;

	if (tok_copy(e->hash, sizeof e->hash, t) < 0)
		return fail(error_r, "password hash too long");
	if (t->p[0] == '!' || t->p[0] == '*') {
		e->flags |= USERDB_DISABLED;
		return 0;
	}
	if (t->p[0] != '$')
		return fail_tok(error_r, "not a crypt(3) hash ($y$, $6$, $5$, "
		    "$2b$; ! or * to disable):", t);
	for (i = 0; i < t->n; i++) {
		char c = t->p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '/' ||
		    c == '$' || c == '='))
			return fail(error_r, "invalid character in password hash");
	}
	cs = crypt_checksalt(e->hash);
	if (cs == CRYPT_SALT_INVALID || cs == CRYPT_SALT_METHOD_DISABLED)
		return fail(error_r, "password hash of an unknown or disabled "
		    "scheme");
	return 0;
}

static int
parse_maildir(const struct tok *t, struct userdb_entry *e,
    const char **error_r)
{
	size_t i;

	if (t->p[0] != '/')
		return fail_tok(error_r, "maildir must be an absolute path:", t);
	if (tok_copy(e->maildir, sizeof e->maildir, t) < 0)
		return fail(error_r, "maildir path too long");
	/* no ".." component anywhere: "/.." followed by '/' or the end */
	for (i = 0; i + 3 <= t->n; i++)
		if (memcmp(t->p + i, "/..", 3) == 0 &&
		    (i + 3 == t->n || t->p[i + 3] == '/'))
			return fail(error_r, "maildir path contains '..'");
	return 0;
}

static int
parse_user_option(const struct tok *t, struct userdb_entry *e,
    const char **error_r)
{
	struct tok v;
	char num[32];

	if (tok_is(t, "locked")) {
		e->flags |= USERDB_LOCKED;
	} else if (tok_is(t, "nopop3")) {
		e->flags |= USERDB_NOPOP3;
	} else if (tok_is(t, "nosmtp")) {
		e->flags |= USERDB_NOSMTP;
	} else if (tok_param(t, "quota", &v)) {
		if (tok_copy(num, sizeof num, &v) < 0 ||
		    parse_size(num, &e->quota) < 0)
			return fail_tok(error_r, "invalid quota (a number with "
			    "optional K, M or G):", &v);
	} else if (tok_param(t, "apop", &v)) {
		if (tok_copy(e->apop, sizeof e->apop, &v) < 0)
			return fail(error_r, "apop secret too long (at most 127 "
			    "octets)");
	} else if (t->n > 0 && t->p[t->n - 1] == '=') {
		return fail_tok(error_r, "empty value for option", t);
	} else {
		return fail_tok(error_r, "unknown option", t);
	}
	return 0;
}

static int
parse_user(const char *v, size_t len, size_t pos, const struct tok *first,
    struct userdb_entry *e, const char **error_r)
{
	struct tok t;

	e->kind = USERDB_USER;
	if (parse_hash(first, e, error_r) < 0)
		return -1;
	if (!next_tok(v, len, &pos, 0, &t))
		return fail(error_r, "missing maildir after the password hash");
	if (parse_maildir(&t, e, error_r) < 0)
		return -1;
	/* options: comma- or blank-separated; an empty one is an error */
	while (pos < len) {
		size_t i = pos;
		while (i < len && is_blank(v[i]))
			i++;
		if (i >= len)
			break;
		if (v[i] == ',')
			return fail(error_r, "empty option (doubled or stray ',')");
		pos = i;
		while (i < len && !is_blank(v[i]) && v[i] != ',')
			i++;
		t.p = v + pos;
		t.n = i - pos;
		if (parse_user_option(&t, e, error_r) < 0)
			return -1;
		pos = i;
		if (pos < len && v[pos] == ',') {
			pos++;
			if (pos >= len || is_blank(v[pos]) || v[pos] == ',')
				return fail(error_r, "empty option (doubled or "
				    "stray ',')");
		}
	}
	return 0;
}

static int
parse_alias(const char *v, size_t len, size_t pos, struct userdb_entry *e,
    const char **error_r)
{
	struct tok t;
	char one[ADDR_MAX + 2], norm[ADDR_MAX + 1];
	size_t used = 0, n;
	const char *err;

	e->kind = USERDB_ALIAS;
	while (next_tok(v, len, &pos, 1, &t)) {
		if (tok_copy(one, sizeof one, &t) < 0 || t.n > ADDR_MAX)
			return fail_tok(error_r, "alias target too long:", &t);
		if (addr_normalise(one, norm, &err) < 0) {
			snprintf(errbuf, sizeof errbuf, "alias target '%.*s': %s",
			    t.n > 60 ? 60 : (int)t.n, t.p, err);
			*error_r = errbuf;
			return -1;
		}
		n = strlen(norm);
		if (used + (used > 0) + n + 1 > sizeof e->targets)
			return fail(error_r, "too many alias targets");
		if (used > 0)
			e->targets[used++] = ',';
		memcpy(e->targets + used, norm, n + 1);
		used += n;
	}
	if (used == 0)
		return fail(error_r, "alias without targets");
	return 0;
}

/* IPv4/IPv6 address with an optional /prefix. */
static int
valid_cidr(const struct tok *t)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];
	char *slash;
	uint64_t bits;
	int v6;

	if (tok_copy(buf, sizeof buf, t) < 0)
		return 0;
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	v6 = strchr(buf, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, bin) != 1)
		return 0;
	if (slash != NULL &&
	    parse_uint(slash + 1, strlen(slash + 1), v6 ? 128 : 32, &bits) < 0)
		return 0;
	return 1;
}

static int
parse_host(const struct tok *t, struct userdb_entry *e, const char **error_r)
{
	struct tok h = *t, port = { NULL, 0 };
	unsigned char bin[16];
	uint64_t p;
	size_t i;
	int numeric = 1;

	if (t->n > 0 && t->p[0] == '[') {
		const char *end = memchr(t->p, ']', t->n);
		if (end == NULL)
			return fail_tok(error_r, "invalid host:", t);
		h.p = t->p + 1;
		h.n = (size_t)(end - h.p);
		if ((size_t)(end - t->p) + 1 < t->n) {
			if (end[1] != ':')
				return fail_tok(error_r, "invalid host:", t);
			port.p = end + 2;
			port.n = t->n - (size_t)(port.p - t->p);
		}
		if (tok_copy(e->host, sizeof e->host, &h) < 0 ||
		    inet_pton(AF_INET6, e->host, bin) != 1)
			return fail_tok(error_r, "invalid IPv6 host:", t);
	} else {
		const char *colon = memchr(t->p, ':', t->n);
		if (colon != NULL) {
			h.n = (size_t)(colon - t->p);
			port.p = colon + 1;
			port.n = t->n - h.n - 1;
		}
		if (!addr_domain_valid(h.p, h.n) ||
		    tok_copy(e->host, sizeof e->host, &h) < 0)
			return fail_tok(error_r, "invalid host:", t);
		for (i = 0; i < h.n; i++)
			if (h.p[i] != '.' && (h.p[i] < '0' || h.p[i] > '9'))
				numeric = 0;
		if (numeric && inet_pton(AF_INET, e->host, bin) != 1)
			return fail_tok(error_r, "invalid IPv4 host:", t);
	}
	if (port.p != NULL) {
		if (parse_uint(port.p, port.n, 65535, &p) < 0 || p == 0)
			return fail_tok(error_r, "invalid port in host:", t);
		e->port = (unsigned)p;
	}
	return 0;
}

/* tls=may|require|verify and tls-ca=PATH; anything else is unknown. */
static int
parse_hold_tls(const struct tok *t, struct userdb_entry *e,
    const char **error_r)
{
	struct tok val;

	if (tok_param(t, "tls", &val)) {
		if (tok_is(&val, "may"))
			e->tls = USERDB_TLS_MAY;
		else if (tok_is(&val, "require"))
			e->tls = USERDB_TLS_REQUIRE;
		else if (tok_is(&val, "verify"))
			e->tls = USERDB_TLS_VERIFY;
		else
			return fail_tok(error_r, "tls= must be may, require or "
			    "verify:", t);
		return 0;
	}
	if (tok_param(t, "tls-ca", &val)) {
		if (e->tls_ca[0] != '\0')
			return fail(error_r, "tls-ca= given twice");
		if (val.p[0] != '/' || tok_copy(e->tls_ca, sizeof e->tls_ca,
		    &val) < 0)
			return fail_tok(error_r, "tls-ca= needs an absolute "
			    "path:", t);
		return 0;
	}
	return fail_tok(error_r, "unknown hold option", t);
}

/* lifetime=DURATION, max-held=SIZE: 1 parsed (or -1 with *error_r set
 * on a bad value), 0 not one of them (*error_r NULL). */
static int
parse_hold_limit(const struct tok *t, struct userdb_entry *e,
    const char **error_r)
{
	struct tok val;
	char num[32];

	*error_r = NULL;
	if (tok_param(t, "lifetime", &val)) {
		if (tok_copy(num, sizeof num, &val) < 0 ||
		    parse_duration(num, &e->lifetime) < 0)
			return fail_tok(error_r, "invalid lifetime (a number with "
			    "s, m, h, d or w):", &val);
		return 1;
	}
	if (tok_param(t, "max-held", &val)) {
		if (tok_copy(num, sizeof num, &val) < 0 ||
		    parse_size(num, &e->max_held) < 0)
			return fail_tok(error_r, "invalid max-held (a number with "
			    "optional K, M or G):", &val);
		return 1;
	}
	return 0;
}

/* odmr=USER[,USER...]: the users (database keys, user@domain) that may
 * collect the node with ATRN; repeated options add up. 0 / -1. */
static int
parse_odmr(const struct tok *t, const struct tok *val,
    struct userdb_entry *e, const char **error_r)
{
	size_t used = strlen(e->odmr), i, start = 0;

	for (i = 0; i <= val->n; i++) {
		if (i < val->n && val->p[i] != ',') {
			unsigned char ch = (unsigned char)val->p[i];
			if (ch <= ' ' || ch >= 127 || (ch >= 'A' && ch <= 'Z'))
				return fail_tok(error_r, "invalid odmr user in", t);
			continue;
		}
		if (i == start || !memchr(val->p + start, '@', i - start))
			return fail_tok(error_r, "odmr= wants user@domain "
			    "names, comma-separated:", t);
		start = i + 1;
	}
	if (used + (used > 0) + val->n + 1 > sizeof e->odmr)
		return fail(error_r, "odmr list too long");
	if (used > 0)
		e->odmr[used++] = ',';
	memcpy(e->odmr + used, val->p, val->n);
	e->odmr[used + val->n] = '\0';
	return 0;
}

static int
parse_hold(const char *v, size_t len, size_t pos, struct userdb_entry *e,
    const char **error_r)
{
	struct tok t, val, c;
	size_t used = 0, cpos;

	e->kind = USERDB_HOLD;
	e->lifetime = USERDB_HOLD_LIFETIME;
	e->max_held = USERDB_HOLD_MAX_HELD;
	while (next_tok(v, len, &pos, 0, &t)) {
		if (parse_hold_limit(&t, e, error_r) != 0) {
			if (*error_r)
				return -1;
		} else if (tok_param(&t, "host", &val)) {
			if (e->host[0] != '\0')
				return fail(error_r, "host= given twice");
			if (parse_host(&val, e, error_r) < 0)
				return -1;
		} else if (tok_param(&t, "etrn-from", &val)) {
			if (val.p[0] == ',' || val.p[val.n - 1] == ',')
				return fail_tok(error_r, "empty CIDR in", &t);
			for (cpos = 0; cpos < val.n; cpos++)
				if (val.p[cpos] == ',' && val.p[cpos + 1] == ',')
					return fail_tok(error_r, "empty CIDR in",
					    &t);
			cpos = 0;
			while (next_tok(val.p, val.n, &cpos, 1, &c))
				if (!valid_cidr(&c))
					return fail_tok(error_r, "invalid CIDR",
					    &c);
			if (used + (used > 0) + val.n + 1 > sizeof e->etrn_from)
				return fail(error_r, "etrn-from list too long");
			if (used > 0)
				e->etrn_from[used++] = ',';
			memcpy(e->etrn_from + used, val.p, val.n);
			used += val.n;
			e->etrn_from[used] = '\0';
		} else if (tok_param(&t, "odmr", &val)) {
			if (parse_odmr(&t, &val, e, error_r) < 0)
				return -1;
		} else if (parse_hold_tls(&t, e, error_r) < 0) {
			return -1;
		}
	}
	if (e->tls_ca[0] != '\0' && e->tls != USERDB_TLS_VERIFY)
		return fail(error_r, "tls-ca= goes with tls=verify");
	return 0;
}

int
userdb_parse(const char *key, const char *value, size_t value_len,
    struct userdb_entry *e, const char **error_r)
{
	struct tok first, t;
	size_t pos = 0, i;
	int is_domain;

	memset(e, 0, sizeof *e);
	if (valid_key(key, error_r) < 0)
		return -1;
	memcpy(e->key, key, strlen(key) + 1);
	is_domain = strchr(key, '@') == NULL;
	for (i = 0; i < value_len; i++) {
		unsigned char c = (unsigned char)value[i];
		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return fail(error_r, "control or non-ASCII character in "
			    "value");
	}
	if (!next_tok(value, value_len, &pos, 0, &first))
		return fail(error_r, "empty value (expected domain, hold, "
		    "alias or a password hash)");
	if (is_domain) {
		if (tok_is(&first, "domain")) {
			e->kind = USERDB_DOMAIN;
			if (next_tok(value, value_len, &pos, 0, &t))
				return fail_tok(error_r, "unexpected text after "
				    "'domain':", &t);
			return 0;
		}
		if (tok_is(&first, "hold"))
			return parse_hold(value, value_len, pos, e, error_r);
		return fail_tok(error_r, "a domain must be 'domain' or 'hold', "
		    "not", &first);
	}
	if (tok_is(&first, "alias"))
		return parse_alias(value, value_len, pos, e, error_r);
	if (tok_is(&first, "domain") || tok_is(&first, "hold"))
		return fail_tok(error_r, "an address cannot be of kind", &first);
	return parse_user(value, value_len, pos, &first, e, error_r);
}

/* One look-up inside the guarded mapping: copies the value out. */
struct userdb_find {
	const char *key;
	size_t klen;
	char *value;
	size_t size;
	unsigned vlen;
};

/* 1 found (copied), 0 absent, -1 corrupt (EPROTO), -2 too long */
static int userdb_find(struct cdb *c, void *arg)
{
	struct userdb_find *f = arg;
	int r = cdb_find(c, f->key, (unsigned)f->klen);

	if (r <= 0) {
		errno = EPROTO;
		return r < 0 ? -1 : 0;
	}
	f->vlen = cdb_datalen(c);
	if (f->vlen >= f->size)
		return -2;
	if (cdb_read(c, f->value, f->vlen, cdb_datapos(c)) != 0) {
		errno = EPROTO;
		return -1;
	}
	return 1;
}

/* The first enabled user's hash among the first USERDB_SAMPLE_RECORDS
 * records (userdb_walk, which wipes its copies). */
struct userdb_sample {
	char *hash;
	size_t size;
	unsigned n;
};

static int
userdb_sample(const struct userdb_entry *e, void *arg)
{
	struct userdb_sample *u = arg;
	size_t len;

	if (u->n++ >= USERDB_SAMPLE_RECORDS)
		return 2;                       /* none early enough */
	if (e->kind != USERDB_USER || (e->flags & USERDB_DISABLED) ||
	    (len = strlen(e->hash)) >= u->size)
		return 0;
	memcpy(u->hash, e->hash, len + 1);
	return 1;
}

int
userdb_sample_hash(const char *path, char *hash, size_t size)
{
	struct userdb_sample u = { hash, size, 0 };
	int r;

	if (size == 0)
		return 0;
	hash[0] = '\0';
	r = userdb_walk(path, userdb_sample, &u);
	return r == 2 ? 0 : r;
}

int
userdb_lookup(const char *path, const char *key, struct userdb_entry *e)
{
	char value[USERDB_VALUE_MAX];
	struct userdb_find f;
	const char *err;
	size_t klen = strlen(key);
	unsigned vlen;
	int r, saved;

	if (klen == 0 || klen >= USERDB_KEY_MAX)
		return 0;
	f.key = key;
	f.klen = klen;
	f.value = value;
	f.size = sizeof value;
	f.vlen = 0;
	r = cdbfile_run(path, userdb_find, &f);
	if (r == 0)
		return 0;
	if (r < 0) {
		saved = errno;
		if (r == -2)
			log_msg(LOG_ERR, "user database %s: record for %s is "
			    "too long", path, key);
		else
			log_msg(LOG_ERR, "user database %s: %s", path,
			    saved == EPROTO ? "not a CDB file or corrupt" :
			    saved == ESTALE ? "changed while read" :
			    saved == EIO ? "I/O error (or truncated while "
			    "read)" :
			    strerror(saved));
		wipe(value, sizeof value);
		errno = r == -2 ? EPROTO : saved;
		return -1;
	}
	vlen = f.vlen;
	value[vlen] = '\0';
	r = userdb_parse(key, value, vlen, e, &err);
	wipe(value, vlen);
	if (r < 0) {
		log_msg(LOG_ERR, "user database %s: bad record for %s: %s", path,
		    key, err);
		errno = EPROTO;
		return -1;
	}
	return 1;
}

int
userdb_resolve(const char *path, const char *address,
    struct userdb_entry *e, int *domain_kind_r)
{
	char key[USERDB_KEY_MAX];
	const char *at;
	size_t llen, dlen, i;
	int r;

	*domain_kind_r = 0;
	at = address != NULL ? strrchr(address, '@') : NULL;
	if (at == NULL) {
		errno = EINVAL;
		return 0;
	}
	llen = (size_t)(at - address);
	dlen = strlen(at + 1);
	if (!addr_domain_valid(at + 1, dlen) || llen + 1 + dlen >= sizeof key) {
		errno = EINVAL;
		return 0;
	}
	memcpy(key, address, llen + 1 + dlen + 1);
	ascii_lower(key);
	r = userdb_lookup(path, key + llen + 1, e);
	if (r <= 0)
		return r;
	if (e->kind == USERDB_HOLD) {
		/* any local part, as long as it is sane text; else "ours, but
		 * no such recipient" */
		*domain_kind_r = USERDB_DOMAIN;
		errno = EINVAL;
		if (llen == 0 || llen > ADDR_LOCAL_MAX)
			return 0;
		for (i = 0; i < llen; i++)
			if (key[i] <= ' ' || key[i] >= 0x7f || key[i] == '@')
				return 0;
		*domain_kind_r = USERDB_HOLD;
		return 1;
	}
	if (e->kind != USERDB_DOMAIN) {
		errno = EPROTO;
		return -1;
	}
	*domain_kind_r = USERDB_DOMAIN;
	if (!addr_local_valid(key, llen)) {
		errno = EINVAL;
		return 0;
	}
	return userdb_lookup(path, key, e);
}

int
userdb_alias_next(const char *targets, size_t *pos, char *out, size_t size)
{
	size_t i = *pos, start, n;

	while (targets[i] == ',')
		i++;
	if (targets[i] == '\0') {
		*pos = i;
		return 0;
	}
	start = i;
	while (targets[i] != '\0' && targets[i] != ',')
		i++;
	n = i - start;
	*pos = i;
	if (n >= size)
		return -1;
	memcpy(out, targets + start, n);
	out[n] = '\0';
	return 1;
}
