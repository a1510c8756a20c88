/* queue.c - the spool's queues (outbound, hold/NODE): a message is
 * msg/ID plus env/ID, written through tmp/ and renamed in (msg first, env
 * last, each fsync'd with its directory), removed env first. Envelopes
 * are a small versioned text format, parsed strictly (fields in this
 * order, one per line):
 *
 *   postern-queue 2
 *   id ID
 *   sender XTEXT | sender <>
 *   smtputf8 0|1                     (MAIL FROM had SMTPUTF8)
 *   body NONE|7BIT|8BITMIME|BINARYMIME  (its BODY=, NONE: not given)
 *   ret FULL|HDRS                    (optional: RFC 3461 RET=)
 *   envid XTEXT                      (optional: RFC 3461 ENVID=, decoded
 *                                    1..100 octets of printable ASCII)
 *   arrival SECONDS
 *   attempts N
 *   next-try SECONDS
 *   size BYTES
 *   warned SECONDS                   (optional: delay warning sent then)
 *   dsn NOTIFY ORCPT                 (optional, for the next rcpt line:
 *                                    NOTIFY NEVER or a comma list of
 *                                    SUCCESS,FAILURE,DELAY in this order,
 *                                    or -; ORCPT as received (addr-type;
 *                                    xtext, at most 500 octets) or -)
 *   rcpt STATE XTEXT[ LAST-REPLY]    (1..QUEUE_RCPT_MAX lines, STATE P|D|F)
 *   end
 *
 * XTEXT is an address in RFC 3461 xtext: '!'..'~' except '+' and '='
 * as themselves, every other octet as "+HH" (uppercase hex; canonical:
 * only those octets), so blanks, quotes and UTF-8 survive. Version 1
 * (still read, never written) had no smtputf8/body lines (read as
 * SMTPUTF8 when an address has 8-bit octets, BODY NONE) and addresses
 * as plain tokens without blanks. */
#include "queue.h"
#include "dsnparam.h"
#include "fsutil.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ENV_MAGIC "postern-queue 2\n"
#define ENV_MAGIC1 "postern-queue 1\n"
#define DIRBUF    32768          /* getdents64 buffer */

int queue_id_valid(const char *id)
{
	size_t i;

	if (!id || id[0] == '\0' || id[0] == '.')
		return 0;
	for (i = 0; id[i]; i++) {
		unsigned char c = (unsigned char)id[i];
		if (i + 1 >= QUEUE_ID_MAX || c <= ' ' || c >= 0x7f || c == '/')
			return 0;
	}
	return 1;
}

/* "outbound" or "hold/NODE" with NODE a lowercase valid domain. */
static int queue_valid(const char *queue)
{
	const char *node;
	size_t i;

	if (!queue)
		return 0;
	if (strcmp(queue, QUEUE_OUTBOUND) == 0)
		return 1;
	if (strncmp(queue, "hold/", 5) != 0)
		return 0;
	node = queue + 5;
	for (i = 0; node[i]; i++)
		if (node[i] >= 'A' && node[i] <= 'Z')
			return 0;
	return addr_domain_valid(node, i);
}

