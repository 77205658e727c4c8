/*
 * limits.h: every length, count and rate a device (or the MTA) controls,
 * in one table: its name, default and the reason for the number. Limits
 * are checked where input is read, before memory is allocated for it.
 *
 * Those with a configuration key can be changed in easd.conf (the key is
 * named; config_init takes the default from here). The others are fixed
 * at build time: they bound the protocol, not the deployment.
 *
 * The WBXML decoder has its own generic defaults (wbxml.h); requests are
 * decoded with the LIMIT_WBXML_* values below.
 */
#ifndef GUARD_LIMITS_H
#define GUARD_LIMITS_H

/* ---- HTTP request line and headers (MS-ASHTTP 2.2.1.1) ---- */

/* [http] max_body: a SendMail with attachments or a bulk Sync; Exchange's default. */
#define LIMIT_BODY_BYTES_DEFAULT 30000000
/* [http] timeout: seconds an idle connection is kept. */
#define LIMIT_HTTP_IDLE_SECONDS_DEFAULT 120
/* Connections at once; MHD refuses more before any work (a flood of sockets). */
#define LIMIT_HTTP_CONNECTIONS 10000
/* libmicrohttpd's memory per connection: request line, headers, read
   buffer and response headers. A parked Ping keeps it (all of it is
   touched once a keep-alive connection served a request), so it is most
   of what a parked Ping costs; MHD's 32 KB default doubles that. EAS
   headers are under 2 KB and the query is at most LIMIT_QUERY_BYTES; the
   body is passed on in pieces and kept elsewhere. */
#define LIMIT_HTTP_CONNECTION_MEMORY (12 * 1024)
/* The whole raw query; real ones are under 300 bytes. */
#define LIMIT_QUERY_BYTES 4096
/* MS-ASHTTP 2.2.1.1.1.2.3: DeviceId is 1*32(ALPHA / DIGIT). */
#define LIMIT_DEVICE_ID_BYTES 32
/* DeviceType is 1*VCHAR; the longest seen in the field is about 40. */
#define LIMIT_DEVICE_TYPE_BYTES 64
/* user@domain or DOMAIN\user. */
#define LIMIT_USER_BYTES 256
/* The longest command name is 17 (ResolveRecipients). */
#define LIMIT_COMMAND_BYTES 32
/* A command parameter; LongId is up to 256 (MS-ASCMD). */
#define LIMIT_PARAMETER_BYTES 1024
/* Each DeviceInformation value (model, IMEI, OS ...) kept; longer is cut. */
#define LIMIT_DEVICE_INFORMATION_BYTES 256
/* User-Agent kept for the log and the device record; longer is cut. */
#define LIMIT_USER_AGENT_BYTES 256

/* ---- WBXML request bodies (MS-ASWBXML) ---- */

/* EAS nests about 12 deep (Sync ... Exceptions, Exception, Attendees, Attendee). */
#define LIMIT_WBXML_DEPTH 32
/* A bulk Sync of 10,000 contacts with every field (14 MB) has 730,007 elements. */
#define LIMIT_WBXML_ELEMENTS 4000000

/* ---- folders (MS-ASCMD 2.2.1.3, 2.2.1.6) ---- */

/* DisplayName is 1 to 256 characters (MS-ASCMD 2.2.3.49.3). */
#define LIMIT_FOLDER_NAME_CHARACTERS 256
/* Levels below the root a folder may be (top level: 1); deeper chains are
   refused, so the walk that checks a move for cycles always ends. */
#define LIMIT_FOLDER_DEPTH 64

/* ---- Sync (MS-ASCMD 2.2.1.21) ---- */

/* Collections in one Sync; more get Status 15. A phone syncs a few dozen folders. */
#define LIMIT_SYNC_COLLECTIONS 100
/* [sync] max_commands: client commands in one collection of one Sync; past it the
   request gets Status 4 (MS-ASCMD 3.1.5.10). A phone's whole address book must go
   through: Android resends a refused batch for ever (field-notes §6). */
