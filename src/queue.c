/*
 * queue.c - the durable queue's storage: the entry file format, the
 * atomic write, locks, listing, and the reader that streams a message back
 * out for smtp_send.
 *
 * One entry, one file (mode 0600) named by its id (16 lowercase hex
 * digits). The file is an envelope of "key value" lines, the message,
 * then records appended later:
 *
 *   postie-queue 1\n            magic + format version; any other version:
 *                               unreadable
 *   id HEX16\n                  must equal the file name
 *   created UNIXTIME\n
 *   account NAME\n
 *   sender <ADDR>\n             "<>" for the null sender
 *   sender-ascii <ADDR>\n       optional
 *   rcpt <ADDR>\n               one or more, in order
 *   rcpt-ascii <ADDR>\n         optional, right after the rcpt it belongs to
 *   body 7BIT|8BITMIME\n        optional (absent = SMTP_BODY_DEFAULT)
 *   notify VALUE\n ret VALUE\n envid VALUE\n   optional
 *   8bit 0|1\n header-8bit 0|1\n
 *   size N\n                    message bytes that follow the envelope
 *   \n                          end of the envelope
 *   N bytes: the message, CRLF lines, not dot-stuffed
 *   then zero or more records, each one line appended later:
 *   attempt UNIXTIME TEXT\n     a failed attempt and why
 *   failed UNIXTIME TEXT\n      given up and why
 *   retry UNIXTIME\n            moved back from failed/ by hand
 *
 * A key and its value are separated by one space; a value is the rest of
 * the line and may hold any byte but CR, LF and NUL (queue_add refuses
 * those: a line break in a value would forge a key). Numbers are decimal
 * digits only. A record's TEXT is log_escape()d, so printable ASCII, at
 * most QUEUE_ERROR_MAX characters; a record line is at most
 * QUEUE_RECORD_MAX bytes.
 *
 * The reader refuses (the entry is then "unreadable", listed with the
 * reason, never sent): another magic or version, an unknown key, a key
 * given twice, a missing one (id, created, account, sender, a rcpt, 8bit,
 * header-8bit, size), an id other than the file name, a NUL or CR in the
 * envelope, an envelope past QUEUE_ENVELOPE_MAX, and a file shorter than
 * envelope + size. Records are read up to the first line that is not a
 * whole valid record: an append cut short by a crash (a line without its
 * LF, or the NUL bytes some file systems leave) is ignored, and the next
 * append truncates it away so later records count again.
 *
 * Crash safety: an entry is written as tmp/ID (O_EXCL, flock()ed while
 * written), fsync()ed, renamed into place and the directory fsync()ed; a
 * record is one write(2) on an O_APPEND descriptor, then fsync().
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"
#include "log.h"
#include "queue.h"
#include "xmalloc.h"

#define QUEUE_MAGIC        "postie-queue 1"
#define QUEUE_MAGIC_PREFIX "postie-queue "
/* The envelope's cap: room for ALIASES_EXPAND_MAX (10000) recipients with
   both forms at the longest mailbox, so a hostile or damaged file cannot
   make the reader allocate without bound. */
#define QUEUE_ENVELOPE_MAX (16 * 1024 * 1024)
#define QUEUE_IO_CHUNK     (64 * 1024) /* writes of a new entry */
#define QUEUE_READ_CHUNK   (16 * 1024) /* reads of the envelope */
#define QUEUE_RECORD_MAX   1024        /* a record line, LF included */
#define QUEUE_TMP_AGE      60          /* seconds before tmp/ leftovers go */
#define QUEUE_NUMBER_MAX   18          /* digits: fits time_t and off_t */

/* A lock attempt's outcomes besides -1 (an error). */
enum { LOCK_GONE = 0, LOCK_TAKEN = 1, LOCK_BUSY = 2 };

static int
id_is_valid(const char *s)
{
	size_t i;

	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

/* Decimal digits only (no sign, no blanks): what the writer produces. */
static int
number_parse(const char *p, size_t len, long long *out)
{
	size_t i;

	if (len == 0 || len > QUEUE_NUMBER_MAX)
		return -1;
	*out = 0;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*out = *out * 10 + (p[i] - '0');
	}
	return 0;
}