int queue_hold_name(const char *node, char *out, size_t size)
{
	size_t i, len = node ? strlen(node) : 0;

	if (!addr_domain_valid(node, len) || size < len + 6) {
		errno = EINVAL;
		return -1;
	}
	memcpy(out, "hold/", 5);
	for (i = 0; i <= len; i++) {
		char c = node[i];
		out[5 + i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	return 0;
}

/* SPOOL/QUEUE into buf after validating queue (and id when given). */
static int queue_dir(char *buf, size_t size, const char *spool,
    const char *queue)
{
	if (!spool || !queue_valid(queue)) {
		errno = EINVAL;
		return -1;
	}
	return fsutil_path(buf, size, "%s/%s", spool, queue);
}

static int file_path(char *buf, size_t size, const char *spool,
    const char *queue, const char *sub, const char *id)
{
	if (!spool || !queue_valid(queue) || !queue_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	return fsutil_path(buf, size, "%s/%s/%s/%s", spool, queue, sub, id);
}

/* Creates SPOOL/QUEUE/{tmp,msg,env}. */
static int queue_make(const char *dir)
{
	static const char *const sub[] = { "tmp", "msg", "env" };
	char buf[MAILDIR_PATH_MAX];
	size_t i;

	if (fsutil_mkdir_p(dir) < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		if (fsutil_path(buf, sizeof(buf), "%s/%s", dir, sub[i]) < 0)
			return -1;
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

static int fsync_sub(const char *dir, const char *sub)
{
	char buf[MAILDIR_PATH_MAX];

	if (fsutil_path(buf, sizeof(buf), "%s/%s", dir, sub) < 0)
		return -1;
	return fsutil_fsync_dir(buf);
}

/* ---- envelope text ---- */

struct out {
	char *p;
	size_t len, size;
	int full;
};

/* 1..ADDR_MAX octets, none below min and no DEL. */
static int octets_ok(const char *s, size_t len, unsigned char min)
{
	size_t i;

	if (len == 0 || len > ADDR_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < min || c == 0x7f)
			return 0;
	}
	return 1;
}

/* Address-like token: no blanks or controls. */
static int token_ok(const char *s, size_t len)
{
	return octets_ok(s, len, '!');
}

/* An address as an envelope holds it: no control character (so no NUL,
 * CR or LF) and no DEL; blanks allowed. */
static int addr_ok(const char *s, size_t len)
{
	return octets_ok(s, len, ' ');
}

/* Decodes canonical xtext val[0..vlen) into out[ADDR_MAX + 1]; the
 * result must pass addr_ok. 0 / -1. */
static int xtext_decode(const char *val, size_t vlen, char *out)
{
	long n = dsnparam_xtext_decode(val, vlen, 1, out, ADDR_MAX + 1);

	return n >= 0 && addr_ok(out, (size_t)n) ? 0 : -1;
}

static int reply_ok(const char *s, size_t len)
{
	size_t i;

	if (len >= sizeof(((struct queue_rcpt *)0)->last_reply))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < ' ' || c == 0x7f)
			return 0;
	}
	return 1;
}

__attribute__((format(printf, 2, 3)))
static void out_fmt(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len)
		o->full = 1;
	else
		o->len += (size_t)n;
}

/* Appends the xtext form of s[0..len). */
static void out_xtext(struct out *o, const char *s, size_t len)
{
	long n;

	if (o->full)
		return;
	n = dsnparam_xtext_encode(s, len, o->p + o->len, o->size - o->len);
	if (n < 0)
		o->full = 1;
	else
		o->len += (size_t)n;
}

/* "-" (none) or a NOTIFY value in its canonical form (uppercase,
 * SUCCESS,FAILURE,DELAY in this order). */
static int notify_parse(const char *s, size_t len, unsigned *bits_r)
{
	char canon[32];

	*bits_r = 0;
	if (len == 1 && s[0] == '-')
		return 0;
	if (dsnparam_notify(s, len, bits_r) < 0 ||
	    dsnparam_notify_format(*bits_r, canon, sizeof canon) != (long)len ||
	    memcmp(canon, s, len) != 0) {
		*bits_r = 0;
		return -1;
	}
	return 0;
}

static const char *const body_names[] = {
	"NONE", "7BIT", "8BITMIME", "BINARYMIME"
};

long queue_env_format(const struct queue_env *env, char *out, size_t size)
{
	struct out o = { out, 0, size, 0 };
	size_t i, slen;

	slen = strnlen(env->sender, sizeof(env->sender));
	if (size == 0 || !queue_id_valid(env->id) ||
	    slen >= sizeof(env->sender) ||
	    (slen > 0 && !addr_ok(env->sender, slen)) ||
	    (unsigned)env->body > QUEUE_BODY_BINARYMIME ||
	    (unsigned)env->ret > QUEUE_RET_HDRS ||
	    (env->envid[0] && !dsnparam_envid_ok(env->envid,
	    strnlen(env->envid, sizeof(env->envid)))) ||
	    env->arrival < 0 || env->next_try < 0 || env->warned < 0 ||
	    env->nrcpt == 0 ||
	    env->nrcpt > QUEUE_RCPT_MAX) {
		errno = EINVAL;
		return -1;
	}
	out_fmt(&o, ENV_MAGIC "id %s\nsender ", env->id);
	if (slen)
		out_xtext(&o, env->sender, slen);
	else
		out_fmt(&o, "<>");
	out_fmt(&o, "\nsmtputf8 %d\nbody %s\n", env->smtputf8 ? 1 : 0,
	    body_names[env->body]);
	if (env->ret != QUEUE_RET_NONE)
		out_fmt(&o, "ret %s\n", env->ret == QUEUE_RET_FULL ? "FULL" :
		    "HDRS");
	if (env->envid[0]) {
		out_fmt(&o, "envid ");
		out_xtext(&o, env->envid, strlen(env->envid));
		out_fmt(&o, "\n");
	}
	out_fmt(&o, "arrival %lld\nattempts %u\n"
	    "next-try %lld\nsize %llu\n", (long long)env->arrival, env->attempts, (long long)env->next_try,
	    (unsigned long long)env->size);
	if (env->warned > 0)
		out_fmt(&o, "warned %lld\n", (long long)env->warned);
	for (i = 0; i < env->nrcpt; i++) {
		const struct queue_rcpt *r = &env->rcpt[i];
		size_t alen = strnlen(r->addr, sizeof(r->addr));
		size_t rlen = strnlen(r->last_reply, sizeof(r->last_reply) - 1);
		size_t k;

		if (alen >= sizeof(r->addr) || !addr_ok(r->addr, alen) ||
		    (r->state != QUEUE_PENDING && r->state != QUEUE_DONE &&
		    r->state != QUEUE_FAILED)) {
			errno = EINVAL;
			return -1;
		}
		if (r->notify || r->orcpt[0]) {
			size_t olen = strnlen(r->orcpt, sizeof(r->orcpt));
			char notify[32] = "-";
			if ((r->notify && dsnparam_notify_format(r->notify,
			    notify, sizeof notify) < 0) ||
			    (olen && !dsnparam_orcpt_ok(r->orcpt, olen))) {
				errno = EINVAL;
				return -1;
			}
			out_fmt(&o, "dsn %s %s\n", notify, olen ? r->orcpt : "-");
		}
		out_fmt(&o, "rcpt %c ", r->state);
		out_xtext(&o, r->addr, alen);
		if (rlen > 0 && !o.full) {
			if (o.size - o.len < rlen + 2) {
				o.full = 1;
				break;
			}
			o.p[o.len++] = ' ';
			for (k = 0; k < rlen; k++) {
				unsigned char c = (unsigned char)r->last_reply[k];
				/* a server's text must not break the format */
				o.p[o.len++] = (char)(c < ' ' || c == 0x7f ?
				    ' ' : c);
			}
			o.p[o.len] = '\0';
		}
		out_fmt(&o, "\n");
	}
	out_fmt(&o, "end\n");
	if (o.full) {
		errno = ENOSPC;
		return -1;
	}
	return (long)o.len;
}

/* Next line of text[*pos..len) without its '\n'; -1 if there is none or
 * it holds a NUL. */
static int next_line(const char *text, size_t len, size_t *pos,
    const char **line_r, size_t *llen_r)
{
	const char *start = text + *pos, *nl;

	if (*pos >= len)
		return -1;
	nl = memchr(start, '\n', len - *pos);
	if (!nl || memchr(start, '\0', (size_t)(nl - start)))
		return -1;
	*line_r = start;
	*llen_r = (size_t)(nl - start);
	*pos += *llen_r + 1;
	return 0;
}

/* "KEY VALUE": value of a line that begins with "KEY ". */
static int field(const char *line, size_t llen, const char *key,
    const char **val_r, size_t *vlen_r)
{
	size_t klen = strlen(key);

	if (llen <= klen || memcmp(line, key, klen) != 0 || line[klen] != ' ')
		return -1;
	*val_r = line + klen + 1;
	*vlen_r = llen - klen - 1;
	return 0;
}

static int field_num(const char *text, size_t len, size_t *pos,
    const char *key, uint64_t max, uint64_t *v_r)
{
	const char *line, *val;
	size_t llen, vlen;

	if (next_line(text, len, pos, &line, &llen) < 0 ||
	    field(line, llen, key, &val, &vlen) < 0)
		return -1;
	return parse_uint(val, vlen, max, v_r);
}

/* An address field of version v into out[ADDR_MAX + 1]. 0 / -1. */
static int parse_addr(int v, const char *val, size_t vlen, char *out)
{
	if (v == 2)
		return xtext_decode(val, vlen, out);
	if (!token_ok(val, vlen))
		return -1;
	memcpy(out, val, vlen);
	out[vlen] = '\0';
	return 0;
}

int queue_env_parse(const char *text, size_t len, struct queue_env *env)
{
	const char *line, *val;
	size_t pos = 0, llen, vlen, i;
	uint64_t v;
	int version;

	memset(env, 0, offsetof(struct queue_env, rcpt));
	if (len < sizeof(ENV_MAGIC) - 1 || len > QUEUE_ENV_TEXT_MAX)
		goto bad;
	if (memcmp(text, ENV_MAGIC, sizeof(ENV_MAGIC) - 1) == 0)
		version = 2;
	else if (memcmp(text, ENV_MAGIC1, sizeof(ENV_MAGIC1) - 1) == 0)
		version = 1;
	else
		goto bad;
	pos = sizeof(ENV_MAGIC) - 1;

	if (next_line(text, len, &pos, &line, &llen) < 0 ||
	    field(line, llen, "id", &val, &vlen) < 0 ||
	    vlen >= sizeof(env->id))
		goto bad;
	memcpy(env->id, val, vlen);
	env->id[vlen] = '\0';
	if (!queue_id_valid(env->id))
		goto bad;

	if (next_line(text, len, &pos, &line, &llen) < 0 ||
	    field(line, llen, "sender", &val, &vlen) < 0)
		goto bad;
	if (!(vlen == 2 && memcmp(val, "<>", 2) == 0) &&
	    parse_addr(version, val, vlen, env->sender) < 0)
		goto bad;

	if (version == 2) {
		if (field_num(text, len, &pos, "smtputf8", 1, &v) < 0)
			goto bad;
		env->smtputf8 = (int)v;
		if (next_line(text, len, &pos, &line, &llen) < 0 ||
		    field(line, llen, "body", &val, &vlen) < 0)
			goto bad;
		for (i = 0; i < sizeof(body_names) / sizeof(body_names[0]); i++)
			if (strlen(body_names[i]) == vlen &&
			    memcmp(body_names[i], val, vlen) == 0)
				break;
		if (i == sizeof(body_names) / sizeof(body_names[0]))
			goto bad;
		env->body = (enum queue_body)i;
		if (len - pos > 4 && memcmp(text + pos, "ret ", 4) == 0) {
			if (next_line(text, len, &pos, &line, &llen) < 0)
				goto bad;
			if (llen == 8 && memcmp(line + 4, "FULL", 4) == 0)
				env->ret = QUEUE_RET_FULL;
			else if (llen == 8 && memcmp(line + 4, "HDRS", 4) == 0)
				env->ret = QUEUE_RET_HDRS;
			else
				goto bad;
		}
		if (len - pos > 6 && memcmp(text + pos, "envid ", 6) == 0) {
			char tmp[QUEUE_ENVID_MAX + 1];
			long n;
			if (next_line(text, len, &pos, &line, &llen) < 0 ||
			    (n = dsnparam_xtext_decode(line + 6, llen - 6, 1,
			    tmp, sizeof tmp)) < 0 ||
			    !dsnparam_envid_ok(tmp, (size_t)n))
				goto bad;
			memcpy(env->envid, tmp, strlen(tmp) + 1);
		}
	}

	if (field_num(text, len, &pos, "arrival", INT64_MAX, &v) < 0)
		goto bad;
	env->arrival = (int64_t)v;
	if (field_num(text, len, &pos, "attempts", UINT32_MAX, &v) < 0)
		goto bad;
	env->attempts = (unsigned)v;
	if (field_num(text, len, &pos, "next-try", INT64_MAX, &v) < 0)
		goto bad;
	env->next_try = (int64_t)v;
	if (field_num(text, len, &pos, "size", UINT64_MAX, &v) < 0)
		goto bad;
	env->size = v;
	if (len - pos > 7 && memcmp(text + pos, "warned ", 7) == 0) {
		if (field_num(text, len, &pos, "warned", INT64_MAX, &v) < 0 ||
		    v == 0)
			goto bad;
		env->warned = (int64_t)v;
	}

	for (;;) {
		struct queue_rcpt *r;
		const char *sp;
		size_t alen;

		if (next_line(text, len, &pos, &line, &llen) < 0)
			goto bad;
		if (llen == 3 && memcmp(line, "end", 3) == 0)
			break;
		if (env->nrcpt >= QUEUE_RCPT_MAX)
			goto bad;
		r = &env->rcpt[env->nrcpt];
		r->notify = 0;
		r->orcpt[0] = '\0';
		if (version == 2 &&
		    field(line, llen, "dsn", &val, &vlen) == 0) {
			const char *sp2 = memchr(val, ' ', vlen);
			size_t nlen, olen;
			if (!sp2)
				goto bad;
			nlen = (size_t)(sp2 - val);
			olen = vlen - nlen - 1;
			if (notify_parse(val, nlen, &r->notify) < 0)
				goto bad;
			if (olen == 1 && sp2[1] == '-')
				olen = 0;
			else if (!dsnparam_orcpt_ok(sp2 + 1, olen))
				goto bad;
			memcpy(r->orcpt, sp2 + 1, olen);
			r->orcpt[olen] = '\0';
			if ((r->notify == 0 && olen == 0) ||
			    next_line(text, len, &pos, &line, &llen) < 0)
				goto bad;
		}
		if (field(line, llen, "rcpt", &val, &vlen) < 0 || vlen < 3 ||
		    val[1] != ' ')
			goto bad;
		r->state = val[0];
		if (r->state != QUEUE_PENDING && r->state != QUEUE_DONE &&
		    r->state != QUEUE_FAILED)
			goto bad;
		val += 2;
		vlen -= 2;
		sp = memchr(val, ' ', vlen);
		alen = sp ? (size_t)(sp - val) : vlen;
		if (parse_addr(version, val, alen, r->addr) < 0)
			goto bad;
		if (version == 1 && has_8bit(r->addr, strlen(r->addr)))
			env->smtputf8 = 1;
		r->last_reply[0] = '\0';
		if (sp) {
			size_t rlen = vlen - alen - 1;
			if (rlen == 0 || !reply_ok(sp + 1, rlen))
				goto bad;
			memcpy(r->last_reply, sp + 1, rlen);
			r->last_reply[rlen] = '\0';
		}
		env->nrcpt++;
	}
	if (pos != len || env->nrcpt == 0)
		goto bad;
	if (version == 1 && has_8bit(env->sender, strlen(env->sender)))
		env->smtputf8 = 1;
	return 0;
bad:
	env->nrcpt = 0;
	errno = EINVAL;
	return -1;
}

/* ---- writing ---- */

int queue_write_open(struct queue_writer *w, const char *spool,
    const char *queue)
{
	w->fd = -1;
	w->size = 0;
	w->wlen = 0;
	w->committed = 0;
	w->id[0] = '\0';
	if (queue_dir(w->dir, sizeof(w->dir), spool, queue) < 0)
		return -1;
	w->fd = maildir_tmp_create(w->dir, w->id, sizeof(w->id));
	if (w->fd < 0 && errno == ENOENT) {
		if (queue_make(w->dir) < 0)
			return -1;
		w->fd = maildir_tmp_create(w->dir, w->id, sizeof(w->id));
	}
	if (w->fd < 0)
		return -1;
	/* a fresh file: nobody else can hold it; readers of msg/ID wait on
	 * this lock until the message is published or taken back */
	if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
		queue_write_abort(w);
		return -1;
	}
	return 0;
}

