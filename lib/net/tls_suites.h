/* tls_suites.h - the cipher suites postern's TLS allows (AEAD with
 * ECDHE only), in server preference order; shared by the engine
 * (tls.h) and the session cache (tls_cache.h). */
#ifndef POSTERN_TLS_SUITES_H
#define POSTERN_TLS_SUITES_H

#include <stddef.h>
#include <stdint.h>

extern const uint16_t tls_suites[];
extern const size_t tls_suites_n;

#endif
