/* tests/eiofs.c - a tiny FUSE passthrough filesystem for fault tests.
 *
 * usage: eiofs SRC CONTROL MOUNTPOINT [fuse options, e.g. -f -s]
 *
 * Mirrors the directory SRC at MOUNTPOINT. CONTROL is a text file, re-read
 * on every operation (so a test can change it while mounted), holding
 * lines "OPS SUBSTRING": an operation whose path contains SUBSTRING fails
 * with EIO when its letter is in OPS:
 *   l  lookup: getattr, access, opendir, readdir
 *   o  open (existing files)        r  read
 *   c  create, mknod, mkdir         w  write, truncate
 *   s  fsync, fsyncdir, flush       n  rename, link, unlink, rmdir
 * and the modifier z: the operation first sleeps 3 s (a slow disk, so a
 * test can act inside a window), then fails.
 * An empty or missing CONTROL file means no faults. Files opened for a
 * path with 'r' faults use direct I/O, so the page cache cannot hide them.
 * Caching of names and attributes is off. Built by the test with cc, not by
 * the Makefile (it needs libfuse3).
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <fuse.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

static char src_root[PATH_MAX];
static char control[PATH_MAX];

/* 1 if an operation of kind `op` on `path` must fail */
static int faulty(const char *path, char op)
{
    FILE *f = fopen(control, "r");
    char line[512];
    int hit = 0;

    if (f == NULL)
        return 0;
    while (!hit && fgets(line, sizeof line, f) != NULL) {
        char *sp = strchr(line, ' ');
        size_t n = strcspn(line, "\r\n");

        line[n] = '\0';
        if (sp == NULL || sp[1] == '\0')
            continue;
        *sp = '\0';
        if (strchr(line, op) != NULL && strstr(path, sp + 1) != NULL)
            hit = strchr(line, 'z') != NULL ? 2 : 1;
    }
    fclose(f);
    if (hit == 2)
        sleep(3);
    return hit;
}

/* the real path of `path` below SRC; -ENAMETOOLONG if it does not fit */
static int real(const char *path, char out[PATH_MAX])
{
    int n = snprintf(out, PATH_MAX, "%s%s", src_root, path);

    return (n < 0 || n >= PATH_MAX) ? -ENAMETOOLONG : 0;
}

#define REAL(p, buf) \
    char buf[PATH_MAX]; \
    do { int r_ = real((p), buf); if (r_ != 0) return r_; } while (0)
#define FAULT(p, op) \
    do { if (faulty((p), (op))) return -EIO; } while (0)

static void *e_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->use_ino = 1;
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    return NULL;
}

static int e_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    FAULT(path, 'l');
    REAL(path, p);
    return lstat(p, st) == 0 ? 0 : -errno;
}

static int e_access(const char *path, int mask)
{
    FAULT(path, 'l');
    REAL(path, p);
    return access(p, mask) == 0 ? 0 : -errno;
}

static int e_opendir(const char *path, struct fuse_file_info *fi)
{
    (void)fi;
    FAULT(path, 'l');
    return 0;
}

static int e_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    DIR *d;
    struct dirent *de;

    (void)off;
    (void)fi;
    (void)flags;
    FAULT(path, 'l');
    REAL(path, p);
    d = opendir(p);
    if (d == NULL)
        return -errno;
    while ((de = readdir(d)) != NULL) {
        struct stat st;

        memset(&st, 0, sizeof st);
        st.st_ino = de->d_ino;
        st.st_mode = (mode_t)de->d_type << 12;
        if (fill(buf, de->d_name, &st, 0, 0) != 0)
            break;
    }
    closedir(d);
    return 0;
}

static int e_mkdir(const char *path, mode_t mode)
{
    FAULT(path, 'c');
    REAL(path, p);
    return mkdir(p, mode) == 0 ? 0 : -errno;
}

static int e_mknod(const char *path, mode_t mode, dev_t dev)
{
    FAULT(path, 'c');
    REAL(path, p);
    return mknod(p, mode, dev) == 0 ? 0 : -errno;
}

static int e_unlink(const char *path)
{
    FAULT(path, 'n');
    REAL(path, p);
    return unlink(p) == 0 ? 0 : -errno;
}

