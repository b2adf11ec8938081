/*
 * test_config.c - the configuration module: grammar, values, inheritance,
 * every error with its file:line text and class, account choice, the
 * permission rule, the file search order and -C.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "xmalloc.h"

static char tmpdir[] = "/tmp/test_config.XXXXXX";

static int
parse(struct config *cfg, const char *text, struct error *err)
{
	error_clear(err);
	return config_parse(cfg, "t.conf", text, strlen(text), err);
}

/* text must fail with exactly this message, class ERR_CONFIG. */
static void
expect_error(const char *text, const char *want)
{
	struct config cfg;
	struct error err;

	CHECK_INT(parse(&cfg, text, &err), -1);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK_STR(err.text, want);
	CHECK(cfg.naccounts == 0 && cfg.accounts == NULL && cfg.path == NULL);
	config_release(&cfg);
}

static char *
path_in(const char *rel)
{
	size_t n = strlen(tmpdir) + strlen(rel) + 2;
	char *p = xmalloc(n);

	snprintf(p, n, "%s/%s", tmpdir, rel);
	return p;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
		fchmod(fd, mode) < 0) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ---- grammar ------------------------------------------------------------ */

static void
test_grammar_comments_and_spacing(void)
{
	struct config cfg;
	struct error err;
	const struct account *a;

	CHECK_INT(parse(&cfg,
			  "# whole-line comment\n"
			  "\n"
			  "   # indented comment\n"
			  "account  one\n"
			  "\thost\tmail.example\t \n"
			  "from me#1@example.org\n"
			  "\t\n"
			  "domain client.test # not a comment\n",
			  &err),
		-1);
	/* '#' after a value is not a comment: domain gets 3 words, refused */
	CHECK_STR(err.text, "t.conf:8: 'domain' must be one word, not "
			    "'client.test # not a comment'");
	config_release(&cfg);

	CHECK_INT(parse(&cfg,
			  "# c\naccount one\n\thost\tmail.example\t \n"
			  "from me#1@example.org\n",
			  &err),
		0);
	CHECK_INT(cfg.naccounts, 1);
	a = &cfg.accounts[0];
	CHECK_STR(a->name, "one");
	CHECK_STR(a->host, "mail.example");
	/* a '#' inside a value is kept */
	CHECK_STR(a->from, "me#1@example.org");
	CHECK_STR(a->file, "t.conf");
	CHECK_INT(a->line, 2);
	CHECK_STR(cfg.path, "t.conf");
	config_release(&cfg);
}

static void
test_grammar_quoting(void)
{
	struct config cfg;
	struct error err;
	const struct account *a;

	CHECK_INT(
		parse(&cfg,
			"account q\n"
			"password \"  two  spaces \\\"quoted\\\" back\\\\slash "
			"\"\n"
			"user \"a b\"   \n"
			"from \"\"\n"
			"passwordeval pass show \"mail\"\n",
			&err),
		0);
	a = &cfg.accounts[0];
	CHECK_STR(a->password, "  two  spaces \"quoted\" back\\slash ");
	CHECK_STR(a->user, "a b");
	/* "" is the empty value: from stays unset */
	CHECK(a->from == NULL);
	CHECK(a->set & CONFIG_FROM);
	/* quotes not at the start are literal */
	CHECK_STR(a->passwordeval, "pass show \"mail\"");
	config_release(&cfg);
}

static void
test_grammar_long_line_crlf_bom(void)
{
	struct config cfg;
	struct error err;
	size_t n = 150 * 1024, i;
	char *text = xmalloc(n + 64), *p = text;

	p += snprintf(p, 64, "account big\r\npassword ");
	for (i = 0; i < n; i++)
		*p++ = (char)('a' + i % 26);
	memcpy(p, "\r\nhost h\r\n", 11);
	CHECK_INT(parse(&cfg, text, &err), 0);
	CHECK_INT(strlen(cfg.accounts[0].password), n);
	CHECK(cfg.accounts[0].password[n - 1] == (char)('a' + (n - 1) % 26));
	/* CRLF: the CR is not part of the value */
	CHECK_STR(cfg.accounts[0].host, "h");
	config_release(&cfg);
	free(text);

	/* no final newline; a UTF-8 BOM before the first line */
	CHECK_INT(parse(&cfg,
			  "\xef\xbb\xbf"
			  "account x\nhost last",
			  &err),
		0);
	CHECK_STR(cfg.accounts[0].name, "x");
	CHECK_STR(cfg.accounts[0].host, "last");
	config_release(&cfg);

	/* line numbers count CRLF lines */
	expect_error("account a\r\n# c\r\nhots x\r\n",
		"t.conf:3: unknown key 'hots'");
}

/* ---- values ------------------------------------------------------------- */

static void
test_values_defaults(void)
{
	struct config cfg;
	struct error err;
	const struct account *a;

	CHECK_INT(parse(&cfg, "account plain\n", &err), 0);
	a = &cfg.accounts[0];
	CHECK(a->host == NULL && a->from == NULL && a->domain == NULL);
	CHECK_INT(a->port, 0);
	CHECK_INT(a->timeout, CONFIG_TIMEOUT_DEFAULT);
	CHECK_INT(a->timeout, 60);
	CHECK_INT(a->tls, 1);
	CHECK_INT(a->tls_starttls, 1);
	CHECK(a->auth == NULL && a->user == NULL && a->password == NULL);
	CHECK(a->logfile == NULL && a->syslog == NULL);
	CHECK_INT(a->set, 0);
	CHECK(cfg.dflt == NULL);
	config_release(&cfg);
}

static void
test_values_parsed(void)
{
	struct config cfg;
	struct error err;
	const struct account *a;

	setenv("HOME", "/home/u", 1);
	CHECK_INT(parse(&cfg,
			  "account v\nport 25\ntimeout 5\ntls off\n"
			  "tls_starttls off\nauth plain\nsyslog log_local3\n"
			  "logfile ~/mail.log\ndomain client.test\n",
			  &err),
		0);
	a = &cfg.accounts[0];
	CHECK_INT(a->port, 25);
	CHECK_INT(a->timeout, 5);
	CHECK_INT(a->tls, 0);
	CHECK_INT(a->tls_starttls, 0);
	CHECK_STR(a->auth, "PLAIN");
	CHECK_STR(a->syslog, "LOG_LOCAL3");
	CHECK_STR(a->logfile, "/home/u/mail.log");
	CHECK_STR(a->domain, "client.test");
	CHECK_INT(a->set, CONFIG_PORT | CONFIG_TIMEOUT | CONFIG_TLS |
				  CONFIG_TLS_STARTTLS | CONFIG_AUTH |
				  CONFIG_SYSLOG | CONFIG_LOGFILE |
				  CONFIG_DOMAIN);
	config_release(&cfg);

	CHECK_INT(parse(&cfg,
			  "account w\nport 65535\ntimeout off\ntls on\n"
			  "auth off\nsyslog on\nlogfile -\n"
			  "account x\nport 1\nsyslog off\nauth on\n",
			  &err),
		0);
	CHECK_INT(cfg.accounts[0].port, 65535);
	CHECK_INT(cfg.accounts[0].timeout, 60);
	CHECK_INT(cfg.accounts[0].tls, 1);
	CHECK_STR(cfg.accounts[0].auth, "off");
	CHECK_STR(cfg.accounts[0].syslog, "on");
	CHECK_STR(cfg.accounts[0].logfile, "-");
	CHECK_INT(cfg.accounts[1].port, 1);
	CHECK(cfg.accounts[1].syslog == NULL);
	CHECK_STR(cfg.accounts[1].auth, "on");
	config_release(&cfg);
}

