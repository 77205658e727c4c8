/*
 * report_cmd.c: `easctl report`: which device is hurting the server, read
 * from easd's access log (log/access.h) the way Log Parser answers it for
 * IIS. Per user, device or command: requests, time in easd, bytes, errors,
 * guard refusals, items uploaded and the top reason; then the patterns
 * that mark a device in a loop.
 *
 * The log is streamed a line at a time through one buffer of
 * REPORT_MAX_LINE bytes, and each table keeps one record per group, so
 * memory grows with the distinct users, devices and commands (at most
 * REPORT_MAX_GROUPS of each table), never with the log.
 * Must not: write anything, or need the database or a running easd.
 */
#include "easctl/easctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log/access.h"

/* easd cuts a field at 256 bytes, each at most 4 when escaped: its lines stay under 24 KB. */
#define REPORT_MAX_LINE 65536
/* easd writes 21; a log with more columns is not easd's. */
#define REPORT_MAX_COLUMNS 64
/* Distinct groups a table keeps (about 250 bytes each); the requests of later ones count as "(others)". */
#define REPORT_MAX_GROUPS 100000
/* Distinct reasons kept: easd has a few dozen; more means a foreign log. */
#define REPORT_MAX_REASONS 4096
/* Reasons counted per group for its top one (see count_reason). */
#define REPORT_REASON_SLOTS 8
/* --since is bounded so that the cutoff cannot overflow. */
#define REPORT_MAX_SINCE_DAYS 36500
#define REPORT_DEFAULT_SINCE "1h"
#define REPORT_DEFAULT_TOP 20
/* The terminal output's width: a line longer than this is cut. */
#define REPORT_COLUMNS 100

/*
 * Pattern thresholds. A big upload is one request whose client commands
 * add or change REPORT_BIG_UPLOAD_ITEMS items, or whose body is
 * REPORT_BIG_UPLOAD_BYTES: a phone uploading its whole address book again
 * crosses either. Seen REPORT_BIG_UPLOAD_REPEATS times for the same user,
 * device, command and class in the window, it is a loop ("the same big
 * contacts Sync every few minutes"), not a first sync.
 */
#define REPORT_BIG_UPLOAD_ITEMS 100
#define REPORT_BIG_UPLOAD_BYTES (1024 * 1024)
#define REPORT_BIG_UPLOAD_REPEATS 3
/* A device with more than this share of errors, over enough requests to tell (a first login's 401 is not a loop). */
#define REPORT_ERROR_SHARE_PERCENT 50
#define REPORT_ERROR_MIN_REQUESTS 20
/* The guard refuses a burst now and then; this many refusals in the window is a device that does not back off. */
#define REPORT_GUARD_REFUSALS 10

/* The access log's columns the report reads, by their #Fields names. */
enum report_field {
	FIELD_DATE, FIELD_TIME, FIELD_USER, FIELD_DEVICE_ID, FIELD_DEVICE_TYPE, FIELD_COMMAND,
	FIELD_HTTP_STATUS, FIELD_EAS_STATUS, FIELD_BYTES_IN, FIELD_BYTES_OUT, FIELD_TIME_TAKEN,
	FIELD_REASON, FIELD_CLASS, FIELD_ADDED, FIELD_CHANGED, FIELD_DELETED, FIELD_GUARD,
	FIELD_COUNT
};

static const char *const field_names[FIELD_COUNT] = {
	"date", "time", "cs-username", "x-device-id", "x-device-type", "x-command",
	"sc-status", "x-eas-status", "cs-bytes", "sc-bytes", "time-taken",
	"x-reason", "x-class", "x-added", "x-changed", "x-deleted", "x-guard",
};

/* What this easd writes (log/access.c); a file without a #Fields line is read as this. */
static const char current_fields[] =
	"date time c-ip cs-username x-device-id x-device-type x-command x-protocol-version sc-status "
	"x-eas-status cs-bytes sc-bytes time-taken cs(User-Agent) x-reason x-store-wait x-class x-added "
	"x-changed x-deleted x-guard";

/* Where each field is in a line: from the last #Fields line. */
struct report_columns {
	int of_field[FIELD_COUNT]; /* -1: not in this log, read as "-" */
	unsigned count;            /* columns of a line; 0: no usable #Fields line */
};

/* One line of the log. Strings point into the line; "-" is empty. */
struct report_record {
	int64_t time_ms;
	char *field[FIELD_COUNT];
	uint64_t http_status, eas_status, bytes_in, bytes_out, milliseconds, added, changed, deleted;
};

struct report_reason {
	const char *reason; /* interned: the key of a group of report.reasons */
	uint64_t count;
};

struct report_counts {
	uint64_t requests, bytes_in, bytes_out, errors, refused, items;
	uint64_t milliseconds; /* time in easd: time-taken of all but Ping */
	uint64_t ping_ms;      /* Ping's time-taken */
	int64_t first_ms, last_ms;
	struct report_reason reasons[REPORT_REASON_SLOTS];
};

struct report_group {
	struct report_counts counts;
	uint64_t hash;
	size_t key_len;
	char key[];  /* the grouping's fields, each ended by '\0' */
};

/* Groups by key: open addressing, at most half full. */
struct report_table {
	struct arena *arena; /* the groups */
	struct report_group **slots;
	size_t slot_count, len, max;
	unsigned parts;               /* fields of a key */
	struct report_group *others;  /* the requests of groups past max; NULL until then */
};

/* How groups are formed and shown: --by's choices, and the big uploads. */
struct report_grouping {
	const char *name;   /* --by's word, and what one group is in JSON */
	const char *plural; /* "N more devices" */
	unsigned parts;
	enum report_field fields[5];
	const char *json_names[5];
	const char *headers[3];
	unsigned widths[3];  /* terminal columns; the name block is 36 wide in all */
	bool cut_middle[3];  /* device ids differ at their end ("Appl" + serial) */
};

