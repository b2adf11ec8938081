/*
 * auth.c - SASL for SMTP AUTH (RFC 4954). libgsasl does the mechanisms it
 * knows (SCRAM, PLAIN, LOGIN, EXTERNAL, CRAM-MD5, DIGEST-MD5, NTLM,
 * GSSAPI); XOAUTH2 and OAUTHBEARER (RFC 7628) are done here because
 * libgsasl 2.2 has neither. This is the only file that includes gsasl.h.
 *
 * Base64 is decoded and encoded here, around gsasl_step, so that a
 * malformed challenge is told apart from a refusal, and so that every
 * buffer that held the password can be wiped before it is freed.
 */
#include "autoconf.h"

#include <gsasl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "buf.h"
#include "xmalloc.h"

/* A server challenge this large is not a SASL challenge. */
#define AUTH_CHALLENGE_MAX (64 * 1024)

enum auth_kind {
	AUTH_GSASL,
	AUTH_XOAUTH2,
	AUTH_OAUTHBEARER,
};

struct auth {
	enum auth_kind kind;
	const char *mech; /* static, from auth_known */
	Gsasl *ctx;
	Gsasl_session *sess;
	unsigned steps; /* auth_step calls so far */
	int done;       /* the mechanism reported completion */
	int scram;
	char *user;
	char *password; /* wiped in auth_finish */
	char *host;
	unsigned port;
	char *cb_b64; /* channel binding data, base64, PLUS only */
	int cb_exporter;
};

/*
 * Every mechanism postie can name; auth_choose returns these static
 * strings. auto_rank orders the automatic choice (0 = only when named).
 */
static const struct {
	const char *name;
	int auto_rank;
	int initial; /* client-first: the response rides with AUTH */
} auth_known[] = {
	{"SCRAM-SHA-256-PLUS", 1, 1},
	{"SCRAM-SHA-1-PLUS", 2, 1},
	{"SCRAM-SHA-256", 3, 1},
	{"SCRAM-SHA-1", 4, 1},
	{"PLAIN", 5, 1},
	{"LOGIN", 6, 0},
	{"EXTERNAL", 0, 1},
	{"XOAUTH2", 0, 1},
	{"OAUTHBEARER", 0, 1},
	{"CRAM-MD5", 0, 0},
	{"DIGEST-MD5", 0, 0},
	{"NTLM", 0, 0},
	{"GSSAPI", 0, 0},
};
#define AUTH_NKNOWN (sizeof(auth_known) / sizeof(auth_known[0]))

static const char auth_scram_bad_signature[] =
	"SCRAM server signature does not verify: the server does not know the "
	"password (man in the middle?)";

static int
auth_find_known(const char *mech)
{
	size_t i;

	for (i = 0; i < AUTH_NKNOWN; i++)
		if (strcasecmp(auth_known[i].name, mech) == 0)
			return (int)i;
	return -1;
}

static int
auth_is_plus(const char *mech)
{
	size_t n = strlen(mech);

	return n > 5 && strcasecmp(mech + n - 5, "-PLUS") == 0;
}

static int
auth_is_scram(const char *mech)
{
	return strncasecmp(mech, "SCRAM-", 6) == 0;
}

/* Mechanisms postie implements itself rather than through libgsasl. */
static enum auth_kind
auth_kind_of(const char *mech)
{
	if (strcasecmp(mech, "XOAUTH2") == 0)
		return AUTH_XOAUTH2;
	if (strcasecmp(mech, "OAUTHBEARER") == 0)
		return AUTH_OAUTHBEARER;
	return AUTH_GSASL;
}