#define LIMIT_SYNC_COMMANDS_DEFAULT 20000
#define LIMIT_SYNC_COMMANDS_MAX 1000000
/* One value of a client's Change of a message (Read, Flag, a category); longer is a protocol error. */
#define LIMIT_CHANGE_VALUE_BYTES 4096
/* A ClientId (MS-ASCMD 2.2.3.28.2: at most 64 characters); a longer one gets Status 6. */
#define LIMIT_CLIENT_ID_BYTES 64
/* Adds of one ClientId in one request (AOSP repeats ids made in the same millisecond); more get Status 6. */
#define LIMIT_CLIENT_ID_REPEATS 1000
/* Bytes of items one Sync response aims at; past it the rest waits for the
   next request (MoreAvailable). One item is always sent, however large. */
#define LIMIT_SYNC_RESPONSE_BYTES (16u * 1024 * 1024)
/* Hard ceiling of any response body: the budget above plus one maximal message. */
#define LIMIT_RESPONSE_BYTES ((size_t)128 * 1024 * 1024)

/* ---- items kept as their fields: contacts, events, tasks, notes ---- */

/* Bytes of text in one item (a contact's picture, an event's body and
   exceptions); a larger one gets Status 6. MS-ASCNTC caps pictures at
   48 KB, clients send megabytes (field-notes F-CNT-2). */
#define LIMIT_PIM_ITEM_BYTES (16u * 1024 * 1024)
/* [sync] max_picture_size: a contact's Picture (base64) past it is not kept, the rest of
   the contact is (field-notes F-CNT-2: clients send far more than MS-ASCNTC's 48 KB). */
#define LIMIT_PICTURE_BYTES_DEFAULT (4u * 1024 * 1024)
/* Exceptions of one series (MS-ASCAL R243 says 256; Outlook keeps more); more get Status 6. */
#define LIMIT_CALENDAR_EXCEPTIONS 1000
/* Elements in one item: a series with hundreds of exceptions and attendees. */
#define LIMIT_PIM_ITEM_ELEMENTS 20000

/* ---- push: Ping and Sync with Wait (MS-ASCMD 2.2.1.13, 2.2.3.88) ---- */

/* [push] heartbeat_min and heartbeat_max: Exchange's bounds (MS-ASCMD
   Appendix <7>). They keep Outlook mobile's 180 s (Zimbra's 300 s minimum
   stranded it) and Android's 480-1680 s inside; iOS grows towards the
   maximum. Outside them a Ping gets Status 5 with the nearest bound. */
#define LIMIT_HEARTBEAT_MIN_DEFAULT 60
#define LIMIT_HEARTBEAT_MAX_DEFAULT 3540
/* [push] max_folders: folders one Ping watches; more get Status 6 with
   MaxFolders. Android pings every push-enabled folder and restarts with
   the same list after Status 6, so the bound is generous. */
#define LIMIT_PING_FOLDERS_DEFAULT 300
/* [push] max_parked: long polls parked at once. Each costs a few KB and a
   descriptor; more get HTTP 503 with Retry-After. */
#define LIMIT_PARKED_DEFAULT 200000
/* max_parked = 0 (no limit): what libmicrohttpd is still told it may hold. */
#define LIMIT_PARKED_UNLIMITED 4000000
/* [push] max_parked_per_user: one per device, and a user has a few devices;
   a client that opens sessions by the dozen gets HTTP 503 past it. */
#define LIMIT_PARKED_PER_USER_DEFAULT 32
/* Seconds before the heartbeat (or Sync's wait) ends that a long poll is
   answered, so a proxy or firewall timing out at exactly the interval
   never cuts it first. */
#define LIMIT_PUSH_EARLY_SECONDS 5

/* ---- what one user may take ([guard], guard/usage.c) ---- */