enum report_by { REPORT_BY_DEVICE, REPORT_BY_USER, REPORT_BY_COMMAND, REPORT_UPLOADS };

static const struct report_grouping groupings[] = {
	[REPORT_BY_DEVICE] = { "device", "devices", 3, { FIELD_USER, FIELD_DEVICE_ID, FIELD_DEVICE_TYPE },
			       { "user", "device_id", "device_type" }, { "USER", "DEVICE", "TYPE" }, { 10, 15, 9 },
			       { false, true, false } },
	[REPORT_BY_USER] = { "user", "users", 1, { FIELD_USER }, { "user" }, { "USER" }, { 36 }, { false } },
	[REPORT_BY_COMMAND] = { "command", "commands", 1, { FIELD_COMMAND }, { "command" }, { "COMMAND" }, { 36 },
				{ false } },
	[REPORT_UPLOADS] = { "upload", "uploads", 5,
			     { FIELD_USER, FIELD_DEVICE_ID, FIELD_DEVICE_TYPE, FIELD_COMMAND, FIELD_CLASS },
			     { "user", "device_id", "device_type", "command", "class" }, { NULL }, { 0 }, { false } },
};

struct report {
	/* options */
	enum report_by by;
	const char *since;    /* as given */
	int64_t cutoff_ms;    /* lines before it are left out; INT64_MIN: none */
	uint64_t top;         /* groups and patterns shown; 0: all */
	bool json;
	const char **paths;   /* the FILEs, in order; none: the log directory's */
	size_t path_count;
	/* what was read */
	struct report_columns columns; /* of the file's last #Fields line */
	struct report_columns current; /* of this easd (current_fields) */
	struct report_counts totals;
	struct report_table devices, others_by; /* others_by: --by user or command */
	struct report_table uploads, reasons;
	uint64_t skipped;
	unsigned files;
	char line[REPORT_MAX_LINE];
	char key[REPORT_MAX_LINE];
};

/* ---- reading lines and columns ---- */

/*
 * The next line of in into line (size bytes, NUL-terminated, without its
 * newline or carriage return). Returns 1, 0 at the end of the file, or -1
 * for a line that does not fit or holds a NUL byte: it is read to its end
 * and dropped, so memory stays at size bytes whatever the file holds.
 */
static int read_line(FILE *in, char *line, size_t size)
{
	size_t n = 0;
	bool bad = false;
	int c;
	while ((c = getc_unlocked(in)) != EOF && c != '\n') {
		if (c == '\0' || n + 1 == size)
			bad = true;
		else
			line[n++] = (char)c;
	}
	if (c == EOF && n == 0 && !bad)
		return 0;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return bad ? -1 : 1;
}

/* Reads the names of a #Fields line (after the colon; cut up in place). Returns 0, or -1 when it has too many. */
static int columns_from_names(struct report_columns *columns, char *names)
{
	char *save = NULL;
	unsigned count = 0;
	for (int f = 0; f < FIELD_COUNT; f++)
		columns->of_field[f] = -1;
	columns->count = 0;
	for (char *name = strtok_r(names, " \t", &save); name != NULL; name = strtok_r(NULL, " \t", &save)) {
		if (count == REPORT_MAX_COLUMNS)
			return -1;
		for (int f = 0; f < FIELD_COUNT; f++)
			if (columns->of_field[f] < 0 && strcmp(name, field_names[f]) == 0)
				columns->of_field[f] = (int)count;
		count++;
	}
	columns->count = count;
	return 0;
}

static void columns_current(struct report_columns *columns)
{
	char names[sizeof(current_fields)];
	memcpy(names, current_fields, sizeof(names));
	columns_from_names(columns, names);
}

/* Cuts line at its tabs into column. Returns the count, or REPORT_MAX_COLUMNS + 1 when there are more. */
static unsigned split_columns(char *line, char **column)
{
	unsigned n = 0;
	for (char *p = line;;) {
		if (n == REPORT_MAX_COLUMNS)
			return n + 1;
		column[n++] = p;
		p = strchr(p, '\t');
		if (p == NULL)
			return n;
		*p++ = '\0';
	}
}

/* ---- parsing a record ---- */

/* Exactly n digits at text into *value_out. Returns 0 or -1. */
static int parse_digits(const char *text, size_t n, unsigned *value_out)
{
	unsigned value = 0;
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		value = value * 10 + (unsigned)(text[i] - '0');
	}
	*value_out = value;
	return 0;
}

/* Days from 1970-01-01 to a date of year 1970 to 9999 (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(unsigned year, unsigned month, unsigned day)
{
	year -= month <= 2;
	unsigned era = year / 400;
	unsigned year_of_era = year - era * 400;
	unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
	return (int64_t)era * 146097 + (int64_t)day_of_era - 719468;
}

/* "YYYY-MM-DD" and "HH:MM:SS" with an optional fraction (easd writes milliseconds), UTC. Returns 0 or -1. */
static int parse_time(const char *date, const char *time_of_day, int64_t *ms_out)
{
	unsigned year, month, day, hour, minute, second, ms = 0;
	if (strlen(date) != 10 || date[4] != '-' || date[7] != '-' || parse_digits(date, 4, &year) < 0 ||
	    parse_digits(date + 5, 2, &month) < 0 || parse_digits(date + 8, 2, &day) < 0)
		return -1;
	size_t len = strlen(time_of_day);
	if (len < 8 || time_of_day[2] != ':' || time_of_day[5] != ':' || parse_digits(time_of_day, 2, &hour) < 0 ||
	    parse_digits(time_of_day + 3, 2, &minute) < 0 || parse_digits(time_of_day + 6, 2, &second) < 0)
		return -1;
	if (len > 8) {
		/* A fraction of 1 to 9 digits; its first three are the milliseconds. */
		size_t digits = len - 9;
		unsigned fraction;
		if (time_of_day[8] != '.' || digits < 1 || digits > 9 || parse_digits(time_of_day + 9, digits, &fraction) < 0)
			return -1;
		for (; digits < 3; digits++)
			fraction *= 10;
		for (; digits > 3; digits--)
			fraction /= 10;
		ms = fraction;
	}
	/* Nothing easd logged is older than 1970, and days_from_civil counts from year 0 on. */
	if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
		return -1;
	int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
	*ms_out = seconds * 1000 + ms;
	return 0;
}