/* Whether the space-separated list holds mech (case-insensitive). */
static int
auth_list_has(const char *list, const char *mech)
{
	size_t n = strlen(mech);
	const char *p = list;

	while (*p) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (len == n && strncasecmp(p, mech, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}

static int
auth_supported(Gsasl *ctx, const char *mech)
{
	if (auth_kind_of(mech) != AUTH_GSASL)
		return 1;
	return ctx && gsasl_client_support_p(ctx, mech);
}

/* The automatic choice (RFC 4954 leaves it to the client): strongest
   first; PLUS only with channel binding data, or it cannot work. */
static const char *
auth_choose_auto(
	Gsasl *ctx, const char *server_mechs, const struct auth_params *p)
{
	int rank;
	size_t i;

	if (p->client_cert && auth_list_has(server_mechs, "EXTERNAL") &&
		auth_supported(ctx, "EXTERNAL"))
		return "EXTERNAL";
	for (rank = 1; rank <= 6; rank++) {
		for (i = 0; i < AUTH_NKNOWN; i++) {
			const char *m = auth_known[i].name;

			if (auth_known[i].auto_rank != rank)
				continue;
			if (auth_is_plus(m) && !(p->cb_data && p->cb_len))
				continue;
			if (auth_list_has(server_mechs, m) &&
				auth_supported(ctx, m))
				return m;
		}
	}
	return NULL;
}

static const char *
auth_choose_named(Gsasl *ctx, const char *server_mechs,
	const struct auth_params *p, const char *shown, struct error *err)
{
	int k = auth_find_known(p->mech);

	if (k < 0) {
		error_set(err, ERR_UNAVAILABLE, "postie does not know AUTH %s",
			p->mech);
		return NULL;
	}
	if (!auth_list_has(server_mechs, auth_known[k].name)) {
		error_set(err, ERR_UNAVAILABLE, "server offers AUTH %s, not %s",
			shown, auth_known[k].name);
		return NULL;
	}
	if (!auth_supported(ctx, auth_known[k].name)) {
		error_set(err, ERR_UNAVAILABLE,
			"AUTH %s: not supported by this build of libgsasl",
			auth_known[k].name);
		return NULL;
	}
	if (auth_is_plus(auth_known[k].name) && !(p->cb_data && p->cb_len)) {
		error_set(err, ERR_UNAVAILABLE,
			"AUTH %s needs channel binding, which only TLS gives",
			auth_known[k].name);
		return NULL;
	}
	return auth_known[k].name;
}

const char *
auth_choose(const char *server_mechs, const struct auth_params *p,
	struct error *err)
{
	char shown[256];
	const char *m = NULL;
	Gsasl *ctx = NULL;

	if (!server_mechs)
		server_mechs = "";
	log_escape(shown, sizeof(shown), server_mechs, strlen(server_mechs));
	if (gsasl_init(&ctx) != GSASL_OK)
		ctx = NULL; /* only XOAUTH2 and OAUTHBEARER remain */
	if (p->mech && strcasecmp(p->mech, "on") != 0) {
		m = auth_choose_named(ctx, server_mechs, p, shown, err);
	} else {
		m = auth_choose_auto(ctx, server_mechs, p);
		if (!m)
			error_set(err, ERR_UNAVAILABLE,
				"server offers AUTH %s, none of which postie "
				"chooses by itself (name one with 'auth MECH')",
				shown);
	}
	if (ctx)
		gsasl_done(ctx);
	return m;
}

int
auth_has_initial_response(const char *mech)
{
	int k = mech ? auth_find_known(mech) : -1;

	return k >= 0 && auth_known[k].initial;
}

/* libgsasl asks for what it needs; everything comes from struct auth. */
static int
auth_callback(Gsasl *ctx, Gsasl_session *sess, Gsasl_property prop)
{
	struct auth *a = gsasl_session_hook_get(sess);
	const char *v = NULL;

	(void)ctx;
	if (!a)
		return GSASL_NO_CALLBACK;
	switch (prop) {
	case GSASL_AUTHID:
		v = a->user;
		break;
	case GSASL_PASSWORD:
		v = a->password;
		break;
	case GSASL_SERVICE:
		v = "smtp"; /* RFC 4954 §3: the GSSAPI service name */
		break;
	case GSASL_HOSTNAME:
		v = a->host;
		break;
	case GSASL_CB_TLS_UNIQUE:
		v = a->cb_exporter ? NULL : a->cb_b64;
		break;
	case GSASL_CB_TLS_EXPORTER:
		v = a->cb_exporter ? a->cb_b64 : NULL;
		break;
	default:
		break; /* no authorization identity: act as the user */
	}
	if (!v)
		return GSASL_NO_CALLBACK;
	return gsasl_property_set(sess, prop, v);
}

/*
 * Channel binding data only for the PLUS mechanisms: libgsasl 2.2 refuses
 * plain SCRAM when it has binding data (instead of sending the "y" flag
 * of RFC 5802 §6), and the automatic choice takes PLUS whenever the server
 * offers it, so a stripped PLUS needs a broken TLS verification first.
 */
static int
auth_set_cb(struct auth *a, const struct auth_params *p, struct error *err)
{
	if (!auth_is_plus(a->mech))
		return 0;
	if (!p->cb_data || !p->cb_len || !p->cb_type) {
		error_set(err, ERR_UNAVAILABLE,
			"AUTH %s needs channel binding, which only TLS gives",
			a->mech);
		return -1;
	}
	if (strcmp(p->cb_type, "tls-exporter") == 0)
		a->cb_exporter = 1;
	else if (strcmp(p->cb_type, "tls-unique") != 0) {
		error_set(err, ERR_SOFTWARE, "unknown channel binding type %s",
			p->cb_type);
		return -1;
	}
	if (gsasl_base64_to((const char *)p->cb_data, p->cb_len, &a->cb_b64,
		    NULL) != GSASL_OK) {
		error_set(err, ERR_SOFTWARE, "cannot encode channel binding");
		return -1;
	}
	return 0;
}

static int
auth_start_gsasl(struct auth *a, struct error *err)
{
	int rc = gsasl_init(&a->ctx);

	if (rc != GSASL_OK) {
		a->ctx = NULL;
		error_set(
			err, ERR_SOFTWARE, "libgsasl: %s", gsasl_strerror(rc));
		return -1;
	}
	if (!gsasl_client_support_p(a->ctx, a->mech)) {
		error_set(err, ERR_UNAVAILABLE,
			"AUTH %s: not supported by this build of libgsasl",
			a->mech);
		return -1;
	}
	gsasl_callback_set(a->ctx, auth_callback);
	rc = gsasl_client_start(a->ctx, a->mech, &a->sess);
	if (rc != GSASL_OK) {
		a->sess = NULL;
		error_set(err, ERR_SOFTWARE, "AUTH %s: libgsasl: %s", a->mech,
			gsasl_strerror(rc));
		return -1;
	}
	gsasl_session_hook_set(a->sess, a);
	return 0;
}

int
auth_start(struct auth **out, const char *mech, const struct auth_params *p,
	struct error *err)
{
	struct auth *a;
	int k = mech ? auth_find_known(mech) : -1;

	*out = NULL;
	if (k < 0) {
		error_set(err, ERR_UNAVAILABLE, "postie does not know AUTH %s",
			mech ? mech : "(none)");
		return -1;
	}
	a = xcalloc(1, sizeof(*a));
	a->mech = auth_known[k].name;
	a->kind = auth_kind_of(a->mech);
	a->scram = auth_is_scram(a->mech);
	a->user = p->user ? xstrdup(p->user) : NULL;
	a->password = p->password ? xstrdup(p->password) : NULL;
	a->host = p->host ? xstrdup(p->host) : NULL;
	a->port = p->port;
	if (auth_set_cb(a, p, err) < 0 ||
		(a->kind == AUTH_GSASL && auth_start_gsasl(a, err) < 0)) {
		auth_finish(a);
		return -1;
	}
	*out = a;
	return 0;
}

/* RFC 4954 §4: a challenge is base64 (RFC 4648 §4). gsasl_base64_from is
   strict: no whitespace, padding only at the end, length a multiple of 4. */
static int
auth_decode(const struct auth *a, const char *in, char **raw, size_t *rawlen,
	struct error *err)
{
	*raw = NULL;
	*rawlen = 0;
	if (!in || !*in)
		return 0;
	if (strlen(in) > AUTH_CHALLENGE_MAX ||
		gsasl_base64_from(in, strlen(in), raw, rawlen) != GSASL_OK) {
		error_set(err, ERR_PROTOCOL,
			"AUTH %s: the server's challenge is not valid base64",
			a->mech);
		return -1;
	}
	return 0;
}

/* Wipe and free a buffer that may have held the password or a token. */
static void
auth_wipe_free(char *p, size_t len)
{
	if (p) {
		explicit_bzero(p, len);
		free(p);
	}
}

void
auth_response_free(char *out)
{
	if (out)
		auth_wipe_free(out, strlen(out));
}

static int
auth_encode(const struct auth *a, const char *raw, size_t rawlen, char **out,
	struct error *err)
{
	if (rawlen == 0) {
		*out = xstrdup("");
		return 0;
	}
	if (gsasl_base64_to(raw, rawlen, out, NULL) != GSASL_OK) {
		*out = NULL;
		error_set(err, ERR_SOFTWARE, "AUTH %s: cannot encode base64",
			a->mech);
		return -1;
	}
	return 0;
}

/* The server's SCRAM error (RFC 5802 §7 server-error "e="), escaped. */
static int
auth_scram_server_error(
	const struct auth *a, const char *raw, size_t rawlen, struct error *err)
{
	char shown[128];

	if (rawlen < 2 || memcmp(raw, "e=", 2) != 0)
		return 0;
	log_escape(shown, sizeof(shown), raw + 2, rawlen - 2);
	error_set(err, ERR_AUTH, "AUTH %s: the server refused: %s", a->mech,
		shown);
	return -1;
}

/*
 * libgsasl's error as ours. In SCRAM the third step checks the server's
 * signature (RFC 5802 §3): failing there means the peer does not know
 * the password, so it is ERR_AUTH and the caller sends nothing more.
 */
static void
auth_gsasl_error(const struct auth *a, int rc, struct error *err)
{
	if (a->scram && a->steps >= 2 &&
		(rc == GSASL_AUTHENTICATION_ERROR ||
			rc == GSASL_MECHANISM_PARSE_ERROR)) {
		error_set(err, ERR_AUTH, "%s", auth_scram_bad_signature);
		return;
	}
	switch (rc) {
	case GSASL_NO_AUTHID:
		error_set(err, ERR_CONFIG, "AUTH %s needs a user", a->mech);
		break;
	case GSASL_NO_PASSWORD:
		error_set(err, ERR_CONFIG, "AUTH %s needs a password", a->mech);
		break;
	case GSASL_MECHANISM_CALLED_TOO_MANY_TIMES:
		error_set(err, ERR_PROTOCOL,
			"AUTH %s: the server sent a challenge after the "
			"exchange was complete",
			a->mech);
		break;
	case GSASL_MECHANISM_PARSE_ERROR:
		error_set(err, ERR_PROTOCOL,
			"AUTH %s: the server's challenge cannot be parsed",
			a->mech);
		break;
	case GSASL_AUTHENTICATION_ERROR:
		error_set(err, ERR_AUTH,
			"AUTH %s: the server's challenge is "
			"refused: %s",
			a->mech, gsasl_strerror(rc));
		break;
	default:
		error_set(err, ERR_SOFTWARE, "AUTH %s: libgsasl: %s", a->mech,
			gsasl_strerror(rc));
		break;
	}
}

static int
auth_step_gsasl(struct auth *a, const char *raw, size_t rawlen, char **out,
	struct error *err)
{
	char *resp = NULL;
	size_t resplen = 0;
	int rc, ret = -1;

	/* libgsasl's PLAIN would answer again; a finished exchange may not
	   be prolonged by the server (RFC 4954 §4: 235 or an error). */
	if (a->done) {
		auth_gsasl_error(a, GSASL_MECHANISM_CALLED_TOO_MANY_TIMES, err);
		return -1;
	}
	if (a->scram && a->steps >= 2 &&
		auth_scram_server_error(a, raw, rawlen, err) < 0)
		return -1;
	rc = gsasl_step(a->sess, raw, rawlen, &resp, &resplen);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
		auth_gsasl_error(a, rc, err);
		goto out;
	}
	if (auth_encode(a, resp, resplen, out, err) < 0)
		goto out;
	if (rc == GSASL_OK)
		a->done = 1;
	ret = rc == GSASL_NEEDS_MORE ? 1 : 0;
out:
	if (resp) {
		explicit_bzero(resp, resplen);
		gsasl_free(resp);
	}
	return ret;
}

/*
 * RFC 7628 §3.1 saslname for the gs2 header: ',' and '=' must be escaped
 * as "=2C" and "=3D", or a user name could add header fields.
 */
static int
auth_add_saslname(struct buf *b, const char *s)
{
	for (; *s; s++) {
		int rc;

		if (*s == ',')
			rc = buf_addstr(b, "=2C");
		else if (*s == '=')
			rc = buf_addstr(b, "=3D");
		else
			rc = buf_addch(b, *s);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The client's first (and only) message of XOAUTH2 or OAUTHBEARER. */
static int
auth_oauth_initial(const struct auth *a, struct buf *b)
{
	const char *user = a->user ? a->user : "";
	const char *token = a->password ? a->password : "";

	if (a->kind == AUTH_XOAUTH2)
		return buf_printf(
			b, "user=%s\001auth=Bearer %s\001\001", user, token);
	/* RFC 7628 §3.1: gs2-header, then key=value pairs ended by ^A. */
	if (buf_addstr(b, "n,a=") < 0 || auth_add_saslname(b, user) < 0 ||
		buf_addstr(b, ",\001") < 0)
		return -1;
	if (a->host && buf_printf(b, "host=%s\001", a->host) < 0)
		return -1;
	if (a->port && buf_printf(b, "port=%u\001", a->port) < 0)
		return -1;
	return buf_printf(b, "auth=Bearer %s\001\001", token);
}

/*
 * XOAUTH2 and OAUTHBEARER: one message from the client. A failure comes
 * as a 334 carrying the server's JSON error, which the client must
 * answer (XOAUTH2: empty; RFC 7628 §3.2.3: a single ^A) before the
 * server's final 5xx.
 */
static int
auth_step_oauth(struct auth *a, const char *raw, size_t rawlen, char **out,
	struct error *err)
{
	struct buf b;
	int ret = -1;

	(void)raw;
	(void)rawlen;
	buf_init(&b, AUTH_CHALLENGE_MAX);
	if (a->steps == 0) {
		if (auth_oauth_initial(a, &b) < 0) {
			error_set(err, ERR_CONFIG, "AUTH %s: token too long",
				a->mech);
			goto out;
		}
	} else if (a->steps == 1) {
		if (a->kind == AUTH_OAUTHBEARER)
			buf_addch(&b, '\001');
	} else {
		error_set(err, ERR_PROTOCOL,
			"AUTH %s: the server sent a challenge after the "
			"exchange was complete",
			a->mech);
		goto out;
	}
	if (auth_encode(a, b.data, b.len, out, err) < 0)
		goto out;
	a->done = 1;
	ret = 0;
out:
	explicit_bzero(b.data, b.len);
	buf_release(&b);
	return ret;
}

int
auth_step(struct auth *a, const char *in, char **out, struct error *err)
{
	char *raw = NULL;
	size_t rawlen = 0;
	int ret;

	*out = NULL;
	if (auth_decode(a, in, &raw, &rawlen, err) < 0)
		return -1;
	if (a->kind == AUTH_GSASL)
		ret = auth_step_gsasl(a, raw, rawlen, out, err);
	else
		ret = auth_step_oauth(a, raw, rawlen, out, err);
	a->steps++;
	gsasl_free(raw);
	return ret;
}

int
auth_check_success(const struct auth *a, struct error *err)
{
	if (a->scram && !a->done) {
		error_set(err, ERR_AUTH,
			"AUTH %s: the server accepted without proving that it "
			"knows the password (no SCRAM server signature; man in "
			"the middle?)",
			a->mech);
		return -1;
	}
	return 0;
}

/* Properties that are the password or equal to it for SCRAM (RFC 5802
   §5: SaltedPassword lets anyone log in as the user). */
static const Gsasl_property auth_secret_props[] = {
	GSASL_PASSWORD,
	GSASL_SCRAM_SALTED_PASSWORD,
	GSASL_DIGEST_MD5_HASHED_PASSWORD,
	GSASL_SCRAM_SERVERKEY,
	GSASL_SCRAM_STOREDKEY,
};

/* libgsasl frees its property copies without wiping them: wipe first. */
static void
auth_wipe_session(Gsasl_session *sess)
{
	size_t i;

	for (i = 0;
		i < sizeof(auth_secret_props) / sizeof(auth_secret_props[0]);
		i++) {
		const char *v = gsasl_property_fast(sess, auth_secret_props[i]);

		if (v)
			explicit_bzero((char *)v, strlen(v));
	}
}

void
auth_finish(struct auth *a)
{
	if (!a)
		return;
	if (a->sess) {
		auth_wipe_session(a->sess);
		gsasl_finish(a->sess);
	}
	if (a->ctx)
		gsasl_done(a->ctx);
	if (a->password)
		auth_wipe_free(a->password, strlen(a->password));
	free(a->user);
	free(a->host);
	free(a->cb_b64);
	free(a);
}
