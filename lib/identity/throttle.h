/* throttle.h - per-client-address login failure throttle shared across
 * connections (each one its own process) through a small fixed-size state
 * file (a hash table of slots, flock'ed); its size never grows. */
#ifndef POSTERN_THROTTLE_H
#define POSTERN_THROTTLE_H

#define THROTTLE_DEFAULT "/var/lib/postern/throttle"

/* One login attempt from addr, checked and recorded under one lock.
 * Returns the seconds the client must still wait: then nothing is
 * recorded and the attempt must be refused without verifying anything.
 * Returns 0 to go ahead: the attempt is then already recorded as a
 * pending failure (*pending_r = 1), which counts for every other session
 * at once and stays a failure unless throttle_withdraw() takes it back
 * (so a session that crashes while verifying has failed). Any trouble
 * with the file returns 0 with *pending_r = 0 (fail open: the
 * per-connection limit still holds) and logs once. */
unsigned throttle_attempt(const char *path, const char *addr, int *pending_r);

/* The attempt throttle_attempt() let through did not fail (a success, or
 * an outcome that is not counted: locked, barred, temporary failure):
 * takes its pending failure back. The address's other failures stay (a
 * success does not clear them: else one valid account would buy fresh
 * guesses at another), and the next attempt still waits its delay from
 * this one. */
void throttle_withdraw(const char *path, const char *addr);

/* Records a failure that was not a throttle_attempt() (e.g. an invalid
 * user name, a refused certificate identity). */
void throttle_failed(const char *path, const char *addr);

/* The wait left for addr, without recording anything (tests, logs). */
unsigned throttle_delay(const char *path, const char *addr);

/* Additive: the number of recent failures recorded for addr's own key
 * (for log lines and tests; a prefix key such as "2001:db8:1::/48" or
 * "192.0.2.0/24" is looked up as text); 0 on any trouble.
 * Policy (throttle.c): failures older than 15 minutes are forgotten; the
 * first 3 cost nothing; then 2, 4, 8 ... seconds after the last failure,
 * at most 60. Pending failures count. IPv6 addresses count by their /64;
 * the failures of an address also count for its /24 (IPv4) or its /48
 * and /32 (IPv6), and a prefix with 8 (IPv4) or 4 (IPv6) failing
 * children is throttled as one address. addr is compared as text (at
 * most 63 octets; a longer one is not throttled). The file has 1024
 * slots; a new key takes a free one among 8 neighbours, else the one
 * with the fewest failures (then the oldest). */
unsigned throttle_failures(const char *path, const char *addr);

#endif
