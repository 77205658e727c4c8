/*
 * access.c: may this device of this user run a command now? Every request
 * passes here once its device is known, before the policy check: the
 * decisions are read with the device and the user (the store), so what
 * easctl changes holds from the next request on, restarts included.
 *
 * In this order, each answered as MS-ASCMD 2.2.2 says (12.1 gets the
 * HTTP status Exchange 2007 used):
 *   - a remote wipe pending: Provision carries it (provision.c), every
 *     other command gets 140 (12.1: 449, or 403 without a policy key) so
 *     the device provisions;
 *   - the user's sync switched off: 126 (403);
 *   - a block by an administrator: 129 (403), Provision too: AOSP takes
 *     a 403 for "provision again" and would loop on an open Provision;
 *   - a block by autoblock, which ends: HTTP 503 with Retry-After until
 *     its end and X-MS-ASThrottle, as Exchange's own autoblock answers; a
 *     client backs off instead of giving the account up;
 *   - quarantine (no code exists for it): 503 with Retry-After
 *     [access] quarantine_retry, so the device comes back by itself once
 *     allowed; Provision passes, so it says what it is (model, OS) for the
 *     administrator who decides;
 *   - past [access] max_devices_per_user: 177 (403).
 * An administrator's allow or block wins over [access] rules; the rules
 * decide for every other device, at each request.
 */
#include "eas/eas_private.h"

#include <stdio.h>
#include <string.h>

/* The decision in force: the device's own (unless it ended), else [access]. */
static enum config_access decide(const struct eas_request *request, const char **by_out)
{
	const struct store_device_access *access = &request->device.access;
	bool current = access->access != STORE_ACCESS_RULES && (access->until == 0 || access->until > request->now);
	if (current) {
		*by_out = access->by;
		return access->access == STORE_ACCESS_ALLOW   ? CONFIG_ACCESS_ALLOW
		       : access->access == STORE_ACCESS_BLOCK ? CONFIG_ACCESS_BLOCK
							      : CONFIG_ACCESS_QUARANTINE;
	}
	const struct config_access_rule *rule;
	const struct store_device *d = &request->device;
	enum config_access verdict = config_access_for(request->config, d->device_type, d->model, d->os,
						       d->user_agent, &rule);
	*by_out = rule != NULL ? "rule" : "default";
	return verdict;
}

/* A refusal in the command's terms; refusal is the access log's x-guard word ("blocked", "wipe"). */
static bool refuse(struct eas_request *request, const struct eas_command *command, int status,
		   unsigned http_status_12, const char *reason, const char *refusal)
{
	eas_answer_failure(request, command, status, http_status_12, reason);
	request->access_refusal = refusal;
	return true;
}

/* 503 with Retry-After (seconds) and why, in X-MS-ASThrottle (MS-ASHTTP 2.2.2.1.2.13). */
static bool refuse_for_now(struct eas_request *request, int64_t seconds, const char *throttle, const char *reason,
			   const char *refusal)
{
	char *text = arena_alloc(request->arena, 24);
	snprintf(text, 24, "%lld", (long long)(seconds < 1 ? 1 : seconds));
	request->http_status = 503;
	request->reason = reason;
	request->access_refusal = refusal;
	eas_add_header(request, "Retry-After", text);
	eas_add_header(request, "X-MS-ASThrottle", throttle);
	return true;
}

static bool refuse_wipe(struct eas_request *request, const struct eas_command *command)
{
	const struct store_device *device = &request->device;
	/* AccountOnlyRemoteWipe is 16.1's: an older device gets no data instead. */
	if (device->wipe.kind == STORE_WIPE_ACCOUNT && request->protocol_version < 161)
		return refuse(request, command, EAS_STATUS_DEVICE_BLOCKED_FOR_USER, 403, "account_wipe_needs_16_1",
			      "blocked");
	if (strcmp(command->name, "Provision") == 0)
		return false;
	return refuse(request, command, EAS_STATUS_REMOTE_WIPE_REQUESTED, request->has_policy_key ? 449 : 403,
		      "remote_wipe_requested", "wipe");
}

