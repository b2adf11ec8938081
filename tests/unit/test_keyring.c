/*
 * test_keyring.c - the keyring step of secret_lookup, run by
 * tests/interop/keyring.sh (not on its own: most modes need the D-Bus
 * session and the gnome-keyring that script starts).
 *
 *   test_keyring built   exit 0 when this build has keyring support
 *   test_keyring stub    the build without it: "not found", and says so
 *   test_keyring live    against the keyring holding the entries below
 *   test_keyring nobus   no session bus: passed over, libsecret not loaded
 *   test_keyring badbus  a bus address nobody listens on: the reason shown
 *
 * The entries keyring.sh stores with secret-tool (keep the two in step):
 *   host 127.0.0.1 service smtp user alice          -> PW_ALICE
 *   host 127.0.0.1 service imap user carol          -> "imap only"
 *   xdg:schema org.gnome.keyring.NetworkPassword
 *     server 127.0.0.1 protocol smtp user bob       -> PW_BOB
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "keyring.h"
#include "secret.h"

#define PW_ALICE "Alice's keyring pw \xc3\xbc \"q\""
#define PW_BOB   "bob-old-libgnome-keyring-pw"

static char home[] = "/tmp/postie-test-keyring-XXXXXX";

static struct secret_query
query(const char *user)
{
	struct secret_query q;

	memset(&q, 0, sizeof(q));
	q.host = "127.0.0.1";
	q.port = 587;
	q.user = user;
	q.account = "kr";
	return q;
}

/* Whether libsecret (and with it GLib) is in this process. */
static int
libsecret_loaded(void)
{
	void *h = dlopen("libsecret-1.so.0", RTLD_LAZY | RTLD_NOLOAD);

	if (h)
		dlclose(h);
	return h != NULL;
}