/* fsync a subdirectory of the queue ("failed"), for a rename into it. */
static int
dir_sync_at(int dirfd, const char *sub)
{
	int fd, rc;

	fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

void
queue_entry_release(struct queue_entry *e)
{
	size_t i;

	if (e->fd >= 0)
		close(e->fd); /* releases the flock */
	for (i = 0; i < e->nrcpts; i++) {
		free(e->rcpts[i]);
		free(e->rcpts_ascii[i]);
	}
	free(e->rcpts);
	free(e->rcpts_ascii);
	free(e->account);
	free(e->sender);
	free(e->sender_ascii);
	free(e->dsn_notify);
	free(e->dsn_ret);
	free(e->dsn_envid);
	free(e->last_error);
	free(e->unreadable);
	memset(e, 0, sizeof(*e));
	e->fd = -1;
}

void
queue_entries_release(struct queue_entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		queue_entry_release(&v[i]);
	free(v);
}

void
queue_unlock(struct queue_entry *e)
{
	queue_entry_release(e);
}

/* --- opening the directory ------------------------------------------- */

/* mkdir -p with 0700 for what it makes; existing parents are left alone. */
static int
dir_make_parents(const char *dir, struct error *err)
{
	size_t failed;

	if (fdio_mkdirs(dir, strlen(dir), &failed) == 0)
		return 0;
	error_set(err, ERR_CANTCREAT, "cannot create %.*s: %s", (int)failed,
		dir, strerror(errno));
	return -1;
}

/* The messages are private: nobody else may list or enter the queue. */
static int
dir_check(int fd, const char *dir, struct error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		error_set(err, ERR_OS, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (st.st_uid != getuid()) {
		error_set(err, ERR_CONFIG,
			"queue directory %s belongs to uid %lu, not to you "
			"(uid %lu)",
			dir, (unsigned long)st.st_uid, (unsigned long)getuid());
		return -1;
	}
	if (st.st_mode & 077) {
		error_set(err, ERR_CONFIG,
			"queue directory %s is open to others (mode %04o): "
			"chmod 700 %s",
			dir, (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

static int
dir_make_subdirs(int fd, const char *dir, struct error *err)
{
	static const char *const subs[] = {"tmp", "failed"};
	size_t i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (mkdirat(fd, subs[i], 0700) < 0 && errno != EEXIST) {
			error_set(err, ERR_CANTCREAT, "cannot create %s/%s: %s",
				dir, subs[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

int
queue_open(struct queue *q, const char *dir, int create, struct error *err)
{
	int fd;

	q->dir = NULL;
	q->dirfd = -1;
	if (dir[0] == '\0') {
		error_set(err, ERR_CONFIG, "queue_dir is empty");
		return -1;
	}
	if (create && dir_make_parents(dir, err) < 0)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && !create)
			return 1;
		if (errno == ENOTDIR)
			error_set(err, ERR_CONFIG,
				"queue directory %s is not a directory", dir);
		else
			error_set(err, ERR_OS,
				"cannot open the queue directory %s: %s", dir,
				strerror(errno));
		return -1;
	}
	if (dir_check(fd, dir, err) < 0 ||
		(create && dir_make_subdirs(fd, dir, err) < 0)) {
		close(fd);
		return -1;
	}
	q->dir = xstrdup(dir);
	q->dirfd = fd;
	return 0;
}

void
queue_close(struct queue *q)
{
	if (q->dirfd >= 0)
		close(q->dirfd);
	free(q->dir);
	q->dir = NULL;
	q->dirfd = -1;
}

/* --- writing a new entry --------------------------------------------- */

static int
value_is_clean(const char *s)
{
	return s == NULL || strpbrk(s, "\r\n") == NULL;
}

/* A CR or LF in a value would end its line and forge the next key. */
static int
envelope_check(const struct queue_entry *e, struct error *err)
{
	const char *what = NULL;
	size_t i;

	if (e->account == NULL || e->sender == NULL || e->nrcpts == 0 ||
		e->rcpts == NULL) {
		error_set(err, ERR_SOFTWARE,
			"queue: an entry needs an account, a sender and a "
			"recipient");
		return -1;
	}
	if (!value_is_clean(e->account))
		what = "account name";
	else if (!value_is_clean(e->sender) || !value_is_clean(e->sender_ascii))
		what = "sender";
	else if (!value_is_clean(e->dsn_notify) ||
		 !value_is_clean(e->dsn_ret) || !value_is_clean(e->dsn_envid))
		what = "DSN parameter";
	for (i = 0; what == NULL && i < e->nrcpts; i++)
		if (e->rcpts[i] == NULL || e->rcpts[i][0] == '\0' ||
			!value_is_clean(e->rcpts[i]) ||
			(e->rcpts_ascii && !value_is_clean(e->rcpts_ascii[i])))
			what = "recipient";
	if (what != NULL) {
		error_set(err, ERR_DATA,
			"cannot queue the message: a %s holds a line break",
			what);
		return -1;
	}
	return 0;
}

static int
envelope_format_rcpts(struct buf *b, const struct queue_entry *e)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++) {
		if (buf_printf(b, "rcpt <%s>\n", e->rcpts[i]) < 0)
			return -1;
		if (e->rcpts_ascii && e->rcpts_ascii[i] &&
			buf_printf(b, "rcpt-ascii <%s>\n", e->rcpts_ascii[i]) <
				0)
			return -1;
	}
	return 0;
}

static int
envelope_format(struct buf *b, const struct queue_entry *e, off_t size)
{
	int rc = 0;

	rc |= buf_printf(b,
		"%s\nid %s\ncreated %lld\naccount %s\nsender <%s>\n",
		QUEUE_MAGIC, e->id, (long long)e->created, e->account,
		e->sender);
	if (e->sender_ascii)
		rc |= buf_printf(b, "sender-ascii <%s>\n", e->sender_ascii);
	rc |= envelope_format_rcpts(b, e);
	if (e->body == SMTP_BODY_7BIT || e->body == SMTP_BODY_8BITMIME)
		rc |= buf_printf(b, "body %s\n",
			e->body == SMTP_BODY_7BIT ? "7BIT" : "8BITMIME");
	if (e->dsn_notify)
		rc |= buf_printf(b, "notify %s\n", e->dsn_notify);
	if (e->dsn_ret)
		rc |= buf_printf(b, "ret %s\n", e->dsn_ret);
	if (e->dsn_envid)
		rc |= buf_printf(b, "envid %s\n", e->dsn_envid);
	rc |= buf_printf(b, "8bit %d\nheader-8bit %d\nsize %lld\n\n",
		e->has_8bit ? 1 : 0, e->header_8bit ? 1 : 0,
		(long long)(size < 0 ? 0 : size));
	return rc < 0 ? -1 : 0;
}

static int
random_u32(uint32_t *out)
{
	unsigned char b[4];

	if (fdio_random(b, sizeof(b)) < 0)
		return -1;
	*out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
	return 0;
}

/* Only one writer can hold tmp/ID (O_EXCL), so checking here that no
   entry has the id yet keeps the rename from replacing one. */
static int
id_is_taken(const struct queue *q, const char *id)
{
	char name[16 + QUEUE_ID_LEN];
	struct stat st;

	snprintf(name, sizeof(name), "failed/%s", id);
	return fstatat(q->dirfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	       fstatat(q->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Remove tmp file name when no writer holds it; 1 when it is gone. */
static int
tmp_stale(const struct queue *q, const char *name)
{
	int fd = openat(q->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int gone = 0;

	if (fd < 0)
		return errno == ENOENT;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		gone = unlinkat(q->dirfd, name, 0) == 0;
	close(fd);
	return gone;
}

/*
 * With a preset id: that one or none. -2 when an entry (queued, failed,
 * or being written) has it already: whoever made it got there first.
 */
static int
tmp_create_as(const struct queue *q, struct queue_entry *e, struct error *err)
{
	char name[16 + QUEUE_ID_LEN];
	int fd;

	e->created = time(NULL);
	snprintf(name, sizeof(name), "tmp/%s", e->id);
	fd = openat(q->dirfd, name,
		O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	/* A tmp/ID of a writer that died (its lock is free) is not an entry:
	   it goes, and this one is written. */
	if (fd < 0 && errno == EEXIST && tmp_stale(q, name))
		fd = openat(q->dirfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			0600);
	if (fd < 0 && errno == EEXIST)
		return -2;
	if (fd < 0) {
		error_set(err, ERR_CANTCREAT, "cannot create %s/%s: %s", q->dir,
			name, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) == 0 && !id_is_taken(q, e->id))
		return fd;
	unlinkat(q->dirfd, name, 0);
	close(fd);
	return -2;
}

/* Pick an id, create tmp/ID and lock it: queue_clean_tmp leaves locked
   files alone, so a slow writer is never cleaned away. */
static int
tmp_create(const struct queue *q, struct queue_entry *e, struct error *err)
{
	char name[16 + QUEUE_ID_LEN];
	uint32_t r;
	int fd, tries;

	if (e->id[0] != '\0')
		return tmp_create_as(q, e, err);
	for (tries = 0; tries < 16; tries++) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		e->created = now.tv_sec;
		if (random_u32(&r) < 0) {
			error_set(
				err, ERR_OS, "no random bytes for a queue id");
			return -1;
		}
		/* Seconds, microseconds, 12 random bits: ids sort in the
		   order the entries were queued, so a run sends them so. */
		snprintf(e->id, sizeof(e->id), "%08llx%05lx%03lx",
			(unsigned long long)e->created & 0xffffffffULL,
			(unsigned long)(now.tv_nsec / 1000) & 0xfffffUL,
			(unsigned long)r & 0xfffUL);
		snprintf(name, sizeof(name), "tmp/%s", e->id);
		fd = openat(q->dirfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			break;
		if (flock(fd, LOCK_EX) == 0 && !id_is_taken(q, e->id))
			return fd;
		unlinkat(q->dirfd, name, 0);
		close(fd);
	}
	error_set(err, ERR_CANTCREAT, "cannot create an entry in %s/tmp: %s",
		q->dir,
		tries < 16 ? strerror(errno) : "every id tried is taken");
	e->id[0] = '\0';
	return -1;
}

/*
 * The envelope, then the message from src, in QUEUE_IO_CHUNK writes;
 * *count = the message bytes. src->read gets at least 2 bytes of room
 * (message_reader_read's minimum).
 */
static int
entry_stream(int fd, const struct buf *env, const struct smtp_source *src,
	off_t *count, struct error *err)
{
	char *stage = xmalloc(QUEUE_IO_CHUNK);
	size_t used = 0, hoff = 0, k;
	ssize_t n = 1;
	int rc = -1;

	*count = 0;
	src->rewind(src->ctx, 0);
	while (n > 0 || used > 0) {
		if (hoff < env->len) {
			k = env->len - hoff;
			if (k > QUEUE_IO_CHUNK - used)
				k = QUEUE_IO_CHUNK - used;
			memcpy(stage + used, env->data + hoff, k);
			used += k;
			hoff += k;
		} else if (n > 0) {
			n = src->read(src->ctx, stage + used,
				QUEUE_IO_CHUNK - used, err);
			if (n < 0)
				goto out;
			used += (size_t)n;
			*count += n;
		}
		/* cppcheck-suppress knownConditionTrueFalse ; n changes in
		   the loop: a read of 0 can leave used at 0 */
		if (QUEUE_IO_CHUNK - used < 2 || (n == 0 && used > 0)) {
			if (fdio_write_all(fd, stage, used) < 0) {
				error_set(err, ERR_IO,
					"cannot write the queue entry: %s",
					strerror(errno));
				goto out;
			}
			used = 0;
		}
	}
	rc = 0;
out:
	free(stage);
	return rc;
}

/* Write the whole entry to fd. The size goes before the message, so a
   source whose size is only a hint is read twice: once to count. */
static int
entry_write(int fd, struct queue_entry *e, const struct smtp_source *src,
	struct error *err)
{
	struct buf env;
	off_t size = src->size, count = 0;
	int pass, rc;

	buf_init(&env, QUEUE_ENVELOPE_MAX);
	for (pass = 0; pass < 2; pass++, size = count) {
		buf_reset(&env);
		if (envelope_format(&env, e, size) < 0) {
			error_set(err, ERR_DATA,
				"cannot queue the message: its envelope passes "
				"%d MiB",
				QUEUE_ENVELOPE_MAX >> 20);
			break;
		}
		if (pass > 0 &&
			(ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)) {
			error_set(err, ERR_IO,
				"cannot rewrite the queue entry: %s",
				strerror(errno));
			break;
		}
		rc = entry_stream(fd, &env, src, &count, err);
		if (rc < 0 || count == size) {
			buf_release(&env);
			e->size = count;
			return rc;
		}
	}
	if (pass == 2)
		error_set(err, ERR_SOFTWARE,
			"queue: the message changed while it was queued");
	buf_release(&env);
	return -1;
}

#define RECORD_LINE_MAX (QUEUE_ERROR_MAX + 64)

/* "KIND WHEN TEXT\n" with why escaped into line (RECORD_LINE_MAX);
   returns its length. */
static size_t
record_format(char *line, const char *kind, time_t when, const char *why)
{
	char text[QUEUE_ERROR_MAX + 1];

	if (when < 0)
		when = 0;
	log_escape(text, sizeof(text), why ? why : "", why ? strlen(why) : 0);
	return (size_t)snprintf(line, RECORD_LINE_MAX, "%s %lld %s\n", kind,
		(long long)when, text);
}

int
queue_add(struct queue *q, struct queue_entry *e, const struct smtp_source *src,
	struct error *err)
{
	char tmpname[16 + QUEUE_ID_LEN];
	int fd, rc = -1;

	e->fd = -1;
	if (e->id[0] != '\0' && !id_is_valid(e->id)) {
		error_set(err, ERR_SOFTWARE, "queue_add: not a queue id");
		return -1;
	}
	if (envelope_check(e, err) < 0)
		return -1;
	fd = tmp_create(q, e, err);
	if (fd == -2)
		return 1;
	if (fd < 0)
		return -1;
	snprintf(tmpname, sizeof(tmpname), "tmp/%s", e->id);
	if (entry_write(fd, e, src, err) < 0)
		goto out;
	/* The attempt that failed, in the same fsync as the entry. */
	if (e->last_error) {
		char line[RECORD_LINE_MAX];
		size_t n = record_format(
			line, "attempt", e->last_attempt, e->last_error);

		if (fdio_write_all(fd, line, n) < 0) {
			error_set(err, ERR_IO,
				"cannot queue the message in %s: %s", q->dir,
				strerror(errno));
			goto out;
		}
	}
	if (fsync(fd) < 0 || renameat(q->dirfd, tmpname, q->dirfd, e->id) < 0) {
		error_set(err, ERR_IO, "cannot queue the message in %s: %s",
			q->dir, strerror(errno));
		goto out;
	}
	tmpname[0] = '\0';
	if (fsync(q->dirfd) < 0) {
		/* Not durable: take it back rather than promise it. */
		error_set(err, ERR_IO, "cannot queue the message in %s: %s",
			q->dir, strerror(errno));
		unlinkat(q->dirfd, e->id, 0);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		if (tmpname[0] != '\0')
			unlinkat(q->dirfd, tmpname, 0);
		e->id[0] = '\0';
	}
	close(fd); /* only now: the lock covers the whole write */
	return rc;
}

/* --- reading an entry ------------------------------------------------ */

enum key {
	K_ID,
	K_CREATED,
	K_ACCOUNT,
	K_SENDER,
	K_SENDER_ASCII,
	K_RCPT,
	K_RCPT_ASCII,
	K_BODY,
	K_NOTIFY,
	K_RET,
	K_ENVID,
	K_8BIT,
	K_HEADER_8BIT,
	K_SIZE,
	K_COUNT
};

static const char *const key_names[K_COUNT] = {"id", "created", "account",
	"sender", "sender-ascii", "rcpt", "rcpt-ascii", "body", "notify", "ret",
	"envid", "8bit", "header-8bit", "size"};

#define KEY_BIT(k) (1u << (k))
#define KEYS_REQUIRED                                                          \
	(KEY_BIT(K_ID) | KEY_BIT(K_CREATED) | KEY_BIT(K_ACCOUNT) |             \
		KEY_BIT(K_SENDER) | KEY_BIT(K_RCPT) | KEY_BIT(K_8BIT) |        \
		KEY_BIT(K_HEADER_8BIT) | KEY_BIT(K_SIZE))

struct parse {
	struct queue_entry *e;
	unsigned seen;    /* KEY_BIT of each key read */
	size_t rcpt_cap;  /* allocated rcpts */
	int after_rcpt;   /* the previous line was a rcpt */
	unsigned line;    /* envelope line number, for the reason */
	char reason[256]; /* why the entry is unreadable */
};

static int parse_fail(struct parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
parse_fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (p->line > 0)
		n = snprintf(
			p->reason, sizeof(p->reason), "line %u: ", p->line);
	va_start(ap, fmt);
	vsnprintf(p->reason + n, sizeof(p->reason) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* "<ADDR>" -> a copy of ADDR ("" for "<>"); NULL if not bracketed. */
static char *
value_angle(const char *v)
{
	size_t len = strlen(v);

	if (len < 2 || v[0] != '<' || v[len - 1] != '>')
		return NULL;
	return xstrndup(v + 1, len - 2);
}

static int
value_rcpt(struct parse *p, const char *v)
{
	struct queue_entry *e = p->e;
	char *addr = value_angle(v);

	if (addr == NULL || addr[0] == '\0') {
		free(addr);
		return parse_fail(p, "rcpt is not <ADDRESS>");
	}
	if (e->nrcpts == p->rcpt_cap) {
		p->rcpt_cap = p->rcpt_cap ? 2 * p->rcpt_cap : 4;
		e->rcpts = xreallocarray(e->rcpts, p->rcpt_cap, sizeof(char *));
		e->rcpts_ascii = xreallocarray(
			e->rcpts_ascii, p->rcpt_cap, sizeof(char *));
	}
	e->rcpts[e->nrcpts] = addr;
	e->rcpts_ascii[e->nrcpts] = NULL;
	e->nrcpts++;
	return 0;
}

/* An address key: sender, sender-ascii or rcpt-ascii. */
static int
value_address(struct parse *p, enum key k, const char *v, char **out)
{
	*out = value_angle(v);
	if (*out == NULL)
		return parse_fail(p, "%s is not <ADDRESS>", key_names[k]);
	return 0;
}

static int
value_number(struct parse *p, enum key k, const char *v, long long *out)
{
	if (number_parse(v, strlen(v), out) < 0)
		return parse_fail(p, "%s is not a number", key_names[k]);
	return 0;
}

static int
value_flag(struct parse *p, enum key k, const char *v, int *out)
{
	if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
		return parse_fail(p, "%s is not 0 or 1", key_names[k]);
	*out = v[0] == '1';
	return 0;
}

static int
value_body(struct parse *p, const char *v)
{
	if (strcmp(v, "7BIT") == 0)
		p->e->body = SMTP_BODY_7BIT;
	else if (strcmp(v, "8BITMIME") == 0)
		p->e->body = SMTP_BODY_8BITMIME;
	else
		return parse_fail(p, "body is not 7BIT or 8BITMIME");
	return 0;
}

static int
envelope_value(struct parse *p, enum key k, const char *v)
{
	struct queue_entry *e = p->e;
	long long num;

	switch (k) {
	case K_ID:
		if (strcmp(v, e->id) != 0)
			return parse_fail(
				p, "its id does not match the file name");
		return 0;
	case K_CREATED:
		if (value_number(p, k, v, &num) < 0)
			return -1;
		e->created = (time_t)num;
		return 0;
	case K_ACCOUNT:
		e->account = xstrdup(v);
		return 0;
	case K_SENDER:
		return value_address(p, k, v, &e->sender);
	case K_SENDER_ASCII:
		return value_address(p, k, v, &e->sender_ascii);
	case K_RCPT:
		return value_rcpt(p, v);
	case K_RCPT_ASCII:
		return value_address(p, k, v, &e->rcpts_ascii[e->nrcpts - 1]);
	case K_BODY:
		return value_body(p, v);
	case K_NOTIFY:
		e->dsn_notify = xstrdup(v);
		return 0;
	case K_RET:
		e->dsn_ret = xstrdup(v);
		return 0;
	case K_ENVID:
		e->dsn_envid = xstrdup(v);
		return 0;
	case K_8BIT:
		return value_flag(p, k, v, &e->has_8bit);
	case K_HEADER_8BIT:
		return value_flag(p, k, v, &e->header_8bit);
	case K_SIZE:
		if (value_number(p, k, v, &num) < 0)
			return -1;
		e->size = (off_t)num;
		return 0;
	case K_COUNT:
		break;
	}
	return parse_fail(p, "unknown key");
}

static int
envelope_line(struct parse *p, char *line)
{
	char *sp = strchr(line, ' '), esc[64];
	unsigned k;

	if (sp == NULL)
		return parse_fail(p, "a line without a value");
	*sp = '\0';
	for (k = 0; k < K_COUNT && strcmp(line, key_names[k]) != 0; k++)
		;
	if (k == K_COUNT)
		return parse_fail(p, "unknown key '%s'",
			log_escape(esc, sizeof(esc), line, strlen(line)));
	if (k != K_RCPT && k != K_RCPT_ASCII && (p->seen & KEY_BIT(k)))
		return parse_fail(p, "%s given twice", key_names[k]);
	if (k == K_RCPT_ASCII && !p->after_rcpt)
		return parse_fail(p, "rcpt-ascii not right after its rcpt");
	p->after_rcpt = k == K_RCPT;
	p->seen |= KEY_BIT(k);
	return envelope_value(p, (enum key)k, sp + 1);
}

static int
envelope_magic(struct parse *p, const char *line)
{
	size_t plen = strlen(QUEUE_MAGIC_PREFIX);
	char esc[32];

	if (strcmp(line, QUEUE_MAGIC) == 0)
		return 0;
	if (strncmp(line, QUEUE_MAGIC_PREFIX, plen) == 0)
		return parse_fail(p, "format version %s, not 1",
			log_escape(esc, sizeof(esc), line + plen,
				strlen(line + plen)));
	return parse_fail(p, "not a postie queue file");
}

/* Parse the envelope: env's first len bytes, ending with "\n\n". */
static int
envelope_parse(struct parse *p, struct buf *env, size_t len)
{
	char *line = env->data, *nl;
	unsigned k;

	if (memchr(env->data, '\0', len) || memchr(env->data, '\r', len))
		return parse_fail(p, "a NUL or CR byte in the envelope");
	env->data[len - 1] = '\0';
	for (p->line = 1; *line != '\0'; p->line++, line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (p->line == 1 ? envelope_magic(p, line) < 0
				 : envelope_line(p, line) < 0)
			return -1;
	}
	p->line = 0;
	for (k = 0; k < K_COUNT; k++)
		if ((KEYS_REQUIRED & ~p->seen) & KEY_BIT(k))
			return parse_fail(
				p, "no %s in the envelope", key_names[k]);
	return 0;
}

/* Read the envelope, through its empty line, into env; *len = its size.
   fd is at its start. */
static int
envelope_load(int fd, struct buf *env, size_t *len, struct parse *p)
{
	size_t plen = strlen(QUEUE_MAGIC_PREFIX), scan = 0;
	const char *end;
	ssize_t n;

	for (;;) {
		n = buf_read_fd(env, fd, QUEUE_READ_CHUNK);
		if (n < 0 && errno == EFBIG)
			return parse_fail(p, "the envelope passes %d MiB",
				QUEUE_ENVELOPE_MAX >> 20);
		if (n < 0)
			return parse_fail(p, "%s", strerror(errno));
		if (n == 0)
			return parse_fail(
				p, "truncated: the envelope has no end");
		if (memcmp(env->data, QUEUE_MAGIC_PREFIX,
			    env->len < plen ? env->len : plen) != 0)
			return parse_fail(p, "not a postie queue file");
		end = memmem(env->data + scan, env->len - scan, "\n\n", 2);
		if (end != NULL) {
			*len = (size_t)(end - env->data) + 2;
			return 0;
		}
		scan = env->len - 1;
	}
}

/* Apply one record line (without its LF); -1 if it is not a valid one. */
static int
record_apply(struct queue_entry *e, const char *line, size_t len)
{
	static const char *const kinds[] = {"attempt ", "failed ", "retry "};
	const char *t, *sp;
	long long when;
	size_t i, k;

	for (i = 0; i < len; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			return -1;
	for (k = 0; k < 3; k++)
		if (len > strlen(kinds[k]) &&
			memcmp(line, kinds[k], strlen(kinds[k])) == 0)
			break;
	if (k == 3)
		return -1;
	t = line + strlen(kinds[k]);
	sp = memchr(t, ' ', len - (size_t)(t - line));
	if ((k == 2) != (sp == NULL))
		return -1;
	if (number_parse(t, sp ? (size_t)(sp - t) : len - (size_t)(t - line),
		    &when) < 0)
		return -1;
	if (k == 2) {
		e->retried = (time_t)when;
		return 0;
	}
	free(e->last_error);
	e->last_error = xstrndup(sp + 1, len - (size_t)(sp + 1 - line));
	if (k == 0) {
		e->attempts++;
		e->last_attempt = (time_t)when;
	}
	return 0;
}

/* Read the records from off on; returns the end of the last valid one. */
static off_t
records_load(int fd, off_t off, struct queue_entry *e)
{
	char win[8192];
	const char *nl;
	size_t pos, len;
	ssize_t n;

	for (;;) {
		n = fdio_pread(fd, win, sizeof(win), off);
		if (n <= 0)
			return off;
		for (pos = 0;; pos += len) {
			nl = memchr(win + pos, '\n', (size_t)n - pos);
			if (nl == NULL)
				break;
			len = (size_t)(nl - (win + pos)) + 1;
			if (len > QUEUE_RECORD_MAX ||
				record_apply(e, win + pos, len - 1) < 0)
				return off + (off_t)pos;
		}
		if (pos == 0) /* cut short, or too long to be a record */
			return off;
		off += (off_t)pos;
	}
}

/* Read fd (at its start) into e, whose id is the file name. 0, or -1
   with e->unreadable set. */
static int
entry_load(int fd, struct queue_entry *e)
{
	struct parse p = {.e = e};
	struct buf env;
	struct stat st;
	size_t len = 0;
	int rc = -1;

	buf_init(&env, QUEUE_ENVELOPE_MAX);
	if (fstat(fd, &st) < 0) {
		parse_fail(&p, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		parse_fail(&p, "not a regular file");
		goto out;
	}
	if (envelope_load(fd, &env, &len, &p) < 0 ||
		envelope_parse(&p, &env, len) < 0)
		goto out;
	e->data_off = (off_t)len;
	if (e->size > st.st_size - e->data_off) {
		parse_fail(&p, "truncated: shorter than its envelope and size");
		goto out;
	}
	records_load(fd, e->data_off + e->size, e);
	rc = 0;
out:
	if (rc < 0)
		e->unreadable = xstrdup(p.reason);
	buf_release(&env);
	return rc;
}

static void
entry_reset(struct queue_entry *e, const char *id)
{
	size_t n = strnlen(id, QUEUE_ID_LEN);

	memset(e, 0, sizeof(*e));
	e->fd = -1;
	memcpy(e->id, id, n);
	e->id[n] = '\0';
}

/* Returns 1 with *e filled (maybe unreadable), 0 when it vanished. */
static int
entry_list_one(int dfd, const char *id, int failed, struct queue_entry *e)
{
	char reason[160];
	int fd;

	entry_reset(e, id);
	e->failed = failed;
	fd = openat(dfd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 0; /* delivered meanwhile */
	if (fd < 0) {
		snprintf(reason, sizeof(reason), "%s", strerror(errno));
		e->unreadable = xstrdup(reason);
		return 1;
	}
	entry_load(fd, e);
	close(fd);
	return 1;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct queue_entry *)a)->id,
		((const struct queue_entry *)b)->id);
}

int
queue_list(const struct queue *q, int failed, struct queue_entry **out,
	size_t *n, struct error *err)
{
	struct queue_entry *v = NULL;
	size_t nv = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int dfd;

	*out = NULL;
	*n = 0;
	if (q->dirfd < 0)
		return 0;
	dfd = openat(q->dirfd, failed ? "failed" : ".",
		O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT)
		return 0;
	d = dfd < 0 ? NULL : fdopendir(dfd);
	if (d == NULL) {
		error_set(err, ERR_OS, "cannot read the queue directory %s: %s",
			q->dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!id_is_valid(de->d_name))
			continue; /* ".", "tmp", "failed", strays */
		if (nv == cap) {
			cap = cap ? 2 * cap : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		nv += (size_t)entry_list_one(
			dirfd(d), de->d_name, failed, &v[nv]);
	}
	closedir(d);
	if (nv > 0)
		qsort(v, nv, sizeof(*v), entry_cmp);
	*out = v;
	*n = nv;
	return 0;
}

/* --- locks ----------------------------------------------------------- */

/*
 * Open dirfd/name and take its lock without waiting, then check that the
 * name still leads to the locked file: another flusher may have removed
 * or moved it between our open and our flock(), and sending that orphan
 * would send the message twice.
 */
static int
entry_lock_at(int dirfd, const char *name, int *fdp, struct error *err)
{
	struct stat a, b;
	int fd;

	*fdp = -1;
	fd = openat(dirfd, name,
		O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return LOCK_GONE;
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &a) < 0) {
		if (fd >= 0 && errno == EWOULDBLOCK) {
			close(fd);
			return LOCK_BUSY;
		}
		error_set(err, ERR_OS, "cannot lock queue entry %s: %s", name,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
		a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		close(fd);
		return LOCK_GONE;
	}
	*fdp = fd;
	return LOCK_TAKEN;
}

int
queue_lock(const struct queue *q, const char *id, struct queue_entry *e,
	struct error *err)
{
	int fd, r;

	entry_reset(e, "");
	if (!id_is_valid(id)) {
		error_set(err, ERR_USAGE, "not a queue id");
		return -1;
	}
	snprintf(e->id, sizeof(e->id), "%s", id);
	if (q->dirfd < 0)
		return 0;
	r = entry_lock_at(q->dirfd, id, &fd, err);
	if (r != LOCK_TAKEN)
		return r < 0 ? -1 : 0;
	if (entry_load(fd, e) < 0) {
		close(fd);
		error_set(err, ERR_DATA, "queue entry %s is unreadable: %s", id,
			e->unreadable);
		return -1;
	}
	e->fd = fd;
	return 1;
}

/* --- records --------------------------------------------------------- */

/*
 * Append one record line (one write on the O_APPEND fd, then fsync).
 * records_off >= 0: where the records start; a torn record left by a
 * crash is cut off first, or it would hide every record after it.
 */
static int
record_append(int fd, off_t records_off, const char *line, size_t len,
	struct error *err)
{
	struct queue_entry scratch;
	struct stat st;
	off_t end;

	if (records_off >= 0) {
		entry_reset(&scratch, "");
		end = records_load(fd, records_off, &scratch);
		queue_entry_release(&scratch);
		if (fstat(fd, &st) == 0 && st.st_size > end)
			(void)ftruncate(fd, end);
	}
	if (fdio_write_all(fd, line, len) < 0 || fsync(fd) < 0) {
		error_set(err, ERR_IO, "cannot update the queue entry: %s",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Append "KIND WHEN TEXT" with why escaped; e's record fields follow. */
static int
entry_record(struct queue_entry *e, const char *kind, time_t when,
	const char *why, struct error *err)
{
	char line[RECORD_LINE_MAX];
	size_t n = record_format(line, kind, when, why);

	if (record_append(e->fd, e->data_off + e->size, line, n, err) < 0) {
		error_prefix(err, "%s", e->id);
		return -1;
	}
	record_apply(e, line, n - 1);
	return 0;
}

int
queue_note_attempt(
	struct queue_entry *e, time_t when, const char *why, struct error *err)
{
	return entry_record(e, "attempt", when, why, err);
}

int
queue_remove(const struct queue *q, struct queue_entry *e, struct error *err)
{
	int rc = 0;

	if (unlinkat(q->dirfd, e->id, 0) < 0 || fsync(q->dirfd) < 0) {
		error_set(err, ERR_OS, "cannot remove queue entry %s: %s",
			e->id, strerror(errno));
		rc = -1;
	}
	queue_unlock(e);
	return rc;
}

int
queue_give_up(const struct queue *q, struct queue_entry *e, time_t when,
	const char *why, struct error *err)
{
	char dst[16 + QUEUE_ID_LEN];
	int rc = -1;

	if (entry_record(e, "failed", when, why, err) < 0)
		goto out;
	snprintf(dst, sizeof(dst), "failed/%s", e->id);
	if (renameat(q->dirfd, e->id, q->dirfd, dst) < 0 ||
		dir_sync_at(q->dirfd, "failed") < 0 || fsync(q->dirfd) < 0) {
		error_set(err, ERR_OS,
			"cannot move queue entry %s to failed/: %s", e->id,
			strerror(errno));
		goto out;
	}
	rc = 0;
out:
	queue_unlock(e);
	return rc;
}

/* --- by hand --------------------------------------------------------- */

/* Lock the queued or failed entry id: name gets "ID" or "failed/ID". */
static int
entry_find_lock(const struct queue *q, const char *id, char *name, size_t size,
	int *failed, struct error *err)
{
	char esc[64];
	int fd = -1, r = LOCK_GONE;

	for (*failed = 0; q->dirfd >= 0 && id_is_valid(id) && *failed < 2;
		++*failed) {
		snprintf(name, size, "%s%s", *failed ? "failed/" : "", id);
		r = entry_lock_at(q->dirfd, name, &fd, err);
		if (r != LOCK_GONE)
			break;
	}
	if (r < 0)
		return -1;
	log_escape(esc, sizeof(esc), id, strlen(id));
	if (r == LOCK_BUSY)
		error_set(err, ERR_TEMP,
			"queue entry %s is being sent right now; try again "
			"later",
			esc);
	else if (r == LOCK_GONE)
		error_set(err, ERR_USAGE, "no queue entry %s", esc);
	return fd;
}

int
queue_delete(const struct queue *q, const char *id, struct error *err)
{
	char name[16 + QUEUE_ID_LEN];
	int fd, failed, rc = -1;

	fd = entry_find_lock(q, id, name, sizeof(name), &failed, err);
	if (fd < 0)
		return -1;
	if (unlinkat(q->dirfd, name, 0) < 0 ||
		(failed ? dir_sync_at(q->dirfd, "failed") : fsync(q->dirfd)) <
			0) {
		error_set(err, ERR_OS, "cannot delete queue entry %s: %s", id,
			strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

int
queue_retry(const struct queue *q, const char *id, struct error *err)
{
	char name[16 + QUEUE_ID_LEN], line[64];
	struct queue_entry e;
	off_t records_off = -1;
	int fd, failed, n, rc = -1;

	fd = entry_find_lock(q, id, name, sizeof(name), &failed, err);
	if (fd < 0)
		return -1;
	if (!failed) {
		rc = 0; /* queued already: the caller's run sends it */
		goto out;
	}
	entry_reset(&e, id);
	if (entry_load(fd, &e) == 0)
		records_off = e.data_off + e.size;
	queue_entry_release(&e);
	n = snprintf(line, sizeof(line), "retry %lld\n", (long long)time(NULL));
	if (record_append(fd, records_off, line, (size_t)n, err) < 0)
		goto out;
	if (renameat(q->dirfd, name, q->dirfd, id) < 0 || fsync(q->dirfd) < 0 ||
		dir_sync_at(q->dirfd, "failed") < 0) {
		error_set(err, ERR_OS, "cannot move queue entry %s back: %s",
			id, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* A writer that died leaves tmp/ID unlocked; a live one holds its lock
   (and a file younger than a minute may be one between open and flock). */
static void
tmp_clean_one(int dfd, const char *name, time_t now)
{
	struct stat st;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 &&
		S_ISREG(st.st_mode) && st.st_mtime < now - QUEUE_TMP_AGE)
		unlinkat(dfd, name, 0);
	close(fd);
}

void
queue_clean_tmp(const struct queue *q)
{
	struct dirent *de;
	time_t now = time(NULL);
	DIR *d;
	int dfd;

	if (q->dirfd < 0)
		return;
	dfd = openat(q->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			tmp_clean_one(dirfd(d), de->d_name, now);
	closedir(d);
}

/* --- reading the message back ---------------------------------------- */

static void
reader_rewind(void *ctx, int dotstuff)
{
	struct queue_reader *r = ctx;

	r->off = 0;
	r->dotstuff = dotstuff;
	r->at_line_start = 1;
	r->pending = 0;
}

/* RFC 5321 §4.5.2: a line starting with "." gets another "." in DATA.
   The lines are CRLF already (message.c made them so). */
static size_t
reader_stuff(struct queue_reader *r, const char *in, size_t n, char *buf,
	size_t cap, size_t *out)
{
	size_t i;
	char c;

	for (i = 0; i < n && *out < cap; i++) {
		c = in[i];
		if (r->at_line_start && c == '.')
			buf[(*out)++] = '.';
		if (*out < cap)
			buf[(*out)++] = c;
		else
			r->pending = c; /* consumed, owed to the next read */
		r->at_line_start = c == '\n';
	}
	return i;
}

static ssize_t
reader_read(void *ctx, char *buf, size_t cap, struct error *err)
{
	struct queue_reader *r = ctx;
	const struct queue_entry *e = r->e;
	char win[8192];
	size_t out = 0, want;
	ssize_t n;

	if (r->pending && cap > 0) {
		buf[out++] = r->pending;
		r->pending = 0;
	}
	if (out == cap || r->off >= e->size)
		return (ssize_t)out;
	want = cap - out;
	if ((off_t)want > e->size - r->off)
		want = (size_t)(e->size - r->off);
	if (r->dotstuff && want > sizeof(win))
		want = sizeof(win);
	n = fdio_pread(e->fd, r->dotstuff ? win : buf + out, want,
		e->data_off + r->off);
	if (n <= 0) {
		error_set(err, ERR_IO, "cannot read queue entry %s: %s", e->id,
			n < 0 ? strerror(errno) : "shorter than its size");
		return -1;
	}
	if (r->dotstuff) {
		r->off +=
			(off_t)reader_stuff(r, win, (size_t)n, buf, cap, &out);
		return (ssize_t)out;
	}
	r->off += n;
	return (ssize_t)(out + (size_t)n);
}

void
queue_source(
	struct queue_entry *e, struct queue_reader *r, struct smtp_source *src)
{
	r->e = e;
	reader_rewind(r, 0);
	src->read = reader_read;
	src->rewind = reader_rewind;
	src->ctx = r;
	src->size = e->size;
	src->has_8bit = e->has_8bit;
	src->header_8bit = e->header_8bit;
}

int
queue_read_header(const struct queue_entry *e, struct buf *out, size_t max,
	struct error *err)
{
	size_t want = max, got = 0, pos = 0, len;
	const char *nl;
	ssize_t n;
	int rc = -1;
	char *p;

	if (e->size <= 0)
		want = 0;
	else if ((unsigned long long)e->size < (unsigned long long)max)
		want = (size_t)e->size;
	p = xmalloc(want + 1);

	while (got < want) {
		n = fdio_pread(
			e->fd, p + got, want - got, e->data_off + (off_t)got);
		if (n <= 0) {
			error_set(err, ERR_IO, "cannot read queue entry %s: %s",
				e->id, n < 0 ? strerror(errno) : "truncated");
			goto out;
		}
		got += (size_t)n;
	}
	/* Whole lines only, up to the empty one that ends the header. */
	while ((nl = memchr(p + pos, '\n', got - pos)) != NULL) {
		len = (size_t)(nl - (p + pos)) + 1;
		if (len == 2 && p[pos] == '\r')
			break;
		pos += len;
	}
	if (buf_append(out, p, pos) < 0) {
		error_set(err, ERR_SOFTWARE, "queue: no room for the header");
		goto out;
	}
	rc = 0;
out:
	free(p);
	return rc;
}

/* --- selection ------------------------------------------------------- */

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Addresses are matched ASCII case-insensitively, whatever the locale. */
static int
contains_ci(const char *hay, const char *needle)
{
	size_t i;

	if (hay == NULL)
		return 0;
	for (;; hay++) {
		for (i = 0; needle[i] != '\0' &&
			    ascii_lower((unsigned char)hay[i]) ==
				    ascii_lower((unsigned char)needle[i]);
			i++)
			;
		if (needle[i] == '\0')
			return 1;
		if (*hay == '\0')
			return 0;
	}
}

int
queue_match(const struct queue_entry *e, const struct queue_select *sel)
{
	size_t i;
	int hit;

	if (e->unreadable != NULL)
		return 0;
	if (sel == NULL)
		return 1;
	if (sel->id && !contains_ci(e->id, sel->id))
		return 0;
	if (sel->sender && !contains_ci(e->sender, sel->sender) &&
		!contains_ci(e->sender_ascii, sel->sender))
		return 0;
	if (sel->rcpt == NULL)
		return 1;
	for (i = 0, hit = 0; i < e->nrcpts && !hit; i++)
		hit = contains_ci(e->rcpts[i], sel->rcpt) ||
		      (e->rcpts_ascii &&
			      contains_ci(e->rcpts_ascii[i], sel->rcpt));
	return hit;
}
