/*
 * test_auth.c - mechanism choice, the exact wire form of PLAIN, LOGIN,
 * XOAUTH2 and OAUTHBEARER, and whole SCRAM exchanges against libgsasl's
 * server side (with and without channel binding, and with a server-final
 * message whose signature is forged).
 */
#include "autoconf.h"

#include <gsasl.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "check.h"

static const unsigned char cb_a[] = "fake tls-exporter data, 32 bytes";
static const unsigned char cb_b[] = "other tls-exporter data, 32 byte";

static struct auth_params
params(const char *mech)
{
	struct auth_params p;

	memset(&p, 0, sizeof(p));
	p.mech = mech;
	p.user = "alice";
	p.password = "s3cret";
	p.host = "smtp.example.org";
	return p;
}

static void
with_cb(struct auth_params *p, const char *type, const unsigned char *data)
{
	p->cb_type = type;
	p->cb_data = data;
	p->cb_len = 32;
}

static const char *
choose(const char *server, const struct auth_params *p)
{
	struct error err;

	error_clear(&err);
	return auth_choose(server, p, &err);
}

static void
test_choose_auto(void)
{
	struct auth_params p = params(NULL);
	const char *all = "LOGIN PLAIN SCRAM-SHA-1 SCRAM-SHA-256 "
			  "SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS CRAM-MD5";

	/* Without channel binding data, PLUS is never chosen. */
	CHECK_STR(choose(all, &p), "SCRAM-SHA-256");
	CHECK_STR(choose("SCRAM-SHA-256-PLUS SCRAM-SHA-1 PLAIN", &p),
		"SCRAM-SHA-1");
	CHECK(choose("SCRAM-SHA-256-PLUS", &p) == NULL);
	/* The strongest both have, whatever the server's order. */
	CHECK_STR(choose("PLAIN SCRAM-SHA-1", &p), "SCRAM-SHA-1");
	CHECK_STR(choose("LOGIN PLAIN", &p), "PLAIN");
	CHECK_STR(choose("CRAM-MD5 LOGIN", &p), "LOGIN");
	CHECK_STR(choose("login plain", &p), "PLAIN");
	CHECK_STR(choose("  PLAIN\tLOGIN ", &p), "PLAIN");
	/* Prefixes of names are not names. */
	CHECK(choose("PLAINX SCRAM-SHA-2567", &p) == NULL);
	/* "on" is the automatic choice too. */
	p.mech = "on";
	CHECK_STR(choose("PLAIN LOGIN", &p), "PLAIN");

	/* With channel binding: PLUS first, SHA-256 over SHA-1. */
	p = params(NULL);
	with_cb(&p, "tls-exporter", cb_a);
	CHECK_STR(choose(all, &p), "SCRAM-SHA-256-PLUS");
	CHECK_STR(choose("SCRAM-SHA-1-PLUS SCRAM-SHA-256 PLAIN", &p),
		"SCRAM-SHA-1-PLUS");
	CHECK_STR(choose("SCRAM-SHA-256 PLAIN", &p), "SCRAM-SHA-256");

	/* EXTERNAL first, but only with a client certificate. */
	p = params(NULL);
	CHECK_STR(choose("EXTERNAL PLAIN", &p), "PLAIN");
	CHECK(choose("EXTERNAL", &p) == NULL);
	p.client_cert = 1;
	with_cb(&p, "tls-exporter", cb_a);
	CHECK_STR(choose("PLAIN SCRAM-SHA-256-PLUS EXTERNAL", &p), "EXTERNAL");
	CHECK_STR(choose("PLAIN SCRAM-SHA-256-PLUS", &p), "SCRAM-SHA-256-PLUS");
}

