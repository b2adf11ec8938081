/*
 * fdio.h - whole writes and interrupted reads on file descriptors, the two
 * loops every module that touches a file needs.
 */
#ifndef POSTIE_FDIO_H
#define POSTIE_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all of p[0..len) to fd, retrying after EINTR and short writes:
   0, or -1 with errno (EIO for a write that moved nothing). */
int fdio_write_all(int fd, const void *p, size_t len);

/* pread(2), retried after EINTR: the bytes read, 0 at the end, -1 with
   errno. */
ssize_t fdio_pread(int fd, void *p, size_t len, off_t off);

/* mkdir -p for path[0..len), mode 0700 for each directory it makes;
   existing ones are left as they are. 0, or -1 with errno and *failed the
   length of the prefix that could not be made. */
int fdio_mkdirs(const char *path, size_t len, size_t *failed);

/* len bytes from the kernel's generator: getrandom(2), or /dev/urandom
   where that is missing (an old kernel, a seccomp filter). 0, or -1. */
int fdio_random(void *p, size_t len);

#endif
