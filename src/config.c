/*
 * config.c - msmtp's configuration grammar: sections, inheritance, values,
 * the file search, the permission rule and the choice of an account.
 *
 * The whole file is read into one capped buffer and split on LF, so lines
 * have no length limit of their own; the file cap (CONFIG_FILE_MAX) is the
 * stated bound. Every key msmtp knows is either implemented here or refused
 * by name: a setting that is silently ignored (a CRL file, a proxy) would
 * send mail less safely, or elsewhere, than the user asked for.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "config.h"
#include "tls.h"
#include "xmalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

#define CONFIG_TIMEOUT_MAX 86400
#define CONFIG_NONE_FOUND  "no configuration file found"
#define CONFIG_QUOTE_MAX   64

/* How a key's value is checked and stored. */
enum config_type {
	TYPE_STR,         /* any text; empty unsets */
	TYPE_WORD,        /* no whitespace; empty unsets */
	TYPE_EHLO,        /* a domain or address literal; empty unsets */
	TYPE_HOST,        /* no whitespace; required */
	TYPE_PATH,        /* a file name, "~/" expanded; empty unsets */
	TYPE_PORT,        /* 1..65535 */
	TYPE_TIMEOUT,     /* seconds, or "off" for the default */
	TYPE_BOOL,        /* on | off */
	TYPE_AUTH,        /* on | off | a SASL mechanism name */
	TYPE_SYSLOG,      /* on | off | LOG_xxx */
	TYPE_TRUST,       /* a file name as TYPE_PATH; "system" unsets */
	TYPE_FINGERPRINT, /* tls_fingerprint_parse's SHA-256 or SHA-1 */
	TYPE_MODE,        /* auto | on | off (enum config_mode) */
	TYPE_AUTO,        /* auto | off (enum config_mode) */
	TYPE_NOTIFY,      /* a DSN NOTIFY list, or off; empty unsets */
	TYPE_RETURN,      /* full | hdrs | off; empty unsets */
	TYPE_DURATION,    /* N[smhdw]: seconds (queue_lifetime) */
};

struct config_keydef {
	const char *name;
	unsigned long long bit;
	enum config_type type;
	size_t offset; /* of the field in struct account */
};

#define KEY(n, b, t, f)                                                        \
	{                                                                      \
		n, b, t, offsetof(struct account, f)                           \
	}
static const struct config_keydef config_keys[] = {
	KEY("host", CONFIG_HOST, TYPE_HOST, host),
	KEY("port", CONFIG_PORT, TYPE_PORT, port),
	KEY("from", CONFIG_FROM, TYPE_STR, from),
	KEY("domain", CONFIG_DOMAIN, TYPE_EHLO, domain),
	KEY("timeout", CONFIG_TIMEOUT, TYPE_TIMEOUT, timeout),
	KEY("tls", CONFIG_TLS, TYPE_BOOL, tls),
	KEY("tls_starttls", CONFIG_TLS_STARTTLS, TYPE_BOOL, tls_starttls),
	KEY("tls_trust_file", CONFIG_TLS_TRUST_FILE, TYPE_TRUST,
		tls_trust_file),
	KEY("tls_fingerprint", CONFIG_TLS_FINGERPRINT, TYPE_FINGERPRINT,
		tls_fingerprint),
	KEY("tls_certcheck", CONFIG_TLS_CERTCHECK, TYPE_BOOL, tls_certcheck),
	KEY("tls_host_override", CONFIG_TLS_HOST_OVERRIDE, TYPE_WORD,
		tls_host_override),
	KEY("tls_priorities", CONFIG_TLS_PRIORITIES, TYPE_STR, tls_priorities),
	KEY("tls_cert_file", CONFIG_TLS_CERT_FILE, TYPE_PATH, tls_cert_file),
	KEY("tls_key_file", CONFIG_TLS_KEY_FILE, TYPE_PATH, tls_key_file),
	KEY("tls_resume", CONFIG_TLS_RESUME, TYPE_BOOL, tls_resume),
	KEY("auth", CONFIG_AUTH, TYPE_AUTH, auth),
	KEY("user", CONFIG_USER, TYPE_STR, user),
	KEY("password", CONFIG_PASSWORD, TYPE_STR, password),
	KEY("passwordeval", CONFIG_PASSWORDEVAL, TYPE_STR, passwordeval),
	KEY("auth_plaintext", CONFIG_AUTH_PLAINTEXT, TYPE_BOOL, auth_plaintext),
	KEY("logfile", CONFIG_LOGFILE, TYPE_PATH, logfile),
	KEY("syslog", CONFIG_SYSLOG, TYPE_SYSLOG, syslog),
	KEY("from_full_name", CONFIG_FROM_FULL_NAME, TYPE_STR, from_full_name),
	KEY("aliases", CONFIG_ALIASES, TYPE_PATH, aliases),
	KEY("maildomain", CONFIG_MAILDOMAIN, TYPE_WORD, maildomain),
	KEY("set_from_header", CONFIG_SET_FROM_HEADER, TYPE_MODE,
		set_from_header),
	KEY("set_date_header", CONFIG_SET_DATE_HEADER, TYPE_AUTO,
		set_date_header),
	KEY("set_msgid_header", CONFIG_SET_MSGID_HEADER, TYPE_AUTO,
		set_msgid_header),
	KEY("set_to_header", CONFIG_SET_TO_HEADER, TYPE_AUTO, set_to_header),
	KEY("remove_bcc_headers", CONFIG_REMOVE_BCC_HEADERS, TYPE_BOOL,
		remove_bcc_headers),
	KEY("undisclosed_recipients", CONFIG_UNDISCLOSED_RECIPIENTS, TYPE_BOOL,
		undisclosed_recipients),
	KEY("allow_from_override", CONFIG_ALLOW_FROM_OVERRIDE, TYPE_BOOL,
		allow_from_override),
	KEY("dsn_notify", CONFIG_DSN_NOTIFY, TYPE_NOTIFY, dsn_notify),
	KEY("dsn_return", CONFIG_DSN_RETURN, TYPE_RETURN, dsn_return),
	KEY("queue", CONFIG_QUEUE, TYPE_BOOL, queue),
	KEY("queue_dir", CONFIG_QUEUE_DIR, TYPE_PATH, queue_dir),
	KEY("queue_lifetime", CONFIG_QUEUE_LIFETIME, TYPE_DURATION,
		queue_lifetime),
};
#undef KEY

