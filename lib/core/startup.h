/* startup.h - what every handler does before speaking: normalise the
 * connection onto fd 0/1 (inetd / StandardInput=socket, fd 3 from
 * systemd socket activation, or pipes), learn the peer, drop privileges,
 * and keep fd 2 safe. */
#ifndef POSTERN_STARTUP_H
#define POSTERN_STARTUP_H

#include <stddef.h>
#include <sys/types.h>

struct peer {
	char addr[64];      /* "192.0.2.1", "2001:db8::1", or "local" */
	unsigned port;      /* 0 when unknown */
	int is_socket;      /* fd 0 is a socket */
	int is_tcp;         /* fd 0 is an AF_INET/AF_INET6 stream socket */
	int is_loopback;    /* 127/8, ::1, a v4-mapped 127/8, AF_UNIX, or a pipe
	                     * (a pipe whose environment names a non-loopback
	                     * peer address is not loopback) */
	int is_pipe;        /* stdin is not a socket (a tester's pipe) */
	char local_addr[64];/* our side, "" when unknown */
	unsigned local_port;
	char via[64];       /* the balancer's address when --proxy-from
	                     * matched (proxy.h), else "" */
};

/* If systemd passed exactly one connected socket as fd 3 (LISTEN_FDS,
 * LISTEN_PID == getpid()), moves it to fd 0 and 1. Makes sure fds 0-2
 * are open (/dev/null for a missing one). If fd 2 is the client's
 * connection (xinetd, StandardInput=socket without StandardError=) it
 * is pointed at /dev/null so nothing can leak onto the wire.
 * Returns 0, or -1 (the program should exit 1). */
int startup_fds(void);

/* 1 if fd 2 was the client's connection at startup_fds() time. */
int startup_stderr_was_client(void);

/* Learns the peer: getpeername(0) when fd 0 is a socket (v4-mapped
 * printed as v4, AF_UNIX as "local", a socket without a peer "unknown");
 * else from TCPREMOTEIP, REMOTE_ADDR or REMOTE_HOST when they parse as
 * addresses (inet_pton; host names are ignored, never resolved), with
 * TCPREMOTEPORT/REMOTE_PORT and TCPLOCALIP/TCPLOCALPORT; else "local". */
void peer_get(struct peer *p);

/* When running as root and name is non-NULL: switches to that user
 * (initgroups, setgid, setuid, verified). Returns 0, -1 with *error_r. */
int startup_drop_user(const char *name, const char **error_r);

/* Refuses to go on as root (uid or effective uid 0, e.g. started as
 * root without --user) unless allow_root is set or the environment has
 * POSTERN_ALLOW_ROOT=1 (for test rigs whose spawner runs as root).
 * Call after startup_drop_user(). Returns 0, or -1 with *error_r. */
int startup_refuse_root(int allow_root, const char **error_r);

/* The groups for user: gid first, then every group of group_file (the
 * /etc/group format, read directly, no NSS) that lists user as a member,
 * each once, into list (at most max). Lines of any length are read;
 * malformed lines are skipped. A missing file gives gid alone. Returns
 * the count, or -1 with *error_r (a read error, or more than max). */
int startup_group_list(const char *group_file, const char *user, gid_t gid,
    gid_t *list, size_t max, const char **error_r);

/* 1 if addr (text) is inside one of the comma-separated CIDRs
 * ("192.0.2.0/24,2001:db8::/32,127.0.0.1"). Invalid entries never match;
 * *bad_r (may be NULL) is set to 1 if any entry was invalid. */
int cidr_match(const char *addr, const char *cidrs, int *bad_r);

/* Hostname for greetings when --hostname is not given. */
void startup_hostname(char *buf, size_t size);

#endif
