/*
 * provision.c: the Provision command (MS-ASPROV) and the policy check every
 * other command passes.
 *
 * Keys: phase one (download) hands out a temporary key bound to the policy
 * version (a digest of [policy] and the mode); phase two (acknowledgement
 * with that key) hands out the final key. A device is in order when it
 * sends its final key and that key's policy version is the current one.
 * When the administrator changes the policy the version changes, so each
 * device gets 143 once, provisions, and is in order again: it is never
 * sent round the loop twice for one change.
 *
 * A repeated acknowledgement (the response was lost) is accepted again and
 * gets a fresh final key: the temporary key stays valid until the next
 * download, so a device on a bad link cannot be stranded between phases.
 */
#include "eas/eas_private.h"
#include "guard/limits.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define POLICY_TYPE "MS-EAS-Provisioning-WBXML"

int eas_policy_status(const struct eas_request *request)
{
	const struct easd_config *config = request->config;
	const struct store_device *device = &request->device;
	uint32_t key = request->has_policy_key ? request->policy_key : 0;
	if (config->provision == CONFIG_PROVISION_OFF)
		return 0;
	if (key == 0)
		return config->provision == CONFIG_PROVISION_REQUIRED ? EAS_STATUS_DEVICE_NOT_PROVISIONED : 0;
	if (key != device->policy_key)
		return EAS_STATUS_INVALID_POLICY_KEY;
	if (strcmp(device->policy_version, config->policy_version) != 0)
		return EAS_STATUS_POLICY_REFRESH;
	return 0;
}

/* What the request said. */
struct provision_request {
	struct slice policy_type;
	bool has_policy_key;
	struct slice policy_key;
	struct slice client_status;
	unsigned policies;
	bool has_device_information;
	struct store_device_information information;
	bool remote_wipe_ack;
};

static const char *text(struct eas_request *request, struct slice s)
{
	return arena_strndup(request->arena, s.data != NULL ? s.data : (const uint8_t *)"", s.len);
}

static int read_information(struct eas_request *request, struct wbxml_reader *reader,
			    enum wbxml_tag tag, struct provision_request *p)
{
	struct slice value;
	const char **field;
	switch (tag) {
	case WBXML_SETTINGS_MODEL: field = &p->information.model; break;
	case WBXML_SETTINGS_IMEI: field = &p->information.imei; break;
	case WBXML_SETTINGS_FRIENDLY_NAME: field = &p->information.friendly_name; break;
	case WBXML_SETTINGS_OS: field = &p->information.os; break;
	case WBXML_SETTINGS_OS_LANGUAGE: field = &p->information.os_language; break;
	case WBXML_SETTINGS_PHONE_NUMBER: field = &p->information.phone_number; break;
	case WBXML_SETTINGS_MOBILE_OPERATOR: field = &p->information.mobile_operator; break;
	default: return wbxml_reader_skip(reader);
	}
	if (eas_read_text(reader, &value) < 0)
		return -1;
	if (value.len > LIMIT_DEVICE_INFORMATION_BYTES)
		value.len = LIMIT_DEVICE_INFORMATION_BYTES;
	*field = text(request, value);
	return 0;
}

/* Walks the request; only the elements Provision uses are kept. */
static int parse_request(struct eas_request *request, struct provision_request *p)
{
	struct wbxml_reader reader;
	struct wbxml_event event;
	memset(p, 0, sizeof(*p));
	wbxml_reader_init(&reader, request->body.data, request->body.len, NULL);
	for (;;) {
		if (wbxml_reader_next(&reader, &event) < 0)
			return -1;
		if (event.type == WBXML_EVENT_DONE)
			return 0;
		if (event.type != WBXML_EVENT_START)
			continue;
		int status = 0;
		switch (event.tag) {
		case WBXML_PROVISION_POLICY: p->policies++; break;
		case WBXML_PROVISION_POLICY_TYPE: status = eas_read_text(&reader, &p->policy_type); break;
		case WBXML_PROVISION_POLICY_KEY:
			p->has_policy_key = true;
			status = eas_read_text(&reader, &p->policy_key);
			break;
		case WBXML_PROVISION_STATUS: status = eas_read_text(&reader, &p->client_status); break;
		case WBXML_PROVISION_REMOTE_WIPE:
		case WBXML_PROVISION_ACCOUNT_ONLY_REMOTE_WIPE: p->remote_wipe_ack = true; break;
		case WBXML_SETTINGS_DEVICE_INFORMATION: p->has_device_information = true; break;
		case WBXML_SETTINGS_SET: break; /* a container: its children are read below */
		default:
			if (wbxml_tag_page(event.tag) == wbxml_tag_page(WBXML_SETTINGS_SET))
				status = read_information(request, &reader, event.tag, p);
			break;
		}
		if (status < 0)
			return -1;
	}
}

static uint32_t new_key(void)
{
	uint32_t key = 0;
	while (key == 0)
		if (getrandom(&key, sizeof(key), 0) != (ssize_t)sizeof(key))
			abort();
	return key;
}

