/*
 * tls.c - the TLS session over GnuTLS: the only file that includes it.
 *
 * tls_start builds the credentials the parameters need and no more (the
 * system trust store costs ~64 M instructions and 4 MiB to parse: a CA
 * file is read before the handshake, and after it only the CAs the
 * server's chain names are parsed, see trust.h), runs the handshake
 * against one deadline with poll(), then verifies the server itself, so
 * every failure can be put in words. After that the session is an iobuf
 * back end.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "buf.h"
#include "fdio.h"
#include "log.h"
#include "net.h"
#include "tls.h"
#include "trust.h"
#include "xmalloc.h"

/*
 * RFC 8314 §4.1 / RFC 9325: nothing older than TLS 1.2. Otherwise
 * GnuTLS's NORMAL, with X25519 first among the groups: every TLS 1.3
 * server has it, and with GNUTLS_KEY_SHARE_TOP the ClientHello carries
 * that one key share instead of two (P-256 as well), about a million
 * instructions less per connection (callgrind). A server without X25519
 * asks again (HelloRetryRequest) for the next group.
 */
#define TLS_DEFAULT_PRIORITIES                                                 \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-GROUP-ALL:+GROUP-X25519:" \
	"+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:"      \
	"+GROUP-FFDHE2048:+GROUP-FFDHE3072:+GROUP-FFDHE4096"
#define TLS_HEX_MAX   (TLS_FINGERPRINT_MAX * 3)
#define TLS_BYE_MS    1000 /* close_notify is a courtesy */
#define TLS_NAMES_MAX 16   /* names listed in a mismatch error */
#define TLS_SANS_MAX  1024 /* a bound for a malformed extension */
#define TLS_TEXT_MAX  512  /* one escaped DN or name */
#define TLS_WHY_MAX   (ERROR_TEXT_MAX * 2)
#define TLS_CA_MAX    (16 * 1024 * 1024) /* a CA file, PEM */
#define TLS_CHAIN_MAX 16 /* certificates of a chain looked at */
/* A kept session: "postie-tls-session 1 DIGEST VERIFIED\n" then GnuTLS's
   session data (a ticket and its secret, ~1 KiB). */
#define TLS_RESUME_MAGIC "postie-tls-session 1 "
#define TLS_RESUME_MAX   (64 * 1024)
/* A resumed session carries the verification of the handshake that first
   made it, and a server may hand out a new ticket on each resumption: a
   full handshake checks the certificate again after a day at most. */
#define TLS_RESUME_AGE (24 * 3600)

struct tls {
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
	int fd;
	int handshake_done;
	int verified;
	int custom_priorities; /* tls_priorities set: its versions rule */
	char *host; /* without a trailing dot; NULL when none was given */
	unsigned char pin[TLS_FINGERPRINT_MAX];
	size_t pin_len; /* 0: no pinned fingerprint */
	char *verify_error;
	char last_error[TLS_TEXT_MAX]; /* why the record layer failed */
	struct buf ca;       /* the CA file (PEM) the chain's anchors come
				from, read before the handshake */
	const char *ca_name; /* its config key and path, for errors */
	const char *ca_path;
	struct stat ca_st;   /* which file, which version of it */
	char *resume_file;   /* tls_params.session_file, when it applies */
	char resume_digest[2 * 32 + 1]; /* what the session was verified
					   against, hex */
	long long verified_at; /* when the server was last verified in full
				  (a resumed session keeps its time) */
	int resumed;
};

/* --- small helpers ------------------------------------------------------ */

static long long
tls_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline (0 = none): 1 ready, 0 timed out,
   -1 poll failed (errno). */
static int
tls_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	long long left;
	int r;

	/* No delayed ACK of ours behind a server flight split in two
	   segments (see net_quickack). */
	if (events & POLLIN)
		net_quickack(fd);
	for (;;) {
		left = deadline ? deadline - tls_now_ms() : -1;
		if (deadline && left <= 0)
			return 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* "AB:CD:..", upper case, as certtool and the config key write it. */
static void
tls_format_hex(const unsigned char *p, size_t len, char *out, size_t outsize)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < len && o + 3 <= outsize; i++) {
		if (i > 0)
			out[o++] = ':';
		out[o++] = hex[p[i] >> 4];
		out[o++] = hex[p[i] & 15];
	}
	out[o] = '\0';
}

