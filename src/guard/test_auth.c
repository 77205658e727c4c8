/*
 * test_auth.c: credential checks against a real store: the cache (and its
 * invalidation by a password change), unknown users looking like wrong
 * passwords, slowing then locking per user and per address, and expiry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/auth.h"

struct fixture {
	char dir[64];
	struct easd_config config;
	struct store *store;
	struct store_session *session;
	struct arena *arena;
	struct guard_auth *auth;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char error[256], hash[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/easd-auth-XXXXXX");
	if (mkdtemp(f->dir) == NULL || store_open(f->dir, 2, &f->store, error, sizeof(error)) < 0)
		return -1;
	config_init(&f->config);
	f->config.auth_slow_after = 2;
	f->config.auth_lockout_after = 4;
	f->config.auth_lockout_seconds = 600;
	f->session = store_session_acquire(f->store);
	f->arena = arena_new(0);
	f->auth = guard_auth_new(&f->config);
	if (guard_password_hash("right", hash, sizeof(hash)) < 0 ||
	    store_user_add(f->session, "alice", hash, NULL) != STORE_OK ||
	    store_user_add(f->session, "bob", hash, NULL) != STORE_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char command[128];
	guard_auth_free(&f->auth);
	store_session_release(&f->session);
	store_close(&f->store);
	arena_free(&f->arena);
	config_cleanup(&f->config);
	snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
	int removed = system(command);
	free(f);
	return removed;
}

static int check(struct fixture *f, const char *user, const char *password, const char *address,
		 int64_t now, const char **reason)
{
	struct store_user record;
	*reason = NULL;
	return guard_auth_check(f->auth, f->session, f->arena, user, password, address, now, &record, reason);
}

static void right_password_then_cached(void **state)
{
	struct fixture *f = *state;
	const char *reason;
	assert_int_equal(check(f, "alice", "right", "10.0.0.1", 100, &reason), GUARD_AUTH_OK);
	assert_null(reason);
	assert_int_equal(check(f, "Alice", "right", "10.0.0.1", 101, &reason), GUARD_AUTH_OK);
	assert_string_equal(reason, "cached");
	/* Past cache_seconds the hash is verified again. */
	assert_int_equal(check(f, "alice", "right", "10.0.0.1", 101 + 300, &reason), GUARD_AUTH_OK);
	assert_null(reason);
	/* A cached credential never lets another password in. */
	assert_int_equal(check(f, "alice", "wrong", "10.0.0.1", 402, &reason), GUARD_AUTH_DENIED);
}

static void password_change_invalidates_the_cache(void **state)
{
	struct fixture *f = *state;
	const char *reason;
	char hash[256];
	assert_int_equal(check(f, "alice", "right", "10.0.0.1", 100, &reason), GUARD_AUTH_OK);
	assert_int_equal(guard_password_hash("new", hash, sizeof(hash)), 0);
	assert_int_equal(store_user_set_password(f->session, "alice", hash), STORE_OK);
	assert_int_equal(check(f, "alice", "right", "10.0.0.1", 101, &reason), GUARD_AUTH_DENIED);
	assert_string_equal(reason, "bad_password");
	assert_int_equal(check(f, "alice", "new", "10.0.0.2", 102, &reason), GUARD_AUTH_OK);
}

static void unknown_user_is_denied_like_a_wrong_password(void **state)
{
	struct fixture *f = *state;
	const char *reason;
	assert_int_equal(check(f, "mallory", "right", "10.0.0.1", 100, &reason), GUARD_AUTH_DENIED);
	assert_string_equal(reason, "unknown_user");
	assert_int_equal(check(f, "alice", "nope", "10.0.0.2", 100, &reason), GUARD_AUTH_DENIED);
	assert_string_equal(reason, "bad_password");
}

