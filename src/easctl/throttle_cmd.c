/*
 * throttle_cmd.c: `easctl throttle show|clear`: the guard's caps and
 * budgets of each user, which live in the running easd's memory only, read
 * and refilled through its metrics listener (GET /guard, POST /guard/clear
 * from this host). User names come from the store: easd says user ids.
 */
#include "easctl/easctl.h"

#include <curl/curl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

/* Bytes of /guard's answer read at most (1000 users of about 200 bytes). */
#define THROTTLE_ANSWER_BYTES (1024 * 1024)

/* http://HOST:PORT of [metrics] listen; the port of port_file when one is set (port 0). NULL: off. */
static char *metrics_url(const struct easd_config *config)
{
	char host[256];
	uint16_t port;
	if (config->metrics_listen[0] == '\0' ||
	    config_split_listen(config->metrics_listen, host, sizeof(host), &port) < 0)
		return NULL;
	gchar *text = NULL;
	if (config->metrics_port_file[0] != '\0' && g_file_get_contents(config->metrics_port_file, &text, NULL, NULL))
		port = (uint16_t)strtoul(text, NULL, 10);
	g_free(text);
	bool v6 = strchr(host, ':') != NULL;
	/* A listener on every address is reached on loopback, where clearing is allowed. */
	const char *reach = strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : strcmp(host, "::") == 0 ? "::1" : host;
	return g_strdup_printf(v6 ? "http://[%s]:%u" : "http://%s:%u", reach, port);
}

static size_t collect(char *data, size_t size, size_t count, void *context)
{
	GString *answer = context;
	if (answer->len + size * count > THROTTLE_ANSWER_BYTES)
		return 0;
	g_string_append_len(answer, data, (gssize)(size * count));
	return size * count;
}

/* GET or POST path on easd's metrics listener; its answer in *answer. Returns 0 or -1 (message printed). */
static int ask_easd(const struct easd_config *config, const char *path, bool post, GString *answer)
{
	char *base = metrics_url(config);
	if (base == NULL) {
		fputs("easctl: throttle needs easd's metrics listener ([metrics] listen)\n", stderr);
		return -1;
	}
	gchar *url = g_strconcat(base, path, NULL);
	CURL *curl = curl_easy_init();
	long status = 0;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	if (post)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	CURLcode result = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	if (result != CURLE_OK || status != 200)
		fprintf(stderr, "easctl: %s: %s\n", url,
			result != CURLE_OK ? curl_easy_strerror(result) : answer->str);
	g_free(url);
	g_free(base);
	return result == CURLE_OK && status == 200 ? 0 : -1;
}

/* The store's users by id, for the names. */
static void add_name(void *context, const struct store_user *user)
{
	g_hash_table_insert(context, g_strdup_printf("%lld", (long long)user->id), g_strdup(user->name));
}

static GHashTable *user_names(const struct easd_config *config)
{
	GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	struct store *store;
	struct store_session *session;
	if (easctl_open_store(config, &store, &session) < 0)
		return names;
	struct arena *arena = arena_new(0);
	store_user_list(session, arena, add_name, names);
	arena_free(&arena);
	easctl_close_store(&store, &session);
	return names;
}

/* One user of /guard's JSON (easd's own format, metrics/throttle.c). */
struct throttle_user {
	long long user;
	unsigned requests, sessions;
	double requests_left, time_left, bytes_left;
	unsigned long long refused;
	char last[32];
};

static int parse_user(const char *object, struct throttle_user *u)
{
	u->last[0] = '\0';
	int n = sscanf(object,
		       "{\"user\":%lld,\"requests\":%u,\"sessions\":%u,\"requests_left\":%lf,\"time_left\":%lf,"
		       "\"bytes_left\":%lf,\"refused\":%llu,\"last_refusal\":\"%31[a-z_]\"",
		       &u->user, &u->requests, &u->sessions, &u->requests_left, &u->time_left, &u->bytes_left,
		       &u->refused, u->last);
	return n >= 7 ? 0 : -1;
}

/* A budget's share left as a percentage; below 0: overdrawn (the user waits for it to refill). */
static void print_user(const struct throttle_user *u, const char *name)
{
	printf("%-20.20s %5u %5u %8.0f%% %8.0f%% %8.0f%% %8llu  %s\n", name, u->requests, u->sessions,
	       u->requests_left * 100, u->time_left * 100, u->bytes_left * 100, u->refused,
	       u->last[0] != '\0' ? u->last : "-");
}

static int show(const struct easd_config *config, bool json)
{
	GString *answer = g_string_new(NULL);
	int status = ask_easd(config, "/guard", false, answer);
	if (status == 0 && json)
		fputs(answer->str, stdout);
	if (status == 0 && !json) {
		GHashTable *names = user_names(config);
		printf("%-20s %5s %5s %9s %9s %9s %8s  %s\n", "USER", "REQS", "SESS", "REQ LEFT", "TIME LEFT",
		       "BYTES LEFT", "REFUSED", "LAST REFUSAL");
		unsigned shown = 0;
		for (const char *p = strstr(answer->str, "{\"user\":"); p != NULL; p = strstr(p + 1, "{\"user\":")) {
			struct throttle_user u;
			if (parse_user(p, &u) < 0)
				continue;
			gchar *id = g_strdup_printf("%lld", u.user);
			const char *name = g_hash_table_lookup(names, id);
			print_user(&u, name != NULL ? name : id);
			g_free(id);
			shown++;
		}
		if (shown == 0)
			puts("(no user holds anything or was refused lately)");
		g_hash_table_destroy(names);
	}
	g_string_free(answer, TRUE);
	return status == 0 ? 0 : EASCTL_EXIT_FAILURE;
}

static int clear(const struct easd_config *config, const char *user_name)
{
	gchar *path = g_strdup("/guard/clear");
	if (user_name != NULL) {
		struct store *store;
		struct store_session *session;
		if (easctl_open_store(config, &store, &session) < 0) {
			g_free(path);
			return EASCTL_EXIT_FAILURE;
		}
		struct arena *arena = arena_new(0);
		struct store_user user;
		int found = store_user_find(session, arena, user_name, &user);
		if (found == STORE_OK) {
			g_free(path);
			path = g_strdup_printf("/guard/clear?user=%lld", (long long)user.id);
		}
		arena_free(&arena);
		easctl_close_store(&store, &session);
		if (found != STORE_OK) {
			fprintf(stderr, "easctl: no user %s\n", user_name);
			g_free(path);
			return EASCTL_EXIT_FAILURE;
		}
	}
	GString *answer = g_string_new(NULL);
	int status = ask_easd(config, path, true, answer);
	if (status == 0)
		printf("budgets of %s refilled\n", user_name != NULL ? user_name : "every user");
	g_string_free(answer, TRUE);
	g_free(path);
	return status == 0 ? 0 : EASCTL_EXIT_FAILURE;
}

int easctl_throttle(const struct easd_config *config, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[0], "show") == 0 && strcmp(argv[1], "--json") == 0;
	if (argc >= 1 && strcmp(argv[0], "show") == 0 && (argc == 1 || json))
		return show(config, json);
	if (argc >= 1 && argc <= 2 && strcmp(argv[0], "clear") == 0)
		return clear(config, argc == 2 ? argv[1] : NULL);
	fputs("usage: easctl throttle show [--json], easctl throttle clear [USER]\n", stderr);
	return EASCTL_EXIT_USAGE;
}
