/*
 * secret.c - where the password comes from, in this order: the account's
 * password key; passwordeval; ~/.netrc; SYSCONFDIR/netrc; the keyring
 * (keyring.h: libsecret when built --with-libsecret); a prompt on
 * /dev/tty.
 *
 * passwordeval runs its command as /bin/sh -c COMMAND, as msmtp does, so
 * existing configurations (pipes, quoting, ~) keep working. Its standard
 * input is /dev/null, its standard error is ours (gpg and pass talk to
 * the user there), and its whole standard output is read, up to 1 MiB
 * (SECRET_EVAL_MAX): far more than any password or OAuth token, and a
 * bound on memory when the command runs away. The password is the first
 * line, without its trailing CR/LF; the rest is read only so that the
 * command is not killed by SIGPIPE. The output is never shown, not even
 * in errors: it is the password.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fdio.h"
#include "keyring.h"
#include "secret.h"
#include "xmalloc.h"

#define SECRET_EVAL_MAX  (1024 * 1024)
#define SECRET_NETRC_MAX (1024 * 1024)
#define SECRET_TTY_MAX   4096 /* a canonical-mode terminal line is no longer */

static const char *
secret_account(const struct secret_query *q)
{
	return q->account ? q->account : "default";
}

static void
secret_wipe_buf(struct buf *b)
{
	explicit_bzero(b->data, b->len);
	buf_release(b);
}

void
secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* --- passwordeval ------------------------------------------------------ */

/* Move fd above 2, so that the child's dup2 onto 0 and 1 cannot clobber
   it when the caller started with standard descriptors closed. */
static int
secret_fd_high(int fd)
{
	int hi;

	if (fd < 0 || fd > 2)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return hi;
}

/*
 * Only async-signal-safe calls between fork and execve. An ignored SIGPIPE
 * (our own caller may have set it) would survive execve; the command gets
 * the default, as a shell pipeline expects.
 */
static void
secret_exec_child(const char *cmd, int in, int out)
{
	char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0)
		_exit(127);
	execve("/bin/sh", argv, environ);
	_exit(127);
}