int queue_write(struct queue_writer *w, const void *p, size_t n)
{
	if (w->fd < 0) {
		errno = EBADF;
		return -1;
	}
	w->size += n;
	return fsutil_wbuf_put(w->fd, w->wbuf, sizeof(w->wbuf), &w->wlen, p, n);
}

void queue_write_abort(struct queue_writer *w)
{
	char path[MAILDIR_PATH_MAX];
	int e = errno;

	if (w->committed) {
		/* env first (the message stops existing), made durable, then
		 * msg; only then the lock goes */
		if (fsutil_path(path, sizeof(path), "%s/env/%s", w->dir,
		    w->id) == 0 && unlink(path) == 0)
			(void)fsync_sub(w->dir, "env");
		if (fsutil_path(path, sizeof(path), "%s/msg/%s", w->dir,
		    w->id) == 0)
			unlink(path);
		w->committed = 0;
		w->id[0] = '\0';
	}
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->id[0] && fsutil_path(path, sizeof(path), "%s/tmp/%s", w->dir,
	    w->id) == 0)
		unlink(path);
	w->id[0] = '\0';
	errno = e;
}

/* Writes text to tmp/NAME (fresh name), fsyncs, renames to env/ID and
 * fsyncs env/. Leaves nothing behind on failure. */