static void
test_choose_auto_only_when_named(void)
{
	struct auth_params p = params(NULL);
	struct error err;

	/* These are never chosen by themselves. */
	CHECK(choose("CRAM-MD5 DIGEST-MD5 NTLM GSSAPI XOAUTH2 OAUTHBEARER",
		      &p) == NULL);
	error_clear(&err);
	CHECK(auth_choose("CRAM-MD5 NTLM", &p, &err) == NULL);
	CHECK_INT(err.cls, ERR_UNAVAILABLE);
	CHECK(strstr(err.text, "server offers AUTH CRAM-MD5 NTLM") != NULL);
	CHECK(strstr(err.text, "auth MECH") != NULL);
	/* An empty or missing list. */
	CHECK(choose("", &p) == NULL);
	CHECK(choose(NULL, &p) == NULL);
}

static void
test_choose_named(void)
{
	struct auth_params p = params("CRAM-MD5");
	struct error err;

	CHECK_STR(choose("PLAIN CRAM-MD5", &p), "CRAM-MD5");
	p.mech = "cram-md5";
	CHECK_STR(choose("PLAIN CRAM-MD5", &p), "CRAM-MD5");
	p.mech = "XOAUTH2";
	CHECK_STR(choose("PLAIN XOAUTH2", &p), "XOAUTH2");
	p.mech = "OAUTHBEARER";
	CHECK_STR(choose("OAUTHBEARER", &p), "OAUTHBEARER");
	p.mech = "DIGEST-MD5";
	CHECK_STR(choose("DIGEST-MD5", &p), "DIGEST-MD5");
	p.mech = "LOGIN"; /* named: used even when stronger ones exist */
	CHECK_STR(choose("SCRAM-SHA-256 PLAIN LOGIN", &p), "LOGIN");

	/* Named but not offered: the message says what is. */
	p.mech = "SCRAM-SHA-256";
	error_clear(&err);
	CHECK(auth_choose("PLAIN LOGIN", &p, &err) == NULL);
	CHECK_INT(err.cls, ERR_UNAVAILABLE);
	CHECK_STR(
		err.text, "server offers AUTH PLAIN LOGIN, not SCRAM-SHA-256");

	/* Untrusted server text is escaped in the message. */
	error_clear(&err);
	CHECK(auth_choose("PLAIN\033[2J", &p, &err) == NULL);
	CHECK(strchr(err.text, '\033') == NULL);

	/* A PLUS mechanism named without TLS cannot work. */
	p.mech = "SCRAM-SHA-256-PLUS";
	error_clear(&err);
	CHECK(auth_choose("SCRAM-SHA-256-PLUS", &p, &err) == NULL);
	CHECK_INT(err.cls, ERR_UNAVAILABLE);
	with_cb(&p, "tls-unique", cb_a);
	CHECK_STR(choose("SCRAM-SHA-256-PLUS", &p), "SCRAM-SHA-256-PLUS");

	/* A name postie does not know. */
	p.mech = "SCRAM-SHA-512";
	error_clear(&err);
	CHECK(auth_choose("SCRAM-SHA-512", &p, &err) == NULL);
	CHECK_INT(err.cls, ERR_UNAVAILABLE);
}

static void
test_initial_response(void)
{
	CHECK_INT(auth_has_initial_response("PLAIN"), 1);
	CHECK_INT(auth_has_initial_response("EXTERNAL"), 1);
	CHECK_INT(auth_has_initial_response("SCRAM-SHA-256"), 1);
	CHECK_INT(auth_has_initial_response("SCRAM-SHA-1-PLUS"), 1);
	CHECK_INT(auth_has_initial_response("XOAUTH2"), 1);
	CHECK_INT(auth_has_initial_response("OAUTHBEARER"), 1);
	CHECK_INT(auth_has_initial_response("LOGIN"), 0);
	CHECK_INT(auth_has_initial_response("CRAM-MD5"), 0);
	CHECK_INT(auth_has_initial_response("DIGEST-MD5"), 0);
	CHECK_INT(auth_has_initial_response("BOGUS"), 0);
	CHECK_INT(auth_has_initial_response(NULL), 0);
}