/* The numbers of a record; "-" is 0. Returns 0, or -1 when one is not a number. */
static int parse_numbers(struct report_record *r)
{
	/* Bounds far past any real request keep the sums from wrapping (they also saturate). */
	const struct {
		enum report_field field;
		uint64_t *value;
		uint64_t max;
	} numbers[] = {
		{ FIELD_HTTP_STATUS, &r->http_status, 999 },      { FIELD_EAS_STATUS, &r->eas_status, 1000000 },
		{ FIELD_BYTES_IN, &r->bytes_in, 1ULL << 50 },     { FIELD_BYTES_OUT, &r->bytes_out, 1ULL << 50 },
		{ FIELD_TIME_TAKEN, &r->milliseconds, 1ULL << 50 }, { FIELD_ADDED, &r->added, 1ULL << 40 },
		{ FIELD_CHANGED, &r->changed, 1ULL << 40 },       { FIELD_DELETED, &r->deleted, 1ULL << 40 },
	};
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		const char *text = r->field[numbers[i].field];
		*numbers[i].value = 0;
		if (strcmp(text, "-") != 0 && parse_uint64(slice_from_cstr(text), numbers[i].max, numbers[i].value) < 0)
			return -1;
	}
	return 0;
}

/*
 * A line into r. Returns 0, or -1 when it is not a request line of the
 * columns. easd writes its #Fields line only into an empty file, so after
 * an upgrade that added columns an older #Fields line is followed by
 * longer lines: easd only ever appends columns, so a line of the current
 * column count is read with the current columns.
 */
static int parse_record(char *line, const struct report_columns *columns, const struct report_columns *current,
			struct report_record *r)
{
	char *column[REPORT_MAX_COLUMNS];
	unsigned n = split_columns(line, column);
	if (n != columns->count && n == current->count)
		columns = current;
	else if (n != columns->count)
		return -1;
	for (int f = 0; f < FIELD_COUNT; f++) {
		int at = columns->of_field[f];
		r->field[f] = at >= 0 && column[at][0] != '\0' ? column[at] : "-";
	}
	if (parse_time(r->field[FIELD_DATE], r->field[FIELD_TIME], &r->time_ms) < 0)
		return -1;
	return parse_numbers(r);
}

/* ---- tables of groups ---- */

static void table_init(struct report_table *table, unsigned parts, size_t max)
{
	memset(table, 0, sizeof(*table));
	table->arena = arena_new(0);
	table->slot_count = 64;
	table->slots = calloc(table->slot_count, sizeof(*table->slots));
	if (table->slots == NULL)
		abort();
	table->parts = parts;
	table->max = max;
}

static void table_cleanup(struct report_table *table)
{
	arena_free(&table->arena);
	free(table->slots);
	table->slots = NULL;
}

static uint64_t key_hash(const char *key, size_t len)
{
	uint64_t hash = 14695981039346656037ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		hash = (hash ^ (uint8_t)key[i]) * 1099511628211ULL;
	return hash;
}

static struct report_group *group_new(struct report_table *table, uint64_t hash, const char *key, size_t len)
{
	struct report_group *group = arena_alloc(table->arena, sizeof(*group) + len);
	memset(group, 0, sizeof(*group));
	group->hash = hash;
	group->key_len = len;
	memcpy(group->key, key, len);
	return group;
}

static void table_grow(struct report_table *table)
{
	size_t count = table->slot_count * 2;
	struct report_group **slots = calloc(count, sizeof(*slots));
	if (slots == NULL)
		abort();
	for (size_t i = 0; i < table->slot_count; i++) {
		struct report_group *group = table->slots[i];
		if (group == NULL)
			continue;
		size_t at = group->hash & (count - 1);
		while (slots[at] != NULL)
			at = (at + 1) & (count - 1);
		slots[at] = group;
	}
	free(table->slots);
	table->slots = slots;
	table->slot_count = count;
}

/* The table's "(others)": its key has the table's parts, the first one saying what it is. */
static struct report_group *table_others(struct report_table *table)
{
	if (table->others == NULL) {
		char key[32] = "(others)";
		size_t len = strlen(key) + table->parts;
		table->others = group_new(table, 0, key, len);
	}
	return table->others;
}

/* The group of key (len bytes), new if need be, or "(others)" once the table is full. */
static struct report_group *table_find(struct report_table *table, const char *key, size_t len)
{
	uint64_t hash = key_hash(key, len);
	size_t mask = table->slot_count - 1;
	size_t at = hash & mask;
	for (; table->slots[at] != NULL; at = (at + 1) & mask) {
		struct report_group *group = table->slots[at];
		if (group->hash == hash && group->key_len == len && memcmp(group->key, key, len) == 0)
			return group;
	}
	if (table->len == table->max)
		return table_others(table);
	struct report_group *group = group_new(table, hash, key, len);
	table->slots[at] = group;
	if (++table->len * 2 > table->slot_count)
		table_grow(table);
	return group;
}

/* The key of r in a grouping: its fields, each ended by '\0', into key (REPORT_MAX_LINE bytes: they come from one line). */
static size_t make_key(char *key, const struct report_grouping *grouping, const struct report_record *r)
{
	size_t len = 0;
	for (unsigned i = 0; i < grouping->parts; i++) {
		size_t n = strlen(r->field[grouping->fields[i]]) + 1;
		memcpy(key + len, r->field[grouping->fields[i]], n);
		len += n;
	}
	return len;
}

