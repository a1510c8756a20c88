/* bench/floor.c - the benchmark floors: the least a per-connection program
 * can do, so that every handler figure can be read as a ratio to it.
 *
 * Built by bench/run in three ways:
 *   cc floor.c                      spawn floor: write "+OK\r\n" on fd 1,
 *                                   read one line on fd 0, exit
 *   cc -static floor.c              the same, statically linked
 *   cc -DFLOOR_TLS floor.c -lbearssl  TLS floor: the same over BearSSL on
 *                                   fds 0/1 (implicit TLS), TCP_NODELAY set,
 *                                   certificate chain and key decoded from
 *                                   PEM per connection (argv[1], argv[2])
 * With -DFLOOR_RSSWRAP it is instead the RSS shim used in the (untimed)
 * memory pass: rsswrap FILE PROG ARGS... runs PROG as its child, waits, and
 * appends the child's peak RSS in KiB (wait4 ru_maxrss, which covers the
 * child and the descendants it reaped) to FILE. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(FLOOR_TLS)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "brpem.h"

static int sock_read(void *ctx, unsigned char *buf, size_t len)
{
	(void)ctx;
	for (;;) {
		ssize_t n = read(0, buf, len);
		if (n > 0)
			return (int)n;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

static int sock_write(void *ctx, const unsigned char *buf, size_t len)
{
	(void)ctx;
	for (;;) {
		ssize_t n = write(1, buf, len);
		if (n > 0)
			return (int)n;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

int main(int argc, char **argv)
{
	static br_ssl_server_context sc;
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	static struct bp_key key;
	br_sslio_context io;
	size_t nchain;
	int one = 1;

	if (argc != 3)
		bp_die("usage: floor-tls CHAIN.pem KEY.pem", NULL);
	setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	br_x509_certificate *chain = bp_chain(argv[1], &nchain);
	bp_key(argv[2], &key);
	if (key.type == BR_KEYTYPE_EC)
		br_ssl_server_init_full_ec(&sc, chain, nchain, BR_KEYTYPE_RSA,
					   br_skey_decoder_get_ec(&key.dc));
	else
		br_ssl_server_init_full_rsa(&sc, chain, nchain, br_skey_decoder_get_rsa(&key.dc));
	br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
	if (!br_ssl_server_reset(&sc))
		return 1;
	br_sslio_init(&io, &sc.eng, sock_read, NULL, sock_write, NULL);
	if (br_sslio_write_all(&io, "+OK\r\n", 5) != 0 || br_sslio_flush(&io) != 0)
		return 1;
	for (;;) {
		unsigned char c;
		if (br_sslio_read(&io, &c, 1) != 1)
			return 1;
		if (c == '\n')
			break;
	}
	br_sslio_close(&io);
	return 0;
}

#elif defined(FLOOR_RSSWRAP)

int main(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: rsswrap FILE PROG [ARGS...]\n", stderr);
		return 64;
	}
	pid_t pid = fork();
	if (pid < 0)
		return 71;
	if (pid == 0) {
		execv(argv[2], argv + 2);
		_exit(127);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR)
			return 71;
	int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		char line[64];
		int n = snprintf(line, sizeof line, "%ld\n", ru.ru_maxrss);
		if (write(fd, line, (size_t)n) != n)
			st = 1;
		close(fd);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

#else

int main(void)
{
	char buf[512];
	if (write(1, "+OK\r\n", 5) != 5)
		return 1;
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || memchr(buf, '\n', (size_t)n))
			break;
	}
	return 0;
}

#endif