/* [guard] max_requests: requests of one user in progress at once (parked
   long polls apart: [push] max_parked_per_user). A phone runs one or two,
   Outlook a few; a broken client opening dozens meets it (seed 000). */
#define LIMIT_GUARD_REQUESTS_DEFAULT 16
/* [guard] max_store_sessions: store sessions one user holds at once, of the
   store's 64 (seed 004: Exchange's 32 MAPI sessions per user). */
#define LIMIT_GUARD_SESSIONS_DEFAULT 32
/* [guard] requests_per_minute: the request budget, a minute's allowance
   that refills evenly; an initial sync of 50 folders in pages of 100 takes
   a few hundred, a device looping without back-off thousands. */
#define LIMIT_GUARD_REQUESTS_PER_MINUTE_DEFAULT 600
/* [guard] seconds_per_minute: time one user's commands may run per minute,
   of the threads every user shares (Exchange's EASPercentTimeInCAS); a
   10,000-contact upload takes a few seconds. */
#define LIMIT_GUARD_SECONDS_PER_MINUTE_DEFAULT 30
/* [guard] bytes_per_minute: request and response bodies of one user per
   minute; a 100 MB attachment passes, a device fetching it in a loop not. */
#define LIMIT_GUARD_BYTES_PER_MINUTE_DEFAULT ((uint64_t)1 << 30)
/* [guard] tarpit: a refusal is held this many seconds (at most until it
   would pass) before it is given, parked without a thread: a device that
   ignores Retry-After and retries at once is slowed to one request per
   connection per tarpit (bench/results/storm.txt: 5,000 refusals a second
   took a third of a core and the threads everyone shares). */
#define LIMIT_GUARD_TARPIT_SECONDS_DEFAULT 2

/* ---- device access ([access], eas/access.c) ---- */

/* [access] max_devices_per_user: Exchange's default partnership limit is
   100; a person has a phone, a tablet, a laptop or two, and devices
   replaced over the years stay until forgotten. */
#define LIMIT_DEVICES_PER_USER_DEFAULT 100
/* [access] quarantine_retry: the Retry-After of a quarantined device, so
   it asks again a few times an hour and syncs soon after it is allowed. */
#define LIMIT_QUARANTINE_RETRY_DEFAULT 900
/* Rules of [access]; each request may try every one. */
#define LIMIT_ACCESS_RULES 256

/* ---- autoblock ([autoblock], guard/autoblock.c): threshold, window, block seconds ----
   Each far above what a client in order does: an iPhone's first sync asks
   SyncKey 0 once per folder; a device polling without push sends the same
   Sync once a minute; a user with a new phone changes one User-Agent. */
#define LIMIT_AUTOBLOCK_SYNC_KEY_ZERO { 10, 600, 3600 }
#define LIMIT_AUTOBLOCK_SAME_SYNC { 30, 300, 600 }
#define LIMIT_AUTOBLOCK_SAME_FAILURE { 30, 300, 900 }
#define LIMIT_AUTOBLOCK_NEVER_PROVISIONS { 20, 600, 3600 }
#define LIMIT_AUTOBLOCK_USER_AGENT_CHANGES { 10, 3600, 3600 }
#define LIMIT_AUTOBLOCK_COMMAND_RATE { 500, 60, 600 }
#define LIMIT_AUTOBLOCK_PING_LOOP { 60, 600, 600 }
/* Devices counted at once, as many as guard/repeats.c remembers: a large
   site's phones in use (about 512 bytes each). Past it a new device is not
   counted until idle ones make room; the table never grows without bound. */
#define LIMIT_AUTOBLOCK_DEVICES 200000

/* ---- answers a device repeats in a loop (guard/repeats.c) ---- */

/* A folder reported changed this many times while the device's key for it
   stayed the same (it never syncs it, field-notes T65) is not reported
   again until the device syncs it. */
