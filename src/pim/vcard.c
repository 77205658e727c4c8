/*
 * vcard.c: contacts as vCard (RFC 6350, and the 3.0 of RFC 2426 most
 * programs still write). A small codec: lines unfolded and folded at 75
 * octets, parameters, the \n \, \; \\ escapes. No Debian library reads
 * vCard alone (libical 3.0 does not), and the subset a contact needs is
 * short and tested.
 */
#include "pim/interchange.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- reading ---- */

struct property {
	const char *name;      /* upper case, group removed */
	const char *params;    /* upper case, as written (";TYPE=WORK,VOICE") */
	const char *value;     /* unescaped for text; raw for PHOTO */
	unsigned line;
};

/* Unescapes RFC 6350 text in place: \n, \, \; \\. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
			*out++ = *s == 'n' || *s == 'N' ? '\n' : *s;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Splits a structured value on unescaped ';' into at most max parts (each unescaped). */
static unsigned split(struct arena *arena, const char *value, char sep, const char **parts, unsigned max)
{
	unsigned n = 0;
	const char *start = value;
	for (const char *p = value;; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if ((*p == sep || *p == '\0') && n < max) {
			char *part = arena_strndup(arena, start, (size_t)(p - start));
			unescape(part);
			parts[n++] = part;
			start = p + 1;
		}
		if (*p == '\0')
			break;
	}
	for (unsigned i = n; i < max; i++)
		parts[i] = "";
	return n;
}

static bool has_type(const struct property *p, const char *type)
{
	return strstr(p->params, type) != NULL;
}

/* The contact being read. */
struct card {
	struct wbxml_node *fields;
	unsigned line;
	unsigned emails, business_phones, home_phones;
	bool whole;            /* X-EAS-DATA gave every field */
};

static void set(struct arena *arena, struct card *card, enum wbxml_tag tag, const char *value)
{
	pim_interchange_set(arena, card->fields, tag, value);
}

/* An address's fields in the order of ADR's street, locality, region, postal code, country. */
static const enum wbxml_tag work_address[] = { WBXML_CONTACTS_BUSINESS_ADDRESS_STREET, WBXML_CONTACTS_BUSINESS_ADDRESS_CITY,
					       WBXML_CONTACTS_BUSINESS_ADDRESS_STATE,
					       WBXML_CONTACTS_BUSINESS_ADDRESS_POSTAL_CODE,
					       WBXML_CONTACTS_BUSINESS_ADDRESS_COUNTRY };
static const enum wbxml_tag home_address[] = { WBXML_CONTACTS_HOME_ADDRESS_STREET, WBXML_CONTACTS_HOME_ADDRESS_CITY,
					       WBXML_CONTACTS_HOME_ADDRESS_STATE, WBXML_CONTACTS_HOME_ADDRESS_POSTAL_CODE,
					       WBXML_CONTACTS_HOME_ADDRESS_COUNTRY };
static const enum wbxml_tag other_address[] = { WBXML_CONTACTS_OTHER_ADDRESS_STREET, WBXML_CONTACTS_OTHER_ADDRESS_CITY,
						WBXML_CONTACTS_OTHER_ADDRESS_STATE, WBXML_CONTACTS_OTHER_ADDRESS_POSTAL_CODE,
						WBXML_CONTACTS_OTHER_ADDRESS_COUNTRY };

static void read_address(struct arena *arena, struct card *card, const struct property *p)
{
	const enum wbxml_tag *tags = has_type(p, "WORK") ? work_address : has_type(p, "HOME") ? home_address : other_address;
	const char *parts[7];
	split(arena, p->value, ';', parts, 7);
	for (unsigned i = 0; i < 5; i++)
		set(arena, card, tags[i], parts[2 + i]);
}

