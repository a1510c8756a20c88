/* tls_cred_fuzz.c - lib/tls_cred: PEM and DER decoding of certificate
 * chains, private keys and CA bundles from files an administrator may
 * have got wrong. Input: CERTFILE NUL KEYFILE (no NUL: one file holds
 * both). Both loaders must fail cleanly or succeed, and free all they
 * allocated (leaks are reported). */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "tls.h"

static char certp[600], keyp[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *d = fuzz_scratch("tls_cred");

	(void)argc;
	(void)argv;
	snprintf(certp, sizeof certp, "%s/cert.pem", d);
	snprintf(keyp, sizeof keyp, "%s/key.pem", d);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tls_cred c;
	static struct tls_anchors a;
	const uint8_t *cert, *key;
	size_t clen, klen;
	const char *err = NULL, *warn = NULL;

	if (!certp[0])
		LLVMFuzzerInitialize(NULL, NULL);
	fuzz_split(data, size, 0, &cert, &clen, &key, &klen);
	fuzz_write_file(certp, cert, clen);
	if (cert + clen == data + size) {
		if (tls_cred_load(&c, certp, certp, &err, &warn) == 0)
			tls_cred_free(&c);
	} else {
		fuzz_write_file(keyp, key, klen);
		if (tls_cred_load(&c, certp, keyp, &err, &warn) == 0) {
			FUZZ_CHECK(c.chain_len >= 1);
			tls_cred_free(&c);
		} else
			FUZZ_CHECK(err != NULL);
	}
	if (tls_anchors_load(&a, certp, &err) == 0) {
		FUZZ_CHECK(a.n >= 1);
		tls_anchors_free(&a);
	}
	return 0;
}
