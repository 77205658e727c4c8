/*
 * email.c: a message as Email ApplicationData (MS-ASEMAIL 2.2.2), and the
 * client's Read, Flag and Categories changes to it.
 *
 * Owns: the order and content of the Email, Email2 and AirSyncBase
 * elements of one item, and which protocol versions have each.
 * Must not: choose the body (email_body.c) or read MIME parts itself
 * (email_mime.c); know the store or HTTP.
 */
#include "pim/pim_private.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint8_t pim_version_bit(unsigned protocol_version)
{
	switch (protocol_version) {
	case 25: return WBXML_V2_5;
	case 120: return WBXML_V12_0;
	case 121: return WBXML_V12_1;
	case 140: return WBXML_V14_0;
	case 141: return WBXML_V14_1;
	case 160: return WBXML_V16_0;
	case 161: return WBXML_V16_1;
	default: return protocol_version > 161 ? WBXML_V16_1 : WBXML_V12_1;
	}
}

bool pim_has_tag(uint8_t version_bit, enum wbxml_tag tag)
{
	const struct wbxml_tag_info *info = wbxml_tag_info(wbxml_tag_page(tag), wbxml_tag_token(tag));
	return info != NULL && (info->versions & version_bit) != 0;
}

/* Keeps one more piece of an element's text: the first as it is, the rest joined in a buffer. False past max. */
static bool take_piece(struct buf *joined, struct slice *first, struct slice piece, size_t max)
{
	size_t so_far = joined->len > 0 ? joined->len : first->len;
	if (piece.len > max - so_far)
		return false;
	if (first->data == NULL) {
		*first = piece;
		return true;
	}
	if (joined->len == 0)
		buf_append(joined, first->data, first->len);
	buf_append(joined, piece.data, piece.len);
	return true;
}

int pim_read_element_text(struct wbxml_reader *reader, struct arena *arena, size_t max, struct slice *text_out)
{
	struct wbxml_event event;
	struct slice first = SLICE_EMPTY;
	struct buf joined;
	bool fits = true;
	int status;
	buf_init(&joined, 0);
	while ((status = wbxml_reader_next(reader, &event)) == 0 && event.type != WBXML_EVENT_END) {
		if (event.type == WBXML_EVENT_DONE)
			status = WBXML_ERR_MALFORMED;
		else if (event.type == WBXML_EVENT_START)
			status = wbxml_reader_skip(reader);
		else if (fits)
			fits = take_piece(&joined, &first, event.data, max);
		if (status < 0)
			break;
	}
	/* One piece (the usual case) is copied once; several were joined first. */
	struct slice text = joined.len > 0 ? (struct slice){ joined.data, joined.len } : first;
	*text_out = (struct slice){ (const uint8_t *)"", 0 };
	if (status == 0 && fits && text.len > 0)
		*text_out = (struct slice){ (const uint8_t *)arena_strndup(arena, text.data, text.len), text.len };
	buf_cleanup(&joined);
	return status < 0 ? status : fits ? 0 : 1;
}

/* ---- header fields ---- */

static void write_text(struct wbxml_writer *writer, struct arena *arena, enum wbxml_tag tag, const char *text)
{
	const char *clean = pim_utf8_copy(arena, text);
	if (clean[0] != '\0')
		wbxml_writer_element_cstr(writer, tag, clean);
}

/* MS-ASEMAIL To, Cc, From, ReplyTo: the RFC 5322 address list, decoded to UTF-8. */
static void write_addresses(struct wbxml_writer *writer, struct arena *arena, enum wbxml_tag tag,
			    InternetAddressList *list)
{
	if (list == NULL || internet_address_list_length(list) == 0)
		return;
	char *text = internet_address_list_to_string(list, NULL, FALSE);
	write_text(writer, arena, tag, text);
	g_free(text);
}

static void append_display_name(struct buf *names, InternetAddress *address)
{
	const char *name = internet_address_get_name(address);
	if ((name == NULL || name[0] == '\0') && INTERNET_ADDRESS_IS_MAILBOX(address))
		name = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address));
	if (name == NULL || name[0] == '\0')
		return;
	if (names->len > 0)
		buf_append_cstr(names, "; ");
	buf_append_cstr(names, name);
}

/*
 * MS-ASEMAIL 2.2.2.29 DisplayTo: the display names of the To recipients
 * (the address when there is no name), joined by "; ". A group gives its
 * members; RFC 5322 3.4 allows no group inside a group, so one level.
 */
