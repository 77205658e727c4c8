/*
 * address.c: whose mail an address of a local domain is, the one rule the
 * LMTP listener and `easctl deliver` share (see lmtp.h). Must not: look
 * at the domain; config_is_local_domain does.
 */
#include "mail/lmtp.h"

#include <string.h>

size_t mail_local_part_user_len(const struct easd_config *config, const char *local, size_t len)
{
	const char *delimiters = config->recipient_delimiter != NULL ? config->recipient_delimiter : "";
	for (size_t i = 0; i < len; i++)
		if (local[i] != '\0' && strchr(delimiters, local[i]) != NULL)
			return i > 0 ? i : len;
	return len;
}
