/*
 * auth.c: credential checks, the credential cache and failure throttling
 * (see auth.h).
 *
 * Slowing without blocking a thread: after slow_after failures for a user
 * or an address, attempts are refused unchecked until a back-off delay
 * (1 s, 2 s, 4 s ... capped at 60 s) has passed since the last failure,
 * so a guesser gets a few tries a minute while no worker thread sleeps.
 * After lockout_after failures everything is refused for lockout_seconds,
 * even the right password. Counters forget a key lockout_seconds after its
 * last failure.
 */
#include "guard/auth.h"

#include <crypt.h>
#include <glib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "guard/limits.h"

#define AUTH_KEY_BYTES 32 /* HMAC-SHA256 key */

struct cached_credential {
	char *digest;                /* HMAC-SHA256(key, user NUL password), hex */
	int64_t user_id;             /* a deleted and re-added user is another user */
	uint64_t credential_version;
	int64_t expires;
};

struct failures {
	unsigned count;
	int64_t last_failure;
};

/* [auth]'s numbers, copied: SIGHUP may free the configuration they came from. */
struct auth_limits {
	unsigned cache_seconds, slow_after, lockout_after, lockout_seconds;
};

struct guard_auth {
	struct auth_limits limits; /* read and changed under lock */
	pthread_mutex_t lock;
	GHashTable *cache;    /* lower-case user name -> struct cached_credential */
	GHashTable *failures; /* "u:name" or "a:address" -> struct failures */
	uint8_t key[AUTH_KEY_BYTES];
	char dummy_hash[CRYPT_OUTPUT_SIZE]; /* verified for unknown users: same cost */
};

static void cached_free(gpointer data)
{
	struct cached_credential *cached = data;
	g_free(cached->digest);
	g_free(cached);
}

struct guard_auth *guard_auth_new(const struct easd_config *config)
{
	struct guard_auth *auth = g_new0(struct guard_auth, 1);
	pthread_mutex_init(&auth->lock, NULL);
	guard_auth_configure(auth, config);
	auth->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, cached_free);
	auth->failures = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (getrandom(auth->key, sizeof(auth->key), 0) != (ssize_t)sizeof(auth->key))
		abort();
	if (guard_password_hash("easd-dummy-password", auth->dummy_hash, sizeof(auth->dummy_hash)) < 0)
		abort();
	return auth;
}

void guard_auth_free(struct guard_auth **auth_ptr)
{
	struct guard_auth *auth = *auth_ptr;
	if (auth == NULL)
		return;
	g_hash_table_destroy(auth->cache);
	g_hash_table_destroy(auth->failures);
	pthread_mutex_destroy(&auth->lock);
	g_free(auth);
	*auth_ptr = NULL;
}

int guard_password_hash(const char *password, char *out, size_t out_len)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	data = calloc(1, sizeof(*data));
	if (data == NULL)
		abort();
	const char *hash = crypt_rn(password, salt, data, sizeof(*data));
	int status = -1;
	if (hash != NULL && hash[0] != '*' && strlen(hash) < out_len) {
		strcpy(out, hash);
		status = 0;
	}
	explicit_bzero(data, sizeof(*data));
	free(data);
	return status;
}

/* crypt(3) comparison; the work is the point, the result one bit. */
static bool password_matches(const char *password, const char *hash)
{
	struct crypt_data *data = calloc(1, sizeof(*data));
	if (data == NULL)
		abort();
	const char *computed = crypt_rn(password, hash, data, sizeof(*data));
	bool match = computed != NULL && computed[0] != '*' && strcmp(computed, hash) == 0;
	explicit_bzero(data, sizeof(*data));
	free(data);
	return match;
}

static char *credential_digest(struct guard_auth *auth, const char *user, const char *password)
{
	size_t user_len = strlen(user), password_len = strlen(password);
	guchar *message = g_malloc(user_len + 1 + password_len);
	memcpy(message, user, user_len);
	message[user_len] = 0;
	memcpy(message + user_len + 1, password, password_len);
	char *digest = g_compute_hmac_for_data(G_CHECKSUM_SHA256, auth->key, sizeof(auth->key), message,
					       user_len + 1 + password_len);
	explicit_bzero(message, user_len + 1 + password_len);
	g_free(message);
	return digest;
}