static void write_display_to(struct wbxml_writer *writer, struct arena *arena, InternetAddressList *list)
{
	struct buf names;
	int count = list != NULL ? internet_address_list_length(list) : 0;
	buf_init(&names, 0);
	for (int i = 0; i < count; i++) {
		InternetAddress *address = internet_address_list_get_address(list, i);
		if (!INTERNET_ADDRESS_IS_GROUP(address)) {
			append_display_name(&names, address);
			continue;
		}
		InternetAddressList *members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address));
		for (int j = 0; members != NULL && j < internet_address_list_length(members); j++)
			append_display_name(&names, internet_address_list_get_address(members, j));
	}
	buf_append_byte(&names, '\0');
	write_text(writer, arena, WBXML_EMAIL_DISPLAY_TO, (const char *)names.data);
	buf_cleanup(&names);
}

/* MS-ASEMAIL DateReceived: "2009-07-01T10:00:00.000Z" (UTC). */
static void write_date(struct wbxml_writer *writer, enum wbxml_tag tag, int64_t unix_seconds)
{
	char text[32];
	struct tm tm;
	time_t seconds = (time_t)unix_seconds;
	if (gmtime_r(&seconds, &tm) == NULL || strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S.000Z", &tm) == 0)
		return;
	wbxml_writer_element_cstr(writer, tag, text);
}

static bool starts_with(const char *value, const char *word)
{
	while (*value == ' ' || *value == '\t')
		value++;
	return g_ascii_strncasecmp(value, word, strlen(word)) == 0;
}

/*
 * MS-ASEMAIL Importance: 0 low, 1 normal, 2 high. From
 * Importance (RFC 2156), else X-Priority (1-2 high, 4-5 low, as Outlook
 * and Thunderbird write it), else X-MSMail-Priority.
 */
static unsigned importance(GMimeObject *message)
{
	const char *value = g_mime_object_get_header(message, "Importance");
	if (value != NULL)
		return starts_with(value, "high") ? 2 : starts_with(value, "low") ? 0 : 1;
	value = g_mime_object_get_header(message, "X-Priority");
	if (value != NULL)
		return starts_with(value, "1") || starts_with(value, "2") ? 2
		       : starts_with(value, "4") || starts_with(value, "5") ? 0 : 1;
	value = g_mime_object_get_header(message, "X-MSMail-Priority");
	if (value != NULL)
		return starts_with(value, "high") ? 2 : starts_with(value, "low") ? 0 : 1;
	return 1;
}

/*
 * The subject without reply and forward prefixes ("Re: Fwd: AW: x" is
 * "x"): the thread's topic. The prefixes are the English ones and those
 * Outlook writes in German, Scandinavian, Dutch, Finnish and French;
 * "Re[2]:" counts too.
 */
static const char *normalised_subject(const char *subject)
{
	static const char *const prefixes[] = { "re", "fwd", "fw", "aw", "wg", "sv", "vs", "antw", "tr", NULL };
	const char *s = subject;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		const char *after = NULL;
		for (const char *const *p = prefixes; *p != NULL && after == NULL; p++)
			if (g_ascii_strncasecmp(s, *p, strlen(*p)) == 0)
				after = s + strlen(*p);
		if (after != NULL && *after == '[') {
			after++;
			while (g_ascii_isdigit(*after))
				after++;
			after = *after == ']' ? after + 1 : NULL;
		}
		if (after == NULL || *after != ':')
			return s;
		s = after + 1;
	}
}

/*
 * Email2:ConversationId (MS-ASEMAIL 2.2.2.21, 16 bytes): the MD5 of the
 * normalised subject. Every message of a thread has the same topic even
 * when In-Reply-To or References are missing (webmail, mailing lists), and
 * Exchange groups by the conversation topic the same way; unrelated
 * messages sharing a subject land in one conversation, as in Outlook.
 *
 * Email2:ConversationIndex (MS-ASCON 2.2.2.4.1, 5 bytes): the Conversation
 * Index Header, the message time as FILETIME with its 16 low bits dropped
 * and its 8 high bits too, big-endian. No response levels: easd does not
 * know the thread's first message.
 */