#define LIMIT_REPEAT_CHANGED 3
/* Immediate answers a device can fix only by changing its request (Ping
   3 to 8); past LIMIT_REPEAT_IMMEDIATE of them in the window each further
   one waits LIMIT_REPEAT_DELAY_SECONDS (parked, no thread) before it is
   given: Android re-Pings at once, with no back-off. */
#define LIMIT_REPEAT_IMMEDIATE 5
#define LIMIT_REPEAT_WINDOW_SECONDS 60
#define LIMIT_REPEAT_DELAY_SECONDS 60
/* Devices remembered; those idle for LIMIT_REPEAT_IDLE_SECONDS make room. */
#define LIMIT_REPEAT_DEVICES 200000
#define LIMIT_REPEAT_IDLE_SECONDS 3600

/* ---- ItemOperations (MS-ASCMD 2.2.1.10) ---- */

/* Operations in one request; more get Status 2 for the whole request. A
   device fetches a few bodies or attachments at a time, and each Fetch
   parses a whole stored message, so the count bounds the CPU a request takes. */
#define LIMIT_ITEMOPERATIONS_OPERATIONS 100
/* Decoded bytes an attachment Fetch other than the streamed one (below)
   returns: those are built in memory. A message of the default
   [lmtp] max_message_size (50 MiB) carries at most about 37 MiB of
   base64-encoded attachment (57 bytes per 78-byte line), so every
   attachment of such a message is fetchable whole: mail clients fetch
   attachments without a Range. A larger one gets Status 11 without a
   Range, and with one the returned Range is cut to this (MS-ASCMD
   2.2.3.143.2: best effort). Inline it is 53 MiB of base64, well inside
   LIMIT_RESPONSE_BYTES. */
#define LIMIT_FETCH_BYTES (40u * 1024 * 1024)
/* Decoded bytes of the one attachment an ItemOperations response streams
   (the last attachment Fetch of the request): read from the store a window
   at a time while sent, so it costs no memory, and a whole 100 MB
   attachment is fetchable. The bound is the multipart form's: part
   lengths and offsets are 32-bit signed (MS-ASCMD 2.2.1.10.1.1), and the
   rest of the response takes at most LIMIT_RESPONSE_BYTES. */
#define LIMIT_FETCH_STREAM_BYTES (1024u * 1024 * 1024)
/* Fetched bytes (attachments decoded, items as estimated for Sync) one
   ItemOperations response carries; a Fetch past it gets Status 11 unless it
   is the first. Base64 makes it 85 MiB, inside LIMIT_RESPONSE_BYTES. */
#define LIMIT_FETCH_RESPONSE_BYTES (64u * 1024 * 1024)

/* ---- messages (MIME, as stored) ---- */

/* Multiparts nested deeper are not walked: their parts are neither body nor
   attachments. Real mail nests 4 or 5 deep; GMime stops at 1024. */
#define LIMIT_MIME_DEPTH 32
/* Encoded bytes of a part past which its EstimatedDataSize is guessed from
   the encoded size, and a truncated body stops decoding once it has its
   TruncationSize: a Sync must not decode a 100 MB part for one number.
   Smaller parts are decoded whole for an exact figure (about a millisecond). */
#define LIMIT_MIME_EXACT_SIZE_BYTES (1024u * 1024)
/* Attachments listed (and fetchable) per message: a 50 MB message could hold
   300,000 tiny parts, each an Attachment element in every Sync carrying it. */
#define LIMIT_MIME_ATTACHMENTS 500

/* ---- drafts (a Sync Add in Drafts, EAS 16.0+; src/pim/email_draft.c) ---- */

/* Bytes of a draft kept from the request: body, attachment contents and
   header text together. Attachments go out as base64 (4/3, plus CRLF every
   76 characters: 1.37 times), so the composed message stays under the
   default [lmtp] max_message_size (50 MiB): a draft is never larger than a
   message easd would take from the MTA. The count of attachments is
   LIMIT_MIME_ATTACHMENTS, the most a stored message lists. */
