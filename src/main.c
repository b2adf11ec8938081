/*
 * main.c - the sendmail command line, and the only exit().
 *
 * argv[0] and the flag table make a struct options; the mode chooses a
 * job_* entry point (job.h), which does the rest and returns 0/-1 and a
 * struct error; this file turns that into what the user sees and the
 * exit code.
 */
#include "autoconf.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "config.h"
#include "flush.h"
#include "job.h"
#include "log.h"
#include "smtp.h"

/*
 * Text from argv or the configuration quoted in an error line goes through
 * here: escaped as server text is, so a control or 8-bit byte in an
 * argument never reaches the user's terminal raw. dst holds QUOTE_MAX.
 */
#define QUOTE_MAX 1024

static const char *
quote(char *dst, const char *s)
{
	return log_escape(dst, QUOTE_MAX, s, strlen(s));
}

/*
 * The flag table. Every flag a caller may pass is here: handled, or
 * deliberately ignored because it only tunes a full MTA's behaviour
 * (delivery mode, queueing mode, error mode) in ways that mean nothing
 * to a submission client. Anything else is refused with EX_USAGE, so a typo
 * never goes unnoticed. The man page lists the same table.
 */
enum flag_arg {
	FLAG_NONE,  /* no argument */
	FLAG_ARG,   /* argument glued (-fADDR) or in the next word */
	FLAG_GLUED, /* optional argument, glued only (-d0.1) */
};

/*
 * A flag either calls handle (which checks and stores its value), or, with
 * handle NULL, stores into the struct options member at offset field: the
 * argument (a const char *) for FLAG_ARG, a count (an int) for FLAG_NONE.
 */
struct flag {
	char letter;
	enum flag_arg arg;
	int (*handle)(struct options *o, const char *arg, struct error *err);
	size_t field;
	const char *help;
};

#define OPT(member) NULL, offsetof(struct options, member)

static int
flag_ignore(struct options *o, const char *arg, struct error *err)
{
	(void)o, (void)arg, (void)err;
	return 0;
}

static int
flag_B(struct options *o, const char *arg, struct error *err)
{
	char q[QUOTE_MAX];

	if (strcasecmp(arg, "7BIT") == 0) {
		o->body = SMTP_BODY_7BIT;
	} else if (strcasecmp(arg, "8BITMIME") == 0) {
		o->body = SMTP_BODY_8BITMIME;
	} else {
		error_set(err, ERR_USAGE,
			"-B: body type must be 7BIT or "
			"8BITMIME, not '%s'",
			quote(q, arg));
		return -1;
	}
	return 0;
}

/* RFC 3461 §4.1 and §4.3, checked where dsn_notify and dsn_return are. */
static int
flag_N(struct options *o, const char *arg, struct error *err)
{
	if (config_check_notify(arg, err) < 0) {
		err->cls = ERR_USAGE;
		error_prefix(err, "-N");
		return -1;
	}
	o->notify = arg;
	return 0;
}

static int
flag_R(struct options *o, const char *arg, struct error *err)
{
	if (config_check_return(arg, err) < 0) {
		err->cls = ERR_USAGE;
		error_prefix(err, "-R");
		return -1;
	}
	o->ret = arg;
	return 0;
}

/* RFC 3461 §4.4: ENVID is printable ASCII, at most 100 characters (the
   engine encodes it as xtext on the wire). */
static int
flag_V(struct options *o, const char *arg, struct error *err)
{
	size_t len = strlen(arg);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)arg[i];

		if (c <= ' ' || c >= 0x7f) {
			error_set(err, ERR_USAGE,
				"-V: the envelope id may hold "
				"only printable ASCII without spaces");
			return -1;
		}
	}
	if (len == 0 || len > 100) {
		error_set(err, ERR_USAGE,
			"-V: the envelope id must be 1 to "
			"100 characters");
		return -1;
	}
	o->envid = arg;
	return 0;
}

/*
 * The -b modes, the other half of the flag table (the man page lists the
 * same). refused: what the mode is in a full MTA, which a submission
 * client has no part of (a daemon, its queue, its routing); those exit 64.
 */