static int
secret_spawn(const char *cmd, pid_t *pid, int *rfd, struct error *err)
{
	int in, p[2] = {-1, -1};

	in = secret_fd_high(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (in < 0 || pipe2(p, O_CLOEXEC) < 0)
		goto fail;
	p[0] = secret_fd_high(p[0]);
	p[1] = secret_fd_high(p[1]);
	if (p[0] < 0 || p[1] < 0)
		goto fail;
	*pid = fork();
	if (*pid < 0)
		goto fail;
	if (*pid == 0)
		secret_exec_child(cmd, in, p[1]);
	close(in);
	close(p[1]);
	*rfd = p[0];
	return 0;
fail:
	error_set(err, ERR_OS, "passwordeval: cannot run /bin/sh: %s",
		strerror(errno));
	if (in >= 0)
		close(in);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return -1;
}

/* Read everything; 0, or -1 with errno (EFBIG past the cap). */
static int
secret_read_all(int fd, struct buf *b)
{
	ssize_t n;

	while ((n = buf_read_fd(b, fd, 64 * 1024)) > 0)
		;
	return n < 0 ? -1 : 0;
}

static int
secret_wait(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int
secret_eval_status(const struct secret_query *q, int status, struct error *err)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		error_set(err, ERR_CONFIG,
			"account '%s': passwordeval exited with status %d",
			secret_account(q), WEXITSTATUS(status));
	else
		error_set(err, ERR_CONFIG,
			"account '%s': passwordeval was killed by signal %d",
			secret_account(q), WTERMSIG(status));
	return -1;
}

/* The first line without its CR/LF; the output itself is never quoted. */
static int
secret_first_line(const struct secret_query *q, const struct buf *b, char **out,
	struct error *err)
{
	const char *nl = memchr(b->data, '\n', b->len);
	size_t len = nl ? (size_t)(nl - b->data) : b->len;

	while (len > 0 && b->data[len - 1] == '\r')
		len--;
	if (len == 0) {
		error_set(err, ERR_CONFIG,
			"account '%s': passwordeval printed no password (its "
			"first line is empty)",
			secret_account(q));
		return -1;
	}
	if (memchr(b->data, '\0', len)) {
		error_set(err, ERR_CONFIG,
			"account '%s': passwordeval's first line holds a NUL "
			"byte",
			secret_account(q));
		return -1;
	}
	*out = xstrndup(b->data, len);
	return 0;
}

static int
secret_from_eval(const struct secret_query *q, char **out, struct error *err)
{
	struct buf b;
	pid_t pid;
	int fd, status, rerr = 0, ret = -1;

	buf_init(&b, SECRET_EVAL_MAX);
	if (secret_spawn(q->passwordeval, &pid, &fd, err) < 0)
		goto out;
	if (secret_read_all(fd, &b) < 0)
		rerr = errno;
	close(fd);
	if (rerr == EFBIG)
		kill(pid, SIGTERM); /* it would block or die of SIGPIPE */
	if (secret_wait(pid, &status) < 0) {
		error_set(err, ERR_OS, "account '%s': passwordeval: wait: %s",
			secret_account(q), strerror(errno));
		goto out;
	}
	if (rerr == EFBIG) {
		error_set(err, ERR_CONFIG,
			"account '%s': passwordeval printed more than 1 MiB",
			secret_account(q));
		goto out;
	}
	if (rerr) {
		error_set(err, ERR_OS, "account '%s': passwordeval: read: %s",
			secret_account(q), strerror(rerr));
		goto out;
	}
	if (secret_eval_status(q, status, err) == 0)
		ret = secret_first_line(q, &b, out, err);
out:
	secret_wipe_buf(&b);
	return ret;
}

/* --- netrc -------------------------------------------------------------- */

struct netrc_token {
	const char *p;
	size_t len;
};

struct netrc_entry {
	int is_default;
	struct netrc_token machine, login, password;
};

struct netrc_scan {
	const char *p, *end;
};

static int
netrc_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* The next whitespace-separated token (netrc(5) has no quoting). */
static int
netrc_next(struct netrc_scan *s, struct netrc_token *t)
{
	while (s->p < s->end && netrc_space(*s->p))
		s->p++;
	if (s->p == s->end)
		return 0;
	t->p = s->p;
	while (s->p < s->end && !netrc_space(*s->p))
		s->p++;
	t->len = (size_t)(s->p - t->p);
	return 1;
}

static int
netrc_is(const struct netrc_token *t, const char *word)
{
	return t->len == strlen(word) && memcmp(t->p, word, t->len) == 0;
}

/* A comment (not in netrc(5), but Python's and GNU's netrc allow one
   where a keyword may stand) runs to the end of the line. */
static void
netrc_skip_line(struct netrc_scan *s)
{
	const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));

	s->p = nl ? nl + 1 : s->end;
}

/* A macdef body runs from the next line to the first empty line. */
static void
netrc_skip_macdef(struct netrc_scan *s)
{
	const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));

	while (nl) {
		const char *line = nl + 1;

		nl = memchr(line, '\n', (size_t)(s->end - line));
		if (nl && (nl == line || (nl == line + 1 && *line == '\r'))) {
			s->p = nl + 1;
			return;
		}
	}
	s->p = s->end;
}

static int
netrc_tok_eq(const struct netrc_token *t, const char *s, int nocase)
{
	size_t n = s ? strlen(s) : 0;

	if (!s || t->len != n)
		return 0;
	return nocase ? strncasecmp(t->p, s, n) == 0 : memcmp(t->p, s, n) == 0;
}

/* Host names compare without case; an entry with no login fits any
   user, and a query with no user takes any login. */
static int
netrc_matches(const struct netrc_entry *e, const struct secret_query *q)
{
	if (!e->password.p)
		return 0;
	if (!e->is_default && !netrc_tok_eq(&e->machine, q->host, 1))
		return 0;
	return !e->login.p || !q->user || netrc_tok_eq(&e->login, q->user, 0);
}

/* Read the value after a keyword into the entry's field. */
static void
netrc_keyword(struct netrc_scan *s, const struct netrc_token *t,
	struct netrc_entry *e)
{
	struct netrc_token v = {NULL, 0};

	if (netrc_is(t, "macdef")) {
		netrc_next(s, &v);
		netrc_skip_macdef(s);
		return;
	}
	if (!netrc_is(t, "login") && !netrc_is(t, "password") &&
		!netrc_is(t, "account") && !netrc_is(t, "machine"))
		return; /* an unknown word stands alone */
	if (!netrc_next(s, &v))
		return;
	if (netrc_is(t, "login"))
		e->login = v;
	else if (netrc_is(t, "password"))
		e->password = v;
	else if (netrc_is(t, "machine"))
		e->machine = v;
}