static int
tls_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
tls_fingerprint_parse(const char *s, unsigned char *out)
{
	int colons = strchr(s, ':') != NULL;
	size_t n = 0;
	int hi, lo;

	while (*s) {
		hi = tls_hex_value(s[0]);
		lo = hi < 0 ? -1 : tls_hex_value(s[1]);
		if (lo < 0 || n == TLS_FINGERPRINT_MAX)
			return 0;
		out[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
		if (colons && *s == ':' && s[1] != '\0')
			s++;
		else if (colons && *s)
			return 0;
	}
	return n == 32 || n == 20 ? n : 0;
}

static int
tls_parse_pin(struct tls *t, const char *s, struct error *err)
{
	t->pin_len = tls_fingerprint_parse(s, t->pin);
	if (t->pin_len)
		return 0;
	error_set(err, ERR_CONFIG,
		"tls_fingerprint: not a SHA-256 (32 bytes) or SHA-1 (20 bytes) "
		"fingerprint in hex");
	return -1;
}

/* UTC, so the text means the same on every machine. */
static void
tls_format_time(time_t when, char *out, size_t outsize)
{
	struct tm tm;

	if (when == (time_t)-1 || !gmtime_r(&when, &tm) ||
		strftime(out, outsize, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outsize, "(unknown date)");
}

/* 4 or 16 bytes when host is an IP address literal, else 0. */
static size_t
tls_parse_ip(const char *host, unsigned char ip[16])
{
	if (!host)
		return 0;
	if (inet_pton(AF_INET, host, ip) == 1)
		return 4;
	if (inet_pton(AF_INET6, host, ip) == 1)
		return 16;
	return 0;
}

/* "; " between reasons, so several problems read as one line. */
static void
tls_why_sep(struct buf *why)
{
	if (why->len > 0)
		buf_addstr(why, "; ");
}

static void tls_why_add(struct buf *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
tls_why_add(struct buf *why, const char *fmt, ...)
{
	va_list ap;

	tls_why_sep(why);
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
}

static gnutls_x509_crt_t
tls_crt_import(const gnutls_datum_t *der)
{
	gnutls_x509_crt_t crt;

	if (gnutls_x509_crt_init(&crt) < 0)
		return NULL;
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	return crt;
}

/* Subject or issuer DN (RFC 4514), escaped: it comes from the server. */
static void
tls_crt_dn(gnutls_x509_crt_t crt, int issuer, char *out, size_t outsize)
{
	gnutls_datum_t dn = {NULL, 0};
	int r;

	r = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0)
		   : gnutls_x509_crt_get_dn3(crt, &dn, 0);
	if (r < 0 || !dn.data)
		snprintf(out, outsize, "(none)");
	else
		log_escape(out, outsize, (const char *)dn.data, dn.size);
	gnutls_free(dn.data);
}

/*
 * The DNS and IP subjectAltNames, comma-separated, at most max of them;
 * typed adds "DNS:" / "IP:". Returns how many the certificate has, and
 * how many of them are DNS names in *ndns when ndns is not NULL.
 */
static size_t
tls_crt_sans(gnutls_x509_crt_t crt, int typed, size_t max, struct buf *out,
	size_t *ndns)
{
	char raw[256], name[TLS_TEXT_MAX];
	const char *prefix;
	size_t size, count = 0;
	unsigned i;
	int type;

	for (i = 0; i < TLS_SANS_MAX; i++) {
		size = sizeof(raw);
		type = gnutls_x509_crt_get_subject_alt_name(
			crt, i, raw, &size, NULL);
		if (type < 0 && type != GNUTLS_E_SHORT_MEMORY_BUFFER)
			break;
		if (type == GNUTLS_SAN_DNSNAME && ndns)
			(*ndns)++;
		if (type == GNUTLS_SAN_DNSNAME)
			log_escape(name, sizeof(name), raw, size);
		else if (type != GNUTLS_SAN_IPADDRESS ||
			 (size != 4 && size != 16) ||
			 !inet_ntop(size == 4 ? AF_INET : AF_INET6, raw, name,
				 sizeof(name)))
			continue;
		if (count++ >= max)
			continue;
		prefix = type == GNUTLS_SAN_DNSNAME ? "DNS:" : "IP:";
		buf_printf(out, "%s%s%s", count > 1 ? ", " : "",
			typed ? prefix : "", name);
	}
	if (count > max)
		buf_printf(out, " and %zu more", count - max);
	return count;
}

/* --- credentials and session ------------------------------------------ */

/* GnuTLS says only "Error while reading file": say which and why. */
static int
tls_check_readable(const char *path, const char *key, struct error *err)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		error_set(err, ERR_CONFIG, "%s %s: %s", key, path,
			strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

/* The whole CA file into t->ca: NULL, or why not. */
static const char *
tls_read_ca(struct tls *t, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return strerror(errno);
	if (fstat(fd, &t->ca_st) < 0)
		memset(&t->ca_st, 0, sizeof(t->ca_st));
	buf_init(&t->ca, TLS_CA_MAX);
	while ((r = buf_read_fd(&t->ca, fd, 65536)) > 0)
		;
	close(fd);
	if (r < 0)
		return errno == EFBIG ? "larger than 16 MiB" : strerror(errno);
	if (trust_pem_count(t->ca.data, t->ca.len) == 0)
		return "no PEM certificate in it";
	return NULL;
}

/* With a CA check to come, the CA file is read now, so that a missing or
   empty one fails before we connect; its certificates are parsed after
   the handshake, and only those the chain names (tls_pick_cas). */
static int
tls_load_trust(struct tls *t, const struct tls_params *p, struct error *err)
{
	const char *path = p->trust_file ? p->trust_file : SYSTEM_TRUST_FILE;
	const char *why;
	int n;

	/* A pin replaces the CA check: the trust store would be parsed for
	   nothing. */
	if (!p->certcheck || t->pin_len)
		return 0;
	t->ca_name = p->trust_file ? "tls_trust_file" : "system CA bundle";
	t->ca_path = path;
	why = *path ? tls_read_ca(t, path) : "none";
	if (!why)
		return 0;
	if (p->trust_file) {
		error_set(err, ERR_CONFIG, "tls_trust_file %s: %s", path, why);
		return -1;
	}
	/* No bundle of our own: GnuTLS's system store, whole. */
	buf_release(&t->ca);
	t->ca_path = NULL;
	n = gnutls_certificate_set_x509_system_trust(t->cred);
	if (n > 0)
		return 0;
	error_set(err, ERR_CONFIG,
		"no system trust store (%s): set tls_trust_file or "
		"tls_fingerprint",
		n < 0 ? gnutls_strerror(n) : "no certificates");
	return -1;
}

/* Hands GnuTLS the CAs of the file whose subject is a name of the chain:
   each certificate's issuer (its anchor) and subject (a chain certificate
   may itself be trusted). GnuTLS looks anchors up by these raw names
   only, so the verification sees what it would with the whole file. */
static void
tls_pick_cas(
	struct tls *t, const gnutls_datum_t *certs, unsigned n, struct buf *why)
{
	const unsigned char *names[2 * TLS_CHAIN_MAX];
	size_t lens[2 * TLS_CHAIN_MAX], count = 0;
	struct trust_names cn;
	gnutls_datum_t pem;
	struct buf picked;
	unsigned i;
	int r;

	if (!t->ca_path)
		return;
	for (i = 0; i < n && i < TLS_CHAIN_MAX; i++) {
		if (trust_cert_names(certs[i].data, certs[i].size, &cn) < 0)
			continue;
		names[count] = cn.issuer;
		lens[count++] = cn.issuer_len;
		names[count] = cn.subject;
		lens[count++] = cn.subject_len;
	}
	buf_init(&picked, t->ca.len + 1); /* + a last newline */
	if (trust_pem_pick(t->ca.data, t->ca.len, names, lens, count,
		    &picked) > 0) {
		pem.data = (unsigned char *)picked.data;
		pem.size = (unsigned)picked.len;
		r = gnutls_certificate_set_x509_trust_mem(
			t->cred, &pem, GNUTLS_X509_FMT_PEM);
		if (r < 0)
			tls_why_add(why, "%s %s: %s", t->ca_name, t->ca_path,
				gnutls_strerror(r));
	}
	buf_release(&picked);
}

static int
tls_load_client_cert(
	struct tls *t, const struct tls_params *p, struct error *err)
{
	const char *key = p->key_file ? p->key_file : p->cert_file;
	int r;

	if (!p->cert_file && !p->key_file)
		return 0;
	if (!p->cert_file) {
		error_set(err, ERR_CONFIG,
			"tls_key_file %s is set, but tls_cert_file is not",
			p->key_file);
		return -1;
	}
	if (tls_check_readable(p->cert_file, "tls_cert_file", err) < 0 ||
		tls_check_readable(key, "tls_key_file", err) < 0)
		return -1;
	r = gnutls_certificate_set_x509_key_file2(
		t->cred, p->cert_file, key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r >= 0)
		return 0;
	error_set(err, ERR_CONFIG, "tls_cert_file %s / tls_key_file %s: %s",
		p->cert_file, key, gnutls_strerror(r));
	return -1;
}

/* The name to verify and send as SNI. RFC 6066 §3: no trailing dot. IDNs
   must arrive as A-labels: libidn2 belongs to the address module. */
static int
tls_set_host(struct tls *t, const char *host, struct error *err)
{
	size_t len, i;

	if (!host || !*host)
		return 0;
	len = strlen(host);
	for (i = 0; i < len; i++) {
		if ((unsigned char)host[i] >= 0x80) {
			error_set(err, ERR_SOFTWARE,
				"TLS: host name is not an A-label (IDNs must "
				"be converted before tls_start)");
			return -1;
		}
	}
	if (len > 1 && host[len - 1] == '.')
		len--;
	t->host = xstrndup(host, len);
	return 0;
}

static int
tls_set_priorities(struct tls *t, const char *prio, struct error *err)
{
	const char *pos = NULL;
	char esc[TLS_TEXT_MAX];
	int r;

	r = gnutls_priority_set_direct(t->session, prio, &pos);
	if (r >= 0)
		return 0;
	if (r == GNUTLS_E_INVALID_REQUEST && pos) {
		log_escape(esc, sizeof(esc), pos, strlen(pos));
		error_set(err, ERR_CONFIG,
			"tls_priorities: bad priority string at \"%s\"", esc);
	} else {
		error_set(err, ERR_CONFIG, "tls_priorities: %s",
			gnutls_strerror(r));
	}
	return -1;
}

static int
tls_setup_session(
	struct tls *t, int fd, const struct tls_params *p, struct error *err)
{
	unsigned char ip[16];
	int r;

	t->custom_priorities = p->priorities != NULL;
	r = gnutls_init(&t->session,
		GNUTLS_CLIENT | GNUTLS_NO_SIGNAL | GNUTLS_KEY_SHARE_TOP);
	if (r < 0) {
		t->session = NULL;
		error_set(err, ERR_SOFTWARE, "TLS: %s", gnutls_strerror(r));
		return -1;
	}
	if (tls_set_priorities(t,
		    p->priorities ? p->priorities : TLS_DEFAULT_PRIORITIES,
		    err) < 0)
		return -1;
	r = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (r < 0) {
		error_set(err, ERR_SOFTWARE, "TLS: %s", gnutls_strerror(r));
		return -1;
	}
	/* RFC 6066 §3: SNI carries host names only, never addresses. */
	if (t->host && tls_parse_ip(t->host, ip) == 0)
		gnutls_server_name_set(
			t->session, GNUTLS_NAME_DNS, t->host, strlen(t->host));
	/* Our deadline covers the handshake; GnuTLS's own would differ. */
	gnutls_handshake_set_timeout(t->session, 0);
	gnutls_transport_set_int(t->session, fd);
	return 0;
}

/* --- handshake ---------------------------------------------------------- */

static int
tls_handshake_error(struct tls *t, int r, int errnum, struct error *err)
{
	switch (r) {
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		error_set(err, ERR_UNAVAILABLE,
			"TLS handshake failed: the server sent the alert '%s'",
			gnutls_alert_get_name(gnutls_alert_get(t->session)));
		break;
	case GNUTLS_E_PREMATURE_TERMINATION:
		error_set(err, ERR_TEMP,
			"TLS handshake: connection closed by server");
		break;
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		error_set(err, ERR_TEMP, "TLS handshake: connection lost: %s",
			strerror(errnum ? errnum : EPIPE));
		break;
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
		error_set(err, ERR_UNAVAILABLE,
			"TLS handshake failed: no protocol version in common "
			"with the server (%s)",
			t->custom_priorities ? "tls_priorities allows them"
					     : "TLS 1.2 or later is required");
		break;
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
	case GNUTLS_E_UNEXPECTED_PACKET:
		/* Text where a record header belongs: "220 " or "500 " has
		   no valid content type. */
		error_set(err, ERR_UNAVAILABLE,
			"TLS handshake failed: %s (is the port plain SMTP?)",
			gnutls_strerror(r));
		break;
	default:
		error_set(err, ERR_UNAVAILABLE, "TLS handshake failed: %s",
			gnutls_strerror(r));
		break;
	}
	return -1;
}

static int
tls_handshake(struct tls *t, unsigned timeout, struct error *err)
{
	long long deadline =
		timeout ? tls_now_ms() + (long long)timeout * 1000 : 0;
	short events;
	int r, w;

	for (;;) {
		errno = 0;
		r = gnutls_handshake(t->session);
		if (r == 0)
			return 0;
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) {
			if (gnutls_error_is_fatal(r))
				return tls_handshake_error(t, r, errno, err);
			continue; /* a warning alert: carry on */
		}
		events = gnutls_record_get_direction(t->session) ? POLLOUT
								 : POLLIN;
		w = tls_wait(t->fd, events, deadline);
		if (w < 0) {
			error_set(err, ERR_OS, "poll: %s", strerror(errno));
			return -1;
		}
		if (w == 0) {
			error_set(err, ERR_TEMP,
				"TLS handshake: timed out after %u s", timeout);
			return -1;
		}
	}
}

/* --- verification ------------------------------------------------------- */

/* A pin compares the leaf certificate's DER hash and nothing else. */
static void
tls_check_pin(struct tls *t, const gnutls_datum_t *der, struct buf *why)
{
	unsigned char got[TLS_FINGERPRINT_MAX];
	char want_hex[TLS_HEX_MAX], got_hex[TLS_HEX_MAX];
	int sha1 = t->pin_len == 20;

	gnutls_hash_fast(sha1 ? GNUTLS_DIG_SHA1 : GNUTLS_DIG_SHA256, der->data,
		der->size, got);
	if (memcmp(got, t->pin, t->pin_len) != 0) {
		tls_format_hex(t->pin, t->pin_len, want_hex, sizeof(want_hex));
		tls_format_hex(got, t->pin_len, got_hex, sizeof(got_hex));
		buf_printf(why,
			"server certificate fingerprint mismatch: expected %s, "
			"got %s",
			want_hex, got_hex);
		return;
	}
	if (!sha1)
		return;
	/* Only after a match: the SHA-256 of a wrong certificate must not be
	   offered as the one to pin. */
	gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, got);
	tls_format_hex(got, 32, got_hex, sizeof(got_hex));
	fprintf(stderr,
		"postie: warning: SHA-1 fingerprints are deprecated; use "
		"SHA-256: %s\n",
		got_hex);
}

/* The first certificate sent that is outside its validity period, its
   date and subject; -1 when none is (then it is one from the store). */
static int
tls_find_dates(const gnutls_datum_t *certs, unsigned n, int expired,
	time_t *when, char *dn, size_t dnsize)
{
	gnutls_x509_crt_t crt;
	time_t now = time(NULL);
	unsigned i;

	for (i = 0; i < n; i++) {
		if (!(crt = tls_crt_import(&certs[i])))
			continue;
		*when = expired ? gnutls_x509_crt_get_expiration_time(crt)
				: gnutls_x509_crt_get_activation_time(crt);
		tls_crt_dn(crt, 0, dn, dnsize);
		gnutls_x509_crt_deinit(crt);
		if (expired ? *when < now : *when > now)
			return (int)i;
	}
	return -1;
}

static void
tls_why_dates(
	const gnutls_datum_t *certs, unsigned n, int expired, struct buf *why)
{
	char date[64], dn[TLS_TEXT_MAX];
	time_t when;
	int i = tls_find_dates(certs, n, expired, &when, dn, sizeof(dn));

	if (i < 0) {
		tls_why_add(why, "a certificate in the chain %s",
			expired ? "has expired" : "is not yet valid");
		return;
	}
	tls_format_time(when, date, sizeof(date));
	tls_why_sep(why);
	if (i > 0)
		buf_printf(why, "the chain's certificate %s: ", dn);
	if (expired)
		buf_printf(why, "expired on %s", date);
	else
		buf_printf(why, "not yet valid (valid from %s)", date);
}

/* Self-signed, or signed by an authority we do not trust: name it. */
static void
tls_why_issuer(const gnutls_datum_t *certs, unsigned n, struct buf *why)
{
	gnutls_x509_crt_t top = tls_crt_import(&certs[n - 1]);
	char dn[TLS_TEXT_MAX];

	if (!top) {
		tls_why_add(why, "unknown issuer");
		return;
	}
	if (n == 1 && gnutls_x509_crt_check_issuer(top, top)) {
		tls_crt_dn(top, 0, dn, sizeof(dn));
		tls_why_add(why, "self-signed (%s)", dn);
	} else {
		tls_crt_dn(top, 1, dn, sizeof(dn));
		tls_why_add(why, "unknown issuer: %s", dn);
	}
	gnutls_x509_crt_deinit(top);
}

static void
tls_why_status(unsigned status, const gnutls_datum_t *certs, unsigned n,
	struct buf *why)
{
	if (status & GNUTLS_CERT_EXPIRED)
		tls_why_dates(certs, n, 1, why);
	if (status & GNUTLS_CERT_NOT_ACTIVATED)
		tls_why_dates(certs, n, 0, why);
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
		tls_why_issuer(certs, n, why);
	if (status & GNUTLS_CERT_SIGNER_NOT_CA)
		tls_why_add(why, "signed by a certificate that is not a CA");
	if (status & GNUTLS_CERT_REVOKED)
		tls_why_add(why, "revoked");
	if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
		tls_why_add(why, "signed with an insecure algorithm");
	if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
		tls_why_add(why, "its signature does not verify");
	if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
		tls_why_add(why, "not meant for TLS servers (key purpose)");
	if (why->len == 0)
		tls_why_add(why, "invalid (GnuTLS status 0x%x)", status);
}

static void
tls_check_chain(
	struct tls *t, const gnutls_datum_t *certs, unsigned n, struct buf *why)
{
	gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER};
	unsigned status = 0;
	int r;

	r = gnutls_certificate_verify_peers(t->session, &purpose, 1, &status);
	if (r < 0)
		tls_why_add(why, "cannot be verified: %s", gnutls_strerror(r));
	else if (status != 0)
		tls_why_status(status, certs, n, why);
}

