/*
 * config: easd.conf (INI, read with libinih), shared by easd and easctl.
 * Every key has a default; config/easd.conf.example documents each one.
 * Owns: the struct easd_config and its strings. Must not: open anything
 * the keys name (the daemon does that, and reports failures itself).
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guard/autoblock.h"
#include "guard/usage.h"

/* The release easd and easctl say they are (--version). */
#define EASD_VERSION "0.1.0"

enum config_provision {
	CONFIG_PROVISION_REQUIRED, /* every command but Provision needs the current policy key */
	CONFIG_PROVISION_OPTIONAL, /* devices may provision; a key they send must be current */
	CONFIG_PROVISION_OFF,      /* Provision answers "no policy" (Policy Status 2) */
};

enum config_smtp_security {
	CONFIG_SMTP_PLAIN,    /* no TLS: a relay on this host or a trusted network */
	CONFIG_SMTP_STARTTLS, /* STARTTLS required, the certificate verified */
	CONFIG_SMTP_TLS,      /* TLS from the first byte (smtps, port 465) */
};

/* What a device may do when no administrator decided ([access]). */
enum config_access {
	CONFIG_ACCESS_ALLOW,
	CONFIG_ACCESS_QUARANTINE, /* waits for an administrator: told to retry later */
	CONFIG_ACCESS_BLOCK,
};

/* What an [access] rule looks at. */
enum config_access_field {
	CONFIG_FIELD_DEVICE_TYPE, /* the DeviceType of the query: iPhone, Android, SAMSUNGSMG991B */
	CONFIG_FIELD_MODEL,       /* what the device said in Provision: iPhone15,2 */
	CONFIG_FIELD_OS,          /* iOS 17.1 21B80 */
	CONFIG_FIELD_USER_AGENT,
};

/* rule = ACTION FIELD PATTERN: the first whose glob matches (case ignored) decides. */
struct config_access_rule {
	enum config_access action;
	enum config_access_field field;
	char *pattern;
};

/* One EASProvisionDoc setting: an element of the Provision code page and its value. */
struct config_policy_setting {
	char *name;
	char *value;
};

struct easd_config {
	/* [http] */
	char *http_listen;        /* address:port, default 127.0.0.1:8080 */
	unsigned http_threads;    /* 0: one per core */
	char *tls_certificate;    /* PEM files; both or neither */
	char *tls_key;
	uint64_t max_body;        /* bytes of a request body; default 30,000,000 */
	unsigned http_timeout;    /* seconds a connection may stay idle */
	char *port_file;          /* if set, easd writes the bound HTTP port there (tests) */
	char **trusted_proxies;   /* NULL-terminated addresses whose X-Forwarded-For is believed */
	/* [store] */
	char *data_dir;           /* the SQLite database lives here */
	/* [log] */
	char *log_dir;            /* access.log is written here */
	/* [service] */
	char *service_user;       /* started as root, easd serves as this user once it has bound; empty: no change */
	/* [metrics] */
	char *metrics_listen;     /* address:port for Prometheus, default 127.0.0.1:9187; empty: off */
	char *metrics_port_file;  /* if set, easd writes the bound metrics port there (tests) */
	/* [lmtp] */
	char *lmtp_listen;        /* address:port, default 127.0.0.1:2424; empty: off */
	char **local_domains;     /* NULL-terminated; default { "localhost" } */
	uint64_t max_message_size; /* LMTP SIZE limit; default 50 MB */
	char *recipient_delimiter; /* user+tag@domain is user's: the local part ends at any of these; default "+" */
	/* [smtp]: where devices' messages are submitted */
	char *smtp_relay;              /* host:port of the MTA, default 127.0.0.1:25 */
	enum config_smtp_security smtp_security;
	char *smtp_user;               /* authenticate when set */
	char *smtp_password_file;      /* the password, first line of this file */
	char *smtp_ca_file;            /* CA certificates for the relay's; empty: the system's */
	unsigned smtp_timeout;         /* seconds for one submission */
	uint64_t max_send_size;        /* bytes of a message a device sends */
	unsigned max_send_recipients;  /* envelope recipients of one message */
	unsigned max_sends_per_hour;   /* messages one user submits per hour; 0: no limit */
	bool send_invitations;         /* easd sends the iTIP messages of meetings a 16.x device changes for its organizer */
	unsigned invitation_delay;     /* seconds easd waits for the device to send them itself */
	unsigned max_parallel_sends;   /* submissions at once; 0: one less than the HTTP threads (config_parallel_sends) */
	/* [auth] */
	unsigned auth_cache_seconds;   /* verified credential kept in memory; 0: never */
	unsigned auth_slow_after;      /* failures before attempts are slowed */
	unsigned auth_lockout_after;   /* failures before attempts are refused */
	unsigned auth_lockout_seconds; /* how long they are refused */
	/* [push] */
	unsigned heartbeat_min;        /* Ping HeartbeatInterval bounds, seconds */
	unsigned heartbeat_max;
	unsigned ping_max_folders;     /* folders one Ping may watch (MaxFolders) */
	unsigned max_parked;           /* long polls parked at once, in all */
	unsigned max_parked_per_user;
	bool wake_on_new_items_only;   /* wake = new_items: only adds end a Ping (MS-ASCMD 3.1.5.8) */
	/* [sync] */
	bool delete_omitted;           /* omitted = delete: a Change from a device without Supported deletes what it leaves out */
	unsigned max_picture_size;     /* bytes of a contact's Picture (base64) kept */
	unsigned max_sync_commands;    /* client commands in one collection of a Sync */
	/* [guard]: what one user may take of what everyone shares (guard/usage.h) */
	struct guard_usage_limits guard;
	char **guard_exempt;           /* NULL-terminated user names never refused by those limits */
	unsigned guard_tarpit;         /* seconds a refusal is held back before it is given; 0: at once */
	/* [access]: which devices may sync (config_access.c) */
	enum config_access access_default;
	struct config_access_rule *access_rules; /* in file order */
	size_t access_rule_count;
	unsigned max_devices_per_user;  /* devices of one user not blocked; 0: no cap */
	unsigned quarantine_retry;      /* Retry-After told to a quarantined device, seconds */
	char disabled_classes[64];      /* classes no device syncs: "Contacts,Notes"; "" none */
	/* [autoblock]: devices that misbehave in a loop (guard/autoblock.h) */
	struct guard_autoblock_limits autoblock;
	/* [provision] */
	enum config_provision provision;
	bool allow_partial_policy;     /* accept a device that applied part of the policy */
	/* [policy]: the EASProvisionDoc, in file order */
	struct config_policy_setting *policy;
	size_t policy_count;
	char policy_version[17];       /* hex digest of the policy: changes when it does */
};

