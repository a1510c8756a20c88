/* atrn.c - the turnaround of etrn-client --atrn: after the provider's 250
 * to ATRN we are the SMTP server on the same connection. Rather than a
 * second server, smtp-handler itself serves it (fork + exec, with
 * --session-status so that its exit status says whether the provider
 * ended with QUIT); over TLS, relay_tls() joins its pipes to the TLS
 * session that etrn-client holds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "atrn.h"
#include "clock.h"
#include "io.h"
#include "log.h"
#include "tlsrelay.h"
#include "util.h"

#define ARGV_MAX (ATRN_ARGS_MAX + 8)

int
atrn_split_args(const char *s, char *buf, size_t size, char **argv,
    size_t max)
{
	size_t n = 0, len = 0;

	while (*s) {
		s += strspn(s, " \t");
		if (!*s)
			break;
		size_t w = strcspn(s, " \t");
		if (n == max || len + w + 1 > size)
			return -1;
		memcpy(buf + len, s, w);
		buf[len + w] = '\0';
		argv[n++] = buf + len;
		len += w + 1;
		s += w;
	}
	argv[n] = NULL;                 /* argv has max + 1 slots */
	return (int)n;
}

int
atrn_default_handler(char *buf, size_t size)
{
	static const char rel[] = "/../libexec/postern/smtp-handler";
	char *slash;
	ssize_t n;

	if (size < sizeof rel + 2)
		return -1;
	n = readlink("/proc/self/exe", buf, size - sizeof rel);
	if (n <= 0 || (size_t)n >= size - sizeof rel)
		return -1;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return -1;
	memcpy(slash, rel, sizeof rel);
	return 0;
}

/* "addr" / port of the socket's peer (peer 1) or own side (0) into the
 * environment variable names given. */
static void
export_addr(int fd, int peer, const char *ip_var, const char *port_var)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN], port[8];
	const void *a;
	unsigned p;

	if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &len) :
	    getsockname(fd, (struct sockaddr *)&ss, &len)) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		a = &s4->sin_addr;
		p = ntohs(s4->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		a = &s6->sin6_addr;
		p = ntohs(s6->sin6_port);
	} else
		return;
	if (inet_ntop(ss.ss_family, a, host, sizeof host) == NULL)
		return;
	snprintf(port, sizeof port, "%u", p);
	setenv(ip_var, host, 1);
	setenv(port_var, port, 1);
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/* Waits for the handler, at most until deadline (clock_ms(), 0 = none);
 * then SIGTERM, and SIGKILL 5 s later. Returns its wait status, -1 when
 * it had to be killed. */
static int
wait_handler(pid_t pid, int64_t deadline)
{
	struct sigaction sa;
	int64_t left;
	int st, killed = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;       /* no SA_RESTART: waitpid returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	for (;;) {
		alarm(0);
		if (deadline) {
			left = deadline - clock_ms();
			alarm(left <= 0 ? 1 : (unsigned)((left + 999) / 1000));
		}
		if (waitpid(pid, &st, 0) == pid) {
			alarm(0);
			return killed ? -1 : st;
		}
		if (errno != EINTR) {
			alarm(0);
			return -1;
		}
		if (deadline && clock_ms() >= deadline) {
			log_msg(LOG_ERR, "smtp-handler (pid %ld) still runs after "
			    "the deadline: %s", (long)pid, killed ? "SIGKILL" :
			    "SIGTERM");
			kill(pid, killed ? SIGKILL : SIGTERM);
			killed = 1;
			deadline = clock_ms() + 5000;
		}
	}
}

/* In the child: the connection (or pipes) as stdin/stdout, then exec. */
static void
run_handler(int in_fd, int out_fd, char *const *argv)
{
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0)
		_exit(EX_OSERR);
	signal(SIGPIPE, SIG_DFL);
	execv(argv[0], argv);
	log_msg(LOG_ERR, "%s: %s", argv[0], strerror(errno));
	_exit(EX_OSERR);
}