/*
 * Find the entry for the query in a netrc text: the first matching
 * "machine" entry, else the first matching "default" entry. 1 found.
 */
static int
netrc_find(const char *text, size_t len, const struct secret_query *q,
	struct netrc_token *password)
{
	struct netrc_scan s = {text, text + len};
	struct netrc_entry e, dflt;
	struct netrc_token t;
	int in_entry = 0, have_dflt = 0;

	memset(&e, 0, sizeof(e));
	memset(&dflt, 0, sizeof(dflt));
	for (;;) {
		int more = netrc_next(&s, &t);

		if (more && t.p[0] == '#') {
			netrc_skip_line(&s);
			continue;
		}
		if (!more || netrc_is(&t, "machine") ||
			netrc_is(&t, "default")) {
			if (in_entry && netrc_matches(&e, q)) {
				if (!e.is_default) {
					*password = e.password;
					return 1;
				}
				if (!have_dflt)
					dflt = e;
				have_dflt = 1;
			}
			if (!more)
				break;
			memset(&e, 0, sizeof(e));
			in_entry = 1;
			e.is_default = netrc_is(&t, "default");
		}
		netrc_keyword(&s, &t, &e);
	}
	if (have_dflt)
		*password = dflt.password;
	return have_dflt;
}

/* ~/.netrc holds passwords: like ftp(1), refuse one others can read or
   that another user owns (and could have planted). */
static int
netrc_check_private(const char *path, const struct stat *st, struct error *err)
{
	if (st->st_uid == getuid() && (st->st_mode & 077) == 0)
		return 0;
	error_set(err, ERR_CONFIG,
		"%s: %s; its passwords are not private (chmod 600 %s)", path,
		st->st_uid == getuid() ? "readable by group or others"
				       : "owned by another user",
		path);
	return -1;
}

static int
netrc_read(const char *path, struct buf *b, struct stat *st, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int ret = -1;

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
			return 0;
		error_set(err, ERR_CONFIG, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		error_set(err, ERR_CONFIG, "%s: not a regular file", path);
		goto out;
	}
	if (secret_read_all(fd, b) < 0) {
		error_set(err, ERR_CONFIG, "%s: %s", path,
			errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		goto out;
	}
	ret = 1;
out:
	close(fd);
	return ret;
}

int
secret_from_netrc(const char *path, int private_file,
	const struct secret_query *q, char **out, struct error *err)
{
	struct buf b;
	struct stat st;
	struct netrc_token pw;
	int ret;

	*out = NULL;
	buf_init(&b, SECRET_NETRC_MAX);
	ret = netrc_read(path, &b, &st, err);
	if (ret <= 0)
		goto out;
	ret = netrc_find(b.data, b.len, q, &pw);
	if (ret == 1 && private_file && netrc_check_private(path, &st, err) < 0)
		ret = -1;
	else if (ret == 1)
		*out = xstrndup(pw.p, pw.len);
out:
	secret_wipe_buf(&b);
	return ret;
}

static int
secret_from_netrc_files(
	const struct secret_query *q, char **out, struct error *err)
{
	const char *home = config_home();
	struct buf path;
	int ret = 0;

	buf_init(&path, 64 * 1024);
	if (home && buf_printf(&path, "%s/.netrc", home) == 0)
		ret = secret_from_netrc(path.data, 1, q, out, err);
	buf_release(&path);
	if (ret != 0)
		return ret;
	return secret_from_netrc(SYSCONFDIR "/netrc", 0, q, out, err);
}

/* --- keyring ------------------------------------------------------------ */

/*
 * The freedesktop Secret Service, behind keyring.h: libsecret loaded at
 * run time when built --with-libsecret, else a keyring that has nothing
 * and says why. A keyring that cannot be asked is not an error: the
 * terminal may still answer, and why goes into the "no password" error.
 */
static int
secret_from_keyring(
	const struct secret_query *q, char **out, char *why, size_t why_size)
{
	return keyring_lookup(q->host, q->user, out, why, why_size);
}

/* --- the terminal ------------------------------------------------------- */

static int
secret_tty_prompt_text(int fd, const struct secret_query *q)
{
	char user[256], host[256];
	struct buf b;
	int rc;

	/* Config values may hold terminal escapes: show them inert. */
	log_escape(user, sizeof(user), q->user ? q->user : "",
		q->user ? strlen(q->user) : 0);
	log_escape(host, sizeof(host), q->host ? q->host : "",
		q->host ? strlen(q->host) : 0);
	buf_init(&b, 1024);
	rc = buf_printf(&b, "password for %s at %s: ", user, host);
	if (rc == 0)
		rc = fdio_write_all(fd, b.data, b.len);
	buf_release(&b);
	return rc;
}

/* One line, up to its newline or end of file. */
static int
secret_tty_read(int fd, struct buf *b)
{
	for (;;) {
		ssize_t n = buf_read_fd(b, fd, SECRET_TTY_MAX);

		if (n < 0)
			return -1;
		if (n == 0 || memchr(b->data, '\n', b->len))
			return 0;
	}
}

/*
 * The echo is turned off before the prompt is written, and TCSAFLUSH
 * drops what was typed ahead, so nothing typed before the prompt becomes
 * the password. A signal during the read leaves echo off, as getpass(3)
 * does; `stty echo` restores it.
 */
static int
secret_tty_exchange(
	int fd, const struct secret_query *q, struct buf *b, struct error *err)
{
	struct termios old, quiet;
	int rc;

	if (tcgetattr(fd, &old) < 0)
		return 0; /* not a terminal */
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0)
		return 0;
	rc = secret_tty_prompt_text(fd, q);
	if (rc == 0)
		rc = secret_tty_read(fd, b);
	tcsetattr(fd, TCSAFLUSH, &old);
	fdio_write_all(fd, "\n", 1);
	if (rc < 0) {
		error_set(err, ERR_IO,
			"cannot read the password from the "
			"terminal");
		return -1;
	}
	return 1;
}

