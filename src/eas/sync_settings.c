/*
 * sync_settings.c: a collection's Sync settings and the device's cached
 * request as text, for the store (which keeps them without reading them).
 *
 * Settings are "v1" followed by space-separated name=value pairs, so a
 * later easd can add a name and still read what an earlier one wrote:
 *   v1 w=100 d=1 g=1 f=3 c=1 ms=0 mt=0 p=2/200/0/0
 * (window, DeletesAsMoves, GetChanges given/value as 0, 1 or "-", filter,
 * conflict, MIMESupport, MIMETruncation, one p= per BodyPreference:
 * type/truncation/AllOrNone/preview). Unknown names are skipped.
 */
#include "eas/sync_private.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTINGS_VERSION "v1"

void sync_settings_defaults(struct sync_settings *settings, unsigned protocol_version)
{
	memset(settings, 0, sizeof(*settings));
	settings->deletes_as_moves = true;
	settings->conflict = SYNC_SERVER_WINS;
	settings->options.protocol_version = protocol_version;
}

/* Supported as " s=<tag in hex>" per element, " s=-" for an empty list. */
static const char *encode_supported(struct arena *arena, const char *before, const struct pim_supported *supported)
{
	struct buf text;
	buf_init(&text, 0);
	buf_append_cstr(&text, before);
	if (supported->given && supported->count == 0)
		buf_append_cstr(&text, " s=-");
	for (unsigned i = 0; supported->given && i < supported->count; i++)
		buf_printf(&text, " s=%x", supported->tags[i]);
	const char *copy = arena_strndup(arena, text.data, text.len);
	buf_cleanup(&text);
	return copy;
}

const char *sync_settings_encode(struct arena *arena, const struct sync_settings *settings)
{
	const struct pim_options *options = &settings->options;
	char text[512];
	int len = snprintf(text, sizeof(text), SETTINGS_VERSION " w=%u d=%d g=%s f=%u c=%u ms=%u mt=%" PRIu32,
			   settings->window_size, settings->deletes_as_moves ? 1 : 0,
			   !settings->get_changes_given ? "-" : settings->get_changes ? "1" : "0",
			   settings->filter_type, settings->conflict, options->mime_support, options->mime_truncation);
	for (unsigned i = 0; i < options->preference_count && i < PIM_MAX_BODY_PREFERENCES; i++) {
		const struct pim_body_preference *p = &options->preferences[i];
		len += snprintf(text + len, sizeof(text) - (size_t)len, " p=%u/%" PRIu32 "/%d/%u", p->type,
				p->truncation_size, p->all_or_none ? 1 : 0, p->preview);
	}
	text[len] = '\0';
	return encode_supported(arena, text, &settings->supported);
}

static unsigned long number_in_hex(const char *value)
{
	unsigned long number = strtoul(value, NULL, 16);
	return number <= UINT16_MAX ? number : 0;
}

/* One name=value pair into *settings; unknown names and bad values are skipped. */
static void decode_pair(const char *name, const char *value, struct sync_settings *settings)
{
	struct pim_options *options = &settings->options;
	unsigned long number = strtoul(value, NULL, 10);
	if (strcmp(name, "w") == 0)
		settings->window_size = (unsigned)(number > SYNC_MAX_WINDOW ? SYNC_MAX_WINDOW : number);
	else if (strcmp(name, "d") == 0)
		settings->deletes_as_moves = number == 1;
	else if (strcmp(name, "g") == 0) {
		settings->get_changes_given = value[0] != '-';
		settings->get_changes = number == 1;
	} else if (strcmp(name, "f") == 0)
		settings->filter_type = (uint8_t)(number > 8 ? 0 : number);
	else if (strcmp(name, "c") == 0)
		settings->conflict = number == SYNC_CLIENT_WINS ? SYNC_CLIENT_WINS : SYNC_SERVER_WINS;
	else if (strcmp(name, "ms") == 0)
		options->mime_support = (uint8_t)(number > 2 ? 0 : number);
	else if (strcmp(name, "mt") == 0)
		options->mime_truncation = (uint32_t)(number > UINT32_MAX ? 0 : number);
	else if (strcmp(name, "s") == 0) {
		struct pim_supported *supported = &settings->supported;
		supported->given = true;
		if (value[0] != '-' && number_in_hex(value) > 0 && supported->count < PIM_SUPPORTED_MAX)
			supported->tags[supported->count++] = (uint16_t)number_in_hex(value);
	} else if (strcmp(name, "p") == 0 && options->preference_count < PIM_MAX_BODY_PREFERENCES) {
		unsigned type, all_or_none, preview;
		uint32_t truncation;
		if (sscanf(value, "%u/%" SCNu32 "/%u/%u", &type, &truncation, &all_or_none, &preview) == 4 &&
		    type >= PIM_BODY_PLAIN && type <= PIM_BODY_MIME && preview <= 255)
			options->preferences[options->preference_count++] = (struct pim_body_preference){
				(uint8_t)type, truncation, all_or_none == 1, (uint16_t)preview };
	}
}

