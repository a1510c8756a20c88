/* dircache_fuzz.c - a saved listing (lib/dircache) read back by
 * maildir_scan_cached(). The input is the body of cur/'s copy (4 octets:
 * the header's total, then chunks {uint32 len, getdents64 records}) put
 * under a header that carries cur/'s true stamp, so the reader takes
 * every byte of it as current. Whatever it holds: the scan succeeds,
 * every name listed is a plain file name (no '/', no NUL, not starting
 * with '.', under 256 octets) with a sane UIDL length, and once the copy
 * is gone the listing is the live one again (the three real files). */
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

static char md[600], cpath[700];
static struct dircache_stamp stamp;

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
	uint64_t total;
	unsigned char *file;
	size_t i, n;

	if (!md[0])
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 4 || size > (1u << 20))
		return 0;
	memcpy(&total32, data, 4);
	total = total32;
	n = 16 + sizeof stamp.v + 8 + (size - 4);
	file = malloc(n);
	FUZZ_CHECK(file != NULL);
	memcpy(file, magic, 16);
	memcpy(file + 16, stamp.v, sizeof stamp.v);
	memcpy(file + 16 + sizeof stamp.v, &total, 8);
	memcpy(file + 16 + sizeof stamp.v + 8, data + 4, size - 4);
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
