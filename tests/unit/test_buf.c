/* buf: the capped buffer every byte from outside goes through. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"

/* An empty buffer is a valid empty C string before any allocation. */
static void
test_empty(void)
{
	struct buf b;

	buf_init(&b, 16);
	CHECK(b.data != NULL);
	CHECK_STR(b.data, "");
	CHECK_INT(b.len, 0);
	buf_reset(&b);
	CHECK_STR(b.data, "");
	buf_release(&b);
	CHECK_STR(b.data, "");
}

/* Appends keep the NUL terminator and grow past the first allocation. */
static void
test_append_grows(void)
{
	struct buf b;
	char big[1000];

	buf_init(&b, 4096);
	CHECK_INT(buf_addstr(&b, "abc"), 0);
	CHECK_INT(buf_addch(&b, 'd'), 0);
	CHECK_INT(buf_append(&b, "efg", 2), 0);
	CHECK_STR(b.data, "abcdef");
	CHECK_INT(b.len, 6);
	memset(big, 'x', sizeof(big));
	CHECK_INT(buf_append(&b, big, sizeof(big)), 0);
	CHECK_INT(b.len, 1006);
	CHECK_INT(b.data[1006], '\0');
	CHECK_INT(b.data[1005], 'x');
	buf_release(&b);
}

/* The cap is exact: reaching it works, passing it fails and changes
   nothing. */
static void
test_cap(void)
{
	struct buf b;

	buf_init(&b, 5);
	CHECK_INT(buf_addstr(&b, "12345"), 0);
	CHECK_INT(buf_addch(&b, '6'), -1);
	CHECK_STR(b.data, "12345");
	CHECK_INT(b.len, 5);
	buf_reset(&b);
	CHECK_INT(buf_addstr(&b, "123456"), -1);
	CHECK_INT(b.len, 0);
	CHECK_INT(buf_printf(&b, "%d", 123456), -1);
	CHECK_INT(b.len, 0);
	CHECK_INT(buf_printf(&b, "%d", 1234), 0);
	CHECK_STR(b.data, "1234");
	/* a huge length must not wrap around the cap check */
	CHECK_INT(buf_append(&b, "x", (size_t)-1), -1);
	CHECK_INT(b.len, 4);
	buf_release(&b);
}

static void
test_printf_consume_detach(void)
{
	struct buf b;
	size_t len;
	char *p;

	buf_init(&b, 1024);
	CHECK_INT(buf_printf(&b, "%s=%d;", "a", 1), 0);
	CHECK_INT(buf_printf(&b, "%s=%d;", "b", 22), 0);
	CHECK_STR(b.data, "a=1;b=22;");
	buf_consume(&b, 4);
	CHECK_STR(b.data, "b=22;");
	CHECK_INT(b.len, 5);
	buf_consume(&b, 100);
	CHECK_STR(b.data, "");
	CHECK_INT(buf_addstr(&b, "kept"), 0);
	p = buf_detach(&b, &len);
	CHECK_STR(p, "kept");
	CHECK_INT(len, 4);
	CHECK_INT(b.len, 0);
	CHECK_STR(b.data, "");
	free(p);
	/* detaching an empty buffer still gives an owned string */
	p = buf_detach(&b, &len);
	CHECK_STR(p, "");
	CHECK_INT(len, 0);
	free(p);
	buf_release(&b);
}

/* A pipe holding text, closed for writing so the reader sees its end. */
static int
pipe_with(const char *text)
{
	int fds[2];

	if (pipe(fds) < 0)
		return -1;
	if (write(fds[1], text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fds[0]);
		fds[0] = -1;
	}
	close(fds[1]);
	return fds[0];
}

/* buf_read_fd appends, stops at end of file, and tells "does not fit"
   apart from "ended exactly at the cap". */
static void
test_read_fd(void)
{
	struct buf b;
	int fd;

	buf_init(&b, 8);
	CHECK_INT(buf_addstr(&b, "ab"), 0);
	fd = pipe_with("cdefgh");
	CHECK(fd >= 0);
	CHECK_INT(buf_read_fd(&b, fd, 4), 4);
	CHECK_STR(b.data, "abcdef");
	CHECK_INT(buf_read_fd(&b, fd, 100), 2);
	CHECK_STR(b.data, "abcdefgh");
	CHECK_INT(buf_read_fd(&b, fd, 100), 0);
	CHECK_INT(b.len, 8);
	close(fd);

	buf_reset(&b);
	fd = pipe_with("123456789");
	CHECK_INT(buf_read_fd(&b, fd, 100), 8);
	errno = 0;
	CHECK_INT(buf_read_fd(&b, fd, 100), -1);
	CHECK_INT(errno, EFBIG);
	CHECK_STR(b.data, "12345678");
	close(fd);

	buf_reset(&b);
	CHECK_INT(buf_read_fd(&b, -1, 100), -1);
	CHECK_INT(errno, EBADF);
	CHECK_STR(b.data, "");
	buf_release(&b);
}

int
main(void)
{
	test_empty();
	test_append_grows();
	test_cap();
	test_printf_consume_detach();
	test_read_fd();
	return check_finish();
}
