/*
 * config.c: easd.conf, read with libinih (see config.h).
 *
 * Keys are looked up in one table per section; an unknown key is an error,
 * not a silent default, because a typo in a limit should not go unnoticed.
 */
#include "config/config.h"

#include <ini.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config_access.h"
#include "guard/limits.h"
#include "util/util.h"
#include "wbxml/wbxml.h"

/* Permissive default policy: no PIN forced, everything allowed. An
   administrator who wants a PIN sets [policy] DevicePasswordEnabled = 1. */
static const char *const default_policy[][2] = {
	{ "DevicePasswordEnabled", "0" },
	{ "AlphanumericDevicePasswordRequired", "0" },
	{ "PasswordRecoveryEnabled", "0" },
	{ "RequireStorageCardEncryption", "0" },
	{ "AttachmentsEnabled", "1" },
	{ "AllowSimpleDevicePassword", "1" },
	{ "DevicePasswordExpiration", "0" },
	{ "DevicePasswordHistory", "0" },
	{ "AllowStorageCard", "1" },
	{ "AllowCamera", "1" },
	{ "RequireDeviceEncryption", "0" },
	{ "AllowWiFi", "1" },
	{ "AllowTextMessaging", "1" },
	{ "AllowPOPIMAPEmail", "1" },
	{ "AllowHTMLEmail", "1" },
	{ "AllowBrowser", "1" },
	{ "AllowConsumerEmail", "1" },
	{ "AllowInternetSharing", "1" },
	{ "MaxCalendarAgeFilter", "0" },
	{ "MaxEmailAgeFilter", "0" },
};

/* Provision-page elements that structure the document rather than set something. */
static const char *const policy_structure[] = {
	"Provision", "Policies", "Policy", "PolicyType", "PolicyKey", "Data", "Status",
	"EASProvisionDoc", "RemoteWipe", "AccountOnlyRemoteWipe", "UnapprovedInROMApplicationList",
	"ApplicationName", "ApprovedApplicationList", "Hash",
};

static char *copy(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		abort();
	return p;
}

static void set_string(char **field, const char *value)
{
	free(*field);
	*field = copy(value);
}

static void free_list(char **list)
{
	for (char **item = list; item != NULL && *item != NULL; item++)
		free(*item);
	free(list);
}

/* A list value: items separated by commas and/or white space. */
static void set_list(char ***field, const char *text)
{
	static const char separators[] = ", \t";
	free_list(*field);
	size_t count = 0;
	for (const char *p = text; *p != '\0';) {
		p += strspn(p, separators);
		if (*p == '\0')
			break;
		count++;
		p += strcspn(p, separators);
	}
	*field = calloc(count + 1, sizeof(char *));
	if (*field == NULL)
		abort();
	size_t n = 0;
	char *work = copy(text);
	for (char *save = NULL, *token = strtok_r(work, separators, &save); token != NULL;
	     token = strtok_r(NULL, separators, &save))
		(*field)[n++] = copy(token);
	free(work);
}

static void add_policy(struct easd_config *config, const char *name, const char *value)
{
	for (size_t i = 0; i < config->policy_count; i++) {
		if (strcmp(config->policy[i].name, name) == 0) {
			set_string(&config->policy[i].value, value);
			return;
		}
	}
	config->policy = realloc(config->policy, (config->policy_count + 1) * sizeof(*config->policy));
	if (config->policy == NULL)
		abort();
	config->policy[config->policy_count].name = copy(name);
	config->policy[config->policy_count].value = copy(value);
	config->policy_count++;
}

static void clear_policy(struct easd_config *config)
{
	for (size_t i = 0; i < config->policy_count; i++) {
		free(config->policy[i].name);
		free(config->policy[i].value);
	}
	free(config->policy);
	config->policy = NULL;
	config->policy_count = 0;
}

static int compare_settings(const void *a, const void *b)
{
	return strcmp(((const struct config_policy_setting *)a)->name,
		      ((const struct config_policy_setting *)b)->name);
}

