/* throttle.c - per-client-address login failure throttle shared by all
 * connection processes through one fixed-size state file: a header and
 * THROTTLE_SLOTS slots {address, failures, time of the last failure},
 * found by hashing the address text and probing a few neighbours. Every
 * access holds flock(LOCK_EX); the file is created (or, when its size or
 * header is wrong, re-initialised) at its full size and never grows.
 * Policy: failures older than THROTTLE_WINDOW seconds are forgotten; the
 * first THROTTLE_FREE failures cost nothing, then each further failure
 * doubles the wait (2, 4, 8 ... seconds after the last failure), capped
 * at THROTTLE_MAX_DELAY. The check and the record are one step under
 * the lock (throttle_attempt): an attempt that may go ahead is recorded
 * at once as a pending failure, so parallel sessions see it while its
 * password is being verified; a success takes it back
 * (throttle_withdraw), a failure or a crash leaves it.
 * Keys: an IPv4 address as it is (also when written ::ffff:a.b.c.d); an
 * IPv6 address by its /64, since one client commonly holds a whole /64
 * and would otherwise get fresh guesses from each of its 2^64 addresses;
 * anything else (e.g. "local") as text. */
#include "throttle.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define THROTTLE_SLOTS     1024
#define THROTTLE_PROBES    8
#define THROTTLE_WINDOW    (15 * 60)
#define THROTTLE_FREE      3
#define THROTTLE_MAX_DELAY 60
#define THROTTLE_ADDR_MAX  64

static const char magic[16] = "postern-thrtl-1";

struct header {
	char magic[16];
	uint32_t slots;
	uint32_t slot_size;
	char reserved[40];
};

struct slot {
	char addr[THROTTLE_ADDR_MAX];   /* NUL-terminated, "" = free */
	uint32_t failures;
	uint32_t reserved;
	int64_t last;                   /* time(NULL) of the last failure */
};

#define FILE_SIZE ((off_t)sizeof(struct header) + \
    (off_t)THROTTLE_SLOTS * (off_t)sizeof(struct slot))

static int complained;

static void
complain(const char *path, const char *what)
{
	if (complained)
		return;
	complained = 1;
	log_msg(LOG_WARNING, "throttle %s: %s: %s (not throttling)", path, what,
	    strerror(errno));
}

static uint32_t
hash_addr(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static off_t
slot_offset(uint32_t i)
{
	return (off_t)sizeof(struct header) +
	    (off_t)(i % THROTTLE_SLOTS) * (off_t)sizeof(struct slot);
}

static int
write_all(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t w = pwrite(fd, buf, n, off);

	return w == (ssize_t)n ? 0 : -1;
}

/* Called with the lock held: makes the file a valid empty table if its
 * size or header is wrong. */
static int
ensure_valid(int fd, const char *path)
{
	struct header h;
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -1;
	if (st.st_size == FILE_SIZE &&
	    pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
	    memcmp(h.magic, magic, sizeof magic) == 0 &&
	    h.slots == THROTTLE_SLOTS && h.slot_size == sizeof(struct slot))
		return 0;
	if (st.st_size != 0)
		log_msg(LOG_NOTICE, "throttle %s: bad size or header, "
		    "re-initialising", path);
	memset(&h, 0, sizeof h);
	memcpy(h.magic, magic, sizeof magic);
	h.slots = THROTTLE_SLOTS;
	h.slot_size = sizeof(struct slot);
	if (ftruncate(fd, 0) != 0 || ftruncate(fd, FILE_SIZE) != 0 ||
	    write_all(fd, &h, sizeof h, 0) != 0)
		return -1;
	return 0;
}

/* Opens and locks the file; -1 on trouble (logged once). */
static int
open_locked(const char *path)
{
	int fd;

	if (path == NULL || path[0] == '\0')
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
	    0600);
	if (fd < 0) {
		complain(path, "open");
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			complain(path, "flock");
			close(fd);
			return -1;
		}
	}
	if (ensure_valid(fd, path) != 0) {
		complain(path, "initialise");
		close(fd);
		return -1;
	}
	return fd;
}

static int
slot_live(const struct slot *s, int64_t now)
{
	return s->addr[0] != '\0' &&
	    memchr(s->addr, '\0', sizeof s->addr) != NULL &&
	    s->last <= now && now - s->last < THROTTLE_WINDOW;
}

/* Finds addr's live slot (1, *index_r), or the best slot to take for it
 * (0, *index_r: a free or stale probe slot, else the oldest). -1 I/O. */
static int
find_slot(int fd, const char *addr, int64_t now, struct slot *s,
    uint32_t *index_r)
{
	uint32_t h = hash_addr(addr), i, victim = h % THROTTLE_SLOTS;
	int64_t oldest = INT64_MAX;
	int have_free = 0;
	struct slot cur;

	for (i = 0; i < THROTTLE_PROBES; i++) {
		uint32_t k = (h + i) % THROTTLE_SLOTS;
		if (pread(fd, &cur, sizeof cur, slot_offset(k)) !=
		    (ssize_t)sizeof cur)
			return -1;
		if (!slot_live(&cur, now)) {
			if (!have_free) {
				have_free = 1;
				victim = k;
			}
			continue;
		}
		if (strcmp(cur.addr, addr) == 0) {
			*s = cur;
			*index_r = k;
			return 1;
		}
		if (!have_free && cur.last < oldest) {
			oldest = cur.last;
			victim = k;
		}
	}
	memset(s, 0, sizeof *s);
	*index_r = victim;
	return 0;
}

