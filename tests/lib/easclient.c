/* easclient.c: see easclient.h. */
#include "easclient.h"

#include <curl/curl.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct easclient {
	struct easclient_options options;
	CURL *curl;
	uint32_t policy_key;
	char *source;                 /* CURLOPT_INTERFACE, NULL: any */
	/* The request being made, freed when it ends. */
	char *url, *query;
	struct curl_slist *headers;
};

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct easclient *easclient_new(const struct easclient_options *options)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, global_init);
	struct easclient *client = calloc(1, sizeof(*client));
	if (client == NULL)
		abort();
	client->options = *options;
	if (client->options.device_type == NULL)
		client->options.device_type = "easclient";
	if (client->options.user_agent == NULL)
		client->options.user_agent = "easclient/1.0";
	if (client->options.protocol_version == 0)
		client->options.protocol_version = 141;
	client->curl = curl_easy_init();
	if (client->curl == NULL)
		abort();
	return client;
}

void easclient_free(struct easclient **client)
{
	if (*client == NULL)
		return;
	curl_easy_cleanup((*client)->curl);
	curl_slist_free_all((*client)->headers);
	g_free((*client)->url);
	g_free((*client)->query);
	g_free((*client)->source);
	free(*client);
	*client = NULL;
}

void easclient_response_init(struct easclient_response *response)
{
	response->http_status = 0;
	buf_init(&response->body, 0);
	buf_init(&response->headers, 0);
}

void easclient_response_cleanup(struct easclient_response *response)
{
	buf_cleanup(&response->body);
	buf_cleanup(&response->headers);
}

static size_t on_data(char *data, size_t size, size_t count, void *context)
{
	buf_append(context, data, size * count);
	return size * count;
}

const char *easclient_header(const struct easclient_response *response, struct arena *arena,
			     const char *name)
{
	size_t name_len = strlen(name);
	const char *p = (const char *)response->headers.data;
	const char *end = p + response->headers.len;
	while (p != NULL && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t line = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);
		if (line > name_len && strncasecmp(p, name, name_len) == 0 && p[name_len] == ':') {
			const char *value = p + name_len + 1;
			while (*value == ' ')
				value++;
			size_t n = (size_t)(p + line - value);
			while (n > 0 && (value[n - 1] == '\r' || value[n - 1] == ' '))
				n--;
			return arena_strndup(arena, value, n);
		}
		p = eol != NULL ? eol + 1 : NULL;
	}
	return NULL;
}

static const char *const command_codes[] = {
	"Sync", "SendMail", "SmartForward", "SmartReply", "GetAttachment", NULL, NULL, NULL, NULL,
	"FolderSync", "FolderCreate", "FolderDelete", "FolderUpdate", "MoveItems", "GetItemEstimate",
	"MeetingResponse", "Search", "Settings", "Ping", "ItemOperations", "Provision",
	"ResolveRecipients", "ValidateCert", "Find",
};

/* MS-ASHTTP 2.2.1.1.1.1: version, command, locale, device id, policy key, device type. */
static char *base64_query(const struct easclient *client, const char *command)
{
	uint8_t bytes[512];
	size_t n = 0;
	int code = -1;
	for (size_t i = 0; i < sizeof(command_codes) / sizeof(command_codes[0]); i++)
		if (command_codes[i] != NULL && strcmp(command_codes[i], command) == 0)
			code = (int)i;
	size_t id_len = strlen(client->options.device_id), type_len = strlen(client->options.device_type);
	bytes[n++] = (uint8_t)client->options.protocol_version;
	bytes[n++] = (uint8_t)(code < 0 ? 255 : code);
	bytes[n++] = 0x09;
	bytes[n++] = 0x04;
	bytes[n++] = (uint8_t)id_len;
	memcpy(bytes + n, client->options.device_id, id_len);
	n += id_len;
	if (client->policy_key != 0) {
		bytes[n++] = 4;
		for (int i = 0; i < 4; i++)
			bytes[n++] = (uint8_t)(client->policy_key >> (8 * i));
	} else {
		bytes[n++] = 0;
	}
	bytes[n++] = (uint8_t)type_len;
	memcpy(bytes + n, client->options.device_type, type_len);
	n += type_len;
	if (client->options.accept_multipart) {
		/* Command parameter tag 7, Options, one byte (2.2.1.1.1.1.3). */
		bytes[n++] = 7;
		bytes[n++] = 1;
		bytes[n++] = 0x02;
	}
	return g_base64_encode(bytes, n);
}