/* msmtp keys (current and historical) that this version does not do yet. */
static const char *const config_unsupported[] = {
	"tls_crl_file",
	"tls_nocertcheck",
	"tls_min_dh_prime_bits",
	"tls_force_sslv3",
	"ntlmdomain",
	"auto_from",
	"source_ip",
	"proxy_host",
	"proxy_port",
	"socket",
	"logfile_time_format",
	"eval",
	"protocol",
};

/*
 * msmtp's older names for header keys: "key on" means "to on_value",
 * "key off" means "to off_value".
 */
struct config_oldkey {
	const char *name, *to, *on_value, *off_value;
};

static const struct config_oldkey config_oldkeys[] = {
	{"add_missing_from_header", "set_from_header", "auto", "off"},
	{"add_missing_date_header", "set_date_header", "auto", "off"},
	{"keepbcc", "remove_bcc_headers", "off", "on"},
};

static const char *const config_facilities[] = {
	"LOG_USER",
	"LOG_MAIL",
	"LOG_LOCAL0",
	"LOG_LOCAL1",
	"LOG_LOCAL2",
	"LOG_LOCAL3",
	"LOG_LOCAL4",
	"LOG_LOCAL5",
	"LOG_LOCAL6",
	"LOG_LOCAL7",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct config_parser {
	struct config *cfg;
	const char *name; /* the file, for messages */
	unsigned line;
	struct account defaults; /* what "defaults" sections have set so far */
	int section;             /* 0 none yet, 1 defaults, 2 an account */
	int saw_password;        /* a non-empty literal password somewhere */
};

/* ---- small helpers ------------------------------------------------------ */

/* An untrusted string made printable and short enough for a message. */
static const char *
config_quote(char *dst, size_t dstsize, const char *s)
{
	return log_escape(dst, dstsize, s, strlen(s));
}

static int
config_is_space(char c)
{
	return c == ' ' || c == '\t';
}

static char **
account_str(struct account *a, const struct config_keydef *k)
{
	return (char **)(void *)((char *)a + k->offset);
}

static unsigned *
account_uint(struct account *a, const struct config_keydef *k)
{
	return (unsigned *)(void *)((char *)a + k->offset);
}

static int *
account_int(struct account *a, const struct config_keydef *k)
{
	return (int *)(void *)((char *)a + k->offset);
}

/* Stored as int (on/off and the modes). */
static int
config_type_is_int(enum config_type t)
{
	return t == TYPE_BOOL || t == TYPE_MODE || t == TYPE_AUTO;
}

static int
config_type_is_str(enum config_type t)
{
	return t != TYPE_PORT && t != TYPE_TIMEOUT && t != TYPE_DURATION &&
	       !config_type_is_int(t);
}

/* Free a string field; secrets are wiped first so no copy lingers. */
static void
config_free_str(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

static void
account_init(struct account *a)
{
	memset(a, 0, sizeof(*a));
	a->timeout = CONFIG_TIMEOUT_DEFAULT;
	a->tls = 1;
	a->tls_starttls = 1;
	a->tls_certcheck = 1;
	a->tls_resume = 1;
	a->set_from_header = CONFIG_MODE_AUTO;
	a->set_date_header = CONFIG_MODE_AUTO;
	a->set_msgid_header = CONFIG_MODE_AUTO;
	a->set_to_header = CONFIG_MODE_AUTO;
	a->remove_bcc_headers = 1;
	a->allow_from_override = 1;
	a->queue = 1;
	a->queue_lifetime = CONFIG_LIFETIME_DEFAULT;
}

static void
account_release(struct account *a)
{
	size_t i;

	for (i = 0; i < NELEM(config_keys); i++)
		if (config_type_is_str(config_keys[i].type))
			config_free_str(account_str(a, &config_keys[i]));
	free(a->name);
	free(a->file);
	account_init(a);
}

/* Copy every key src has set into dst (msmtp's inheritance rule). */
static void
account_inherit(struct account *dst, struct account *src)
{
	const struct config_keydef *k;
	char **s;
	size_t i;

	for (i = 0; i < NELEM(config_keys); i++) {
		k = &config_keys[i];
		if (!(src->set & k->bit))
			continue;
		if (config_type_is_str(k->type)) {
			s = account_str(dst, k);
			config_free_str(s);
			if (*account_str(src, k))
				*s = xstrdup(*account_str(src, k));
		} else if (config_type_is_int(k->type)) {
			*account_int(dst, k) = *account_int(src, k);
		} else {
			*account_uint(dst, k) = *account_uint(src, k);
		}
	}
	dst->set |= src->set;
}

static struct account *
config_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->naccounts; i++)
		if (strcmp(cfg->accounts[i].name, name) == 0)
			return &cfg->accounts[i];
	return NULL;
}

/* ---- values ------------------------------------------------------------- */

/* The body of a double-quoted value: \" and \\ are the only escapes. */
static int
config_unquote(const char *s, size_t len, struct buf *out, struct error *err)
{
	size_t i;

	for (i = 1; i < len; i++) {
		if (s[i] == '"')
			break;
		if (s[i] == '\\') {
			i++;
			if (i >= len || (s[i] != '"' && s[i] != '\\')) {
				error_set(err, ERR_CONFIG,
					"unknown escape in "
					"a quoted value (only \\\" and \\\\ "
					"are allowed)");
				return -1;
			}
		}
		buf_addch(out, s[i]);
	}
	if (i >= len) {
		error_set(err, ERR_CONFIG, "missing closing quote");
		return -1;
	}
	for (i++; i < len; i++) {
		if (!config_is_space(s[i])) {
			error_set(err, ERR_CONFIG,
				"text after the closing quote");
			return -1;
		}
	}
	return 0;
}

