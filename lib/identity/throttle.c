/* throttle.c - per-client-address login failure throttle shared by all
 * connection processes through one fixed-size state file: a header and
 * THROTTLE_SLOTS slots {key, failures, children, time of the last
 * failure}, found by hashing the key text and probing THROTTLE_PROBES
 * neighbours. Every access holds flock(LOCK_EX); the file is created (or,
 * when its size or header is wrong, re-initialised) at its full size and
 * never grows.
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
 * anything else (e.g. "local") as text.
 * Aggregates: every failure of an address is also counted in records of
 * its wider prefixes (IPv4 /24; IPv6 /48 and /32), which also count
 * their distinct failing children (the /64s of a /48, the /48s of a /32,
 * the addresses of a /24). Once a prefix has AGG_CHILDREN such children
 * it is throttled as one address by the same rule (its failures are the
 * sum of its children's), so spraying from many addresses of one network
 * buys a few free guesses, not 3 per address.
 * Eviction: a key that needs a slot takes a free or expired one among its
 * probes, else the one with the fewest failures (then the oldest): a
 * flood of new addresses with one failure each displaces its own kind,
 * not the record of an address (or prefix) with many. */
#include "throttle.h"
#include "log.h"
#include "fsutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
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
#define THROTTLE_LEVELS    3    /* the address and up to two prefixes */
#define AGG_CHILDREN_V6    4    /* failing /64s of a /48, /48s of a /32 */
#define AGG_CHILDREN_V4    8    /* failing addresses of a /24 */

static const char magic[16] = "postern-thrtl-1";

struct header {
	char magic[16];
	uint32_t slots;
	uint32_t slot_size;
	char reserved[40];
};

struct slot {
	char addr[THROTTLE_ADDR_MAX];   /* NUL-terminated, "" = free */
	uint32_t failures;              /* pending ones included */
	uint32_t children;              /* a prefix: its failing children */
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
	    fsutil_pwrite_all(fd, &h, sizeof h, 0) != 0)
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

/* Does slot a make a better victim than slot b (fewer failures, then
 * older)? */
static int
weaker(const struct slot *a, const struct slot *b)
{
	if (a->failures != b->failures)
		return a->failures < b->failures;
	return a->last < b->last;
}

/* Finds addr's live slot (1, *index_r), or the best slot to take for it
 * (0, *index_r: a free or expired probe slot, else the weakest, see the
 * top). -1 I/O. */
static int
find_slot(int fd, const char *addr, int64_t now, struct slot *s,
    uint32_t *index_r)
{
	uint32_t h = hash_addr(addr) % THROTTLE_SLOTS, i, victim = h;
	uint32_t first = THROTTLE_SLOTS - h < THROTTLE_PROBES ?
	    THROTTLE_SLOTS - h : THROTTLE_PROBES;
	int have_free = 0, have_victim = 0;
	struct slot win[THROTTLE_PROBES], weakest;
	size_t n1 = first * sizeof win[0], n2 = sizeof win - n1;

	/* the probe window in one read (two where it wraps) */
	if (pread(fd, win, n1, slot_offset(h)) != (ssize_t)n1 ||
	    (n2 > 0 && pread(fd, (char *)win + n1, n2, slot_offset(0)) !=
	    (ssize_t)n2))
		return -1;
	memset(&weakest, 0, sizeof weakest);
	for (i = 0; i < THROTTLE_PROBES; i++) {
		uint32_t k = (h + i) % THROTTLE_SLOTS;
		const struct slot cur = win[i];

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
		if (!have_free && (!have_victim || weaker(&cur, &weakest))) {
			have_victim = 1;
			weakest = cur;
			victim = k;
		}
	}
	memset(s, 0, sizeof *s);
	*index_r = victim;
	return 0;
}

/* The keys of an address: [0] the address itself, then its prefixes,
 * each with the number of failing children that puts it in force. */
struct keys {
	int n;
	char key[THROTTLE_LEVELS][THROTTLE_ADDR_MAX];
	uint32_t need[THROTTLE_LEVELS];
};

/* a[0..len) with the bits after prefix bits cleared, as text + "/bits" */
static int
prefix_key(int af, const unsigned char *a, size_t len, unsigned bits,
    char key[THROTTLE_ADDR_MAX])
{
	unsigned char p[16];
	size_t n;

	memset(p, 0, sizeof p);
	memcpy(p, a, bits / 8 < len ? bits / 8 : len);
	/* at most 39 octets of text, then "/NN" */
	if (inet_ntop(af, p, key, THROTTLE_ADDR_MAX - 4) == NULL)
		return -1;
	n = strlen(key);
	snprintf(key + n, THROTTLE_ADDR_MAX - n, "/%u", bits);
	return 0;
}

/* addr's keys (see the top): 0, or -1 when addr is unusable (empty, or
 * too long to be an address). */
