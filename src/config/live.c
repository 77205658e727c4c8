/*
 * live.c: configurations counted by their readers (see live.h). A reader
 * holds one for a request, so the mutex is taken twice per request: far
 * below anything else a request does.
 */
#include "config/live.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

struct snapshot {
	struct easd_config config; /* first: a reader's pointer is the snapshot's */
	unsigned readers;
	bool replaced;
};

struct config_live {
	pthread_mutex_t lock;
	struct snapshot *current;
};

static struct snapshot *snapshot_new(struct easd_config *config)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	if (s == NULL)
		abort();
	s->config = *config;
	*config = (struct easd_config){ 0 };
	return s;
}

static void snapshot_free(struct snapshot *s)
{
	config_cleanup(&s->config);
	free(s);
}

struct config_live *config_live_new(struct easd_config *config)
{
	struct config_live *live = calloc(1, sizeof(*live));
	if (live == NULL)
		abort();
	pthread_mutex_init(&live->lock, NULL);
	live->current = snapshot_new(config);
	return live;
}

void config_live_free(struct config_live **live)
{
	if (*live == NULL)
		return;
	snapshot_free((*live)->current);
	pthread_mutex_destroy(&(*live)->lock);
	free(*live);
	*live = NULL;
}

const struct easd_config *config_live_get(struct config_live *live)
{
	pthread_mutex_lock(&live->lock);
	struct snapshot *s = live->current;
	s->readers++;
	pthread_mutex_unlock(&live->lock);
	return &s->config;
}

void config_live_put(struct config_live *live, const struct easd_config *config)
{
	if (config == NULL)
		return;
	struct snapshot *s = (struct snapshot *)(void *)config;
	pthread_mutex_lock(&live->lock);
	bool last = --s->readers == 0 && s->replaced;
	pthread_mutex_unlock(&live->lock);
	if (last)
		snapshot_free(s);
}

void config_live_replace(struct config_live *live, struct easd_config *next)
{
	struct snapshot *s = snapshot_new(next);
	pthread_mutex_lock(&live->lock);
	struct snapshot *old = live->current;
	live->current = s;
	old->replaced = true;
	bool unread = old->readers == 0;
	pthread_mutex_unlock(&live->lock);
	if (unread)
		snapshot_free(old);
}
