/*
 * test_iobuf.c - iobuf_sendfile_watch: a file range reaches the peer byte
 * for byte, by sendfile(2) or, for a file sendfile refuses, by reading it;
 * a peer that speaks first stops it; a file shorter than promised is an
 * error, not a hang.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "iobuf.h"

/* A child that reads the socket to its end and exits 0 when it got
   exactly want[0..len); it closes other, the parent's end. */
static pid_t
reader(int fd, int other, const char *want, size_t len)
{
	pid_t pid = fork();
	char buf[65536];
	size_t got = 0;
	ssize_t n;
	int same = 1;

	if (pid != 0)
		return pid;
	close(other);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (got + (size_t)n > len ||
			memcmp(buf, want + got, (size_t)n) != 0)
			same = 0;
		got += (size_t)n;
	}
	_exit(same && got == len ? 0 : 1);
}

static int
reaped_ok(pid_t pid)
{
	int st = 0;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

/* send fd[off, off + len) to a reader expecting want */
static void
check_send(int fd, off_t off, const char *want, size_t len)
{
	struct iobuf io;
	struct error err;
	int sv[2];
	pid_t pid;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = reader(sv[1], sv[0], want, len);
	close(sv[1]);
	iobuf_init(&io, sv[0], 10);
	CHECK(iobuf_can_sendfile(&io));
	CHECK_INT(iobuf_sendfile_watch(&io, fd, off, (off_t)len, &err), 0);
	iobuf_release(&io);
	close(sv[0]);
	CHECK(reaped_ok(pid));
}

/* 3 MiB from a regular file: several sendfile steps, the reader slower
   than the socket buffer (so it waits for room). */
static void
test_regular_file(void)
{
	size_t len = 3 * 1024 * 1024 + 77, i;
	char *data = malloc(len), path[] = "/tmp/test_iobuf.XXXXXX";
	int fd = mkstemp(path);

	CHECK(data != NULL && fd >= 0);
	for (i = 0; i < len; i++)
		data[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	CHECK(write(fd, data, len) == (ssize_t)len);
	unlink(path);
	check_send(fd, 0, data, len);
	check_send(fd, 12345, data + 12345, len - 12345);
	close(fd);
	free(data);
}

/* /proc/self/cmdline: pread works, sendfile says EINVAL (as on a file
   system without splice): the bytes go all the same. */
static void
test_refused_file(void)
{
	int fd = open("/proc/self/cmdline", O_RDONLY);
	char want[4096];
	ssize_t n;

	CHECK(fd >= 0);
	n = pread(fd, want, sizeof(want), 0);
	CHECK(n > 4);
	check_send(fd, 0, want, (size_t)n);
	check_send(fd, 2, want + 2, (size_t)n - 2);
	close(fd);
}

/* Promised more than the file has: ERR_IO, both ways. */
static void
test_short_file(void)
{
	char path[] = "/tmp/test_iobuf.XXXXXX";
	int fd = mkstemp(path), pfd = open("/proc/self/cmdline", O_RDONLY);
	struct iobuf io;
	struct error err;
	int sv[2];

	CHECK(fd >= 0 && pfd >= 0);
	CHECK(write(fd, "0123456789", 10) == 10);
	unlink(path);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	iobuf_init(&io, sv[0], 10);
	CHECK_INT(iobuf_sendfile_watch(&io, fd, 0, 20, &err), -1);
	CHECK_INT(err.cls, ERR_IO);
	CHECK(strstr(err.text, "shrank") != NULL);
	CHECK_INT(iobuf_sendfile_watch(&io, pfd, 0, 1 << 20, &err), -1);
	CHECK_INT(err.cls, ERR_IO);
	CHECK(strstr(err.text, "shrank") != NULL);
	iobuf_release(&io);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	close(pfd);
}

/* The server spoke (421) before the data: nothing is sent, 1. */
static void
test_peer_spoke(void)
{
	char path[] = "/tmp/test_iobuf.XXXXXX", buf[16];
	int fd = mkstemp(path);
	struct iobuf io;
	struct error err;
	int sv[2];

	CHECK(fd >= 0);
	CHECK(write(fd, "0123456789", 10) == 10);
	unlink(path);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], "421 bye\r\n", 9) == 9);
	iobuf_init(&io, sv[0], 10);
	CHECK_INT(iobuf_sendfile_watch(&io, fd, 0, 10, &err), 1);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	CHECK(read(sv[1], buf, sizeof(buf)) < 0);
	iobuf_release(&io);
	close(sv[0]);
	close(sv[1]);
	close(fd);
}

int
main(void)
{
	test_regular_file();
	test_refused_file();
	test_short_file();
	test_peer_spoke();
	return check_finish();
}
