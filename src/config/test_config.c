/* test_config.c: easd.conf parsing: defaults, every kind of key, errors with lines; what SIGHUP replaces and keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/live.h"

/* Loads text as a configuration file; returns config_load's result. */
static int load(struct easd_config *config, const char *text, char *error, size_t error_len)
{
	char path[] = "/tmp/easd-config-XXXXXX";
	int fd = mkstemp(path);
	FILE *out = fdopen(fd, "w");
	fputs(text, out);
	fclose(out);
	config_init(config);
	int status = config_load(config, path, error, error_len);
	remove(path);
	return status;
}

static void defaults_without_a_file(void **state)
{
	(void)state;
	struct easd_config config;
	config_init(&config);
	assert_string_equal(config.http_listen, "127.0.0.1:8080");
	assert_string_equal(config.metrics_listen, "127.0.0.1:9187");
	assert_int_equal(config.max_body, 30000000);
	assert_int_equal(config.provision, CONFIG_PROVISION_REQUIRED);
	assert_true(config_is_local_domain(&config, "LOCALHOST", 9));
	assert_true(config.policy_count > 0);
	assert_int_equal(strlen(config.policy_version), 16);
	assert_string_equal(config.service_user, "");
	assert_int_equal(config.guard.max_requests, 16);
	assert_int_equal(config.guard.max_store_sessions, 32);
	assert_int_equal(config.guard.requests_per_minute, 600);
	assert_false(config_is_guard_exempt(&config, "root"));
	config_cleanup(&config);
}

static void keys_of_every_kind(void **state)
{
	(void)state;
	struct easd_config config;
	char error[256];
	assert_int_equal(load(&config,
			      "[http]\nlisten = [::1]:8443\nmax_body = 1000\n"
			      "[http]\ntrusted_proxies = 127.0.0.1 ::1\n"
			      "[lmtp]\nlocal_domains = example.org, example.net a.example\tb.example\n"
			      "[provision]\nmode = optional\nallow_partial = no\n"
			      "[service]\nuser = easd\n"
			      "[guard]\nmax_requests = 4\nbytes_per_minute = 5000000000\nexempt = backup, Monitor\ntarpit = 60\n"
			      "[policy]\nDevicePasswordEnabled = 1\nMinDevicePasswordLength = 6\n",
			      error, sizeof(error)), 0);
	assert_int_equal(config.max_body, 1000);
	assert_int_equal(config.provision, CONFIG_PROVISION_OPTIONAL);
	assert_false(config.allow_partial_policy);
	assert_string_equal(config.service_user, "easd");
	assert_int_equal(config.guard.max_requests, 4);
	assert_int_equal(config.guard.bytes_per_minute, 5000000000u);
	assert_int_equal(config.guard_tarpit, 60);
	assert_true(config_is_guard_exempt(&config, "monitor"));
	assert_false(config_is_guard_exempt(&config, "alice"));
	assert_true(config_is_local_domain(&config, "example.net", 11));
	/* Separated by commas, spaces or tabs alike (was a heap overflow). */
	assert_true(config_is_local_domain(&config, "b.example", 9));
	assert_true(config_is_trusted_proxy(&config, "::1"));
	assert_false(config_is_trusted_proxy(&config, "10.0.0.1"));
	assert_false(config_is_local_domain(&config, "localhost", 9));
	/* A [policy] section replaces the built-in policy entirely. */
	assert_int_equal(config.policy_count, 2);
	char address[64];
	uint16_t port;
	assert_int_equal(config_split_listen(config.http_listen, address, sizeof(address), &port), 0);
	assert_string_equal(address, "::1");
	assert_int_equal(port, 8443);
	config_cleanup(&config);
}

static void policy_version_follows_the_policy(void **state)
{
	(void)state;
	struct easd_config a, b;
	char error[256];
	/* The order of the lines is not a change of policy. */
	assert_int_equal(load(&a, "[policy]\nAllowCamera = 1\nAllowWiFi = 0\n", error, sizeof(error)), 0);
	assert_int_equal(load(&b, "[policy]\nAllowWiFi = 0\nAllowCamera = 1\n", error, sizeof(error)), 0);
	assert_string_equal(a.policy_version, b.policy_version);
	config_cleanup(&a);
	config_cleanup(&b);
	assert_int_equal(load(&a, "[policy]\nDevicePasswordEnabled = 1\n", error, sizeof(error)), 0);
	assert_int_equal(load(&b, "[policy]\nDevicePasswordEnabled = 0\n", error, sizeof(error)), 0);
	assert_string_not_equal(a.policy_version, b.policy_version);
	config_cleanup(&b);
	assert_int_equal(load(&b, "[policy]\nDevicePasswordEnabled = 1\n", error, sizeof(error)), 0);
	assert_string_equal(a.policy_version, b.policy_version);
	config_cleanup(&a);
	config_cleanup(&b);
}

struct bad_case {
	const char *text;
	const char *message;
};