static void write_conversation(struct wbxml_writer *writer, const char *topic, int64_t sent)
{
	uint8_t id[16], index[5];
	gsize id_len = sizeof(id);
	GChecksum *md5 = g_checksum_new(G_CHECKSUM_MD5);
	g_checksum_update(md5, (const guchar *)topic, (gssize)strlen(topic));
	g_checksum_get_digest(md5, id, &id_len);
	g_checksum_free(md5);
	/* FILETIME: 100 ns units since 1601-01-01 (MS-DTYP 2.3.3). */
	uint64_t filetime = ((uint64_t)sent + 11644473600u) * 10000000u;
	for (int i = 0; i < 5; i++)
		index[i] = (uint8_t)(filetime >> (16 + 8 * (4 - i)));
	wbxml_writer_element_opaque(writer, WBXML_EMAIL2_CONVERSATION_ID, id, id_len);
	wbxml_writer_element_opaque(writer, WBXML_EMAIL2_CONVERSATION_INDEX, index, sizeof(index));
}

/*
 * MS-ASEMAIL 2.2.2.34 Flag: empty when not flagged; Status 2 with the
 * usual FlagType when active (3.2.5.4.2), Status 1 when complete.
 */
static void write_flag(struct wbxml_writer *writer, uint8_t flag_status)
{
	if (flag_status != 1 && flag_status != 2) {
		wbxml_writer_empty(writer, WBXML_EMAIL_FLAG);
		return;
	}
	wbxml_writer_start(writer, WBXML_EMAIL_FLAG);
	wbxml_writer_element_uint(writer, WBXML_EMAIL_STATUS, flag_status);
	if (flag_status == 2)
		wbxml_writer_element_cstr(writer, WBXML_EMAIL_FLAG_TYPE, "Flag for follow up");
	wbxml_writer_end(writer);
}

static void write_categories(struct wbxml_writer *writer, struct arena *arena,
			     const struct pim_email_state *state)
{
	unsigned count = 0;
	while (count < 8 && state->categories[count] != NULL)
		count++;
	if (count == 0)
		return;
	wbxml_writer_start(writer, WBXML_EMAIL_CATEGORIES);
	for (unsigned i = 0; i < count; i++)
		write_text(writer, arena, WBXML_EMAIL_CATEGORY, state->categories[i]);
	wbxml_writer_end(writer);
}

/* ---- attachments ---- */

/* MS-ASAIRS 2.2.2.7 Attachment: DisplayName, FileReference, Method, EstimatedDataSize, ContentId, IsInline. */
static void write_attachment(struct wbxml_writer *writer, struct arena *arena, GMimeObject *object,
			     unsigned index, const char *prefix)
{
	char reference[512], fallback[40];
	const char *name = GMIME_IS_PART(object) ? g_mime_part_get_filename(GMIME_PART(object)) : NULL;
	const char *content_id = g_mime_object_get_content_id(object);
	GMimeContentDisposition *disposition = g_mime_object_get_content_disposition(object);
	bool marked = disposition != NULL && g_mime_content_disposition_is_attachment(disposition);
	if (name == NULL || name[0] == '\0') {
		/* A forwarded message gets .eml so that the device can open it. */
		snprintf(fallback, sizeof(fallback), "attachment-%u%s", index,
			 GMIME_IS_MESSAGE_PART(object) ? ".eml" : "");
		name = fallback;
	}
	snprintf(reference, sizeof(reference), "%s%s%u", prefix != NULL ? prefix : "",
		 prefix != NULL ? ":" : "", index);
	wbxml_writer_start(writer, WBXML_AIRSYNCBASE_ATTACHMENT);
	write_text(writer, arena, WBXML_AIRSYNCBASE_DISPLAY_NAME, name);
	wbxml_writer_element_cstr(writer, WBXML_AIRSYNCBASE_FILE_REFERENCE, reference);
	wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_METHOD, 1); /* 2.2.2.31: normal attachment */
	wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_ESTIMATED_DATA_SIZE, pim_part_size_estimate(arena, object));
	if (content_id != NULL)
		write_text(writer, arena, WBXML_AIRSYNCBASE_CONTENT_ID, content_id);
	if (content_id != NULL && !marked)
		wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_IS_INLINE, 1);
	wbxml_writer_end(writer);
}

static void write_attachments(struct wbxml_writer *writer, struct arena *arena, const struct pim_message *m,
			      const char *prefix)
{
	if (m->attachment_count == 0)
		return;
	wbxml_writer_start(writer, WBXML_AIRSYNCBASE_ATTACHMENTS);
	for (unsigned i = 0; i < m->attachment_count; i++)
		write_attachment(writer, arena, m->attachments[i], i, prefix);
	wbxml_writer_end(writer);
}