void guard_auth_configure(struct guard_auth *auth, const struct easd_config *config)
{
	pthread_mutex_lock(&auth->lock);
	auth->limits = (struct auth_limits){ config->auth_cache_seconds, config->auth_slow_after,
					     config->auth_lockout_after, config->auth_lockout_seconds };
	pthread_mutex_unlock(&auth->lock);
}

/* Seconds the key must wait, or 0. Caller holds the lock. */
static int64_t refused_for(struct guard_auth *auth, const char *key, int64_t now, bool *locked_out)
{
	const struct auth_limits *limits = &auth->limits;
	struct failures *f = g_hash_table_lookup(auth->failures, key);
	if (f == NULL)
		return 0;
	if (now - f->last_failure >= (int64_t)limits->lockout_seconds) {
		g_hash_table_remove(auth->failures, key);
		return 0;
	}
	if (limits->lockout_after > 0 && f->count >= limits->lockout_after) {
		*locked_out = true;
		return f->last_failure + limits->lockout_seconds - now;
	}
	if (f->count < limits->slow_after || limits->slow_after == 0)
		return 0;
	unsigned shift = f->count - limits->slow_after;
	int64_t backoff = shift >= 6 ? LIMIT_AUTH_BACKOFF_SECONDS : (int64_t)1 << shift;
	if (backoff > LIMIT_AUTH_BACKOFF_SECONDS)
		backoff = LIMIT_AUTH_BACKOFF_SECONDS;
	int64_t wait = f->last_failure + backoff - now;
	return wait > 0 ? wait : 0;
}

static gboolean failure_expired(gpointer key, gpointer value, gpointer context)
{
	(void)key;
	const struct guard_auth *auth = ((void **)context)[0];
	int64_t now = *(const int64_t *)((void **)context)[1];
	const struct failures *f = value;
	return now - f->last_failure >= (int64_t)auth->limits.lockout_seconds;
}

static void record_failure(struct guard_auth *auth, const char *key, int64_t now)
{
	struct failures *f = g_hash_table_lookup(auth->failures, key);
	if (f == NULL) {
		if (g_hash_table_size(auth->failures) >= LIMIT_AUTH_TRACKED_FAILURES) {
			void *context[2] = { auth, &now };
			g_hash_table_foreach_remove(auth->failures, failure_expired, context);
		}
		/* Still full (a flood from many addresses): keep the lockouts
		   already counted rather than forget them to count new ones. */
		if (g_hash_table_size(auth->failures) >= LIMIT_AUTH_TRACKED_FAILURES)
			return;
		f = g_new0(struct failures, 1);
		g_hash_table_insert(auth->failures, g_strdup(key), f);
	}
	f->count++;
	f->last_failure = now;
}

static bool cache_hit(struct guard_auth *auth, const char *name, const char *digest,
		      const struct store_user *user, int64_t now)
{
	struct cached_credential *cached = g_hash_table_lookup(auth->cache, name);
	return cached != NULL && cached->expires > now && cached->user_id == user->id &&
	       cached->credential_version == user->credential_version && strcmp(cached->digest, digest) == 0;
}

static void cache_put(struct guard_auth *auth, const char *name, char *digest,
		      const struct store_user *user, int64_t now)
{
	/* Full: drop them all; the cost is one hash verification per user. */
	if (g_hash_table_size(auth->cache) >= LIMIT_AUTH_CACHED_CREDENTIALS)
		g_hash_table_remove_all(auth->cache);
	struct cached_credential *cached = g_new0(struct cached_credential, 1);
	cached->digest = digest;
	cached->user_id = user->id;
	cached->credential_version = user->credential_version;
	cached->expires = now + auth->limits.cache_seconds;
	g_hash_table_replace(auth->cache, g_strdup(name), cached);
}

