/* maildir_fuzz.c - lib/maildir name handling: a scratch maildir gets one
 * file per input line (first octet: new/ or cur/, the rest: the file
 * name), then it is scanned, sized, moved to cur/, opened and deleted
 * as a POP3 session would; every other message is renamed behind the
 * list's back (its flags changed) before its delete. Every file is
 * listed once, sizes come from a well-formed ,W= or are measured, the
 * quota usage from ,W=, else ,S=, else the size on disk, UIDLs stay
 * stable across the move, renamed messages are found and deleted, and
 * nothing is left behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "maildir.h"

#define MAXFILES 64
#define CONTENT "a\nb\n"           /* W = 6 */

static char md[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(md, sizeof md, "%s/md", fuzz_scratch("maildir"));
	return 0;
}

/* The W (tag 'W') or S (tag 'S') value the contract promises: the last
 * ",W=" of the part before ':', then digits up to ',' or the end, at most
 * MAILDIR_SIZE_W_MAX. 0 when absent, malformed or larger (the size is
 * then measured), else 1 and *w_r. */
static int expect_tag(const char *name, size_t len, char tag, uint64_t *w_r)
{
	const char *colon = memchr(name, ':', len);
	size_t n = colon ? (size_t)(colon - name) : len, i, j;
	uint64_t v = 0;

	for (i = n; i >= 3; i--)
		if (name[i - 3] == ',' && name[i - 2] == tag && name[i - 1] == '=')
			break;
	if (i < 3 || i == n)
		return 0;
	for (j = i; j < n && name[j] != ','; j++) {
		unsigned d = (unsigned)(name[j] - '0');
		if (d > 9 || v > (UINT64_MAX - 1 - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (j == i || v > MAILDIR_SIZE_W_MAX)   /* not believed: measured */
		return 0;
	*w_r = v;
	return 1;
}

static int expect_w(const char *name, size_t len, uint64_t *w_r)
{
	return expect_tag(name, len, 'W', w_r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct maildir_list l;
	char path[MAILDIR_PATH_MAX], name[300], rel[MAILDIR_NAME_MAX + 8];
	char uidl[MAILDIR_NAME_MAX + 1];
	size_t pos = 0, created = 0, i;
	uint64_t w, bytes, count, usage = 0;

	if (!md[0])
		LLVMFuzzerInitialize(NULL, NULL);
	fuzz_empty_dir(fuzz_scratch("maildir"));
	FUZZ_CHECK(maildir_make(md) == 0);
	while (pos < size && created < MAXFILES) {
		const uint8_t *line = data + pos, *nl;
		size_t len;
		int fd;

		nl = memchr(line, '\n', size - pos);
		len = nl ? (size_t)(nl - line) : size - pos;
		pos += len + 1;
		if (len < 2 || len - 1 > 255 || memchr(line, '/', len) ||
		    memchr(line, 0, len))
			continue;
		memcpy(name, line + 1, len - 1);
		name[len - 1] = '\0';
		if (name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s/%s", md,
		    line[0] & 1 ? "cur" : "new", name);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0) {
			FUZZ_CHECK(errno == EEXIST || errno == ENAMETOOLONG);
			continue;
		}
		FUZZ_CHECK(write(fd, CONTENT, 4) == 4);
		close(fd);
		created++;
	}
	FUZZ_CHECK(maildir_scan(md, &l) == 0);
	FUZZ_CHECK(l.n == created);
	for (i = 0; i < l.n; i++) {
		const struct maildir_msg *m = &l.msg[i];
		const char *nm = l.names + m->name_off;
		uint64_t ew = 0;
		int known = expect_w(nm, m->name_len, &ew);
		int fd;

		FUZZ_CHECK(m->uidl_len <= m->name_len && m->name_len < 256);
		FUZZ_CHECK(m->uidl_len == m->name_len || nm[m->uidl_len] == ':');
		FUZZ_CHECK(maildir_msg_relpath(&l, i, rel, sizeof rel) == 0);
		FUZZ_CHECK(strlen(rel) == (size_t)m->name_len + 4);
		FUZZ_CHECK(maildir_msg_relpath(&l, i, rel, 4) < 0);
		FUZZ_CHECK(maildir_msg_size(md, &l, i, &w) == 0);
		FUZZ_CHECK(known ? w == ew : w == 6);
		if (!known && !expect_tag(nm, m->name_len, 'S', &ew))
			ew = 4;                  /* the size on disk */
		usage += ew;
		fd = maildir_msg_open(md, &l, i);
		FUZZ_CHECK(fd >= 0);
		close(fd);
	}
	FUZZ_CHECK(maildir_usage(md, &bytes, &count) == 0 && count == created &&
	    bytes == usage);
	for (i = 0; i < l.n; i++) {
		struct maildir_msg *m = &l.msg[i];
		int fd;

		memcpy(uidl, l.names + m->name_off, m->uidl_len);
		uidl[m->uidl_len] = '\0';
		if (maildir_msg_to_cur(md, &l, i) == 0) {
			FUZZ_CHECK(!m->in_new);
			FUZZ_CHECK(m->uidl_len == strlen(uidl) &&
			    memcmp(l.names + m->name_off, uidl,
			    m->uidl_len) == 0);
			fd = maildir_msg_open(md, &l, i);
			FUZZ_CHECK(fd >= 0);
			close(fd);
		}
		if (!m->in_new && (i & 1) && m->uidl_len > 0) {
			/* another program changes its flags */
			char from[MAILDIR_PATH_MAX], to[MAILDIR_PATH_MAX + 8];
			const char *nm = l.names + m->name_off;
			int info = m->uidl_len < m->name_len;

			snprintf(from, sizeof from, "%s/cur/%.*s", md,
			    (int)m->name_len, nm);
			snprintf(to, sizeof to, "%s%s", from, info ? "R" : ":2,R");
			if (renameat2(AT_FDCWD, from, AT_FDCWD, to,
			    RENAME_NOREPLACE) == 0) {
				fd = maildir_msg_open(md, &l, i);
				FUZZ_CHECK(fd >= 0);
				close(fd);
			}
		}
		FUZZ_CHECK(maildir_msg_delete(md, &l, i) == 0);
	}
	FUZZ_CHECK(maildir_sync(md) == 0);
	maildir_list_free(&l);
	FUZZ_CHECK(maildir_scan(md, &l) == 0 && l.n == 0);
	maildir_list_free(&l);
	return 0;
}
