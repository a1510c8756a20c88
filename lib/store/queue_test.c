/* queue_test.c - unit tests of queue.c in a real spool under tests/tmp/:
 * write/commit/read/update/remove, count and order, the lock across
 * processes, hold nodes, a crash between the steps, and the strict
 * envelope parser against damaged and hostile text. */
#include "test.h"
#include "testutil.h"
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char spool[600];
static struct queue_writer qw;
static struct queue_env env, env2;
static char text[QUEUE_ENV_TEXT_MAX];

static void env_init(struct queue_env *e, const char *sender, int nrcpt)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->sender, sizeof(e->sender), "%s", sender);
	e->arrival = 1700000000;
	for (int i = 0; i < nrcpt; i++)
		snprintf(e->rcpt[i].addr, sizeof(e->rcpt[i].addr),
		    "user%d@example.net", i);
	e->nrcpt = (size_t)nrcpt;
}

/* Queues a message; returns 0 and copies its id into id. */
static int enqueue(const char *queue, const char *body, char *id)
{
	if (queue_write_open(&qw, spool, queue) < 0)
		return -1;
	if (queue_write(&qw, body, strlen(body)) < 0) {
		queue_write_abort(&qw);
		return -1;
	}
	env_init(&env, "alice@example.org", 2);
	if (queue_write_commit(&qw, &env) < 0)
		return -1;
	snprintf(id, QUEUE_ID_MAX, "%s", env.id);
	return 0;
}

struct collect {
	char ids[20][QUEUE_ID_MAX];
	int n, stop_at;
};

static int collect_fn(const char *id, void *arg)
{
	struct collect *c = arg;

	if (c->n < 20)
		snprintf(c->ids[c->n], QUEUE_ID_MAX, "%s", id);
	c->n++;
	return c->stop_at && c->n == c->stop_at ? 7 : 0;
}

