/* dircache_fuzz.c - a saved listing (lib/dircache) read back by
 * maildir_scan_cached(). The input is the body of cur/'s copy put under a
 * header that carries cur/'s true stamp, so the reader takes every byte
 * of it as current: 4 octets, the header's total (0xffffffff: the sum of
 * the chunk lengths written), then chunks, each a uint32 len and
 *   - bit 31 clear: len and the octets that follow, copied as they are;
 *   - bits 31 and 30: no octets; a chunk of plain names taking exactly
 *     the scan buffer's slack (new/'s st_size), so that the next chunk
 *     is read into exactly DIRCACHE_CHUNK_MAX octets of buffer;
 *   - bit 31 only: a chunk of T = len & 0xfffff octets (may exceed
 *     DIRCACHE_CHUNK_MAX), then a uint16 k and k octets: T - k octets of
 *     skipped "." records, then those k octets, which so end exactly at
 *     the chunk's (and, after a slack chunk, the buffer's) end.
 * Whatever it holds: the scan succeeds, every name listed is a plain
 * file name (no '/', no NUL, not starting with '.', under 256 octets)
 * with a sane UIDL length, and once the copy is gone the listing is the
 * live one again (the three real files). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dircache.h"
#include "fuzz.h"
#include "maildir.h"

#define REAL_FILES 3
#define BUILT      (1u << 31)
#define SLACK      (1u << 30)
#define BUILT_LEN  0xfffffu
#define OUT_MAX    (4u << 20)       /* the copy written, at most */

static char md[600], cpath[700];
static struct dircache_stamp stamp;
static size_t slack;                /* new/'s st_size: the buffer's excess */

/* Appends a getdents64 record (reclen at 16, type at 18, name at 19). */
static void put_dent(unsigned char *o, size_t *pos, size_t reclen,
    unsigned char type, const char *name, size_t nlen)
{
	uint16_t rl = (uint16_t)reclen;

	memset(o + *pos, 0, reclen);
	memcpy(o + *pos + 16, &rl, 2);
	o[*pos + 18] = type;
	memcpy(o + *pos + 19, name, nlen);
	*pos += reclen;
}

/* n octets of records the reader skips ("." directories); fewer than
 * 20 cannot hold one record and stay zeros (a damaged copy). */
static void put_skipped(unsigned char *o, size_t *pos, size_t n)
{
	while (n >= 20) {
		size_t r = n > 65535 ? 65535 : n;
		if (n - r > 0 && n - r < 20)
			r -= 20;
		put_dent(o, pos, r, 4 /* DT_DIR */, ".", 1);
		n -= r;
	}
	memset(o + *pos, 0, n);
	*pos += n;
}

/* Records of plain names whose lengths sum to n. */
static void put_names(unsigned char *o, size_t *pos, size_t n)
{
	char name[256];

	memset(name, 'x', sizeof name);
	name[0] = 'p';
	while (n > 0) {
		size_t k = n > 200 ? 200 : n;
		put_dent(o, pos, 19 + k + 1, 8 /* DT_REG */, name, k);
		n -= k;
	}
}

