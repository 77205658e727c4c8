/*
 * status.h: EAS Status values easd sends (MS-ASCMD 2.2.2, MS-ASPROV 3.1.5.2;
 * data/status.tsv has all of them). Only src/eas/ uses these.
 */
#ifndef EAS_STATUS_H
#define EAS_STATUS_H

enum eas_status {
	EAS_STATUS_SUCCESS = 1,

	/* Common status codes, 14.0 and later. */
	EAS_STATUS_INVALID_CONTENT = 101,
	EAS_STATUS_INVALID_WBXML = 102,
	EAS_STATUS_INVALID_XML = 103,
	EAS_STATUS_INVALID_MIME = 107,
	EAS_STATUS_SERVER_ERROR = 110,
	EAS_STATUS_SERVER_ERROR_RETRY_LATER = 111,
	EAS_STATUS_SEND_QUOTA_EXCEEDED = 115,
	EAS_STATUS_RECIPIENT_UNRESOLVED = 116,
	EAS_STATUS_NO_RECIPIENT = 119,
	EAS_STATUS_SUBMISSION_FAILED = 120,
	EAS_STATUS_ATTACHMENT_TOO_LARGE = 122,
	EAS_STATUS_COMMAND_NOT_SUPPORTED = 137,
	EAS_STATUS_DEVICE_NOT_FULLY_PROVISIONABLE = 139,
	EAS_STATUS_DEVICE_NOT_PROVISIONED = 142,
	EAS_STATUS_POLICY_REFRESH = 143,
	EAS_STATUS_INVALID_POLICY_KEY = 144,
	EAS_STATUS_EXTERNALLY_MANAGED_NOT_ALLOWED = 145,
	EAS_STATUS_ITEM_NOT_FOUND = 150,
	EAS_STATUS_INVALID_RECIPIENTS = 183,

	/* FolderSync. */
	EAS_FOLDERSYNC_SERVER_ERROR = 6,
	EAS_FOLDERSYNC_INVALID_SYNC_KEY = 9,
	EAS_FOLDERSYNC_BAD_REQUEST = 10,

	/* FolderCreate, FolderUpdate, FolderDelete (MS-ASCMD 2.2.3.177.3, .4, .6):
	   the same number means the same thing in each, except where named. */
	EAS_FOLDER_EXISTS = 2,                /* Create, Update: a sibling has that name */
	EAS_FOLDERUPDATE_SPECIAL_FOLDER = 2,  /* a default folder cannot be renamed or moved */
	EAS_FOLDER_SPECIAL_PARENT = 3,        /* Create, Update: the parent is the recipient information cache */
	EAS_FOLDERUPDATE_RECIPIENT_CACHE = 3, /* the folder is the recipient information cache */
	EAS_FOLDERDELETE_SPECIAL_FOLDER = 3,  /* a default folder cannot be deleted */
	EAS_FOLDER_NOT_FOUND = 4,             /* Update, Delete */
	EAS_FOLDER_PARENT_NOT_FOUND = 5,      /* Create, Update */
	EAS_FOLDER_SERVER_ERROR = 6,
	EAS_FOLDER_INVALID_SYNC_KEY = 9,
	EAS_FOLDER_BAD_REQUEST = 10,

	/* Provision (command level). */
	EAS_PROVISION_PROTOCOL_ERROR = 2,
	EAS_PROVISION_SERVER_ERROR = 3,

	/* Provision, Policy element. */
	EAS_POLICY_NO_POLICY = 2,
	EAS_POLICY_UNKNOWN_TYPE = 3,
	EAS_POLICY_WRONG_KEY = 5,
};

#endif