static struct report_group *group_of(struct report *report, struct report_table *table, enum report_by by,
				     const struct report_record *r)
{
	return table_find(table, report->key, make_key(report->key, &groupings[by], r));
}

/* The table the output shows. */
static const struct report_table *shown_table(const struct report *report)
{
	return report->by == REPORT_BY_DEVICE ? &report->devices : &report->others_by;
}

/* ---- counting ---- */

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * An error: an HTTP status of 400 or more but 499 (easd's "the client hung
 * up": how a parked Ping ends when its phone changes networks), or an EAS
 * Status that is not its command's success: 1; for Ping also 2 (changes
 * found), for MoveItems 3 (moved). A Sync of Status 1 whose items failed
 * is no error; its reason still counts.
 */
static bool record_is_error(const struct report_record *r)
{
	if (r->http_status >= 400 && r->http_status != 499)
		return true;
	if (r->eas_status == 0 || r->eas_status == 1)
		return false;
	const char *command = r->field[FIELD_COMMAND];
	return !(r->eas_status == 2 && strcmp(command, "Ping") == 0) &&
	       !(r->eas_status == 3 && strcmp(command, "MoveItems") == 0);
}

/* x-guard: "refused" by the guard's caps and budgets; "blocked" or "quarantined" by device control (eas/access.c). */
static bool record_is_refused(const struct report_record *r)
{
	return strcmp(r->field[FIELD_GUARD], "refused") == 0 || strcmp(r->field[FIELD_GUARD], "blocked") == 0 ||
	       strcmp(r->field[FIELD_GUARD], "quarantined") == 0;
}

static bool record_is_big_upload(const struct report_record *r)
{
	return r->added + r->changed >= REPORT_BIG_UPLOAD_ITEMS || r->bytes_in >= REPORT_BIG_UPLOAD_BYTES;
}

/*
 * Counts reason among the group's REPORT_REASON_SLOTS: a new reason when
 * all are taken replaces the least counted one and takes over its count
 * (Metwally's "space saving"), so every reason of more than 1/SLOTS of the
 * group's is kept; a top count may be overestimated by the replaced one's.
 * Exact for a group of at most SLOTS reasons, which is nearly every one.
 */
static void count_reason(struct report_counts *counts, const char *reason)
{
	struct report_reason *least = &counts->reasons[0];
	for (unsigned i = 0; i < REPORT_REASON_SLOTS; i++) {
		struct report_reason *slot = &counts->reasons[i];
		if (slot->reason == reason || slot->reason == NULL) {
			slot->reason = reason;
			slot->count++;
			return;
		}
		if (slot->count < least->count)
			least = slot;
	}
	least->reason = reason;
	least->count++;
}

static void count_record(struct report_counts *c, const struct report_record *r, const char *reason)
{
	if (c->requests == 0 || r->time_ms < c->first_ms)
		c->first_ms = r->time_ms;
	if (c->requests == 0 || r->time_ms > c->last_ms)
		c->last_ms = r->time_ms;
	c->requests++;
	/*
	 * A Ping's time-taken is mostly the heartbeat it waited parked, which
	 * costs easd a small record and no work (http/park.c): counted with
	 * the rest, every idle phone would have an hour in easd per hour.
	 */
	if (strcmp(r->field[FIELD_COMMAND], "Ping") == 0)
		c->ping_ms = add_saturating(c->ping_ms, r->milliseconds);
	else
		c->milliseconds = add_saturating(c->milliseconds, r->milliseconds);
	c->bytes_in = add_saturating(c->bytes_in, r->bytes_in);
	c->bytes_out = add_saturating(c->bytes_out, r->bytes_out);
	c->items = add_saturating(c->items, r->added + r->changed + r->deleted);
	c->errors += record_is_error(r);
	c->refused += record_is_refused(r);
	if (reason != NULL)
		count_reason(c, reason);
}

/*
 * The record's reason as one shared string, NULL for none. A Ping's
 * "ping_folder_unknown:ID" carries a folder id the device chose: the id is
 * dropped, so a device's reasons stay few and its top one means something.
 */
static const char *intern_reason(struct report *report, char *reason)
{
	if (strcmp(reason, "-") == 0)
		return NULL;
	char *folder = strstr(reason, "ping_folder_");
	char *id = folder != NULL ? strchr(folder, ':') : NULL;
	if (id != NULL)
		*id = '\0';
	return table_find(&report->reasons, reason, strlen(reason) + 1)->key;
}

static void count_line(struct report *report, struct report_record *r)
{
	const char *reason = intern_reason(report, r->field[FIELD_REASON]);
	count_record(&report->totals, r, reason);
	count_record(&group_of(report, &report->devices, REPORT_BY_DEVICE, r)->counts, r, reason);
	if (report->by != REPORT_BY_DEVICE)
		count_record(&group_of(report, &report->others_by, report->by, r)->counts, r, reason);
	if (record_is_big_upload(r))
		count_record(&group_of(report, &report->uploads, REPORT_UPLOADS, r)->counts, r, reason);
}

/* One line: a #Fields line sets the columns, other # lines are skipped silently, a request is counted. */
static void take_line(struct report *report, char *line)
{
	struct report_record record;
	if (strncmp(line, "#Fields:", 8) == 0) {
		if (columns_from_names(&report->columns, line + 8) < 0)
			report->skipped++;
		return;
	}
	if (line[0] == '#' || line[0] == '\0')
		return;
	if (parse_record(line, &report->columns, &report->current, &record) < 0) {
		report->skipped++;
		return;
	}
	if (record.time_ms >= report->cutoff_ms)
		count_line(report, &record);
}

static int read_file(struct report *report, const char *path)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *in = is_stdin ? stdin : fopen(path, "r");
	if (in == NULL) {
		fprintf(stderr, "easctl: report: %s: %s\n", path, strerror(errno));
		return -1;
	}
	report->columns = report->current;
	int status;
	while ((status = read_line(in, report->line, sizeof(report->line))) != 0) {
		if (status < 0)
			report->skipped++;
		else
			take_line(report, report->line);
	}
	status = ferror(in) ? -1 : 0;
	if (status < 0)
		fprintf(stderr, "easctl: report: %s: %s\n", path, strerror(errno));
	if (!is_stdin)
		fclose(in);
	report->files++;
	return status;
}

