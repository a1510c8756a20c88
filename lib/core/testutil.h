/* testutil.h - file helpers shared by the unit tests of the file-system
 * modules (maildir_test.c, queue_test.c): remove a tree, count a
 * directory's entries, write a whole file. Static functions: include it
 * once per test program, after test.h. */
#ifndef POSTERN_TESTUTIL_H
#define POSTERN_TESTUTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* rm -rf path (a test's own temp directory). */
static inline void rm_rf(const char *path)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		printf("note: could not remove %s\n", path);
}

/* Number of entries (not dot files) in dir, -1 if it cannot be read. */
static inline int count_dir(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Creates or truncates path (0600) with data[0..len). 0 / -1. */
static inline int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	if (fd < 0)
		return -1;
	if (len && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

#endif