struct mode_flag {
	const char *name; /* "-bv" */
	enum mode mode;
	const char *refused; /* NULL: handled */
	const char *help;
};

static const struct mode_flag modes[] = {
	{"-bm", MODE_DELIVER, NULL, "deliver the message (the default)"},
	{"-bv", MODE_VERIFY, NULL,
		"print the recipients after aliases; send nothing"},
	{"-bp", MODE_QUEUE_LIST, NULL, "list the queue (mailq)"},
	{"-bi", MODE_NEWALIASES, NULL,
		"rebuild aliases (newaliases): nothing to do"},
	{"-bs", MODE_SMTP, NULL,
		"SMTP on standard input and output, relayed upstream"},
	{"-bd", MODE_DELIVER, "run as a daemon", NULL},
	{"-bD", MODE_DELIVER, "run as a daemon in the foreground", NULL},
	{"-bl", MODE_DELIVER, "run as a daemon", NULL},
	{"-ba", MODE_DELIVER, "ARPANET mode", NULL},
	{"-bt", MODE_DELIVER, "address test mode", NULL},
	{"-bh", MODE_DELIVER, "host status", NULL},
	{"-bH", MODE_DELIVER, "purge host status", NULL},
	{"-bP", MODE_DELIVER, "queue statistics", NULL},
};

static int
flag_b(struct options *o, const char *arg, struct error *err)
{
	char q[QUOTE_MAX];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(arg, modes[i].name + 2) != 0)
			continue;
		if (modes[i].refused) {
			error_set(err, ERR_USAGE,
				"%s (%s): postie is a submission client, "
				"not a daemon",
				modes[i].name, modes[i].refused);
			return -1;
		}
		o->mode = modes[i].mode;
		o->mode_name = modes[i].name;
		return 0;
	}
	error_set(err, ERR_USAGE, "-b%s: unknown mode (see postie --help)",
		quote(q, arg));
	return -1;
}

/* -I: Postfix's and sendmail's other spelling of -bi (newaliases). */
static int
flag_I(struct options *o, const char *arg, struct error *err)
{
	(void)arg, (void)err;
	o->mode = MODE_NEWALIASES;
	o->mode_name = "-I";
	return 0;
}

/*
 * -q: a queue run, now. -qI, -qR and -qS select by id, recipient and
 * sender (substrings), as sendmail's do; anything else after -q (an
 * interval, "f" for foreground) asks a daemon to run periodically, which
 * postie is not: it runs once (contrib/ has a timer for that).
 */
static int
flag_q(struct options *o, const char *arg, struct error *err)
{
	const char **sel = NULL;

	o->mode = MODE_QUEUE_RUN;
	o->mode_name = "-q";
	if (arg[0] == 'I')
		sel = &o->queue_id;
	else if (arg[0] == 'R')
		sel = &o->queue_rcpt;
	else if (arg[0] == 'S')
		sel = &o->queue_sender;
	if (sel && arg[1] == '\0') {
		error_set(err, ERR_USAGE, "-q%c needs a value", arg[0]);
		return -1;
	}
	if (sel)
		*sel = arg + 1;
	return 0;
}

static int
flag_d(struct options *o, const char *arg, struct error *err)
{
	(void)o, (void)arg, (void)err;
	printf("postie version %s\n", PACKAGE_VERSION);
	return 0;
}

/* -oi is -i; every other -o option tunes a full MTA and is ignored. */
static int
flag_o(struct options *o, const char *arg, struct error *err)
{
	(void)err;
	if (strcmp(arg, "i") == 0)
		o->to_eof = 1;
	return 0;
}