/* The TLS keys and auth_plaintext: defaults, values, inheritance. */
static void
test_values_tls(void)
{
	struct config cfg;
	struct error err;
	const struct account *a;

	CHECK_INT(parse(&cfg, "account d\n", &err), 0);
	a = &cfg.accounts[0];
	CHECK_INT(a->tls_certcheck, 1);
	CHECK_INT(a->tls_resume, 1);
	CHECK_INT(a->auth_plaintext, 0);
	CHECK(a->tls_trust_file == NULL && a->tls_fingerprint == NULL &&
		a->tls_host_override == NULL && a->tls_priorities == NULL &&
		a->tls_cert_file == NULL && a->tls_key_file == NULL);
	config_release(&cfg);

	setenv("HOME", "/home/u", 1);
	CHECK_INT(parse(&cfg,
			  "defaults\ntls_trust_file ~/ca.pem\n"
			  "tls_certcheck off\nauth_plaintext on\n"
			  "account v\ntls_host_override mail.example\n"
			  "tls_priorities \"NORMAL:-VERS-TLS1.2\"\n"
			  "tls_cert_file /c.pem\ntls_key_file ~/k.pem\n"
			  "tls_resume off\n"
			  "account w : v\ntls_trust_file system\n"
			  "tls_certcheck on\nauth_plaintext off\n",
			  &err),
		0);
	a = &cfg.accounts[0];
	CHECK_STR(a->tls_trust_file, "/home/u/ca.pem");
	CHECK_INT(a->tls_certcheck, 0);
	CHECK_INT(a->auth_plaintext, 1);
	CHECK_STR(a->tls_host_override, "mail.example");
	CHECK_STR(a->tls_priorities, "NORMAL:-VERS-TLS1.2");
	CHECK_STR(a->tls_cert_file, "/c.pem");
	CHECK_STR(a->tls_key_file, "/home/u/k.pem");
	CHECK_INT(a->tls_resume, 0);
	CHECK_INT(a->set, CONFIG_TLS_TRUST_FILE | CONFIG_TLS_CERTCHECK |
				  CONFIG_AUTH_PLAINTEXT |
				  CONFIG_TLS_HOST_OVERRIDE |
				  CONFIG_TLS_PRIORITIES | CONFIG_TLS_CERT_FILE |
				  CONFIG_TLS_KEY_FILE | CONFIG_TLS_RESUME);
	/* "system" is the default store: the inherited file is unset */
	a = &cfg.accounts[1];
	CHECK(a->tls_trust_file == NULL);
	CHECK_INT(a->tls_certcheck, 1);
	CHECK_INT(a->auth_plaintext, 0);
	CHECK_STR(a->tls_cert_file, "/c.pem");
	CHECK_INT(a->tls_resume, 0); /* inherited */
	config_release(&cfg);

	expect_error("account a\ntls_certcheck no\n",
		"t.conf:2: 'tls_certcheck' must be 'on' or 'off', not 'no'");
	expect_error("account a\nauth_plaintext\n",
		"t.conf:2: 'auth_plaintext' needs a value");
	expect_error("account a\ntls_host_override a b\n",
		"t.conf:2: 'tls_host_override' must be one word, not 'a b'");
}

static const char fp256[] = "9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:"
			    "A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08";

static const char *
fingerprint(const char *value)
{
	static char out[ERROR_TEXT_MAX];
	struct config cfg;
	struct error err;
	char text[512];

	snprintf(text, sizeof(text), "account a\ntls_fingerprint %s\n", value);
	if (parse(&cfg, text, &err) < 0)
		snprintf(out, sizeof(out), "%s", err.text);
	else
		snprintf(out, sizeof(out), "%s",
			cfg.accounts[0].tls_fingerprint
				? cfg.accounts[0].tls_fingerprint
				: "(unset)");
	config_release(&cfg);
	return out;
}

/* tls_fingerprint: SHA-256 or SHA-1, colons optional, stored as AB:CD:.. */
static void
test_values_fingerprint(void)
{
	const char *bad = "t.conf:2: 'tls_fingerprint' must be a SHA-256 "
			  "(32 bytes) or SHA-1 (20 bytes) fingerprint in "
			  "hex, as AB:CD:.. or ABCD.., not '";
	char want[512];

	/* kept as written: the TLS module reads every accepted form */
	static const char *const right[] = {
		fp256,
		"9f86d081884c7d659a2feaa0c55ad015"
		"a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"9f:86:d0:81:88:4c:7d:65:9a:2f:ea:a0:c5:5a:d0:15:"
		"a3:bf:4f:1b:2b:0b:82:2c:d1:5d:6c:15:b0:f0:0a:08",
		/* SHA-1: accepted here; the warning is the TLS module's */
		"A94A8FE5CCB19BA61C4C0873D391E987982FBBD3",
	};
	for (size_t i = 0; i < sizeof(right) / sizeof(right[0]); i++)
		CHECK_STR(fingerprint(right[i]), right[i]);
	CHECK_STR(fingerprint("\"\""), "(unset)");
	/* MD5 (16 bytes), one byte short, odd digits, stray or missing
	   colons, non-hex: all refused with the value quoted */
	static const char *const wrong[] = {
		"d41d8cd98f00b204e9800998ecf8427e",
		"9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:"
		"A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a"
		"0",
		"9F:86D0",
		"9F:86:",
		":9F:86",
		"9F::86",
		"A94A8FE5CCB19BA61C4C0873D391E987982FBBDX",
		"sha256",
	};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		snprintf(want, sizeof(want), "%s%s'", bad, wrong[i]);
		CHECK_STR(fingerprint(wrong[i]), want);
	}
}

/* ---- inheritance -------------------------------------------------------- */