int
secret_prompt_tty(const char *tty, const struct secret_query *q, char **out,
	struct error *err)
{
	struct buf b;
	int fd, ret;

	*out = NULL;
	fd = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* no terminal (cron, a daemon): no prompt */
	buf_init(&b, SECRET_TTY_MAX);
	ret = secret_tty_exchange(fd, q, &b, err);
	close(fd);
	if (ret == 1) {
		const char *nl = memchr(b.data, '\n', b.len);
		size_t len = nl ? (size_t)(nl - b.data) : b.len;

		while (len > 0 && b.data[len - 1] == '\r')
			len--;
		if (len == 0 || memchr(b.data, '\0', len))
			ret = 0; /* an empty answer declines */
		else
			*out = xstrndup(b.data, len);
	}
	secret_wipe_buf(&b);
	return ret;
}

/* --- the order ---------------------------------------------------------- */

/* why: the keyring's reason for not being asked, or "" when it was. */
static void
secret_not_found(
	const struct secret_query *q, const char *why, struct error *err)
{
	char user[256], host[256];

	log_escape(user, sizeof(user), q->user ? q->user : "(no user)",
		q->user ? strlen(q->user) : 9);
	log_escape(host, sizeof(host), q->host ? q->host : "(no host)",
		q->host ? strlen(q->host) : 9);
	if (*why)
		error_set(err, ERR_CONFIG,
			"account '%s': no password for %s at %s (set password, "
			"passwordeval, or a netrc entry; keyring: %s)",
			secret_account(q), user, host, why);
	else
		error_set(err, ERR_CONFIG,
			"account '%s': no password for %s at %s (set password, "
			"passwordeval, a netrc entry, or a keyring entry)",
			secret_account(q), user, host);
}

int
secret_lookup(const struct secret_query *q, char **out, struct error *err)
{
	char why[512] = "";
	int rc;

	*out = NULL;
	if (q->password) {
		*out = xstrdup(q->password);
		return 0;
	}
	if (q->passwordeval)
		return secret_from_eval(q, out, err);
	rc = secret_from_netrc_files(q, out, err);
	if (rc == 0)
		rc = secret_from_keyring(q, out, why, sizeof(why));
	if (rc == 0)
		rc = secret_prompt_tty("/dev/tty", q, out, err);
	if (rc < 0)
		return -1;
	if (rc > 0)
		return 0;
	secret_not_found(q, why, err);
	return -1;
}