static const struct flag flags[] = {
	{'t', FLAG_NONE, OPT(read_headers),
		"recipients also from To:, Cc:, Bcc:"},
	{'i', FLAG_NONE, OPT(to_eof),
		"a line holding only '.' does not end input"},
	{'f', FLAG_ARG, OPT(sender),
		"envelope sender ('' or <> = null sender)"},
	{'r', FLAG_ARG, OPT(sender), "same as -f"},
	{'F', FLAG_ARG, OPT(fullname), "full name of the sender"},
	{'B', FLAG_ARG, flag_B, 0, "body type: 7BIT or 8BITMIME"},
	{'N', FLAG_ARG, flag_N, 0, "DSN: never, or success,failure,delay"},
	{'R', FLAG_ARG, flag_R, 0, "DSN: return full or hdrs"},
	{'V', FLAG_ARG, flag_V, 0, "DSN: envelope id"},
	{'v', FLAG_NONE, OPT(verbose),
		"SMTP dialogue on stderr (-vv: and states)"},
	{'C', FLAG_ARG, OPT(config), "read this configuration file"},
	{'a', FLAG_ARG, OPT(account), "use this account"},
	{'S', FLAG_NONE, OPT(serverinfo),
		"show the server: greeting, capabilities, TLS certificate"},
	{'b', FLAG_ARG, flag_b, 0, "mode: m, v, p, i (see the modes below)"},
	{'q', FLAG_GLUED, flag_q, 0,
		"send the queue now (-qIid, -qRrcpt, -qSsender select)"},
	{'I', FLAG_NONE, flag_I, 0, "same as -bi (newaliases)"},
	{'d', FLAG_GLUED, flag_d, 0, "debug: prints the version"},
	{'o', FLAG_ARG, flag_o, 0, "-oi as -i; other -o options ignored"},
	{'O', FLAG_ARG, flag_ignore, 0, "ignored (option=value)"},
	{'L', FLAG_ARG, flag_ignore, 0, "ignored (syslog tag)"},
	{'h', FLAG_ARG, flag_ignore, 0, "ignored (hop count)"},
	{'A', FLAG_ARG, flag_ignore, 0, "ignored"},
	{'p', FLAG_ARG, flag_ignore, 0, "ignored (protocol)"},
	{'X', FLAG_ARG, flag_ignore, 0, "ignored (traffic log)"},
	{'U', FLAG_NONE, flag_ignore, 0, "ignored (initial submission)"},
	{'G', FLAG_NONE, flag_ignore, 0, "ignored (gateway submission)"},
	{'m', FLAG_NONE, flag_ignore, 0, "ignored (me too)"},
	{'n', FLAG_NONE, flag_ignore, 0, "ignored (no aliasing)"},
};

static int
flag_apply(struct options *o, const struct flag *f, const char *arg,
	struct error *err)
{
	char *member = (char *)o + f->field;

	if (f->handle)
		return f->handle(o, arg, err);
	if (f->arg == FLAG_ARG)
		memcpy(member, &arg, sizeof(arg));
	else
		(*(int *)(void *)member)++;
	return 0;
}

static const struct flag *
flag_find(char letter)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (flags[i].letter == letter)
			return &flags[i];
	return NULL;
}

static void
long_help(struct options *o, const char *v)
{
	(void)v;
	o->help = 1;
}

static void
long_version(struct options *o, const char *v)
{
	(void)v;
	o->version = 1;
}

static void
long_serverinfo(struct options *o, const char *v)
{
	(void)v;
	o->serverinfo = 1;
}

static void
long_read_envelope_from(struct options *o, const char *v)
{
	(void)v;
	o->read_envelope_from = 1;
}

static void
long_queue(struct options *o, const char *v)
{
	(void)v;
	o->queue = 1;
}

static void
long_no_queue(struct options *o, const char *v)
{
	(void)v;
	o->queue = -1;
}

static void
long_files(struct options *o, const char *v)
{
	(void)v;
	o->files = 1;
}

static void
long_queue_delete(struct options *o, const char *v)
{
	o->mode = MODE_QUEUE_DELETE;
	o->mode_name = "--queue-delete";
	o->queue_id = v;
}

static void
long_queue_retry(struct options *o, const char *v)
{
	o->mode = MODE_QUEUE_RETRY;
	o->mode_name = "--queue-retry";
	o->queue_id = v;
}

/* The long options; the man page lists the same. A value follows as the
   next word or after '='. */
struct long_flag {
	const char *name;
	void (*handle)(struct options *o, const char *value);
	const char *value; /* its name in --help, NULL: takes none */
	const char *help;
};