static void
test_inheritance(void)
{
	struct config cfg;
	struct error err;
	const struct account *a, *b, *c, *d;

	CHECK_INT(parse(&cfg,
			  "account early\nhost e\n"
			  "defaults\nport 2525\ntls off\ndomain d.test\n"
			  "account a\nhost ha\nfrom a@x\ntimeout 7\n"
			  "account b\nhost hb\nport 26\nuser ub\n"
			  "defaults\ntimeout 9\n"
			  "account c : a, b\nfrom c@x\n"
			  "account d : b,a\n"
			  "account default : a\n",
			  &err),
		0);
	CHECK_INT(cfg.naccounts, 6);
	/* defaults apply only to accounts defined after them */
	CHECK_INT(cfg.accounts[0].port, 0);
	CHECK_INT(cfg.accounts[0].tls, 1);
	a = &cfg.accounts[1];
	CHECK_INT(a->port, 2525);
	CHECK_INT(a->tls, 0);
	CHECK_STR(a->domain, "d.test");
	CHECK_INT(a->timeout, 7);
	b = &cfg.accounts[2];
	CHECK_INT(b->port, 26);
	CHECK_INT(b->timeout, 60);
	/* c: defaults (timeout 9), then a, then b, then its own lines */
	c = &cfg.accounts[3];
	CHECK_STR(c->host, "hb");
	CHECK_INT(c->port, 26);
	CHECK_STR(c->user, "ub");
	CHECK_INT(c->timeout, 7);
	CHECK_STR(c->from, "c@x");
	CHECK_STR(c->domain, "d.test");
	/* d: b then a, so a's host and from win */
	d = &cfg.accounts[4];
	CHECK_STR(d->host, "ha");
	CHECK_STR(d->from, "a@x");
	CHECK_INT(d->port, 2525);
	CHECK_STR(d->user, "ub");
	config_release(&cfg);
}

static void
test_inheritance_default_and_unset(void)
{
	struct config cfg;
	struct error err;

	/* "account default : NAME" makes the default, inheriting NAME */
	CHECK_INT(parse(&cfg,
			  "account work\nhost w\nfrom me@work\n"
			  "account default : work\nport 587\n",
			  &err),
		0);
	CHECK(cfg.dflt == &cfg.accounts[1]);
	CHECK_STR(cfg.dflt->name, "default");
	CHECK_STR(cfg.dflt->host, "w");
	CHECK_INT(cfg.dflt->port, 587);
	CHECK_INT(cfg.accounts[0].port, 0);
	config_release(&cfg);

	/* an account literally named "default" is the default */
	CHECK_INT(parse(&cfg, "account x\naccount default\nhost h\n", &err), 0);
	CHECK_STR(cfg.dflt->host, "h");
	config_release(&cfg);

	/* an empty value unsets an inherited one */
	CHECK_INT(parse(&cfg,
			  "defaults\nuser u\nfrom f@x\n"
			  "account a\nuser\nfrom \"\"\n",
			  &err),
		0);
	CHECK(cfg.accounts[0].user == NULL && cfg.accounts[0].from == NULL);
	config_release(&cfg);
}

/* ---- errors: every one with file:line and class ERR_CONFIG -------------- */

/* msmtp keys not implemented yet are refused by name, never ignored. */
static void
test_errors_unsupported(void)
{
	static const char *const unsupported[] = {
		"tls_nocertcheck",
		"tls_min_dh_prime_bits",
		"tls_crl_file",
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
	char text[128], want[128];
	size_t i;

	for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		snprintf(
			text, sizeof(text), "defaults\n%s x\n", unsupported[i]);
		snprintf(want, sizeof(want),
			"t.conf:2: '%s' is not supported yet", unsupported[i]);
		expect_error(text, want);
	}
}

/* Issue 4's keys: what an account has when the file says nothing. */
static void
test_repair_defaults(void)
{
	struct config cfg;
	struct error err;
	const struct account *a;

	CHECK_INT(parse(&cfg, "account plain\n", &err), 0);
	a = &cfg.accounts[0];
	CHECK(a->aliases == NULL && a->maildomain == NULL);
	CHECK(a->from_full_name == NULL);
	CHECK(a->dsn_notify == NULL && a->dsn_return == NULL);
	CHECK_INT(a->set_from_header, CONFIG_MODE_AUTO);
	CHECK_INT(a->set_date_header, CONFIG_MODE_AUTO);
	CHECK_INT(a->set_msgid_header, CONFIG_MODE_AUTO);
	CHECK_INT(a->set_to_header, CONFIG_MODE_AUTO);
	/* Bcc removal is the default for every message, not only -t */
	CHECK_INT(a->remove_bcc_headers, 1);
	CHECK_INT(a->undisclosed_recipients, 0);
	CHECK_INT(a->allow_from_override, 1);
	config_release(&cfg);
}

/* Every value each key takes, stored as main reads it. */
static void
test_repair_values(void)
{
	struct config cfg;
	struct error err;
	const struct account *a;
	char *aliases;

	setenv("HOME", "/home/u", 1);
	CHECK_INT(parse(&cfg,
			  "account x\n"
			  "aliases ~/aliases\n"
			  "maildomain example.org\n"
			  "from_full_name \"Host Alerts\"\n"
			  "set_from_header on\n"
			  "set_date_header off\n"
			  "set_msgid_header off\n"
			  "set_to_header off\n"
			  "remove_bcc_headers off\n"
			  "undisclosed_recipients on\n"
			  "allow_from_override off\n"
			  "dsn_notify Success,DELAY\n"
			  "dsn_return HDRS\n",
			  &err),
		0);
	a = &cfg.accounts[0];
	aliases = a->aliases;
	CHECK_STR(aliases, "/home/u/aliases");
	CHECK_STR(a->maildomain, "example.org");
	CHECK_STR(a->from_full_name, "Host Alerts");
	CHECK_INT(a->set_from_header, CONFIG_MODE_ON);
	CHECK_INT(a->set_date_header, CONFIG_MODE_OFF);
	CHECK_INT(a->set_msgid_header, CONFIG_MODE_OFF);
	CHECK_INT(a->set_to_header, CONFIG_MODE_OFF);
	CHECK_INT(a->remove_bcc_headers, 0);
	CHECK_INT(a->undisclosed_recipients, 1);
	CHECK_INT(a->allow_from_override, 0);
	/* kept as written: the engine upper-cases on the wire */
	CHECK_STR(a->dsn_notify, "Success,DELAY");
	CHECK_STR(a->dsn_return, "HDRS");
	CHECK(a->set & CONFIG_DSN_RETURN);
	CHECK(a->set & CONFIG_ALIASES);
	config_release(&cfg);

	/* auto and off; "off" and empty unset the DSN keys */
	CHECK_INT(parse(&cfg,
			  "account x\n"
			  "set_from_header off\n"
			  "set_from_header auto\n"
			  "dsn_notify never\n"
			  "dsn_notify off\n"
			  "dsn_return full\n"
			  "dsn_return\n",
			  &err),
		0);
	a = &cfg.accounts[0];
	CHECK_INT(a->set_from_header, CONFIG_MODE_AUTO);
	CHECK(a->dsn_notify == NULL && a->dsn_return == NULL);
	config_release(&cfg);
}