/* The value of a line: s has no leading whitespace. */
static char *
config_value(const char *s, size_t len, struct error *err)
{
	struct buf out;

	buf_init(&out, CONFIG_FILE_MAX); /* a value is part of the file */
	while (len > 0 && config_is_space(s[len - 1]))
		len--;
	if (len == 0 || s[0] != '"') {
		buf_append(&out, s, len);
		return buf_detach(&out, NULL);
	}
	if (config_unquote(s, len, &out, err) == 0)
		return buf_detach(&out, NULL);
	explicit_bzero(out.data, out.len);
	buf_release(&out);
	return NULL;
}

/* Digits only, within lo..hi; no sign, no spaces, no hex. */
static int
config_number(const char *v, unsigned long lo, unsigned long hi, unsigned *out)
{
	unsigned long n;
	char *end;

	if (v[0] < '0' || v[0] > '9')
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* A SASL mechanism name (RFC 4422 §3.1): A-Z 0-9 - _, 1 to 20 chars. */
static int
config_is_mechanism(const char *v)
{
	size_t i, n = strlen(v);

	if (n == 0 || n > 20)
		return 0;
	for (i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static void
config_upcase(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

/* "~/x" means $HOME/x, as in msmtp; anything else is taken as written. */
static char *
config_path(const char *v)
{
	const char *home = getenv("HOME");
	struct buf b;

	if (v[0] != '~' || v[1] != '/' || !home || !*home)
		return xstrdup(v);
	buf_init(&b, (size_t)-1);
	buf_printf(&b, "%s%s", home, v + 1);
	return buf_detach(&b, NULL);
}

static int
config_set_syslog(char **v, struct error *err)
{
	char q[CONFIG_QUOTE_MAX];
	size_t i;

	if (strcmp(*v, "off") == 0)
		config_free_str(v);
	if (!*v || strcmp(*v, "on") == 0)
		return 0;
	for (i = 0; i < NELEM(config_facilities); i++) {
		if (strcasecmp(*v, config_facilities[i]) == 0) {
			config_upcase(*v);
			return 0;
		}
	}
	error_set(err, ERR_CONFIG,
		"'syslog' must be 'on', 'off' or a facility "
		"(LOG_USER, LOG_MAIL, LOG_LOCAL0 to LOG_LOCAL7), not '%s'",
		config_quote(q, sizeof(q), *v));
	return -1;
}

static int
config_set_auth(char **v, struct error *err)
{
	char q[CONFIG_QUOTE_MAX];

	if (strcmp(*v, "on") == 0 || strcmp(*v, "off") == 0)
		return 0;
	if (!config_is_mechanism(*v)) {
		error_set(err, ERR_CONFIG,
			"'auth' must be 'on', 'off' or a "
			"SASL mechanism name, not '%s'",
			config_quote(q, sizeof(q), *v));
		return -1;
	}
	config_upcase(*v);
	return 0;
}

/*
 * A pinned certificate: SHA-256 (32 bytes) or SHA-1 (20, deprecated but
 * what older msmtp configurations hold), checked with the TLS module's
 * own parser. MD5 and anything else are refused here, so a typo is found
 * when the file is read, not as a "fingerprint mismatch" at the server.
 */
static int
config_check_fingerprint(const char *v, struct error *err)
{
	unsigned char pin[TLS_FINGERPRINT_MAX];
	char q[3 * 64 + 8]; /* a whole fingerprint shown */

	if (tls_fingerprint_parse(v, pin) != 0)
		return 0;
	error_set(err, ERR_CONFIG,
		"'tls_fingerprint' must be a SHA-256 (32 bytes) or "
		"SHA-1 (20 bytes) fingerprint in hex, "
		"as AB:CD:.. or ABCD.., not '%s'",
		config_quote(q, sizeof(q), v));
	return -1;
}

/* set_from_header (auto|on|off) and the auto|off keys: stored in a, v is
   freed. */
static int
config_set_mode(struct account *a, const struct config_keydef *k, char **v,
	struct error *err)
{
	char q[CONFIG_QUOTE_MAX];

	if (strcmp(*v, "auto") == 0) {
		*account_int(a, k) = CONFIG_MODE_AUTO;
	} else if (strcmp(*v, "off") == 0) {
		*account_int(a, k) = CONFIG_MODE_OFF;
	} else if (strcmp(*v, "on") == 0 && k->type == TYPE_MODE) {
		*account_int(a, k) = CONFIG_MODE_ON;
	} else {
		error_set(err, ERR_CONFIG, "'%s' must be %s, not '%s'", k->name,
			k->type == TYPE_MODE ? "'auto', 'on' or 'off'"
					     : "'auto' or 'off'",
			config_quote(q, sizeof(q), *v));
		return -1;
	}
	config_free_str(v);
	return 0;
}

/*
 * dsn_notify and dsn_return: checked as -N and -R are, so a typo is found
 * when the file is read, not as a 501 from the server. "off" unsets
 * (msmtp's spelling for "no DSN request").
 */
static int
config_set_dsn(const struct config_keydef *k, char **v, struct error *err)
{
	int r;

	if (strcmp(*v, "off") == 0) {
		config_free_str(v);
		return 0;
	}
	if (k->type == TYPE_NOTIFY)
		r = config_check_notify(*v, err);
	else
		r = config_check_return(*v, err);
	if (r < 0)
		error_prefix(err, "'%s'", k->name);
	return r;
}

int
config_check_notify(const char *s, struct error *err)
{
	static const char *const words[] = {
		"never", "success", "failure", "delay"};
	const char *p = s;
	int nwords = 0, never = 0;

	while (*p) {
		size_t len = strcspn(p, ","), i;
		char q[CONFIG_QUOTE_MAX];

		for (i = 0; i < NELEM(words); i++)
			if (strlen(words[i]) == len &&
				strncasecmp(p, words[i], len) == 0)
				break;
		if (i == NELEM(words)) {
			error_set(err, ERR_CONFIG,
				"'%s' is not one of never, success, failure, "
				"delay",
				log_escape(q, sizeof(q), p, len));
			return -1;
		}
		never |= i == 0;
		nwords++;
		p += len + (p[len] == ',');
	}
	if (nwords == 0 || (never && nwords > 1)) {
		error_set(err, ERR_CONFIG,
			"give never alone, or any of success, failure, delay");
		return -1;
	}
	return 0;
}

int
config_check_return(const char *s, struct error *err)
{
	char q[CONFIG_QUOTE_MAX];

	if (strcasecmp(s, "full") == 0 || strcasecmp(s, "hdrs") == 0)
		return 0;
	error_set(err, ERR_CONFIG, "must be full or hdrs, not '%s'",
		config_quote(q, sizeof(q), s));
	return -1;
}

/*
 * queue_lifetime: a number of seconds, or of minutes, hours, days or weeks
 * with m, h, d or w after it ("5d"), from 1 s to CONFIG_LIFETIME_MAX.
 */
static int
config_set_duration(struct account *a, const struct config_keydef *k,
	const char *v, struct error *err)
{
	static const char units[] = "smhdw";
	static const unsigned long secs[] = {1, 60, 3600, 86400, 604800};
	char num[24], q[CONFIG_QUOTE_MAX];
	size_t len = strlen(v);
	unsigned long mul = 1;
	const char *u;
	unsigned n;

	if (len > 0 && (u = strchr(units, v[len - 1])) != NULL) {
		mul = secs[u - units];
		len--;
	}
	if (len > 0 && len < sizeof(num)) {
		memcpy(num, v, len);
		num[len] = '\0';
		if (config_number(num, 1, CONFIG_LIFETIME_MAX / mul, &n) == 0) {
			*account_uint(a, k) = (unsigned)(n * mul);
			return 0;
		}
	}
	error_set(err, ERR_CONFIG,
		"'%s' must be a number with s, m, h, d or w after it "
		"(at most 365 days), not '%s'",
		k->name, config_quote(q, sizeof(q), v));
	return -1;
}

/* port, timeout and the on/off keys: stored in a, v is freed. */
static int
config_set_number(struct account *a, const struct config_keydef *k, char **v,
	struct error *err)
{
	char q[CONFIG_QUOTE_MAX];

	config_quote(q, sizeof(q), *v);
	if (k->type == TYPE_BOOL) {
		if (strcmp(*v, "on") != 0 && strcmp(*v, "off") != 0) {
			error_set(err, ERR_CONFIG,
				"'%s' must be 'on' or 'off', not '%s'", k->name,
				q);
			return -1;
		}
		*account_int(a, k) = strcmp(*v, "on") == 0;
	} else if (k->type == TYPE_PORT) {
		if (config_number(*v, 1, 65535, account_uint(a, k)) < 0) {
			error_set(err, ERR_CONFIG,
				"'port' must be a number "
				"from 1 to 65535, not '%s'",
				q);
			return -1;
		}
	} else if (strcmp(*v, "off") == 0) {
		/* postie never waits forever: "off" is the default. */
		*account_uint(a, k) = CONFIG_TIMEOUT_DEFAULT;
	} else if (config_number(
			   *v, 1, CONFIG_TIMEOUT_MAX, account_uint(a, k)) < 0) {
		error_set(err, ERR_CONFIG,
			"'timeout' must be a number of "
			"seconds from 1 to %d, or 'off', not '%s'",
			CONFIG_TIMEOUT_MAX, q);
		return -1;
	}
	config_free_str(v);
	return 0;
}

static int
config_check_word(
	const struct config_keydef *k, const char *v, struct error *err)
{
	char q[CONFIG_QUOTE_MAX];
	const char *p;

	for (p = v; *p; p++) {
		if (config_is_space(*p)) {
			error_set(err, ERR_CONFIG,
				"'%s' must be one word, not "
				"'%s'",
				k->name, config_quote(q, sizeof(q), v));
			return -1;
		}
	}
	return 0;
}

/*
 * The EHLO name (RFC 5321 §4.1.1.1: Domain / address-literal), checked
 * here so that no '<', '>' or other byte a server would misparse goes on
 * the wire. Letters, digits, '-', '.' and, as hosts are named in
 * practice, '_'; a U-label name becomes its A-label, since EHLO comes
 * before any SMTPUTF8. A literal is checked as in an address.
 */
static int
config_check_ehlo(const struct config_keydef *k, char **v, struct error *err)
{
	char q[CONFIG_QUOTE_MAX], *m, *ace = NULL;
	size_t n = strlen(*v) + sizeof("postmaster@");
	const unsigned char *p;
	struct error e;
	int r = 0;

	if (config_check_word(k, *v, err) < 0)
		return -1;
	if ((*v)[0] == '[') {
		m = xmalloc(n);
		snprintf(m, n, "postmaster@%s", *v);
		r = address_check_envelope(m, &e);
		free(m);
	} else {
		for (p = (const unsigned char *)*v; *p && r == 0; p++)
			if (!isalnum(*p) && !strchr("-._", *p) && *p < 0x80)
				r = -1;
		if (r == 0)
			r = address_idna_to_ascii(*v, &ace, &e);
	}
	if (r < 0) {
		error_set(err, ERR_CONFIG,
			"'%s' must be a host name or an address literal "
			"([192.0.2.1]), not '%s'",
			k->name, config_quote(q, sizeof(q), *v));
		return -1;
	}
	if (ace) {
		free(*v);
		*v = ace;
	}
	return 0;
}

/*
 * Check v for key k. String values stay in *v (NULL for an empty value,
 * which unsets the key); the others are stored in a and *v is freed.
 */
static int
config_check_value(struct account *a, const struct config_keydef *k, char **v,
	struct error *err)
{
	char *p;

	if (**v == '\0' &&
		(k->type == TYPE_STR || k->type == TYPE_WORD ||
			k->type == TYPE_EHLO || k->type == TYPE_PATH ||
			k->type == TYPE_TRUST || k->type == TYPE_FINGERPRINT ||
			k->type == TYPE_NOTIFY || k->type == TYPE_RETURN)) {
		config_free_str(v);
		return 0;
	}
	if (**v == '\0') {
		error_set(err, ERR_CONFIG, "'%s' needs a value", k->name);
		return -1;
	}
	switch (k->type) {
	case TYPE_STR:
		return 0;
	case TYPE_HOST:
	case TYPE_WORD:
		return config_check_word(k, *v, err);
	case TYPE_EHLO:
		return config_check_ehlo(k, v, err);
	case TYPE_TRUST:
		/* msmtp's "system": the default trust store. */
		if (strcmp(*v, "system") == 0) {
			config_free_str(v);
			return 0;
		}
		/* fall through */
	case TYPE_PATH:
		p = config_path(*v);
		config_free_str(v);
		*v = p;
		return 0;
	case TYPE_SYSLOG:
		return config_set_syslog(v, err);
	case TYPE_AUTH:
		return config_set_auth(v, err);
	case TYPE_FINGERPRINT:
		return config_check_fingerprint(*v, err);
	case TYPE_MODE:
	case TYPE_AUTO:
		return config_set_mode(a, k, v, err);
	case TYPE_NOTIFY:
	case TYPE_RETURN:
		return config_set_dsn(k, v, err);
	case TYPE_DURATION:
		if (config_set_duration(a, k, *v, err) < 0)
			return -1;
		config_free_str(v);
		return 0;
	default:
		return config_set_number(a, k, v, err);
	}
}

/* ---- lines -------------------------------------------------------------- */

static struct account *
config_current(struct config_parser *p)
{
	if (p->section == 1)
		return &p->defaults;
	return &p->cfg->accounts[p->cfg->naccounts - 1];
}

/* The key's definition; an unknown or not yet supported key is an error. */
static const struct config_keydef *
config_lookup(const char *key, struct error *err)
{
	char q[CONFIG_QUOTE_MAX];
	size_t i;

	for (i = 0; i < NELEM(config_keys); i++)
		if (strcmp(key, config_keys[i].name) == 0)
			return &config_keys[i];
	for (i = 0; i < NELEM(config_unsupported); i++) {
		if (strcmp(key, config_unsupported[i]) == 0) {
			error_set(err, ERR_CONFIG, "'%s' is not supported yet",
				key);
			return NULL;
		}
	}
	error_set(err, ERR_CONFIG, "unknown key '%s'",
		config_quote(q, sizeof(q), key));
	return NULL;
}

static int config_key_line(struct config_parser *p, const char *key,
	const char *rest, size_t restlen, struct error *err);

/* "add_missing_from_header on" is "set_from_header auto", and so on. */
static int
config_old_key_line(struct config_parser *p, const struct config_oldkey *o,
	const char *rest, size_t restlen, struct error *err)
{
	const char *to;
	char q[CONFIG_QUOTE_MAX];
	char *v = config_value(rest, restlen, err);
	int r;

	if (!v)
		return -1;
	if (strcmp(v, "on") == 0 || *v == '\0') {
		to = o->on_value; /* msmtp: an on/off key without value is on */
	} else if (strcmp(v, "off") == 0) {
		to = o->off_value;
	} else {
		error_set(err, ERR_CONFIG,
			"'%s' must be 'on' or 'off', not '%s'", o->name,
			config_quote(q, sizeof(q), v));
		free(v);
		return -1;
	}
	free(v);
	r = config_key_line(p, o->to, to, strlen(to), err);
	return r;
}

static int
config_key_line(struct config_parser *p, const char *key, const char *rest,
	size_t restlen, struct error *err)
{
	const struct config_keydef *k;
	struct account *a;
	char *v;
	size_t i;

	for (i = 0; i < NELEM(config_oldkeys); i++)
		if (strcmp(key, config_oldkeys[i].name) == 0)
			return config_old_key_line(
				p, &config_oldkeys[i], rest, restlen, err);
	k = config_lookup(key, err);
	if (!k)
		return -1;
	if (p->section == 0) {
		error_set(err, ERR_CONFIG,
			"'%s' before any 'account' or "
			"'defaults' line",
			key);
		return -1;
	}
	v = config_value(rest, restlen, err);
	if (!v)
		return -1;
	if (k->bit == CONFIG_PASSWORD && *v)
		p->saw_password = 1;
	a = config_current(p);
	if (config_type_is_str(k->type))
		config_free_str(account_str(a, k));
	if (config_check_value(a, k, &v, err) < 0) {
		config_free_str(&v);
		return -1;
	}
	if (config_type_is_str(k->type))
		*account_str(a, k) = v;
	a->set |= k->bit;
	return 0;
}

/* A name in an account line: no whitespace, ':' or ','. */
static size_t
config_name_len(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && !config_is_space(s[n]) && s[n] != ':' && s[n] != ',')
		n++;
	return n;
}

static size_t
config_skip_space(const char *s, size_t len, size_t i)
{
	while (i < len && config_is_space(s[i]))
		i++;
	return i;
}

/* ": a, b, c" after the account's name: inherit from each in order. */
static int
config_parents(struct config_parser *p, struct account *a, const char *s,
	size_t len, struct error *err)
{
	struct account *parent;
	char q[CONFIG_QUOTE_MAX];
	char *name, sep = ':';
	size_t i = 1, n;

	for (;;) {
		i = config_skip_space(s, len, i);
		n = config_name_len(s + i, len - i);
		if (n == 0) {
			error_set(err, ERR_CONFIG,
				"account '%s': missing "
				"parent account name after '%c'",
				a->name, sep);
			return -1;
		}
		name = xstrndup(s + i, n);
		parent = config_find(p->cfg, name);
		if (!parent || parent == a) {
			error_set(err, ERR_CONFIG,
				"account '%s' inherits from "
				"'%s', which is not defined above it",
				a->name, config_quote(q, sizeof(q), name));
			free(name);
			return -1;
		}
		free(name);
		account_inherit(a, parent);
		i = config_skip_space(s, len, i + n);
		if (i == len)
			return 0;
		if (s[i] != ',') {
			error_set(err, ERR_CONFIG,
				"account '%s': expected ',' "
				"between parent accounts",
				a->name);
			return -1;
		}
		sep = ',';
		i++;
	}
}

static int
config_account_line(
	struct config_parser *p, const char *s, size_t len, struct error *err)
{
	struct config *cfg = p->cfg;
	struct account *a, *old;
	char q[CONFIG_QUOTE_MAX];
	char *name;
	size_t n = config_name_len(s, len), i;

	if (n == 0) {
		error_set(err, ERR_CONFIG, "'account' needs a name");
		return -1;
	}
	name = xstrndup(s, n);
	old = config_find(cfg, name);
	if (old) {
		error_set(err, ERR_CONFIG,
			"account '%s' is already defined on "
			"line %u",
			config_quote(q, sizeof(q), name), old->line);
		free(name);
		return -1;
	}
	cfg->accounts = xreallocarray(
		cfg->accounts, cfg->naccounts + 1, sizeof(*cfg->accounts));
	a = &cfg->accounts[cfg->naccounts++];
	account_init(a);
	a->name = name;
	a->file = xstrdup(p->name);
	a->line = p->line;
	p->section = 2;
	account_inherit(a, &p->defaults);
	i = config_skip_space(s, len, n);
	if (i == len)
		return 0;
	if (s[i] != ':') {
		error_set(err, ERR_CONFIG,
			"account '%s': expected ':' before "
			"the parent accounts",
			config_quote(q, sizeof(q), name));
		return -1;
	}
	return config_parents(p, a, s + i, len - i, err);
}

/*
 * Control characters are refused anywhere in a line because values end up
 * in SMTP commands (EHLO, MAIL FROM), where a stray CR or LF would inject a
 * command of the file's choosing, and names end up in messages.
 */
static int
config_check_bytes(const char *s, size_t len, struct error *err)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			error_set(err, ERR_CONFIG,
				"control character \\x%02x in the line", c);
			return -1;
		}
	}
	return 0;
}

