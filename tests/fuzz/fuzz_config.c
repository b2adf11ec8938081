/*
 * fuzz_config.c - the configuration grammar (config_parse) and what main
 * does with the accounts it yields: the account checks, choosing by name
 * and by sender, the DSN value checks.
 */
#include "fuzz.h"

#include "config.h"
#include "log.h"

static void
fuzz_config_account(const struct config *cfg, const struct account *a)
{
	const struct account *chosen;
	struct error err;

	FUZZ_ASSERT(a->name != NULL);
	config_check_account(a, &err);
	config_auth_enabled(a);
	chosen = config_choose(cfg, a->name, NULL, &err);
	FUZZ_ASSERT(chosen != NULL);
	if (a->from != NULL) {
		config_sender_matches(a->from, "user+tag@example.org");
		config_sender_matches(a->from, a->from);
		config_choose(cfg, NULL, a->from, &err);
	}
	if (a->dsn_notify != NULL)
		config_check_notify(a->dsn_notify, &err);
	if (a->dsn_return != NULL)
		config_check_return(a->dsn_return, &err);
	FUZZ_ASSERT(a->queue_lifetime <= CONFIG_LIFETIME_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct error err;
	size_t i;

	static int home_set;

	/* keep "~/" expansion inside the target's own directory */
	if (!home_set) {
		setenv("HOME", fuzz_dir(), 1);
		home_set = 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (config_parse(&cfg, "fuzz.conf", (const char *)data, size, &err) ==
		0) {
		for (i = 0; i < cfg.naccounts; i++)
			fuzz_config_account(&cfg, &cfg.accounts[i]);
		config_choose(&cfg, NULL, "root@example.org", &err);
		config_choose(&cfg, NULL, NULL, &err);
		config_choose(&cfg, "no-such-account", NULL, &err);
	} else {
		FUZZ_ASSERT(cfg.naccounts == 0);
	}
	/* the DSN checks on raw text too (-N and -R take argv) */
	if (size < 256) {
		char *s = fuzz_strndup(data, size);

		config_check_notify(s, &err);
		config_check_return(s, &err);
		free(s);
	}
	config_release(&cfg);
	return 0;
}
