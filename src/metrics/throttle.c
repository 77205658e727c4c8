/*
 * throttle.c: the guard's per-user state on the metrics listener, for
 * `easctl throttle`: GET /guard lists the users that hold something or
 * were refused (by user id: names stay in the store, where easctl reads
 * them), POST /guard/clear[?user=ID] refills budgets. The counters live
 * in easd's memory only, so this is the way to them. Clearing is taken
 * from a loopback peer only: the listener may face a scraper elsewhere.
 */
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "config/live.h"
#include "guard/usage.h"
#include "util/util.h"

/* Users listed at most: the busiest, which are the ones an administrator looks for. */
#define THROTTLE_USERS 1000

int metrics_throttle_json(struct guard_usage *usage, struct config_live *live, struct buf *out)
{
	struct guard_usage_user *users = calloc(THROTTLE_USERS, sizeof(*users));
	if (users == NULL)
		abort();
	const struct easd_config *config = config_live_get(live);
	size_t n = guard_usage_list(usage, &config->guard, util_monotonic_ms(), users, THROTTLE_USERS);
	config_live_put(live, config);
	int status = buf_printf(out, "{\"users\":[");
	for (size_t i = 0; i < n && status == 0; i++) {
		const struct guard_usage_user *u = &users[i];
		status = buf_printf(out,
				    "%s{\"user\":%lld,\"requests\":%u,\"sessions\":%u,\"requests_left\":%.3f,"
				    "\"time_left\":%.3f,\"bytes_left\":%.3f,\"refused\":%llu,\"last_refusal\":\"%s\"}",
				    i > 0 ? "," : "", (long long)u->user, u->requests, u->sessions, u->requests_left,
				    u->time_left, u->bytes_left, (unsigned long long)u->refused,
				    u->refused > 0 ? guard_refusal_reason(u->last_refusal) : "");
	}
	free(users);
	return status == 0 ? buf_printf(out, "]}\n") : -1;
}

bool metrics_peer_is_loopback(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || info->client_addr == NULL)
		return false;
	const struct sockaddr *address = info->client_addr;
	if (address->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)address)->sin_addr.s_addr) >> 24) == 127;
	if (address->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)address)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}