/* One line without its LF (and without the CR of a CRLF ending). */
static int
config_line(
	struct config_parser *p, const char *s, size_t len, struct error *err)
{
	size_t i = config_skip_space(s, len, 0), k;
	char *key;
	int r;

	if (i == len || s[i] == '#')
		return 0;
	if (config_check_bytes(s, len, err) < 0)
		return -1;
	for (k = i; k < len && !config_is_space(s[k]); k++)
		;
	key = xstrndup(s + i, k - i);
	k = config_skip_space(s, len, k);
	if (strcmp(key, "account") == 0) {
		r = config_account_line(p, s + k, len - k, err);
	} else if (strcmp(key, "defaults") == 0) {
		r = k == len ? 0 : -1;
		if (r < 0)
			error_set(err, ERR_CONFIG, "'defaults' takes no value");
		else
			p->section = 1;
	} else {
		r = config_key_line(p, key, s + k, len - k, err);
	}
	free(key);
	return r;
}

/* ---- the whole text ----------------------------------------------------- */

static int
config_parse_text(struct config_parser *p, const char *text, size_t len,
	struct error *err)
{
	const char *s = text, *end = text + len, *nl;
	size_t n;

	/* A UTF-8 byte order mark, as some Windows editors write. */
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (s < end) {
		p->line++;
		nl = memchr(s, '\n', (size_t)(end - s));
		n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		/* cppcheck-suppress knownConditionTrueFalse ; an empty line
		   ("\n\n") has n == 0 */
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (config_line(p, s, n, err) < 0) {
			error_prefix(err, "%s:%u", p->name, p->line);
			return -1;
		}
		s = nl ? nl + 1 : end;
	}
	return 0;
}