/* RFC 9525 §6: the DNS-ID (or an IP-ID for an address literal) must
   match; the names the certificate does have make the error useful. */
static void
tls_check_name(struct tls *t, gnutls_x509_crt_t leaf, struct buf *why)
{
	unsigned char ip[16];
	size_t iplen = tls_parse_ip(t->host, ip);
	char cn[TLS_TEXT_MAX], raw[256];
	size_t size = sizeof(raw), nsans, ndns = 0;
	struct buf names;
	unsigned ok;

	buf_init(&names, TLS_WHY_MAX);
	nsans = tls_crt_sans(leaf, 0, TLS_NAMES_MAX, &names, &ndns);
	/* RFC 9525 §6.3: a client checks the DNS-IDs of subjectAltName and
	   never falls back to the CN, which GnuTLS would do for a
	   certificate without a DNS name. */
	if (!iplen && ndns == 0) {
		tls_why_add(why, "certificate names no host in its "
				 "subjectAltName (the CN does not count)");
		goto out;
	}
	ok = iplen ? gnutls_x509_crt_check_ip(leaf, ip, iplen, 0)
		   : gnutls_x509_crt_check_hostname2(leaf, t->host, 0);
	if (ok)
		goto out;
	tls_why_add(why, "certificate is for ");
	if (nsans) {
		buf_append(why, names.data, names.len);
	} else {
		/* Only an address check gets here without a SAN: say what
		   the certificate is for all the same. */
		if (gnutls_x509_crt_get_dn_by_oid(leaf,
			    GNUTLS_OID_X520_COMMON_NAME, 0, 0, raw, &size) < 0)
			size = 0;
		log_escape(cn, sizeof(cn), raw, size);
		buf_addstr(why, size ? cn : "no host name");
	}
	buf_printf(why, ", not %s", t->host);
out:
	buf_release(&names);
}