static void
write_netrc(const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/.netrc", home);
	if (!text) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

/* secret_lookup's answer for user, or NULL with err filled. */
static char *
lookup(const struct secret_query *q, struct error *err)
{
	char *out = NULL;

	error_clear(err);
	if (secret_lookup(q, &out, err) < 0)
		CHECK(out == NULL);
	return out;
}

/* The password key, passwordeval and netrc come before the keyring, and
   when they answer, libsecret is not even loaded. */
static void
test_earlier_sources_win(void)
{
	struct secret_query q = query("alice");
	struct error err;
	char *pw;

	CHECK(!libsecret_loaded());
	q.password = "from-config";
	pw = lookup(&q, &err);
	CHECK_STR(pw, "from-config");
	secret_free(pw);
	q.password = NULL;
	q.passwordeval = "printf from-eval";
	pw = lookup(&q, &err);
	CHECK_STR(pw, "from-eval");
	secret_free(pw);
	q.passwordeval = NULL;
	write_netrc("machine 127.0.0.1 login alice password from-netrc\n");
	pw = lookup(&q, &err);
	CHECK_STR(pw, "from-netrc");
	secret_free(pw);
	write_netrc(NULL);
	CHECK(!libsecret_loaded());
}

/* msmtp's entries (host, service smtp, user) are found, byte for byte;
   host, user and service must all match. */
static void
test_msmtp_entries(void)
{
	char *pw = NULL, why[512];

	CHECK_INT(
		keyring_lookup("127.0.0.1", "alice", &pw, why, sizeof(why)), 1);
	CHECK_STR(pw, PW_ALICE);
	secret_free(pw);
	CHECK(libsecret_loaded());
	CHECK_INT(keyring_lookup("127.0.0.1", "mallory", &pw, why, sizeof(why)),
		0);
	CHECK(pw == NULL);
	CHECK_STR(why, "");
	CHECK_INT(
		keyring_lookup("127.0.0.2", "alice", &pw, why, sizeof(why)), 0);
	CHECK_STR(why, "");
	/* carol's entry is for service imap, not smtp. */
	CHECK_INT(
		keyring_lookup("127.0.0.1", "carol", &pw, why, sizeof(why)), 0);
	CHECK(pw == NULL);
	/* The older libgnome-keyring network schema, as msmtp reads it. */
	CHECK_INT(keyring_lookup("127.0.0.1", "bob", &pw, why, sizeof(why)), 1);
	CHECK_STR(pw, PW_BOB);
	secret_free(pw);
}

/* No user or host: nothing to look up, and no error. Names that are not
   UTF-8 are passed over with a reason, not handed to libsecret (which
   would print a warning). */
static void
test_odd_queries(void)
{
	char *pw = NULL, why[512];

	CHECK_INT(keyring_lookup("127.0.0.1", NULL, &pw, why, sizeof(why)), 0);
	CHECK_STR(why, "");
	CHECK_INT(keyring_lookup(NULL, "alice", &pw, why, sizeof(why)), 0);
	CHECK_INT(
		keyring_lookup("127.0.0.1", "al\xffice", &pw, why, sizeof(why)),
		0);
	CHECK(pw == NULL);
	CHECK(strstr(why, "UTF-8") != NULL);
}

/* In secret_lookup's order: no netrc entry, so the keyring answers; with
   no entry anywhere the error names the user, not any password. */
static void
test_lookup_order(void)
{
	struct secret_query q = query("alice");
	struct error err;
	char *pw;

	write_netrc("machine 127.0.0.1 login bob password not-alices\n");
	pw = lookup(&q, &err);
	CHECK_STR(pw, PW_ALICE);
	secret_free(pw);
	q = query("mallory");
	pw = lookup(&q, &err);
	CHECK(pw == NULL);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK(strstr(err.text, "no password for mallory at 127.0.0.1") != NULL);
	CHECK(strstr(err.text, "or a keyring entry") != NULL);
	CHECK(strstr(err.text, "keyring pw") == NULL);
	CHECK(strstr(err.text, "not-alices") == NULL);
	write_netrc(NULL);
}

static void
test_live(void)
{
	test_earlier_sources_win();
	test_msmtp_entries();
	test_odd_queries();
	test_lookup_order();
}

/* A keyring that cannot be asked is passed over; the reason is in the
   "no password" error (with_reason), and GLib stays out when there is no
   bus at all (loaded). */
static void
test_unreachable(const char *with_reason, int loaded)
{
	struct secret_query q = query("alice");
	struct error err;
	char *pw = NULL, why[512];

	CHECK_INT(
		keyring_lookup("127.0.0.1", "alice", &pw, why, sizeof(why)), 0);
	CHECK(pw == NULL);
	CHECK(strstr(why, with_reason) != NULL);
	CHECK_INT(libsecret_loaded(), loaded);
	pw = lookup(&q, &err);
	CHECK(pw == NULL);
	CHECK_INT(err.cls, ERR_CONFIG);
	CHECK(strstr(err.text, "keyring: ") != NULL);
	CHECK(strstr(err.text, with_reason) != NULL);
	if (!strstr(err.text, with_reason))
		fprintf(stderr, "error text: %s\n", err.text);
}

/* The build without --with-libsecret: never a password, and the error
   says why rather than pretending the keyring was asked. */
static void
test_stub(void)
{
	CHECK_INT(keyring_built(), 0);
	test_unreachable("this build has no keyring support", 0);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	char path[256];

	if (strcmp(mode, "built") == 0)
		return keyring_built() ? 0 : 1;
	if (!mkdtemp(home))
		return 2;
	setenv("HOME", home, 1);
	if (strcmp(mode, "stub") == 0)
		test_stub();
	else if (strcmp(mode, "live") == 0)
		test_live();
	else if (strcmp(mode, "nobus") == 0)
		test_unreachable("no D-Bus session bus", 0);
	else if (strcmp(mode, "badbus") == 0)
		test_unreachable("the Secret Service failed", 1);
	else {
		fprintf(stderr, "usage: test_keyring "
				"built|stub|live|nobus|badbus\n");
		check_failed++;
	}
	snprintf(path, sizeof(path), "%s/.netrc", home);
	unlink(path);
	rmdir(home);
	return check_finish();
}