static int e_rmdir(const char *path)
{
    FAULT(path, 'n');
    REAL(path, p);
    return rmdir(p) == 0 ? 0 : -errno;
}

static int e_rename(const char *from, const char *to, unsigned int flags)
{
    if (flags != 0)
        return -EINVAL;
    FAULT(from, 'n');
    FAULT(to, 'n');
    REAL(from, a);
    REAL(to, b);
    return rename(a, b) == 0 ? 0 : -errno;
}

static int e_link(const char *from, const char *to)
{
    FAULT(from, 'n');
    FAULT(to, 'n');
    REAL(from, a);
    REAL(to, b);
    return link(a, b) == 0 ? 0 : -errno;
}

static int e_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)fi;
    REAL(path, p);
    return chmod(p, mode) == 0 ? 0 : -errno;
}

static int e_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    (void)fi;
    REAL(path, p);
    return lchown(p, uid, gid) == 0 ? 0 : -errno;
}

static int e_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    FAULT(path, 'w');
    if (fi != NULL)
        return ftruncate((int)fi->fh, size) == 0 ? 0 : -errno;
    REAL(path, p);
    return truncate(p, size) == 0 ? 0 : -errno;
}

static int e_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    (void)fi;
    REAL(path, p);
    return utimensat(AT_FDCWD, p, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static void set_io(const char *path, struct fuse_file_info *fi)
{
    fi->direct_io = faulty(path, 'r') || faulty(path, 'w');
    fi->keep_cache = 0;
}

static int e_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    int fd;

    FAULT(path, 'c');
    REAL(path, p);
    fd = open(p, fi->flags, mode);
    if (fd < 0)
        return -errno;
    fi->fh = (uint64_t)fd;
    set_io(path, fi);
    return 0;
}

static int e_open(const char *path, struct fuse_file_info *fi)
{
    int fd;

    FAULT(path, 'o');
    REAL(path, p);
    fd = open(p, fi->flags);
    if (fd < 0)
        return -errno;
    fi->fh = (uint64_t)fd;
    set_io(path, fi);
    return 0;
}

static int e_read(const char *path, char *buf, size_t size, off_t off,
                  struct fuse_file_info *fi)
{
    ssize_t n;

    FAULT(path, 'r');
    n = pread((int)fi->fh, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int e_write(const char *path, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    ssize_t n;

    FAULT(path, 'w');
    n = pwrite((int)fi->fh, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int e_statfs(const char *path, struct statvfs *sv)
{
    REAL(path, p);
    return statvfs(p, sv) == 0 ? 0 : -errno;
}

static int e_flush(const char *path, struct fuse_file_info *fi)
{
    (void)fi;
    FAULT(path, 's');
    return 0;
}

static int e_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    close((int)fi->fh);
    return 0;
}

static int e_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    int r;

    FAULT(path, 's');
    r = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
    return r == 0 ? 0 : -errno;
}

static int e_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    (void)fi;
    FAULT(path, 's');
    return 0;
}

static const struct fuse_operations ops = {
    .init = e_init,
    .getattr = e_getattr,
    .access = e_access,
    .opendir = e_opendir,
    .readdir = e_readdir,
    .mkdir = e_mkdir,
    .mknod = e_mknod,
    .unlink = e_unlink,
    .rmdir = e_rmdir,
    .rename = e_rename,
    .link = e_link,
    .chmod = e_chmod,
    .chown = e_chown,
    .truncate = e_truncate,
    .utimens = e_utimens,
    .create = e_create,
    .open = e_open,
    .read = e_read,
    .write = e_write,
    .statfs = e_statfs,
    .flush = e_flush,
    .release = e_release,
    .fsync = e_fsync,
    .fsyncdir = e_fsyncdir,
};

int main(int argc, char **argv)
{
    if (argc < 4 || realpath(argv[1], src_root) == NULL) {
        fprintf(stderr, "usage: eiofs SRC CONTROL MOUNTPOINT [fuse options]\n");
        return 2;
    }
    if (strlen(argv[2]) >= sizeof control) {
        fprintf(stderr, "eiofs: control path too long\n");
        return 2;
    }
    strcpy(control, argv[2]);
    /* hand fuse_main: argv[0] MOUNTPOINT options... */
    argv[2] = argv[0];
    return fuse_main(argc - 2, argv + 2, &ops, NULL);
}