/* One step, returning the response (caller frees) or NULL on error. */
static char *
step(struct auth *a, const char *in, int want_rc, struct error *err)
{
	char *out = NULL;
	int rc;

	error_clear(err);
	rc = auth_step(a, in, &out, err);
	CHECK_INT(rc, want_rc);
	if (rc < 0) {
		CHECK(out == NULL);
		return NULL;
	}
	return out;
}

static void
test_plain_login(void)
{
	struct auth_params p = params(NULL);
	struct auth *a;
	struct error err;
	char *out;

	/* PLAIN (RFC 4616): NUL authzid NUL user NUL password. */
	CHECK_INT(auth_start(&a, "PLAIN", &p, &err), 0);
	out = step(a, NULL, 0, &err);
	CHECK_STR(out, "AGFsaWNlAHMzY3JldA==");
	auth_response_free(out);
	CHECK_INT(auth_check_success(a, &err), 0);
	/* A challenge after PLAIN completed breaks the protocol. */
	out = step(a, "", -1, &err);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	auth_finish(a);

	/* LOGIN: the user, then the password, whatever the prompts say. */
	CHECK_INT(auth_start(&a, "LOGIN", &p, &err), 0);
	out = step(a, "VXNlcm5hbWU6", 1, &err); /* "Username:" */
	CHECK_STR(out, "YWxpY2U=");
	auth_response_free(out);
	out = step(a, "UGFzc3dvcmQ6", 0, &err); /* "Password:" */
	CHECK_STR(out, "czNjcmV0");
	auth_response_free(out);
	auth_finish(a);

	/* A challenge that is not base64 is a protocol error. */
	CHECK_INT(auth_start(&a, "LOGIN", &p, &err), 0);
	out = step(a, "VXNlcm5hbWU6!", -1, &err);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	out = step(a, "VXNlcm5hbWU", -1, &err); /* length not 4n */
	CHECK_INT(err.cls, ERR_PROTOCOL);
	out = step(a, "VX=lcm5h", -1, &err); /* padding inside */
	CHECK_INT(err.cls, ERR_PROTOCOL);
	out = step(a, "VXNl cm5h", -1, &err); /* a space */
	CHECK_INT(err.cls, ERR_PROTOCOL);
	out = step(a, "VXNlcm5h====", -1, &err); /* a padding block */
	CHECK_INT(err.cls, ERR_PROTOCOL);
	out = step(a, "=", -1, &err);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	CHECK(strstr(err.text, "base64") != NULL);
	auth_finish(a);

	/* PLAIN without a user is a configuration error. */
	p.user = NULL;
	CHECK_INT(auth_start(&a, "PLAIN", &p, &err), 0);
	out = step(a, NULL, -1, &err);
	CHECK_INT(err.cls, ERR_CONFIG);
	auth_finish(a);

	/* EXTERNAL: an empty initial response (sent as "="). */
	p = params("EXTERNAL");
	p.password = NULL;
	CHECK_INT(auth_start(&a, "EXTERNAL", &p, &err), 0);
	out = step(a, NULL, 0, &err);
	CHECK_STR(out, "");
	free(out);
	auth_finish(a);
}

static void
test_oauth(void)
{
	struct auth_params p = params("XOAUTH2");
	struct auth *a;
	struct error err;
	char *out;

	/* XOAUTH2: Google's documented example, byte for byte. */
	p.user = "someuser@example.com";
	p.password = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg";
	CHECK_INT(auth_start(&a, "XOAUTH2", &p, &err), 0);
	out = step(a, NULL, 0, &err);
	CHECK_STR(out,
		"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5"
		"LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cB"
		"AQ==");
	auth_response_free(out);
	/* The error challenge (JSON) is answered with an empty line. */
	out = step(a, "eyJzdGF0dXMiOiI0MDEifQ==", 0, &err);
	CHECK_STR(out, "");
	free(out);
	out = step(a, "", -1, &err);
	CHECK_INT(err.cls, ERR_PROTOCOL);
	auth_finish(a);

	/* OAUTHBEARER (RFC 7628): gs2 header with the escaped user, host,
	   port, token; an error challenge is answered with ^A. */
	p = params("OAUTHBEARER");
	p.user = "al,ice=";
	p.password = "ya29.tok";
	p.port = 587;
	CHECK_INT(auth_start(&a, "OAUTHBEARER", &p, &err), 0);
	out = step(a, NULL, 0, &err);
	CHECK_STR(out,
		"bixhPWFsPTJDaWNlPTNELAFob3N0PXNtdHAuZXhhbXBsZS5vcmcBcG9y"
		"dD01ODcBYXV0aD1CZWFyZXIgeWEyOS50b2sBAQ==");
	auth_response_free(out);
	out = step(a, "eyJzdGF0dXMiOiI0MDEifQ==", 0, &err);
	CHECK_STR(out, "AQ==");
	free(out);
	auth_finish(a);
}

