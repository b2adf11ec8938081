#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

/*
 * The per-message line is built in one capped buffer. Every part has its
 * own bound, so the line always fits: host, user and from are cut at
 * LOG_FIELD_MAX (longer ones cannot be valid), the recipients at
 * LOG_RCPTS_MAX (then "...(N more)": a -t message may name thousands),
 * the quoted texts by log_add_quoted's escape buffer.
 */
#define LOG_FIELD_MAX  1024
#define LOG_RCPTS_MAX  4096
#define LOG_QUOTED_MAX (ERROR_TEXT_MAX * 2)
#define LOG_LINE_MAX                                                           \
	(3 * LOG_FIELD_MAX + LOG_RCPTS_MAX + 4 * LOG_QUOTED_MAX + 256)

static int log_level;

void
error_clear(struct error *err)
{
	err->cls = ERR_NONE;
	err->smtp_code = 0;
	err->enhanced[0] = '\0';
	err->text[0] = '\0';
}

void
error_set(struct error *err, enum err_class cls, const char *fmt, ...)
{
	va_list ap;

	err->cls = cls;
	err->smtp_code = 0;
	err->enhanced[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
}

void
error_prefix(struct error *err, const char *fmt, ...)
{
	char joined[ERROR_TEXT_MAX * 2 + 2];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(joined, ERROR_TEXT_MAX, fmt, ap);
	va_end(ap);
	n = strlen(joined);
	joined[n++] = ':';
	joined[n++] = ' ';
	memcpy(joined + n, err->text, strlen(err->text) + 1);
	n = strlen(joined);
	if (n >= sizeof(err->text))
		n = sizeof(err->text) - 1;
	memcpy(err->text, joined, n);
	err->text[n] = '\0';
}

/* The one table: error class -> <sysexits.h> code. */
static const int log_exit_table[ERR_CLASS_COUNT] = {
	[ERR_NONE] = EX_OK,
	[ERR_USAGE] = EX_USAGE,
	[ERR_DATA] = EX_DATAERR,
	[ERR_NOINPUT] = EX_NOINPUT,
	[ERR_RCPT] = EX_NOUSER,
	[ERR_NOHOST] = EX_NOHOST,
	[ERR_UNAVAILABLE] = EX_UNAVAILABLE,
	[ERR_SOFTWARE] = EX_SOFTWARE,
	[ERR_OS] = EX_OSERR,
	[ERR_CANTCREAT] = EX_CANTCREAT,
	[ERR_IO] = EX_IOERR,
	[ERR_TEMP] = EX_TEMPFAIL,
	[ERR_PROTOCOL] = EX_PROTOCOL,
	[ERR_AUTH] = EX_NOPERM,
	[ERR_CONFIG] = EX_CONFIG,
};

int
log_exit_code(enum err_class cls)
{
	if ((int)cls < 0 || cls >= ERR_CLASS_COUNT)
		return EX_SOFTWARE;
	return log_exit_table[cls];
}

const char *
log_exit_name(int code)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{EX_OK, "EX_OK"},
		{EX_USAGE, "EX_USAGE"},
		{EX_DATAERR, "EX_DATAERR"},
		{EX_NOINPUT, "EX_NOINPUT"},
		{EX_NOUSER, "EX_NOUSER"},
		{EX_NOHOST, "EX_NOHOST"},
		{EX_UNAVAILABLE, "EX_UNAVAILABLE"},
		{EX_SOFTWARE, "EX_SOFTWARE"},
		{EX_OSERR, "EX_OSERR"},
		{EX_OSFILE, "EX_OSFILE"},
		{EX_CANTCREAT, "EX_CANTCREAT"},
		{EX_IOERR, "EX_IOERR"},
		{EX_TEMPFAIL, "EX_TEMPFAIL"},
		{EX_PROTOCOL, "EX_PROTOCOL"},
		{EX_NOPERM, "EX_NOPERM"},
		{EX_CONFIG, "EX_CONFIG"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return "EX_UNKNOWN";
}

char *
log_escape(char *dst, size_t dstsize, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstsize == 0)
		return dst;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		char esc[5];
		size_t n;

		if (c == '\r' || c == '\n' || c == '\t' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)(c == '\r'   ? 'r'
					: c == '\n' ? 'n'
					: c == '\t' ? 't'
						    : '\\');
			n = 2;
		} else if (c < 0x20 || c > 0x7e) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			n = 4;
		} else {
			esc[0] = (char)c;
			n = 1;
		}
		if (o + n + 1 > dstsize) {
			/* Mark the cut so nobody mistakes it for the whole
			 * text. */
			while (o > 0 && o + 4 > dstsize)
				o--;
			if (o + 4 <= dstsize) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(dst + o, esc, n);
		o += n;
	}
	dst[o] = '\0';
	return dst;
}

void
log_set_verbose(int level)
{
	log_level = level;
}

int
log_verbose(void)
{
	return log_level;
}