static void read_phone(struct arena *arena, struct card *card, const struct property *p)
{
	enum wbxml_tag tag;
	if (has_type(p, "FAX"))
		tag = has_type(p, "HOME") ? WBXML_CONTACTS_HOME_FAX_NUMBER : WBXML_CONTACTS_BUSINESS_FAX_NUMBER;
	else if (has_type(p, "CELL"))
		tag = WBXML_CONTACTS_MOBILE_PHONE_NUMBER;
	else if (has_type(p, "PAGER"))
		tag = WBXML_CONTACTS_PAGER_NUMBER;
	else if (has_type(p, "CAR"))
		tag = WBXML_CONTACTS_CAR_PHONE_NUMBER;
	else if (has_type(p, "WORK"))
		tag = card->business_phones++ == 0 ? WBXML_CONTACTS_BUSINESS_PHONE_NUMBER : WBXML_CONTACTS_BUSINESS2_PHONE_NUMBER;
	else
		tag = card->home_phones++ == 0 ? WBXML_CONTACTS_HOME_PHONE_NUMBER : WBXML_CONTACTS_HOME2_PHONE_NUMBER;
	if (pim_fields_find(card->fields, tag) == NULL)
		set(arena, card, tag, p->value);
}

/* A date (YYYY-MM-DD or YYYYMMDD, a time after it ignored) as MS-ASDTYPE dateTime at midnight UTC. */
static const char *date_value(struct arena *arena, const char *value)
{
	int y, m, d;
	char text[32];
	if (sscanf(value, "%4d-%2d-%2d", &y, &m, &d) != 3 && sscanf(value, "%4d%2d%2d", &y, &m, &d) != 3)
		return value; /* the class refuses it, with its line */
	snprintf(text, sizeof(text), "%04d-%02d-%02dT00:00:00.000Z", y, m, d);
	return arena_strndup(arena, text, strlen(text));
}

static void read_list(struct arena *arena, struct card *card, const char *value, enum wbxml_tag list,
		      enum wbxml_tag entry)
{
	const char *parts[64];
	unsigned n = split(arena, value, ',', parts, 64);
	struct wbxml_node *node = pim_fields_find(card->fields, list);
	if (node == NULL)
		node = pim_fields_new(arena, card->fields, list);
	for (unsigned i = 0; i < n; i++)
		if (parts[i][0] != '\0')
			wbxml_tree_add(arena, node, entry, WBXML_CONTENT_STRING, parts[i], strlen(parts[i]));
}