static void test_names(void)
{
	char buf[300];

	CHECK(queue_hold_name("Dialup.Example", buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "hold/dialup.example");
	CHECK(queue_hold_name("bad_node", buf, sizeof(buf)) == -1);
	CHECK(queue_hold_name("../etc", buf, sizeof(buf)) == -1);
	CHECK(queue_hold_name("", buf, sizeof(buf)) == -1);
	CHECK(queue_hold_name("example.org", buf, 10) == -1);
	CHECK(queue_id_valid("1700000000.M1P2Q3.host"));
	CHECK(!queue_id_valid("../x"));
	CHECK(!queue_id_valid(".hidden"));
	CHECK(!queue_id_valid("a/b"));
	CHECK(!queue_id_valid("a b"));
	CHECK(!queue_id_valid(""));
	/* invalid queue names never reach a path */
	errno = 0;
	CHECK(queue_write_open(&qw, spool, "hold/../../etc") == -1 &&
	    errno == EINVAL);
	CHECK(queue_write_open(&qw, spool, "other") == -1);
	CHECK(queue_write_open(&qw, spool, "hold/Upper.Case") == -1);
	CHECK(queue_count(spool, "hold/x..y") == -1);
	CHECK(queue_env_read(spool, QUEUE_OUTBOUND, "../../x", &env) == -1);
	CHECK(queue_remove(spool, QUEUE_OUTBOUND, "a/b") == -1);
}

static void test_cycle(void)
{
	char id1[QUEUE_ID_MAX], id2[QUEUE_ID_MAX], id3[QUEUE_ID_MAX];
	char path[900], buf[64];
	struct collect c;
	struct stat st;
	int fd;
	ssize_t n;

	/* missing queue: empty */
	CHECK(queue_count(spool, QUEUE_OUTBOUND) == 0);
	memset(&c, 0, sizeof(c));
	CHECK(queue_foreach(spool, QUEUE_OUTBOUND, collect_fn, &c) == 0 &&
	    c.n == 0);

	CHECK(enqueue(QUEUE_OUTBOUND, "Subject: one\n\nbody\n", id1) == 0);
	CHECK(env.size == 19);
	CHECK(env.rcpt[0].state == QUEUE_PENDING &&
	    env.rcpt[1].state == QUEUE_PENDING);
	snprintf(path, sizeof(path), "%s/outbound", spool);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
	snprintf(path, sizeof(path), "%s/outbound/tmp", spool);
	CHECK(count_dir(path) == 0);
	usleep(2000);
	CHECK(enqueue(QUEUE_OUTBOUND, "two\n", id2) == 0);
	usleep(2000);
	CHECK(enqueue(QUEUE_OUTBOUND, "three\n", id3) == 0);
	CHECK(queue_count(spool, QUEUE_OUTBOUND) == 3);

	/* oldest first, and fn's non-zero stops the walk */
	memset(&c, 0, sizeof(c));
	CHECK(queue_foreach(spool, QUEUE_OUTBOUND, collect_fn, &c) == 0);
	CHECK(c.n == 3);
	CHECK_STR(c.ids[0], id1);
	CHECK_STR(c.ids[1], id2);
	CHECK_STR(c.ids[2], id3);
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	CHECK(queue_foreach(spool, QUEUE_OUTBOUND, collect_fn, &c) == 7 &&
	    c.n == 2);

	/* read back */
	CHECK(queue_env_read(spool, QUEUE_OUTBOUND, id1, &env2) == 0);
	CHECK_STR(env2.id, id1);
	CHECK_STR(env2.sender, "alice@example.org");
	CHECK(env2.arrival == 1700000000 && env2.size == 19 &&
	    env2.nrcpt == 2 && env2.attempts == 0);
	CHECK_STR(env2.rcpt[1].addr, "user1@example.net");
	fd = queue_msg_open(spool, QUEUE_OUTBOUND, id1);
	CHECK(fd >= 0);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf));
		CHECK(n == 19 && memcmp(buf, "Subject: one\n\nbody\n", 19) == 0);
		close(fd);
	}

	/* update: states and replies survive */
	env2.rcpt[0].state = QUEUE_DONE;
	snprintf(env2.rcpt[0].last_reply, sizeof(env2.rcpt[0].last_reply),
	    "250 2.0.0 Ok: queued as X");
	env2.rcpt[1].state = QUEUE_PENDING;
	snprintf(env2.rcpt[1].last_reply, sizeof(env2.rcpt[1].last_reply),
	    "451 4.3.0 try\r\nlater");
	env2.attempts = 3;
	env2.next_try = 1700000900;
	CHECK(queue_env_update(spool, QUEUE_OUTBOUND, &env2) == 0);
	CHECK(queue_env_read(spool, QUEUE_OUTBOUND, id1, &env) == 0);
	CHECK(env.rcpt[0].state == QUEUE_DONE && env.attempts == 3 &&
	    env.next_try == 1700000900);
	CHECK_STR(env.rcpt[0].last_reply, "250 2.0.0 Ok: queued as X");
	CHECK_STR(env.rcpt[1].last_reply, "451 4.3.0 try  later");
	snprintf(path, sizeof(path), "%s/outbound/tmp", spool);
	CHECK(count_dir(path) == 0);

	/* remove */
	CHECK(queue_remove(spool, QUEUE_OUTBOUND, id2) == 0);
	CHECK(queue_count(spool, QUEUE_OUTBOUND) == 2);
	CHECK(queue_remove(spool, QUEUE_OUTBOUND, id2) == 0);  /* ENOENT */
	snprintf(path, sizeof(path), "%s/outbound/msg/%s", spool, id2);
	CHECK(access(path, F_OK) < 0);
	errno = 0;
	CHECK(queue_msg_open(spool, QUEUE_OUTBOUND, id2) == -1 &&
	    errno == ENOENT);
	/* an update never resurrects a removed message */
	snprintf(env2.id, sizeof(env2.id), "%s", id2);
	CHECK(queue_env_update(spool, QUEUE_OUTBOUND, &env2) == -1);
	CHECK(queue_count(spool, QUEUE_OUTBOUND) == 2);

	/* the null sender */
	CHECK(queue_write_open(&qw, spool, QUEUE_OUTBOUND) == 0);
	CHECK(queue_write(&qw, "dsn\n", 4) == 0);
	env_init(&env, "", 1);
	CHECK(queue_write_commit(&qw, &env) == 0);
	CHECK(queue_env_read(spool, QUEUE_OUTBOUND, env.id, &env2) == 0 &&
	    env2.sender[0] == '\0');
	CHECK(queue_remove(spool, QUEUE_OUTBOUND, env.id) == 0);

	/* abort, and a commit that fails (no recipients) leave nothing */
	CHECK(queue_write_open(&qw, spool, QUEUE_OUTBOUND) == 0);
	CHECK(queue_write(&qw, "x\n", 2) == 0);
	queue_write_abort(&qw);
	CHECK(queue_write_open(&qw, spool, QUEUE_OUTBOUND) == 0);
	CHECK(queue_write(&qw, "x\n", 2) == 0);
	env_init(&env, "a@b.example", 0);
	CHECK(queue_write_commit(&qw, &env) == -1);
	snprintf(path, sizeof(path), "%s/outbound/tmp", spool);
	CHECK(count_dir(path) == 0);
	snprintf(path, sizeof(path), "%s/outbound/msg", spool);
	CHECK(count_dir(path) == 2);
	CHECK(queue_count(spool, QUEUE_OUTBOUND) == 2);

	/* a big message through the buffer */
	{
		static char big[300000];
		memset(big, 'z', sizeof(big));
		CHECK(queue_write_open(&qw, spool, QUEUE_OUTBOUND) == 0);
		CHECK(queue_write(&qw, big, 100) == 0);
		CHECK(queue_write(&qw, big, sizeof(big) - 100) == 0);
		env_init(&env, "a@b.example", QUEUE_RCPT_MAX);
		for (int i = 0; i < QUEUE_RCPT_MAX; i++)
			memset(env.rcpt[i].last_reply, 'r',
			    sizeof(env.rcpt[i].last_reply) - 1);
		CHECK(queue_write_commit(&qw, &env) == 0);
		CHECK(env.size == sizeof(big));
		CHECK(queue_env_read(spool, QUEUE_OUTBOUND, env.id, &env2) == 0
		    && env2.nrcpt == QUEUE_RCPT_MAX &&
		    strlen(env2.rcpt[99].last_reply) == 199);
		snprintf(path, sizeof(path), "%s/outbound/msg/%s", spool,
		    env.id);
		CHECK(stat(path, &st) == 0 && st.st_size == sizeof(big));
		CHECK(queue_remove(spool, QUEUE_OUTBOUND, env.id) == 0);
	}
}