static int compare_settings(const void *a, const void *b)
{
	const struct config_policy_setting *x = a, *y = b;
	enum wbxml_tag tx = 0, ty = 0;
	wbxml_tag_lookup("Provision", 9, x->name, strlen(x->name), 0, &tx);
	wbxml_tag_lookup("Provision", 9, y->name, strlen(y->name), 0, &ty);
	return (int)tx - (int)ty;
}

/* The EASProvisionDoc, settings in code page order (the schema's order). */
static void write_policy_document(struct eas_request *request, struct wbxml_writer *writer)
{
	const struct easd_config *config = request->config;
	size_t n = config->policy_count;
	struct config_policy_setting *sorted = arena_alloc(request->arena, (n + 1) * sizeof(*sorted));
	memcpy(sorted, config->policy, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), compare_settings);
	wbxml_writer_start(writer, WBXML_PROVISION_DATA);
	wbxml_writer_start(writer, WBXML_PROVISION_EAS_PROVISION_DOC);
	for (size_t i = 0; i < n; i++) {
		enum wbxml_tag tag;
		if (wbxml_tag_lookup("Provision", 9, sorted[i].name, strlen(sorted[i].name), 0, &tag) == 0)
			wbxml_writer_element_cstr(writer, tag, sorted[i].value);
	}
	wbxml_writer_end(writer);
	wbxml_writer_end(writer);
}

static void write_response(struct eas_request *request, const struct provision_request *p,
			   int policy_status, uint32_t key, bool with_document)
{
	struct wbxml_writer writer;
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, WBXML_PROVISION_PROVISION);
	if (p->has_device_information) {
		wbxml_writer_start(&writer, WBXML_SETTINGS_DEVICE_INFORMATION);
		wbxml_writer_element_uint(&writer, WBXML_SETTINGS_STATUS, 1);
		wbxml_writer_end(&writer);
	}
	wbxml_writer_element_uint(&writer, WBXML_PROVISION_STATUS, EAS_STATUS_SUCCESS);
	wbxml_writer_start(&writer, WBXML_PROVISION_POLICIES);
	wbxml_writer_start(&writer, WBXML_PROVISION_POLICY);
	wbxml_writer_element_cstr(&writer, WBXML_PROVISION_POLICY_TYPE, POLICY_TYPE);
	wbxml_writer_element_uint(&writer, WBXML_PROVISION_STATUS, (uint64_t)policy_status);
	if (key != 0)
		wbxml_writer_element_uint(&writer, WBXML_PROVISION_POLICY_KEY, key);
	if (with_document)
		write_policy_document(request, &writer);
	wbxml_writer_end(&writer);
	wbxml_writer_end(&writer);
	wbxml_writer_end(&writer);
	eas_writer_finish(request, &writer);
	request->eas_status = EAS_STATUS_SUCCESS;
}

static void download(struct eas_request *request, const struct provision_request *p)
{
	const struct easd_config *config = request->config;
	uint32_t key = new_key();
	if (store_device_set_pending_policy(request->session, request->device.id, key,
					    config->policy_version) != STORE_OK) {
		eas_answer_status(request, eas_command_find("Provision"), EAS_PROVISION_SERVER_ERROR, "store_error");
		return;
	}
	bool no_policy = config->provision == CONFIG_PROVISION_OFF;
	write_response(request, p, no_policy ? EAS_POLICY_NO_POLICY : EAS_STATUS_SUCCESS, key, !no_policy);
}

/*
 * Client Status 1 applied, 2 partly, 3 not, 4 third party (MS-ASPROV
 * 2.2.2.54.1). Applied always passes; partly and third party only with
 * [provision] allow_partial; not applied never does (with a policy).
 */
static int compliance_status(const struct eas_request *request, struct slice client_status)
{
	const struct easd_config *config = request->config;
	uint64_t status = 1;
	if (client_status.len > 0 && (parse_uint64(client_status, 4, &status) < 0 || status == 0))
		return EAS_PROVISION_PROTOCOL_ERROR;
	if (status == 1 || config->provision == CONFIG_PROVISION_OFF)
		return 0;
	if (status == 3)
		return EAS_STATUS_DEVICE_NOT_FULLY_PROVISIONABLE;
	if (config->allow_partial_policy)
		return 0;
	return status == 4 ? EAS_STATUS_EXTERNALLY_MANAGED_NOT_ALLOWED : EAS_STATUS_DEVICE_NOT_FULLY_PROVISIONABLE;
}

