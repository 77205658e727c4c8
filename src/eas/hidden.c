/*
 * hidden.c: classes switched off (seed 003's "disable the Contacts
 * folder", done by the server): for everyone ([access] disabled_classes)
 * or for one user (easctl user disable USER CLASS). Their folders leave
 * the device's hierarchy (FolderSync tells it Delete, and Add once they
 * are back), and any command naming one finds no such folder: Sync answers
 * 12 (the hierarchy changed), Ping drops it. Clients stop asking for a
 * folder that is gone; a status they retry (4, 5) would bring the same
 * request back for ever.
 */
#include "eas/eas_private.h"
#include "pim/pim.h"

#include <stdio.h>
#include <string.h>

/* Bit i of a class mask is config_class_names[i]. */

unsigned eas_class_mask(const char *list)
{
	unsigned mask = 0;
	for (const char *p = list; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, ",");
		for (size_t i = 0; i < CONFIG_CLASS_COUNT; i++)
			if (strlen(config_class_names[i]) == len && strncmp(config_class_names[i], p, len) == 0)
				mask |= 1u << i;
		p += len + (p[len] == ',');
	}
	return mask;
}

const char *eas_class_list(struct arena *arena, unsigned mask)
{
	char text[64] = "";
	for (size_t i = 0; i < CONFIG_CLASS_COUNT; i++)
		if (mask & (1u << i))
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", text[0] != '\0' ? "," : "",
				 config_class_names[i]);
	return arena_strndup(arena, text, strlen(text));
}

unsigned eas_hidden_classes(const struct eas_request *request)
{
	return eas_class_mask(request->config->disabled_classes) | eas_class_mask(request->user.disabled_classes);
}

bool eas_folder_type_hidden(unsigned hidden, int folder_type)
{
	const char *name = pim_class_for_folder(folder_type)->name;
	return (eas_class_mask(name) & hidden) != 0;
}

int eas_folder_get(struct eas_request *request, struct arena *arena, int64_t folder_id, struct store_folder *out)
{
	int status = store_folder_get(request->session, arena, request->user.id, folder_id, out);
	if (status == STORE_OK && eas_folder_type_hidden(eas_hidden_classes(request), out->type))
		return STORE_NOT_FOUND;
	return status;
}
