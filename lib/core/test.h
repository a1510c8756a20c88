/* test.h - the unit-test framework: CHECK() counts, TEST_MAIN prints the
 * summary "N passed, M failed" as the last line and sets the exit code.
 * Include it only from the unit tests (lib/NAME_test.c). */
#ifndef POSTERN_TEST_H
#define POSTERN_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed __attribute__((unused)), test_failed __attribute__((unused));

#define CHECK(cond) do { \
	if (cond) test_passed++; \
	else { test_failed++; \
		printf("FAIL: %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *check_a_ = (a), *check_b_ = (b); \
	if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) \
		test_passed++; \
	else { test_failed++; printf("FAIL: %s:%d: \"%s\" != \"%s\"\n", \
		__FILE__, __LINE__, check_a_ ? check_a_ : "(null)", \
		check_b_ ? check_b_ : "(null)"); } \
} while (0)

#define TEST_SUMMARY() \
	(printf("%d passed, %d failed\n", test_passed, test_failed), \
	 test_failed ? 1 : 0)

#endif
