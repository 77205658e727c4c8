/*
 * import_cmd.c: `easctl import USER FILE` (an iCalendar or vCard file into
 * the user's default Calendar, Tasks, Notes or Contacts folder) and
 * `easctl export USER CLASS [FILE]` (every item of the class, in the
 * user's folders of it). An import is one transaction: a file with an item
 * easd refuses imports nothing, and every such item is named by its line.
 * Items go through the class's own checks, as a device's Add does.
 */
#include "easctl/easctl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pim/pim.h"
#include "push/push.h"
#include "store/store.h"

/* Import files are at most this large. */
#define EASCTL_PIM_MAX_FILE ((size_t)512 * 1024 * 1024)

struct import {
	struct store_session *session;
	struct store_user user;
	struct arena *arena;
	unsigned lines;          /* of the file, for the progress line */
	unsigned imported, refused;
	bool progress;           /* standard error is a terminal */
	int status;              /* the first store failure */
};

static int folder_type(const struct pim_class *class)
{
	return class == &pim_class_contacts ? STORE_FOLDER_CONTACTS
	       : class == &pim_class_calendar ? STORE_FOLDER_CALENDAR
	       : class == &pim_class_tasks    ? STORE_FOLDER_TASKS
					      : STORE_FOLDER_NOTES;
}

static int store_item(struct import *im, const struct pim_class *class, const struct pim_update *update)
{
	int64_t folder, id;
	struct store_item_meta meta = { .received = update->received, .date = update->date,
					.message_id = update->message_id, .categories = update->categories };
	int status = store_folder_find_type(im->session, im->user.id, folder_type(class), &folder);
	if (status == STORE_OK)
		status = store_item_add(im->session, im->user.id, folder, update->content.data, update->content.len, &meta, &id);
	return status;
}

static int import_item(void *context, const struct pim_class *class, void *fields, unsigned line)
{
	struct import *im = context;
	struct pim_author author = { .protocol_version = 161, .folder_type = folder_type(class), .user = im->user.name,
				     .now = (int64_t)time(NULL), .keep_omitted = true };
	struct pim_input input = { .data = fields };
	struct pim_update update;
	if (class->create(class, im->arena, &author, &input, &update) < 0 || update.invalid != NULL) {
		fprintf(stderr, "%sline %u: %s refused: %s\n", im->progress ? "\r" : "", line, class->name,
			update.invalid != NULL ? update.invalid : "cannot be stored");
		im->refused++;
		return 0;
	}
	int status = store_item(im, class, &update);
	if (status != STORE_OK) {
		im->status = status;
		return 1;
	}
	if (im->progress && ++im->imported % 100 == 0)
		fprintf(stderr, "\rimporting: %u items, line %u of %u", im->imported, line, im->lines);
	else if (!im->progress)
		im->imported++;
	return 0;
}

static unsigned count_lines(const struct buf *text)
{
	unsigned n = 1;
	for (size_t i = 0; i < text->len; i++)
		n += text->data[i] == '\n';
	return n;
}

/* Opens the store and finds the user; the caller closes both. */
static int open_user(const struct easd_config *config, const char *name, struct arena *arena, struct store **store,
		     struct store_session **session, struct store_user *user)
{
	char error[512];
	if (store_open(config->data_dir, 1, store, error, sizeof(error)) < 0) {
		fprintf(stderr, "easctl: store: %s\n", error);
		return -1;
	}
	/* A running easd hears of the new items and wakes the user's devices. */
	store_set_change_listener(*store, push_notify_changed, config->data_dir);
	*session = store_session_acquire(*store);
	if (store_user_find(*session, arena, name, user) != STORE_OK) {
		fprintf(stderr, "easctl: no user %s\n", name);
		store_session_release(session);
		store_close(store);
		return -1;
	}
	return 0;
}

static int run_import(struct import *im, const struct buf *text)
{
	char error[256];
	if (store_begin(im->session) != STORE_OK) {
		fprintf(stderr, "easctl: store: %s\n", store_session_error(im->session));
		return EASCTL_EXIT_FAILURE;
	}
	int parsed = pim_import(im->arena, (const char *)text->data, text->len, import_item, im, error, sizeof(error));
	if (im->progress)
		fputc('\n', stderr);
	if (parsed < 0)
		fprintf(stderr, "easctl: %s\n", error);
	if (im->status != STORE_OK)
		fprintf(stderr, "easctl: store: %s\n", store_session_error(im->session));
	if (parsed != 0 || im->refused > 0 || im->status != STORE_OK) {
		store_rollback(im->session);
		fprintf(stderr, "easctl: nothing imported (%u item%s refused)\n", im->refused, im->refused == 1 ? "" : "s");
		return EASCTL_EXIT_FAILURE;
	}
	if (store_commit(im->session) != STORE_OK) {
		fprintf(stderr, "easctl: store: %s\n", store_session_error(im->session));
		return EASCTL_EXIT_FAILURE;
	}
	printf("imported %u items\n", im->imported);
	return 0;
}