/* the queue keys: defaults, units, inheritance, errors */
static void
test_queue_keys(void)
{
	static const char *const bad[] = {"0", "5x", "d", "366d", "-1", "1.5h",
		"99999999999999999999", "53w"};
	struct config cfg;
	struct error err;
	const struct account *a;
	char text[128];

	setenv("HOME", "/home/u", 1);
	CHECK_INT(parse(&cfg, "account x\nhost h\n", &err), 0);
	a = &cfg.accounts[0];
	CHECK_INT(a->queue, 1);
	CHECK(a->queue_dir == NULL);
	CHECK_INT(a->queue_lifetime, 5 * 86400);
	config_release(&cfg);

	CHECK_INT(parse(&cfg,
			  "defaults\n"
			  "queue off\n"
			  "queue_dir ~/spool/%U\n"
			  "queue_lifetime 2h\n"
			  "account a\n"
			  "account b\n"
			  "queue on\n"
			  "queue_lifetime 90\n"
			  "account c : b\n"
			  "queue_lifetime 1w\n",
			  &err),
		0);
	a = &cfg.accounts[0];
	CHECK_INT(a->queue, 0);
	CHECK_STR(a->queue_dir, "/home/u/spool/%U");
	CHECK_INT(a->queue_lifetime, 7200);
	CHECK_INT(cfg.accounts[1].queue, 1);
	CHECK_INT(cfg.accounts[1].queue_lifetime, 90);
	CHECK_INT(cfg.accounts[2].queue, 1);
	CHECK_INT(cfg.accounts[2].queue_lifetime, 7 * 86400);
	CHECK_STR(cfg.accounts[2].queue_dir, "/home/u/spool/%U");
	config_release(&cfg);

	CHECK_INT(parse(&cfg, "account x\nqueue_lifetime 30m\n", &err), 0);
	CHECK_INT(cfg.accounts[0].queue_lifetime, 1800);
	config_release(&cfg);
	CHECK_INT(parse(&cfg, "account x\nqueue_lifetime 365d\n", &err), 0);
	CHECK_INT(cfg.accounts[0].queue_lifetime, 365 * 86400);
	config_release(&cfg);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "account x\nqueue_lifetime %s\n",
			bad[i]);
		CHECK_INT(parse(&cfg, text, &err), -1);
		CHECK_INT(err.cls, ERR_CONFIG);
		CHECK(strstr(err.text, "'queue_lifetime' must be") != NULL);
	}
	CHECK_INT(parse(&cfg, "account x\nqueue maybe\n", &err), -1);
	CHECK(strstr(err.text, "'queue' must be 'on' or 'off'") != NULL);
}

/* defaults and parents pass the new keys on, the 64-bit set included */
static void
test_repair_inheritance(void)
{
	struct config cfg;
	struct error err;
	const struct account *a;

	CHECK_INT(parse(&cfg,
			  "defaults\n"
			  "set_date_header off\n"
			  "account base\n"
			  "maildomain base.example\n"
			  "dsn_return full\n"
			  "allow_from_override off\n"
			  "set_from_header on\n"
			  "account child : base\n"
			  "set_from_header auto\n",
			  &err),
		0);
	a = &cfg.accounts[1];
	CHECK_STR(a->name, "child");
	CHECK_INT(a->set_date_header, CONFIG_MODE_OFF);
	CHECK_STR(a->maildomain, "base.example");
	CHECK_STR(a->dsn_return, "full");
	CHECK_INT(a->allow_from_override, 0);
	CHECK_INT(a->set_from_header, CONFIG_MODE_AUTO);
	CHECK((a->set & CONFIG_DSN_RETURN) && (a->set & CONFIG_MAILDOMAIN));
	config_release(&cfg);
}

/* msmtp's older names: add_missing_*_header on = set_*_header auto;
   keepbcc on = remove_bcc_headers off. */
static void
test_repair_old_keys(void)
{
	struct config cfg;
	struct error err;
	const struct account *a;

	CHECK_INT(parse(&cfg,
			  "account x\n"
			  "set_from_header on\n"
			  "add_missing_from_header on\n"
			  "add_missing_date_header off\n"
			  "keepbcc on\n",
			  &err),
		0);
	a = &cfg.accounts[0];
	CHECK_INT(a->set_from_header, CONFIG_MODE_AUTO);
	CHECK_INT(a->set_date_header, CONFIG_MODE_OFF);
	CHECK_INT(a->remove_bcc_headers, 0);
	CHECK(a->set & CONFIG_SET_FROM_HEADER);
	config_release(&cfg);
	expect_error("account x\nkeepbcc yes\n",
		"t.conf:2: 'keepbcc' must be 'on' or 'off', not 'yes'");
	expect_error("add_missing_from_header on\n",
		"t.conf:1: 'set_from_header' before any 'account' or "
		"'defaults' line");
}

/* A typo is found when the file is read, with the accepted values. */
static void
test_repair_errors(void)
{
	expect_error("account x\nset_from_header yes\n",
		"t.conf:2: 'set_from_header' must be 'auto', 'on' or 'off', "
		"not 'yes'");
	/* "on" exists only where it means something: auto|off keys */
	expect_error("account x\nset_date_header on\n",
		"t.conf:2: 'set_date_header' must be 'auto' or 'off', not "
		"'on'");
	expect_error("account x\nset_msgid_header\n",
		"t.conf:2: 'set_msgid_header' needs a value");
	expect_error("account x\nset_to_header Auto\n",
		"t.conf:2: 'set_to_header' must be 'auto' or 'off', not "
		"'Auto'");
	expect_error("account x\nremove_bcc_headers auto\n",
		"t.conf:2: 'remove_bcc_headers' must be 'on' or 'off', not "
		"'auto'");
	/* the EHLO name: a host name or an address literal, nothing a
	   server could read as a parameter or a second command */
	{
		struct config cfg;
		struct error err;

		/* a U-label EHLO name is kept as its A-label; '_' and a
		   literal pass */
		CHECK_INT(parse(&cfg,
				  "account a\nhost h\ndomain b\xc3\xbc"
				  "cher.example\n"
				  "account b\nhost h\ndomain my_host.lan\n"
				  "account c\nhost h\ndomain [IPv6:::1]\n",
				  &err),
			0);
		CHECK_STR(cfg.accounts[0].domain, "xn--bcher-kva.example");
		CHECK_STR(cfg.accounts[1].domain, "my_host.lan");
		CHECK_STR(cfg.accounts[2].domain, "[IPv6:::1]");
		config_release(&cfg);
	}
	expect_error("account x\ndomain cli<ent>.test\n",
		"t.conf:2: 'domain' must be a host name or an address literal "
		"([192.0.2.1]), not 'cli<ent>.test'");
	expect_error("account x\ndomain \"a\\\\r\\\\nRSET\"\n",
		"t.conf:2: 'domain' must be a host name or an address literal "
		"([192.0.2.1]), not 'a\\\\r\\\\nRSET'");
	expect_error("account x\ndomain [192.0.2.1\n",
		"t.conf:2: 'domain' must be a host name or an address literal "
		"([192.0.2.1]), not '[192.0.2.1'");
	expect_error("account x\ndomain \xff.example\n",
		"t.conf:2: 'domain' must be a host name or an address literal "
		"([192.0.2.1]), not '\\xff.example'");
	expect_error("account x\ndomain \"a b\"\n",
		"t.conf:2: 'domain' must be one word, not 'a b'");
	expect_error("account x\nmaildomain example .org\n",
		"t.conf:2: 'maildomain' must be one word, not 'example .org'");
	expect_error("account x\ndsn_notify sucess\n",
		"t.conf:2: 'dsn_notify': 'sucess' is not one of never, "
		"success, failure, delay");
	expect_error("account x\ndsn_notify never,failure\n",
		"t.conf:2: 'dsn_notify': give never alone, or any of success, "
		"failure, delay");
	expect_error("account x\ndsn_notify success,,\n",
		"t.conf:2: 'dsn_notify': '' is not one of never, success, "
		"failure, delay");
	expect_error("account x\ndsn_return headers\n",
		"t.conf:2: 'dsn_return': must be full or hdrs, not 'headers'");
}