/* No FILE: the configured log directory's access.log, after the access.log.1 logrotate left if there is one. */
static int read_log_dir(struct report *report, const struct easd_config *config)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", config->log_dir, ACCESS_LOG_NAME);
	if (stat(path, &st) < 0) {
		fprintf(stderr, "easctl: report: %s: %s (is [log] dir right?)\n", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.1", config->log_dir, ACCESS_LOG_NAME);
	if (stat(path, &st) == 0 && read_file(report, path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", config->log_dir, ACCESS_LOG_NAME);
	return read_file(report, path);
}

/* ---- what the output shows ---- */

/* The most counted reason, or NULL. */
static const struct report_reason *top_reason(const struct report_counts *counts)
{
	const struct report_reason *top = NULL;
	for (unsigned i = 0; i < REPORT_REASON_SLOTS && counts->reasons[i].reason != NULL; i++)
		if (top == NULL || counts->reasons[i].count > top->count)
			top = &counts->reasons[i];
	return top;
}

static const char *top_reason_name(const struct report_counts *counts)
{
	const struct report_reason *top = top_reason(counts);
	return top != NULL ? top->reason : "-";
}

/* The i-th field of a group's key. */
static const char *key_part(const struct report_group *group, unsigned i)
{
	const char *part = group->key;
	while (i-- > 0)
		part += strlen(part) + 1;
	return part;
}

/* Most time in easd first, then most requests, then by key: the same log always gives the same order. */
static int group_compare(const void *a, const void *b)
{
	const struct report_group *x = *(const struct report_group *const *)a;
	const struct report_group *y = *(const struct report_group *const *)b;
	if (x->counts.milliseconds != y->counts.milliseconds)
		return x->counts.milliseconds > y->counts.milliseconds ? -1 : 1;
	if (x->counts.requests != y->counts.requests)
		return x->counts.requests > y->counts.requests ? -1 : 1;
	int order = memcmp(x->key, y->key, x->key_len < y->key_len ? x->key_len : y->key_len);
	return order != 0 ? order : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* The groups of a table, "(others)" among them, sorted; the caller frees the array. */
static struct report_group **table_sorted(const struct report_table *table, size_t *len_out)
{
	struct report_group **groups = calloc(table->len + 1, sizeof(*groups));
	if (groups == NULL)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < table->slot_count; i++)
		if (table->slots[i] != NULL)
			groups[n++] = table->slots[i];
	if (table->others != NULL)
		groups[n++] = table->others;
	qsort(groups, n, sizeof(*groups), group_compare);
	*len_out = n;
	return groups;
}

enum report_pattern_kind { PATTERN_BIG_UPLOADS, PATTERN_REFUSALS, PATTERN_ERRORS };

static const char *const pattern_names[] = { "repeated_big_upload", "guard_refusals", "error_share" };

struct report_pattern {
	enum report_pattern_kind kind;
	const struct report_group *group; /* a device, or an upload's (user, device, command, class) */
	uint64_t count;                   /* big uploads, refusals, errors */
};

static int pattern_compare(const void *a, const void *b)
{
	const struct report_pattern *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return group_compare(&x->group, &y->group);
}

/* The patterns of the devices and uploads, sorted; the caller frees the array. */
static struct report_pattern *find_patterns(const struct report *report, size_t *len_out)
{
	struct report_pattern *patterns = calloc(2 * report->devices.len + report->uploads.len + 1, sizeof(*patterns));
	if (patterns == NULL)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < report->uploads.slot_count; i++) {
		const struct report_group *upload = report->uploads.slots[i];
		if (upload != NULL && upload->counts.requests >= REPORT_BIG_UPLOAD_REPEATS)
			patterns[n++] = (struct report_pattern){ PATTERN_BIG_UPLOADS, upload, upload->counts.requests };
	}
	for (size_t i = 0; i < report->devices.slot_count; i++) {
		const struct report_group *device = report->devices.slots[i];
		if (device == NULL)
			continue;
		const struct report_counts *c = &device->counts;
		if (c->refused >= REPORT_GUARD_REFUSALS)
			patterns[n++] = (struct report_pattern){ PATTERN_REFUSALS, device, c->refused };
		if (c->requests >= REPORT_ERROR_MIN_REQUESTS && c->errors * 100 > c->requests * REPORT_ERROR_SHARE_PERCENT)
			patterns[n++] = (struct report_pattern){ PATTERN_ERRORS, device, c->errors };
	}
	qsort(patterns, n, sizeof(*patterns), pattern_compare);
	*len_out = n;
	return patterns;
}

/* How many of len to show. */
static size_t shown_count(const struct report *report, size_t len)
{
	return report->top != 0 && report->top < len ? (size_t)report->top : len;
}

/* ---- the terminal ---- */

/*
 * text in at most width columns (out: width + 1 bytes): cut at the end
 * with "..", or in the middle, keeping both ends. easd escapes what it
 * logs, so a byte is a column; a byte outside printable ASCII (another
 * program's log could hold terminal escapes) becomes '?'.
 */
static const char *fit(char *out, size_t width, const char *text, bool middle)
{
	size_t len = strlen(text);
	if (len <= width || width < 4) {
		snprintf(out, width + 1, "%s", text);
	} else {
		size_t head = middle ? (width - 1) / 2 : width - 2;
		size_t tail = width - 2 - head;
		memcpy(out, text, head);
		memcpy(out + head, "..", 2);
		memcpy(out + head + 2, text + len - tail, tail);
		out[width] = '\0';
	}
	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F)
			*p = '?';
	return out;
}

/* n in at most 5 columns: as it is below from, else in units of base with K, M, G, ... (one decimal below 10). */
static const char *format_short(char *out, size_t len, uint64_t n, uint64_t from, double base)
{
	static const char units[] = "KMGTPE";
	if (n < from) {
		snprintf(out, len, "%" PRIu64, n);
		return out;
	}
	double value = (double)n / base;
	unsigned unit = 0;
	while (value >= 999.5 && unit + 2 < sizeof(units)) {
		value /= base;
		unit++;
	}
	snprintf(out, len, value < 9.95 ? "%.1f%c" : "%.0f%c", value, units[unit]);
	return out;
}

static const char *format_bytes(char *out, size_t len, uint64_t bytes)
{
	return format_short(out, len, bytes, 1000, 1024);
}

static const char *format_count(char *out, size_t len, uint64_t n)
{
	return format_short(out, len, n, 100000, 1000);
}

/* Time in easd in at most 6 columns: hundredths below 10 s, tenths below 1000 s. */
static const char *format_seconds(char *out, size_t len, uint64_t ms)
{
	if (ms < 10000)
		snprintf(out, len, "%" PRIu64 ".%02" PRIu64, ms / 1000, ms % 1000 / 10);
	else if (ms < 1000000)
		snprintf(out, len, "%" PRIu64 ".%" PRIu64, ms / 1000, ms % 1000 / 100);
	else
		format_count(out, len, ms / 1000);
	return out;
}

/* "every 45 s", "every 12 min", "every 2.5 h". */
static const char *format_interval(char *out, size_t len, int64_t ms)
{
	if (ms < 120000)
		snprintf(out, len, "%" PRId64 " s", ms / 1000);
	else if (ms < 7200000)
		snprintf(out, len, "%" PRId64 " min", ms / 60000);
	else
		snprintf(out, len, "%.1f h", (double)ms / 3600000);
	return out;
}

/* "2026-12-04 13:02:11" (UTC), separator between date and time. */
static const char *format_time(char *out, size_t len, int64_t ms, char separator)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&seconds, &tm);
	snprintf(out, len, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, separator,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	return out;
}