/*
 * FNV-1a over "name=value\n" lines in name order: a device acknowledged
 * this exact policy, and reordering the file is not a change.
 */
static void compute_policy_version(struct easd_config *config)
{
	uint64_t hash = 0xcbf29ce484222325ull;
	qsort(config->policy, config->policy_count, sizeof(*config->policy), compare_settings);
	for (size_t i = 0; i < config->policy_count; i++) {
		const char *parts[] = { config->policy[i].name, "=", config->policy[i].value, "\n" };
		for (size_t p = 0; p < 4; p++)
			for (const char *c = parts[p]; *c != '\0'; c++)
				hash = (hash ^ (uint8_t)*c) * 0x100000001b3ull;
	}
	hash ^= (uint64_t)config->provision;
	snprintf(config->policy_version, sizeof(config->policy_version), "%016llx",
		 (unsigned long long)hash);
}

void config_init(struct easd_config *config)
{
	memset(config, 0, sizeof(*config));
	config->http_listen = copy("127.0.0.1:8080");
	config->tls_certificate = copy("");
	config->tls_key = copy("");
	config->max_body = LIMIT_BODY_BYTES_DEFAULT;
	config->http_timeout = LIMIT_HTTP_IDLE_SECONDS_DEFAULT;
	config->port_file = copy("");
	config->data_dir = copy("var/data");
	config->log_dir = copy("var/log");
	config->service_user = copy("");
	config->lmtp_listen = copy("127.0.0.1:2424");
	config->metrics_listen = copy("127.0.0.1:9187");
	config->metrics_port_file = copy("");
	config->recipient_delimiter = copy("+");
	set_list(&config->local_domains, "localhost");
	set_list(&config->trusted_proxies, "");
	config->max_message_size = LIMIT_MESSAGE_BYTES_DEFAULT;
	config->smtp_relay = copy("127.0.0.1:25");
	config->smtp_user = copy("");
	config->smtp_password_file = copy("");
	config->smtp_ca_file = copy("");
	config->smtp_timeout = LIMIT_SEND_TIMEOUT_SECONDS_DEFAULT;
	config->max_send_size = LIMIT_SEND_BYTES_DEFAULT;
	config->max_send_recipients = LIMIT_SEND_RECIPIENTS_DEFAULT;
	config->max_sends_per_hour = LIMIT_SEND_PER_HOUR_DEFAULT;
	config->send_invitations = true;
	config->invitation_delay = LIMIT_INVITATION_DELAY_DEFAULT;
	config->auth_cache_seconds = LIMIT_AUTH_CACHE_SECONDS_DEFAULT;
	config->auth_slow_after = LIMIT_AUTH_SLOW_AFTER_DEFAULT;
	config->auth_lockout_after = LIMIT_AUTH_LOCKOUT_AFTER_DEFAULT;
	config->auth_lockout_seconds = LIMIT_AUTH_LOCKOUT_SECONDS_DEFAULT;
	config->heartbeat_min = LIMIT_HEARTBEAT_MIN_DEFAULT;
	config->heartbeat_max = LIMIT_HEARTBEAT_MAX_DEFAULT;
	config->ping_max_folders = LIMIT_PING_FOLDERS_DEFAULT;
	config->max_parked = LIMIT_PARKED_DEFAULT;
	config->max_parked_per_user = LIMIT_PARKED_PER_USER_DEFAULT;
	config->max_picture_size = LIMIT_PICTURE_BYTES_DEFAULT;
	config->max_sync_commands = LIMIT_SYNC_COMMANDS_DEFAULT;
	config->guard = (struct guard_usage_limits){ LIMIT_GUARD_REQUESTS_DEFAULT, LIMIT_GUARD_SESSIONS_DEFAULT,
						     LIMIT_GUARD_REQUESTS_PER_MINUTE_DEFAULT,
						     LIMIT_GUARD_SECONDS_PER_MINUTE_DEFAULT,
						     LIMIT_GUARD_BYTES_PER_MINUTE_DEFAULT };
	set_list(&config->guard_exempt, "");
	config->guard_tarpit = LIMIT_GUARD_TARPIT_SECONDS_DEFAULT;
	config_access_init(config);
	config->provision = CONFIG_PROVISION_REQUIRED;
	config->allow_partial_policy = true;
	for (size_t i = 0; i < sizeof(default_policy) / sizeof(default_policy[0]); i++)
		add_policy(config, default_policy[i][0], default_policy[i][1]);
	compute_policy_version(config);
}

