/* maildir_int.h - what the maildir_*.c files share and nothing else
 * includes (programs include maildir.h): the info suffix of cur/ names,
 * what a name says (,S= and ,W= sizes, the delivery-time sort key), W
 * counting, walking one of its folders, growing a list's names arena, and the
 * packed record a scan sorts. */
#ifndef POSTERN_MAILDIR_INT_H
#define POSTERN_MAILDIR_INT_H

#include <stddef.h>
#include <stdint.h>

#include "maildir.h"

#define INFO_NEW     ":2,"          /* appended on the move to cur/ */
#define INFO_NEW_LEN 3
#define DIRBUF_SMALL 32768          /* getdents64 buffer of rare scans */

/* maildir_name.c */

/* The value of the last ",<tag>=<digits>" of the base name name[0..len)
 * (before any ':'), or MAILDIR_SIZE_UNKNOWN. */
uint64_t maildir_name_size(const char *name, size_t len, char tag);

/* ",W=": the size POP3 sends; unknown means measured by reading. */
static inline uint64_t maildir_name_size_w(const char *name, size_t len)
{
	return maildir_name_size(name, len, 'W');
}

/* The sort key of a name: its delivery time, 52 bits (maildir_name.c). */
uint64_t maildir_name_key(const char *s, size_t len);

/* LFs in p[0..n): what W adds to the stored size (each LF sent as CRLF). */
size_t maildir_count_lf(const unsigned char *p, size_t n);

/* maildir_box.c */

/* Calls fn(ctx, dirfd, name, len) for each regular (or untyped) file of
 * maildir/sub whose name does not start with '.' (every: for each entry
 * but "." and ".."), until fn returns non-zero. Returns 0 (all seen; a
 * missing sub is empty), fn's non-zero value, or -1 (errno) when
 * listing fails. One small listing, no allocation: for the rare walks
 * (refind, usage, the tmp/ sweep). */
int maildir_walk(const char *maildir, const char *sub, int every,
    int (*fn)(void *ctx, int dfd, const char *name, size_t len), void *ctx);

/* maildir_scan.c */

/* The names arena of l becomes cap bytes (realloc; name_off is 32 bits:
 * EFBIG above UINT32_MAX). 0 / -1. */
int maildir_names_resize(struct maildir_list *l, size_t cap);

/* maildir_scan.c, maildir_sort.c */

/* While a scan runs, an entry holds this packed form instead of struct
 * maildir_msg (same 16 bytes): the sort key, where the name is, and its W
 * size when that fits 25 bits (else WPACK_ESC: parsed again from the name
 * after the sort, as is a name without ,W=). One pass after the sort
 * unpacks it, so the sort and that pass never touch the names.
 *   hi: key << 12 | W >> 13
 *   lo: name_off | name_len << 32 | uidl_len << 41 | in_new << 50 |
 *       (W & 0x1fff) << 51 */
struct scan_rec {
	uint64_t hi, lo;
};
_Static_assert(sizeof(struct scan_rec) == sizeof(struct maildir_msg),
    "a scan record fills an entry");

#define WPACK_BITS 25
#define WPACK_ESC  ((UINT64_C(1) << WPACK_BITS) - 1)
#define REC_KEY(r) ((r)->hi >> 12)
#define REC_OFF(r) ((uint32_t)(r)->lo)
#define REC_LEN(r) ((size_t)((r)->lo >> 32) & 0x1ff)
#define REC_UIDL(r) ((size_t)((r)->lo >> 41) & 0x1ff)
#define REC_NEW(r) ((unsigned)((r)->lo >> 50) & 1)
#define REC_W(r)   (((r)->hi & 0xfff) << 13 | (r)->lo >> 51)

/* Sorts n records by key, then by name (maildir_sort.c). */
void maildir_recs_sort(const char *names, struct scan_rec *r, size_t n);

#endif