/* A line of the terminal output, cut to REPORT_COLUMNS. */
static void print_fitted(const char *line)
{
	char out[REPORT_COLUMNS + 1];
	puts(fit(out, REPORT_COLUMNS, line, false));
}

static void print_header(const struct report *report)
{
	const struct report_counts *t = &report->totals;
	char line[512], first[64], last[64], seconds[16], in[16], out[16];
	if (t->requests == 0)
		snprintf(line, sizeof(line), "window: no requests (since %s); %u file%s, %" PRIu64 " line%s skipped",
			 report->since, report->files, report->files == 1 ? "" : "s", report->skipped,
			 report->skipped == 1 ? "" : "s");
	else
		snprintf(line, sizeof(line), "window: %s to %s UTC (since %s); %u file%s, %" PRIu64 " line%s skipped",
			 format_time(first, sizeof(first), t->first_ms, ' '), format_time(last, sizeof(last), t->last_ms, ' '),
			 report->since, report->files, report->files == 1 ? "" : "s", report->skipped,
			 report->skipped == 1 ? "" : "s");
	print_fitted(line);
	snprintf(line, sizeof(line), "total:  %" PRIu64 " requests of %zu %s, %s s in easd, %s in, %s out", t->requests,
		 shown_table(report)->len, groupings[report->by].plural,
		 format_seconds(seconds, sizeof(seconds), t->milliseconds), format_bytes(in, sizeof(in), t->bytes_in),
		 format_bytes(out, sizeof(out), t->bytes_out));
	print_fitted(line);
	snprintf(line, sizeof(line), "        %" PRIu64 " errors, %" PRIu64 " refused by the guard, %" PRIu64 " items uploaded",
		 t->errors, t->refused, t->items);
	print_fitted(line);
	if (shown_table(report)->others != NULL)
		printf("(more than %d %s: the requests of later ones are counted as \"(others)\")\n", REPORT_MAX_GROUPS,
		       groupings[report->by].plural);
}

/* The name block of a row (36 columns), or of the column headers when group is NULL. */
static void print_names(const struct report_grouping *grouping, const struct report_group *group)
{
	char cell[64];
	for (unsigned i = 0; i < grouping->parts; i++) {
		const char *text = group != NULL ? key_part(group, i) : grouping->headers[i];
		printf("%-*s%s", (int)grouping->widths[i], fit(cell, grouping->widths[i], text, grouping->cut_middle[i]),
		       i + 1 < grouping->parts ? " " : "");
	}
}

/* The numbers of a row after the name block; the reason gets the rest of REPORT_COLUMNS. */
#define REPORT_ROW_FORMAT " %5s %6s %5s %5s %5s %7s %5s  %s\n"
#define REPORT_REASON_WIDTH (REPORT_COLUMNS - 36 - 6 - 7 - 6 - 6 - 6 - 8 - 6 - 2)

static void print_row(const struct report_grouping *grouping, const struct report_group *group)
{
	const struct report_counts *c = &group->counts;
	char requests[16], seconds[16], in[16], out[16], errors[16], refused[16], items[16];
	char reason[REPORT_REASON_WIDTH + 1];
	print_names(grouping, group);
	printf(REPORT_ROW_FORMAT, format_count(requests, sizeof(requests), c->requests),
	       format_seconds(seconds, sizeof(seconds), c->milliseconds), format_bytes(in, sizeof(in), c->bytes_in),
	       format_bytes(out, sizeof(out), c->bytes_out), format_count(errors, sizeof(errors), c->errors),
	       format_count(refused, sizeof(refused), c->refused), format_count(items, sizeof(items), c->items),
	       fit(reason, REPORT_REASON_WIDTH, top_reason_name(c), false));
}