/* MS-ASEMAIL MessageClass: S/MIME messages and meetings have their own classes. */
static const char *message_class(const struct pim_message *m, const struct pim_meeting *meeting)
{
	if (meeting != NULL)
		return pim_meeting_class(meeting);
	switch (m->smime) {
	case PIM_SMIME_SIGNED: return "IPM.Note.SMIME.MultipartSigned";
	case PIM_SMIME_OPAQUE: return "IPM.Note.SMIME";
	default: return "IPM.Note";
	}
}

/*
 * The order is Exchange's; MS-ASEMAIL does not insist on one. Elements a
 * protocol version lacks (Categories, ConversationId, Preview before 14.0)
 * are left out.
 */
static int write_message(struct wbxml_writer *writer, struct arena *arena, GMimeStream *stream,
			 const struct pim_options *options, const struct pim_email_state *state)
{
	struct pim_message m;
	if (pim_message_parse(arena, stream, &m) < 0)
		return -1;
	uint8_t version_bit = pim_version_bit(options->protocol_version);
	GMimeMessage *message = m.message;
	const char *subject = pim_utf8_copy(arena, g_mime_message_get_subject(message));
	const char *topic = normalised_subject(subject);
	GDateTime *date = g_mime_message_get_date(message);
	/* An S/MIME message keeps its class (a device asks for its MIME by it), so it is never a meeting. */
	const struct pim_meeting *meeting =
		m.smime == PIM_SMIME_NONE ? pim_meeting_read(arena, m.calendar, state->user) : NULL;
	write_addresses(writer, arena, WBXML_EMAIL_TO, g_mime_message_get_to(message));
	write_addresses(writer, arena, WBXML_EMAIL_CC, g_mime_message_get_cc(message));
	write_addresses(writer, arena, WBXML_EMAIL_FROM, g_mime_message_get_from(message));
	wbxml_writer_element_cstr(writer, WBXML_EMAIL_SUBJECT, subject);
	write_addresses(writer, arena, WBXML_EMAIL_REPLY_TO, g_mime_message_get_reply_to(message));
	write_date(writer, WBXML_EMAIL_DATE_RECEIVED, state->received);
	write_display_to(writer, arena, g_mime_message_get_to(message));
	write_text(writer, arena, WBXML_EMAIL_THREAD_TOPIC, topic);
	wbxml_writer_element_uint(writer, WBXML_EMAIL_IMPORTANCE, importance(GMIME_OBJECT(message)));
	wbxml_writer_element_uint(writer, WBXML_EMAIL_READ, state->read ? 1 : 0);
	write_attachments(writer, arena, &m, state->file_reference_prefix);
	pim_write_body(writer, arena, &m, options);
	wbxml_writer_element_cstr(writer, WBXML_EMAIL_MESSAGE_CLASS, message_class(&m, meeting));
	if (meeting != NULL)
		pim_meeting_write(writer, arena, meeting, options->protocol_version, state->received);
	/* MS-ASEMAIL InternetCPID: every string we send is UTF-8, code page 65001. */
	wbxml_writer_element_cstr(writer, WBXML_EMAIL_INTERNET_CPID, "65001");
	write_flag(writer, state->flag_status);
	wbxml_writer_element_cstr(writer, WBXML_EMAIL_CONTENT_CLASS, "urn:content-classes:message");
	wbxml_writer_element_uint(writer, WBXML_AIRSYNCBASE_NATIVE_BODY_TYPE,
				  m.html != NULL ? PIM_BODY_HTML : PIM_BODY_PLAIN);
	if (pim_has_tag(version_bit, WBXML_EMAIL2_CONVERSATION_ID))
		write_conversation(writer, topic, date != NULL ? g_date_time_to_unix(date) : state->received);
	if (pim_has_tag(version_bit, WBXML_EMAIL_CATEGORIES))
		write_categories(writer, arena, state);
	return 0;
}

int pim_email_write(struct wbxml_writer *writer, struct arena *arena, const uint8_t *mime, size_t len,
		    const struct pim_options *options, const struct pim_email_state *state)
{
	if (len == 0)
		return -1;
	return write_message(writer, arena, pim_memory_stream(arena, mime, len), options, state);
}

int pim_email_write_source(struct wbxml_writer *writer, struct arena *arena, const struct pim_source *source,
			   const struct pim_options *options, const struct pim_email_state *state)
{
	if (source->size == 0)
		return -1;
	return write_message(writer, arena, pim_source_stream(arena, source), options, state);
}