/* Whether key (a user or an address) is being refused; which way in *refusal_out. */
static bool is_refused(struct guard_auth *auth, const char *key, int64_t now, int *refusal_out)
{
	bool locked = false;
	pthread_mutex_lock(&auth->lock);
	int64_t wait = refused_for(auth, key, now, &locked);
	pthread_mutex_unlock(&auth->lock);
	*refusal_out = locked ? GUARD_AUTH_LOCKED : GUARD_AUTH_THROTTLED;
	return wait > 0;
}

/*
 * With cache_only, a credential not in the cache is refused without the
 * hash check: that is how a throttled address is treated (below).
 */
static int verify(struct guard_auth *auth, struct store_session *session, struct arena *arena,
		  const char *name, const char *password, int64_t now, bool cache_only,
		  struct store_user *user_out, const char **reason_out)
{
	int status = store_user_find(session, arena, name, user_out);
	if (status == STORE_NOT_FOUND) {
		password_matches(password, auth->dummy_hash);
		*reason_out = "unknown_user";
		return GUARD_AUTH_DENIED;
	}
	if (status != STORE_OK) {
		*reason_out = "store_error";
		return GUARD_AUTH_ERROR;
	}
	char *digest = credential_digest(auth, name, password);
	pthread_mutex_lock(&auth->lock);
	bool hit = auth->limits.cache_seconds > 0 && cache_hit(auth, name, digest, user_out, now);
	pthread_mutex_unlock(&auth->lock);
	if (hit) {
		g_free(digest);
		*reason_out = "cached";
		return GUARD_AUTH_OK;
	}
	if (cache_only) {
		g_free(digest);
		return GUARD_AUTH_THROTTLED;
	}
	if (!password_matches(password, user_out->password_hash)) {
		g_free(digest);
		*reason_out = "bad_password";
		return GUARD_AUTH_DENIED;
	}
	pthread_mutex_lock(&auth->lock);
	if (auth->limits.cache_seconds > 0)
		cache_put(auth, name, digest, user_out, now);
	else
		g_free(digest);
	pthread_mutex_unlock(&auth->lock);
	*reason_out = NULL;
	return GUARD_AUTH_OK;
}

int guard_auth_check(struct guard_auth *auth, struct store_session *session, struct arena *arena,
		     const char *user, const char *password, const char *client_address, int64_t now,
		     struct store_user *user_out, const char **reason_out)
{
	char *name = g_ascii_strdown(user, -1);
	char *user_key = g_strconcat("u:", name, NULL);
	char *address_key = g_strconcat("a:", client_address, NULL);
	int result = GUARD_AUTH_OK, refusal;
	if (is_refused(auth, user_key, now, &refusal)) {
		result = refusal;
		*reason_out = refusal == GUARD_AUTH_LOCKED ? "locked" : "throttled";
	} else if (is_refused(auth, address_key, now, &refusal)) {
		/* Many users share an address behind a proxy or NAT: a guesser there
		   must not lock them all out. Credentials verified before still
		   pass (cache only); new ones wait, so the address gets no guesses. */
		result = verify(auth, session, arena, name, password, now, true, user_out, reason_out);
		if (result == GUARD_AUTH_THROTTLED)
			*reason_out = refusal == GUARD_AUTH_LOCKED ? "address_locked" : "address_throttled";
		if (result == GUARD_AUTH_THROTTLED && refusal == GUARD_AUTH_LOCKED)
			result = GUARD_AUTH_LOCKED;
	} else {
		result = verify(auth, session, arena, name, password, now, false, user_out, reason_out);
	}
	pthread_mutex_lock(&auth->lock);
	if (result == GUARD_AUTH_DENIED) {
		record_failure(auth, user_key, now);
		record_failure(auth, address_key, now);
	} else if (result == GUARD_AUTH_OK) {
		/* Only the user's count: other users' successes from a shared
		   address must not wipe out what a guesser there has counted. */
		g_hash_table_remove(auth->failures, user_key);
	}
	pthread_mutex_unlock(&auth->lock);
	g_free(name);
	g_free(user_key);
	g_free(address_key);
	return result;
}
