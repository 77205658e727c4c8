/*
 * easclient: a small EAS client over libcurl and easd's WBXML codec, for
 * the end-to-end tests and the device simulator (easbench). One client is
 * one device of one user; it keeps its policy key and hierarchy SyncKey.
 */
#ifndef EASCLIENT_H
#define EASCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"
#include "wbxml/wbxml.h"

struct easclient_options {
	const char *base_url;      /* "http://127.0.0.1:8080" or "https://..." */
	const char *user;
	const char *password;
	const char *device_id;
	const char *device_type;   /* default "easclient" */
	const char *user_agent;    /* default "easclient/1.0" */
	unsigned protocol_version; /* 121, 140, ...; default 141 */
	bool base64_query;         /* MS-ASHTTP 2.2.1.1.1.1 form instead of the plain one */
	bool accept_gzip;
	bool accept_multipart;     /* ItemOperations: MS-ASAcceptMultiPart: T, or Options bit 0x02 in the base64 form */
	bool insecure_tls;         /* https: accept any certificate (tests' self-signed ones) */
	unsigned timeout_ms;       /* a request not answered by then is abandoned, its connection closed; 0: 60 s */
};

struct easclient_response {
	long http_status;
	struct buf body;     /* decompressed when the server used gzip */
	struct buf headers;  /* raw response header lines */
};

struct easclient;

struct easclient *easclient_new(const struct easclient_options *options);
void easclient_free(struct easclient **client);

void easclient_response_init(struct easclient_response *response);
void easclient_response_cleanup(struct easclient_response *response);
/* A response header's value (case-insensitive name) copied into arena, or NULL. */
const char *easclient_header(const struct easclient_response *response, struct arena *arena,
			     const char *name);

/* OPTIONS on the EAS path. Returns 0 when the exchange happened (any HTTP status), -1 on transport failure. */
int easclient_options(struct easclient *client, struct easclient_response *response);
/* POST Cmd=command with a raw body and content type (NULL: WBXML). Same return. */
int easclient_post(struct easclient *client, const char *command, const void *body, size_t len,
		   const char *content_type, struct easclient_response *response);
/* POST with the body given as XML (encoded with wbxml_from_xml). */
int easclient_post_xml(struct easclient *client, const char *command, const char *xml,
		       struct easclient_response *response);
/* Sends a request with a raw query string (tests of malformed queries). */
int easclient_post_query(struct easclient *client, const char *query, const void *body, size_t len,
			 struct easclient_response *response);

/*
 * Both Provision phases; on success the client sends the final key from
 * then on. Returns 0, or -1 (with the last response in *response if given).
 */
int easclient_provision(struct easclient *client, struct easclient_response *response);
/* The policy key the client sends (0: none) and a way to set it for tests. */
uint32_t easclient_policy_key(const struct easclient *client);
void easclient_set_policy_key(struct easclient *client, uint32_t key);

/*
 * For an event loop (easbench): easclient_post_start sets up the same
 * request as easclient_post without making it, and returns the client's
 * curl easy handle (CURL *) to add to a curl multi handle; the response
 * fills in as the transfer runs. Once the transfer ended (its CURLcode
 * from curl_multi_info_read) and the handle left the multi handle,
 * easclient_post_done gives easclient_post's result. One request per
 * client at a time.
 */
void *easclient_post_start(struct easclient *client, const char *command, const void *body, size_t len,
			   const char *content_type, struct easclient_response *response);
int easclient_post_done(struct easclient *client, int curl_result, struct easclient_response *response);
/* The local address the client's connections come from (CURLOPT_INTERFACE, "host!127.0.0.2"); NULL: any. */
void easclient_set_source(struct easclient *client, const char *address);

/* Parses a WBXML response body into a tree in arena; NULL when it does not decode. */
struct wbxml_node *easclient_parse(const struct easclient_response *response, struct arena *arena);
/* First node with that tag, depth first, or NULL. */
const struct wbxml_node *easclient_find(const struct wbxml_node *root, enum wbxml_tag tag);
/* Text of the first node with that tag as a NUL-terminated copy, or NULL. */
const char *easclient_find_text(const struct wbxml_node *root, enum wbxml_tag tag, struct arena *arena);
/* The number of nodes with that tag. */
unsigned easclient_count(const struct wbxml_node *root, enum wbxml_tag tag);

#endif
