/*
 * auth.h: who may come in. Verifies HTTP Basic credentials against the
 * store's crypt(3) hashes (yescrypt via libxcrypt), caches a verified
 * credential for a short time, and slows then refuses repeated failures
 * per user and per client address.
 *
 * Owns: the credential cache and the failure counters (one mutex, bounded
 * sizes). The cache never holds a password: only an HMAC of it under a key
 * drawn at start-up, plus the user's credential version, so a password
 * change (easctl user passwd, from any process) invalidates it.
 */
#ifndef GUARD_AUTH_H
#define GUARD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/util.h"

enum guard_auth_result {
	GUARD_AUTH_OK = 0,
	GUARD_AUTH_DENIED = -1,    /* wrong password or unknown user: the client cannot tell which */
	GUARD_AUTH_THROTTLED = -2, /* too many recent failures: refused without checking */
	GUARD_AUTH_LOCKED = -3,    /* past the lockout threshold: refused for lockout_seconds */
	GUARD_AUTH_ERROR = -4,     /* the store failed */
};

struct guard_auth;

struct guard_auth *guard_auth_new(const struct easd_config *config);
void guard_auth_free(struct guard_auth **auth);
/* Takes [auth]'s numbers from config (SIGHUP); config need not outlive the call. */
void guard_auth_configure(struct guard_auth *auth, const struct easd_config *config);

/*
 * Checks user/password from client_address at time now. On GUARD_AUTH_OK
 * fills *user_out (strings in arena). *reason_out names the outcome for
 * the log ("bad_password", "unknown_user", "throttled", "locked",
 * "cached").
 */
int guard_auth_check(struct guard_auth *auth, struct store_session *session, struct arena *arena,
		     const char *user, const char *password, const char *client_address, int64_t now,
		     struct store_user *user_out, const char **reason_out);

/* A fresh yescrypt hash of password into out. Returns 0 or -1. */
int guard_password_hash(const char *password, char *out, size_t out_len);

#endif