static int
addr_keys(const char *addr, struct keys *k)
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	unsigned char a[16];
	size_t len;

	k->n = 0;
	if (addr == NULL || addr[0] == '\0' ||
	    (len = strlen(addr)) >= THROTTLE_ADDR_MAX)
		return -1;
	if (strchr(addr, ':') != NULL && inet_pton(AF_INET6, addr, a) == 1) {
		if (memcmp(a, v4mapped, sizeof v4mapped) == 0) {
			memmove(a, a + 12, 4);
			goto v4;
		}
		if (prefix_key(AF_INET6, a, 16, 64, k->key[0]) < 0 ||
		    prefix_key(AF_INET6, a, 16, 48, k->key[1]) < 0 ||
		    prefix_key(AF_INET6, a, 16, 32, k->key[2]) < 0)
			return -1;
		k->need[1] = k->need[2] = AGG_CHILDREN_V6;
		k->n = 3;
		return 0;
	}
	if (inet_pton(AF_INET, addr, a) == 1) {
v4:
		if (inet_ntop(AF_INET, a, k->key[0], THROTTLE_ADDR_MAX) ==
		    NULL || prefix_key(AF_INET, a, 4, 24, k->key[1]) < 0)
			return -1;
		k->need[1] = AGG_CHILDREN_V4;
		k->n = 2;
		return 0;
	}
	memcpy(k->key[0], addr, len + 1);
	k->n = 1;
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

/* The longest wait of k's records in force (the lock held); -1 I/O. */
static long
wait_keys(int fd, const struct keys *k, int64_t now)
{
	struct slot s;
	uint32_t idx;
	unsigned w, d = 0;
	int i, r;

	for (i = 0; i < k->n; i++) {
		r = find_slot(fd, k->key[i], now, &s, &idx);
		if (r < 0)
			return -1;
		if (r == 1 && (i == 0 || s.children >= k->need[i]) &&
		    (w = wait_left(&s, now)) > d)
			d = w;
	}
	return (long)d;
}

/* Adds one failure at now to every record of k (add), or takes one back
 * (!add), the lock held. Adding creates missing records and stamps the
 * time; taking back skips records that are gone and keeps the times
 * (the next attempt still waits from this one). A prefix counts a child
 * that went from no failures to one, and drops one that went back to
 * none. -1 I/O. */
static int
count_failure(int fd, const struct keys *k, int64_t now, int add)
{
	struct slot s;
	uint32_t idx;
	int i, r, edge = 0;

	for (i = 0; i < k->n; i++) {
		r = find_slot(fd, k->key[i], now, &s, &idx);
		if (r < 0)
			return -1;
		if (r == 0 && !add) {   /* evicted or expired */
			edge = 0;
			continue;
		}
		if (r == 0)
			memcpy(s.addr, k->key[i], strlen(k->key[i]) + 1);
		if (edge && add && s.children < UINT32_MAX)
			s.children++;
		else if (edge && !add && s.children > 0)
			s.children--;
		if (add) {
			edge = s.failures == 0;
			if (s.failures < UINT32_MAX)
				s.failures++;
			s.last = now;
		} else {
			edge = s.failures == 1;
			if (s.failures > 0)
				s.failures--;
		}
		if (fsutil_pwrite_all(fd, &s, sizeof s, slot_offset(idx)) != 0)
			return -1;
	}
	return 0;
}

unsigned
throttle_delay(const char *path, const char *raw)
{
	struct keys k;
	long d;
	int fd;

	if (addr_keys(raw, &k) < 0 || (fd = open_locked(path)) < 0)
		return 0;
	d = wait_keys(fd, &k, now_s());
	if (d < 0) {
		complain(path, "read");
		d = 0;
	}
	close(fd);
	return (unsigned)d;
}

unsigned
throttle_attempt(const char *path, const char *raw, int *pending_r)
{
	struct keys k;
	int64_t now = now_s();
	long d;
	int fd;

	*pending_r = 0;
	if (addr_keys(raw, &k) < 0 || (fd = open_locked(path)) < 0)
		return 0;
	d = wait_keys(fd, &k, now);
	if (d < 0) {
		complain(path, "read");
		d = 0;
	} else if (d == 0) {
		if (count_failure(fd, &k, now, 1) == 0)
			*pending_r = 1;
		else
			complain(path, "write");
	}
	close(fd);
	return (unsigned)d;
}

unsigned
throttle_failures(const char *path, const char *raw)
{
	struct keys k;
	struct slot s;
	uint32_t idx;
	unsigned n = 0;
	int fd;

	if (addr_keys(raw, &k) < 0 || (fd = open_locked(path)) < 0)
		return 0;
	if (find_slot(fd, k.key[0], now_s(), &s, &idx) == 1)
		n = s.failures;
	close(fd);
	return n;
}

void
throttle_failed(const char *path, const char *raw)
{
	struct keys k;
	int fd;

	if (addr_keys(raw, &k) < 0 || (fd = open_locked(path)) < 0)
		return;
	if (count_failure(fd, &k, now_s(), 1) != 0)
		complain(path, "write");
	close(fd);
}

/* Takes back one pending failure; the records' times stay (the time of
 * the last attempt: the next one still waits its delay from it). */
void
throttle_withdraw(const char *path, const char *raw)
{
	struct keys k;
	int fd;

	if (addr_keys(raw, &k) < 0 || (fd = open_locked(path)) < 0)
		return;
	if (count_failure(fd, &k, now_s(), 0) != 0)
		complain(path, "write");
	close(fd);
}