/* --- the server side, from libgsasl, for SCRAM ---------------------- */

struct server {
	const char *password;
	const char *cb_exporter; /* base64, or NULL */
	const char *cb_unique;
};

static int
server_callback(Gsasl *ctx, Gsasl_session *sess, Gsasl_property prop)
{
	struct server *s = gsasl_callback_hook_get(ctx);
	const char *v = NULL;

	switch (prop) {
	case GSASL_PASSWORD:
		v = s->password;
		break;
	case GSASL_CB_TLS_EXPORTER:
		v = s->cb_exporter;
		break;
	case GSASL_CB_TLS_UNIQUE:
		v = s->cb_unique;
		break;
	default:
		break;
	}
	if (!v)
		return GSASL_NO_CALLBACK;
	return gsasl_property_set(sess, prop, v);
}

static char *
b64(const unsigned char *data, size_t len)
{
	char *out = NULL;

	gsasl_base64_to((const char *)data, len, &out, NULL);
	return out;
}

/* Replace the last character of the "v=" signature: a forged signature
   that is still well-formed base64. */
static char *
forge_server_final(const char *s64)
{
	char *raw = NULL, *out = NULL;
	size_t len = 0;

	gsasl_base64_from(s64, strlen(s64), &raw, &len);
	if (raw && len > 4 && memcmp(raw, "v=", 2) == 0) {
		char *c = raw + 2;
		c[0] = c[0] == 'A' ? 'B' : 'A';
		gsasl_base64_to(raw, len, &out, NULL);
	}
	gsasl_free(raw);
	return out;
}

enum scram_end {
	SCRAM_OK,       /* the whole exchange succeeds */
	SCRAM_FORGED,   /* the server-final signature is forged */
	SCRAM_REFUSED,  /* the server refuses the client's proof */
	SCRAM_NO_FINAL, /* the server says 235 without its signature */
	SCRAM_E_FINAL,  /* the server-final carries e=... */
};

/*
 * One SCRAM exchange between auth.c and libgsasl's server. Returns what
 * the last client step returned; err holds the client's error.
 */
static int
scram_run(const char *mech, const struct auth_params *p, struct server *srv,
	enum scram_end end, struct error *err)
{
	Gsasl *ctx;
	Gsasl_session *ss = NULL;
	struct auth *a = NULL;
	char *c1 = NULL, *s1 = NULL, *c2 = NULL, *s2 = NULL, *c3 = NULL;
	int rc = -2, src;

