/*
 * test_secret.c - where passwords come from: the literal, passwordeval
 * (exit status, first line, long output, no output shown in errors),
 * netrc matching, and the terminal prompt (on a pseudo-terminal, and
 * failing cleanly without one).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "secret.h"

static char tmpdir[] = "/tmp/postie-test-secret-XXXXXX";

static struct secret_query
query(void)
{
	struct secret_query q;

	memset(&q, 0, sizeof(q));
	q.host = "smtp.example.org";
	q.port = 587;
	q.user = "alice";
	q.account = "acct";
	return q;
}

/* Run passwordeval; returns the password (caller frees) or NULL. */
static char *
eval(const char *cmd, int want_rc, struct error *err)
{
	struct secret_query q = query();
	char *out = NULL;

	q.passwordeval = cmd;
	error_clear(err);
	CHECK_INT(secret_lookup(&q, &out, err), want_rc);
	if (want_rc < 0)
		CHECK(out == NULL);
	return out;
}

static void
test_literal(void)
{
	struct secret_query q = query();
	struct error err;
	char *out = NULL;

	q.password = "lit pw";
	q.passwordeval = "printf other"; /* the literal comes first */
	CHECK_INT(secret_lookup(&q, &out, &err), 0);
	CHECK_STR(out, "lit pw");
	CHECK(out != q.password);
	secret_free(out);
	secret_free(NULL);
}

