/*
 * config_access.c: [access] (a default, rules matched in file order, a
 * device cap) and [autoblock] (a threshold, window and block time per
 * rule of guard/autoblock.h).
 */
#include "config/config_access.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guard/limits.h"
#include "util/util.h"

static const char *const access_names[] = { "allow", "quarantine", "block" };
static const char *const field_names[] = { "device_type", "model", "os", "user_agent" };

const char *config_access_name(enum config_access access)
{
	return access_names[access];
}

const char *config_access_field_name(enum config_access_field field)
{
	return field_names[field];
}

/* The index of word among names (n of them), or -1. */
static int word_index(const char *const *names, int n, const char *word, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && strncmp(names[i], word, len) == 0)
			return i;
	return -1;
}

void config_access_init(struct easd_config *config)
{
	config->access_default = CONFIG_ACCESS_ALLOW;
	config->access_rules = NULL;
	config->access_rule_count = 0;
	config->max_devices_per_user = LIMIT_DEVICES_PER_USER_DEFAULT;
	config->quarantine_retry = LIMIT_QUARANTINE_RETRY_DEFAULT;
	config->disabled_classes[0] = '\0';
	config->autoblock = (struct guard_autoblock_limits){ {
		[AUTOBLOCK_SYNC_KEY_ZERO] = LIMIT_AUTOBLOCK_SYNC_KEY_ZERO,
		[AUTOBLOCK_SAME_SYNC] = LIMIT_AUTOBLOCK_SAME_SYNC,
		[AUTOBLOCK_SAME_FAILURE] = LIMIT_AUTOBLOCK_SAME_FAILURE,
		[AUTOBLOCK_NEVER_PROVISIONS] = LIMIT_AUTOBLOCK_NEVER_PROVISIONS,
		[AUTOBLOCK_USER_AGENT_CHANGES] = LIMIT_AUTOBLOCK_USER_AGENT_CHANGES,
		[AUTOBLOCK_COMMAND_RATE] = LIMIT_AUTOBLOCK_COMMAND_RATE,
		[AUTOBLOCK_PING_LOOP] = LIMIT_AUTOBLOCK_PING_LOOP,
	} };
}

void config_access_cleanup(struct easd_config *config)
{
	for (size_t i = 0; i < config->access_rule_count; i++)
		free(config->access_rules[i].pattern);
	free(config->access_rules);
	config->access_rules = NULL;
	config->access_rule_count = 0;
}

/* "ACTION FIELD PATTERN"; the pattern is the rest of the line (it may hold spaces). */
static int add_rule(struct easd_config *config, const char *value, const char **problem)
{
	*problem = "expected ACTION FIELD PATTERN (allow|quarantine|block, device_type|model|os|user_agent, a glob) for";
	const char *p = value;
	size_t len = strcspn(p, " \t");
	int action = word_index(access_names, 3, p, len);
	p += len;
	p += strspn(p, " \t");
	len = strcspn(p, " \t");
	int field = word_index(field_names, 4, p, len);
	p += len;
	p += strspn(p, " \t");
	if (action < 0 || field < 0 || *p == '\0')
		return 0;
	if (config->access_rule_count >= LIMIT_ACCESS_RULES) {
		*problem = "too many rules (" "256" ") at";
		return 0;
	}
	struct config_access_rule *rules = realloc(config->access_rules,
						  (config->access_rule_count + 1) * sizeof(*rules));
	char *pattern = strdup(p);
	if (rules == NULL || pattern == NULL)
		abort();
	rules[config->access_rule_count++] = (struct config_access_rule){ (enum config_access)action,
									  (enum config_access_field)field, pattern };
	config->access_rules = rules;
	return 1;
}