void config_cleanup(struct easd_config *config)
{
	char **strings[] = { &config->http_listen, &config->tls_certificate, &config->tls_key,
			     &config->port_file, &config->data_dir, &config->log_dir, &config->service_user, &config->lmtp_listen,
			     &config->recipient_delimiter, &config->smtp_relay, &config->smtp_user, &config->smtp_password_file, &config->smtp_ca_file,
			     &config->metrics_listen, &config->metrics_port_file };
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		free(*strings[i]);
		*strings[i] = NULL;
	}
	free_list(config->local_domains);
	config->local_domains = NULL;
	free_list(config->trusted_proxies);
	config->trusted_proxies = NULL;
	free_list(config->guard_exempt);
	config->guard_exempt = NULL;
	config_access_cleanup(config);
	clear_policy(config);
}

struct load_state {
	struct easd_config *config;
	char *error;
	size_t error_len;
	const char *path;
	bool policy_seen;
};

static int parse_number(const char *value, uint64_t max, uint64_t *out)
{
	return parse_uint64(slice_from_cstr(value), max, out);
}

static int parse_bool(const char *value, bool *out)
{
	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0)
		*out = true;
	else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

/* Keys that hold an unsigned number, with their upper bound. */
struct number_key {
	const char *section, *name;
	uint64_t max;
	size_t offset;
	bool is_unsigned_int;
	bool restart; /* read only at start: SIGHUP keeps the value in force */
};

#define NUMBER_KEY(section, name, max, field, is_int) \
	{ section, name, max, offsetof(struct easd_config, field), is_int, false }
#define NUMBER_KEY_AT_START(section, name, max, field, is_int) \
	{ section, name, max, offsetof(struct easd_config, field), is_int, true }

static const struct number_key number_keys[] = {
	NUMBER_KEY_AT_START("http", "threads", 1024, http_threads, true),
	NUMBER_KEY("http", "max_body", (uint64_t)1 << 31, max_body, false),
	NUMBER_KEY_AT_START("http", "timeout", 86400, http_timeout, true),
	NUMBER_KEY("lmtp", "max_message_size", (uint64_t)1 << 31, max_message_size, false),
	NUMBER_KEY("smtp", "timeout", 3600, smtp_timeout, true),
	NUMBER_KEY("smtp", "max_message_size", (uint64_t)1 << 31, max_send_size, false),
	NUMBER_KEY("smtp", "max_recipients", 100000, max_send_recipients, true),
	NUMBER_KEY("smtp", "max_messages_per_hour", 1000000, max_sends_per_hour, true),
	NUMBER_KEY("smtp", "invitation_delay", 86400, invitation_delay, true),
	NUMBER_KEY("smtp", "max_parallel", 1024, max_parallel_sends, true),
	NUMBER_KEY("auth", "cache_seconds", 86400, auth_cache_seconds, true),
	NUMBER_KEY("push", "heartbeat_min", 3540, heartbeat_min, true),
	NUMBER_KEY("push", "heartbeat_max", 86400, heartbeat_max, true),
	NUMBER_KEY("push", "max_folders", 10000, ping_max_folders, true),
	NUMBER_KEY_AT_START("push", "max_parked", 10000000, max_parked, true),
	NUMBER_KEY_AT_START("push", "max_parked_per_user", 100000, max_parked_per_user, true),
	NUMBER_KEY("sync", "max_picture_size", LIMIT_PIM_ITEM_BYTES, max_picture_size, true),
	NUMBER_KEY("sync", "max_commands", LIMIT_SYNC_COMMANDS_MAX, max_sync_commands, true),
	NUMBER_KEY("guard", "max_requests", 100000, guard.max_requests, true),
	NUMBER_KEY("guard", "max_store_sessions", 100000, guard.max_store_sessions, true),
	NUMBER_KEY("guard", "requests_per_minute", 10000000, guard.requests_per_minute, true),
	NUMBER_KEY("guard", "seconds_per_minute", 3600, guard.seconds_per_minute, true),
	NUMBER_KEY("guard", "bytes_per_minute", (uint64_t)1 << 50, guard.bytes_per_minute, false),
	NUMBER_KEY("guard", "tarpit", 60, guard_tarpit, true),
	NUMBER_KEY("access", "max_devices_per_user", 100000, max_devices_per_user, true),
	NUMBER_KEY("access", "quarantine_retry", 86400, quarantine_retry, true),
	NUMBER_KEY("auth", "slow_after", 1000000, auth_slow_after, true),
	NUMBER_KEY("auth", "lockout_after", 1000000, auth_lockout_after, true),
	NUMBER_KEY("auth", "lockout_seconds", 31 * 86400, auth_lockout_seconds, true),
};

