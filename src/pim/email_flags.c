/*
 * email_flags.c: the part of a message a Change carries. The MIME does not
 * change after delivery; only the state the store keeps does, so a Change
 * sends just that (MS-ASEMAIL 3.1.5.3: a flag change is sent as a Change
 * with the Flag element).
 */
#include "pim/email.h"

void pim_email_write_flags(struct wbxml_writer *writer, const struct pim_email_state *state,
			   unsigned protocol_version)
{
	wbxml_writer_element_uint(writer, WBXML_EMAIL_READ, state->read ? 1 : 0);
	if (state->flag_status == 0) {
		/* An empty Flag clears it on the device. */
		wbxml_writer_empty(writer, WBXML_EMAIL_FLAG);
	} else {
		wbxml_writer_start(writer, WBXML_EMAIL_FLAG);
		wbxml_writer_element_uint(writer, WBXML_EMAIL_STATUS, state->flag_status);
		if (state->flag_status == 2)
			wbxml_writer_element_cstr(writer, WBXML_EMAIL_FLAG_TYPE, "Flag for follow up");
		wbxml_writer_end(writer);
	}
	if (protocol_version < 140)
		return;
	/* In a Change an empty Categories says "none any more" (cleared elsewhere). */
	if (state->categories[0] == NULL) {
		wbxml_writer_empty(writer, WBXML_EMAIL_CATEGORIES);
		return;
	}
	wbxml_writer_start(writer, WBXML_EMAIL_CATEGORIES);
	for (unsigned i = 0; i < 8 && state->categories[i] != NULL; i++)
		wbxml_writer_element_cstr(writer, WBXML_EMAIL_CATEGORY, state->categories[i]);
	wbxml_writer_end(writer);
}