static void failures_slow_then_lock(void **state)
{
	struct fixture *f = *state;
	const char *reason;
	/* Two failures: at slow_after, the next attempt within 1 s is refused unchecked. */
	assert_int_equal(check(f, "alice", "x", "10.0.0.1", 100, &reason), GUARD_AUTH_DENIED);
	assert_int_equal(check(f, "alice", "x", "10.0.0.1", 100, &reason), GUARD_AUTH_DENIED);
	assert_int_equal(check(f, "alice", "right", "10.0.0.1", 100, &reason), GUARD_AUTH_THROTTLED);
	assert_string_equal(reason, "throttled");
	/* The back-off passed: checked again (and failing again). */
	assert_int_equal(check(f, "alice", "x", "10.0.0.1", 102, &reason), GUARD_AUTH_DENIED);
	assert_int_equal(check(f, "alice", "x", "10.0.0.1", 105, &reason), GUARD_AUTH_DENIED);
	/* Four failures: locked, even with the right password, from anywhere. */
	assert_int_equal(check(f, "alice", "right", "10.9.9.9", 200, &reason), GUARD_AUTH_LOCKED);
	assert_string_equal(reason, "locked");
	/* The address is locked too, for other users. */
	assert_int_equal(check(f, "bob", "right", "10.0.0.1", 200, &reason), GUARD_AUTH_LOCKED);
	assert_int_equal(check(f, "bob", "right", "10.0.0.3", 200, &reason), GUARD_AUTH_OK);
	/* lockout_seconds after the last failure everything is forgotten. */
	assert_int_equal(check(f, "alice", "right", "10.0.0.1", 105 + 600, &reason), GUARD_AUTH_OK);
}

/* Behind a proxy every device has one address: a guesser there must not lock out the others. */
static void locked_address_still_admits_verified_users(void **state)
{
	struct fixture *f = *state;
	const char *reason;
	assert_int_equal(check(f, "bob", "right", "10.0.0.1", 100, &reason), GUARD_AUTH_OK);
	for (int i = 0; i < 4; i++)
		assert_int_equal(check(f, "mallory", "x", "10.0.0.1", 101 + i * 70, &reason), GUARD_AUTH_DENIED);
	/* bob verified before: his cached credential passes. */
	assert_int_equal(check(f, "bob", "right", "10.0.0.1", 390, &reason), GUARD_AUTH_OK);
	assert_string_equal(reason, "cached");
	/* alice never verified from there: refused unchecked, even with the right password. */
	assert_int_equal(check(f, "alice", "right", "10.0.0.1", 390, &reason), GUARD_AUTH_LOCKED);
	assert_string_equal(reason, "address_locked");
	/* From elsewhere she is fine: the user has no failures. */
	assert_int_equal(check(f, "alice", "right", "10.0.0.2", 390, &reason), GUARD_AUTH_OK);
}

static void readded_user_does_not_inherit_the_cache(void **state)
{
	struct fixture *f = *state;
	const char *reason;
	char hash[256];
	assert_int_equal(check(f, "alice", "right", "10.0.0.1", 100, &reason), GUARD_AUTH_OK);
	assert_int_equal(store_user_delete(f->session, "alice"), STORE_OK);
	assert_int_equal(guard_password_hash("other", hash, sizeof(hash)), 0);
	assert_int_equal(store_user_add(f->session, "alice", hash, NULL), STORE_OK);
	assert_int_equal(check(f, "alice", "right", "10.0.0.1", 101, &reason), GUARD_AUTH_DENIED);
	assert_int_equal(check(f, "alice", "other", "10.0.0.2", 102, &reason), GUARD_AUTH_OK);
}

static void success_resets_the_user_count(void **state)
{
	struct fixture *f = *state;
	const char *reason;
	assert_int_equal(check(f, "alice", "x", "10.0.0.1", 100, &reason), GUARD_AUTH_DENIED);
	assert_int_equal(check(f, "alice", "right", "10.0.1.1", 101, &reason), GUARD_AUTH_OK);
	assert_int_equal(check(f, "alice", "x", "10.0.2.1", 102, &reason), GUARD_AUTH_DENIED);
	/* One failure of the user since the success: not slowed. */
	assert_int_equal(check(f, "alice", "right", "10.0.3.1", 102, &reason), GUARD_AUTH_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(right_password_then_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(password_change_invalidates_the_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_user_is_denied_like_a_wrong_password, setup, teardown),
		cmocka_unit_test_setup_teardown(failures_slow_then_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(locked_address_still_admits_verified_users, setup, teardown),
		cmocka_unit_test_setup_teardown(readded_user_does_not_inherit_the_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(success_resets_the_user_count, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
