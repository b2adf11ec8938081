/*
 * fdio.c - whole writes and interrupted reads (see fdio.h).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "xmalloc.h"

int
fdio_write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fdio_mkdirs(const char *path, size_t len, size_t *failed)
{
	char *p = xstrndup(path, len);
	size_t i;
	int rc = 0;

	for (i = 1; i <= len && rc == 0; i++) {
		if (i < len && p[i] != '/')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			*failed = i;
			rc = -1;
		}
		if (i < len)
			p[i] = '/';
	}
	free(p);
	return rc;
}

int
fdio_random(void *p, size_t len)
{
	unsigned char *b = p;
	size_t got = 0;
	ssize_t n;
	int fd;

	while (got < len) {
		n = getrandom(b + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == len)
		return 0;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = fdio_pread(fd, b, len, 0);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

ssize_t
fdio_pread(int fd, void *p, size_t len, off_t off)
{
	ssize_t n;

	do
		n = pread(fd, p, len, off);
	while (n < 0 && errno == EINTR);
	return n;
}