static void
config_set_default(struct config *cfg)
{
	cfg->dflt = config_find(cfg, "default");
}

static int
config_parse_internal(struct config *cfg, const char *name, const char *text,
	size_t len, int *saw_password, struct error *err)
{
	struct config_parser p;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.name = name;
	account_init(&p.defaults);
	cfg->path = xstrdup(name);
	r = config_parse_text(&p, text, len, err);
	account_release(&p.defaults);
	if (r < 0) {
		config_release(cfg);
		return -1;
	}
	config_set_default(cfg);
	*saw_password = p.saw_password;
	return 0;
}

int
config_parse(struct config *cfg, const char *name, const char *text, size_t len,
	struct error *err)
{
	int saw_password;

	return config_parse_internal(cfg, name, text, len, &saw_password, err);
}

void
config_release(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->naccounts; i++)
		account_release(&cfg->accounts[i]);
	free(cfg->accounts);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- files -------------------------------------------------------------- */

static int
config_read_fd(int fd, const char *path, struct buf *b, struct error *err)
{
	ssize_t n;

	while ((n = buf_read_fd(b, fd, 16384)) > 0)
		continue;
	if (n == 0)
		return 0;
	if (errno == EFBIG)
		error_set(err, ERR_CONFIG,
			"%s: larger than %u KiB; this is not "
			"a configuration file",
			path, CONFIG_FILE_MAX / 1024);
	else
		error_set(err, ERR_NOINPUT, "%s: %s", path, strerror(errno));
	return -1;
}

