/*
 * fdio.c - whole writes and interrupted reads (see fdio.h).
 */
#include "autoconf.h"

#include <errno.h>
#include <unistd.h>

#include "fdio.h"

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

ssize_t
fdio_pread(int fd, void *p, size_t len, off_t off)
{
	ssize_t n;

	do
		n = pread(fd, p, len, off);
	while (n < 0 && errno == EINTR);
	return n;
}