int easctl_import(const struct easd_config *config, int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: easctl import USER FILE.ics|FILE.vcf\n", stderr);
		return EASCTL_EXIT_USAGE;
	}
	struct buf text;
	struct store *store;
	struct import im = { .arena = arena_new(0), .progress = isatty(STDERR_FILENO) };
	buf_init(&text, EASCTL_PIM_MAX_FILE);
	int status = EASCTL_EXIT_FAILURE;
	if (easctl_read_input(argv[1], &text) == 0 &&
	    open_user(config, argv[0], im.arena, &store, &im.session, &im.user) == 0) {
		im.lines = count_lines(&text);
		status = run_import(&im, &text);
		store_session_release(&im.session);
		store_close(&store);
	}
	buf_cleanup(&text);
	arena_free(&im.arena);
	return status;
}

/* ---- export ---- */

/* Written item by item as it is read, so a large export holds one item in memory. */
struct export {
	struct store_session *session;
	const struct pim_class *class;
	FILE *file;
	bool failed;             /* a write failed */
	int64_t *folders;        /* the user's folders of the class */
	unsigned folder_count, folder_capacity;
	struct arena *arena;     /* for the folder list */
	int64_t folder;          /* the one being written */
	unsigned count;
};

struct item_source {
	struct store_session *session;
	int64_t folder, item;
};

static int read_item(void *context, uint64_t offset, void *dst, size_t len)
{
	struct item_source *s = context;
	return store_item_content_read(s->session, s->folder, s->item, offset, dst, len) == STORE_OK ? 0 : -1;
}

static void write_out(struct export *ex, const struct buf *out)
{
	if (out->len > 0 && fwrite(out->data, 1, out->len, ex->file) != out->len)
		ex->failed = true;
}

static bool export_item(void *context, const struct store_item *item)
{
	struct export *ex = context;
	struct arena *arena = arena_new(0);
	struct item_source source_context = { ex->session, ex->folder, item->id };
	struct pim_source source = { .read = read_item, .context = &source_context };
	struct pim_email_state state = { .received = item->received };
	struct pim_item view = { &source, &state };
	struct buf out;
	buf_init(&out, 0);
	if (!item->deleted && store_item_content_size(ex->session, ex->folder, item->id, &source.size) == STORE_OK &&
	    pim_export_item(&out, arena, ex->class, &view) == 0) {
		write_out(ex, &out);
		ex->count++;
	}
	buf_cleanup(&out);
	arena_free(&arena);
	return !ex->failed;
}

static void note_folder(void *context, const struct store_folder *folder)
{
	struct export *ex = context;
	if (pim_class_for_folder(folder->type) != ex->class)
		return;
	ex->folders = arena_grow(ex->arena, ex->folders, sizeof(*ex->folders), ex->folder_count, &ex->folder_capacity, 16);
	ex->folders[ex->folder_count++] = folder->id;
}

/* Every live item of the user's folders of the class, folder by folder. */
static int export_items(struct export *ex, int64_t user)
{
	int status = store_folder_changes(ex->session, ex->arena, user, 0, UINT64_MAX >> 1, note_folder, ex);
	for (unsigned i = 0; status == STORE_OK && !ex->failed && i < ex->folder_count; i++) {
		ex->folder = ex->folders[i];
		status = store_item_changes(ex->session, ex->arena, ex->folder, 0, UINT64_MAX >> 1, 0, export_item, ex);
	}
	return status;
}

static const struct pim_class *class_named(const char *name)
{
	static const struct { const char *name; const struct pim_class *class; } classes[] = {
		{ "contacts", &pim_class_contacts }, { "calendar", &pim_class_calendar },
		{ "tasks", &pim_class_tasks }, { "notes", &pim_class_notes },
	};
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(classes[i].name, name) == 0)
			return classes[i].class;
	return NULL;
}

/* The file's head, the items, its tail; returns 0, or -1 with the reason printed. */
static int export_file(struct export *ex, int64_t user)
{
	struct buf edge;
	buf_init(&edge, 0);
	pim_export_begin(&edge, ex->class);
	write_out(ex, &edge);
	int status = export_items(ex, user);
	edge.len = 0;
	pim_export_end(&edge, ex->class);
	write_out(ex, &edge);
	buf_cleanup(&edge);
	if (status != STORE_OK)
		fprintf(stderr, "easctl: store: %s\n", store_session_error(ex->session));
	if (ex->failed)
		perror("easctl: export");
	return status == STORE_OK && !ex->failed ? 0 : -1;
}

int easctl_export(const struct easd_config *config, int argc, char **argv)
{
	const struct pim_class *class = argc >= 2 ? class_named(argv[1]) : NULL;
	if (argc < 2 || argc > 3 || class == NULL) {
		fputs("usage: easctl export USER contacts|calendar|tasks|notes [FILE]\n", stderr);
		return EASCTL_EXIT_USAGE;
	}
	const char *path = argc == 3 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
	struct export ex = { .class = class, .arena = arena_new(0), .file = path != NULL ? fopen(path, "wb") : stdout };
	struct store *store;
	struct store_user user;
	int status = EASCTL_EXIT_FAILURE;
	if (ex.file == NULL)
		perror(path);
	else if (open_user(config, argv[0], ex.arena, &store, &ex.session, &user) == 0) {
		bool written = export_file(&ex, user.id) == 0;
		written = (path != NULL ? fclose(ex.file) : fflush(stdout)) == 0 && written;
		ex.file = NULL;
		if (written) {
			fprintf(stderr, "exported %u items\n", ex.count);
			status = 0;
		}
		store_session_release(&ex.session);
		store_close(&store);
	}
	if (ex.file != NULL && path != NULL)
		fclose(ex.file);
	arena_free(&ex.arena);
	return status;
}