/*
 * Mode rules: a literal password readable by group or others leaks it to
 * every local user; a file others may write lets them choose where mail
 * goes and which command passwordeval runs as this user.
 */
static int
config_check_mode(const struct stat *st, const char *path, int saw_password,
	struct error *err)
{
	if (st->st_mode & S_IWOTH) {
		error_set(err, ERR_CONFIG,
			"%s: is writable by others; run: "
			"chmod o-w %s",
			path, path);
		return -1;
	}
	if (saw_password && (st->st_mode & (S_IRGRP | S_IROTH))) {
		error_set(err, ERR_CONFIG,
			"%s: contains a password but is "
			"readable by group or others; run: chmod 600 %s",
			path, path);
		return -1;
	}
	return 0;
}

/*
 * The system file serves every user, so whoever may write it chooses where
 * everyone's mail goes and which command passwordeval runs as each of
 * them: only root may. Its group may read it (that is how a setgid postie
 * reads it for callers that are not its owner), others may not when it
 * holds a password.
 */
static int
config_check_system_mode(const struct stat *st, const char *path,
	int saw_password, struct error *err)
{
	if (st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH))) {
		error_set(err, ERR_CONFIG,
			"%s: the system file is writable by someone other "
			"than root; run: chown root %s && chmod go-w %s",
			path, path, path);
		return -1;
	}
	if (saw_password && (st->st_mode & S_IROTH)) {
		error_set(err, ERR_CONFIG,
			"%s: contains a password but is "
			"readable by others; run: chmod 640 %s",
			path, path);
		return -1;
	}
	return 0;
}

