/*
 * fuzz.h - what every libFuzzer target here shares: one private temp
 * directory made on first use (under $TMPDIR, which run.sh points at its
 * own work directory) and removed at exit, and small helpers that turn the
 * input into a file descriptor or a NUL-terminated string.
 *
 * A target never writes outside fuzz_dir(): inputs are hostile, and a
 * parser bug must not be able to touch anything else.
 */
#ifndef POSTIE_FUZZ_H
#define POSTIE_FUZZ_H

#include "autoconf.h"

#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_dir_path[4096];

static inline int
fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void
fuzz_dir_remove(void)
{
	if (fuzz_dir_path[0] != '\0')
		nftw(fuzz_dir_path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The target's own temp directory (mode 0700), made once. */
static inline const char *
fuzz_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (fuzz_dir_path[0] != '\0')
		return fuzz_dir_path;
	snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/postie-fuzz.XXXXXX",
		tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir_path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	atexit(fuzz_dir_remove);
	return fuzz_dir_path;
}

/* A memory file holding the input, positioned at 0; nothing on disk. */
static inline int
fuzz_memfd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t off = 0;
	ssize_t n;

	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	while (off < size) {
		n = write(fd, data + off, size - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

/* The input as a NUL-terminated string (it may hold NULs itself). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A failed invariant: print it and crash, so libFuzzer keeps the input. */
#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