/* "THRESHOLD WINDOW BLOCK", seconds for the last two; threshold 0 switches the rule off. */
static int set_autoblock(struct guard_autoblock_limit *limit, const char *value, const char **problem)
{
	unsigned threshold, window, block;
	char end;
	*problem = "expected THRESHOLD WINDOW_SECONDS BLOCK_SECONDS (a window and block of 1 to 604800) for";
	if (sscanf(value, "%u %u %u %c", &threshold, &window, &block, &end) != 3 || strchr(value, '-') != NULL)
		return 0;
	if (threshold > 1000000 || window == 0 || window > 604800 || block == 0 || block > 604800)
		return 0;
	*limit = (struct guard_autoblock_limit){ threshold, window, block };
	return 1;
}

const char *const config_class_names[CONFIG_CLASS_COUNT] = { "Email", "Calendar", "Contacts", "Tasks", "Notes" };

int config_classes_normalize(const char *text, char *out, size_t out_len)
{
	const char *const *classes = config_class_names;
	bool wanted[CONFIG_CLASS_COUNT] = { false };
	for (const char *p = text; *p != '\0';) {
		p += strspn(p, ", \t");
		size_t len = strcspn(p, ", \t");
		if (len == 0)
			break;
		int found = -1;
		for (int i = 0; i < CONFIG_CLASS_COUNT; i++)
			if (strlen(classes[i]) == len && strncasecmp(classes[i], p, len) == 0)
				found = i;
		if (found < 0)
			return -1;
		wanted[found] = true;
		p += len;
	}
	out[0] = '\0';
	for (int i = 0; i < CONFIG_CLASS_COUNT; i++)
		if (wanted[i] && strlen(out) + strlen(classes[i]) + 2 <= out_len)
			snprintf(out + strlen(out), out_len - strlen(out), "%s%s", out[0] != '\0' ? "," : "", classes[i]);
	return 0;
}

int config_access_load(struct easd_config *config, const char *section, const char *name, const char *value,
		       const char **problem)
{
	if (strcmp(section, "autoblock") == 0) {
		for (int i = 0; i < AUTOBLOCK_RULES; i++)
			if (strcmp(guard_autoblock_rule_name((enum guard_autoblock_rule)i), name) == 0)
				return set_autoblock(&config->autoblock.rule[i], value, problem);
		return -1;
	}
	if (strcmp(section, "access") != 0)
		return -1;
	if (strcmp(name, "rule") == 0)
		return add_rule(config, value, problem);
	if (strcmp(name, "disabled_classes") == 0) {
		*problem = "expected classes among Email, Calendar, Contacts, Tasks and Notes for";
		return config_classes_normalize(value, config->disabled_classes, sizeof(config->disabled_classes)) == 0;
	}
	if (strcmp(name, "default") == 0) {
		int action = word_index(access_names, 3, value, strlen(value));
		*problem = "expected allow, quarantine or block for";
		if (action < 0)
			return 0;
		config->access_default = (enum config_access)action;
		return 1;
	}
	return -1;
}

bool config_access_rules_equal(const struct easd_config *a, const struct easd_config *b)
{
	if (a->access_default != b->access_default || a->access_rule_count != b->access_rule_count ||
	    strcmp(a->disabled_classes, b->disabled_classes) != 0)
		return false;
	for (size_t i = 0; i < a->access_rule_count; i++) {
		const struct config_access_rule *x = &a->access_rules[i], *y = &b->access_rules[i];
		if (x->action != y->action || x->field != y->field || strcmp(x->pattern, y->pattern) != 0)
			return false;
	}
	return true;
}

enum config_access config_access_for(const struct easd_config *config, const char *device_type, const char *model,
				     const char *os, const char *user_agent, const struct config_access_rule **rule_out)
{
	const char *values[] = { device_type, model, os, user_agent };
	for (size_t i = 0; i < config->access_rule_count; i++) {
		const struct config_access_rule *rule = &config->access_rules[i];
		const char *value = values[rule->field];
		if (value != NULL && fnmatch(rule->pattern, value, FNM_CASEFOLD) == 0) {
			*rule_out = rule;
			return rule->action;
		}
	}
	*rule_out = NULL;
	return config->access_default;
}