int
atrn_turn(struct smtpc *c, const struct atrn_opts *o)
{
	char *argv[ARGV_MAX];
	int to_child[2], from_child[2], st, r;
	size_t n = 0, i;
	const char *err = NULL;
	pid_t pid;

	/* the provider speaks next only after our greeting */
	if (io_pending(&c->io) > 0) {
		log_msg(LOG_ERR, "%s: the provider sent %zu bytes before our "
		    "greeting: not turning around", c->peer,
		    io_pending(&c->io));
		return EX_TEMPFAIL;
	}
	argv[n++] = (char *)o->handler;
	argv[n++] = (char *)"--users";
	argv[n++] = (char *)o->users;
	argv[n++] = (char *)"--session-status";
	for (i = 0; o->args && o->args[i] && n < ARGV_MAX - 1; i++)
		argv[n++] = o->args[i];
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);

	if (!c->tls_on) {
		log_msg(LOG_INFO, "%s: turned around: %s serves the connection",
		    c->peer, o->handler);
		pid = fork();
		if (pid < 0) {
			log_msg(LOG_ERR, "fork: %s", strerror(errno));
			return EX_TEMPFAIL;
		}
		if (pid == 0)
			run_handler(c->fd, c->fd, argv);
		st = wait_handler(pid, c->session_deadline);
	} else {
		if (pipe2(to_child, O_CLOEXEC) < 0) {
			log_msg(LOG_ERR, "pipe: %s", strerror(errno));
			return EX_TEMPFAIL;
		}
		if (pipe2(from_child, O_CLOEXEC) < 0) {
			log_msg(LOG_ERR, "pipe: %s", strerror(errno));
			close(to_child[0]);
			close(to_child[1]);
			return EX_TEMPFAIL;
		}
		log_msg(LOG_INFO, "%s: turned around: %s serves the connection "
		    "through TLS", c->peer, o->handler);
		pid = fork();
		if (pid < 0) {
			log_msg(LOG_ERR, "fork: %s", strerror(errno));
			close(to_child[0]);
			close(to_child[1]);
			close(from_child[0]);
			close(from_child[1]);
			return EX_TEMPFAIL;
		}
		if (pid == 0) {
			/* stdin is a pipe: the handler takes the peer from
			 * the environment (tcpserver's names) */
			export_addr(c->fd, 1, "TCPREMOTEIP", "TCPREMOTEPORT");
			export_addr(c->fd, 0, "TCPLOCALIP", "TCPLOCALPORT");
			run_handler(to_child[0], from_child[1], argv);
		}
		close(to_child[0]);
		close(from_child[1]);
		r = relay_tls(&c->tls, c->fd, to_child[1], from_child[0],
		    o->timeout, c->session_deadline, &err);
		if (r < 0) {
			log_msg(LOG_ERR, "%s: relay: %s", c->peer, err);
			kill(pid, SIGTERM);
		} else if (r == 1)
			log_msg(LOG_INFO, "%s: the provider ended the TLS "
			    "session", c->peer);
		st = wait_handler(pid, deadline_in(o->timeout));
		if (r < 0)
			st = -1;
	}
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		log_msg(LOG_INFO, "%s: turned-around session ended with QUIT",
		    c->peer);
		return EX_OK;
	}
	if (st != -1 && WIFEXITED(st))
		log_msg(LOG_WARNING, "%s: turned-around session cut short or "
		    "with temporary failures: mail may be left at the "
		    "provider (smtp-handler exit %d)", c->peer,
		    WEXITSTATUS(st));
	else if (st != -1 && WIFSIGNALED(st))
		log_msg(LOG_WARNING, "%s: smtp-handler killed by signal %d",
		    c->peer, WTERMSIG(st));
	else
		log_msg(LOG_WARNING, "%s: turned-around session failed",
		    c->peer);
	return EX_TEMPFAIL;
}