/* The same checks serve -N and -R (main prefixes the flag). */
static void
test_check_dsn(void)
{
	struct error err;

	error_clear(&err);
	CHECK_INT(config_check_notify("never", &err), 0);
	CHECK_INT(config_check_notify("SUCCESS,failure,Delay", &err), 0);
	CHECK_INT(config_check_notify("delay", &err), 0);
	CHECK_INT(config_check_notify("", &err), -1);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK_STR(err.text,
		"give never alone, or any of success, failure, delay");
	CHECK_INT(config_check_notify("never,never", &err), -1);
	CHECK_INT(config_check_notify("success delay", &err), -1);
	CHECK_STR(err.text, "'success delay' is not one of never, success, "
			    "failure, delay");
	CHECK_INT(config_check_return("Full", &err), 0);
	CHECK_INT(config_check_return("hdrs", &err), 0);
	CHECK_INT(config_check_return("none", &err), -1);
	CHECK_STR(err.text, "must be full or hdrs, not 'none'");
}

static void
test_errors_keys(void)
{
	expect_error("account a\n\nhots x\n", "t.conf:3: unknown key 'hots'");
	expect_error("account a\nHost x\n", "t.conf:2: unknown key 'Host'");
	expect_error("account a\nkey\x01x y\n",
		"t.conf:2: control character \\x01 in the line");
	expect_error("account a\nhost a\x7f\n",
		"t.conf:2: control character \\x7f in the line");
	expect_error("account a\nhost a\rb\n",
		"t.conf:2: control character \\x0d in the line");
	/* a NUL would silently cut a value short */
	{
		static const char nul[] = "account a\nhost a\0b\n";
		struct config cfg;
		struct error err;

		CHECK_INT(config_parse(
				  &cfg, "t.conf", nul, sizeof(nul) - 1, &err),
			-1);
		CHECK_STR(err.text, "t.conf:2: control character \\x00 in "
				    "the line");
	}
	expect_error("host x\n",
		"t.conf:1: 'host' before any 'account' or 'defaults' line");
	expect_error("defaults x\n", "t.conf:1: 'defaults' takes no value");
}

static void
test_errors_values(void)
{
	expect_error("account a\nport 0\n",
		"t.conf:2: 'port' must be a number from 1 to 65535, not '0'");
	expect_error("account a\nport 65536\n",
		"t.conf:2: 'port' must be a number from 1 to 65535, not "
		"'65536'");
	expect_error("account a\nport +25\n",
		"t.conf:2: 'port' must be a number from 1 to 65535, not '+25'");
	expect_error("account a\nport 25x\n",
		"t.conf:2: 'port' must be a number from 1 to 65535, not '25x'");
	expect_error("account a\nport smtp\n",
		"t.conf:2: 'port' must be a number from 1 to 65535, not "
		"'smtp'");
	expect_error("account a\nport\n", "t.conf:2: 'port' needs a value");
	expect_error("account a\ntimeout 0\n",
		"t.conf:2: 'timeout' must be a number of seconds from 1 to "
		"86400, or 'off', not '0'");
	expect_error("account a\ntimeout 1m\n",
		"t.conf:2: 'timeout' must be a number of seconds from 1 to "
		"86400, or 'off', not '1m'");
	expect_error("account a\ntls yes\n",
		"t.conf:2: 'tls' must be 'on' or 'off', not 'yes'");
	expect_error("account a\ntls_starttls ON\n",
		"t.conf:2: 'tls_starttls' must be 'on' or 'off', not 'ON'");
	expect_error("account a\ntls\n", "t.conf:2: 'tls' needs a value");
	expect_error("account a\nauth pl@in\n",
		"t.conf:2: 'auth' must be 'on', 'off' or a SASL mechanism "
		"name, "
		"not 'pl@in'");
	expect_error("account a\nauth\n", "t.conf:2: 'auth' needs a value");
	expect_error("account a\nsyslog LOG_KERN\n",
		"t.conf:2: 'syslog' must be 'on', 'off' or a facility "
		"(LOG_USER, "
		"LOG_MAIL, LOG_LOCAL0 to LOG_LOCAL7), not 'LOG_KERN'");
	expect_error("account a\nhost\n", "t.conf:2: 'host' needs a value");
	expect_error(
		"account a\nhost \"\"\n", "t.conf:2: 'host' needs a value");
	expect_error("account a\nhost mail example\n",
		"t.conf:2: 'host' must be one word, not 'mail example'");
}

static void
test_errors_quoting(void)
{
	expect_error(
		"account a\nuser \"abc\n", "t.conf:2: missing closing quote");
	expect_error("account a\nuser \"abc\\\"\n",
		"t.conf:2: missing closing quote");
	expect_error("account a\nuser \"abc\" d\n",
		"t.conf:2: text after the closing quote");
	expect_error("account a\nuser \"a\\nb\"\n",
		"t.conf:2: unknown escape in a quoted value (only \\\" "
		"and \\\\ "
		"are allowed)");
}

static void
test_errors_accounts(void)
{
	expect_error("account a\naccount b\n\naccount a\n",
		"t.conf:4: account 'a' is already defined on line 1");
	expect_error("account a : nope\n",
		"t.conf:1: account 'a' inherits from 'nope', which is not "
		"defined above it");
	expect_error("account a : a\n",
		"t.conf:1: account 'a' inherits from 'a', which is not defined "
		"above it");
	/* a parent must be defined before the child */
	expect_error("account a : b\naccount b\n",
		"t.conf:1: account 'a' inherits from 'b', which is not defined "
		"above it");
	expect_error("account\n", "t.conf:1: 'account' needs a name");
	expect_error("account :x\n", "t.conf:1: 'account' needs a name");
	expect_error("account a b\n", "t.conf:1: account 'a': expected ':' "
				      "before the parent accounts");
	expect_error("account b\naccount a :\n",
		"t.conf:2: account 'a': missing parent account name after ':'");
	expect_error("account b\naccount a : b,\n",
		"t.conf:2: account 'a': missing parent account name after ','");
	expect_error("account b\naccount c\naccount a : b c\n",
		"t.conf:3: account 'a': expected ',' between parent accounts");
	expect_error("account default : x\n",
		"t.conf:1: account 'default' inherits from 'x', which is not "
		"defined above it");
}

