/* proxy_fuzz.c - lib/proxy: the PROXY protocol header parser and the
 * reader. Properties: an accepted header is no longer than the input
 * (v1 at most 107 bytes) and names printable, parseable addresses; every
 * shorter prefix of it is "need more" (never accepted early, never
 * refused), with a hint that never reaches past the header; "need more"
 * never asks beyond PROXY_MAX; and proxy_read over the same bytes agrees
 * with the parser and leaves the file offset exactly at the header's
 * end (it never reads into what follows). */
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "proxy.h"

static void check_addr(const char *s)
{
	unsigned char bin[16];
	size_t n = strnlen(s, 64);

	FUZZ_CHECK(n > 0 && n < 64);
	FUZZ_CHECK(inet_pton(AF_INET, s, bin) == 1 ||
	    inet_pton(AF_INET6, s, bin) == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr h, h2;
	const char *err = NULL;
	size_t need = 0, k;
	long r, r2;
	int fd;

	if (size > PROXY_MAX + 64)
		return 0;
	r = proxy_parse(data, size, &h, &need, &err);
	if (r < 0) {
		FUZZ_CHECK(err != NULL);
	} else if (r == 0) {
		FUZZ_CHECK(need >= 1 && size + need <= PROXY_MAX);
	} else {
		FUZZ_CHECK((size_t)r <= size);
		FUZZ_CHECK(h.version == 1 || h.version == 2);
		if (h.version == 1)
			FUZZ_CHECK(r <= PROXY_V1_MAX);
		if (h.has_addr) {
			check_addr(h.src);
			check_addr(h.dst);
			FUZZ_CHECK(h.src_port <= 65535 && h.dst_port <= 65535);
		}
		/* the header alone gives the same answer */
		r2 = proxy_parse(data, (size_t)r, &h2, NULL, NULL);
		FUZZ_CHECK(r2 == r && memcmp(&h, &h2, sizeof h) == 0);
		/* every prefix is "need more", the hint inside the header */
		for (k = 0; k < (size_t)r; k = k < 128 ? k + 1 : k * 2) {
			r2 = proxy_parse(data, k, &h2, &need, NULL);
			FUZZ_CHECK(r2 == 0 && need >= 1 && k + need <= (size_t)r);
		}
		r2 = proxy_parse(data, (size_t)r - 1, &h2, &need, NULL);
		FUZZ_CHECK(r2 == 0 && need == 1);
	}
	/* the reader over the same bytes */
	fd = fuzz_memfd(data, size);
	if (fd >= 0) {
		int rr = proxy_read(fd, 0, &h2, &err);
		off_t at = lseek(fd, 0, SEEK_CUR);

		if (r > 0)
			FUZZ_CHECK(rr == 0 && at == (off_t)r);
		else
			FUZZ_CHECK(rr == -1);
		close(fd);
	}
	return 0;
}