static void read_property(struct arena *arena, struct card *card, const struct property *p)
{
	static const enum wbxml_tag emails[] = { WBXML_CONTACTS_EMAIL1_ADDRESS, WBXML_CONTACTS_EMAIL2_ADDRESS,
						 WBXML_CONTACTS_EMAIL3_ADDRESS };
	const char *parts[5];
	if (strcmp(p->name, "N") == 0) {
		split(arena, p->value, ';', parts, 5);
		set(arena, card, WBXML_CONTACTS_LAST_NAME, parts[0]);
		set(arena, card, WBXML_CONTACTS_FIRST_NAME, parts[1]);
		set(arena, card, WBXML_CONTACTS_MIDDLE_NAME, parts[2]);
		set(arena, card, WBXML_CONTACTS_TITLE, parts[3]);
		set(arena, card, WBXML_CONTACTS_SUFFIX, parts[4]);
	} else if (strcmp(p->name, "ORG") == 0) {
		split(arena, p->value, ';', parts, 2);
		set(arena, card, WBXML_CONTACTS_COMPANY_NAME, parts[0]);
		set(arena, card, WBXML_CONTACTS_DEPARTMENT, parts[1]);
	} else if (strcmp(p->name, "EMAIL") == 0 && card->emails < 3) {
		set(arena, card, emails[card->emails++], p->value);
	} else if (strcmp(p->name, "TEL") == 0) {
		read_phone(arena, card, p);
	} else if (strcmp(p->name, "ADR") == 0) {
		read_address(arena, card, p);
	} else if (strcmp(p->name, "BDAY") == 0) {
		set(arena, card, WBXML_CONTACTS_BIRTHDAY, date_value(arena, p->value));
	} else if (strcmp(p->name, "ANNIVERSARY") == 0 || strcmp(p->name, "X-ANNIVERSARY") == 0) {
		set(arena, card, WBXML_CONTACTS_ANNIVERSARY, date_value(arena, p->value));
	} else if (strcmp(p->name, "CATEGORIES") == 0) {
		read_list(arena, card, p->value, WBXML_CONTACTS_CATEGORIES, WBXML_CONTACTS_CATEGORY);
	} else if (strcmp(p->name, "NOTE") == 0) {
		pim_interchange_body(arena, card->fields, p->value);
	} else if (strcmp(p->name, "PHOTO") == 0) {
		const char *comma = strncmp(p->value, "data:", 5) == 0 ? strchr(p->value, ',') : NULL;
		set(arena, card, WBXML_CONTACTS_PICTURE, comma != NULL ? comma + 1 : p->value);
	} else {
		static const struct { const char *name; enum wbxml_tag tag; } simple[] = {
			{ "FN", WBXML_CONTACTS_FILE_AS }, { "TITLE", WBXML_CONTACTS_JOB_TITLE },
			{ "URL", WBXML_CONTACTS_WEB_PAGE }, { "NICKNAME", WBXML_CONTACTS2_NICK_NAME },
			{ "X-SPOUSE", WBXML_CONTACTS_SPOUSE }, { "X-ASSISTANT", WBXML_CONTACTS_ASSISTANT_NAME },
			{ "X-MANAGER", WBXML_CONTACTS2_MANAGER_NAME },
		};
		for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
			if (strcmp(p->name, simple[i].name) == 0)
				set(arena, card, simple[i].tag, p->value);
	}
}

/* "group.NAME;PARAMS:value" of an unfolded line; false when it has no colon. */
static bool parse_line(struct arena *arena, char *line, unsigned number, struct property *p)
{
	char *colon = line;
	bool quoted = false;
	for (; *colon != '\0' && (quoted || *colon != ':'); colon++)
		if (*colon == '"')
			quoted = !quoted;
	if (*colon != ':')
		return false;
	*colon = '\0';
	/* Names and parameters are case-insensitive (RFC 6350 3.3). */
	for (char *c = line; *c != '\0'; c++)
		*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
	char *name = line, *dot = strchr(name, '.'), *semicolon;
	if (dot != NULL && (semicolon = strchr(name, ';'), semicolon == NULL || dot < semicolon))
		name = dot + 1;
	semicolon = strchr(name, ';');
	p->params = semicolon != NULL ? arena_strndup(arena, semicolon, strlen(semicolon)) : "";
	if (semicolon != NULL)
		*semicolon = '\0';
	p->name = name;
	p->line = number;
	char *value = arena_strndup(arena, colon + 1, strlen(colon + 1));
	/* Structured values keep their escapes until split. */
	if (strcmp(name, "N") != 0 && strcmp(name, "ORG") != 0 && strcmp(name, "ADR") != 0 && strcmp(name, "CATEGORIES") != 0)
		unescape(value);
	p->value = value;
	return true;
}

struct reader {
	const char *text, *end;
	unsigned line;           /* of the next line to read */
};

/* The next logical line (continuations joined), in arena; NULL at the end. *number: its first line. */
static char *next_line(struct arena *arena, struct reader *r, unsigned *number)
{
	if (r->text >= r->end)
		return NULL;
	struct buf joined;
	buf_init(&joined, 0);
	*number = r->line;
	do {
		const char *eol = memchr(r->text, '\n', (size_t)(r->end - r->text));
		const char *stop = eol != NULL ? eol : r->end;
		size_t len = (size_t)(stop - r->text);
		if (len > 0 && r->text[len - 1] == '\r')
			len--;
		buf_append(&joined, r->text + (joined.len > 0 || *number != r->line ? 1 : 0),
			   len - (joined.len > 0 || *number != r->line ? 1 : 0));
		r->text = eol != NULL ? eol + 1 : r->end;
		r->line++;
	} while (r->text < r->end && (*r->text == ' ' || *r->text == '\t'));
	char *line = arena_strndup(arena, joined.data != NULL ? (const char *)joined.data : "", joined.len);
	buf_cleanup(&joined);
	return line;
}