/* ---- account choice ----------------------------------------------------- */

static const char choice_conf[] =
	"account work\nhost w\nfrom Jane.Doe@Work.example\n"
	"account lists\nhost l\nfrom *@lists.example\n"
	"account q\nhost q\nfrom a?c@q.example\n"
	"account nofrom\nhost n\n"
	"account also\nhost a2\nfrom jane.doe@work.example\n";

static const char *
choose(const struct config *cfg, const char *name, const char *sender)
{
	static struct error err;
	const struct account *a;

	error_clear(&err);
	a = config_choose(cfg, name, sender, &err);
	return a ? a->name : err.text;
}

static void
test_choice(void)
{
	struct config cfg;
	struct error err;

	CHECK_INT(parse(&cfg, choice_conf, &err), 0);
	/* -a wins over the sender */
	CHECK_STR(choose(&cfg, "nofrom", "jane.doe@work.example"), "nofrom");
	CHECK_STR(choose(&cfg, "none", NULL),
		"no account named 'none' in t.conf");
	CHECK_STR(choose(&cfg, "Work", NULL),
		"no account named 'Work' in t.conf");
	/* exact, case-insensitive; the first match wins */
	CHECK_STR(choose(&cfg, NULL, "jane.doe@work.example"), "work");
	CHECK_STR(choose(&cfg, NULL, "JANE.DOE@WORK.EXAMPLE"), "work");
	/* +tag */
	CHECK_STR(choose(&cfg, NULL, "jane.doe+git@work.example"), "work");
	CHECK_STR(choose(&cfg, NULL, "jane.doe+a+b@work.example"), "work");
	/* glob with * and ? */
	CHECK_STR(choose(&cfg, NULL, "anyone@lists.example"), "lists");
	CHECK_STR(choose(&cfg, NULL, "x@LISTS.example"), "lists");
	CHECK_STR(choose(&cfg, NULL, "abc@q.example"), "q");
	CHECK_STR(choose(&cfg, NULL, "abc+z@q.example"), "q");
	/* '?' is one character, not zero or two */
	CHECK_STR(choose(&cfg, NULL, "ac@q.example"),
		"no account chosen: no account's from matches 'ac@q.example' "
		"and t.conf has no default account; use -a NAME or add "
		"'account default : NAME'");
	CHECK_STR(choose(&cfg, NULL, "abbc@q.example"),
		"no account chosen: no account's from matches 'abbc@q.example' "
		"and t.conf has no default account; use -a NAME or add "
		"'account default : NAME'");
	/* no partial matches */
	CHECK_STR(choose(&cfg, NULL, "jane.doe@work.example.org"),
		"no account chosen: no account's from matches "
		"'jane.doe@work.example.org' and t.conf has no default "
		"account; "
		"use -a NAME or add 'account default : NAME'");
	CHECK_STR(choose(&cfg, NULL, NULL),
		"no account chosen: t.conf has no default account; use -a NAME "
		"or add 'account default : NAME'");
	CHECK_STR(choose(&cfg, NULL, ""),
		"no account chosen: t.conf has no default account; use -a NAME "
		"or add 'account default : NAME'");
	config_release(&cfg);
}

/* The caller's expansion for the test: "%D" stands for "example.org",
   and an account named "hidden" matches nothing (NULL). */
static char *
expand_test(const struct account *acct, void *ctx)
{
	const char *from = acct->from, *p = strstr(from, "%D");
	size_t n;
	char *out;

	(*(int *)ctx)++;
	if (strcmp(acct->name, "hidden") == 0)
		return NULL;
	if (!p)
		return xstrdup(from);
	n = strlen(from) + strlen("example.org");
	out = xmalloc(n);
	snprintf(out, n, "%.*sexample.org%s", (int)(p - from), from, p + 2);
	return out;
}

/* Choice by sender sees the froms as the caller expands them (msmtp
   matches "%U@example.org" literally, so it never matches). */
static void
test_choice_expanded(void)
{
	static const char conf[] = "account hidden\n"
				   "from ann@example.org\n"
				   "account pct\n"
				   "from ann@%D\n"
				   "account glob\n"
				   "from *@lists.%D\n";
	struct config cfg;
	struct error err;
	const struct account *a;
	int calls = 0;

	CHECK_INT(parse(&cfg, conf, &err), 0);
	a = config_choose_expanded(
		&cfg, NULL, "Ann@Example.org", expand_test, &calls, &err);
	CHECK(a && strcmp(a->name, "pct") == 0);
	CHECK(calls >= 2);
	a = config_choose_expanded(
		&cfg, NULL, "ann+x@example.org", expand_test, &calls, &err);
	CHECK(a && strcmp(a->name, "pct") == 0);
	a = config_choose_expanded(
		&cfg, NULL, "b@lists.example.org", expand_test, &calls, &err);
	CHECK(a && strcmp(a->name, "glob") == 0);
	/* without the expansion the literal "%D" matches nothing */
	CHECK_STR(choose(&cfg, NULL, "ann@example.org"), "hidden");
	error_clear(&err);
	CHECK(config_choose_expanded(&cfg, NULL, "b@lists.example.org", NULL,
		      NULL, &err) == NULL);
	/* -a still wins, and the callback is not needed for it */
	calls = 0;
	a = config_choose_expanded(
		&cfg, "hidden", "ann@example.org", expand_test, &calls, &err);
	CHECK(a && strcmp(a->name, "hidden") == 0);
	CHECK_INT(calls, 0);
	config_release(&cfg);
}

/* allow_from_override off compares as the choice does. */
static void
test_sender_matches(void)
{
	CHECK(config_sender_matches("ann@example.org", "ANN@example.ORG"));
	CHECK(config_sender_matches("ann@example.org", "ann+git@example.org"));
	CHECK(config_sender_matches("*@example.org", "bob@example.org"));
	CHECK(!config_sender_matches("ann@example.org", "ann@example.net"));
	CHECK(!config_sender_matches("ann@example.org", "bob@example.org"));
	CHECK(!config_sender_matches("ann@example.org", ""));
	CHECK(!config_sender_matches("*@example.org", "bob@example.org.x"));
}

