/* fuzz.h - shared by postern's fuzz targets (fuzz/NAME_fuzz.c): the
 * libFuzzer entry points, a private scratch directory, small file
 * helpers, and FUZZ_CHECK, which aborts (a crash the fuzzer keeps) when
 * a property of the code under test does not hold. Everything here is
 * test code: it may allocate and it aborts on its own failures. */
#ifndef POSTERN_FUZZ_H
#define POSTERN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that must hold: prints what failed and aborts. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) \
		fuzz_fail(__FILE__, __LINE__, #cond); \
} while (0)
void fuzz_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

/* A directory of our own for this process (created once, under
 * $FUZZ_TMPDIR, else /dev/shm when it exists, else /tmp), removed at
 * exit. name tells the target. */
const char *fuzz_scratch(const char *name);

/* Writes data[0..n) to path (created 0600, truncated). Aborts on error. */
void fuzz_write_file(const char *path, const void *data, size_t n);

/* Removes everything below dir (not dir itself). */
void fuzz_empty_dir(const char *dir);

/* A read-only fd holding data[0..n) at offset 0 (a memfd). */
int fuzz_memfd(const void *data, size_t n);

/* Splits data at the first occurrence of sep: *a = before, *b = after
 * (b empty when sep is absent). */
void fuzz_split(const uint8_t *data, size_t size, uint8_t sep,
    const uint8_t **a, size_t *alen, const uint8_t **b, size_t *blen);

#endif