int pim_vcard_import(struct arena *arena, const char *text, size_t len, pim_import_fn *fn, void *context,
		     char *error, size_t error_len)
{
	struct reader r = { text, text + len, 1 };
	struct card card = { 0 };
	struct property p;
	unsigned number;
	char *line;
	while ((line = next_line(arena, &r, &number)) != NULL) {
		if (line[0] == '\0')
			continue;
		if (!parse_line(arena, line, number, &p)) {
			snprintf(error, error_len, "line %u: not a vCard property", number);
			return -1;
		}
		if (strcmp(p.name, "BEGIN") == 0 && strcasecmp(p.value, "VCARD") == 0) {
			card = (struct card){ .fields = pim_fields_new(arena, NULL, WBXML_AIRSYNC_APPLICATION_DATA),
					      .line = number };
		} else if (strcmp(p.name, "END") == 0 && strcasecmp(p.value, "VCARD") == 0 && card.fields != NULL) {
			int status = fn(context, &pim_class_contacts, card.fields, card.line);
			card.fields = NULL;
			if (status != 0)
				return status;
		} else if (card.fields == NULL) {
			snprintf(error, error_len, "line %u: %s outside BEGIN:VCARD ... END:VCARD", number, p.name);
			return -1;
		} else if (strcmp(p.name, PIM_EXTRA_PROPERTY) == 0) {
			struct wbxml_node *whole = pim_interchange_decode(arena, p.value);
			if (whole == NULL) {
				snprintf(error, error_len, "line %u: " PIM_EXTRA_PROPERTY " does not decode", number);
				return -1;
			}
			card.fields = whole;
			card.whole = true;
		} else if (!card.whole) {
			read_property(arena, &card, &p);
		}
	}
	if (card.fields != NULL) {
		snprintf(error, error_len, "line %u: the vCard that begins there has no END:VCARD", card.line);
		return -1;
	}
	return 0;
}

/* ---- writing ---- */

/* Escapes text for a value (structured: ';' and ',' too). */
static void escaped(struct buf *out, const char *text)
{
	for (; *text != '\0'; text++) {
		if (*text == '\n')
			buf_append_cstr(out, "\\n");
		else if (*text == '\r')
			continue;
		else {
			if (*text == '\\' || *text == ';' || *text == ',')
				buf_append_byte(out, '\\');
			buf_append_byte(out, (uint8_t)*text);
		}
	}
}

/* Ends a property: folds it at 75 octets (never inside a UTF-8 character) and adds CRLF. */
static void end_line(struct buf *out, size_t start)
{
	struct buf line;
	buf_init(&line, 0);
	buf_append(&line, out->data + start, out->len - start);
	out->len = start;
	size_t column = 0;
	for (size_t i = 0; i < line.len; i++) {
		if (column >= 74 && (line.data[i] & 0xC0) != 0x80) {
			buf_append_cstr(out, "\r\n ");
			column = 1;
		}
		buf_append_byte(out, line.data[i]);
		column++;
	}
	buf_append_cstr(out, "\r\n");
	buf_cleanup(&line);
}

static void property(struct buf *out, const char *name, const char *const *values, unsigned count)
{
	size_t start = out->len;
	buf_append_cstr(out, name);
	buf_append_byte(out, ':');
	for (unsigned i = 0; i < count; i++) {
		if (i > 0)
			buf_append_byte(out, ';');
		escaped(out, values[i]);
	}
	end_line(out, start);
}

static void text_property(struct buf *out, const char *name, const struct wbxml_node *fields, enum wbxml_tag tag)
{
	const char *value = pim_fields_text(fields, tag);
	if (value[0] != '\0')
		property(out, name, &value, 1);
}