/* Fills the defaults. */
void config_init(struct easd_config *config);
/*
 * Reads path over the defaults. Returns 0, or -1 with a message in error
 * ("easd.conf:12: unknown key 'foo' in [http]").
 */
int config_load(struct easd_config *config, const char *path, char *error, size_t error_len);
void config_cleanup(struct easd_config *config);
/*
 * SIGHUP: next, just loaded, is to take current's place. Keys read only at
 * start (listeners, directories, the service user, thread and parking
 * limits, TLS on or off) get current's values back. changed lists the keys
 * that take effect ("[smtp] relay, [policy]"), kept those that wait for a
 * restart; both "" when none.
 */
void config_reload_merge(const struct easd_config *current, struct easd_config *next, char *changed,
			 size_t changed_len, char *kept, size_t kept_len);

/* Splits "address:port" ("[::1]:8080" for IPv6). Returns 0 or -1. */
int config_split_listen(const char *listen, char *address, size_t address_len, uint16_t *port_out);
struct sockaddr_storage;
/* "address:port" as a socket address (numeric IPv4 or IPv6). Returns 0, or -1 with a message in error. */
int config_listen_address(const char *listen, struct sockaddr_storage *address, char *error, size_t error_len);
/* The HTTP worker threads: [http] threads, or one per core. */
unsigned config_http_threads(const struct easd_config *config);
/* Submissions to the relay at once: [smtp] max_parallel, or one less than the HTTP threads (at least one). */
unsigned config_parallel_sends(const struct easd_config *config);
/* Whether address (text form) is one of the trusted proxies. */
bool config_is_trusted_proxy(const struct easd_config *config, const char *address);
/* Whether user (as authenticated) is one of [guard] exempt. */
bool config_is_guard_exempt(const struct easd_config *config, const char *user);
/*
 * What [access] says of a device no administrator decided about: the
 * first rule that matches, else the default. *rule_out: that rule, NULL
 * for the default. NULL fields match no pattern.
 */
enum config_access config_access_for(const struct easd_config *config, const char *device_type, const char *model,
				     const char *os, const char *user_agent, const struct config_access_rule **rule_out);
/* The classes a user or everyone can have switched off, in this order. */
#define CONFIG_CLASS_COUNT 5
extern const char *const config_class_names[CONFIG_CLASS_COUNT];
/*
 * "contacts, notes" as the store and easd.conf keep classes ("Contacts,Notes",
 * in the order Email, Calendar, Contacts, Tasks, Notes; case ignored on
 * input). Returns 0, or -1 for a word that is no class.
 */
int config_classes_normalize(const char *text, char *out, size_t out_len);
/* The words of easd.conf: "allow", "quarantine", "block"; "device_type", "model", "os", "user_agent". */
const char *config_access_name(enum config_access access);
const char *config_access_field_name(enum config_access_field field);

/* Whether domain is one of the local domains (case-insensitive). */
bool config_is_local_domain(const struct easd_config *config, const char *domain, size_t len);

#endif