#define LIMIT_DRAFT_BYTES (36u * 1024 * 1024)

/* ---- authentication ([auth]) ---- */

/* [auth] cache_seconds: a verified credential is remembered this long. */
#define LIMIT_AUTH_CACHE_SECONDS_DEFAULT 300
/* [auth] slow_after: failures before attempts are slowed (1 s, 2 s ... 60 s). */
#define LIMIT_AUTH_SLOW_AFTER_DEFAULT 3
/* [auth] lockout_after: failures before attempts are refused outright. */
#define LIMIT_AUTH_LOCKOUT_AFTER_DEFAULT 10
/* [auth] lockout_seconds: how long, and how long failures are remembered. */
#define LIMIT_AUTH_LOCKOUT_SECONDS_DEFAULT 900
/* Longest back-off between attempts once slowed. */
#define LIMIT_AUTH_BACKOFF_SECONDS 60
/* Credentials cached and failure counters kept: a flood of names cannot grow them. */
#define LIMIT_AUTH_CACHED_CREDENTIALS 100000
#define LIMIT_AUTH_TRACKED_FAILURES 100000

/* ---- LMTP (RFC 2033, RFC 5321) ---- */

/* [lmtp] max_message_size: larger messages get 552. */
#define LIMIT_MESSAGE_BYTES_DEFAULT (50u * 1024 * 1024)

/* Sending ([smtp]): a message a device submits, its envelope recipients,
   the messages one user may submit per hour (a stolen password's spam run
   stops there), and how long the relay may take. */
#define LIMIT_SEND_BYTES_DEFAULT (25u * 1024 * 1024)
#define LIMIT_SEND_RECIPIENTS_DEFAULT 100
#define LIMIT_SEND_PER_HOUR_DEFAULT 200
/* Seconds easd waits before sending a meeting's invitations, updates and
   cancellations for a 16.x organizer's device: some devices send their own
   through SendMail right after their Sync, and then easd sends none. */
#define LIMIT_INVITATION_DELAY_DEFAULT 120
#define LIMIT_SEND_TIMEOUT_SECONDS_DEFAULT 60
/* Text of an original that SmartReply quotes or SmartForward includes. */
#define LIMIT_SEND_ORIGINAL_TEXT_BYTES (4u * 1024 * 1024)
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets, so an address 254. */
#define LIMIT_SEND_ADDRESS_BYTES 254
/* Requests in one MeetingResponse (MS-ASCMD 3.1.5.10: 100; more: Status 103). */
#define LIMIT_MEETING_RESPONSES 100
/* The text/calendar part of a meeting message that is read (iMIP). */
#define LIMIT_ITIP_BYTES (1024u * 1024)
/* Connections at once; more get 421. MTAs deliver over a few connections. */
#define LIMIT_LMTP_CONNECTIONS 32
/* A command line without CRLF: RFC 5321 4.5.3.1.4 says 512, MTAs add parameters. */
#define LIMIT_LMTP_LINE_BYTES 2048
/* Inside <> of MAIL FROM / RCPT TO (RFC 5321 4.5.3.1.3). */
#define LIMIT_LMTP_PATH_BYTES 256
/* The LHLO name, a domain (RFC 1035 2.3.4). */
#define LIMIT_LMTP_HOST_NAME_BYTES 255
/* RCPTs per transaction, the minimum RFC 5321 4.5.3.1.8 requires servers to take. */
#define LIMIT_LMTP_RECIPIENTS 100
/* Rejected commands before the connection is closed. */
#define LIMIT_LMTP_ERRORS 10
/* Seconds without a byte from the MTA (RFC 5321 4.5.3.2.7 gives the server 5 minutes). */
#define LIMIT_LMTP_IDLE_SECONDS 300

#endif
