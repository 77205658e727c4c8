/*
 * live.h: the configuration in force while easd runs. SIGHUP loads
 * easd.conf again and the new one takes the old one's place whole; a
 * request, an LMTP session or a submission takes the one in force when it
 * begins and keeps it to its end, so no reader ever sees half of each.
 *
 * Owns: every configuration it was given, each freed once it is replaced
 * and its last reader is done.
 */
#ifndef CONFIG_LIVE_H
#define CONFIG_LIVE_H

#include "config/config.h"

struct config_live;

/* Takes over config's contents (config is left empty). */
struct config_live *config_live_new(struct easd_config *config);
/* Frees it; every configuration taken must have been given back. */
void config_live_free(struct config_live **live);

/* The configuration in force; give it back with config_live_put. */
const struct easd_config *config_live_get(struct config_live *live);
void config_live_put(struct config_live *live, const struct easd_config *config);

/* next takes the place of the one in force (its contents taken over; next is left empty). */
void config_live_replace(struct config_live *live, struct easd_config *next);

#endif
