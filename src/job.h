/*
 * job.h - one run's work after the command line: the configuration and
 * the account, the message read and made ready (envelope, sender
 * expansion, qualification, header repair), the session set up from the
 * account, the submission, and what the user and the log are told.
 *
 * main parses argv into a struct options and calls one entry point per
 * mode. Each returns 0, or -1 with err filled; the error's class decides
 * the exit code (log_exit_code). They print what the mode prints (the
 * -bv recipients, the -S report, a refused recipient's server reply, a
 * -bs message's failure) but never exit.
 */
#ifndef POSTIE_JOB_H
#define POSTIE_JOB_H

#include "log.h"
#include "smtp.h"

/*
 * What a run does: -b MODE, -q, or the name postie is called by (mailq,
 * newaliases). Only MODE_DELIVER, MODE_VERIFY and MODE_SMTP read the
 * configuration.
 */
enum mode {
	MODE_DELIVER,      /* -bm, the default: send the message */
	MODE_VERIFY,       /* -bv: print the recipients, send nothing */
	MODE_QUEUE_LIST,   /* -bp, mailq: list the queue */
	MODE_QUEUE_RUN,    /* -q...: send what is queued */
	MODE_QUEUE_DELETE, /* --queue-delete ID */
	MODE_QUEUE_RETRY,  /* --queue-retry ID */
	MODE_NEWALIASES,   /* -bi, newaliases: aliases are read directly */
	MODE_SMTP,         /* -bs: SMTP on standard input and output */
};

struct options {
	enum mode mode;
	const char *mode_name;  /* "-bv", "-q", "mailq": for messages */
	int read_headers;       /* -t */
	int to_eof;             /* -i, -oi */
	const char *sender;     /* -f / -r, NULL if not given */
	const char *fullname;   /* -F */
	enum smtp_body body;    /* -B */
	const char *notify;     /* -N */
	const char *ret;        /* -R */
	const char *envid;      /* -V */
	int verbose;            /* -v, repeatable */
	const char *config;     /* -C */
	const char *account;    /* -a */
	int serverinfo;         /* -S, --serverinfo */
	int read_envelope_from; /* --read-envelope-from */
	int queue;              /* 1 --queue, -1 --no-queue, 0 the account's */
	int files;              /* --files: the operands are message files */
	const char *queue_id; /* -qI, or --queue-delete / --queue-retry's ID */
	const char *queue_rcpt;   /* -qR */
	const char *queue_sender; /* -qS */
	int help, version;
	char **rcpts; /* operands: recipients, or files with --files */
	int nrcpts;
};
/*
 * -bm (the default): read the message on standard input, build the
 * envelope (-f, the arguments, -t's header recipients, the account's
 * from), choose the account, repair the header and submit the message.
 * Each recipient the server refused is named on stderr; the outcome goes
 * to the account's logfile or syslog. Error classes: ERR_USAGE (no
 * recipients), ERR_DATA (an address or the message), ERR_CONFIG, and
 * whatever the session sets (ERR_TEMP, ERR_AUTH, ERR_NOHOST, ...).
 */
int job_send(const struct options *opt, struct error *err);

/*
 * --files: each operand is a message file, sent as its own message with
 * the envelope -t gives (recipients from its To:, Cc:, Bcc:; -f for every
 * file when given), all of one account's through one session. A file
 * that fails is named on stderr ("postie: FILE: reason") and the others
 * still go; temporary failures are queued as job_send's are. -1 with the
 * worst failure in err (a permanent one before a temporary one).
 */
int job_send_files(const struct options *opt, struct error *err);

/*
 * -bv: the recipients as a message would be sent to them (aliases,
 * maildomain, -t's header recipients, IDNA checked), one a line on
 * standard output; nothing connects. The message on standard input is
 * read only for -t or --read-envelope-from. ERR_IO when standard output
 * cannot be written; otherwise as job_send before the session.
 */
int job_verify(const struct options *opt, struct error *err);

/*
 * -S, --serverinfo: choose the account as a send would, connect, print
 * the server's greeting, capabilities and TLS certificate on standard
 * output (even one that fails the check), QUIT. No message is read and
 * no AUTH is done. A certificate that fails the check still fails the
 * run (ERR_UNAVAILABLE, 69), after it is shown.
 */
int job_serverinfo(const struct options *opt, struct error *err);

/*
 * -bs: SMTP with the caller on standard input and output. The account is
 * chosen once (-a, -f, the default); each message the caller sends is
 * made ready as job_send's is and relayed upstream before its final
 * reply, which carries the upstream's answer. A message that fails is
 * reported on stderr and to the caller, not through err: -1 only when
 * the configuration, the account or the caller's session fails.
 */
int job_smtp(const struct options *opt, struct error *err);

#endif
