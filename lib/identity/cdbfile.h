/* cdbfile.h - read-only CDB access that survives the file being
 * truncated or rewritten in place while it is mapped (as `cp new.cdb
 * users.cdb` does): a fault on the mapping (SIGBUS) becomes an error
 * instead of a crash. The database is opened per call, so a rebuilt
 * file (rename) is seen at the next call. */
#ifndef POSTERN_CDBFILE_H
#define POSTERN_CDBFILE_H

#include <cdb.h>

/* Opens path, maps it (cdb_init) and calls fn(c, arg) with SIGBUS
 * guarded. Returns fn's result, or -1 with errno: from open/cdb_init
 * (EPROTO: not a CDB file), EIO when the mapping faulted (an I/O error,
 * or the file shrank under us), or ESTALE when the file changed (size or
 * times) while it was read: its answer cannot be trusted. fn must not keep pointers into the mapping, and must
 * not jump out or allocate (a fault may abandon it midway). Not
 * reentrant. */
int cdbfile_run(const char *path, int (*fn)(struct cdb *c, void *arg),
    void *arg);

/* The mapping of an open cdb: the whole file. */
const unsigned char *cdbfile_map(const struct cdb *c, unsigned *size_r);

#endif