/* The copy's body from the input (see the top of the file); its length. */
static size_t build(const uint8_t *in, size_t size, unsigned char *o,
    uint64_t *sum_r)
{
	size_t i = 0, pos = 0;
	uint64_t sum = 0;

	while (i + 4 <= size && pos + 8 < OUT_MAX) {
		uint32_t len, t;
		size_t hdr = pos, k, start;

		memcpy(&len, in + i, 4);
		i += 4;
		pos += 4;
		start = pos;
		if (!(len & BUILT)) {
			k = size - i < len ? size - i : len;
			if (k > OUT_MAX - pos)
				k = OUT_MAX - pos;
			memcpy(o + pos, in + i, k);
			i += k;
			pos += k;
			memcpy(o + hdr, &len, 4);
			sum += len;
			continue;
		}
		if (len & SLACK) {
			if (slack == 0 || slack > OUT_MAX / 2 ||
			    pos + 2 * slack + 24 > OUT_MAX) {
				pos = hdr;
				continue;
			}
			put_names(o, &pos, slack);
		} else {
			uint16_t k16 = 0;
			t = len & BUILT_LEN;
			if (i + 2 <= size)
				memcpy(&k16, in + i, 2);
			i += i + 2 <= size ? 2 : size - i;
			k = k16;
			if (k > size - i)
				k = size - i;
			if (k > t)
				k = t;
			if (t == 0 || pos + t > OUT_MAX) {
				pos = hdr;
				continue;
			}
			put_skipped(o, &pos, t - k);
			memcpy(o + pos, in + i, k);
			i += k;
			pos += k;
		}
		len = (uint32_t)(pos - start);
		memcpy(o + hdr, &len, 4);
		sum += len;
	}
	if (i < size && pos < OUT_MAX) {     /* a torn chunk header */
		size_t k = size - i < OUT_MAX - pos ? size - i : OUT_MAX - pos;
		memcpy(o + pos, in + i, k);
		pos += k;
	}
	*sum_r = sum;
	return pos;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[900];
	struct stat st;
	int i;

	(void)argc;
	(void)argv;
	snprintf(md, sizeof md, "%s/md", fuzz_scratch("dircache"));
	snprintf(cpath, sizeof cpath, "%s/.postern-cur.cache", md);
	FUZZ_CHECK(maildir_make(md) == 0);
	for (i = 0; i < REAL_FILES; i++) {
		snprintf(path, sizeof path,
		    "%s/cur/170000000%d.M%dP1Q1.fuzz,S=4,W=6:2,S", md, i, i);
		fuzz_write_file(path, "a\nb\n", 4);
	}
	snprintf(path, sizeof path, "%s/new", md);
	FUZZ_CHECK(stat(path, &st) == 0);
	slack = (size_t)st.st_size;
	snprintf(path, sizeof path, "%s/cur", md);
	FUZZ_CHECK(stat(path, &st) == 0);
	dircache_stamp(&st, &stamp);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char magic[16] = "postern-dcache1";
	static struct maildir_list l, live;
	uint32_t total32;
	uint64_t total, sum;
	unsigned char *file;
	size_t i, n;

	if (!md[0])
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 4 || size > (1u << 20))
		return 0;
	memcpy(&total32, data, 4);
	file = malloc(16 + sizeof stamp.v + 8 + OUT_MAX);
	FUZZ_CHECK(file != NULL);
	n = build(data + 4, size - 4, file + 16 + sizeof stamp.v + 8, &sum);
	total = total32 == 0xffffffffu ? sum : total32;
	memcpy(file, magic, 16);
	memcpy(file + 16, stamp.v, sizeof stamp.v);
	memcpy(file + 16 + sizeof stamp.v, &total, 8);
	n += 16 + sizeof stamp.v + 8;
	fuzz_write_file(cpath, file, n);
	free(file);

	FUZZ_CHECK(maildir_scan_cached(md, &l) == 0);
	for (i = 0; i < l.n; i++) {
		const struct maildir_msg *m = &l.msg[i];
		const char *nm = l.names + m->name_off;

		FUZZ_CHECK(m->name_len > 0 && m->name_len < MAILDIR_NAME_MAX);
		FUZZ_CHECK(m->uidl_len <= m->name_len);
		FUZZ_CHECK(nm[0] != '.');
		FUZZ_CHECK(memchr(nm, '/', m->name_len) == NULL);
		FUZZ_CHECK(memchr(nm, '\0', m->name_len) == NULL);
	}
	maildir_list_free(&l);

	FUZZ_CHECK(unlink(cpath) == 0 || errno == ENOENT);
	FUZZ_CHECK(maildir_scan_cached(md, &l) == 0);
	FUZZ_CHECK(maildir_scan(md, &live) == 0);
	FUZZ_CHECK(l.n == REAL_FILES && live.n == REAL_FILES);
	for (i = 0; i < l.n; i++)
		FUZZ_CHECK(l.msg[i].name_len == live.msg[i].name_len &&
		    memcmp(l.names + l.msg[i].name_off,
		    live.names + live.msg[i].name_off,
		    l.msg[i].name_len) == 0);
	maildir_list_free(&l);
	maildir_list_free(&live);
	return 0;
}
