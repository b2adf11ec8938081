/*
 * log.h - error values, the one error-class -> exit-code table, the -v
 * transcript, and the per-message log line (log file and syslog).
 *
 * Every module reports failure the same way: it returns -1 and fills a
 * caller-supplied struct error. Only main turns that into a line on stderr
 * ("postie: " + err->text) and an exit code (log_exit_code).
 */
#ifndef POSTIE_LOG_H
#define POSTIE_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Failure classes; the comment is the sysexits code each maps to. */
enum err_class {
	ERR_NONE = 0,    /* 0  EX_OK */
	ERR_USAGE,       /* 64 EX_USAGE: bad command line */
	ERR_DATA,        /* 65 EX_DATAERR: bad message or address */
	ERR_NOINPUT,     /* 66 EX_NOINPUT: missing or unreadable input */
	ERR_RCPT,        /* 67 EX_NOUSER: recipient refused (5xx) */
	ERR_NOHOST,      /* 68 EX_NOHOST: host name unknown */
	ERR_UNAVAILABLE, /* 69 EX_UNAVAILABLE: other permanent (5xx) failure */
	ERR_SOFTWARE,    /* 70 EX_SOFTWARE: internal error */
	ERR_OS,          /* 71 EX_OSERR: system call failed */
	ERR_CANTCREAT,   /* 73 EX_CANTCREAT: cannot create a file */
	ERR_IO,          /* 74 EX_IOERR: local I/O error */
	ERR_TEMP,     /* 75 EX_TEMPFAIL: every 4xx, connect failure, timeout */
	ERR_PROTOCOL, /* 76 EX_PROTOCOL: the server broke the protocol */
	ERR_AUTH,     /* 77 EX_NOPERM: authentication refused */
	ERR_CONFIG,   /* 78 EX_CONFIG: bad configuration */
	ERR_CLASS_COUNT
};

#define ERROR_TEXT_MAX 1024

struct error {
	enum err_class cls;
	int smtp_code;     /* the server's reply code, 0 if not from a reply */
	char enhanced[16]; /* RFC 3463 enhanced status code, "" if none */
	char text[ERROR_TEXT_MAX]; /* "context: reason", no "postie: " prefix */
};

/* Reset to "no error". */
void error_clear(struct error *err);
/* Set class and text (printf format); clears smtp_code and enhanced. */
void error_set(struct error *err, enum err_class cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Put "context: " in front of the existing text, keeping the class. */
void error_prefix(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The sysexits code for a class (the table DESIGN.md lists). */
int log_exit_code(enum err_class cls);
/* The <sysexits.h> name of an exit code ("EX_TEMPFAIL"), for log lines. */
const char *log_exit_name(int code);

/*
 * Copy len bytes of untrusted text (a server reply, a config value) to dst
 * as printable ASCII: \r \n \t \\ and \xNN for every other byte outside
 * 0x20..0x7e. Always NUL-terminates; truncates with "..." when dst is too
 * small. Returns dst.
 */
char *log_escape(char *dst, size_t dstsize, const char *src, size_t len);

/* -v: how much to say on stderr. 0 = errors only, 1 = SMTP transcript. */
void log_set_verbose(int level);
int log_verbose(void);
/*
 * One transcript line for -v: dir is '<' (from the server) or '>' (to it).
 * The line is escaped. A line that carries a secret (AUTH) must never
 * come here: smtp.c logs "AUTH MECH <hidden>" and "<hidden>" instead.
 */
void log_transcript(char dir, const char *line, size_t len);
/* A free-form -v line ("connecting to host port 25"). */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The per-message log line, msmtp's shape:
 *   host=H tls=on|off auth=on|off user=U from=F recipients=A,B
 *   mailsize=N smtpstatus=C smtpmsg='...' errormsg='...' exitcode=EX_...
 * written to logfile (appended, one write, "-" = stderr) and/or syslog.
 * The line is bounded: host, user and from are cut at 1 KiB, and past
 * 4 KiB of recipients the list ends "...(N more)". syslog_facility is NULL
 * for none, "on" for LOG_MAIL, or a facility name (LOG_USER, LOG_MAIL,
 * LOG_LOCAL0..7). Failures to log are reported in err but never change the
 * message's outcome: ERR_CANTCREAT (the log file cannot be opened), ERR_IO
 * (the write failed), ERR_CONFIG (an unknown facility).
 */
struct log_record {
	const char *host;
	int tls;
	int auth;
	const char *user;
	const char *from;
	const char *const *rcpts;
	size_t nrcpts;
	long long mailsize;
	const struct error *outcome; /* cls ERR_NONE for success */
	int smtp_code;               /* final reply code */
	const char *smtp_text;       /* final reply text, may be NULL */
};
int log_write_record(const struct log_record *rec, const char *logfile,
	const char *syslog_facility, struct error *err);

#endif