/* The CA path: chain, validity and purpose, then the host name. */
static void
tls_check_ca(
	struct tls *t, const gnutls_datum_t *certs, unsigned n, struct buf *why)
{
	gnutls_x509_crt_t leaf = tls_crt_import(&certs[0]);
	struct buf reasons;

	buf_init(&reasons, TLS_WHY_MAX);
	if (!leaf)
		tls_why_add(&reasons, "cannot be parsed");
	if (leaf)
		tls_pick_cas(t, certs, n, &reasons);
	if (leaf && reasons.len == 0)
		tls_check_chain(t, certs, n, &reasons);
	if (leaf && t->host)
		tls_check_name(t, leaf, &reasons);
	if (leaf && !t->host)
		tls_why_add(&reasons, "no host name to check it against");
	if (reasons.len > 0)
		buf_printf(why, "server certificate not trusted: %s",
			reasons.data);
	buf_release(&reasons);
	if (leaf)
		gnutls_x509_crt_deinit(leaf);
}

static int
tls_verify(struct tls *t, const struct tls_params *p, struct error *err)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	struct buf why;

	if (!p->certcheck)
		return 0;
	buf_init(&why, TLS_WHY_MAX);
	certs = gnutls_certificate_get_peers(t->session, &n);
	if (!certs || n == 0)
		buf_addstr(&why, "the server sent no certificate");
	else if (t->pin_len)
		tls_check_pin(t, &certs[0], &why);
	else
		tls_check_ca(t, certs, n, &why);
	t->verified = why.len == 0;
	if (why.len > 0 && p->report_only)
		t->verify_error = buf_detach(&why, NULL);
	else if (why.len > 0)
		error_set(err, ERR_UNAVAILABLE, "%s", why.data);
	buf_release(&why);
	return t->verified || p->report_only ? 0 : -1;
}