static char *plain_query(const struct easclient *client, const char *command)
{
	char *user = g_uri_escape_string(client->options.user, NULL, FALSE);
	char *query = g_strdup_printf("Cmd=%s&User=%s&DeviceId=%s&DeviceType=%s", command, user,
				      client->options.device_id, client->options.device_type);
	g_free(user);
	return query;
}

static struct curl_slist *request_headers(const struct easclient *client, const char *content_type,
					  bool has_body)
{
	struct curl_slist *headers = NULL;
	char line[128];
	if (!client->options.base64_query) {
		snprintf(line, sizeof(line), "MS-ASProtocolVersion: %u.%u", client->options.protocol_version / 10,
			 client->options.protocol_version % 10);
		headers = curl_slist_append(headers, line);
		snprintf(line, sizeof(line), "X-MS-PolicyKey: %u", client->policy_key);
		headers = curl_slist_append(headers, line);
		if (client->options.accept_multipart)
			headers = curl_slist_append(headers, "MS-ASAcceptMultiPart: T");
	}
	if (has_body) {
		snprintf(line, sizeof(line), "Content-Type: %s",
			 content_type != NULL ? content_type : "application/vnd.ms-sync.wbxml");
		headers = curl_slist_append(headers, line);
	}
	headers = curl_slist_append(headers, "Expect:");
	return headers;
}

/* Sets the client's handle up for one request; the URL and headers stay in the client until finish. */
static void prepare(struct easclient *client, const char *method, const char *query, const void *body, size_t len,
		    const char *content_type, struct easclient_response *response)
{
	CURL *curl = client->curl;
	client->url = g_strdup_printf("%s/Microsoft-Server-ActiveSync%s%s", client->options.base_url,
				      query != NULL ? "?" : "", query != NULL ? query : "");
	client->headers = request_headers(client, content_type, body != NULL);
	response->body.len = 0;
	response->headers.len = 0;
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, client->url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_USERNAME, client->options.user);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, client->options.password);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, client->options.user_agent);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, client->headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response->body);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response->headers);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, client->options.timeout_ms > 0 ? (long)client->options.timeout_ms : 60000L);
	if (client->source != NULL)
		curl_easy_setopt(curl, CURLOPT_INTERFACE, client->source);
	if (client->options.accept_gzip)
		curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "gzip");
	if (client->options.insecure_tls) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (body != NULL) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
}

static int finish(struct easclient *client, int result, struct easclient_response *response)
{
	curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &response->http_status);
	curl_slist_free_all(client->headers);
	client->headers = NULL;
	g_free(client->url);
	client->url = NULL;
	g_free(client->query);
	client->query = NULL;
	return result == CURLE_OK ? 0 : -1;
}

static int perform(struct easclient *client, const char *method, const char *query, const void *body,
		   size_t len, const char *content_type, struct easclient_response *response)
{
	prepare(client, method, query, body, len, content_type, response);
	return finish(client, curl_easy_perform(client->curl), response);
}

void *easclient_post_start(struct easclient *client, const char *command, const void *body, size_t len,
			   const char *content_type, struct easclient_response *response)
{
	client->query = client->options.base64_query ? base64_query(client, command) : plain_query(client, command);
	prepare(client, "POST", client->query, body, len, content_type, response);
	return client->curl;
}

int easclient_post_done(struct easclient *client, int curl_result, struct easclient_response *response)
{
	return finish(client, curl_result, response);
}

void easclient_set_source(struct easclient *client, const char *address)
{
	g_free(client->source);
	client->source = address != NULL ? g_strdup(address) : NULL;
}

int easclient_options(struct easclient *client, struct easclient_response *response)
{
	return perform(client, "OPTIONS", NULL, NULL, 0, NULL, response);
}

int easclient_post(struct easclient *client, const char *command, const void *body, size_t len,
		   const char *content_type, struct easclient_response *response)
{
	easclient_post_start(client, command, body, len, content_type, response);
	return easclient_post_done(client, curl_easy_perform(client->curl), response);
}