void
log_transcript(char dir, const char *line, size_t len)
{
	char esc[2048];

	if (log_level < 1)
		return;
	log_escape(esc, sizeof(esc), line, len);
	fprintf(stderr, "%c %s\n", dir, esc);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < 1)
		return;
	fputs("postie: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
log_facility(const char *name, int *facility)
{
	static const struct {
		const char *name;
		int facility;
	} facilities[] = {
		{"on", LOG_MAIL},
		{"LOG_MAIL", LOG_MAIL},
		{"LOG_USER", LOG_USER},
		{"LOG_LOCAL0", LOG_LOCAL0},
		{"LOG_LOCAL1", LOG_LOCAL1},
		{"LOG_LOCAL2", LOG_LOCAL2},
		{"LOG_LOCAL3", LOG_LOCAL3},
		{"LOG_LOCAL4", LOG_LOCAL4},
		{"LOG_LOCAL5", LOG_LOCAL5},
		{"LOG_LOCAL6", LOG_LOCAL6},
		{"LOG_LOCAL7", LOG_LOCAL7},
	};
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (strcasecmp(name, facilities[i].name) == 0) {
			*facility = facilities[i].facility;
			return 0;
		}
	}
	return -1;
}

/* Append key='value' with the value escaped and single quotes doubled. */
static void
log_add_quoted(struct buf *b, const char *key, const char *val)
{
	char esc[LOG_QUOTED_MAX];

	log_escape(esc, sizeof(esc), val, strlen(val));
	buf_printf(b, " %s='", key);
	for (const char *p = esc; *p; p++) {
		if (*p == '\'')
			buf_addch(b, '\'');
		buf_addch(b, *p);
	}
	buf_addch(b, '\'');
}

/* " recipients=a,b,...": at most LOG_RCPTS_MAX bytes of addresses. */
static void
log_add_rcpts(struct buf *b, const char *const *rcpts, size_t n)
{
	size_t i, used = 0, len;

	buf_addstr(b, " recipients=");
	for (i = 0; i < n; i++) {
		len = strlen(rcpts[i]) + (i ? 1 : 0);
		if (len > LOG_RCPTS_MAX - used) {
			buf_printf(b, "%s...(%zu more)", i ? "," : "", n - i);
			return;
		}
		buf_printf(b, "%s%s", i ? "," : "", rcpts[i]);
		used += len;
	}
}

static void
log_format_record(struct buf *b, const struct log_record *rec)
{
	const struct error *o = rec->outcome;
	int code = log_exit_code(o ? o->cls : ERR_NONE);
	const int max = LOG_FIELD_MAX;

	buf_printf(b, "host=%.*s tls=%s auth=%s", max,
		rec->host ? rec->host : "-", rec->tls ? "on" : "off",
		rec->auth ? "on" : "off");
	if (rec->user)
		buf_printf(b, " user=%.*s", max, rec->user);
	buf_printf(b, " from=%.*s", max, rec->from ? rec->from : "");
	log_add_rcpts(b, rec->rcpts, rec->nrcpts);
	buf_printf(b, " mailsize=%lld", rec->mailsize);
	if (rec->smtp_code)
		buf_printf(b, " smtpstatus=%d", rec->smtp_code);
	if (rec->smtp_text)
		log_add_quoted(b, "smtpmsg", rec->smtp_text);
	if (o && o->cls != ERR_NONE)
		log_add_quoted(b, "errormsg", o->text);
	buf_printf(b, " exitcode=%s", log_exit_name(code));
}

static int
log_to_file(const char *line, size_t len, const char *path, struct error *err)
{
	char stamp[64];
	struct buf out;
	time_t now = time(NULL);
	struct tm tm;
	ssize_t n;
	int fd, r = 0;

	if (strcmp(path, "-") == 0) {
		fprintf(stderr, "%.*s\n", (int)len, line);
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_set(err, ERR_CANTCREAT, "logfile %s: %s", path,
			strerror(errno));
		return -1;
	}
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %d %H:%M:%S", &tm);
	buf_init(&out, sizeof(stamp) + len + 2);
	buf_printf(&out, "%s %.*s\n", stamp, (int)len, line);
	/* One write, so concurrent postie runs never interleave a line. */
	n = write(fd, out.data, out.len);
	if (n != (ssize_t)out.len) {
		error_set(err, ERR_IO, "logfile %s: %s", path,
			n < 0 ? strerror(errno) : "short write (disk full?)");
		r = -1;
	}
	buf_release(&out);
	close(fd);
	return r;
}

int
log_write_record(const struct log_record *rec, const char *logfile,
	const char *syslog_facility, struct error *err)
{
	struct buf line;
	int facility, r = 0;

	if (!logfile && !syslog_facility)
		return 0;
	buf_init(&line, LOG_LINE_MAX);
	log_format_record(&line, rec);
	if (logfile && log_to_file(line.data, line.len, logfile, err) < 0)
		r = -1;
	if (syslog_facility) {
		if (log_facility(syslog_facility, &facility) < 0) {
			error_set(err, ERR_CONFIG,
				"syslog: unknown facility '%s'",
				syslog_facility);
			r = -1;
		} else {
			openlog("postie", LOG_PID, facility);
			syslog(rec->outcome && rec->outcome->cls != ERR_NONE
					? LOG_ERR
					: LOG_INFO,
				"%s", line.data);
			closelog();
		}
	}
	buf_release(&line);
	return r;
}