static int env_install(const char *dir, const char *id, const char *text,
    size_t len)
{
	char tmp[MAILDIR_PATH_MAX], dst[MAILDIR_PATH_MAX];
	char name[MAILDIR_NAME_MAX];
	int fd, e;

	if (fsutil_path(dst, sizeof(dst), "%s/env/%s", dir, id) < 0)
		return -1;
	fd = maildir_tmp_create(dir, name, sizeof(name));
	if (fd < 0 || fsutil_path(tmp, sizeof(tmp), "%s/tmp/%s", dir,
	    name) < 0) {
		e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	if (fsutil_write_all(fd, text, len) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp, dst) < 0) {
		e = errno;
		goto fail;
	}
	if (fsync_sub(dir, "env") < 0)
		return -1;
	return 0;
fail:
	unlink(tmp);
	errno = e;
	return -1;
}

int queue_write_commit_locked(struct queue_writer *w, struct queue_env *env)
{
	char text[QUEUE_ENV_TEXT_MAX];
	char tmp[MAILDIR_PATH_MAX], msg[MAILDIR_PATH_MAX];
	size_t i;
	long len;
	int e;

	if (w->fd < 0 || w->committed) {
		errno = EBADF;
		return -1;
	}
	if (copy_str(env->id, sizeof(env->id), w->id) < 0) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	env->size = w->size;
	for (i = 0; i < env->nrcpt && i < QUEUE_RCPT_MAX; i++)
		if (env->rcpt[i].state == '\0')
			env->rcpt[i].state = QUEUE_PENDING;
	len = queue_env_format(env, text, sizeof(text));
	if (len < 0)
		goto fail;
	if (fsutil_wbuf_flush(w->fd, w->wbuf, &w->wlen) < 0 ||
	    fsync(w->fd) < 0)
		goto fail;
	/* the descriptor stays open: it holds the lock */
	if (fsutil_path(tmp, sizeof(tmp), "%s/tmp/%s", w->dir, w->id) < 0 ||
	    fsutil_path(msg, sizeof(msg), "%s/msg/%s", w->dir, w->id) < 0 ||
	    rename(tmp, msg) < 0)
		goto fail;
	/* msg/ID must be durable before env/ID can appear */
	if (fsync_sub(w->dir, "msg") < 0 ||
	    env_install(w->dir, w->id, text, (size_t)len) < 0) {
		char env_path[MAILDIR_PATH_MAX];
		e = errno;
		if (fsutil_path(env_path, sizeof(env_path), "%s/env/%s", w->dir,
		    w->id) == 0)
			unlink(env_path);
		unlink(msg);
		w->id[0] = '\0';
		close(w->fd);
		w->fd = -1;
		errno = e;
		return -1;
	}
	w->committed = 1;
	return 0;
fail:
	queue_write_abort(w);
	return -1;
}

