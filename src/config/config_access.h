/*
 * config_access.h: the [access] and [autoblock] sections of easd.conf,
 * read for config.c: which devices may sync, and when a device that
 * misbehaves is blocked.
 */
#ifndef CONFIG_ACCESS_H
#define CONFIG_ACCESS_H

#include "config/config.h"

void config_access_init(struct easd_config *config);
void config_access_cleanup(struct easd_config *config);
/*
 * One key of [access] or [autoblock]: 1 taken; 0 a bad value (*problem
 * says what was expected); -1 not one of theirs.
 */
int config_access_load(struct easd_config *config, const char *section, const char *name, const char *value,
		       const char **problem);
/* Whether the rules, the default and the classes switched off are the same (a reload says what changed). */
bool config_access_rules_equal(const struct easd_config *a, const struct easd_config *b);

#endif