/* --- resumption ----------------------------------------------------------- */

/*
 * What the kept session was verified against. Resuming skips the check
 * (the server proves it holds the session's secret, which only the
 * server verified then has), so a session is used only by the same
 * check: the same name, pin, certcheck and priorities, and the same CA
 * file, unchanged since (device, inode, size, modification time).
 */
static void
tls_resume_digest(struct tls *t, const struct tls_params *p)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	struct buf b;
	size_t i;

	buf_init(&b, (size_t)-1);
	buf_printf(&b, "host %s\nca %s %ju %ju %jd %lld.%09ld\npin ",
		t->host ? t->host : "-", t->ca_path ? t->ca_path : "-",
		(uintmax_t)t->ca_st.st_dev, (uintmax_t)t->ca_st.st_ino,
		(intmax_t)t->ca_st.st_size, (long long)t->ca_st.st_mtim.tv_sec,
		t->ca_st.st_mtim.tv_nsec);
	for (i = 0; i < t->pin_len; i++)
		buf_printf(&b, "%02x", t->pin[i]);
	buf_printf(&b, "\ncertcheck %d\npriorities %s\n", p->certcheck,
		p->priorities ? p->priorities : "-");
	gnutls_hash_fast(GNUTLS_DIG_SHA256, b.data, b.len, d);
	buf_release(&b);
	for (i = 0; i < sizeof(d); i++) {
		t->resume_digest[2 * i] = hex[d[i] >> 4];
		t->resume_digest[2 * i + 1] = hex[d[i] & 15];
	}
	t->resume_digest[2 * sizeof(d)] = '\0';
}