static void print_groups(const struct report *report)
{
	const struct report_grouping *grouping = &groupings[report->by];
	size_t len;
	struct report_group **groups = table_sorted(shown_table(report), &len);
	size_t shown = shown_count(report, len);
	if (len > 0) {
		putchar('\n');
		print_names(grouping, NULL);
		printf(REPORT_ROW_FORMAT, "REQS", "SECS", "IN", "OUT", "ERR", "REFUSED", "ITEMS", "TOP REASON");
	}
	for (size_t i = 0; i < shown; i++)
		print_row(grouping, groups[i]);
	if (shown < len)
		printf("(%zu more %s; --top 0 shows all)\n", len - shown, grouping->plural);
	free(groups);
}

/* "alice Appl5K1..DA2T (iPhone)": a device, cut to fit a pattern's line. */
static const char *device_label(char *out, size_t len, const struct report_group *group)
{
	char user[17], device[21], type[13];
	snprintf(out, len, "%s %s (%s)", fit(user, 16, key_part(group, 0), false), fit(device, 20, key_part(group, 1), true),
		 fit(type, 12, key_part(group, 2), false));
	return out;
}

static void print_pattern(const struct report_pattern *p)
{
	const struct report_counts *c = &p->group->counts;
	char line[512], label[64], items[16], in[16], interval[32];
	device_label(label, sizeof(label), p->group);
	if (p->kind == PATTERN_REFUSALS) {
		snprintf(line, sizeof(line), "  %s: refused by the guard %" PRIu64 " times in %" PRIu64 " requests (%s)", label,
			 c->refused, c->requests, top_reason_name(c));
	} else if (p->kind == PATTERN_ERRORS) {
		snprintf(line, sizeof(line), "  %s: %" PRIu64 " errors in %" PRIu64 " requests (%" PRIu64 "%%), top reason %s",
			 label, c->errors, c->requests, c->errors * 100 / c->requests, top_reason_name(c));
	} else {
		const char *class = key_part(p->group, 4);
		snprintf(line, sizeof(line), "  %s: %" PRIu64 " big %s%s%s uploads, %s items, %s in, every %s", label,
			 c->requests, key_part(p->group, 3), strcmp(class, "-") != 0 ? " " : "",
			 strcmp(class, "-") != 0 ? class : "", format_count(items, sizeof(items), c->items),
			 format_bytes(in, sizeof(in), c->bytes_in),
			 format_interval(interval, sizeof(interval), (c->last_ms - c->first_ms) / (int64_t)(c->requests - 1)));
	}
	print_fitted(line);
}

static void print_patterns(const struct report *report)
{
	size_t len;
	struct report_pattern *patterns = find_patterns(report, &len);
	size_t shown = shown_count(report, len);
	printf("\npatterns:%s\n", len == 0 ? " none" : "");
	for (size_t i = 0; i < shown; i++)
		print_pattern(&patterns[i]);
	if (shown < len)
		printf("  (%zu more; --top 0 shows all)\n", len - shown);
	free(patterns);
}

/* ---- JSON ---- */

/* "2026-12-04T13:02:11.123Z", or null before the first request. */
static void json_time(const struct report_counts *counts, int64_t ms)
{
	char text[64];
	if (counts->requests == 0)
		fputs("null", stdout);
	else
		printf("\"%s.%03dZ\"", format_time(text, sizeof(text), ms, 'T'), (int)(ms % 1000));
}

static void json_counts(const struct report_counts *c)
{
	const struct report_reason *top = top_reason(c);
	printf("\"requests\":%" PRIu64 ",\"seconds\":%" PRIu64 ".%03u,\"ping_seconds\":%" PRIu64 ".%03u,\"bytes_in\":%" PRIu64
	       ",\"bytes_out\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"items\":%" PRIu64 ",\"first\":",
	       c->requests, c->milliseconds / 1000, (unsigned)(c->milliseconds % 1000), c->ping_ms / 1000,
	       (unsigned)(c->ping_ms % 1000), c->bytes_in, c->bytes_out, c->errors, c->refused, c->items);
	json_time(c, c->first_ms);
	fputs(",\"last\":", stdout);
	json_time(c, c->last_ms);
	fputs(",\"top_reason\":", stdout);
	if (top != NULL)
		easctl_json_string(top->reason);
	else
		fputs("null", stdout);
	printf(",\"top_reason_count\":%" PRIu64, top != NULL ? top->count : 0);
}

static void json_group(const struct report_grouping *grouping, const struct report_group *group)
{
	putchar('{');
	for (unsigned i = 0; i < grouping->parts; i++) {
		printf("\"%s\":", grouping->json_names[i]);
		easctl_json_string(key_part(group, i));
		putchar(',');
	}
	json_counts(&group->counts);
	putchar('}');
}

static void json_groups(const struct report *report)
{
	size_t len;
	struct report_group **groups = table_sorted(shown_table(report), &len);
	size_t shown = shown_count(report, len);
	printf("\"groups\":[");
	for (size_t i = 0; i < shown; i++) {
		fputs(i == 0 ? "\n  " : ",\n  ", stdout);
		json_group(&groupings[report->by], groups[i]);
	}
	printf("],\n\"groups_not_shown\":%zu,\n", len - shown);
	free(groups);
}

static void json_patterns(const struct report *report)
{
	size_t len;
	struct report_pattern *patterns = find_patterns(report, &len);
	size_t shown = shown_count(report, len);
	printf("\"patterns\":[");
	for (size_t i = 0; i < shown; i++) {
		const struct report_pattern *p = &patterns[i];
		printf("%s{\"pattern\":\"%s\",\"count\":%" PRIu64 ",\"%s\":", i == 0 ? "\n  " : ",\n  ",
		       pattern_names[p->kind], p->count, p->kind == PATTERN_BIG_UPLOADS ? "upload" : "device");
		json_group(&groupings[p->kind == PATTERN_BIG_UPLOADS ? REPORT_UPLOADS : REPORT_BY_DEVICE], p->group);
		putchar('}');
	}
	printf("],\n\"patterns_not_shown\":%zu\n", len - shown);
	free(patterns);
}