static void
test_passwordeval(void)
{
	struct error err;
	char *out;

	/* The first line, its CR/LF removed. */
	out = eval("printf 'pw\\r\\nsecond'", 0, &err);
	CHECK_STR(out, "pw");
	secret_free(out);
	out = eval("printf 'no newline'", 0, &err);
	CHECK_STR(out, "no newline");
	secret_free(out);
	/* A shell command line, as msmtp runs it. */
	out = eval("echo one two | tr ' ' '-'", 0, &err);
	CHECK_STR(out, "one-two");
	secret_free(out);

	/* stdin is /dev/null, so a command reading it does not hang. */
	out = eval("[ \"$(readlink /proc/$$/fd/0)\" = /dev/null ] && echo "
		   "devnull; cat",
		0, &err);
	CHECK_STR(out, "devnull");
	secret_free(out);

	/* A SIGPIPE our caller ignores is the default again in the command
	   (else "yes | head -1" style pipelines never end). */
	signal(SIGPIPE, SIG_IGN);
	out = eval("awk '/^SigIgn/ { print $2 }' /proc/$$/status", 0, &err);
	CHECK(out != NULL);
	CHECK(out && (strtoull(out, NULL, 16) & (1ULL << (SIGPIPE - 1))) == 0);
	secret_free(out);
	signal(SIGPIPE, SIG_DFL);

	/* A failing command: its status named, its output never shown. */
	eval("echo topsecret; exit 3", -1, &err);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK_STR(
		err.text, "account 'acct': passwordeval exited with status 3");
	CHECK(strstr(err.text, "topsecret") == NULL);
	eval("no-such-command-postie 2>/dev/null", -1, &err);
	CHECK(strstr(err.text, "status 127") != NULL);
	eval("echo topsecret; kill -9 $$", -1, &err);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK(strstr(err.text, "killed by signal 9") != NULL);

	/* Nothing printed, or an empty first line. */
	eval("true", -1, &err);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK(strstr(err.text, "empty") != NULL);
	eval("printf '\\r\\nsecond\\n'", -1, &err);
	CHECK_INT(err.cls, ERR_CONFIG);

	/* No length limit on the line that matters: 100 KB. */
	out = eval("head -c 102400 /dev/zero | tr '\\0' x; echo; echo more", 0,
		&err);
	CHECK(out != NULL);
	CHECK_INT(out ? strlen(out) : 0, 102400);
	CHECK(out && strspn(out, "x") == 102400);
	secret_free(out);

	/* Output past the 1 MiB cap, or endless: an error, not a hang. */
	eval("head -c 2000000 /dev/zero | tr '\\0' x", -1, &err);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK(strstr(err.text, "1 MiB") != NULL);
	eval("yes", -1, &err);
	CHECK_INT(err.cls, ERR_CONFIG);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

static const char netrc_text[] =
	"# machine smtp.example.org login alice password commented\n"
	"machine other.example login alice password wrong1\n"
	"machine smtp.example.org login bob password bobpw\n"
	"machine SMTP.Example.ORG login alice password alicepw\n"
	"machine smtp.example.org\n"
	"\tlogin carol\r\n"
	"\tpassword carolpw account ignored\r\n"
	"macdef init\n"
	"machine macro.example login alice password inmacro\n"
	"\n"
	"machine nologin.example password #notacomment\n"
	"default login alice password defaultpw\n";

/* Look host/user up in the netrc at path; returns the password or NULL. */
static char *
netrc(const char *path, const char *host, const char *user, int want_rc)
{
	struct secret_query q = query();
	struct error err;
	char *out = NULL;

	q.host = host;
	q.user = user;
	error_clear(&err);
	CHECK_INT(secret_from_netrc(path, 0, &q, &out, &err), want_rc);
	return out;
}

static void
check_netrc(
	const char *path, const char *host, const char *user, const char *want)
{
	char *out = netrc(path, host, user, want ? 1 : 0);

	if (want)
		CHECK_STR(out, want);
	else
		CHECK(out == NULL);
	secret_free(out);
}

static void
test_netrc_matching(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/netrc", tmpdir);
	write_file(path, netrc_text, 0644);

	/* Machine and login both match; host without case; a comment line
	   is skipped, a password starting with '#' is not a comment. */
	check_netrc(path, "smtp.example.org", "alice", "alicepw");
	check_netrc(path, "smtp.example.org", "bob", "bobpw");
	/* Entries over several lines, CRLF, tabs, "account" skipped. */
	check_netrc(path, "smtp.example.org", "carol", "carolpw");
	/* A login that matches no machine entry: "default" is for alice
	   only, so dave finds nothing. */
	check_netrc(path, "smtp.example.org", "dave", NULL);
	/* Logins compare with case. */
	check_netrc(path, "smtp.example.org", "ALICE", NULL);
	/* Unknown host: the default entry. */
	check_netrc(path, "unknown.example", "alice", "defaultpw");
	/* A macdef body is not entries. */
	check_netrc(path, "macro.example", "alice", "defaultpw");
	/* An entry without login fits any user. */
	check_netrc(path, "nologin.example", "zed", "#notacomment");
	/* A prefix of the host is not the host. */
	check_netrc(path, "smtp.example", "bob", NULL);
	/* No file: not found, not an error. */
	check_netrc("/nonexistent/netrc", "smtp.example.org", "alice", NULL);
	unlink(path);
}

static void
test_netrc_home(void)
{
	struct secret_query q = query();
	struct error err;
	char path[256];
	char *out = NULL;

	setenv("HOME", tmpdir, 1);
	snprintf(path, sizeof(path), "%s/.netrc", tmpdir);
	write_file(path, netrc_text, 0600);

	/* secret_lookup finds ~/.netrc through HOME. */
	CHECK_INT(secret_lookup(&q, &out, &err), 0);
	CHECK_STR(out, "alicepw");
	secret_free(out);

	/* ~/.netrc readable by others holds no secret: refused, and the
	   message says how to fix it (and not the password). */
	chmod(path, 0644);
	error_clear(&err);
	out = NULL;
	CHECK_INT(secret_lookup(&q, &out, &err), -1);
	CHECK(out == NULL);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK(strstr(err.text, "chmod 600") != NULL);
	CHECK(strstr(err.text, "alicepw") == NULL);
	unlink(path);
}

/*
 * The prompt on a pseudo-terminal: a child plays the user, answers only
 * after the prompt (so echo is off by then) and checks that its answer
 * was not echoed. Returns the child's verdict (0 good).
 */
static int
pty_user(int master, const char *answer)
{
	char seen[512];
	size_t len = 0;
	ssize_t n;

	alarm(10);
	while (!memmem(seen, len, ": ", 2)) {
		n = read(master, seen + len, sizeof(seen) - 1 - len);
		if (n <= 0)
			return 2;
		len += (size_t)n;
	}
	if (!memmem(seen, len, "password for alice at smtp.example.org: ", 40))
		return 3;
	if (write(master, answer, strlen(answer)) < 0)
		return 4;
	len = 0;
	while ((n = read(master, seen + len, sizeof(seen) - 1 - len)) > 0)
		len += (size_t)n; /* until the slave closes (EIO) */
	return memmem(seen, len, "hunter2", 7) ? 5 : 0;
}

static void
test_prompt_pty(void)
{
	struct secret_query q = query();
	struct error err;
	char *out = NULL;
	int master, status = -1;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(master >= 0);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		return;
	pid = fork();
	if (pid == 0)
		_exit(pty_user(master, "hunter2\r\n"));
	error_clear(&err);
	CHECK_INT(secret_prompt_tty(ptsname(master), &q, &out, &err), 1);
	CHECK_STR(out, "hunter2");
	secret_free(out);
	close(master);
	waitpid(pid, &status, 0);
	CHECK_INT(status, 0);
}

#define NO_PW                                                                  \
	"account 'acct': no password for alice at smtp.example.org (set "      \
	"password, passwordeval, "

static void
test_prompt_no_tty(void)
{
	struct secret_query q = query();
	struct error err;
	char path[256];
	char *out = (char *)1;
	int status = -1;
	pid_t pid;

	/* Nothing to open, or not a terminal: no prompt, no error. */
	CHECK_INT(secret_prompt_tty("/nonexistent/tty", &q, &out, &err), 0);
	CHECK(out == NULL);
	snprintf(path, sizeof(path), "%s/notatty", tmpdir);
	write_file(path, "typed\n", 0600);
	CHECK_INT(secret_prompt_tty(path, &q, &out, &err), 0);
	CHECK(out == NULL);
	unlink(path);

	/* The whole lookup without a controlling terminal (setsid: the
	   /dev/tty open fails, as under cron), with an empty HOME. */
	setenv("HOME", tmpdir, 1);
	pid = fork();
	if (pid == 0) {
		int rc;

		setsid();
		rc = secret_lookup(&q, &out, &err);
		/* What follows the sources is the keyring's part, which
		   depends on the build and the session (test_keyring). */
		_exit(rc == -1 && out == NULL && err.cls == ERR_CONFIG &&
					strncmp(err.text, NO_PW,
						strlen(NO_PW)) == 0
				? 0
				: 1);
	}
	waitpid(pid, &status, 0);
	CHECK_INT(status, 0);
}

int
main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_literal();
	test_passwordeval();
	test_netrc_matching();
	test_netrc_home();
	test_prompt_pty();
	test_prompt_no_tty();
	rmdir(tmpdir);
	return check_finish();
}
