/*
 * device_cmd.c: `easctl device ...`: the devices of users, what may each
 * do, remote wipes and protocol traces. Decisions go to the store, where the running easd
 * reads them with the device at its next request: no restart, no signal.
 */
#include "easctl/easctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

/* What one invocation works with. */
struct device_cmd {
	const struct easd_config *config;
	struct store_session *session;
	struct arena *arena;
	bool json;
	int64_t now;
};

static void print_time(FILE *out, int64_t when)
{
	char text[32] = "never";
	struct tm tm;
	time_t t = (time_t)when;
	if (when > 0 && gmtime_r(&t, &tm) != NULL)
		strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%SZ", &tm);
	fprintf(out, "%-20s", text);
}

/* "block (admin)", "quarantine (default)", "allow (rule user_agent *Outlook*)": what easd decides now. */
static const char *access_text(const struct device_cmd *c, const struct store_device *d, char *text, size_t len)
{
	const struct store_device_access *a = &d->access;
	if (a->access != STORE_ACCESS_RULES && (a->until == 0 || a->until > c->now)) {
		snprintf(text, len, "%s (%s)", store_access_name(a->access), a->by);
		return text;
	}
	const struct config_access_rule *rule;
	enum config_access verdict = config_access_for(c->config, d->device_type, d->model, d->os, d->user_agent, &rule);
	if (rule != NULL)
		snprintf(text, len, "%s (rule %s %s)", config_access_name(verdict), config_access_field_name(rule->field),
			 rule->pattern);
	else
		snprintf(text, len, "%s (default)", config_access_name(verdict));
	return text;
}

static void print_json(const char *user, const struct store_device *d, const char *access)
{
	const char *keys[] = { "user", "device_id", "device_type", "model", "os", "user_agent", "access",
			       "access_reason", "wipe", "wipe_state" };
	const char *values[] = { user, d->device_id, d->device_type, d->model, d->os, d->user_agent, access,
				 d->access.reason, store_wipe_name(d->wipe.kind),
				 d->wipe.kind != STORE_WIPE_NONE ? store_wipe_state_name(d->wipe.state) : "" };
	putchar('{');
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		printf("%s\"%s\":", i > 0 ? "," : "", keys[i]);
		easctl_json_string(values[i]);
	}
	printf(",\"first_seen\":%lld,\"last_seen\":%lld,\"access_until\":%lld,\"wipe_answered\":%lld,"
	       "\"trace_until\":%lld,\"provisioned\":%s}\n",
	       (long long)d->first_seen, (long long)d->last_seen, (long long)d->access.until,
	       (long long)d->wipe.answered, (long long)d->trace_until, d->policy_key != 0 ? "true" : "false");
}

static void print_row(void *context, const char *user, const struct store_device *d)
{
	struct device_cmd *c = context;
	char access[256];
	access_text(c, d, access, sizeof(access));
	if (c->json) {
		print_json(user, d, access);
		return;
	}
	printf("%-16.16s %-24.24s %-14.14s ", user, d->device_id, d->device_type[0] != '\0' ? d->device_type : "-");
	print_time(stdout, d->last_seen);
	printf("  %s", access);
	if (d->wipe.kind != STORE_WIPE_NONE)
		printf("  wipe %s: %s", store_wipe_name(d->wipe.kind), store_wipe_state_name(d->wipe.state));
	putchar('\n');
}

static int store_failed(struct device_cmd *c)
{
	fprintf(stderr, "easctl: store: %s\n", store_session_error(c->session));
	return EASCTL_EXIT_FAILURE;
}

static int list_devices(struct device_cmd *c, const char *user_name)
{
	struct store_user user = { 0 };
	if (user_name != NULL) {
		int status = store_user_find(c->session, c->arena, user_name, &user);
		if (status == STORE_NOT_FOUND) {
			fprintf(stderr, "easctl: no user %s\n", user_name);
			return EASCTL_EXIT_FAILURE;
		}
		if (status != STORE_OK)
			return store_failed(c);
	}
	if (!c->json)
		printf("%-16s %-24s %-14s %-20s  %s\n", "USER", "DEVICE", "TYPE", "LAST SEEN", "ACCESS");
	return store_device_list(c->session, c->arena, user.id, print_row, c) == STORE_OK ? 0 : store_failed(c);
}