static void print_json(const struct report *report)
{
	fputs("{\"since\":", stdout);
	easctl_json_string(report->since);
	printf(",\"by\":\"%s\",\"files\":%u,\"lines_skipped\":%" PRIu64 ",\"groups_capped\":%s,\n\"totals\":{",
	       groupings[report->by].name, report->files, report->skipped,
	       shown_table(report)->others != NULL ? "true" : "false");
	json_counts(&report->totals);
	printf(",\"groups\":%zu},\n", shown_table(report)->len);
	json_groups(report);
	json_patterns(report);
	fputs("}\n", stdout);
}

/* ---- options ---- */

static int usage_error(const char *why, const char *value)
{
	fprintf(stderr, "easctl: report: %s%s%s\n", why, value != NULL ? ": " : "", value != NULL ? value : "");
	fputs("usage: easctl report [--since DURATION|all] [--by user|device|command] [--top N] [--json] [FILE...]\n",
	      stderr);
	return EASCTL_EXIT_USAGE;
}

/* --since: "30s", "15m", "1h", "2d" before now_ms, or "all". Returns 0 with the cutoff, or -1. */
static int parse_since(const char *text, int64_t now_ms, int64_t *cutoff_out)
{
	static const struct {
		char unit;
		uint64_t seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	size_t len = strlen(text);
	uint64_t count;
	if (strcmp(text, "all") == 0) {
		*cutoff_out = INT64_MIN;
		return 0;
	}
	for (size_t i = 0; len > 1 && i < sizeof(units) / sizeof(units[0]); i++) {
		if (text[len - 1] != units[i].unit)
			continue;
		uint64_t max = (uint64_t)REPORT_MAX_SINCE_DAYS * 86400 / units[i].seconds;
		if (parse_uint64((struct slice){ (const uint8_t *)text, len - 1 }, max, &count) < 0)
			return -1;
		*cutoff_out = now_ms - (int64_t)(count * units[i].seconds * 1000);
		return 0;
	}
	return -1;
}

/* One option that takes a value. Returns 0, or EASCTL_EXIT_USAGE (message printed). */
static int set_option(struct report *report, const char *option, const char *value)
{
	if (strcmp(option, "--since") == 0) {
		report->since = value;
		if (parse_since(value, (int64_t)time(NULL) * 1000, &report->cutoff_ms) < 0)
			return usage_error("--since takes 30s, 15m, 1h, 2d (a number and s, m, h or d) or all", value);
		return 0;
	}
	if (strcmp(option, "--top") == 0) {
		if (parse_uint64(slice_from_cstr(value), REPORT_MAX_GROUPS, &report->top) < 0)
			return usage_error("--top takes a number of groups (0: all)", value);
		return 0;
	}
	for (enum report_by by = REPORT_BY_DEVICE; by <= REPORT_BY_COMMAND; by++)
		if (strcmp(value, groupings[by].name) == 0) {
			report->by = by;
			return 0;
		}
	return usage_error("--by takes user, device or command", value);
}

/* The words of the command: options (before a "--", anywhere), the rest files. Returns 0, or EASCTL_EXIT_USAGE. */
static int parse_options(struct report *report, int argc, char **argv)
{
	bool options = true;
	for (int i = 0; i < argc; i++) {
		const char *word = argv[i];
		if (!options || word[0] != '-' || word[1] == '\0') {
			report->paths[report->path_count++] = word;
		} else if (strcmp(word, "--") == 0) {
			options = false;
		} else if (strcmp(word, "--json") == 0) {
			report->json = true;
		} else if (strcmp(word, "--since") != 0 && strcmp(word, "--by") != 0 && strcmp(word, "--top") != 0) {
			return usage_error("unknown option", word);
		} else if (i + 1 == argc) {
			return usage_error("a value is missing after", word);
		} else {
			int status = set_option(report, word, argv[++i]);
			if (status != 0)
				return status;
		}
	}
	return 0;
}

static struct report *report_new(int argc)
{
	struct report *report = calloc(1, sizeof(*report));
	if (report == NULL)
		abort();
	report->paths = calloc((size_t)argc + 1, sizeof(*report->paths));
	if (report->paths == NULL)
		abort();
	report->since = REPORT_DEFAULT_SINCE;
	parse_since(REPORT_DEFAULT_SINCE, (int64_t)time(NULL) * 1000, &report->cutoff_ms);
	report->top = REPORT_DEFAULT_TOP;
	columns_current(&report->current);
	table_init(&report->devices, groupings[REPORT_BY_DEVICE].parts, REPORT_MAX_GROUPS);
	table_init(&report->others_by, 1, REPORT_MAX_GROUPS);
	table_init(&report->uploads, groupings[REPORT_UPLOADS].parts, REPORT_MAX_GROUPS);
	table_init(&report->reasons, 1, REPORT_MAX_REASONS);
	return report;
}

static void report_free(struct report **report_ptr)
{
	struct report *report = *report_ptr;
	table_cleanup(&report->devices);
	table_cleanup(&report->others_by);
	table_cleanup(&report->uploads);
	table_cleanup(&report->reasons);
	free(report->paths);
	free(report);
	*report_ptr = NULL;
}

int easctl_report(const struct easd_config *config, int argc, char **argv)
{
	struct report *report = report_new(argc);
	int status = parse_options(report, argc, argv);
	for (size_t i = 0; status == 0 && i < report->path_count; i++)
		if (read_file(report, report->paths[i]) < 0)
			status = EASCTL_EXIT_FAILURE;
	if (status == 0 && report->path_count == 0 && read_log_dir(report, config) < 0)
		status = EASCTL_EXIT_FAILURE;
	if (status == 0 && report->json) {
		print_json(report);
	} else if (status == 0) {
		print_header(report);
		print_groups(report);
		print_patterns(report);
	}
	report_free(&report);
	return status;
}