static void
test_choice_default(void)
{
	char text[sizeof(choice_conf) + 40];
	struct config cfg;
	struct error err;

	/* with a default: unmatched senders and the null sender get it */
	snprintf(text, sizeof(text), "%saccount default : nofrom\n",
		choice_conf);
	CHECK_INT(parse(&cfg, text, &err), 0);
	CHECK_STR(choose(&cfg, NULL, "other@else.example"), "default");
	CHECK_STR(choose(&cfg, NULL, ""), "default");
	CHECK_STR(choose(&cfg, NULL, NULL), "default");
	CHECK_STR(choose(&cfg, NULL, "x@lists.example"), "lists");
	CHECK_STR(choose(&cfg, "default", "x@lists.example"), "default");
	config_release(&cfg);

	/* a failed lookup sets ERR_CONFIG */
	CHECK_INT(parse(&cfg, "account a\n", &err), 0);
	CHECK(config_choose(&cfg, NULL, "x@y", &err) == NULL);
	CHECK_INT(err.cls, ERR_CONFIG);
	config_release(&cfg);
}

/* ---- config_check_account ----------------------------------------------- */

static const char *
check_account(const char *text)
{
	static char out[ERROR_TEXT_MAX + 16];
	struct config cfg;
	struct error err;

	if (parse(&cfg, text, &err) < 0)
		return "parse failed";
	error_clear(&err);
	if (config_check_account(&cfg.accounts[0], &err) == 0)
		snprintf(out, sizeof(out), "ok");
	else
		snprintf(out, sizeof(out), "%d %s", log_exit_code(err.cls),
			err.text);
	config_release(&cfg);
	return out;
}

static void
test_check_account(void)
{
	CHECK_STR(check_account("account a\nhost h\ntls off\n"), "ok");
	CHECK_STR(check_account("\naccount a\ntls off\n"),
		"78 account 'a' (t.conf:2): no host");
	/* TLS and AUTH settings are no longer refused */
	CHECK_STR(check_account("account a\nhost h\n"), "ok");
	CHECK_STR(check_account("account a\nhost h\nuser u\npassword p\n"
				"auth login\n"),
		"ok");
	CHECK_STR(check_account("account a\nhost h\ntls off\nauth on\n"), "ok");
	/* a client certificate needs its key, and the key its certificate */
	CHECK_STR(check_account("account a\nhost h\ntls_cert_file c.pem\n"
				"tls_key_file k.pem\n"),
		"ok");
	CHECK_STR(check_account("account a\nhost h\ntls_cert_file c.pem\n"),
		"78 account 'a' (t.conf:1): 'tls_cert_file' is set without "
		"'tls_key_file'");
	CHECK_STR(check_account("account a\nhost h\ntls_key_file k.pem\n"),
		"78 account 'a' (t.conf:1): 'tls_key_file' is set without "
		"'tls_cert_file'");
	/* a pin is a check: with tls_certcheck off it would be ignored
	   silently, so the two together are refused, inherited or not */
	CHECK_STR(check_account("defaults\ntls_certcheck off\naccount a\n"
				"host h\ntls_fingerprint "
				"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:"
				"89:AB:CD:EF:01\n"),
		"78 account 'a' (t.conf:3): 'tls_fingerprint' and "
		"'tls_certcheck off' contradict each other: the pin is a "
		"check; remove one");
	CHECK_STR(check_account("account a\nhost h\ntls_certcheck off\n"
				"tls_trust_file /ca.pem\n"),
		"ok");
	CHECK_STR(check_account("account a\nhost h\ntls off\n"
				"tls_certcheck off\ntls_fingerprint "
				"A94A8FE5CCB19BA61C4C0873D391E987982FBBD3\n"),
		"ok");
}

/* Whether an account authenticates: user set (auth not off), or auth
   asked for by "on" or a mechanism. */
static int
auth_enabled(const char *text)
{
	struct config cfg;
	struct error err;
	int r;

	if (parse(&cfg, text, &err) < 0)
		return -1;
	r = config_auth_enabled(&cfg.accounts[0]);
	config_release(&cfg);
	return r;
}

static void
test_auth_enabled(void)
{
	CHECK_INT(auth_enabled("account a\n"), 0);
	CHECK_INT(auth_enabled("account a\nuser u\n"), 1);
	CHECK_INT(auth_enabled("account a\nuser u\nauth off\n"), 0);
	CHECK_INT(auth_enabled("account a\nauth on\n"), 1);
	CHECK_INT(auth_enabled("account a\nauth external\n"), 1);
	CHECK_INT(auth_enabled("account a\nuser u\nauth plain\n"), 1);
	/* a password alone does not turn AUTH on (msmtp's rule) */
	CHECK_INT(auth_enabled("account a\npassword p\n"), 0);
	/* inherited from defaults, and unset again by an empty value */
	CHECK_INT(auth_enabled("defaults\nuser u\naccount a\n"), 1);
	CHECK_INT(auth_enabled("defaults\nuser u\naccount a\nuser\n"), 0);
}

/* ---- files: permissions, -C, search order ------------------------------- */

static const char *
load(const char *path, struct config *cfg, struct error *err)
{
	error_clear(err);
	if (config_load(cfg, path, err) == 0)
		return "ok";
	return err->text;
}

static void
test_permissions(void)
{
	char *f = path_in("perm.conf");
	char want[512];
	struct config cfg;
	struct error err;

	snprintf(want, sizeof(want),
		"%s: contains a password but is readable "
		"by group or others; run: chmod 600 %s",
		f, f);
	write_file(f, "defaults\npassword secret\naccount a\n", 0644);
	CHECK_STR(load(f, &cfg, &err), want);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK(cfg.accounts == NULL);
	write_file(f, "defaults\npassword secret\naccount a\n", 0640);
	CHECK_STR(load(f, &cfg, &err), want);
	write_file(f, "defaults\npassword secret\naccount a\n", 0604);
	CHECK_STR(load(f, &cfg, &err), want);
	write_file(f, "defaults\npassword secret\naccount a\n", 0600);
	CHECK_STR(load(f, &cfg, &err), "ok");
	CHECK_STR(cfg.accounts[0].password, "secret");
	CHECK_STR(cfg.path, f);
	CHECK_STR(cfg.accounts[0].file, f);
	config_release(&cfg);
	/* no literal password: readable is fine (passwordeval is no secret) */
	write_file(f, "account a\npasswordeval pass mail\npassword\n", 0644);
	CHECK_STR(load(f, &cfg, &err), "ok");
	config_release(&cfg);
	/* others may not write it: they could choose passwordeval's command */
	snprintf(want, sizeof(want),
		"%s: is writable by others; run: chmod "
		"o-w %s",
		f, f);
	write_file(f, "account a\n", 0666);
	CHECK_STR(load(f, &cfg, &err), want);
	CHECK_INT(err.cls, ERR_CONFIG);
	free(f);
}