static const struct bad_case bad_cases[] = {
	{ "[http]\nlisten_port = 1\n", "unknown key 'listen_port' in [http] (line 2)" },
	{ "[http]\nmax_body = lots\n", "bad number (or out of range) for 'max_body' in [http] (line 2)" },
	{ "[http]\nmax_body = 4294967296\n", "bad number (or out of range) for 'max_body'" },
	{ "[http]\ntls_key = /x.pem\n", "tls_certificate and tls_key go together" },
	{ "[provision]\nmode = maybe\n", "mode must be required, optional or off" },
	{ "[guard]\ntarpit = 61\n", "bad number (or out of range) for 'tarpit'" },
	{ "[access]\ndefault = maybe\n", "expected allow, quarantine or block for 'default'" },
	{ "[access]\nrule = allow colour blue\n", "expected ACTION FIELD PATTERN" },
	{ "[access]\nrule = allow model\n", "expected ACTION FIELD PATTERN" },
	{ "[access]\nmax_devices_per_user = 100001\n", "bad number (or out of range) for 'max_devices_per_user'" },
	{ "[autoblock]\nsync_key_zero = 10 600\n", "expected THRESHOLD WINDOW_SECONDS BLOCK_SECONDS" },
	{ "[autoblock]\nsame_sync = 10 604801 60\n", "expected THRESHOLD WINDOW_SECONDS BLOCK_SECONDS" },
	{ "[autoblock]\nping_loop = -1 60 60\n", "expected THRESHOLD WINDOW_SECONDS BLOCK_SECONDS" },
	{ "[autoblock]\nsync_key_0 = 1 1 1\n", "unknown key 'sync_key_0' in [autoblock]" },
	{ "[policy]\nDevicePasswordEnable = 1\n", "unknown policy setting" },
	{ "[policy]\nPolicyKey = 1\n", "not a policy setting" },
	{ "this is not ini\n", "syntax error" },
	{ "[http]\ntimeout = 0\n", "timeout in [http] must be at least 1 second" },
	{ "[htttp]\nlisten = 127.0.0.1:8080\n", "unknown section [htttp] (of key 'listen') (line 2)" },
	{ "[policy]\nDevicePasswordEnabled = yes\n", "expected 0 or 1 for 'DevicePasswordEnabled' in [policy]" },
	{ "[policy]\nMinDevicePasswordLength = four\n", "expected a number for 'MinDevicePasswordLength'" },
	{ "[policy]\nAllowBluetooth = 3\n", "expected 0, 1 or 2 for 'AllowBluetooth'" },
	{ "[sync]\nmax_commands = 0\n", "max_commands in [sync] must be at least 1" },
	{ "[metrics]\nlisten = 9187\n", "listen in [metrics] must be address:port" },
	{ "[metrics]\nlisten = 127.0.0.1:99999\n", "listen in [metrics] must be address:port" },
	{ "[metrics]\nport = 9187\n", "unknown key 'port' in [metrics]" },
	{ "[service]\ngroup = easd\n", "unknown key 'group' in [service]" },
};

/* easd.conf.example, which make install copies to /etc/easd/easd.conf, loads as it is. */
static void example_file_loads(void **state)
{
	(void)state;
	const char *source = getenv("EASD_SOURCE");
	char path[4096], error[256];
	snprintf(path, sizeof(path), "%s/easd.conf.example", source != NULL ? source : ".");
	struct easd_config config;
	config_init(&config);
	if (config_load(&config, path, error, sizeof(error)) < 0)
		fail_msg("%s", error);
	assert_string_equal(config.metrics_listen, "127.0.0.1:9187");
	assert_string_equal(config.metrics_port_file, "");
	config_cleanup(&config);
	assert_int_equal(load(&config, "[metrics]\nlisten =\n", error, sizeof(error)), 0);
	assert_string_equal(config.metrics_listen, "");
	config_cleanup(&config);
}

/* [access] rules in file order, first match wins, globs without regard to case; [autoblock] at its bounds. */
static void access_rules_and_autoblock(void **state)
{
	(void)state;
	struct easd_config config;
	char error[256];
	assert_int_equal(load(&config,
			      "[access]\ndefault = quarantine\nrule = block user_agent *Outlook-iOS*\n"
			      "rule = allow device_type iphone\nrule = allow model SM-G99[0-9]*\nmax_devices_per_user = 0\n"
			      "[autoblock]\nsync_key_zero = 0 1 1\ncommand_rate = 1000000 604800 604800\n",
			      error, sizeof(error)), 0);
	const struct config_access_rule *rule;
	assert_int_equal(config_access_for(&config, "iPhone", "", "", "Apple-iPhone/1", &rule), CONFIG_ACCESS_ALLOW);
	assert_string_equal(rule->pattern, "iphone");
	assert_int_equal(config_access_for(&config, "iPhone", "", "", "Outlook-iOS/2.0", &rule), CONFIG_ACCESS_BLOCK);
	assert_int_equal(config_access_for(&config, "SAMSUNG", "SM-G991B", "", "", &rule), CONFIG_ACCESS_ALLOW);
	assert_int_equal(config_access_for(&config, "Android", NULL, NULL, "x", &rule), CONFIG_ACCESS_QUARANTINE);
	assert_null(rule);
	assert_int_equal(config.max_devices_per_user, 0);
	assert_int_equal(config.autoblock.rule[AUTOBLOCK_SYNC_KEY_ZERO].threshold, 0);
	assert_int_equal(config.autoblock.rule[AUTOBLOCK_COMMAND_RATE].window_seconds, 604800);
	assert_int_equal(config.autoblock.rule[AUTOBLOCK_PING_LOOP].threshold, 60);
	config_cleanup(&config);
	config_init(&config);
	assert_int_equal(config.access_default, CONFIG_ACCESS_ALLOW);
	assert_int_equal(config.max_devices_per_user, 100);
	assert_int_equal(config.autoblock.rule[AUTOBLOCK_SYNC_KEY_ZERO].threshold, 10);
	config_cleanup(&config);
}

