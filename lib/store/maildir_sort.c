/* maildir_sort.c - the order of a scanned mailbox: the packed scan
 * records (maildir_int.h) sorted by delivery time, then by name, in
 * place: an MSD radix sort on the key, a heap sort for runs of equal
 * keys, an insertion sort for small runs.
 *
 * What it pays for, against qsort() over struct maildir_msg: no second
 * array (glibc's qsort merge-sorts through a malloc'd copy: 1.6 MB more
 * at 100,000 messages, against a peak RSS of 7.46 MiB for that box in
 * bench/RESULTS.md), no call through a pointer per comparison, and no
 * name read while keys differ (the delivery-time key decides nearly
 * every comparison; a comparison sort over names reads two names per
 * comparison, n log n times). Even so rec_sort is 8.9 % of the samples
 * of the "bigbox" profile in bench/RESULTS.md (login+STAT 11.0 ms). */
#include <string.h>

#include "maildir.h"
#include "maildir_int.h"

#define SORT_SMALL 32                /* insertion sort below this */

static int rec_cmp(const char *names, const struct scan_rec *a,
    const struct scan_rec *b)
{
	size_t la = REC_LEN(a), lb = REC_LEN(b);
	int c;

	if (REC_KEY(a) != REC_KEY(b))
		return REC_KEY(a) < REC_KEY(b) ? -1 : 1;
	c = memcmp(names + REC_OFF(a), names + REC_OFF(b), la < lb ? la : lb);
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

static void rec_swap(struct scan_rec *a, struct scan_rec *b)
{
	struct scan_rec t = *a;
	*a = *b;
	*b = t;
}

static void insertion_sort(const char *names, struct scan_rec *r, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && rec_cmp(names, &r[j], &r[j - 1]) < 0; j--)
			rec_swap(&r[j], &r[j - 1]);
}

static void heap_sift(const char *names, struct scan_rec *r, size_t root,
    size_t n)
{
	for (;;) {
		size_t c = 2 * root + 1;
		if (c >= n)
			return;
		if (c + 1 < n && rec_cmp(names, &r[c], &r[c + 1]) < 0)
			c++;
		if (rec_cmp(names, &r[root], &r[c]) >= 0)
			return;
		rec_swap(&r[root], &r[c]);
		root = c;
	}
}

/* For runs of equal keys (names not in the usual form): by name, in
 * place, O(n log n) whatever the input. */
static void heap_sort(const char *names, struct scan_rec *r, size_t n)
{
	size_t i;

	for (i = n / 2; i-- > 0;)
		heap_sift(names, r, i, n);
	for (i = n; i-- > 1;) {
		rec_swap(&r[0], &r[i]);
		heap_sift(names, r, 0, i);
	}
}

/* In-place MSD radix sort (American flag) on the key, 8 bits a round
 * from bit shift up; no temporary array and no name touched while keys
 * differ. */
static void rec_sort(const char *names, struct scan_rec *r, size_t n,
    int shift)
{
	size_t count[256], next[256], b, i, start;

	if (n <= SORT_SMALL) {
		insertion_sort(names, r, n);
		return;
	}
	if (shift < 0) {
		heap_sort(names, r, n);
		return;
	}
	memset(count, 0, sizeof(count));
	for (i = 0; i < n; i++)
		count[(REC_KEY(&r[i]) >> shift) & 0xff]++;
	for (b = 0, start = 0; b < 256; b++) {
		next[b] = start;
		start += count[b];
	}
	for (b = 0, start = 0; b < 256; start += count[b], b++) {
		size_t end = start + count[b];
		while (next[b] < end) {
			struct scan_rec x = r[next[b]];
			size_t d = (REC_KEY(&x) >> shift) & 0xff;
			while (d != b) {       /* carry x to its bucket */
				struct scan_rec y = r[next[d]];
				r[next[d]++] = x;
				x = y;
				d = (REC_KEY(&x) >> shift) & 0xff;
			}
			r[next[b]++] = x;
		}
	}
	for (b = 0, start = 0; b < 256; start += count[b], b++)
		if (count[b] > 1)
			rec_sort(names, r + start, count[b],
			    shift == 0 ? -1 : shift < 8 ? 0 : shift - 8);
}

void maildir_recs_sort(const char *names, struct scan_rec *r, size_t n)
{
	uint64_t diff = 0;
	int top;
	size_t i;

	for (i = 1; i < n; i++)
		diff |= REC_KEY(&r[i]) ^ REC_KEY(&r[0]);
	if (diff == 0) {
		rec_sort(names, r, n, -1);
		return;
	}
	top = 63 - __builtin_clzll(diff);
	rec_sort(names, r, n, top < 8 ? 0 : top - 7);
}