static void show_device(struct device_cmd *c, const char *user, const struct store_device *d)
{
	char access[256];
	if (c->json) {
		print_json(user, d, access_text(c, d, access, sizeof(access)));
		return;
	}
	printf("user:        %s\ndevice:      %s\ntype:        %s\nmodel:       %s\nos:          %s\n"
	       "user agent:  %s\nprovisioned: %s\nfirst seen:  ",
	       user, d->device_id, d->device_type, d->model, d->os, d->user_agent, d->policy_key != 0 ? "yes" : "no");
	print_time(stdout, d->first_seen);
	fputs("\nlast seen:   ", stdout);
	print_time(stdout, d->last_seen);
	printf("\naccess:      %s\n", access_text(c, d, access, sizeof(access)));
	if (d->access.access != STORE_ACCESS_RULES) {
		printf("decided:     ");
		print_time(stdout, d->access.since);
		if (d->access.until != 0) {
			fputs(", until ", stdout);
			print_time(stdout, d->access.until);
		}
		printf("%s%s\n", d->access.reason[0] != '\0' ? ": " : "", d->access.reason);
	}
	if (d->trace_until > c->now) {
		fputs("traced until ", stdout);
		print_time(stdout, d->trace_until);
		putchar('\n');
	}
	if (d->wipe.kind != STORE_WIPE_NONE) {
		printf("wipe:        %s, %s (asked ", store_wipe_name(d->wipe.kind), store_wipe_state_name(d->wipe.state));
		print_time(stdout, d->wipe.requested);
		fputs(", last answer ", stdout);
		print_time(stdout, d->wipe.answered);
		fputs(")\n", stdout);
	}
}

/* Options after USER DEVICE: --reason TEXT, --minutes N, --account, --cancel, --off. */
struct device_options {
	const char *reason;
	unsigned minutes;
	bool account, cancel, off;
};

static int read_options(int argc, char **argv, struct device_options *o)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--account") == 0)
			o->account = true;
		else if (strcmp(argv[i], "--cancel") == 0)
			o->cancel = true;
		else if (strcmp(argv[i], "--off") == 0)
			o->off = true;
		else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			o->reason = argv[++i];
		else if (strcmp(argv[i], "--minutes") == 0 && i + 1 < argc) {
			char *end;
			unsigned long n = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || n == 0 || n > 525600)
				return -1;
			o->minutes = (unsigned)n;
		} else
			return -1;
	}
	return 0;
}

static int decide(struct device_cmd *c, const struct store_device *d, const char *action,
		  const struct device_options *o)
{
	struct store_device_access access = { STORE_ACCESS_RULES, "admin", o->reason != NULL ? o->reason : "", c->now,
					      o->minutes > 0 ? c->now + (int64_t)o->minutes * 60 : 0 };
	if (strcmp(action, "unblock") != 0 && store_access_parse(action, &access.access) < 0)
		return EASCTL_EXIT_USAGE;
	if (store_device_set_access(c->session, d->id, &access) != STORE_OK)
		return store_failed(c);
	struct store_device after = *d;
	after.access = access;
	char text[256];
	printf("%s %s: %s\n", d->device_id, strcmp(action, "unblock") == 0 ? "decided by the rules again" : "set",
	       access_text(c, &after, text, sizeof(text)));
	return 0;
}

static int wipe(struct device_cmd *c, const struct store_device *d, const struct device_options *o)
{
	struct store_device_wipe w = { o->cancel ? STORE_WIPE_NONE : o->account ? STORE_WIPE_ACCOUNT : STORE_WIPE_DEVICE,
				       STORE_WIPE_REQUESTED, c->now, 0 };
	if (store_device_set_wipe(c->session, d->id, &w) != STORE_OK)
		return store_failed(c);
	if (o->cancel)
		printf("%s: wipe cancelled\n", d->device_id);
	else
		printf("%s: %s wipe requested; the device gets it at its next request (easctl device show tells "
		       "when it acknowledges)%s\n",
		       d->device_id, o->account ? "account-only" : "whole device",
		       o->account ? "; a device older than EAS 16.1 cannot do it and gets nothing until then" : "");
	return 0;
}