static void write_address(struct buf *out, const char *name, const struct wbxml_node *f, const enum wbxml_tag *tags)
{
	const char *values[7] = { "", "" };
	bool any = false;
	for (unsigned i = 0; i < 5; i++) {
		values[2 + i] = pim_fields_text(f, tags[i]);
		any = any || values[2 + i][0] != '\0';
	}
	if (any)
		property(out, name, values, 7);
}

void pim_vcard_export(struct buf *out, struct arena *arena, const struct wbxml_node *f)
{
	const char *names[] = { pim_fields_text(f, WBXML_CONTACTS_LAST_NAME), pim_fields_text(f, WBXML_CONTACTS_FIRST_NAME),
				pim_fields_text(f, WBXML_CONTACTS_MIDDLE_NAME), pim_fields_text(f, WBXML_CONTACTS_TITLE),
				pim_fields_text(f, WBXML_CONTACTS_SUFFIX) };
	const char *org[] = { pim_fields_text(f, WBXML_CONTACTS_COMPANY_NAME), pim_fields_text(f, WBXML_CONTACTS_DEPARTMENT) };
	buf_append_cstr(out, "BEGIN:VCARD\r\nVERSION:3.0\r\n");
	property(out, "N", names, 5);
	text_property(out, "FN", f, WBXML_CONTACTS_FILE_AS);
	if (org[0][0] != '\0' || org[1][0] != '\0')
		property(out, "ORG", org, 2);
	text_property(out, "TITLE", f, WBXML_CONTACTS_JOB_TITLE);
	text_property(out, "EMAIL;TYPE=INTERNET", f, WBXML_CONTACTS_EMAIL1_ADDRESS);
	text_property(out, "EMAIL;TYPE=INTERNET", f, WBXML_CONTACTS_EMAIL2_ADDRESS);
	text_property(out, "EMAIL;TYPE=INTERNET", f, WBXML_CONTACTS_EMAIL3_ADDRESS);
	text_property(out, "TEL;TYPE=CELL", f, WBXML_CONTACTS_MOBILE_PHONE_NUMBER);
	text_property(out, "TEL;TYPE=WORK,VOICE", f, WBXML_CONTACTS_BUSINESS_PHONE_NUMBER);
	text_property(out, "TEL;TYPE=HOME,VOICE", f, WBXML_CONTACTS_HOME_PHONE_NUMBER);
	write_address(out, "ADR;TYPE=WORK", f, work_address);
	write_address(out, "ADR;TYPE=HOME", f, home_address);
	write_address(out, "ADR", f, other_address);
	const char *birthday = pim_fields_text(f, WBXML_CONTACTS_BIRTHDAY);
	if (strlen(birthday) >= 10) {
		const char *date = arena_strndup(arena, birthday, 10);
		property(out, "BDAY", &date, 1);
	}
	const struct wbxml_node *list = pim_fields_find(f, WBXML_CONTACTS_CATEGORIES);
	if (list != NULL && list->first_child != NULL) {
		size_t start = out->len;
		buf_append_cstr(out, "CATEGORIES:");
		for (const struct wbxml_node *c = list->first_child; c != NULL; c = c->next) {
			if (c != list->first_child)
				buf_append_byte(out, ',');
			escaped(out, c->text.len > 0 ? (const char *)c->text.data : "");
		}
		end_line(out, start);
	}
	text_property(out, "URL", f, WBXML_CONTACTS_WEB_PAGE);
	text_property(out, "NICKNAME", f, WBXML_CONTACTS2_NICK_NAME);
	const char *note = pim_interchange_body_text(f);
	if (note[0] != '\0')
		property(out, "NOTE", &note, 1);
	const char *whole = pim_interchange_encode(arena, f);
	property(out, PIM_EXTRA_PROPERTY, &whole, 1);
	buf_append_cstr(out, "END:VCARD\r\n");
}
