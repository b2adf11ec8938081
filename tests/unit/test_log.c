/* log: the error-class -> exit-code table, escaping, the log line. */
#include "autoconf.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

/* The table DESIGN.md promises, one row per class: callers retry on 75,
   so a wrong row silently loses or duplicates mail. */
static void
test_exit_table(void)
{
	static const struct {
		enum err_class cls;
		int code;
	} rows[] = {
		{ERR_NONE, 0},
		{ERR_USAGE, 64},
		{ERR_DATA, 65},
		{ERR_NOINPUT, 66},
		{ERR_RCPT, 67},
		{ERR_NOHOST, 68},
		{ERR_UNAVAILABLE, 69},
		{ERR_SOFTWARE, 70},
		{ERR_OS, 71},
		{ERR_CANTCREAT, 73},
		{ERR_IO, 74},
		{ERR_TEMP, 75},
		{ERR_PROTOCOL, 76},
		{ERR_AUTH, 77},
		{ERR_CONFIG, 78},
	};
	size_t i;

	CHECK_INT(sizeof(rows) / sizeof(rows[0]), ERR_CLASS_COUNT);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_INT(log_exit_code(rows[i].cls), rows[i].code);
	/* out-of-range classes are a bug, reported as one */
	CHECK_INT(log_exit_code(ERR_CLASS_COUNT), EX_SOFTWARE);
	CHECK_INT(log_exit_code((enum err_class) - 1), EX_SOFTWARE);
	CHECK_STR(log_exit_name(75), "EX_TEMPFAIL");
	CHECK_STR(log_exit_name(0), "EX_OK");
	CHECK_STR(log_exit_name(78), "EX_CONFIG");
	CHECK_STR(log_exit_name(12345), "EX_UNKNOWN");
}

static void
test_error_text(void)
{
	struct error err;
	char longtext[3000];

	error_clear(&err);
	CHECK_INT(err.cls, ERR_NONE);
	CHECK_STR(err.text, "");
	error_set(&err, ERR_TEMP, "connect: %s", "refused");
	err.smtp_code = 451;
	error_prefix(&err, "host %s", "mx");
	CHECK_INT(err.cls, ERR_TEMP);
	CHECK_INT(err.smtp_code, 451);
	CHECK_STR(err.text, "host mx: connect: refused");
	/* error_set starts over, code included */
	error_set(&err, ERR_DATA, "x");
	CHECK_INT(err.smtp_code, 0);
	/* a prefix longer than the room left is cut, never overflowed */
	memset(longtext, 'a', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	error_prefix(&err, "%s", longtext);
	CHECK_INT(strlen(err.text), ERROR_TEXT_MAX - 1);
}

/* Server text is escaped before it reaches a terminal or a log. */
static void
test_escape(void)
{
	char out[64];

	CHECK_STR(log_escape(out, sizeof(out), "plain text", 10), "plain text");
	CHECK_STR(log_escape(out, sizeof(out), "a\r\nb\tc\\", 7),
		"a\\r\\nb\\tc\\\\");
	CHECK_STR(log_escape(out, sizeof(out), "\0\x1b[31m\x7f\xff", 8),
		"\\x00\\x1b[31m\\x7f\\xff");
	/* too long: cut with a visible mark, always terminated */
	CHECK_STR(log_escape(out, 8, "abcdefghijkl", 12), "abcd...");
	CHECK_STR(log_escape(out, 4, "\x01\x02", 2), "...");
	CHECK_STR(log_escape(out, 1, "abc", 3), "");
}

static char *
slurp(const char *path)
{
	static char text[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

/* The per-message line, msmtp's shape, appended to the log file. */
static void
test_log_record(void)
{
	char dir[] = "/tmp/postie-test-log.XXXXXX";
	char path[128];
	const char *rcpts[] = {"a@x.test", "b@y.test"};
	struct log_record rec = {0};
	struct error outcome, err;
	struct stat st;
	char *text;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/log", dir);
	error_clear(&outcome);
	error_clear(&err);
	rec.host = "mx.test";
	rec.from = "me@x.test";
	rec.rcpts = rcpts;
	rec.nrcpts = 2;
	rec.mailsize = 123;
	rec.outcome = &outcome;
	rec.smtp_code = 250;
	rec.smtp_text = "250 2.0.0 Ok: it's queued\r\n";
	CHECK_INT(log_write_record(&rec, path, NULL, &err), 0);
	error_set(&outcome, ERR_TEMP, "RCPT: server said: 451 later");
	rec.smtp_code = 451;
	rec.smtp_text = NULL;
	CHECK_INT(log_write_record(&rec, path, NULL, &err), 0);
	text = slurp(path);
	CHECK(text && strstr(text, " host=mx.test tls=off auth=off "
				   "from=me@x.test "
				   "recipients=a@x.test,b@y.test mailsize=123 "
				   "smtpstatus=250 smtpmsg='250 2.0.0 Ok: "
				   "it''s queued\\r\\n' "
				   "exitcode=EX_OK\n"));
	CHECK(text && strstr(text, " smtpstatus=451 errormsg='RCPT: server "
				   "said: 451 later' exitcode=EX_TEMPFAIL\n"));
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	/* nothing configured: nothing written, no error */
	CHECK_INT(log_write_record(&rec, NULL, NULL, &err), 0);
	/* an unknown syslog facility is a configuration error */
	CHECK_INT(log_write_record(&rec, NULL, "LOG_NOPE", &err), -1);
	CHECK_INT(err.cls, ERR_CONFIG);
	/* a log file that cannot be created says which and why */
	snprintf(path, sizeof(path), "%s/missing/log", dir);
	CHECK_INT(log_write_record(&rec, path, NULL, &err), -1);
	CHECK_INT(err.cls, ERR_CANTCREAT);
	CHECK(strstr(err.text, path) != NULL);
	snprintf(path, sizeof(path), "%s/log", dir);
	unlink(path);
	rmdir(dir);
}

/* A -t message may name thousands of recipients: the log line lists the
   first ones and says how many more there were, instead of growing with
   the header. */
static void
test_log_record_many_rcpts(void)
{
	char dir[] = "/tmp/postie-test-log.XXXXXX";
	char path[128], names[3000][16];
	const char *rcpts[3000];
	struct log_record rec = {0};
	struct error outcome, err;
	char *text, *nl;
	size_t i;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/log", dir);
	for (i = 0; i < 3000; i++) {
		snprintf(names[i], sizeof(names[i]), "r%zu@x.test", i);
		rcpts[i] = names[i];
	}
	error_clear(&outcome);
	rec.host = "mx.test";
	rec.from = "me@x.test";
	rec.rcpts = rcpts;
	rec.nrcpts = 3000;
	rec.outcome = &outcome;
	CHECK_INT(log_write_record(&rec, path, NULL, &err), 0);
	text = slurp(path);
	CHECK(text && strstr(text, " recipients=r0@x.test,r1@x.test,"));
	CHECK(text && strstr(text, "more) mailsize=0 exitcode=EX_OK\n"));
	nl = text ? strchr(text, '\n') : NULL;
	CHECK(nl && nl - text < 4096 + 200);
	CHECK(text && strstr(text, "r2999@x.test") == NULL);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_exit_table();
	test_error_text();
	test_escape();
	test_log_record();
	test_log_record_many_rcpts();
	return check_finish();
}