static void bad_files_name_the_line(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct easd_config config;
		char error[256];
		assert_int_equal(load(&config, bad_cases[i].text, error, sizeof(error)), -1);
		if (strstr(error, bad_cases[i].message) == NULL)
			fail_msg("case %zu: '%s' does not say '%s'", i, error, bad_cases[i].message);
		config_cleanup(&config);
	}
	struct easd_config config;
	char error[256];
	config_init(&config);
	assert_int_equal(config_load(&config, "/nonexistent/easd.conf", error, sizeof(error)), -1);
	assert_non_null(strstr(error, "cannot open: No such file or directory"));
	config_cleanup(&config);
}

/* SIGHUP: live keys change and are named; keys read at start get the values in force back. */
static void reload_merge_names_and_keeps(void **state)
{
	(void)state;
	struct easd_config current, next;
	char error[256], changed[512], kept[512];
	assert_int_equal(load(&current, "[http]\nlisten = 127.0.0.1:8080\nthreads = 4\n[smtp]\nrelay = 127.0.0.1:25\n",
			      error, sizeof(error)), 0);
	assert_int_equal(load(&next,
			      "[http]\nlisten = 0.0.0.0:443\nthreads = 8\ntls_certificate = /c.pem\ntls_key = /k.pem\n"
			      "[smtp]\nrelay = mx.example.org:587\nsecurity = starttls\n[push]\nheartbeat_max = 900\n"
			      "[lmtp]\nlocal_domains = example.org\n[policy]\nDevicePasswordEnabled = 1\n",
			      error, sizeof(error)), 0);
	config_reload_merge(&current, &next, changed, sizeof(changed), kept, sizeof(kept));
	assert_string_equal(changed, "[smtp] relay, [push] heartbeat_max, [lmtp] local_domains, [smtp] security, [policy]");
	assert_string_equal(kept, "[http] tls_certificate (TLS on or off), [http] listen, [http] threads");
	assert_string_equal(next.http_listen, "127.0.0.1:8080");
	assert_int_equal(next.http_threads, 4);
	assert_string_equal(next.tls_certificate, "");
	assert_string_equal(next.tls_key, "");
	assert_string_equal(next.smtp_relay, "mx.example.org:587");
	assert_int_equal(next.heartbeat_max, 900);
	/* The same file again: nothing to say. */
	config_reload_merge(&next, &next, changed, sizeof(changed), kept, sizeof(kept));
	assert_string_equal(changed, "");
	assert_string_equal(kept, "");
	/* A full list is cut, never overrun. */
	char small[12];
	config_reload_merge(&current, &next, small, sizeof(small), kept, sizeof(kept));
	assert_true(strlen(small) < sizeof(small));
	config_cleanup(&current);
	config_cleanup(&next);
}

/* A reader keeps the configuration it took until it gives it back, however often it is replaced. */
static void live_configuration_outlives_its_readers(void **state)
{
	(void)state;
	struct easd_config config;
	char error[256];
	assert_int_equal(load(&config, "[push]\nheartbeat_min = 100\n", error, sizeof(error)), 0);
	struct config_live *live = config_live_new(&config);
	assert_null(config.http_listen); /* taken over */
	const struct easd_config *first = config_live_get(live);
	for (unsigned minimum = 101; minimum <= 103; minimum++) {
		struct easd_config next;
		config_init(&next);
		next.heartbeat_min = minimum;
		config_live_replace(live, &next);
	}
	const struct easd_config *now = config_live_get(live);
	assert_int_equal(now->heartbeat_min, 103);
	/* Still whole (the ASan build would see a freed one). */
	assert_int_equal(first->heartbeat_min, 100);
	assert_string_equal(first->http_listen, "127.0.0.1:8080");
	config_live_put(live, first);
	config_live_put(live, now);
	config_live_put(live, NULL);
	config_live_free(&live);
	assert_null(live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_without_a_file),
		cmocka_unit_test(keys_of_every_kind),
		cmocka_unit_test(policy_version_follows_the_policy),
		cmocka_unit_test(bad_files_name_the_line),
		cmocka_unit_test(access_rules_and_autoblock),
		cmocka_unit_test(example_file_loads),
		cmocka_unit_test(reload_merge_names_and_keeps),
		cmocka_unit_test(live_configuration_outlives_its_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
