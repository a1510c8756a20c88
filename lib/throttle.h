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

#endif