/* The text after the version tag, or NULL when text is not ours. */
static const char *after_version(const char *text)
{
	size_t version_len = strlen(SETTINGS_VERSION);
	if (strncmp(text, SETTINGS_VERSION, version_len) != 0 || (text[version_len] != ' ' && text[version_len] != '\0'))
		return NULL;
	return text + version_len;
}

int sync_settings_decode(const char *text, struct sync_settings *settings)
{
	const char *p = after_version(text);
	if (p == NULL)
		return -1;
	struct sync_settings decoded;
	sync_settings_defaults(&decoded, settings->options.protocol_version);
	while (*p == ' ') {
		char pair[64];
		size_t len = strcspn(++p, " ");
		if (len > 0 && len < sizeof(pair)) {
			memcpy(pair, p, len);
			pair[len] = '\0';
			char *equals = strchr(pair, '=');
			if (equals != NULL) {
				*equals = '\0';
				decode_pair(pair, equals + 1, &decoded);
			}
		}
		p += len;
	}
	*settings = decoded;
	return 0;
}

struct store_cutoff sync_filter_cutoff(const struct pim_class *class, uint8_t filter_type, int64_t now)
{
	return (struct store_cutoff){ class->filter_start(filter_type, now), 0 };
}

/* The cached request: "v1 w=<Sync-level WindowSize> h=<wait seconds> c=<id> c=<id> ...". */
const char *sync_cache_encode(struct arena *arena, const struct sync_cache *cache)
{
	struct buf text;
	char pair[32];
	buf_init(&text, 0);
	int len = snprintf(pair, sizeof(pair), SETTINGS_VERSION " w=%u", cache->window_size);
	buf_append(&text, pair, (size_t)len);
	if (cache->wait_seconds > 0) {
		len = snprintf(pair, sizeof(pair), " h=%u", cache->wait_seconds);
		buf_append(&text, pair, (size_t)len);
	}
	for (unsigned i = 0; i < cache->count; i++) {
		len = snprintf(pair, sizeof(pair), " c=%" PRId64, cache->ids[i]);
		buf_append(&text, pair, (size_t)len);
	}
	const char *copy = arena_strndup(arena, (const char *)text.data, text.len);
	buf_cleanup(&text);
	return copy;
}

int sync_cache_decode(const char *text, struct sync_cache *cache)
{
	const char *p = after_version(text);
	memset(cache, 0, sizeof(*cache));
	if (p == NULL)
		return -1;
	while (*p == ' ') {
		p++;
		char *end;
		if (strncmp(p, "w=", 2) == 0) {
			unsigned long window = strtoul(p + 2, &end, 10);
			cache->window_size = (unsigned)(window > SYNC_MAX_WINDOW ? SYNC_MAX_WINDOW : window);
		} else if (strncmp(p, "h=", 2) == 0) {
			unsigned long wait = strtoul(p + 2, &end, 10);
			cache->wait_seconds = (unsigned)(wait > 86400 ? 86400 : wait);
		} else if (strncmp(p, "c=", 2) == 0) {
			long long id = strtoll(p + 2, &end, 10);
			if (id > 0 && cache->count < LIMIT_SYNC_COLLECTIONS)
				cache->ids[cache->count++] = id;
		} else {
			end = (char *)p + strcspn(p, " ");
		}
		p = end + strcspn(end, " ");
	}
	return 0;
}
