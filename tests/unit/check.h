/*
 * check.h - the few macros the unit tests need. Each failed CHECK prints
 * file:line and the expression; main returns check_finish(), which prints
 * "N passed, M failed" for the file and is non-zero on any failure.
 */
#ifndef POSTIE_CHECK_H
#define POSTIE_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			check_passed++;                                        \
		} else {                                                       \
			check_failed++;                                        \
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,         \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *check_g = (got), *check_w = (want);                \
		if (check_g && check_w && strcmp(check_g, check_w) == 0) {     \
			check_passed++;                                        \
		} else {                                                       \
			check_failed++;                                        \
			fprintf(stderr,                                        \
				"%s:%d: FAIL: %s: got \"%s\", "                \
				"want \"%s\"\n",                               \
				__FILE__, __LINE__, #got,                      \
				check_g ? check_g : "(null)",                  \
				check_w ? check_w : "(null)");                 \
		}                                                              \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long check_g = (long long)(got);                          \
		long long check_w = (long long)(want);                         \
		if (check_g == check_w) {                                      \
			check_passed++;                                        \
		} else {                                                       \
			check_failed++;                                        \
			fprintf(stderr,                                        \
				"%s:%d: FAIL: %s: got %lld, want "             \
				"%lld\n",                                      \
				__FILE__, __LINE__, #got, check_g, check_w);   \
		}                                                              \
	} while (0)

static inline int
check_finish(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