struct string_key {
	const char *section, *name;
	size_t offset;
	bool restart; /* read only at start (listeners, directories, the user): SIGHUP keeps it */
};

#define STRING_KEY(section, name, field) { section, name, offsetof(struct easd_config, field), false }
#define STRING_KEY_AT_START(section, name, field) { section, name, offsetof(struct easd_config, field), true }

static const struct string_key string_keys[] = {
	STRING_KEY_AT_START("http", "listen", http_listen),
	STRING_KEY("http", "tls_certificate", tls_certificate),
	STRING_KEY("http", "tls_key", tls_key),
	STRING_KEY_AT_START("http", "port_file", port_file),
	STRING_KEY_AT_START("store", "data_dir", data_dir),
	STRING_KEY_AT_START("log", "dir", log_dir),
	STRING_KEY_AT_START("service", "user", service_user),
	STRING_KEY_AT_START("lmtp", "listen", lmtp_listen),
	STRING_KEY("lmtp", "recipient_delimiter", recipient_delimiter),
	STRING_KEY("smtp", "relay", smtp_relay),
	STRING_KEY("smtp", "user", smtp_user),
	STRING_KEY("smtp", "password_file", smtp_password_file),
	STRING_KEY("smtp", "ca_file", smtp_ca_file),
	STRING_KEY_AT_START("metrics", "listen", metrics_listen),
	STRING_KEY_AT_START("metrics", "port_file", metrics_port_file),
};

static int load_fail(struct load_state *state, const char *what, const char *section, const char *name)
{
	snprintf(state->error, state->error_len, "%s: %s '%s' in [%s]", state->path, what, name, section);
	return 0;
}

/* The sections of easd.conf.example: a key elsewhere is a misspelt section, not a misspelt key. */
static bool known_section(const char *section)
{
	static const char *const sections[] = { "http", "store", "log", "service", "lmtp", "smtp", "auth", "push", "sync",
						"provision", "policy", "metrics", "guard",
						"access", "autoblock" };
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcmp(sections[i], section) == 0)
			return true;
	return false;
}

/* The Allow*, Require*, *Enabled and *Required settings that are more than 0 or 1 (MS-ASPROV 2.2.2). */
static unsigned policy_flag_max(const char *name)
{
	static const struct { const char *name; unsigned max; } wider[] = {
		{ "AllowBluetooth", 2 },
		{ "AllowSMIMEEncryptionAlgorithmNegotiation", 2 },
		{ "RequireEncryptionSMIMEAlgorithm", 4 },
	};
	for (size_t i = 0; i < sizeof(wider) / sizeof(wider[0]); i++)
		if (strcmp(wider[i].name, name) == 0)
			return wider[i].max;
	return 1;
}