	if (gsasl_init(&ctx) != GSASL_OK)
		return -2;
	gsasl_callback_hook_set(ctx, srv);
	gsasl_callback_set(ctx, server_callback);
	if (gsasl_server_start(ctx, mech, &ss) != GSASL_OK)
		goto out;
	error_clear(err);
	if (auth_start(&a, mech, p, err) < 0)
		goto out;
	if ((rc = auth_step(a, NULL, &c1, err)) != 1)
		goto out;
	src = gsasl_step64(ss, c1, &s1);
	CHECK_INT(src, GSASL_NEEDS_MORE);
	if ((rc = auth_step(a, s1, &c2, err)) != 1)
		goto out;
	src = gsasl_step64(ss, c2, &s2);
	if (end == SCRAM_REFUSED) {
		CHECK_INT(src, GSASL_AUTHENTICATION_ERROR);
		goto out;
	}
	CHECK_INT(src, GSASL_OK);
	if (end == SCRAM_NO_FINAL) {
		rc = auth_check_success(a, err);
		goto out;
	}
	if (end == SCRAM_FORGED) {
		char *forged = forge_server_final(s2);
		CHECK(forged != NULL);
		gsasl_free(s2);
		s2 = forged;
	}
	if (end == SCRAM_E_FINAL) {
		gsasl_free(s2);
		s2 = b64((const unsigned char *)"e=invalid-proof", 15);
	}
	rc = auth_step(a, s2, &c3, err);
	if (rc == 0) {
		CHECK_STR(c3, ""); /* the empty line after server-final */
		CHECK_INT(auth_check_success(a, err), 0);
	}
out:
	auth_finish(a);
	gsasl_finish(ss);
	gsasl_done(ctx);
	free(c1);
	free(c2);
	free(c3);
	gsasl_free(s1);
	gsasl_free(s2);
	return rc;
}

/*
 * Any mechanism against libgsasl's server, played as SMTP would: AUTH
 * with the initial response when the mechanism has one, else an empty
 * first challenge; 334 lines until the server is done. Returns 0 when
 * both sides agree the user is authenticated.
 */
static int
exchange_run(const char *mech, const struct auth_params *p, struct server *srv)
{
	Gsasl *ctx;
	Gsasl_session *ss = NULL;
	struct auth *a = NULL;
	struct error err;
	char *to_server = NULL, *sv = NULL;
	int i, src, rc = -1;

	if (gsasl_init(&ctx) != GSASL_OK)
		return -1;
	gsasl_callback_hook_set(ctx, srv);
	gsasl_callback_set(ctx, server_callback);
	error_clear(&err);
	if (gsasl_server_start(ctx, mech, &ss) != GSASL_OK ||
		auth_start(&a, mech, p, &err) < 0)
		goto out;
	if (auth_has_initial_response(mech) &&
		auth_step(a, NULL, &to_server, &err) < 0)
		goto out;
	for (i = 0; i < 8; i++) {
		src = gsasl_step64(ss, to_server ? to_server : "", &sv);
		auth_response_free(to_server);
		to_server = NULL;
		if (src != GSASL_OK && src != GSASL_NEEDS_MORE)
			goto out; /* the server refuses: 535 */
		if (src == GSASL_OK && (!sv || !*sv))
			break; /* 235 */
		/* 334: a challenge, or the server's last word */
		if (auth_step(a, sv, &to_server, &err) < 0)
			goto out;
		gsasl_free(sv);
		sv = NULL;
		if (src == GSASL_OK)
			break; /* the empty line, then 235 */
	}
	rc = i < 8 ? auth_check_success(a, &err) : -1;
out:
	auth_response_free(to_server);
	gsasl_free(sv);
	auth_finish(a);
	gsasl_finish(ss);
	gsasl_done(ctx);
	return rc;
}

static void
test_exchanges(void)
{
	struct auth_params p = params(NULL);
	struct server srv = {"s3cret", NULL, NULL};
	const char *mechs[] = {"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5",
		"SCRAM-SHA-1", "SCRAM-SHA-256"};
	size_t i;

	/* Each mechanism works end to end with the right password, and
	   fails with the wrong one. */
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		srv.password = "s3cret";
		CHECK_INT(exchange_run(mechs[i], &p, &srv), 0);
		srv.password = "other";
		CHECK_INT(exchange_run(mechs[i], &p, &srv), -1);
	}
}

