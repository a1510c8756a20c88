/* tls_client.c - the client side (etrn-client): postern's policy, trust
 * anchors, a mandatory server name check, an optional client
 * certificate. */
#include <stddef.h>
#include <string.h>

#include "tls.h"

int
tls_client_start(struct tls *t, const struct tls_anchors *anchors,
    const char *server_name, const struct tls_cred *cred,
    int rfd, int wfd, int64_t deadline, const char **error_r)
{
	br_ssl_client_context *cc = &t->ctx.c;
	br_ssl_engine_context *eng = &cc->eng;

	memset(t, 0, offsetof(struct tls, iobuf));
	t->rfd = rfd;
	t->wfd = wfd;
	if (server_name == NULL || server_name[0] == '\0') {
		*error_r = "TLS: no server name to check the certificate against";
		return -1;
	}
	if (anchors == NULL || anchors->n == 0) {
		*error_r = "TLS: no trust anchors";
		return -1;
	}
	br_ssl_client_init_full(cc, &t->xc, anchors->ta, anchors->n);
	t->eng = eng;
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, tls_suites, tls_suites_n);
	br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
	if (cred != NULL) {
		if (cred->key_type == BR_KEYTYPE_RSA)
			br_ssl_client_set_single_rsa(cc, cred->chain,
			    cred->chain_len,
			    br_skey_decoder_get_rsa(&cred->skey),
			    br_rsa_pkcs1_sign_get_default());
		else
			br_ssl_client_set_single_ec(cc, cred->chain,
			    cred->chain_len,
			    br_skey_decoder_get_ec(&cred->skey),
			    BR_KEYTYPE_SIGN, (unsigned)cred->issuer_key_type,
			    br_ec_get_default(),
			    br_ecdsa_sign_asn1_get_default());
	}
	br_ssl_engine_set_buffer(eng, t->iobuf, sizeof t->iobuf, 1);
	if (tls_entropy(eng) < 0) {
		*error_r = "TLS: getrandom() failed";
		return -1;
	}
	if (!br_ssl_client_reset(cc, server_name, 0)) {
		*error_r = tls_handshake_error(t, "TLS set-up failed");
		return -1;
	}
	if (tls_run(t, BR_SSL_SENDAPP, deadline) < 0) {
		*error_r = tls_handshake_error(t, "TLS handshake failed");
		return -1;
	}
	return 0;
}