/*
 * Every EASProvisionDoc setting is a number (MS-ASPROV 2.2.2; a
 * truncation size may be -1, "no limit"); the Allow*, Require*, *Enabled
 * and *Required ones are 0 or 1, a few up to 2 or 4. Returns NULL, or what
 * is wrong.
 */
static const char *policy_value_problem(const char *name, const char *value)
{
	static const char *const limits[] = { "expected 0 or 1 for", "expected 0, 1 or 2 for", "expected 0 to 3 for",
					      "expected 0 to 4 for" };
	uint64_t number;
	size_t len = strlen(name);
	bool flag = strncmp(name, "Allow", 5) == 0 || strncmp(name, "Require", 7) == 0 ||
		    (len > 7 && strcmp(name + len - 7, "Enabled") == 0) || (len > 8 && strcmp(name + len - 8, "Required") == 0);
	bool truncation = len > 14 && strcmp(name + len - 14, "TruncationSize") == 0;
	bool is_number = parse_number(value, UINT32_MAX, &number) == 0 || (truncation && strcmp(value, "-1") == 0);
	unsigned max = policy_flag_max(name);
	if (flag && (!is_number || number > max))
		return limits[max - 1];
	return is_number ? NULL : "expected a number for";
}

static int load_policy(struct load_state *state, const char *name, const char *value)
{
	enum wbxml_tag tag;
	if (wbxml_tag_lookup("Provision", 9, name, strlen(name), 0, &tag) < 0)
		return load_fail(state, "unknown policy setting (not an EASProvisionDoc element)", "policy", name);
	for (size_t i = 0; i < sizeof(policy_structure) / sizeof(policy_structure[0]); i++)
		if (strcmp(policy_structure[i], name) == 0)
			return load_fail(state, "not a policy setting", "policy", name);
	const char *problem = policy_value_problem(name, value);
	if (problem != NULL)
		return load_fail(state, problem, "policy", name);
	/* The first [policy] key replaces the built-in default policy. */
	if (!state->policy_seen) {
		clear_policy(state->config);
		state->policy_seen = true;
	}
	add_policy(state->config, name, value);
	return 1;
}