static const struct long_flag long_flags[] = {
	{"--read-envelope-from", long_read_envelope_from, NULL,
		"envelope sender from the From: header (without -f)"},
	{"--serverinfo", long_serverinfo, NULL, "same as -S"},
	{"--files", long_files, NULL,
		"the operands are message files, sent in one session"},
	{"--queue", long_queue, NULL,
		"queue a message that fails for now (the default)"},
	{"--no-queue", long_no_queue, NULL,
		"never queue: a temporary failure exits 75"},
	{"--queue-delete", long_queue_delete, "ID",
		"delete a queued or failed entry"},
	{"--queue-retry", long_queue_retry, "ID",
		"send a queued or failed entry now"},
	{"--help", long_help, NULL, "this text"},
	{"--version", long_version, NULL, "the version"},
};

static int
options_long(
	struct options *o, int argc, char **argv, int *i, struct error *err)
{
	const char *word = argv[*i], *eq = strchr(word, '=');
	size_t len = eq ? (size_t)(eq - word) : strlen(word);
	char q[QUOTE_MAX];

	for (size_t k = 0; k < sizeof(long_flags) / sizeof(long_flags[0]);
		k++) {
		const struct long_flag *f = &long_flags[k];
		const char *value = eq ? eq + 1 : NULL;

		if (strlen(f->name) != len || strncmp(word, f->name, len) != 0)
			continue;
		if (!f->value && value) {
			error_set(err, ERR_USAGE, "option '%s' takes no value",
				f->name);
			return -1;
		}
		if (f->value && !value && *i + 1 < argc)
			value = argv[++*i];
		if (f->value && (!value || !*value)) {
			error_set(err, ERR_USAGE, "option '%s' needs a value",
				f->name);
			return -1;
		}
		f->handle(o, value);
		return 0;
	}
	error_set(err, ERR_USAGE, "unknown option '%s' (see postie --help)",
		quote(q, word));
	return -1;
}

/* One word of clustered flags ("-ti", "-fADDR", "-f ADDR"); advances *i. */
static int
options_word(
	struct options *o, int argc, char **argv, int *i, struct error *err)
{
	const char *w = argv[*i];

	for (size_t k = 1; w[k]; k++) {
		const struct flag *f = flag_find(w[k]);
		const char *arg = NULL;

		if (f == NULL) {
			char q[QUOTE_MAX];

			error_set(err, ERR_USAGE,
				"unknown option '-%s' (see "
				"postie --help)",
				log_escape(q, sizeof(q), w + k, 1));
			return -1;
		}
		if (f->arg == FLAG_NONE)
			goto handle;
		arg = w + k + 1;
		if (*arg == '\0' && f->arg == FLAG_ARG) {
			if (*i + 1 >= argc) {
				error_set(err, ERR_USAGE,
					"option '-%c' needs "
					"a value",
					f->letter);
				return -1;
			}
			arg = argv[++*i];
		}
	handle:
		if (flag_apply(o, f, arg ? arg : "", err) < 0)
			return -1;
		if (arg)
			break;
	}
	return 0;
}

/*
 * Parse argv. Options stop at the first operand or "--", as Postfix's
 * sendmail does, so an address can never be taken for an option.
 */
static int
options_parse(struct options *o, int argc, char **argv, struct error *err)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *w = argv[i];

		if (strcmp(w, "--") == 0) {
			i++;
			break;
		}
		if (w[0] != '-' || w[1] == '\0')
			break;
		if (w[1] == '-') {
			if (options_long(o, argc, argv, &i, err) < 0)
				return -1;
			continue;
		}
		if (options_word(o, argc, argv, &i, err) < 0)
			return -1;
	}
	o->rcpts = argv + i;
	o->nrcpts = argc - i;
	return 0;
}