/* A crash between the steps: msg/ without env/ is not a message. */
static void test_crash(void)
{
	char path[900], id[QUEUE_ID_MAX];
	struct collect c;
	struct timeval tv[2];
	long before = queue_count(spool, QUEUE_OUTBOUND);

	maildir_unique(id, sizeof(id));
	snprintf(path, sizeof(path), "%s/outbound/msg/%s", spool, id);
	{
		int fd = open(path, O_CREAT | O_WRONLY, 0600);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	snprintf(path, sizeof(path), "%s/outbound/tmp/stale", spool);
	{
		int fd = open(path, O_CREAT | O_WRONLY, 0600);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	CHECK(queue_count(spool, QUEUE_OUTBOUND) == before);
	memset(&c, 0, sizeof(c));
	CHECK(queue_foreach(spool, QUEUE_OUTBOUND, collect_fn, &c) == 0 &&
	    c.n == before);
	for (int i = 0; i < c.n && i < 20; i++)
		CHECK(strcmp(c.ids[i], id) != 0);

	/* queue_clean removes both once they are old enough */
	CHECK(queue_clean(spool, QUEUE_OUTBOUND, 3600, 3600, NULL, NULL) == 0);
	CHECK(access(path, F_OK) == 0);           /* fresh: kept */
	tv[0].tv_sec = tv[1].tv_sec = time(NULL) - 7200;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	CHECK(utimes(path, tv) == 0);
	snprintf(path, sizeof(path), "%s/outbound/msg/%s", spool, id);
	CHECK(utimes(path, tv) == 0);
	CHECK(queue_clean(spool, QUEUE_OUTBOUND, 3600, 3600, NULL, NULL) == 2);
	CHECK(access(path, F_OK) < 0);
	snprintf(path, sizeof(path), "%s/outbound/tmp/stale", spool);
	CHECK(access(path, F_OK) < 0);
	/* messages with an env are untouched however old */
	CHECK(queue_count(spool, QUEUE_OUTBOUND) == before);
	snprintf(path, sizeof(path), "%s/outbound/msg", spool);
	CHECK(count_dir(path) == before);
}

static void test_lock(void)
{
	int fd, st;
	pid_t pid;

	fd = queue_lock(spool, "hold/lock.example", 0);
	CHECK(fd >= 0);
	pid = fork();
	if (pid == 0) {
		int f = queue_lock(spool, "hold/lock.example", 0);
		int ok = f < 0 && errno == EWOULDBLOCK;
		/* another queue is independent */
		int g = queue_lock(spool, QUEUE_OUTBOUND, 0);
		_exit(ok && g >= 0 ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
	/* a blocking waiter gets it once the holder lets go */
	pid = fork();
	if (pid == 0) {
		/* the inherited fd shares the lock (flock is per open file):
		 * a child must close it or it would wait for itself */
		close(fd);
		alarm(10);
		int f = queue_lock(spool, "hold/lock.example", 1);
		_exit(f >= 0 ? 0 : 1);
	}
	usleep(50000);
	close(fd);
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
}

static int node_fn(const char *node, void *arg)
{
	struct collect *c = arg;

	if (c->n < 20)
		snprintf(c->ids[c->n], QUEUE_ID_MAX, "%s", node);
	c->n++;
	return 0;
}

static void test_nodes(void)
{
	char q[300], id[QUEUE_ID_MAX], path[900];
	struct collect c;

	memset(&c, 0, sizeof(c));
	CHECK(queue_foreach_node(spool, node_fn, &c) == 0);
	CHECK(c.n == 1 && strcmp(c.ids[0], "lock.example") == 0);
	CHECK(queue_hold_name("dialup.example", q, sizeof(q)) == 0);
	CHECK(enqueue(q, "held\n", id) == 0);
	CHECK(queue_hold_name("b.example", q, sizeof(q)) == 0);
	CHECK(enqueue(q, "held\n", id) == 0);
	CHECK(queue_count(spool, q) == 1);
	/* junk in hold/ is not a node */
	snprintf(path, sizeof(path), "%s/hold/bad_name", spool);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/hold/.hidden", spool);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/hold/file.example", spool);
	{
		int fd = open(path, O_CREAT | O_WRONLY, 0600);
		if (fd >= 0)
			close(fd);
	}
	memset(&c, 0, sizeof(c));
	CHECK(queue_foreach_node(spool, node_fn, &c) == 0);
	CHECK(c.n == 3);
	CHECK_STR(c.ids[0], "b.example");
	CHECK_STR(c.ids[1], "dialup.example");
	CHECK_STR(c.ids[2], "lock.example");
}

static int parse_str(const char *s)
{
	return queue_env_parse(s, strlen(s), &env2);
}

static void test_parse(void)
{
	static const char good[] =
	    "postern-queue 1\nid 1700000000.M1P2Q3.h\nsender a@b.example\n"
	    "arrival 1700000000\nattempts 2\nnext-try 0\nsize 10\n"
	    "rcpt P x@y.example\nrcpt D z@y.example 250 ok\nend\n";
	static const char *const bad[] = {
		"",
		"postern-queue 2\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n",
		/* missing end */
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\n",
		/* no rcpt */
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nend\n",
		/* trailing junk */
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\nx",
		/* bad numbers */
		"postern-queue 1\nid a\nsender <>\narrival -1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 4294967296\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 99999999999999999999\nrcpt P x@y\nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts +1\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts \n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n",
		/* bad state, bad id, spaces, CR, empty reply */
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt X x@y\nend\n",
		"postern-queue 1\nid ../a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 1\nid a\nsender a b\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y 250\rok\nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y \nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P \nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcptP x@y\nend\n",
		/* fields out of order */
		"postern-queue 1\nsender <>\nid a\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 1\r\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n",
		/* version 2: xtext canonical, flags strict */
		"postern-queue 2\nid a\nsender a b@c\nsmtputf8 0\nbody NONE\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender a+2x@c\nsmtputf8 0\nbody NONE\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender a+41@c\nsmtputf8 0\nbody NONE\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender a+0D+0A@c\nsmtputf8 0\n"
		    "body NONE\narrival 1\nattempts 0\nnext-try 0\nsize 1\n"
		    "rcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender a+00@c\nsmtputf8 0\nbody NONE\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender a+2@c\nsmtputf8 0\nbody NONE\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender a@c+2\nsmtputf8 0\nbody NONE\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender <>\nsmtputf8 2\nbody NONE\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender <>\nsmtputf8 0\nbody 8bitmime\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender <>\nbody NONE\nsmtputf8 0\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x@y\nend\n",
		"postern-queue 2\nid a\nsender <>\nsmtputf8 0\nbody NONE\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P x\xc3\xa9@y\n"
		    "end\n",
		/* warned: a positive number, only after size */
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nwarned 0\nrcpt P x@y\nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nwarned x\nrcpt P x@y\nend\n",
		"postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
		    "next-try 0\nwarned 5\nsize 1\nrcpt P x@y\nend\n",
	};
	static const char warned[] =
	    "postern-queue 1\nid a\nsender <>\narrival 1\nattempts 0\n"
	    "next-try 0\nsize 1\nwarned 1700000000\nrcpt P x@y\nend\n";
	size_t i;
	long n;

	/* version 1 is still read; version 2 is what is written */
	static const char warned2[] =
	    "postern-queue 2\nid a\nsender <>\nsmtputf8 0\nbody NONE\n"
	    "arrival 1\nattempts 0\n"
	    "next-try 0\nsize 1\nwarned 1700000000\nrcpt P x@y\nend\n";
	static const char good2[] =
	    "postern-queue 2\nid 1700000000.M1P2Q3.h\nsender a@b.example\n"
	    "smtputf8 0\nbody NONE\n"
	    "arrival 1700000000\nattempts 2\nnext-try 0\nsize 10\n"
	    "rcpt P x@y.example\nrcpt D z@y.example 250 ok\nend\n";

	CHECK(parse_str(warned) == 0 && env2.warned == 1700000000);
	n = queue_env_format(&env2, text, sizeof(text));
	CHECK(n == (long)strlen(warned2) &&
	    memcmp(text, warned2, (size_t)n) == 0);
	CHECK(parse_str(good) == 0);
	CHECK(env2.nrcpt == 2 && env2.attempts == 2 && env2.size == 10 &&
	    env2.warned == 0 && !env2.smtputf8 && env2.body == QUEUE_BODY_NONE);
	CHECK_STR(env2.rcpt[1].last_reply, "250 ok");
	CHECK(env2.rcpt[0].last_reply[0] == '\0');
	n = queue_env_format(&env2, text, sizeof(text));
	CHECK(n == (long)strlen(good2) && memcmp(text, good2, (size_t)n) == 0);
	/* format(parse(x)) == x for version 2 */
	CHECK(parse_str(good2) == 0);
	n = queue_env_format(&env2, text, sizeof(text));
	CHECK(n == (long)strlen(good2) && memcmp(text, good2, (size_t)n) == 0);
	/* a version 1 UTF-8 address means SMTPUTF8 */
	CHECK(parse_str("postern-queue 1\nid a\nsender <>\narrival 1\n"
	    "attempts 0\nnext-try 0\nsize 1\nrcpt P \xc3\xa9@y\nend\n") == 0 &&
	    env2.smtputf8 == 1);
	/* too small a buffer */
	errno = 0;
	CHECK(queue_env_format(&env2, text, 50) == -1 && errno == ENOSPC);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse_str(bad[i]);
		if (r != -1)
			printf("FAIL: bad envelope %zu parsed\n", i);
		CHECK(r == -1);
	}
	/* any RFC 5321 mailbox survives: blanks, quoted-pairs, UTF-8 */
	{
		static const char exact[] =
		    "postern-queue 2\nid q\nsender \"john+20doe\"@example.net\n"
		    "smtputf8 1\nbody 8BITMIME\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P \"a\\\"b\"@example.net\n"
		    "rcpt P +C3+A9l+C3+A8ve@+C3+A9cole.example 250 ok\n"
		    "rcpt F a+2Bb+3Dc@x\nend\n";
		CHECK(parse_str(exact) == 0);
		CHECK_STR(env2.sender, "\"john doe\"@example.net");
		CHECK_STR(env2.rcpt[0].addr, "\"a\\\"b\"@example.net");
		CHECK_STR(env2.rcpt[1].addr,
		    "\xc3\xa9" "l\xc3\xa8" "ve@\xc3\xa9" "cole.example");
		CHECK_STR(env2.rcpt[2].addr, "a+b=c@x");
		CHECK(env2.smtputf8 == 1 && env2.body == QUEUE_BODY_8BITMIME);
		n = queue_env_format(&env2, text, sizeof(text));
		CHECK(n == (long)strlen(exact) &&
		    memcmp(text, exact, (size_t)n) == 0);
		/* a control character cannot be written */
		snprintf(env2.sender, sizeof(env2.sender), "a\r\nb@c");
		errno = 0;
		CHECK(queue_env_format(&env2, text, sizeof(text)) == -1 &&
		    errno == EINVAL);
	}
	/* RFC 3461 fields: RET, ENVID (xtext), per recipient NOTIFY/ORCPT */
	{
		static const char dsn[] =
		    "postern-queue 2\nid d\nsender a@b\nsmtputf8 0\nbody NONE\n"
		    "ret HDRS\nenvid QQ+2B314\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\n"
		    "dsn NEVER -\nrcpt P x@y\n"
		    "dsn SUCCESS,DELAY rfc822;x+2By@y\nrcpt P x+2By@y\n"
		    "rcpt P z@y\n"
		    "dsn - utf-8;\\x{E9}@y\nrcpt P e@y\nend\n";
		static const char *const dsn_bad[] = {
			"dsn FAILURE,SUCCESS -\nrcpt P x@y\n",
			"dsn SUCCESS,SUCCESS -\nrcpt P x@y\n",
			"dsn SUCCESS, -\nrcpt P x@y\n",
			"dsn NEVER,SUCCESS -\nrcpt P x@y\n",
			"dsn - -\nrcpt P x@y\n",
			"dsn SUCCESS rfc822;\nrcpt P x@y\n",
			"dsn SUCCESS ;x@y\nrcpt P x@y\n",
			"dsn SUCCESS rfc822;a+2b@y\nrcpt P x@y\n",
			"dsn SUCCESS rfc822;a=b@y\nrcpt P x@y\n",
			"dsn SUCCESS -\nend\n",
			"dsn SUCCESS -\ndsn SUCCESS -\nrcpt P x@y\n",
			"dsn success -\nrcpt P x@y\n",
		};
		static const char head[] =
		    "postern-queue 2\nid d\nsender <>\nsmtputf8 0\nbody NONE\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\n";
		char t[600];

		CHECK(parse_str(dsn) == 0);
		CHECK(env2.ret == QUEUE_RET_HDRS);
		CHECK_STR(env2.envid, "QQ+314");
		CHECK(env2.nrcpt == 4 && env2.rcpt[0].notify == QUEUE_NOTIFY_NEVER &&
		    env2.rcpt[0].orcpt[0] == '\0');
		CHECK(env2.rcpt[1].notify ==
		    (QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_DELAY));
		CHECK_STR(env2.rcpt[1].orcpt, "rfc822;x+2By@y");
		CHECK(env2.rcpt[2].notify == 0 && env2.rcpt[2].orcpt[0] == '\0');
		CHECK_STR(env2.rcpt[3].orcpt, "utf-8;\\x{E9}@y");
		n = queue_env_format(&env2, text, sizeof(text));
		CHECK(n == (long)strlen(dsn) && memcmp(text, dsn, (size_t)n) == 0);
		for (i = 0; i < sizeof(dsn_bad) / sizeof(dsn_bad[0]); i++) {
			snprintf(t, sizeof(t), "%s%send\n", head, dsn_bad[i]);
			if (parse_str(t) != -1)
				printf("FAIL: bad dsn line %zu parsed\n", i);
			CHECK(parse_str(t) == -1);
		}
		snprintf(t, sizeof(t), "%sret FULL\nenvid a\n", head);
		CHECK(parse_str(t) == -1);     /* ret/envid only after body */
		CHECK(parse_str("postern-queue 2\nid d\nsender <>\nsmtputf8 0\n"
		    "body NONE\nenvid a+20b\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n") == -1);
		CHECK(parse_str("postern-queue 2\nid d\nsender <>\nsmtputf8 0\n"
		    "body NONE\nenvid a\nret FULL\narrival 1\nattempts 0\n"
		    "next-try 0\nsize 1\nrcpt P x@y\nend\n") == -1);
		CHECK(parse_str("postern-queue 1\nid d\nsender <>\narrival 1\n"
		    "attempts 0\nnext-try 0\nsize 1\ndsn NEVER -\nrcpt P x@y\n"
		    "end\n") == -1);
	}
	/* the largest envelope (every address 8-bit, so xtext triples it,
	 * every reply full) fits the documented bound */
	{
		size_t k;
		memset(&env2, 0, sizeof(env2));
		snprintf(env2.id, sizeof(env2.id), "big");
		memset(env2.sender, 0xe9, ADDR_MAX);
		env2.sender[ADDR_MAX] = '\0';
		env2.nrcpt = QUEUE_RCPT_MAX;
		for (k = 0; k < QUEUE_RCPT_MAX; k++) {
			memcpy(env2.rcpt[k].addr, env2.sender, ADDR_MAX + 1);
			env2.rcpt[k].state = QUEUE_FAILED;
			env2.rcpt[k].notify = QUEUE_NOTIFY_SUCCESS |
			    QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY;
			memset(env2.rcpt[k].orcpt, 'o', QUEUE_ORCPT_MAX);
			memcpy(env2.rcpt[k].orcpt, "rfc822;", 7);
			env2.rcpt[k].orcpt[QUEUE_ORCPT_MAX] = '\0';
			memset(env2.rcpt[k].last_reply, 'r',
			    sizeof(env2.rcpt[k].last_reply) - 1);
		}
		n = queue_env_format(&env2, text, sizeof(text));
		CHECK(n > 160000 && n < QUEUE_ENV_TEXT_MAX);
		CHECK(n > 0 && queue_env_parse(text, (size_t)n, &env) == 0 &&
		    env.nrcpt == QUEUE_RCPT_MAX &&
		    memcmp(env.rcpt[99].addr, env2.sender, ADDR_MAX + 1) == 0);
	}
	/* a NUL inside */
	{
		char t[sizeof(good)];
		memcpy(t, good, sizeof(good));
		t[20] = '\0';
		CHECK(queue_env_parse(t, sizeof(good) - 1, &env2) == -1);
	}
	/* every truncation of a good envelope is refused */
	for (i = 0; i < sizeof(good) - 1; i++)
		CHECK(queue_env_parse(good, i, &env2) == -1);
	/* too many recipients, too long an address or reply */
	{
		size_t o = (size_t)snprintf(text, sizeof(text), "postern-queue 1\n"
		    "id a\nsender <>\narrival 1\nattempts 0\nnext-try 0\n"
		    "size 1\n");
		for (i = 0; i < QUEUE_RCPT_MAX + 1; i++)
			o += (size_t)snprintf(text + o, sizeof(text) - o,
			    "rcpt P a@b\n");
		o += (size_t)snprintf(text + o, sizeof(text) - o, "end\n");
		CHECK(queue_env_parse(text, o, &env2) == -1);
	}
	{
		char t[2000];
		char addr[ADDR_MAX + 2];
		memset(addr, 'a', sizeof(addr) - 1);
		addr[sizeof(addr) - 1] = '\0';
		snprintf(t, sizeof(t), "postern-queue 1\nid a\nsender <>\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P %s\n"
		    "end\n", addr);
		CHECK(parse_str(t) == -1);
		addr[ADDR_MAX] = '\0';
		snprintf(t, sizeof(t), "postern-queue 1\nid a\nsender <>\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P %s\n"
		    "end\n", addr);
		CHECK(parse_str(t) == 0);
		char reply[201];
		memset(reply, 'r', 200);
		reply[200] = '\0';
		snprintf(t, sizeof(t), "postern-queue 1\nid a\nsender <>\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P a@b %s\n"
		    "end\n", reply);
		CHECK(parse_str(t) == -1);
		reply[199] = '\0';
		snprintf(t, sizeof(t), "postern-queue 1\nid a\nsender <>\n"
		    "arrival 1\nattempts 0\nnext-try 0\nsize 1\nrcpt P a@b %s\n"
		    "end\n", reply);
		CHECK(parse_str(t) == 0);
	}
	/* random garbage and mutated envelopes: -1 or a sane result */
	{
		unsigned seed = 12345;
		int crashes = 0;
		for (i = 0; i < 20000; i++) {
			char t[sizeof(good)];
			size_t k, len = sizeof(good) - 1;
			memcpy(t, good, len);
			for (k = 0; k < 3; k++) {
				seed = seed * 1103515245u + 12345u;
				t[(seed >> 8) % len] = (char)(seed >> 20);
			}
			if (queue_env_parse(t, len, &env2) == 0 &&
			    (env2.nrcpt < 1 || env2.nrcpt > QUEUE_RCPT_MAX ||
			    strlen(env2.id) >= QUEUE_ID_MAX ||
			    !queue_id_valid(env2.id)))
				crashes++;
		}
		CHECK(crashes == 0);
		memset(text, 0xff, sizeof(text));
		CHECK(queue_env_parse(text, sizeof(text), &env2) == -1);
	}
}

int main(void)
{
	char cwd[256];

	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	snprintf(spool, sizeof(spool), "%s/tests/tmp/queue_test.%ld/spool",
	    cwd, (long)getpid());
	mkdir("tests", 0755);
	mkdir("tests/tmp", 0755);
	test_names();
	test_cycle();
	test_crash();
	test_lock();
	test_nodes();
	test_parse();
	{
		char top[700];
		snprintf(top, sizeof(top), "%s/tests/tmp/queue_test.%ld", cwd,
		    (long)getpid());
		rm_rf(top);
	}
	return TEST_SUMMARY();
}