static int load_special(struct load_state *state, const char *section, const char *name, const char *value)
{
	struct easd_config *config = state->config;
	if (strcmp(section, "lmtp") == 0 && strcmp(name, "local_domains") == 0) {
		set_list(&config->local_domains, value);
		return 1;
	}
	if (strcmp(section, "http") == 0 && strcmp(name, "trusted_proxies") == 0) {
		set_list(&config->trusted_proxies, value);
		return 1;
	}
	if (strcmp(section, "guard") == 0 && strcmp(name, "exempt") == 0) {
		set_list(&config->guard_exempt, value);
		return 1;
	}
	if (strcmp(section, "provision") == 0 && strcmp(name, "mode") == 0) {
		if (strcmp(value, "required") == 0)
			config->provision = CONFIG_PROVISION_REQUIRED;
		else if (strcmp(value, "optional") == 0)
			config->provision = CONFIG_PROVISION_OPTIONAL;
		else if (strcmp(value, "off") == 0)
			config->provision = CONFIG_PROVISION_OFF;
		else
			return load_fail(state, "mode must be required, optional or off: bad value for", section, name);
		return 1;
	}
	if (strcmp(section, "push") == 0 && strcmp(name, "wake") == 0) {
		if (strcmp(value, "changes") != 0 && strcmp(value, "new_items") != 0)
			return load_fail(state, "wake must be changes or new_items: bad value for", section, name);
		config->wake_on_new_items_only = strcmp(value, "new_items") == 0;
		return 1;
	}
	if (strcmp(section, "sync") == 0 && strcmp(name, "omitted") == 0) {
		if (strcmp(value, "keep") != 0 && strcmp(value, "delete") != 0)
			return load_fail(state, "omitted must be keep or delete: bad value for", section, name);
		config->delete_omitted = strcmp(value, "delete") == 0;
		return 1;
	}
	if (strcmp(section, "smtp") == 0 && strcmp(name, "security") == 0) {
		static const char *const names[] = { "none", "starttls", "tls" };
		for (int i = 0; i < 3; i++)
			if (strcmp(value, names[i]) == 0) {
				config->smtp_security = (enum config_smtp_security)i;
				return 1;
			}
		return load_fail(state, "security must be none, starttls or tls: bad value for", section, name);
	}
	if (strcmp(section, "smtp") == 0 && strcmp(name, "invitations") == 0) {
		if (parse_bool(value, &config->send_invitations) < 0)
			return load_fail(state, "expected yes or no for", section, name);
		return 1;
	}
	if (strcmp(section, "provision") == 0 && strcmp(name, "allow_partial") == 0) {
		if (parse_bool(value, &config->allow_partial_policy) < 0)
			return load_fail(state, "expected yes or no for", section, name);
		return 1;
	}
	return -1;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct load_state *state = user;
	struct easd_config *config = state->config;
	if (strcmp(section, "policy") == 0)
		return load_policy(state, name, value);
	for (size_t i = 0; i < sizeof(string_keys) / sizeof(string_keys[0]); i++) {
		if (strcmp(string_keys[i].section, section) == 0 && strcmp(string_keys[i].name, name) == 0) {
			set_string((char **)((char *)config + string_keys[i].offset), value);
			return 1;
		}
	}
	for (size_t i = 0; i < sizeof(number_keys) / sizeof(number_keys[0]); i++) {
		const struct number_key *key = &number_keys[i];
		if (strcmp(key->section, section) != 0 || strcmp(key->name, name) != 0)
			continue;
		uint64_t number;
		if (parse_number(value, key->max, &number) < 0)
			return load_fail(state, "bad number (or out of range) for", section, name);
		if (key->is_unsigned_int)
			*(unsigned *)((char *)config + key->offset) = (unsigned)number;
		else
			*(uint64_t *)((char *)config + key->offset) = number;
		return 1;
	}
	int special = load_special(state, section, name, value);
	if (special >= 0)
		return special;
	const char *problem = NULL;
	special = config_access_load(config, section, name, value, &problem);
	if (special >= 0)
		return special > 0 ? 1 : load_fail(state, problem, section, name);
	if (!known_section(section)) {
		snprintf(state->error, state->error_len, "%s: unknown section [%s] (of key '%s')", state->path, section, name);
		return 0;
	}
	return load_fail(state, "unknown key", section, name);
}

/* What each key allows alone cannot say: values that must fit together. Returns 0 or -1. */
static int check_values(const struct easd_config *config, const char *path, char *error, size_t error_len)
{
	if (config->http_timeout == 0) {
		/* 0 would make libmicrohttpd keep idle connections for ever. */
		snprintf(error, error_len, "%s: timeout in [http] must be at least 1 second", path);
		return -1;
	}
	if (config->max_sync_commands == 0) {
		snprintf(error, error_len, "%s: max_commands in [sync] must be at least 1", path);
		return -1;
	}
	if (config->heartbeat_min == 0 || config->heartbeat_min > config->heartbeat_max ||
	    config->heartbeat_max <= LIMIT_PUSH_EARLY_SECONDS) {
		snprintf(error, error_len, "%s: [push] needs 1 <= heartbeat_min <= heartbeat_max, heartbeat_max > %d", path,
			 LIMIT_PUSH_EARLY_SECONDS);
		return -1;
	}
	char host[256];
	uint16_t port;
	if (config_split_listen(config->smtp_relay, host, sizeof(host), &port) < 0 || port == 0) {
		snprintf(error, error_len, "%s: relay in [smtp] must be host:port (for example 127.0.0.1:25)", path);
		return -1;
	}
	if (config->smtp_timeout == 0 || config->max_send_recipients == 0) {
		snprintf(error, error_len, "%s: timeout and max_recipients in [smtp] must be at least 1", path);
		return -1;
	}
	if (config->metrics_listen[0] != '\0' && config_split_listen(config->metrics_listen, host, sizeof(host), &port) < 0) {
		snprintf(error, error_len, "%s: listen in [metrics] must be address:port (for example 127.0.0.1:9187) or empty", path);
		return -1;
	}
	if ((config->tls_certificate[0] == '\0') != (config->tls_key[0] == '\0')) {
		snprintf(error, error_len, "%s: tls_certificate and tls_key go together in [http]", path);
		return -1;
	}
	return 0;
}