static bool refuse_over_cap(struct eas_request *request, const struct eas_command *command)
{
	unsigned max = request->config->max_devices_per_user;
	uint64_t before = 0;
	if (max == 0 || request->device.access.access == STORE_ACCESS_ALLOW)
		return false; /* an administrator's allow is a place of its own */
	if (store_device_count_before(request->session, request->user.id, request->device.id, &before) != STORE_OK) {
		eas_answer_failure(request, command, EAS_STATUS_SERVER_ERROR_RETRY_LATER, 503, "store_error");
		return true;
	}
	if (before < max)
		return false;
	return refuse(request, command, EAS_STATUS_MAXIMUM_DEVICES_REACHED, 403, "too_many_devices", "blocked");
}

bool eas_access_refused(struct eas_request *request, const struct eas_command *command)
{
	if (request->device.wipe.kind != STORE_WIPE_NONE)
		return refuse_wipe(request, command);
	if (request->user.sync_disabled)
		return refuse(request, command, EAS_STATUS_USER_DISABLED_FOR_SYNC, 403, "user_disabled", "blocked");
	const char *by = "";
	enum config_access access = decide(request, &by);
	if (access == CONFIG_ACCESS_BLOCK && strncmp(by, "autoblock", 9) == 0) {
		/* Exchange's words where it has the rule. */
		const char *throttle = strstr(by, "user_agent") != NULL	  ? "UserAgentsChanges"
				       : strstr(by, "command_rate") != NULL ? "RecentCommands"
									    : "CommandFrequency";
		return refuse_for_now(request, request->device.access.until - request->now, throttle,
				      "device_autoblocked", "blocked");
	}
	if (access == CONFIG_ACCESS_BLOCK)
		return refuse(request, command, EAS_STATUS_DEVICE_BLOCKED_FOR_USER, 403, "device_blocked", "blocked");
	if (access == CONFIG_ACCESS_QUARANTINE && strcmp(command->name, "Provision") != 0)
		return refuse_for_now(request, request->config->quarantine_retry, "DeviceQuarantined",
				      "device_quarantined", "quarantined");
	return refuse_over_cap(request, command);
}

/* FNV-1a: tells one Sync body from another; a collision costs a count, never a wrong answer. */
static uint64_t digest(struct slice data)
{
	uint64_t hash = 14695981039346656037u;
	for (size_t i = 0; i < data.len; i++)
		hash = (hash ^ data.data[i]) * 1099511628211u;
	return hash | 1; /* 0 means "no body" */
}

static void block(struct eas_request *request, const struct guard_autoblock_verdict *verdict)
{
	char *by = arena_alloc(request->arena, 48);
	snprintf(by, 48, "autoblock:%s", guard_autoblock_rule_name(verdict->rule));
	struct store_device_access access = { STORE_ACCESS_BLOCK, by, verdict->reason, request->now,
					      request->now + verdict->block_seconds };
	int status = store_device_set_access(request->session, request->device.id, &access);
	fprintf(stderr, "easd: device %s of %s blocked for %u s by autoblock (%s): %s%s\n", request->device_id,
		request->user.name, verdict->block_seconds, guard_autoblock_rule_name(verdict->rule), verdict->reason,
		status == STORE_OK ? "" : " (not recorded: store error)");
}

void eas_access_observe(struct eas_request *request, const struct eas_command *command)
{
	if (request->server == NULL || request->server->autoblock == NULL)
		return;
	int status = request->eas_status;
	bool is_sync = strcmp(command->name, "Sync") == 0;
	struct guard_observation observation = {
		.device = request->device.id,
		.command = command->name,
		.http_status = request->http_status,
		.eas_status = status,
		.user_agent = request->user_agent,
		.body_digest = is_sync && request->body.len > 0 ? digest(request->body) : 0,
		.sync_key_zero = request->sync_key_zero,
		.sync_key_zero_count = request->sync_key_zero_count,
		.policy_refused = request->http_status == 449 || (status >= EAS_STATUS_DEVICE_NOT_PROVISIONED &&
								 status <= EAS_STATUS_INVALID_POLICY_KEY),
		.ping_immediate = strcmp(command->name, "Ping") == 0 && request->park == NULL,
	};
	struct guard_autoblock_verdict verdict;
	if (guard_autoblock_observe(request->server->autoblock, &request->config->autoblock, &observation,
				    util_monotonic_ms(), &verdict))
		block(request, &verdict);
}