/* Traced for --minutes (default 10) from the device's next request; --off ends it. */
static int trace(struct device_cmd *c, const char *user, const struct store_device *d, const struct device_options *o)
{
	int64_t until = o->off ? 0 : c->now + (int64_t)(o->minutes > 0 ? o->minutes : 10) * 60;
	if (store_device_set_trace(c->session, d->id, until) != STORE_OK)
		return store_failed(c);
	if (o->off) {
		printf("%s: trace off\n", d->device_id);
		return 0;
	}
	printf("%s: traced until ", d->device_id);
	print_time(stdout, until);
	printf("\n  into %s/trace/%s-%s.log (request and response of each exchange, as XML)\n",
	       c->config->log_dir[0] != '\0' ? c->config->log_dir : "(no [log] dir: nothing is written)", user,
	       d->device_id);
	return 0;
}

static int act(struct device_cmd *c, const char *action, const char *user_name, const char *device_id,
	       const struct device_options *o)
{
	struct store_user user;
	int status = store_user_find(c->session, c->arena, user_name, &user);
	if (status == STORE_NOT_FOUND) {
		fprintf(stderr, "easctl: no user %s\n", user_name);
		return EASCTL_EXIT_FAILURE;
	}
	/* A decision may come before the device does: allow or block creates it. */
	bool create = strcmp(action, "allow") == 0 || strcmp(action, "block") == 0 || strcmp(action, "quarantine") == 0;
	struct store_device d;
	if (status == STORE_OK)
		status = store_device_find(c->session, c->arena, user.id, device_id, create, &d);
	if (status == STORE_NOT_FOUND) {
		fprintf(stderr, "easctl: %s has no device %s (easctl device list %s)\n", user.name, device_id, user.name);
		return EASCTL_EXIT_FAILURE;
	}
	if (status != STORE_OK)
		return store_failed(c);
	if (strcmp(action, "show") == 0) {
		show_device(c, user.name, &d);
		return 0;
	}
	if (strcmp(action, "wipe") == 0)
		return wipe(c, &d, o);
	if (strcmp(action, "trace") == 0)
		return trace(c, user.name, &d, o);
	if (strcmp(action, "forget") == 0) {
		if (store_device_forget(c->session, d.id) != STORE_OK)
			return store_failed(c);
		printf("%s of %s forgotten: it starts over (a full sync) if it comes back\n", device_id, user.name);
		return 0;
	}
	return decide(c, &d, action, o);
}

static const char device_usage[] =
	"usage: easctl device list [USER] [--json]\n"
	"       easctl device show USER DEVICE [--json]\n"
	"       easctl device allow|block|quarantine USER DEVICE [--minutes N] [--reason TEXT]\n"
	"       easctl device unblock USER DEVICE\n"
	"       easctl device wipe USER DEVICE [--account] [--cancel]\n"
	"       easctl device forget USER DEVICE\n"
	"       easctl device trace USER DEVICE [--minutes N] [--off]\n";

static bool known_action(const char *action)
{
	static const char *const actions[] = { "show",	 "allow", "block", "quarantine",
					       "unblock", "wipe",  "forget", "trace" };
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i], action) == 0)
			return true;
	return false;
}

int easctl_device(const struct easd_config *config, int argc, char **argv)
{
	struct device_cmd c = { .config = config, .now = (int64_t)time(NULL) };
	if (argc > 0 && strcmp(argv[argc - 1], "--json") == 0) {
		c.json = true;
		argc--;
	}
	struct device_options o = { 0 };
	bool list = argc >= 1 && argc <= 2 && strcmp(argv[0], "list") == 0;
	bool one = argc >= 3 && known_action(argv[0]) && read_options(argc - 3, argv + 3, &o) == 0;
	if (!list && !one) {
		fputs(device_usage, stderr);
		return EASCTL_EXIT_USAGE;
	}
	struct store *store;
	if (easctl_open_store(config, &store, &c.session) < 0)
		return EASCTL_EXIT_FAILURE;
	c.arena = arena_new(0);
	int status = list ? list_devices(&c, argc == 2 ? argv[1] : NULL) : act(&c, argv[0], argv[1], argv[2], &o);
	arena_free(&c.arena);
	easctl_close_store(&store, &c.session);
	return status;
}