int config_load(struct easd_config *config, const char *path, char *error, size_t error_len)
{
	struct load_state state = { config, error, error_len, path, false };
	error[0] = '\0';
	errno = 0;
	int line = ini_parse(path, on_key, &state);
	if (line < 0) {
		snprintf(error, error_len, "%s: cannot open: %s", path, errno != 0 ? strerror(errno) : "unknown error");
		return -1;
	}
	if (line > 0) {
		if (error[0] != '\0') {
			size_t n = strlen(error);
			snprintf(error + n, error_len - n, " (line %d)", line);
		} else {
			snprintf(error, error_len, "%s:%d: syntax error", path, line);
		}
		return -1;
	}
	if (check_values(config, path, error, error_len) < 0)
		return -1;
	compute_policy_version(config);
	return 0;
}

static void note_key(char *list, size_t len, const char *section, const char *name)
{
	size_t n = strlen(list);
	if (n + 1 < len)
		snprintf(list + n, len - n, "%s[%s]%s%s", n > 0 ? ", " : "", section, name[0] != '\0' ? " " : "", name);
}

static bool lists_equal(char **a, char **b)
{
	for (; *a != NULL && *b != NULL; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return *a == NULL && *b == NULL;
}

/* TLS on or off changes the listener itself; the files of a TLS listener may change (renewals). */
static void merge_tls(const struct easd_config *current, struct easd_config *next, char *kept, size_t kept_len)
{
	if ((current->tls_certificate[0] == '\0') == (next->tls_certificate[0] == '\0'))
		return;
	set_string(&next->tls_certificate, current->tls_certificate);
	set_string(&next->tls_key, current->tls_key);
	note_key(kept, kept_len, "http", "tls_certificate (TLS on or off)");
}

static void merge_strings(const struct easd_config *current, struct easd_config *next, char *changed,
			  size_t changed_len, char *kept, size_t kept_len)
{
	for (size_t i = 0; i < sizeof(string_keys) / sizeof(string_keys[0]); i++) {
		const struct string_key *key = &string_keys[i];
		char *now = *(char **)((char *)current + key->offset);
		char **then = (char **)((char *)next + key->offset);
		if (strcmp(now, *then) == 0)
			continue;
		if (key->restart)
			set_string(then, now);
		note_key(key->restart ? kept : changed, key->restart ? kept_len : changed_len, key->section, key->name);
	}
}

static void merge_numbers(const struct easd_config *current, struct easd_config *next, char *changed,
			  size_t changed_len, char *kept, size_t kept_len)
{
	for (size_t i = 0; i < sizeof(number_keys) / sizeof(number_keys[0]); i++) {
		const struct number_key *key = &number_keys[i];
		size_t size = key->is_unsigned_int ? sizeof(unsigned) : sizeof(uint64_t);
		const char *now = (const char *)current + key->offset;
		char *then = (char *)next + key->offset;
		if (memcmp(now, then, size) == 0)
			continue;
		if (key->restart)
			memcpy(then, now, size);
		note_key(key->restart ? kept : changed, key->restart ? kept_len : changed_len, key->section, key->name);
	}
}

void config_reload_merge(const struct easd_config *current, struct easd_config *next, char *changed,
			 size_t changed_len, char *kept, size_t kept_len)
{
	changed[0] = kept[0] = '\0';
	merge_tls(current, next, kept, kept_len);
	merge_strings(current, next, changed, changed_len, kept, kept_len);
	merge_numbers(current, next, changed, changed_len, kept, kept_len);
	const struct {
		const char *section, *name;
		bool differs;
	} others[] = {
		{ "lmtp", "local_domains", !lists_equal(current->local_domains, next->local_domains) },
		{ "http", "trusted_proxies", !lists_equal(current->trusted_proxies, next->trusted_proxies) },
		{ "guard", "exempt", !lists_equal(current->guard_exempt, next->guard_exempt) },
		{ "access", "rule", !config_access_rules_equal(current, next) },
		{ "autoblock", "", memcmp(&current->autoblock, &next->autoblock, sizeof(next->autoblock)) != 0 },
		{ "smtp", "security", current->smtp_security != next->smtp_security },
		{ "smtp", "invitations", current->send_invitations != next->send_invitations },
		{ "push", "wake", current->wake_on_new_items_only != next->wake_on_new_items_only },
		{ "sync", "omitted", current->delete_omitted != next->delete_omitted },
		{ "provision", "mode", current->provision != next->provision },
		{ "provision", "allow_partial", current->allow_partial_policy != next->allow_partial_policy },
		{ "policy", "", strcmp(current->policy_version, next->policy_version) != 0 },
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (others[i].differs)
			note_key(changed, changed_len, others[i].section, others[i].name);
}

int config_split_listen(const char *listen, char *address, size_t address_len, uint16_t *port_out)
{
	const char *colon = strrchr(listen, ':');
	if (colon == NULL)
		return -1;
	const char *start = listen, *end = colon;
	if (*start == '[') {
		if (end == start || end[-1] != ']')
			return -1;
		start++;
		end--;
	}
	size_t n = (size_t)(end - start);
	if (n == 0 || n >= address_len)
		return -1;
	uint64_t port;
	if (parse_uint64(slice_from_cstr(colon + 1), 65535, &port) < 0)
		return -1;
	memcpy(address, start, n);
	address[n] = '\0';
	*port_out = (uint16_t)port;
	return 0;
}

int config_listen_address(const char *listen, struct sockaddr_storage *address, char *error, size_t error_len)
{
	char host[128];
	uint16_t port;
	memset(address, 0, sizeof(*address));
	if (config_split_listen(listen, host, sizeof(host), &port) < 0) {
		snprintf(error, error_len, "listen '%s' is not address:port", listen);
		return -1;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)address;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		return 0;
	}
	snprintf(error, error_len, "listen address '%s' is not a numeric IPv4 or IPv6 address", host);
	return -1;
}

unsigned config_http_threads(const struct easd_config *config)
{
	if (config->http_threads > 0)
		return config->http_threads;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	return cores > 0 ? (unsigned)cores : 1;
}

unsigned config_parallel_sends(const struct easd_config *config)
{
	if (config->max_parallel_sends > 0)
		return config->max_parallel_sends;
	unsigned threads = config_http_threads(config);
	return threads > 1 ? threads - 1 : 1;
}

bool config_is_trusted_proxy(const struct easd_config *config, const char *address)
{
	for (char **p = config->trusted_proxies; p != NULL && *p != NULL; p++)
		if (strcmp(*p, address) == 0)
			return true;
	return false;
}

bool config_is_guard_exempt(const struct easd_config *config, const char *user)
{
	for (char **p = config->guard_exempt; user != NULL && p != NULL && *p != NULL; p++)
		if (strcasecmp(*p, user) == 0)
			return true;
	return false;
}

bool config_is_local_domain(const struct easd_config *config, const char *domain, size_t len)
{
	for (char **d = config->local_domains; d != NULL && *d != NULL; d++)
		if (strlen(*d) == len && strncasecmp(*d, domain, len) == 0)
			return true;
	return false;
}