int easclient_post_query(struct easclient *client, const char *query, const void *body, size_t len,
			 struct easclient_response *response)
{
	return perform(client, "POST", query, body, len, NULL, response);
}

int easclient_post_xml(struct easclient *client, const char *command, const char *xml,
		       struct easclient_response *response)
{
	struct buf body;
	buf_init(&body, 0);
	if (wbxml_from_xml(xml, strlen(xml), false, &body, NULL) != WBXML_OK) {
		fprintf(stderr, "easclient: cannot encode XML for %s\n", command);
		buf_cleanup(&body);
		return -1;
	}
	int status = easclient_post(client, command, body.data, body.len, NULL, response);
	buf_cleanup(&body);
	return status;
}

struct wbxml_node *easclient_parse(const struct easclient_response *response, struct arena *arena)
{
	struct wbxml_node *root;
	if (wbxml_tree_parse(arena, response->body.data, response->body.len, NULL, &root, NULL) != WBXML_OK)
		return NULL;
	return root;
}

/* Depth-first successor of node inside root's subtree, or NULL. */
static const struct wbxml_node *next_node(const struct wbxml_node *node, const struct wbxml_node *root)
{
	if (node->first_child != NULL)
		return node->first_child;
	while (node != root && node->next == NULL)
		node = node->parent;
	return node == root ? NULL : node->next;
}

const struct wbxml_node *easclient_find(const struct wbxml_node *root, enum wbxml_tag tag)
{
	for (const struct wbxml_node *node = root; node != NULL; node = next_node(node, root))
		if (node->tag == tag)
			return node;
	return NULL;
}

unsigned easclient_count(const struct wbxml_node *root, enum wbxml_tag tag)
{
	unsigned count = 0;
	for (const struct wbxml_node *node = root; node != NULL; node = next_node(node, root))
		count += node->tag == tag;
	return count;
}

const char *easclient_find_text(const struct wbxml_node *root, enum wbxml_tag tag, struct arena *arena)
{
	const struct wbxml_node *node = easclient_find(root, tag);
	if (node == NULL)
		return NULL;
	return arena_strndup(arena, node->text.data != NULL ? node->text.data : (const uint8_t *)"", node->text.len);
}

uint32_t easclient_policy_key(const struct easclient *client)
{
	return client->policy_key;
}

void easclient_set_policy_key(struct easclient *client, uint32_t key)
{
	client->policy_key = key;
}

/* One Provision phase; returns the PolicyKey of the answer, or 0. */
static uint32_t provision_phase(struct easclient *client, const char *xml, struct easclient_response *response)
{
	struct arena *arena = arena_new(0);
	uint32_t key = 0;
	if (easclient_post_xml(client, "Provision", xml, response) == 0 && response->http_status == 200) {
		struct wbxml_node *root = easclient_parse(response, arena);
		const char *status = root != NULL ? easclient_find_text(root, WBXML_PROVISION_STATUS, arena) : NULL;
		const char *text = root != NULL ? easclient_find_text(root, WBXML_PROVISION_POLICY_KEY, arena) : NULL;
		uint64_t value;
		if (status != NULL && strcmp(status, "1") == 0 && text != NULL &&
		    parse_uint64(slice_from_cstr(text), UINT32_MAX, &value) == 0)
			key = (uint32_t)value;
	}
	arena_free(&arena);
	return key;
}

int easclient_provision(struct easclient *client, struct easclient_response *response_out)
{
	static const char download[] =
		"<Provision xmlns=\"Provision\"><Policies><Policy>"
		"<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>";
	struct easclient_response own;
	struct easclient_response *response = response_out != NULL ? response_out : &own;
	if (response_out == NULL)
		easclient_response_init(&own);
	client->policy_key = 0;
	uint32_t temporary = provision_phase(client, download, response);
	uint32_t final_key = 0;
	if (temporary != 0) {
		char *ack = g_strdup_printf("<Provision xmlns=\"Provision\"><Policies><Policy>"
					    "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>"
					    "<PolicyKey>%u</PolicyKey><Status>1</Status></Policy></Policies></Provision>",
					    temporary);
		client->policy_key = temporary;
		final_key = provision_phase(client, ack, response);
		g_free(ack);
	}
	client->policy_key = final_key;
	if (response_out == NULL)
		easclient_response_cleanup(&own);
	return final_key != 0 ? 0 : -1;
}