void queue_write_unlock(struct queue_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->committed = 0;
	w->id[0] = '\0';
}

int queue_write_commit(struct queue_writer *w, struct queue_env *env)
{
	if (queue_write_commit_locked(w, env) < 0)
		return -1;
	queue_write_unlock(w);
	return 0;
}

/* ---- reading ---- */

int queue_env_read(const char *spool, const char *queue, const char *id,
    struct queue_env *env)
{
	char path[MAILDIR_PATH_MAX];
	char text[QUEUE_ENV_TEXT_MAX + 1];
	ssize_t n;
	int fd, e;

	if (file_path(path, sizeof(path), spool, queue, "env", id) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = fsutil_read_full(fd, text, sizeof(text));
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	if (n > QUEUE_ENV_TEXT_MAX ||
	    queue_env_parse(text, (size_t)n, env) < 0 ||
	    strcmp(env->id, id) != 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int queue_env_update(const char *spool, const char *queue,
    const struct queue_env *env)
{
	char text[QUEUE_ENV_TEXT_MAX];
	char dir[MAILDIR_PATH_MAX], path[MAILDIR_PATH_MAX];
	long len;

	if (file_path(path, sizeof(path), spool, queue, "env", env->id) < 0 ||
	    queue_dir(dir, sizeof(dir), spool, queue) < 0)
		return -1;
	len = queue_env_format(env, text, sizeof(text));
	if (len < 0)
		return -1;
	/* never resurrect a removed message */
	if (access(path, F_OK) < 0)
		return -1;
	return env_install(dir, env->id, text, (size_t)len);
}

int queue_msg_open(const char *spool, const char *queue, const char *id)
{
	char path[MAILDIR_PATH_MAX];
	unsigned waited = 0;
	int fd, e;

	if (file_path(path, sizeof(path), spool, queue, "msg", id) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* a writer holds the lock only while it commits (milliseconds) */
	while (flock(fd, LOCK_SH | LOCK_NB) < 0) {
		e = errno;
		if ((e != EWOULDBLOCK && e != EINTR) ||
		    waited >= QUEUE_COMMIT_WAIT * 20) {
			close(fd);
			errno = e;
			return -1;
		}
		usleep(50000);
		waited++;
	}
	(void)flock(fd, LOCK_UN);
	/* a message taken back by its writer has no env/ID any more */
	if (file_path(path, sizeof(path), spool, queue, "env", id) < 0 ||
	    access(path, F_OK) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int queue_remove(const char *spool, const char *queue, const char *id)
{
	char path[MAILDIR_PATH_MAX], dir[MAILDIR_PATH_MAX];

	if (file_path(path, sizeof(path), spool, queue, "env", id) < 0 ||
	    queue_dir(dir, sizeof(dir), spool, queue) < 0)
		return -1;
	if (unlink(path) < 0) {
		if (errno != ENOENT)
			return -1;
	} else if (fsync_sub(dir, "env") < 0) {
		return -1;
	}
	if (file_path(path, sizeof(path), spool, queue, "msg", id) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int queue_lock(const char *spool, const char *queue, int block)
{
	char dir[MAILDIR_PATH_MAX], path[MAILDIR_PATH_MAX];
	int fd;

	if (queue_dir(dir, sizeof(dir), spool, queue) < 0 ||
	    fsutil_path(path, sizeof(path), "%s/.lock", dir) < 0)
		return -1;
	fd = fsutil_lock(path, block);
	if (fd < 0 && errno == ENOENT) {
		if (queue_make(dir) < 0)
			return -1;
		fd = fsutil_lock(path, block);
	}
	return fd;
}

/* ---- listing ---- */

/* Names of a directory accepted by keep(), in one arena, sorted. */
struct names {
	char *arena;
	size_t len, cap;
	size_t *off;
	size_t n, ncap;
};

static void names_free(struct names *s)
{
	free(s->arena);
	free(s->off);
	memset(s, 0, sizeof(*s));
}

static int names_add(struct names *s, const char *name)
{
	size_t len = strlen(name) + 1;

	if (s->n == s->ncap) {
		size_t cap = s->ncap ? s->ncap * 2 : 64;
		size_t *p = realloc(s->off, cap * sizeof(*p));
		if (!p)
			return -1;
		s->off = p;
		s->ncap = cap;
	}
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		char *p;
		while (cap < s->len + len)
			cap *= 2;
		p = realloc(s->arena, cap);
		if (!p)
			return -1;
		s->arena = p;
		s->cap = cap;
	}
	memcpy(s->arena + s->len, name, len);
	s->off[s->n++] = s->len;
	s->len += len;
	return 0;
}

static int names_cmp(const void *a, const void *b, void *arena)
{
	return strcmp((const char *)arena + *(const size_t *)a,
	    (const char *)arena + *(const size_t *)b);
}

/* Reads dir (missing = empty); want_dir selects directories, else
 * regular files; keep() filters names. Collects them in s (sorted) when s
 * is not NULL. The number of names, or -1. */
static long names_read(const char *dir, int want_dir,
    int (*keep)(const char *), struct names *s)
{
	unsigned char buf[DIRBUF];
	struct fsutil_dir d;
	const char *name;
	unsigned char type;
	size_t len;
	long n = 0;
	int r;

	if (s)
		memset(s, 0, sizeof(*s));
	if (fsutil_dir_open(&d, dir, buf, sizeof(buf)) < 0)
		return errno == ENOENT ? 0 : -1;
	while ((r = fsutil_dir_next(&d, &name, &len, &type)) > 0) {
		if (type != DT_UNKNOWN && type != (want_dir ? DT_DIR : DT_REG))
			continue;
		if (!keep(name))
			continue;
		if (s && names_add(s, name) < 0) {
			r = -1;
			break;
		}
		n++;
	}
	fsutil_dir_close(&d);
	if (r < 0) {
		if (s) {
			int e = errno;
			names_free(s);
			errno = e;
		}
		return -1;
	}
	if (s && s->n > 1)
		qsort_r(s->off, s->n, sizeof(*s->off), names_cmp, s->arena);
	return n;
}

/* SPOOL/QUEUE/env into dir[MAILDIR_PATH_MAX]. */
static int env_dir(char *dir, const char *spool, const char *queue)
{
	if (queue_dir(dir, MAILDIR_PATH_MAX, spool, queue) < 0)
		return -1;
	return fsutil_path(dir + strlen(dir), MAILDIR_PATH_MAX - strlen(dir),
	    "/env");
}

int queue_foreach(const char *spool, const char *queue,
    int (*fn)(const char *id, void *arg), void *arg)
{
	char dir[MAILDIR_PATH_MAX];
	struct names s;
	size_t i;
	int r = 0;

	if (env_dir(dir, spool, queue) < 0 ||
	    names_read(dir, 0, queue_id_valid, &s) < 0)
		return -1;
	for (i = 0; i < s.n && r == 0; i++)
		r = fn(s.arena + s.off[i], arg);
	names_free(&s);
	return r;
}

long queue_count(const char *spool, const char *queue)
{
	char dir[MAILDIR_PATH_MAX];

	if (env_dir(dir, spool, queue) < 0)
		return -1;
	return names_read(dir, 0, queue_id_valid, NULL);
}

int queue_usage(const char *spool, const char *queue, uint64_t *bytes_r,
    uint64_t *count_r)
{
	unsigned char buf[DIRBUF];
	char dir[MAILDIR_PATH_MAX];
	struct fsutil_dir d;
	const char *name;
	unsigned char type;
	uint64_t bytes = 0, count = 0;
	size_t len;
	int r;

	*bytes_r = *count_r = 0;
	if (queue_dir(dir, sizeof(dir), spool, queue) < 0 ||
	    fsutil_path(dir + strlen(dir), sizeof(dir) - strlen(dir),
	    "/msg") < 0)
		return -1;
	if (fsutil_dir_open(&d, dir, buf, sizeof(buf)) < 0)
		return errno == ENOENT ? 0 : -1;
	while ((r = fsutil_dir_next(&d, &name, &len, &type)) > 0) {
		struct stat st;
		if (!queue_id_valid(name) ||
		    fstatat(d.fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		bytes += (uint64_t)st.st_size;
		count++;
	}
	fsutil_dir_close(&d);
	if (r < 0)
		return -1;
	*bytes_r = bytes;
	*count_r = count;
	return 0;
}

static int node_ok(const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			return 0;
	return addr_domain_valid(name, i);
}

int queue_foreach_node(const char *spool,
    int (*fn)(const char *node, void *arg), void *arg)
{
	char dir[MAILDIR_PATH_MAX];
	struct names s;
	size_t i;
	int r = 0;

	if (!spool) {
		errno = EINVAL;
		return -1;
	}
	if (fsutil_path(dir, sizeof(dir), "%s/hold", spool) < 0 ||
	    names_read(dir, 1, node_ok, &s) < 0)
		return -1;
	for (i = 0; i < s.n && r == 0; i++)
		r = fn(s.arena + s.off[i], arg);
	names_free(&s);
	return r;
}

static int any_name(const char *name)
{
	return name[0] != '.';
}

/* Unlinks path when it is a regular file (not followed if a link) last
 * changed more than age seconds before now, and tells removed. 1 when
 * it was removed, else 0. */
static int unlink_old(const char *path, time_t now, unsigned age,
    void (*removed)(const char *path, void *arg), void *arg)
{
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_mtime + (time_t)age >= now || unlink(path) < 0)
		return 0;
	if (removed)
		removed(path, arg);
	return 1;
}

int queue_clean(const char *spool, const char *queue, unsigned tmp_age,
    unsigned orphan_age, void (*removed)(const char *path, void *arg),
    void *arg)
{
	char dir[MAILDIR_PATH_MAX], path[MAILDIR_PATH_MAX];
	time_t now = time(NULL);
	struct names s;
	size_t i;
	int n = 0;

	if (queue_dir(dir, sizeof(dir), spool, queue) < 0)
		return 0;
	if (fsutil_path(path, sizeof(path), "%s/tmp", dir) == 0 &&
	    names_read(path, 0, any_name, &s) >= 0) {
		for (i = 0; i < s.n; i++) {
			const char *nm = s.arena + s.off[i];
			if (fsutil_path(path, sizeof(path), "%s/tmp/%s", dir,
			    nm) == 0)
				n += unlink_old(path, now, tmp_age, removed, arg);
		}
		names_free(&s);
	}
	if (fsutil_path(path, sizeof(path), "%s/msg", dir) == 0 &&
	    names_read(path, 0, queue_id_valid, &s) >= 0) {
		for (i = 0; i < s.n; i++) {
			const char *nm = s.arena + s.off[i];
			if (fsutil_path(path, sizeof(path), "%s/env/%s", dir,
			    nm) < 0 || access(path, F_OK) == 0 || errno != ENOENT)
				continue;
			if (fsutil_path(path, sizeof(path), "%s/msg/%s", dir,
			    nm) == 0)
				n += unlink_old(path, now, orphan_age, removed,
				    arg);
		}
		names_free(&s);
	}
	return n;
}