static void acknowledge(struct eas_request *request, const struct provision_request *p)
{
	const struct store_device *device = &request->device;
	uint64_t key;
	if (parse_uint64(p->policy_key, UINT32_MAX, &key) < 0 || key == 0 || key != device->pending_key) {
		request->reason = "wrong_policy_key";
		write_response(request, p, EAS_POLICY_WRONG_KEY, 0, false);
		return;
	}
	int refused = compliance_status(request, p->client_status);
	if (refused != 0) {
		eas_answer_status(request, eas_command_find("Provision"), refused, "policy_not_applied");
		return;
	}
	uint32_t final_key = new_key();
	if (store_device_set_policy(request->session, device->id, final_key, device->pending_version) != STORE_OK) {
		eas_answer_status(request, eas_command_find("Provision"), EAS_PROVISION_SERVER_ERROR, "store_error");
		return;
	}
	write_response(request, p, EAS_STATUS_SUCCESS, final_key, false);
}

/*
 * A wipe pending (MS-ASPROV 3.2.5.1.2): any Provision but the device's
 * acknowledgement is answered <Status>1</Status><RemoteWipe/> alone (no
 * Policies: an older AOSP parser stops at them); the acknowledgement is
 * recorded, success answered 1, failure 2 with the wipe again. The wipe
 * stays pending until an administrator forgets the device: one that
 * comes back is wiped again, as Exchange does.
 */
static void answer_wipe(struct eas_request *request, const struct provision_request *p)
{
	struct store_device_wipe wipe = request->device.wipe;
	uint64_t acknowledged = 0;
	bool failed = p->remote_wipe_ack && (parse_uint64(p->client_status, 9, &acknowledged) < 0 || acknowledged != 1);
	if (p->remote_wipe_ack)
		wipe.state = failed ? STORE_WIPE_FAILED : STORE_WIPE_DONE;
	else if (wipe.state == STORE_WIPE_REQUESTED)
		wipe.state = STORE_WIPE_SENT;
	wipe.answered = request->now;
	if (store_device_set_wipe(request->session, request->device.id, &wipe) != STORE_OK) {
		eas_answer_status(request, eas_command_find("Provision"), EAS_PROVISION_SERVER_ERROR, "store_error");
		return;
	}
	struct wbxml_writer writer;
	eas_writer_init(request, &writer);
	wbxml_writer_start(&writer, WBXML_PROVISION_PROVISION);
	wbxml_writer_element_uint(&writer, WBXML_PROVISION_STATUS, failed ? EAS_PROVISION_PROTOCOL_ERROR : 1);
	if (!p->remote_wipe_ack || failed)
		wbxml_writer_empty(&writer, wipe.kind == STORE_WIPE_ACCOUNT ? WBXML_PROVISION_ACCOUNT_ONLY_REMOTE_WIPE
									    : WBXML_PROVISION_REMOTE_WIPE);
	wbxml_writer_end(&writer);
	eas_writer_finish(request, &writer);
	/* Committed also when the device said it failed: that is recorded. */
	request->eas_status = EAS_STATUS_SUCCESS;
	request->reason = p->remote_wipe_ack ? (failed ? "remote_wipe_failed" : "remote_wipe_done") : "remote_wipe_sent";
}

static bool has_information(const struct store_device_information *i)
{
	return i->model != NULL || i->imei != NULL || i->friendly_name != NULL || i->os != NULL ||
	       i->os_language != NULL || i->phone_number != NULL || i->mobile_operator != NULL;
}

static void run(struct eas_request *request, const struct eas_command *command, const struct provision_request *p)
{
	if (has_information(&p->information) &&
	    store_device_set_information(request->session, request->device.id, &p->information) != STORE_OK) {
		eas_answer_status(request, command, EAS_PROVISION_SERVER_ERROR, "store_error");
		return;
	}
	if (request->device.wipe.kind != STORE_WIPE_NONE) {
		answer_wipe(request, p);
		return;
	}
	if (p->policies == 0) {
		/* A bare <Provision/> (after a wipe status) or a wipe acknowledgement. */
		eas_answer_status(request, command, EAS_STATUS_SUCCESS, NULL);
		return;
	}
	if (!slice_equals_cstr(p->policy_type, POLICY_TYPE)) {
		request->reason = "policy_type_unknown";
		write_response(request, p, EAS_POLICY_UNKNOWN_TYPE, 0, false);
		return;
	}
	if (p->has_policy_key)
		acknowledge(request, p);
	else
		download(request, p);
}

void eas_provision(struct eas_request *request)
{
	const struct eas_command *command = eas_command_find("Provision");
	struct provision_request p;
	if (parse_request(request, &p) < 0 || p.policies > 1) {
		eas_answer_status(request, command, EAS_PROVISION_PROTOCOL_ERROR, "request_invalid");
		return;
	}
	/* Device information and the key it is given commit together, or not at all. */
	if (store_begin(request->session) != STORE_OK) {
		eas_answer_status(request, command, EAS_PROVISION_SERVER_ERROR, "store_busy");
		return;
	}
	run(request, command, &p);
	if (request->eas_status != EAS_STATUS_SUCCESS) {
		store_rollback(request->session);
	} else if (store_commit(request->session) != STORE_OK) {
		request->response.len = 0;
		eas_answer_status(request, command, EAS_PROVISION_SERVER_ERROR, "store_commit_failed");
	}
}
