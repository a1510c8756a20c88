/* throttle.h - per-client-address login failure throttle shared across
 * connections (each one its own process) through a small fixed-size state
 * file (a hash table of slots, flock'ed); its size never grows. */
#ifndef POSTERN_THROTTLE_H
#define POSTERN_THROTTLE_H

#define THROTTLE_DEFAULT "/var/lib/postern/throttle"

/* Seconds the client at addr must wait before its next attempt may be
 * verified (0 = go ahead). Any trouble with the file returns 0 (fail
 * open: the per-connection limit still holds) and logs once. */
unsigned throttle_delay(const char *path, const char *addr);

/* Records a failure / a success (success clears the address's slot). */
void throttle_failed(const char *path, const char *addr);
void throttle_succeeded(const char *path, const char *addr);

/* Additive: the number of recent failures recorded for addr (for log
 * lines and tests); 0 on any trouble.
 * Policy (throttle.c): failures older than 15 minutes are forgotten; the
 * first 3 cost nothing; then 2, 4, 8 ... seconds after the last failure,
 * at most 60. addr is compared as text (at most 63 octets; a longer one is
 * not throttled). The file has 1024 slots; when they are all in use the
 * oldest of a few neighbouring slots is reused. */
unsigned throttle_failures(const char *path, const char *addr);

#endif