/* The kept session's data when the file is ours alone and was made by
   this same check within TLS_RESUME_AGE; NULL otherwise. */
static const char *
tls_resume_parse(struct tls *t, struct buf *b, size_t *len)
{
	size_t magic = strlen(TLS_RESUME_MAGIC), dlen = 2 * 32;
	const char *p = b->data + magic + dlen;
	char *end;
	long long at;

	if (b->len <= magic + dlen + 2 ||
		memcmp(b->data, TLS_RESUME_MAGIC, magic) != 0 ||
		memcmp(b->data + magic, t->resume_digest, dlen) != 0 ||
		*p != ' ' || p[1] < '0' || p[1] > '9')
		return NULL;
	errno = 0;
	at = strtoll(p + 1, &end, 10);
	if (errno || *end != '\n' || at > (long long)time(NULL) ||
		(long long)time(NULL) - at > TLS_RESUME_AGE)
		return NULL;
	t->verified_at = at;
	end++;
	*len = b->len - (size_t)(end - b->data);
	return end;
}

/* Offer the kept session, if there is one that may be used. Any doubt
   means a full handshake, never an error. */
static void
tls_resume_load(struct tls *t)
{
	int fd = open(t->resume_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	const char *data;
	struct buf b;
	size_t len;

	if (fd < 0)
		return;
	/* It holds a secret that lets its holder speak as the server to us:
	   a file another user could have written or read is not used. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		return;
	}
	buf_init(&b, TLS_RESUME_MAX);
	while (buf_read_fd(&b, fd, TLS_RESUME_MAX) > 0)
		;
	close(fd);
	data = tls_resume_parse(t, &b, &len);
	if (data && gnutls_session_set_data(t->session, data, len) < 0)
		t->verified_at = 0;
	gnutls_memset(b.data, 0, b.len);
	buf_release(&b);
}

/* Keep the session's latest ticket (TLS 1.3 only: a TLS 1.2 resumption
   would weaken tls-unique channel binding) for the next connection:
   written whole to a 0600 temporary file, then renamed over the old. */
static void
tls_resume_save(struct tls *t)
{
	gnutls_datum_t d = {NULL, 0};
	struct buf tmp, head;
	const char *slash;
	size_t failed;
	int fd, ok;

	if (!t->resume_file || !t->verified || !t->handshake_done ||
		gnutls_protocol_get_version(t->session) != GNUTLS_TLS1_3 ||
		!(gnutls_session_get_flags(t->session) &
			GNUTLS_SFLAGS_SESSION_TICKET) ||
		gnutls_session_get_data2(t->session, &d) < 0)
		return;
	slash = strrchr(t->resume_file, '/');
	if (slash)
		(void)fdio_mkdirs(t->resume_file,
			(size_t)(slash - t->resume_file), &failed);
	buf_init(&tmp, (size_t)-1);
	buf_init(&head, (size_t)-1);
	buf_printf(&tmp, "%s.XXXXXX", t->resume_file);
	buf_printf(&head, "%s%s %lld\n", TLS_RESUME_MAGIC, t->resume_digest,
		t->verified_at);
	fd = mkostemp(tmp.data, O_CLOEXEC); /* mode 0600 */
	if (fd >= 0) {
		ok = fdio_write_all(fd, head.data, head.len) == 0 &&
		     fdio_write_all(fd, d.data, d.size) == 0;
		ok = close(fd) == 0 && ok;
		if (!ok || rename(tmp.data, t->resume_file) < 0)
			unlink(tmp.data);
	}
	buf_release(&tmp);
	buf_release(&head);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
}

/* Whether this connection may resume and be kept: not for -S (which shows
   the certificate), not with a client certificate (a resumed session
   sends none, and EXTERNAL would not know it), not unverified. */
static void
tls_resume_setup(struct tls *t, const struct tls_params *p)
{
	if (!p->session_file || p->report_only || p->cert_file ||
		p->key_file || !p->certcheck)
		return;
	t->resume_file = xstrdup(p->session_file);
	tls_resume_digest(t, p);
	tls_resume_load(t);
}

/* --- the session -------------------------------------------------------- */

static int
tls_prepare(struct tls *t, const struct tls_params *p, struct error *err)
{
	int r;

	if (p->fingerprint && p->certcheck &&
		tls_parse_pin(t, p->fingerprint, err) < 0)
		return -1;
	if (tls_set_host(t, p->host, err) < 0)
		return -1;
	r = gnutls_certificate_allocate_credentials(&t->cred);
	if (r < 0) {
		t->cred = NULL;
		error_set(err, ERR_SOFTWARE, "TLS: %s", gnutls_strerror(r));
		return -1;
	}
	if (tls_load_trust(t, p, err) < 0 ||
		tls_load_client_cert(t, p, err) < 0)
		return -1;
	return 0;
}

int
tls_start(
	struct tls **out, int fd, const struct tls_params *p, struct error *err)
{
	struct tls *t = xcalloc(1, sizeof(*t));
	int flags = fcntl(fd, F_GETFL);

	*out = NULL;
	t->fd = fd;
	/* Non-blocking, so every wait is our poll() against the deadline. */
	if (flags >= 0 && !(flags & O_NONBLOCK))
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (tls_prepare(t, p, err) < 0 ||
		tls_setup_session(t, fd, p, err) < 0)
		goto fail;
	tls_resume_setup(t, p);
	if (tls_handshake(t, p->timeout, err) < 0)
		goto fail;
	t->handshake_done = 1;
	if (t->resume_file && gnutls_session_is_resumed(t->session)) {
		t->resumed = 1;
		t->verified = 1;
		log_info("TLS: session resumed (server verified %lld s ago)",
			(long long)time(NULL) - t->verified_at);
	} else if (tls_verify(t, p, err) < 0) {
		/* One try, no wait: the server learns why we leave. */
		gnutls_alert_send(
			t->session, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
		t->handshake_done = 0;
		goto fail;
	}
	if (!t->resumed)
		t->verified_at = (long long)time(NULL);
	*out = t;
	return 0;
fail:
	tls_close(t);
	return -1;
}

/* gnutls errors as errno, which is all iobuf's back-end contract has;
   the words stay for tls_last_error. */
static ssize_t
tls_errno(struct tls *t, int r)
{
	switch (r) {
	case GNUTLS_E_AGAIN:
		errno = EAGAIN;
		break;
	case GNUTLS_E_INTERRUPTED:
		errno = EINTR;
		break;
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		if (errno == 0 || errno == EAGAIN || errno == EINTR)
			errno = EPIPE;
		break;
	case GNUTLS_E_PREMATURE_TERMINATION:
		/* The server closed without close_notify: gone, like a
		   plain connection closing, so worth trying again. */
		errno = EPIPE;
		break;
	default:
		if (r == GNUTLS_E_FATAL_ALERT_RECEIVED)
			snprintf(t->last_error, sizeof(t->last_error),
				"TLS: the server sent the alert '%s'",
				gnutls_alert_get_name(
					gnutls_alert_get(t->session)));
		else
			snprintf(t->last_error, sizeof(t->last_error),
				"TLS: %s", gnutls_strerror(r));
		errno = EPROTO;
		break;
	}
	return -1;
}

static ssize_t
tls_read(void *ctx, void *p, size_t len)
{
	struct tls *t = ctx;
	ssize_t r;

	for (;;) {
		errno = 0;
		r = gnutls_record_recv(t->session, p, len);
		if (r >= 0)
			return r;
		if (r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0; /* EOF without close_notify: still EOF */
		if (r == GNUTLS_E_REHANDSHAKE) {
			/* RFC 5746: a client may decline renegotiation. */
			gnutls_alert_send(t->session, GNUTLS_AL_WARNING,
				GNUTLS_A_NO_RENEGOTIATION);
			continue;
		}
		if (r == GNUTLS_E_WARNING_ALERT_RECEIVED)
			continue;
		return tls_errno(t, (int)r);
	}
}

/*
 * One call sends at most one record (GnuTLS cuts at the maximum record
 * size, 16 KiB), so iobuf's flush becomes one record when it fits. After
 * GNUTLS_E_AGAIN GnuTLS holds the encrypted record and must be called
 * again with the same data: iobuf_flush retries with the same pointer and
 * length, and on the next successful call GnuTLS reports that record.
 */
static ssize_t
tls_write(void *ctx, const void *p, size_t len)
{
	struct tls *t = ctx;
	ssize_t r;

	errno = 0;
	r = gnutls_record_send(t->session, p, len);
	if (r >= 0)
		return r;
	return tls_errno(t, (int)r);
}

static size_t
tls_pending(void *ctx)
{
	struct tls *t = ctx;

	return gnutls_record_check_pending(t->session);
}

static const char *
tls_backend_error(void *ctx)
{
	return tls_last_error(ctx);
}

void
tls_backend(struct tls *t, struct iobuf_backend *be)
{
	be->read = tls_read;
	be->write = tls_write;
	be->pending = tls_pending;
	be->last_error = tls_backend_error;
	be->ctx = t;
}

int
tls_verified(const struct tls *t)
{
	return t->verified;
}

const char *
tls_verify_error(const struct tls *t)
{
	return t->verify_error;
}

const char *
tls_last_error(const struct tls *t)
{
	return t->last_error[0] ? t->last_error : NULL;
}

int
tls_client_cert_sent(const struct tls *t)
{
	return gnutls_certificate_get_ours(t->session) != NULL;
}

int
tls_channel_binding(struct tls *t, const char **type, unsigned char **data,
	size_t *len, struct error *err)
{
	gnutls_datum_t cb = {NULL, 0};
	gnutls_channel_binding_t kind = GNUTLS_CB_TLS_UNIQUE;
	int r;

	/* RFC 9266: tls-unique is undefined for TLS 1.3. */
	*type = "tls-unique";
	if (gnutls_protocol_get_version(t->session) == GNUTLS_TLS1_3) {
		kind = GNUTLS_CB_TLS_EXPORTER;
		*type = "tls-exporter";
	}
	r = gnutls_session_channel_binding(t->session, kind, &cb);
	if (r < 0 || !cb.data) {
		error_set(err, ERR_SOFTWARE, "TLS: no %s channel binding: %s",
			*type, gnutls_strerror(r));
		return -1;
	}
	*data = xmalloc(cb.size);
	memcpy(*data, cb.data, cb.size);
	*len = cb.size;
	gnutls_free(cb.data);
	return 0;
}

static void
tls_describe_cert(
	const gnutls_datum_t *der, unsigned i, unsigned n, struct buf *out)
{
	gnutls_x509_crt_t crt = tls_crt_import(der);
	unsigned char sha[32];
	char text[TLS_TEXT_MAX];

	buf_printf(out, "  certificate %u of %u%s:\n", i + 1, n,
		i == 0 ? " (server)" : "");
	gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, sha);
	if (!crt) {
		buf_addstr(out, "    (cannot be parsed)\n");
		goto hash;
	}
	tls_crt_dn(crt, 0, text, sizeof(text));
	buf_printf(out, "    subject: %s\n", text);
	tls_crt_dn(crt, 1, text, sizeof(text));
	buf_printf(out, "    issuer: %s\n", text);
	tls_format_time(
		gnutls_x509_crt_get_activation_time(crt), text, sizeof(text));
	buf_printf(out, "    valid from: %s\n", text);
	tls_format_time(
		gnutls_x509_crt_get_expiration_time(crt), text, sizeof(text));
	buf_printf(out, "    valid until: %s\n", text);
	buf_addstr(out, "    subjectAltName: ");
	if (tls_crt_sans(crt, 1, SIZE_MAX, out, NULL) == 0)
		buf_addstr(out, "(none)");
	buf_addch(out, '\n');
	gnutls_x509_crt_deinit(crt);
hash:
	tls_format_hex(sha, sizeof(sha), text, sizeof(text));
	buf_printf(out, "    SHA-256 fingerprint: %s\n", text);
}

void
tls_describe(struct tls *t, struct buf *out)
{
	const gnutls_datum_t *certs;
	unsigned n = 0, i;
	char *desc;

	buf_printf(out, "  protocol: %s\n",
		gnutls_protocol_get_name(
			gnutls_protocol_get_version(t->session)));
	desc = gnutls_session_get_desc(t->session);
	buf_printf(out, "  cipher: %s\n", desc ? desc : "(unknown)");
	gnutls_free(desc);
	certs = gnutls_certificate_get_peers(t->session, &n);
	if (!certs || n == 0)
		buf_addstr(out, "  (no certificate)\n");
	for (i = 0; certs && i < n; i++)
		tls_describe_cert(&certs[i], i, n, out);
}

/* close_notify, waiting at most TLS_BYE_MS for the socket to take it. */
static void
tls_bye(struct tls *t)
{
	long long deadline = tls_now_ms() + TLS_BYE_MS;
	short events;
	int r;

	for (;;) {
		r = gnutls_bye(t->session, GNUTLS_SHUT_WR);
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			return;
		events = gnutls_record_get_direction(t->session) ? POLLOUT
								 : POLLIN;
		if (tls_wait(t->fd, events, deadline) <= 0)
			return;
	}
}

void
tls_close(struct tls *t)
{
	if (!t)
		return;
	if (t->session && t->handshake_done) {
		tls_resume_save(t);
		tls_bye(t);
	}
	if (t->session)
		gnutls_deinit(t->session);
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	free(t->verify_error);
	free(t->host);
	free(t->resume_file);
	buf_release(&t->ca);
	free(t);
}
