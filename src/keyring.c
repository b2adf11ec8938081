/*
 * keyring.c - passwords from the freedesktop Secret Service through
 * libsecret (configure --with-libsecret).
 *
 * libsecret is loaded with dlopen when a look-up is made, not linked: it
 * brings GLib, GObject and GIO (their constructors, a GDBus worker
 * thread), which a run whose password comes from the config, a command or
 * netrc, or that needs none, should not pay for. Only libsecret's headers
 * are used at build time, for the SecretSchema layout and the function
 * types; the symbols are looked up by name in libsecret-1.so.0, whose ABI
 * is stable under that soname. The library is never unloaded: GLib cannot
 * be (its type registry and worker thread outlive any call).
 *
 * Entries are msmtp's (see keyring.h), so the look-up uses msmtp's schema:
 * its name is not matched (SECRET_SCHEMA_DONT_MATCH_NAME), because
 * `secret-tool store` writes no xdg:schema attribute, only the ones given.
 *
 * Without a session bus there is no keyring to ask; GLib would then try
 * to autolaunch one (a dbus-daemon left running when $DISPLAY is set), so
 * the bus is looked for first, as GLib itself finds it, without
 * autolaunch.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libsecret/secret.h>

#include "buf.h"
#include "keyring.h"
#include "log.h"
#include "xmalloc.h"

#define KEYRING_LIBRARY "libsecret-1.so.0"
#define KEYRING_SERVICE "smtp" /* msmtp's "service" for SMTP passwords */

/* The functions used, found by name in the loaded library. */
struct keyring_lib {
	gchar *(*lookup)(const SecretSchema *, GCancellable *, GError **, ...);
	void (*password_free)(gchar *);
	const SecretSchema *(*get_schema)(SecretSchemaType);
	gboolean (*utf8_validate)(const gchar *, gssize, const gchar **);
	void (*error_free)(GError *);
};

/* msmtp's schema, attribute for attribute. */
static const SecretSchema keyring_msmtp_schema = {
	.name = "de.marlam.msmtp.password",
	.flags = SECRET_SCHEMA_DONT_MATCH_NAME,
	.attributes =
		{
			{"host", SECRET_SCHEMA_ATTRIBUTE_STRING},
			{"service", SECRET_SCHEMA_ATTRIBUTE_STRING},
			{"user", SECRET_SCHEMA_ATTRIBUTE_STRING},
			{NULL, 0},
		},
};

static void
keyring_why(char *why, size_t why_size, const char *what, const char *detail)
{
	char esc[512];

	if (why_size == 0)
		return;
	if (!detail) {
		snprintf(why, why_size, "%s", what);
		return;
	}
	/* GLib's and the loader's texts are not ours: show them inert. */
	log_escape(esc, sizeof(esc), detail, strlen(detail));
	snprintf(why, why_size, "%s: %s", what, esc);
}

/*
 * Where GLib finds the session bus: DBUS_SESSION_BUS_ADDRESS, else the
 * socket $XDG_RUNTIME_DIR/bus (a systemd user session).
 */
static int
keyring_bus_present(void)
{
	const char *addr = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *run = getenv("XDG_RUNTIME_DIR");
	struct buf path;
	struct stat st;
	int found = 0;

	if (addr && *addr)
		return 1;
	if (!run || *run != '/')
		return 0;
	buf_init(&path, 64 * 1024);
	if (buf_printf(&path, "%s/bus", run) == 0 &&
		stat(path.data, &st) == 0 && S_ISSOCK(st.st_mode))
		found = 1;
	buf_release(&path);
	return found;
}

/* dlsym's object pointer into a function pointer, as POSIX allows. */
static int
keyring_sym(void *handle, const char *name, void *fn)
{
	void *p = dlsym(handle, name);

	if (!p)
		return -1;
	memcpy(fn, &p, sizeof(p));
	return 0;
}

static int
keyring_load(struct keyring_lib *lib, char *why, size_t why_size)
{
	void *h = dlopen(KEYRING_LIBRARY, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		keyring_why(why, why_size, "cannot load " KEYRING_LIBRARY,
			dlerror());
		return -1;
	}
	/* GLib's symbols come from libsecret's own dependencies. */
	if (keyring_sym(h, "secret_password_lookup_sync", &lib->lookup) < 0 ||
		keyring_sym(h, "secret_password_free", &lib->password_free) <
			0 ||
		keyring_sym(h, "secret_get_schema", &lib->get_schema) < 0 ||
		keyring_sym(h, "g_utf8_validate", &lib->utf8_validate) < 0 ||
		keyring_sym(h, "g_error_free", &lib->error_free) < 0) {
		keyring_why(why, why_size,
			KEYRING_LIBRARY " lacks a function postie needs",
			dlerror());
		return -1;
	}
	return 0;
}

/*
 * msmtp's entry, then one of the older libgnome-keyring network schema
 * (msmtp reads both). A Secret Service error ends the search: the second
 * look-up would only fail the same way.
 */
static gchar *
keyring_search(const struct keyring_lib *lib, const char *host,
	const char *user, GError **gerr)
{
	gchar *pw;

	pw = lib->lookup(&keyring_msmtp_schema, NULL, gerr, "host", host,
		"service", KEYRING_SERVICE, "user", user, (char *)NULL);
	if (pw || *gerr)
		return pw;
	return lib->lookup(lib->get_schema(SECRET_SCHEMA_TYPE_COMPAT_NETWORK),
		NULL, gerr, "user", user, "protocol", KEYRING_SERVICE, "server",
		host, (char *)NULL);
}

static int
keyring_ask(const struct keyring_lib *lib, const char *host, const char *user,
	char **out, char *why, size_t why_size)
{
	GError *gerr = NULL;
	gchar *pw;
	int found = 0;

	/* libsecret would refuse them with a warning on stderr. */
	if (!lib->utf8_validate(host, -1, NULL) ||
		!lib->utf8_validate(user, -1, NULL)) {
		keyring_why(why, why_size,
			"the host or user name is not UTF-8, which the Secret "
			"Service requires",
			NULL);
		return 0;
	}
	pw = keyring_search(lib, host, user, &gerr);
	if (gerr) {
		keyring_why(why, why_size, "the Secret Service failed",
			gerr->message);
		lib->error_free(gerr);
	}
	if (pw && *pw) {
		*out = xstrdup(pw);
		found = 1;
	}
	if (pw)
		lib->password_free(pw); /* wipes it, then frees */
	return found;
}

int
keyring_lookup(const char *host, const char *user, char **out, char *why,
	size_t why_size)
{
	struct keyring_lib lib;

	*out = NULL;
	if (why_size > 0)
		why[0] = '\0';
	if (!host || !user)
		return 0;
	if (!keyring_bus_present()) {
		keyring_why(why, why_size,
			"no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not "
			"set)",
			NULL);
		return 0;
	}
	if (keyring_load(&lib, why, why_size) < 0)
		return 0;
	/*
	 * libsecret's service proxy and its D-Bus connection stay until exit
	 * (a later look-up reuses them): secret_service_disconnect would leave
	 * part of GLib's clean-up to a main loop iteration that never comes.
	 */
	return keyring_ask(&lib, host, user, out, why, why_size);
}

int
keyring_built(void)
{
	return 1;
}