/* Read and parse an opened file; fd is closed. */
static int
config_load_fd(struct config *cfg, int fd, const char *path, int system,
	struct error *err)
{
	struct stat st;
	struct buf b;
	int saw_password = 0, r = -1;

	buf_init(&b, CONFIG_FILE_MAX);
	if (fstat(fd, &st) < 0) {
		error_set(err, ERR_NOINPUT, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		error_set(err, ERR_NOINPUT, "%s: %s", path, strerror(EISDIR));
		goto done;
	}
	if (config_read_fd(fd, path, &b, err) < 0)
		goto done;
	if (config_parse_internal(
		    cfg, path, b.data, b.len, &saw_password, err) < 0)
		goto done;
	if (system)
		r = config_check_system_mode(&st, path, saw_password, err);
	else
		r = config_check_mode(&st, path, saw_password, err);
	if (r < 0)
		config_release(cfg);
done:
	explicit_bzero(b.data, b.len);
	buf_release(&b);
	close(fd);
	return r;
}

static int
config_open(const char *path)
{
	int fd;

	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	return fd;
}

/*
 * The system files, and the one config_open_system opened while postie
 * still held its setgid group (-1: none). Only these two paths are ever
 * opened with the group: never -C, a user file, netrc or passwordeval.
 */
static const char *const config_system_files[] = {
	SYSCONFDIR "/postie.conf",
	SYSCONFDIR "/msmtprc",
};
static int config_system_fd = -1;
static const char *config_system_name;

static int
config_is_system_file(const char *path)
{
	return strcmp(path, config_system_files[0]) == 0 ||
	       strcmp(path, config_system_files[1]) == 0;
}

static void
config_system_close(void)
{
	if (config_system_fd >= 0)
		close(config_system_fd);
	config_system_fd = -1;
	config_system_name = NULL;
}

/* Both the effective and the saved group must go, or setegid() regains it. */
static int
config_drop_group(gid_t gid)
{
	gid_t r, e, s;

	if (setresgid(gid, gid, gid) < 0)
		return -1;
	if (getresgid(&r, &e, &s) < 0)
		return -1;
	if (r != gid || e != gid || s != gid || getegid() != gid) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
config_open_system(struct error *err)
{
	gid_t gid = getgid();
	size_t i;
	int fd;

	if (getegid() == gid)
		return 0;
	for (i = 0; i < 2; i++) {
		fd = config_open(config_system_files[i]);
		if (fd >= 0) {
			config_system_fd = fd;
			config_system_name = config_system_files[i];
			break;
		}
		if (errno != ENOENT && errno != ENOTDIR)
			break;
	}
	if (config_drop_group(gid) < 0) {
		error_set(err, ERR_OS, "cannot give up the setgid group: %s",
			strerror(errno));
		config_system_close();
		return -1;
	}
	return 0;
}

/* Open a searched path; the system file comes pre-opened when setgid. */
static int
config_open_searched(const char *path)
{
	int fd;

	if (config_system_fd >= 0 && strcmp(path, config_system_name) == 0) {
		fd = config_system_fd;
		config_system_fd = -1;
		config_system_name = NULL;
		return fd;
	}
	return config_open(path);
}

static void
config_add_path(
	char **paths, size_t max, size_t *n, const char *dir, const char *file)
{
	struct buf b;

	if (*n >= max)
		return;
	buf_init(&b, (size_t)-1);
	buf_printf(&b, "%s/%s", dir, file);
	paths[(*n)++] = buf_detach(&b, NULL);
}

size_t
config_search_list(char **paths, size_t max, const char *home, const char *xdg,
	const char *sysdir)
{
	struct buf b;
	size_t n = 0;

	if (home && !*home)
		home = NULL;
	buf_init(&b, (size_t)-1);
	/* XDG Base Directory: a relative value is to be ignored. */
	if (xdg && xdg[0] == '/')
		buf_addstr(&b, xdg);
	else if (home)
		buf_printf(&b, "%s/.config", home);
	if (b.len)
		config_add_path(paths, max, &n, b.data, "postie/config");
	if (home) {
		config_add_path(paths, max, &n, home, ".postierc");
		config_add_path(paths, max, &n, home, ".msmtprc");
	}
	if (b.len)
		config_add_path(paths, max, &n, b.data, "msmtp/config");
	if (sysdir) {
		config_add_path(paths, max, &n, sysdir, "postie.conf");
		config_add_path(paths, max, &n, sysdir, "msmtprc");
	}
	buf_release(&b);
	return n;
}

int
config_load_first(struct config *cfg, char *const *paths, size_t npaths,
	struct error *err)
{
	struct buf looked;
	size_t i;
	int fd;

	memset(cfg, 0, sizeof(*cfg));
	/*
	 * The first file that exists is the file, even when it is broken: if
	 * an unreadable user file fell through to the system file, mail would
	 * go out through an account the user never chose.
	 */
	for (i = 0; i < npaths; i++) {
		fd = config_open_searched(paths[i]);
		if (fd >= 0)
			return config_load_fd(cfg, fd, paths[i],
				config_is_system_file(paths[i]), err);
		if (errno != ENOENT && errno != ENOTDIR) {
			error_set(err, ERR_NOINPUT, "%s: %s", paths[i],
				strerror(errno));
			return -1;
		}
	}
	buf_init(&looked, ERROR_TEXT_MAX);
	for (i = 0; i < npaths; i++)
		buf_printf(&looked, "%s%s", i ? ", " : "", paths[i]);
	error_set(err, ERR_CONFIG, "%s (looked in %s); use -C FILE",
		CONFIG_NONE_FOUND, looked.data);
	buf_release(&looked);
	return -1;
}

int
config_none_found(const struct error *err)
{
	return err->cls == ERR_CONFIG &&
	       strncmp(err->text, CONFIG_NONE_FOUND,
		       strlen(CONFIG_NONE_FOUND)) == 0;
}

const char *
config_home(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && home[0] == '/')
		return home;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

int
config_load(struct config *cfg, const char *path, struct error *err)
{
	char *paths[CONFIG_SEARCH_MAX];
	size_t n, i;
	int fd, r;

	if (path) {
		/* -C is never read with the setgid group's file. */
		config_system_close();
		memset(cfg, 0, sizeof(*cfg));
		fd = config_open(path);
		if (fd < 0) {
			error_set(err, ERR_NOINPUT, "%s: %s", path,
				strerror(errno));
			return -1;
		}
		return config_load_fd(cfg, fd, path, 0, err);
	}
	n = config_search_list(paths, CONFIG_SEARCH_MAX, config_home(),
		getenv("XDG_CONFIG_HOME"), SYSCONFDIR);
	r = config_load_first(cfg, paths, n, err);
	/* A user file won: the pre-opened system file is not needed. */
	config_system_close();
	for (i = 0; i < n; i++)
		free(paths[i]);
	return r;
}

/* ---- choosing and checking an account ----------------------------------- */

/* ASCII case-insensitive glob: '*' any run, '?' one byte, nothing else. */
static int
config_glob(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*pat == '*') {
			star = ++pat;
			resume = s;
		} else if (*pat &&
			   (*pat == '?' ||
				   tolower((unsigned char)*pat) ==
					   tolower((unsigned char)*s))) {
			pat++;
			s++;
		} else if (star) {
			pat = star;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* "user+tag@domain" -> "user@domain"; NULL when there is no tag. */
static char *
config_untag(const char *sender)
{
	const char *at = strrchr(sender, '@'), *plus;
	struct buf b;

	plus = memchr(sender, '+', at ? (size_t)(at - sender) : 0);
	if (!plus)
		return NULL;
	buf_init(&b, (size_t)-1);
	buf_append(&b, sender, (size_t)(plus - sender));
	buf_addstr(&b, at);
	return buf_detach(&b, NULL);
}

int
config_sender_matches(const char *from, const char *sender)
{
	char *untagged = config_untag(sender);
	int r = config_glob(from, sender) ||
		(untagged && config_glob(from, untagged));

	free(untagged);
	return r;
}

static const struct account *
config_match_sender(const struct config *cfg, const char *sender,
	config_from_fn *expand, void *ctx)
{
	const struct account *found = NULL;
	size_t i;

	for (i = 0; i < cfg->naccounts && !found; i++) {
		const struct account *a = &cfg->accounts[i];
		char *from;

		if (!a->from)
			continue;
		from = expand ? expand(a, ctx) : xstrdup(a->from);
		if (from && config_sender_matches(from, sender))
			found = a;
		free(from);
	}
	return found;
}

const struct account *
config_choose(const struct config *cfg, const char *name, const char *sender,
	struct error *err)
{
	return config_choose_expanded(cfg, name, sender, NULL, NULL, err);
}

const struct account *
config_choose_expanded(const struct config *cfg, const char *name,
	const char *sender, config_from_fn *expand, void *ctx,
	struct error *err)
{
	const struct account *a;
	char q[CONFIG_QUOTE_MAX];

	if (name) {
		a = config_find(cfg, name);
		if (!a)
			error_set(err, ERR_CONFIG,
				"no account named '%s' in %s",
				config_quote(q, sizeof(q), name), cfg->path);
		return a;
	}
	if (sender && *sender) {
		a = config_match_sender(cfg, sender, expand, ctx);
		if (a)
			return a;
	}
	if (cfg->dflt)
		return cfg->dflt;
	if (sender && *sender)
		error_set(err, ERR_CONFIG,
			"no account chosen: no account's "
			"from matches '%s' and %s has no default account; use "
			"-a NAME or add 'account default : NAME'",
			config_quote(q, sizeof(q), sender), cfg->path);
	else
		error_set(err, ERR_CONFIG,
			"no account chosen: %s has no "
			"default account; use -a NAME or add 'account default "
			": NAME'",
			cfg->path);
	return NULL;
}

int
config_check_account(const struct account *acct, struct error *err)
{
	if (!acct->host) {
		error_set(err, ERR_CONFIG, "account '%s' (%s:%u): no host",
			acct->name, acct->file, acct->line);
		return -1;
	}
	/* GnuTLS needs both halves; one alone would silently send no
	   certificate and fail later as a refused EXTERNAL or handshake. */
	if (!acct->tls_cert_file != !acct->tls_key_file) {
		error_set(err, ERR_CONFIG,
			"account '%s' (%s:%u): '%s' is set without '%s'",
			acct->name, acct->file, acct->line,
			acct->tls_cert_file ? "tls_cert_file" : "tls_key_file",
			acct->tls_cert_file ? "tls_key_file" : "tls_cert_file");
		return -1;
	}
	/* With no check at all the pin would be ignored, and the account
	   would read as pinned while anyone could stand in for the server. */
	if (acct->tls && acct->tls_fingerprint && !acct->tls_certcheck) {
		error_set(err, ERR_CONFIG,
			"account '%s' (%s:%u): 'tls_fingerprint' and "
			"'tls_certcheck off' contradict each other: the pin "
			"is a check; remove one",
			acct->name, acct->file, acct->line);
		return -1;
	}
	return 0;
}

int
config_auth_enabled(const struct account *acct)
{
	if (acct->auth)
		return strcmp(acct->auth, "off") != 0;
	return acct->user != NULL;
}