static void
test_dash_C(void)
{
	char *missing = path_in("missing.conf"), *dir = path_in("");
	char *big = path_in("big.conf"), *text;
	char want[512];
	struct config cfg;
	struct error err;
	size_t n = CONFIG_FILE_MAX + 10;

	snprintf(want, sizeof(want), "%s: No such file or directory", missing);
	CHECK_STR(load(missing, &cfg, &err), want);
	CHECK_INT(err.cls, ERR_NOINPUT);
	CHECK_INT(log_exit_code(err.cls), 66);
	snprintf(want, sizeof(want), "%s: Is a directory", dir);
	CHECK_STR(load(dir, &cfg, &err), want);
	CHECK_INT(err.cls, ERR_NOINPUT);

	/* grammar errors name the real file */
	write_file(big, "account a\nport x\n", 0600);
	snprintf(want, sizeof(want),
		"%s:2: 'port' must be a number from 1 to "
		"65535, not 'x'",
		big);
	CHECK_STR(load(big, &cfg, &err), want);
	CHECK_INT(log_exit_code(err.cls), 78);

	/* the file cap is stated, not a silent cut */
	text = xmalloc(n + 1);
	memset(text, '#', n);
	text[n] = '\0';
	write_file(big, text, 0600);
	snprintf(want, sizeof(want),
		"%s: larger than 1024 KiB; this is not a "
		"configuration file",
		big);
	CHECK_STR(load(big, &cfg, &err), want);
	CHECK_INT(err.cls, ERR_CONFIG);
	free(text);
	free(missing);
	free(dir);
	free(big);
}

static void
test_search_list(void)
{
	char *p[CONFIG_SEARCH_MAX];
	size_t n, i;

	n = config_search_list(p, CONFIG_SEARCH_MAX, "/h", "/x", "/etc");
	CHECK_INT(n, 6);
	CHECK_STR(p[0], "/x/postie/config");
	CHECK_STR(p[1], "/h/.postierc");
	CHECK_STR(p[2], "/h/.msmtprc");
	CHECK_STR(p[3], "/x/msmtp/config");
	CHECK_STR(p[4], "/etc/postie.conf");
	CHECK_STR(p[5], "/etc/msmtprc");
	for (i = 0; i < n; i++)
		free(p[i]);
	/* XDG_CONFIG_HOME unset or relative: ~/.config */
	n = config_search_list(p, CONFIG_SEARCH_MAX, "/h", "rel", NULL);
	CHECK_INT(n, 4);
	CHECK_STR(p[0], "/h/.config/postie/config");
	CHECK_STR(p[3], "/h/.config/msmtp/config");
	for (i = 0; i < n; i++)
		free(p[i]);
	/* no home at all: only the system files */
	n = config_search_list(p, CONFIG_SEARCH_MAX, "", NULL, "/etc");
	CHECK_INT(n, 2);
	CHECK_STR(p[0], "/etc/postie.conf");
	for (i = 0; i < n; i++)
		free(p[i]);
}

/* Which file config_load(NULL) reads, or the error. */
static const char *
found(struct config *cfg)
{
	static char out[ERROR_TEXT_MAX];
	static struct error err;

	if (config_load(cfg, NULL, &err) < 0)
		return err.text;
	snprintf(out, sizeof(out), "%s", cfg->path);
	config_release(cfg);
	return out;
}

static void
test_search_order(void)
{
	char *home = path_in("home"), *xdg = path_in("xdg");
	char *f[6], want[1024];
	struct config cfg;
	struct error err;
	int i;

	mkdir(home, 0700);
	mkdir(xdg, 0700);
	f[0] = path_in("xdg/postie");
	f[1] = path_in("xdg/msmtp");
	f[2] = path_in("home/.config");
	mkdir(f[0], 0700);
	mkdir(f[1], 0700);
	mkdir(f[2], 0700);
	for (i = 0; i < 3; i++)
		free(f[i]);
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	f[0] = path_in("xdg/postie/config");
	f[1] = path_in("home/.postierc");
	f[2] = path_in("home/.msmtprc");
	f[3] = path_in("xdg/msmtp/config");
	/* create them last to first: each new one must take over */
	for (i = 3; i >= 0; i--) {
		write_file(f[i], "account a\n", 0600);
		CHECK_STR(found(&cfg), f[i]);
	}
	/* XDG_CONFIG_HOME unset: ~/.config is used */
	unsetenv("XDG_CONFIG_HOME");
	f[4] = path_in("home/.config/postie/config");
	CHECK_STR(found(&cfg), f[1]);
	f[5] = path_in("home/.config/postie");
	mkdir(f[5], 0700);
	write_file(f[4], "account a\n", 0600);
	CHECK_STR(found(&cfg), f[4]);
	setenv("XDG_CONFIG_HOME", xdg, 1);

	/* the first file that exists is used even when it is broken */
	write_file(f[0], "account a\nbogus 1\n", 0600);
	snprintf(want, sizeof(want), "%s:2: unknown key 'bogus'", f[0]);
	CHECK_STR(found(&cfg), want);
	remove(f[0]);
	remove(f[1]);
	mkdir(f[1], 0700);
	snprintf(want, sizeof(want), "%s: Is a directory", f[1]);
	CHECK_STR(found(&cfg), want);
	config_load(&cfg, NULL, &err);
	CHECK_INT(err.cls, ERR_NOINPUT);
	for (i = 0; i < 6; i++)
		free(f[i]);
	free(home);
	free(xdg);
}

static void
test_search_system(void)
{
	char *sysf[2], want[1024];
	struct config cfg;
	struct error err;

	/* the system files come last; none at all is a clear error */
	sysf[0] = path_in("sys1");
	sysf[1] = path_in("sys2");
	CHECK_INT(config_load_first(&cfg, sysf, 2, &err), -1);
	snprintf(want, sizeof(want),
		"no configuration file found (looked in "
		"%s, %s); use -C FILE",
		sysf[0], sysf[1]);
	CHECK_STR(err.text, want);
	CHECK_INT(err.cls, ERR_CONFIG);
	write_file(sysf[1], "account sys\n", 0644);
	CHECK_INT(config_load_first(&cfg, sysf, 2, &err), 0);
	CHECK_STR(cfg.accounts[0].name, "sys");
	config_release(&cfg);
	free(sysf[0]);
	free(sysf[1]);
}

int
main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_grammar_comments_and_spacing();
	test_grammar_quoting();
	test_grammar_long_line_crlf_bom();
	test_values_defaults();
	test_values_parsed();
	test_inheritance();
	test_inheritance_default_and_unset();
	test_errors_unsupported();
	test_errors_keys();
	test_errors_values();
	test_errors_quoting();
	test_errors_accounts();
	test_choice();
	test_choice_default();
	test_choice_expanded();
	test_sender_matches();
	test_repair_defaults();
	test_repair_values();
	test_repair_inheritance();
	test_queue_keys();
	test_repair_old_keys();
	test_repair_errors();
	test_check_dsn();
	test_check_account();
	test_auth_enabled();
	test_values_tls();
	test_values_fingerprint();
	test_permissions();
	test_dash_C();
	test_search_list();
	test_search_order();
	test_search_system();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return check_finish();
}