/* addr's key (see the top) into key[]: 0, or -1 when addr is unusable
 * (empty, or too long to be an address). */
static int
addr_key(const char *addr, char key[THROTTLE_ADDR_MAX])
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	unsigned char a6[16];
	size_t len;

	if (addr == NULL || addr[0] == '\0' ||
	    (len = strlen(addr)) >= THROTTLE_ADDR_MAX)
		return -1;
	if (strchr(addr, ':') != NULL && inet_pton(AF_INET6, addr, a6) == 1) {
		if (memcmp(a6, v4mapped, sizeof v4mapped) == 0)
			return inet_ntop(AF_INET, a6 + 12, key,
			    THROTTLE_ADDR_MAX) != NULL ? 0 : -1;
		memset(a6 + 8, 0, 8);
		/* at most 39 octets of text, then "/64" */
		if (inet_ntop(AF_INET6, a6, key, THROTTLE_ADDR_MAX - 3) == NULL)
			return -1;
		memcpy(key + strlen(key), "/64", 4);
		return 0;
	}
	memcpy(key, addr, len + 1);
	return 0;
}

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

static unsigned
delay_for(uint32_t failures)
{
	uint32_t n;

	if (failures <= THROTTLE_FREE)
		return 0;
	n = failures - THROTTLE_FREE;
	if (n >= 6)     /* 2^6 = 64 > 60 */
		return THROTTLE_MAX_DELAY;
	return (1u << n) > THROTTLE_MAX_DELAY ? THROTTLE_MAX_DELAY : 1u << n;
}

/* The wait left for a live slot s at now (0 = go ahead). */
static unsigned
wait_left(const struct slot *s, int64_t now)
{
	int64_t until = s->last + (int64_t)delay_for(s->failures);

	return until > now ? (unsigned)(until - now) : 0;
}

unsigned
throttle_delay(const char *path, const char *raw)
{
	char addr[THROTTLE_ADDR_MAX];
	struct slot s;
	uint32_t k;
	int64_t now = now_s();
	unsigned d = 0;
	int fd, r;

	if (addr_key(raw, addr) < 0 || (fd = open_locked(path)) < 0)
		return 0;
	r = find_slot(fd, addr, now, &s, &k);
	if (r == 1)
		d = wait_left(&s, now);
	else if (r < 0)
		complain(path, "read");
	close(fd);
	return d;
}

/* Adds one failure at now to addr's slot (the lock held). */
static void
add_failure(int fd, const char *path, const char *addr, int64_t now)
{
	struct slot s;
	uint32_t k;
	int r = find_slot(fd, addr, now, &s, &k);

	if (r < 0) {
		complain(path, "read");
		return;
	}
	if (r == 0)
		memcpy(s.addr, addr, strlen(addr) + 1);
	if (s.failures < UINT32_MAX)
		s.failures++;
	s.last = now;
	if (write_all(fd, &s, sizeof s, slot_offset(k)) != 0)
		complain(path, "write");
}

unsigned
throttle_attempt(const char *path, const char *raw, int *pending_r)
{
	char addr[THROTTLE_ADDR_MAX];
	struct slot s;
	uint32_t k;
	int64_t now = now_s();
	unsigned d = 0;
	int fd, r;

	*pending_r = 0;
	if (addr_key(raw, addr) < 0 || (fd = open_locked(path)) < 0)
		return 0;
	r = find_slot(fd, addr, now, &s, &k);
	if (r < 0)
		complain(path, "read");
	else if (r == 1)
		d = wait_left(&s, now);
	if (r >= 0 && d == 0) {
		add_failure(fd, path, addr, now);
		*pending_r = 1;
	}
	close(fd);
	return d;
}

unsigned
throttle_failures(const char *path, const char *raw)
{
	char addr[THROTTLE_ADDR_MAX];
	struct slot s;
	uint32_t k;
	unsigned n = 0;
	int fd;

	if (addr_key(raw, addr) < 0 || (fd = open_locked(path)) < 0)
		return 0;
	if (find_slot(fd, addr, now_s(), &s, &k) == 1)
		n = s.failures;
	close(fd);
	return n;
}

void
throttle_failed(const char *path, const char *raw)
{
	char addr[THROTTLE_ADDR_MAX];
	int fd;

	if (addr_key(raw, addr) < 0 || (fd = open_locked(path)) < 0)
		return;
	add_failure(fd, path, addr, now_s());
	close(fd);
}

/* Takes back one pending failure; the slot's time stays (it is the time
 * of the last attempt: the next one still waits its delay from it). */
void
throttle_withdraw(const char *path, const char *raw)
{
	char addr[THROTTLE_ADDR_MAX];
	struct slot s;
	uint32_t k;
	int fd;

	if (addr_key(raw, addr) < 0 || (fd = open_locked(path)) < 0)
		return;
	if (find_slot(fd, addr, now_s(), &s, &k) == 1 && s.failures > 0) {
		s.failures--;
		if (write_all(fd, &s, sizeof s, slot_offset(k)) != 0)
			complain(path, "write");
	}
	close(fd);
}