static void
usage(void)
{
	printf("usage: postie [options] [--] [recipient ...]\n"
	       "       postie [options] --files FILE ...\n"
	       "Submit the message on standard input to the SMTP server of "
	       "the chosen account.\n\n");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		printf("  -%c%-8s %s\n", flags[i].letter,
			flags[i].arg == FLAG_ARG ? " VALUE" : "",
			flags[i].help);
	for (size_t i = 0; i < sizeof(long_flags) / sizeof(long_flags[0]);
		i++) {
		const struct long_flag *f = &long_flags[i];
		char name[40];

		snprintf(name, sizeof(name), "%s%s%s", f->name,
			f->value ? " " : "", f->value ? f->value : "");
		printf("  %-21s %s\n", name, f->help);
	}
	printf("\nModes (-bMODE; mailq is -bp, newaliases -bi):\n");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (modes[i].refused)
			printf("  %-9s refused (%s)\n", modes[i].name,
				modes[i].refused);
		else
			printf("  %-9s %s\n", modes[i].name, modes[i].help);
	printf("\nExit status follows <sysexits.h>: 0 sent (or queued, said on "
	       "stderr), 75 try\nagain later, others permanent. See postie(1) "
	       "and postie.conf(5).\n");
}

/*
 * Called as mailq or newaliases (links installed with --enable-sendmail),
 * postie is -bp or -bi, as sendmail is; any other name (sendmail, postie)
 * delivers. Flags given after still choose.
 */
static void
mode_from_name(struct options *o, const char *argv0)
{
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;

	base = base ? base + 1 : argv0;
	if (!base)
		return;
	if (strcmp(base, "mailq") == 0) {
		o->mode = MODE_QUEUE_LIST;
		o->mode_name = "mailq";
	} else if (strcmp(base, "newaliases") == 0) {
		o->mode = MODE_NEWALIASES;
		o->mode_name = "newaliases";
	}
}

/*
 * The modes without a message. Operands make no sense to them: refused,
 * so "mailq user" or "sendmail -q user" is not mistaken for a send.
 */
static int
run_mode(const struct options *opt, struct error *err)
{
	if (opt->mode != MODE_DELIVER && opt->mode != MODE_VERIFY &&
		opt->nrcpts > 0) {
		error_set(err, ERR_USAGE, "%s takes no recipients",
			opt->mode_name);
		return -1;
	}
	if (opt->files && (opt->mode != MODE_DELIVER || opt->serverinfo)) {
		error_set(err, ERR_USAGE, "--files only sends (not with %s)",
			opt->serverinfo ? "-S" : opt->mode_name);
		return -1;
	}
	switch (opt->mode) {
	case MODE_QUEUE_LIST:
		return flush_list(opt, err);
	case MODE_QUEUE_RUN:
		return flush_run(opt, err);
	case MODE_QUEUE_DELETE:
		return flush_delete(opt, err);
	case MODE_QUEUE_RETRY:
		return flush_retry(opt, err);
	case MODE_NEWALIASES:
		if (log_verbose() > 0)
			fprintf(stderr, "postie: newaliases: nothing to do: "
					"postie reads the aliases file "
					"directly\n");
		return 0;
	case MODE_SMTP:
		return job_smtp(opt, err);
	default:
		/* -S wins over -bv: it shows the server and sends nothing. */
		if (opt->serverinfo)
			return job_serverinfo(opt, err);
		if (opt->mode == MODE_VERIFY)
			return job_verify(opt, err);
		if (opt->files)
			return job_send_files(opt, err);
		return job_send(opt, err);
	}
}

int
main(int argc, char **argv)
{
	struct options opt = {0};
	struct error err;

	error_clear(&err);
	/* Setgid: the system file is opened and the group given up first. */
	if (config_open_system(&err) < 0) {
		fprintf(stderr, "postie: %s\n", err.text);
		return log_exit_code(err.cls);
	}
	mode_from_name(&opt, argc > 0 ? argv[0] : NULL);
	if (options_parse(&opt, argc, argv, &err) < 0) {
		fprintf(stderr, "postie: %s\n", err.text);
		return log_exit_code(err.cls);
	}
	if (opt.help || opt.version) {
		if (opt.help)
			usage();
		else
			printf("postie %s\n", PACKAGE_VERSION);
		return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
	}
	log_set_verbose(opt.verbose);
	if (run_mode(&opt, &err) < 0) {
		if (err.cls == ERR_NONE)
			error_set(&err, ERR_SOFTWARE,
				"failed without a reason "
				"(a bug: please report it)");
		fprintf(stderr, "postie: %s\n", err.text);
		return log_exit_code(err.cls);
	}
	return EX_OK;
}