static void
test_scram(void)
{
	struct auth_params p = params(NULL);
	struct server srv = {"s3cret", NULL, NULL};
	struct error err;

	/* Both sides know the password: the exchange completes. */
	CHECK_INT(scram_run("SCRAM-SHA-256", &p, &srv, SCRAM_OK, &err), 0);
	CHECK_INT(scram_run("SCRAM-SHA-1", &p, &srv, SCRAM_OK, &err), 0);

	/* A forged server signature: ERR_AUTH with the words for it. */
	CHECK_INT(scram_run("SCRAM-SHA-256", &p, &srv, SCRAM_FORGED, &err), -1);
	CHECK_INT(err.cls, ERR_AUTH);
	CHECK_STR(err.text, "SCRAM server signature does not verify: the "
			    "server does not know the password (man in the "
			    "middle?)");
	CHECK(strstr(err.text, "s3cret") == NULL);
	CHECK_INT(scram_run("SCRAM-SHA-1", &p, &srv, SCRAM_FORGED, &err), -1);
	CHECK_INT(err.cls, ERR_AUTH);

	/* A server that accepts without proving itself is refused too. */
	CHECK_INT(
		scram_run("SCRAM-SHA-256", &p, &srv, SCRAM_NO_FINAL, &err), -1);
	CHECK_INT(err.cls, ERR_AUTH);

	/* A server-final error ("e=") is a refusal, quoted. */
	CHECK_INT(
		scram_run("SCRAM-SHA-256", &p, &srv, SCRAM_E_FINAL, &err), -1);
	CHECK_INT(err.cls, ERR_AUTH);
	CHECK(strstr(err.text, "invalid-proof") != NULL);

	/* The wrong password: the server refuses the client's proof. */
	srv.password = "other";
	scram_run("SCRAM-SHA-256", &p, &srv, SCRAM_REFUSED, &err);
}

static void
test_scram_plus(void)
{
	struct auth_params p = params(NULL);
	struct server srv = {"s3cret", NULL, NULL};
	struct error err;
	char *a64 = b64(cb_a, 32), *b64_ = b64(cb_b, 32);

	/* tls-exporter (TLS 1.3): the same binding on both ends. */
	with_cb(&p, "tls-exporter", cb_a);
	srv.cb_exporter = a64;
	CHECK_INT(scram_run("SCRAM-SHA-256-PLUS", &p, &srv, SCRAM_OK, &err), 0);
	CHECK_INT(scram_run("SCRAM-SHA-256-PLUS", &p, &srv, SCRAM_FORGED, &err),
		-1);
	CHECK_INT(err.cls, ERR_AUTH);
	/* A different binding (a man in the middle terminating TLS): the
	   server refuses, so the binding really went into the proof. */
	srv.cb_exporter = b64_;
	scram_run("SCRAM-SHA-256-PLUS", &p, &srv, SCRAM_REFUSED, &err);

	/* tls-unique (TLS 1.2) with SHA-1. */
	with_cb(&p, "tls-unique", cb_a);
	srv.cb_exporter = NULL;
	srv.cb_unique = a64;
	CHECK_INT(scram_run("SCRAM-SHA-1-PLUS", &p, &srv, SCRAM_OK, &err), 0);
	srv.cb_unique = b64_;
	scram_run("SCRAM-SHA-1-PLUS", &p, &srv, SCRAM_REFUSED, &err);

	/* Plain SCRAM on a TLS connection (the server offers no PLUS):
	   works, binding data is not used. */
	srv.cb_unique = NULL;
	CHECK_INT(scram_run("SCRAM-SHA-256", &p, &srv, SCRAM_OK, &err), 0);

	/* PLUS without binding data cannot start. */
	p = params(NULL);
	error_clear(&err);
	{
		struct auth *a = NULL;
		CHECK_INT(auth_start(&a, "SCRAM-SHA-256-PLUS", &p, &err), -1);
		CHECK_INT(err.cls, ERR_UNAVAILABLE);
		CHECK(a == NULL);
	}
	free(a64);
	free(b64_);
}

int
main(void)
{
	test_choose_auto();
	test_choose_auto_only_when_named();
	test_choose_named();
	test_initial_response();
	test_plain_login();
	test_oauth();
	test_exchanges();
	test_scram();
	test_scram_plus();
	return check_finish();
}
