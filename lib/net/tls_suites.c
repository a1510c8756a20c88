/* tls_suites.c - the cipher suites postern's TLS allows, in server
 * preference order: a table of its own so that the engine (tls_server.c,
 * tls_client.c) and the session cache (tls_cache.c, which refuses a
 * cached session outside it) share it without needing each other. */
#include <bearssl.h>

#include "tls_suites.h"

/* Server preference order: AES-GCM first (AES-NI here), ChaCha20 for
 * clients without AES hardware; the key type filters ECDSA vs RSA. */
const uint16_t tls_suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};
const size_t tls_suites_n = sizeof tls_suites / sizeof tls_suites[0];
