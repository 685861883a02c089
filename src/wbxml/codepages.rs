//! The 26 code pages of [MS-ASWBXML] 2.1.2.1, with the element names of the specification.
//!
//! Each page is a module with one `Tag` constant per element (`airsync::SYNC_KEY`) and a
//! `TAGS` table used for names in logs, XML dumps and tests.

use super::Tag;

macro_rules! codepage {
    ($page:literal, $name:literal, $module:ident { $($konst:ident = $token:literal $text:literal,)* }) => {
        #[doc = concat!("Code page ", stringify!($page), ": ", $name, ".")]
        pub mod $module {
            use super::super::Tag;
            pub const PAGE: u8 = $page;
            pub const NAME: &str = $name;
            $(pub const $konst: Tag = Tag::new($page, $token);)*
            /// Every token of the page with its specification name, ascending.
            pub const TAGS: &[(u8, &str)] = &[$(($token, $text),)*];
        }
    };
}

// Conventions for the tables below:
// - The names are those of the current [MS-ASWBXML] tag tables, which are the XML element names
//   of [MS-ASCMD], [MS-ASEMAIL], [MS-ASCAL], … (older revisions, Z-Push and libwbxml use names
//   such as `Recurrence_Type`, `FlagStatus` or `Attendee_Status` instead).
// - A token the specification does not list (retired, reserved or never defined) is left out and
//   named in a comment, so the decoder shows it as `Page:0xNN`.
// - Tokens marked "2.5 only" exist only in protocol version 2.5; they are kept so that old
//   devices decode with names.
// - A constant that would clash with the module's own `PAGE`, `NAME` or `TAGS` gets the suffix
//   `_TAG`; the comment next to it says so.

codepage!(0, "AirSync", airsync {
    SYNC = 0x05 "Sync",
    RESPONSES = 0x06 "Responses",
    ADD = 0x07 "Add",
    CHANGE = 0x08 "Change",
    DELETE = 0x09 "Delete",
    FETCH = 0x0A "Fetch",
    SYNC_KEY = 0x0B "SyncKey",
    CLIENT_ID = 0x0C "ClientId",
    SERVER_ID = 0x0D "ServerId",
    STATUS = 0x0E "Status",
    COLLECTION = 0x0F "Collection",
    CLASS = 0x10 "Class",
    // 0x11 (Version, 2.0) is not listed.
    COLLECTION_ID = 0x12 "CollectionId",
    GET_CHANGES = 0x13 "GetChanges",
    MORE_AVAILABLE = 0x14 "MoreAvailable",
    WINDOW_SIZE = 0x15 "WindowSize",
    COMMANDS = 0x16 "Commands",
    OPTIONS = 0x17 "Options",
    FILTER_TYPE = 0x18 "FilterType",
    TRUNCATION = 0x19 "Truncation", // 2.5 only
    // 0x1A (RTFTruncation, 2.0) is not listed.
    CONFLICT = 0x1B "Conflict",
    COLLECTIONS = 0x1C "Collections",
    APPLICATION_DATA = 0x1D "ApplicationData",
    DELETES_AS_MOVES = 0x1E "DeletesAsMoves",
    // 0x1F (NotifyGUID, 2.0) is not listed.
    SUPPORTED = 0x20 "Supported",
    SOFT_DELETE = 0x21 "SoftDelete",
    MIME_SUPPORT = 0x22 "MIMESupport",
    MIME_TRUNCATION = 0x23 "MIMETruncation",
    WAIT = 0x24 "Wait",
    LIMIT = 0x25 "Limit",
    PARTIAL = 0x26 "Partial",
    CONVERSATION_MODE = 0x27 "ConversationMode",
    MAX_ITEMS = 0x28 "MaxItems",
    HEARTBEAT_INTERVAL = 0x29 "HeartbeatInterval",
});

codepage!(1, "Contacts", contacts {
    ANNIVERSARY = 0x05 "Anniversary",
    ASSISTANT_NAME = 0x06 "AssistantName",
    ASSISTANT_PHONE_NUMBER = 0x07 "AssistantPhoneNumber",
    BIRTHDAY = 0x08 "Birthday",
    BODY = 0x09 "Body",                    // 2.5 only; airsyncbase::BODY since 12.0
    BODY_SIZE = 0x0A "BodySize",           // 2.5 only
    BODY_TRUNCATED = 0x0B "BodyTruncated", // 2.5 only
    BUSINESS2_PHONE_NUMBER = 0x0C "Business2PhoneNumber",
    BUSINESS_ADDRESS_CITY = 0x0D "BusinessAddressCity",
    BUSINESS_ADDRESS_COUNTRY = 0x0E "BusinessAddressCountry",
    BUSINESS_ADDRESS_POSTAL_CODE = 0x0F "BusinessAddressPostalCode",
    BUSINESS_ADDRESS_STATE = 0x10 "BusinessAddressState",
    BUSINESS_ADDRESS_STREET = 0x11 "BusinessAddressStreet",
    BUSINESS_FAX_NUMBER = 0x12 "BusinessFaxNumber",
    BUSINESS_PHONE_NUMBER = 0x13 "BusinessPhoneNumber",
    CAR_PHONE_NUMBER = 0x14 "CarPhoneNumber",
    CATEGORIES = 0x15 "Categories",
    CATEGORY = 0x16 "Category",
    CHILDREN = 0x17 "Children",
    CHILD = 0x18 "Child",
    COMPANY_NAME = 0x19 "CompanyName",
    DEPARTMENT = 0x1A "Department",
    EMAIL1_ADDRESS = 0x1B "Email1Address",
    EMAIL2_ADDRESS = 0x1C "Email2Address",
    EMAIL3_ADDRESS = 0x1D "Email3Address",
    FILE_AS = 0x1E "FileAs",
    FIRST_NAME = 0x1F "FirstName",
    HOME2_PHONE_NUMBER = 0x20 "Home2PhoneNumber",
    HOME_ADDRESS_CITY = 0x21 "HomeAddressCity",
    HOME_ADDRESS_COUNTRY = 0x22 "HomeAddressCountry",
    HOME_ADDRESS_POSTAL_CODE = 0x23 "HomeAddressPostalCode",
    HOME_ADDRESS_STATE = 0x24 "HomeAddressState",
    HOME_ADDRESS_STREET = 0x25 "HomeAddressStreet",
    HOME_FAX_NUMBER = 0x26 "HomeFaxNumber",
    HOME_PHONE_NUMBER = 0x27 "HomePhoneNumber",
    JOB_TITLE = 0x28 "JobTitle",
    LAST_NAME = 0x29 "LastName",
    MIDDLE_NAME = 0x2A "MiddleName",
    MOBILE_PHONE_NUMBER = 0x2B "MobilePhoneNumber",
    OFFICE_LOCATION = 0x2C "OfficeLocation",
    OTHER_ADDRESS_CITY = 0x2D "OtherAddressCity",
    OTHER_ADDRESS_COUNTRY = 0x2E "OtherAddressCountry",
    OTHER_ADDRESS_POSTAL_CODE = 0x2F "OtherAddressPostalCode",
    OTHER_ADDRESS_STATE = 0x30 "OtherAddressState",
    OTHER_ADDRESS_STREET = 0x31 "OtherAddressStreet",
    PAGER_NUMBER = 0x32 "PagerNumber",
    RADIO_PHONE_NUMBER = 0x33 "RadioPhoneNumber",
    SPOUSE = 0x34 "Spouse",
    SUFFIX = 0x35 "Suffix",
    TITLE = 0x36 "Title",
    WEB_PAGE = 0x37 "WebPage",
    YOMI_COMPANY_NAME = 0x38 "YomiCompanyName",
    YOMI_FIRST_NAME = 0x39 "YomiFirstName",
    YOMI_LAST_NAME = 0x3A "YomiLastName",
    // 0x3B (CompressedRTF, 2.5) is not listed.
    PICTURE = 0x3C "Picture",
    ALIAS = 0x3D "Alias",
    WEIGHTED_RANK = 0x3E "WeightedRank",
});

codepage!(2, "Email", email {
    ATTACHMENT = 0x05 "Attachment",        // 2.5 only; airsyncbase::ATTACHMENT since 12.0
    ATTACHMENTS = 0x06 "Attachments",      // 2.5 only
    ATT_NAME = 0x07 "AttName",             // 2.5 only
    ATT_SIZE = 0x08 "AttSize",             // 2.5 only
    ATT0_ID = 0x09 "Att0Id",               // 2.5 only; the digit zero is the specification's
    ATT_METHOD = 0x0A "AttMethod",         // 2.5 only
    // 0x0B (AttRemoved) is not listed.
    BODY = 0x0C "Body",                    // 2.5 only; airsyncbase::BODY since 12.0
    BODY_SIZE = 0x0D "BodySize",           // 2.5 only
    BODY_TRUNCATED = 0x0E "BodyTruncated", // 2.5 only
    DATE_RECEIVED = 0x0F "DateReceived",
    DISPLAY_NAME = 0x10 "DisplayName",     // 2.5 only
    DISPLAY_TO = 0x11 "DisplayTo",
    IMPORTANCE = 0x12 "Importance",
    MESSAGE_CLASS = 0x13 "MessageClass",
    SUBJECT = 0x14 "Subject",
    READ = 0x15 "Read",
    TO = 0x16 "To",
    CC = 0x17 "Cc",
    FROM = 0x18 "From",
    REPLY_TO = 0x19 "ReplyTo",
    ALL_DAY_EVENT = 0x1A "AllDayEvent",
    CATEGORIES = 0x1B "Categories",
    CATEGORY = 0x1C "Category",
    DT_STAMP = 0x1D "DtStamp",
    END_TIME = 0x1E "EndTime",
    INSTANCE_TYPE = 0x1F "InstanceType",
    BUSY_STATUS = 0x20 "BusyStatus",
    LOCATION = 0x21 "Location", // up to 14.1; airsyncbase::LOCATION since 16.0
    MEETING_REQUEST = 0x22 "MeetingRequest",
    ORGANIZER = 0x23 "Organizer",
    RECURRENCE_ID = 0x24 "RecurrenceId",
    REMINDER = 0x25 "Reminder",
    RESPONSE_REQUESTED = 0x26 "ResponseRequested",
    RECURRENCES = 0x27 "Recurrences",
    RECURRENCE = 0x28 "Recurrence",
    TYPE = 0x29 "Type",
    UNTIL = 0x2A "Until",
    OCCURRENCES = 0x2B "Occurrences",
    INTERVAL = 0x2C "Interval",
    DAY_OF_WEEK = 0x2D "DayOfWeek",
    DAY_OF_MONTH = 0x2E "DayOfMonth",
    WEEK_OF_MONTH = 0x2F "WeekOfMonth",
    MONTH_OF_YEAR = 0x30 "MonthOfYear",
    START_TIME = 0x31 "StartTime",
    SENSITIVITY = 0x32 "Sensitivity",
    TIME_ZONE = 0x33 "TimeZone",
    GLOBAL_OBJ_ID = 0x34 "GlobalObjId", // up to 14.1; calendar::UID since 16.0
    THREAD_TOPIC = 0x35 "ThreadTopic",
    MIME_DATA = 0x36 "MIMEData",           // 2.5 only
    MIME_TRUNCATED = 0x37 "MIMETruncated", // 2.5 only
    MIME_SIZE = 0x38 "MIMESize",           // 2.5 only
    INTERNET_CPID = 0x39 "InternetCPID",
    FLAG = 0x3A "Flag",
    STATUS = 0x3B "Status", // the flag's status ([MS-ASEMAIL] 2.2.2.74); "FlagStatus" in peers
    CONTENT_CLASS = 0x3C "ContentClass",
    FLAG_TYPE = 0x3D "FlagType",
    COMPLETE_TIME = 0x3E "CompleteTime",
    DISALLOW_NEW_TIME_PROPOSAL = 0x3F "DisallowNewTimeProposal",
});

// Current revisions of [MS-ASWBXML] only say that this page is no longer in use and that tokens
// 0x05-0x17 have been defined. The names are those of the first revision of the specification.
codepage!(3, "AirNotify", airnotify {
    NOTIFY = 0x05 "Notify",
    NOTIFICATION = 0x06 "Notification",
    VERSION = 0x07 "Version",
    LIFE_TIME = 0x08 "LifeTime",
    DEVICE_INFO = 0x09 "DeviceInfo",
    ENABLE = 0x0A "Enable",
    FOLDER = 0x0B "Folder",
    SERVER_ID = 0x0C "ServerId",
    DEVICE_ADDRESS = 0x0D "DeviceAddress",
    VALID_CARRIER_PROFILES = 0x0E "ValidCarrierProfiles",
    CARRIER_PROFILE = 0x0F "CarrierProfile",
    STATUS = 0x10 "Status",
    RESPONSES = 0x11 "Responses",
    DEVICES = 0x12 "Devices",
    DEVICE = 0x13 "Device",
    ID = 0x14 "Id",
    EXPIRY = 0x15 "Expiry",
    NOTIFY_GUID = 0x16 "NotifyGUID",
    DEVICE_FRIENDLY_NAME = 0x17 "DeviceFriendlyName",
});

codepage!(4, "Calendar", calendar {
    TIMEZONE = 0x05 "Timezone",
    ALL_DAY_EVENT = 0x06 "AllDayEvent",
    ATTENDEES = 0x07 "Attendees",
    ATTENDEE = 0x08 "Attendee",
    EMAIL = 0x09 "Email",
    NAME_TAG = 0x0A "Name", // suffix: `NAME` is the page name constant
    BODY = 0x0B "Body",                    // 2.5 only; airsyncbase::BODY since 12.0
    BODY_TRUNCATED = 0x0C "BodyTruncated", // 2.5 only
    BUSY_STATUS = 0x0D "BusyStatus",
    CATEGORIES = 0x0E "Categories",
    CATEGORY = 0x0F "Category",
    // 0x10 (Compressed_RTF, 2.5) is not listed.
    DT_STAMP = 0x11 "DtStamp",
    END_TIME = 0x12 "EndTime",
    EXCEPTION = 0x13 "Exception",
    EXCEPTIONS = 0x14 "Exceptions",
    DELETED = 0x15 "Deleted",
    // ExceptionStartTime is up to 14.1; airsyncbase::INSTANCE_ID replaces it in 16.0.
    EXCEPTION_START_TIME = 0x16 "ExceptionStartTime",
    LOCATION = 0x17 "Location", // up to 14.1; airsyncbase::LOCATION since 16.0
    MEETING_STATUS = 0x18 "MeetingStatus",
    ORGANIZER_EMAIL = 0x19 "OrganizerEmail",
    ORGANIZER_NAME = 0x1A "OrganizerName",
    RECURRENCE = 0x1B "Recurrence",
    TYPE = 0x1C "Type",
    UNTIL = 0x1D "Until",
    OCCURRENCES = 0x1E "Occurrences",
    INTERVAL = 0x1F "Interval",
    DAY_OF_WEEK = 0x20 "DayOfWeek",
    DAY_OF_MONTH = 0x21 "DayOfMonth",
    WEEK_OF_MONTH = 0x22 "WeekOfMonth",
    MONTH_OF_YEAR = 0x23 "MonthOfYear",
    REMINDER = 0x24 "Reminder",
    SENSITIVITY = 0x25 "Sensitivity",
    SUBJECT = 0x26 "Subject",
    START_TIME = 0x27 "StartTime",
    UID = 0x28 "UID",
    ATTENDEE_STATUS = 0x29 "AttendeeStatus",
    ATTENDEE_TYPE = 0x2A "AttendeeType",
    // 0x2B-0x32 (old attachment tokens and DisplayName) are not listed.
    DISALLOW_NEW_TIME_PROPOSAL = 0x33 "DisallowNewTimeProposal",
    RESPONSE_REQUESTED = 0x34 "ResponseRequested",
    APPOINTMENT_REPLY_TIME = 0x35 "AppointmentReplyTime",
    RESPONSE_TYPE = 0x36 "ResponseType",
    CALENDAR_TYPE = 0x37 "CalendarType",
    IS_LEAP_MONTH = 0x38 "IsLeapMonth",
    FIRST_DAY_OF_WEEK = 0x39 "FirstDayOfWeek",
    ONLINE_MEETING_CONF_LINK = 0x3A "OnlineMeetingConfLink",
    ONLINE_MEETING_EXTERNAL_LINK = 0x3B "OnlineMeetingExternalLink",
    CLIENT_UID = 0x3C "ClientUid",
});

codepage!(5, "Move", move_items {
    MOVE_ITEMS = 0x05 "MoveItems",
    MOVE = 0x06 "Move",
    SRC_MSG_ID = 0x07 "SrcMsgId",
    SRC_FLD_ID = 0x08 "SrcFldId",
    DST_FLD_ID = 0x09 "DstFldId",
    RESPONSE = 0x0A "Response",
    STATUS = 0x0B "Status",
    DST_MSG_ID = 0x0C "DstMsgId",
});

codepage!(6, "GetItemEstimate", get_item_estimate {
    GET_ITEM_ESTIMATE = 0x05 "GetItemEstimate",
    // 0x06 (Version) is not listed.
    COLLECTIONS = 0x07 "Collections",
    COLLECTION = 0x08 "Collection",
    CLASS = 0x09 "Class",
    COLLECTION_ID = 0x0A "CollectionId",
    // 0x0B (DateTime) is not listed.
    ESTIMATE = 0x0C "Estimate",
    RESPONSE = 0x0D "Response",
    STATUS = 0x0E "Status",
});

codepage!(7, "FolderHierarchy", folder_hierarchy {
    FOLDERS = 0x05 "Folders",
    FOLDER = 0x06 "Folder",
    DISPLAY_NAME = 0x07 "DisplayName",
    SERVER_ID = 0x08 "ServerId",
    PARENT_ID = 0x09 "ParentId",
    TYPE = 0x0A "Type",
    // 0x0B (Response) is not listed.
    STATUS = 0x0C "Status",
    // 0x0D (ContentClass) is not listed.
    CHANGES = 0x0E "Changes",
    ADD = 0x0F "Add",
    DELETE = 0x10 "Delete",
    UPDATE = 0x11 "Update",
    SYNC_KEY = 0x12 "SyncKey",
    FOLDER_CREATE = 0x13 "FolderCreate",
    FOLDER_DELETE = 0x14 "FolderDelete",
    FOLDER_UPDATE = 0x15 "FolderUpdate",
    FOLDER_SYNC = 0x16 "FolderSync",
    COUNT = 0x17 "Count",
});

codepage!(8, "MeetingResponse", meeting_response {
    CALENDAR_ID = 0x05 "CalendarId",
    COLLECTION_ID = 0x06 "CollectionId",
    MEETING_RESPONSE = 0x07 "MeetingResponse",
    REQUEST_ID = 0x08 "RequestId",
    REQUEST = 0x09 "Request",
    RESULT = 0x0A "Result",
    STATUS = 0x0B "Status",
    USER_RESPONSE = 0x0C "UserResponse",
    // 0x0D (Version) is not listed.
    INSTANCE_ID = 0x0E "InstanceId",
    // 0x0F is not listed.
    PROPOSED_START_TIME = 0x10 "ProposedStartTime",
    PROPOSED_END_TIME = 0x11 "ProposedEndTime",
    SEND_RESPONSE = 0x12 "SendResponse",
});

codepage!(9, "Tasks", tasks {
    BODY = 0x05 "Body",                    // 2.5 only; airsyncbase::BODY since 12.0
    BODY_SIZE = 0x06 "BodySize",           // 2.5 only
    BODY_TRUNCATED = 0x07 "BodyTruncated", // 2.5 only
    CATEGORIES = 0x08 "Categories",
    CATEGORY = 0x09 "Category",
    COMPLETE = 0x0A "Complete",
    DATE_COMPLETED = 0x0B "DateCompleted",
    DUE_DATE = 0x0C "DueDate",
    UTC_DUE_DATE = 0x0D "UtcDueDate",
    IMPORTANCE = 0x0E "Importance",
    RECURRENCE = 0x0F "Recurrence",
    TYPE = 0x10 "Type",
    START = 0x11 "Start",
    UNTIL = 0x12 "Until",
    OCCURRENCES = 0x13 "Occurrences",
    INTERVAL = 0x14 "Interval",
    DAY_OF_MONTH = 0x15 "DayOfMonth",
    DAY_OF_WEEK = 0x16 "DayOfWeek",
    WEEK_OF_MONTH = 0x17 "WeekOfMonth",
    MONTH_OF_YEAR = 0x18 "MonthOfYear",
    REGENERATE = 0x19 "Regenerate",
    DEAD_OCCUR = 0x1A "DeadOccur",
    REMINDER_SET = 0x1B "ReminderSet",
    REMINDER_TIME = 0x1C "ReminderTime",
    SENSITIVITY = 0x1D "Sensitivity",
    START_DATE = 0x1E "StartDate",
    UTC_START_DATE = 0x1F "UtcStartDate",
    SUBJECT = 0x20 "Subject",
    // 0x21 (CompressedRTF, 2.5) is not listed.
    ORDINAL_DATE = 0x22 "OrdinalDate",
    SUB_ORDINAL_DATE = 0x23 "SubOrdinalDate",
    CALENDAR_TYPE = 0x24 "CalendarType",
    IS_LEAP_MONTH = 0x25 "IsLeapMonth",
    FIRST_DAY_OF_WEEK = 0x26 "FirstDayOfWeek",
});

codepage!(10, "ResolveRecipients", resolve_recipients {
    RESOLVE_RECIPIENTS = 0x05 "ResolveRecipients",
    RESPONSE = 0x06 "Response",
    STATUS = 0x07 "Status",
    TYPE = 0x08 "Type",
    RECIPIENT = 0x09 "Recipient",
    DISPLAY_NAME = 0x0A "DisplayName",
    EMAIL_ADDRESS = 0x0B "EmailAddress",
    CERTIFICATES = 0x0C "Certificates",
    CERTIFICATE = 0x0D "Certificate",
    MINI_CERTIFICATE = 0x0E "MiniCertificate",
    OPTIONS = 0x0F "Options",
    TO = 0x10 "To",
    CERTIFICATE_RETRIEVAL = 0x11 "CertificateRetrieval",
    RECIPIENT_COUNT = 0x12 "RecipientCount",
    MAX_CERTIFICATES = 0x13 "MaxCertificates",
    MAX_AMBIGUOUS_RECIPIENTS = 0x14 "MaxAmbiguousRecipients",
    CERTIFICATE_COUNT = 0x15 "CertificateCount",
    AVAILABILITY = 0x16 "Availability",
    START_TIME = 0x17 "StartTime",
    END_TIME = 0x18 "EndTime",
    MERGED_FREE_BUSY = 0x19 "MergedFreeBusy",
    PICTURE = 0x1A "Picture",
    MAX_SIZE = 0x1B "MaxSize",
    DATA = 0x1C "Data",
    MAX_PICTURES = 0x1D "MaxPictures",
});

codepage!(11, "ValidateCert", validate_cert {
    VALIDATE_CERT = 0x05 "ValidateCert",
    CERTIFICATES = 0x06 "Certificates",
    CERTIFICATE = 0x07 "Certificate",
    CERTIFICATE_CHAIN = 0x08 "CertificateChain",
    CHECK_CRL = 0x09 "CheckCRL",
    STATUS = 0x0A "Status",
});

codepage!(12, "Contacts2", contacts2 {
    CUSTOMER_ID = 0x05 "CustomerId",
    GOVERNMENT_ID = 0x06 "GovernmentId",
    IM_ADDRESS = 0x07 "IMAddress",
    IM_ADDRESS2 = 0x08 "IMAddress2",
    IM_ADDRESS3 = 0x09 "IMAddress3",
    MANAGER_NAME = 0x0A "ManagerName",
    COMPANY_MAIN_PHONE = 0x0B "CompanyMainPhone",
    ACCOUNT_NAME = 0x0C "AccountName",
    NICK_NAME = 0x0D "NickName",
    MMS = 0x0E "MMS",
});

codepage!(13, "Ping", ping {
    PING = 0x05 "Ping",
    // 0x06 (AutdState) is not used by the protocol.
    STATUS = 0x07 "Status",
    HEARTBEAT_INTERVAL = 0x08 "HeartbeatInterval",
    FOLDERS = 0x09 "Folders",
    FOLDER = 0x0A "Folder",
    ID = 0x0B "Id",
    CLASS = 0x0C "Class",
    MAX_FOLDERS = 0x0D "MaxFolders",
});

codepage!(14, "Provision", provision {
    PROVISION = 0x05 "Provision",
    POLICIES = 0x06 "Policies",
    POLICY = 0x07 "Policy",
    POLICY_TYPE = 0x08 "PolicyType",
    POLICY_KEY = 0x09 "PolicyKey",
    DATA = 0x0A "Data",
    STATUS = 0x0B "Status",
    REMOTE_WIPE = 0x0C "RemoteWipe",
    EAS_PROVISION_DOC = 0x0D "EASProvisionDoc",
    DEVICE_PASSWORD_ENABLED = 0x0E "DevicePasswordEnabled",
    ALPHANUMERIC_DEVICE_PASSWORD_REQUIRED = 0x0F "AlphanumericDevicePasswordRequired",
    REQUIRE_STORAGE_CARD_ENCRYPTION = 0x10 "RequireStorageCardEncryption",
    PASSWORD_RECOVERY_ENABLED = 0x11 "PasswordRecoveryEnabled",
    // 0x12 (DocumentBrowseEnabled) is not listed.
    ATTACHMENTS_ENABLED = 0x13 "AttachmentsEnabled",
    MIN_DEVICE_PASSWORD_LENGTH = 0x14 "MinDevicePasswordLength",
    MAX_INACTIVITY_TIME_DEVICE_LOCK = 0x15 "MaxInactivityTimeDeviceLock",
    MAX_DEVICE_PASSWORD_FAILED_ATTEMPTS = 0x16 "MaxDevicePasswordFailedAttempts",
    MAX_ATTACHMENT_SIZE = 0x17 "MaxAttachmentSize",
    ALLOW_SIMPLE_DEVICE_PASSWORD = 0x18 "AllowSimpleDevicePassword",
    DEVICE_PASSWORD_EXPIRATION = 0x19 "DevicePasswordExpiration",
    DEVICE_PASSWORD_HISTORY = 0x1A "DevicePasswordHistory",
    ALLOW_STORAGE_CARD = 0x1B "AllowStorageCard",
    ALLOW_CAMERA = 0x1C "AllowCamera",
    REQUIRE_DEVICE_ENCRYPTION = 0x1D "RequireDeviceEncryption",
    ALLOW_UNSIGNED_APPLICATIONS = 0x1E "AllowUnsignedApplications",
    ALLOW_UNSIGNED_INSTALLATION_PACKAGES = 0x1F "AllowUnsignedInstallationPackages",
    MIN_DEVICE_PASSWORD_COMPLEX_CHARACTERS = 0x20 "MinDevicePasswordComplexCharacters",
    ALLOW_WI_FI = 0x21 "AllowWiFi",
    ALLOW_TEXT_MESSAGING = 0x22 "AllowTextMessaging",
    ALLOW_POPIMAP_EMAIL = 0x23 "AllowPOPIMAPEmail",
    ALLOW_BLUETOOTH = 0x24 "AllowBluetooth",
    ALLOW_IR_DA = 0x25 "AllowIrDA",
    REQUIRE_MANUAL_SYNC_WHEN_ROAMING = 0x26 "RequireManualSyncWhenRoaming",
    ALLOW_DESKTOP_SYNC = 0x27 "AllowDesktopSync",
    MAX_CALENDAR_AGE_FILTER = 0x28 "MaxCalendarAgeFilter",
    ALLOW_HTML_EMAIL = 0x29 "AllowHTMLEmail",
    MAX_EMAIL_AGE_FILTER = 0x2A "MaxEmailAgeFilter",
    MAX_EMAIL_BODY_TRUNCATION_SIZE = 0x2B "MaxEmailBodyTruncationSize",
    MAX_EMAIL_HTML_BODY_TRUNCATION_SIZE = 0x2C "MaxEmailHTMLBodyTruncationSize",
    REQUIRE_SIGNED_SMIME_MESSAGES = 0x2D "RequireSignedSMIMEMessages",
    REQUIRE_ENCRYPTED_SMIME_MESSAGES = 0x2E "RequireEncryptedSMIMEMessages",
    REQUIRE_SIGNED_SMIME_ALGORITHM = 0x2F "RequireSignedSMIMEAlgorithm",
    REQUIRE_ENCRYPTION_SMIME_ALGORITHM = 0x30 "RequireEncryptionSMIMEAlgorithm",
    ALLOW_SMIME_ENCRYPTION_ALGORITHM_NEGOTIATION = 0x31 "AllowSMIMEEncryptionAlgorithmNegotiation",
    ALLOW_SMIME_SOFT_CERTS = 0x32 "AllowSMIMESoftCerts",
    ALLOW_BROWSER = 0x33 "AllowBrowser",
    ALLOW_CONSUMER_EMAIL = 0x34 "AllowConsumerEmail",
    ALLOW_REMOTE_DESKTOP = 0x35 "AllowRemoteDesktop",
    ALLOW_INTERNET_SHARING = 0x36 "AllowInternetSharing",
    UNAPPROVED_IN_ROM_APPLICATION_LIST = 0x37 "UnapprovedInROMApplicationList",
    APPLICATION_NAME = 0x38 "ApplicationName",
    APPROVED_APPLICATION_LIST = 0x39 "ApprovedApplicationList",
    HASH = 0x3A "Hash",
    ACCOUNT_ONLY_REMOTE_WIPE = 0x3B "AccountOnlyRemoteWipe",
});

codepage!(15, "Search", search {
    SEARCH = 0x05 "Search",
    // 0x06 (Stores) is not listed.
    STORE = 0x07 "Store",
    NAME_TAG = 0x08 "Name", // suffix: `NAME` is the page name constant
    QUERY = 0x09 "Query",
    OPTIONS = 0x0A "Options",
    RANGE = 0x0B "Range",
    STATUS = 0x0C "Status",
    RESPONSE = 0x0D "Response",
    RESULT = 0x0E "Result",
    PROPERTIES = 0x0F "Properties",
    TOTAL = 0x10 "Total",
    EQUAL_TO = 0x11 "EqualTo",
    VALUE = 0x12 "Value",
    AND = 0x13 "And",
    OR = 0x14 "Or",
    FREE_TEXT = 0x15 "FreeText",
    // 0x16 (SubstringOp) is not listed.
    DEEP_TRAVERSAL = 0x17 "DeepTraversal",
    LONG_ID = 0x18 "LongId",
    REBUILD_RESULTS = 0x19 "RebuildResults",
    LESS_THAN = 0x1A "LessThan",
    GREATER_THAN = 0x1B "GreaterThan",
    // 0x1C (Schema) and 0x1D (Supported) are not listed.
    USER_NAME = 0x1E "UserName",
    PASSWORD = 0x1F "Password",
    CONVERSATION_ID = 0x20 "ConversationId",
    PICTURE = 0x21 "Picture",
    MAX_SIZE = 0x22 "MaxSize",
    MAX_PICTURES = 0x23 "MaxPictures",
});

codepage!(16, "GAL", gal {
    DISPLAY_NAME = 0x05 "DisplayName",
    PHONE = 0x06 "Phone",
    OFFICE = 0x07 "Office",
    TITLE = 0x08 "Title",
    COMPANY = 0x09 "Company",
    ALIAS = 0x0A "Alias",
    FIRST_NAME = 0x0B "FirstName",
    LAST_NAME = 0x0C "LastName",
    HOME_PHONE = 0x0D "HomePhone",
    MOBILE_PHONE = 0x0E "MobilePhone",
    EMAIL_ADDRESS = 0x0F "EmailAddress",
    PICTURE = 0x10 "Picture",
    STATUS = 0x11 "Status",
    DATA = 0x12 "Data",
});

codepage!(17, "AirSyncBase", airsyncbase {
    BODY_PREFERENCE = 0x05 "BodyPreference",
    TYPE = 0x06 "Type",
    TRUNCATION_SIZE = 0x07 "TruncationSize",
    ALL_OR_NONE = 0x08 "AllOrNone",
    // 0x09 is not listed.
    BODY = 0x0A "Body",
    DATA = 0x0B "Data",
    ESTIMATED_DATA_SIZE = 0x0C "EstimatedDataSize",
    TRUNCATED = 0x0D "Truncated",
    ATTACHMENTS = 0x0E "Attachments",
    ATTACHMENT = 0x0F "Attachment",
    DISPLAY_NAME = 0x10 "DisplayName",
    FILE_REFERENCE = 0x11 "FileReference",
    METHOD = 0x12 "Method",
    CONTENT_ID = 0x13 "ContentId",
    CONTENT_LOCATION = 0x14 "ContentLocation",
    IS_INLINE = 0x15 "IsInline",
    NATIVE_BODY_TYPE = 0x16 "NativeBodyType",
    CONTENT_TYPE = 0x17 "ContentType",
    PREVIEW = 0x18 "Preview",
    BODY_PART_PREFERENCE = 0x19 "BodyPartPreference",
    BODY_PART = 0x1A "BodyPart",
    STATUS = 0x1B "Status",
    ADD = 0x1C "Add",
    DELETE = 0x1D "Delete",
    CLIENT_ID = 0x1E "ClientId",
    CONTENT = 0x1F "Content",
    LOCATION = 0x20 "Location",
    ANNOTATION = 0x21 "Annotation",
    STREET = 0x22 "Street",
    CITY = 0x23 "City",
    STATE = 0x24 "State",
    COUNTRY = 0x25 "Country",
    POSTAL_CODE = 0x26 "PostalCode",
    LATITUDE = 0x27 "Latitude",
    LONGITUDE = 0x28 "Longitude",
    ACCURACY = 0x29 "Accuracy",
    ALTITUDE = 0x2A "Altitude",
    ALTITUDE_ACCURACY = 0x2B "AltitudeAccuracy",
    LOCATION_URI = 0x2C "LocationUri",
    INSTANCE_ID = 0x2D "InstanceId",
});

codepage!(18, "Settings", settings {
    SETTINGS = 0x05 "Settings",
    STATUS = 0x06 "Status",
    GET = 0x07 "Get",
    SET = 0x08 "Set",
    OOF = 0x09 "Oof",
    OOF_STATE = 0x0A "OofState",
    START_TIME = 0x0B "StartTime",
    END_TIME = 0x0C "EndTime",
    OOF_MESSAGE = 0x0D "OofMessage",
    APPLIES_TO_INTERNAL = 0x0E "AppliesToInternal",
    APPLIES_TO_EXTERNAL_KNOWN = 0x0F "AppliesToExternalKnown",
    APPLIES_TO_EXTERNAL_UNKNOWN = 0x10 "AppliesToExternalUnknown",
    ENABLED = 0x11 "Enabled",
    REPLY_MESSAGE = 0x12 "ReplyMessage",
    BODY_TYPE = 0x13 "BodyType",
    DEVICE_PASSWORD = 0x14 "DevicePassword",
    PASSWORD = 0x15 "Password",
    DEVICE_INFORMATION = 0x16 "DeviceInformation",
    MODEL = 0x17 "Model",
    IMEI = 0x18 "IMEI",
    FRIENDLY_NAME = 0x19 "FriendlyName",
    OS = 0x1A "OS",
    OS_LANGUAGE = 0x1B "OSLanguage",
    PHONE_NUMBER = 0x1C "PhoneNumber",
    USER_INFORMATION = 0x1D "UserInformation",
    EMAIL_ADDRESSES = 0x1E "EmailAddresses",
    SMTP_ADDRESS = 0x1F "SMTPAddress",
    USER_AGENT = 0x20 "UserAgent",
    ENABLE_OUTBOUND_SMS = 0x21 "EnableOutboundSMS",
    MOBILE_OPERATOR = 0x22 "MobileOperator",
    PRIMARY_SMTP_ADDRESS = 0x23 "PrimarySmtpAddress",
    ACCOUNTS = 0x24 "Accounts",
    ACCOUNT = 0x25 "Account",
    ACCOUNT_ID = 0x26 "AccountId",
    ACCOUNT_NAME = 0x27 "AccountName",
    USER_DISPLAY_NAME = 0x28 "UserDisplayName",
    SEND_DISABLED = 0x29 "SendDisabled",
    // 0x2A is not listed.
    RIGHTS_MANAGEMENT_INFORMATION = 0x2B "RightsManagementInformation",
});

codepage!(19, "DocumentLibrary", document_library {
    LINK_ID = 0x05 "LinkId",
    DISPLAY_NAME = 0x06 "DisplayName",
    IS_FOLDER = 0x07 "IsFolder",
    CREATION_DATE = 0x08 "CreationDate",
    LAST_MODIFIED_DATE = 0x09 "LastModifiedDate",
    IS_HIDDEN = 0x0A "IsHidden",
    CONTENT_LENGTH = 0x0B "ContentLength",
    CONTENT_TYPE = 0x0C "ContentType",
});

codepage!(20, "ItemOperations", item_operations {
    ITEM_OPERATIONS = 0x05 "ItemOperations",
    FETCH = 0x06 "Fetch",
    STORE = 0x07 "Store",
    OPTIONS = 0x08 "Options",
    RANGE = 0x09 "Range",
    TOTAL = 0x0A "Total",
    PROPERTIES = 0x0B "Properties",
    DATA = 0x0C "Data",
    STATUS = 0x0D "Status",
    RESPONSE = 0x0E "Response",
    VERSION = 0x0F "Version",
    SCHEMA = 0x10 "Schema",
    PART = 0x11 "Part",
    EMPTY_FOLDER_CONTENTS = 0x12 "EmptyFolderContents",
    DELETE_SUB_FOLDERS = 0x13 "DeleteSubFolders",
    USER_NAME = 0x14 "UserName",
    PASSWORD = 0x15 "Password",
    MOVE = 0x16 "Move",
    DST_FLD_ID = 0x17 "DstFldId",
    CONVERSATION_ID = 0x18 "ConversationId",
    MOVE_ALWAYS = 0x19 "MoveAlways",
});

codepage!(21, "ComposeMail", compose_mail {
    SEND_MAIL = 0x05 "SendMail",
    SMART_FORWARD = 0x06 "SmartForward",
    SMART_REPLY = 0x07 "SmartReply",
    SAVE_IN_SENT_ITEMS = 0x08 "SaveInSentItems",
    REPLACE_MIME = 0x09 "ReplaceMime",
    // 0x0A is not listed.
    SOURCE = 0x0B "Source",
    FOLDER_ID = 0x0C "FolderId",
    ITEM_ID = 0x0D "ItemId",
    LONG_ID = 0x0E "LongId",
    INSTANCE_ID = 0x0F "InstanceId",
    MIME = 0x10 "Mime",
    CLIENT_ID = 0x11 "ClientId",
    STATUS = 0x12 "Status",
    ACCOUNT_ID = 0x13 "AccountId",
    // 0x14 is not listed.
    FORWARDEES = 0x15 "Forwardees",
    FORWARDEE = 0x16 "Forwardee",
    NAME_TAG = 0x17 "Name", // suffix: `NAME` is the page name constant
    EMAIL = 0x18 "Email",
});

codepage!(22, "Email2", email2 {
    UM_CALLER_ID = 0x05 "UmCallerID",
    UM_USER_NOTES = 0x06 "UmUserNotes",
    UM_ATT_DURATION = 0x07 "UmAttDuration",
    UM_ATT_ORDER = 0x08 "UmAttOrder",
    CONVERSATION_ID = 0x09 "ConversationId",
    CONVERSATION_INDEX = 0x0A "ConversationIndex",
    LAST_VERB_EXECUTED = 0x0B "LastVerbExecuted",
    LAST_VERB_EXECUTION_TIME = 0x0C "LastVerbExecutionTime",
    RECEIVED_AS_BCC = 0x0D "ReceivedAsBcc",
    SENDER = 0x0E "Sender",
    CALENDAR_TYPE = 0x0F "CalendarType",
    IS_LEAP_MONTH = 0x10 "IsLeapMonth",
    ACCOUNT_ID = 0x11 "AccountId",
    FIRST_DAY_OF_WEEK = 0x12 "FirstDayOfWeek",
    MEETING_MESSAGE_TYPE = 0x13 "MeetingMessageType",
    // 0x14 is not listed.
    IS_DRAFT = 0x15 "IsDraft",
    BCC = 0x16 "Bcc",
    SEND = 0x17 "Send",
});

codepage!(23, "Notes", notes {
    SUBJECT = 0x05 "Subject",
    MESSAGE_CLASS = 0x06 "MessageClass",
    LAST_MODIFIED_DATE = 0x07 "LastModifiedDate",
    CATEGORIES = 0x08 "Categories",
    CATEGORY = 0x09 "Category",
});

codepage!(24, "RightsManagement", rights_management {
    RIGHTS_MANAGEMENT_SUPPORT = 0x05 "RightsManagementSupport",
    RIGHTS_MANAGEMENT_TEMPLATES = 0x06 "RightsManagementTemplates",
    RIGHTS_MANAGEMENT_TEMPLATE = 0x07 "RightsManagementTemplate",
    RIGHTS_MANAGEMENT_LICENSE = 0x08 "RightsManagementLicense",
    EDIT_ALLOWED = 0x09 "EditAllowed",
    REPLY_ALLOWED = 0x0A "ReplyAllowed",
    REPLY_ALL_ALLOWED = 0x0B "ReplyAllAllowed",
    FORWARD_ALLOWED = 0x0C "ForwardAllowed",
    MODIFY_RECIPIENTS_ALLOWED = 0x0D "ModifyRecipientsAllowed",
    EXTRACT_ALLOWED = 0x0E "ExtractAllowed",
    PRINT_ALLOWED = 0x0F "PrintAllowed",
    EXPORT_ALLOWED = 0x10 "ExportAllowed",
    PROGRAMMATIC_ACCESS_ALLOWED = 0x11 "ProgrammaticAccessAllowed",
    OWNER = 0x12 "Owner",
    CONTENT_EXPIRY_DATE = 0x13 "ContentExpiryDate",
    TEMPLATE_ID = 0x14 "TemplateID",
    TEMPLATE_NAME = 0x15 "TemplateName",
    TEMPLATE_DESCRIPTION = 0x16 "TemplateDescription",
    CONTENT_OWNER = 0x17 "ContentOwner",
    REMOVE_RIGHTS_MANAGEMENT_PROTECTION = 0x18 "RemoveRightsManagementProtection",
});

codepage!(25, "Find", find {
    FIND = 0x05 "Find",
    SEARCH_ID = 0x06 "SearchId",
    EXECUTE_SEARCH = 0x07 "ExecuteSearch",
    MAIL_BOX_SEARCH_CRITERION = 0x08 "MailBoxSearchCriterion",
    QUERY = 0x09 "Query",
    STATUS = 0x0A "Status",
    FREE_TEXT = 0x0B "FreeText",
    OPTIONS = 0x0C "Options",
    RANGE = 0x0D "Range",
    DEEP_TRAVERSAL = 0x0E "DeepTraversal",
    // 0x0F and 0x10 are not listed.
    RESPONSE = 0x11 "Response",
    RESULT = 0x12 "Result",
    PROPERTIES = 0x13 "Properties",
    PREVIEW = 0x14 "Preview",
    HAS_ATTACHMENTS = 0x15 "HasAttachments",
    TOTAL = 0x16 "Total",
    DISPLAY_CC = 0x17 "DisplayCc",
    DISPLAY_BCC = 0x18 "DisplayBcc",
    GAL_SEARCH_CRITERION = 0x19 "GalSearchCriterion",
    // 0x1A-0x1F are not listed; the specification continues at 0x20.
    MAX_PICTURES = 0x20 "MaxPictures",
    MAX_SIZE = 0x21 "MaxSize",
    PICTURE = 0x22 "Picture",
});

/// All pages by number; index = page number.
pub const PAGES: &[(&str, &[(u8, &str)])] = &[
    (airsync::NAME, airsync::TAGS),
    (contacts::NAME, contacts::TAGS),
    (email::NAME, email::TAGS),
    (airnotify::NAME, airnotify::TAGS),
    (calendar::NAME, calendar::TAGS),
    (move_items::NAME, move_items::TAGS),
    (get_item_estimate::NAME, get_item_estimate::TAGS),
    (folder_hierarchy::NAME, folder_hierarchy::TAGS),
    (meeting_response::NAME, meeting_response::TAGS),
    (tasks::NAME, tasks::TAGS),
    (resolve_recipients::NAME, resolve_recipients::TAGS),
    (validate_cert::NAME, validate_cert::TAGS),
    (contacts2::NAME, contacts2::TAGS),
    (ping::NAME, ping::TAGS),
    (provision::NAME, provision::TAGS),
    (search::NAME, search::TAGS),
    (gal::NAME, gal::TAGS),
    (airsyncbase::NAME, airsyncbase::TAGS),
    (settings::NAME, settings::TAGS),
    (document_library::NAME, document_library::TAGS),
    (item_operations::NAME, item_operations::TAGS),
    (compose_mail::NAME, compose_mail::TAGS),
    (email2::NAME, email2::TAGS),
    (notes::NAME, notes::TAGS),
    (rights_management::NAME, rights_management::TAGS),
    (find::NAME, find::TAGS),
];

/// The page's specification name (`AirSync`, `Contacts`, …).
pub fn page_name(page: u8) -> Option<&'static str> {
    PAGES.get(usize::from(page)).map(|p| p.0)
}

/// The page number for a page name.
pub fn page_by_name(name: &str) -> Option<u8> {
    PAGES
        .iter()
        .position(|p| p.0 == name)
        .and_then(|i| u8::try_from(i).ok())
}

/// The element's specification name.
pub fn tag_name(tag: Tag) -> Option<&'static str> {
    let (_, tags) = PAGES.get(usize::from(tag.page))?;
    tags.iter().find(|t| t.0 == tag.token).map(|t| t.1)
}

/// The tag for a page number and element name.
pub fn tag_by_name(page: u8, name: &str) -> Option<Tag> {
    let (_, tags) = PAGES.get(usize::from(page))?;
    tags.iter()
        .find(|t| t.1 == name)
        .map(|t| Tag::new(page, t.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module's own view of itself: number, name, table.
    type Module = (u8, &'static str, &'static [(u8, &'static str)]);

    const MODULES: [Module; 26] = [
        (airsync::PAGE, airsync::NAME, airsync::TAGS),
        (contacts::PAGE, contacts::NAME, contacts::TAGS),
        (email::PAGE, email::NAME, email::TAGS),
        (airnotify::PAGE, airnotify::NAME, airnotify::TAGS),
        (calendar::PAGE, calendar::NAME, calendar::TAGS),
        (move_items::PAGE, move_items::NAME, move_items::TAGS),
        (
            get_item_estimate::PAGE,
            get_item_estimate::NAME,
            get_item_estimate::TAGS,
        ),
        (
            folder_hierarchy::PAGE,
            folder_hierarchy::NAME,
            folder_hierarchy::TAGS,
        ),
        (
            meeting_response::PAGE,
            meeting_response::NAME,
            meeting_response::TAGS,
        ),
        (tasks::PAGE, tasks::NAME, tasks::TAGS),
        (
            resolve_recipients::PAGE,
            resolve_recipients::NAME,
            resolve_recipients::TAGS,
        ),
        (
            validate_cert::PAGE,
            validate_cert::NAME,
            validate_cert::TAGS,
        ),
        (contacts2::PAGE, contacts2::NAME, contacts2::TAGS),
        (ping::PAGE, ping::NAME, ping::TAGS),
        (provision::PAGE, provision::NAME, provision::TAGS),
        (search::PAGE, search::NAME, search::TAGS),
        (gal::PAGE, gal::NAME, gal::TAGS),
        (airsyncbase::PAGE, airsyncbase::NAME, airsyncbase::TAGS),
        (settings::PAGE, settings::NAME, settings::TAGS),
        (
            document_library::PAGE,
            document_library::NAME,
            document_library::TAGS,
        ),
        (
            item_operations::PAGE,
            item_operations::NAME,
            item_operations::TAGS,
        ),
        (compose_mail::PAGE, compose_mail::NAME, compose_mail::TAGS),
        (email2::PAGE, email2::NAME, email2::TAGS),
        (notes::PAGE, notes::NAME, notes::TAGS),
        (
            rights_management::PAGE,
            rights_management::NAME,
            rights_management::TAGS,
        ),
        (find::PAGE, find::NAME, find::TAGS),
    ];

    #[test]
    fn every_page_sits_at_its_number() {
        assert_eq!(PAGES.len(), 26);
        for (i, (page, name, tags)) in MODULES.iter().enumerate() {
            assert_eq!(usize::from(*page), i, "{name} is listed out of order");
            let (listed_name, listed_tags) = PAGES[usize::from(*page)];
            assert_eq!(listed_name, *name, "PAGES[{page}]");
            assert_eq!(listed_tags, *tags, "PAGES[{page}] ({name})");
        }
    }

    #[test]
    fn page_names_are_the_specification_names() {
        let names: Vec<&str> = PAGES.iter().map(|p| p.0).collect();
        assert_eq!(
            names,
            [
                "AirSync",
                "Contacts",
                "Email",
                "AirNotify",
                "Calendar",
                "Move",
                "GetItemEstimate",
                "FolderHierarchy",
                "MeetingResponse",
                "Tasks",
                "ResolveRecipients",
                "ValidateCert",
                "Contacts2",
                "Ping",
                "Provision",
                "Search",
                "GAL",
                "AirSyncBase",
                "Settings",
                "DocumentLibrary",
                "ItemOperations",
                "ComposeMail",
                "Email2",
                "Notes",
                "RightsManagement",
                "Find",
            ]
        );
    }

    #[test]
    fn tokens_are_element_tokens_ascending_with_unique_names() {
        for (page, (name, tags)) in PAGES.iter().enumerate() {
            for t in tags.iter() {
                assert!(
                    (Tag::MIN_TOKEN..=Tag::MAX_TOKEN).contains(&t.0),
                    "{name}:{} has token 0x{:02X}",
                    t.1,
                    t.0
                );
                assert!(
                    !t.1.is_empty(),
                    "page {page} token 0x{:02X} has no name",
                    t.0
                );
            }
            for pair in tags.windows(2) {
                assert!(
                    pair[0].0 < pair[1].0,
                    "{name}: 0x{:02X} {} is not before 0x{:02X} {}",
                    pair[0].0,
                    pair[0].1,
                    pair[1].0,
                    pair[1].1
                );
            }
            for (i, a) in tags.iter().enumerate() {
                for b in &tags[i + 1..] {
                    assert_ne!(a.1, b.1, "{name} names {} twice", a.1);
                }
            }
        }
    }

    #[test]
    fn lookups_round_trip_for_every_entry() {
        for (page, (name, tags)) in PAGES.iter().enumerate() {
            let page = u8::try_from(page).unwrap();
            assert_eq!(page_name(page), Some(*name));
            assert_eq!(page_by_name(name), Some(page));
            for &(token, text) in tags.iter() {
                let tag = Tag::new(page, token);
                assert_eq!(tag_name(tag), Some(text), "{tag:?}");
                assert_eq!(tag.name(), Some(text));
                assert_eq!(tag_by_name(page, text), Some(tag), "{name}:{text}");
            }
        }
    }

    #[test]
    fn lookups_miss_cleanly() {
        assert_eq!(page_name(26), None);
        assert_eq!(page_name(u8::MAX), None);
        assert_eq!(page_by_name("POOMMAIL"), None);
        assert_eq!(page_by_name("airsync"), None);
        assert_eq!(tag_name(Tag::new(26, 0x05)), None);
        assert_eq!(tag_name(Tag::new(0, 0x11)), None); // retired AirSync Version
        assert_eq!(tag_name(Tag::new(25, 0x1A)), None); // gap in the Find page
        assert_eq!(tag_by_name(1, "Sync"), None);
        assert_eq!(tag_by_name(26, "Sync"), None);
    }

    #[test]
    fn token_counts_per_page() {
        let counts: Vec<usize> = PAGES.iter().map(|p| p.1.len()).collect();
        assert_eq!(
            counts,
            [
                34, 57, 58, 19, 47, 8, 8, 17, 12, 33, 25, 6, 10, 8, 54, 27, 14, 40, 38, 8, 21, 18,
                18, 5, 20, 22
            ]
        );
    }

    #[test]
    fn spot_checks_against_the_specification() {
        // Page 0 and the Sync basics.
        assert_eq!(airsync::SYNC, Tag::new(0, 0x05));
        assert_eq!(airsync::SYNC_KEY, Tag::new(0, 0x0B));
        assert_eq!(airsync::COLLECTION_ID, Tag::new(0, 0x12));
        assert_eq!(airsync::APPLICATION_DATA, Tag::new(0, 0x1D));
        assert_eq!(airsync::HEARTBEAT_INTERVAL, Tag::new(0, 0x29));
        // Contacts, Contacts2.
        assert_eq!(contacts::PICTURE, Tag::new(1, 0x3C));
        assert_eq!(contacts::EMAIL1_ADDRESS, Tag::new(1, 0x1B));
        assert_eq!(contacts::BUSINESS2_PHONE_NUMBER, Tag::new(1, 0x0C));
        assert_eq!(contacts::WEIGHTED_RANK, Tag::new(1, 0x3E));
        assert_eq!(contacts2::IM_ADDRESS, Tag::new(12, 0x07));
        assert_eq!(contacts2::MMS, Tag::new(12, 0x0E));
        // Email, Email2.
        assert_eq!(email::DATE_RECEIVED, Tag::new(2, 0x0F));
        assert_eq!(email::DT_STAMP, Tag::new(2, 0x1D));
        assert_eq!(email::FLAG, Tag::new(2, 0x3A));
        assert_eq!(email::DISALLOW_NEW_TIME_PROPOSAL, Tag::new(2, 0x3F));
        assert_eq!(email2::UM_CALLER_ID, Tag::new(22, 0x05));
        assert_eq!(email2::SEND, Tag::new(22, 0x17));
        // Calendar, including 16.0.
        assert_eq!(calendar::TIMEZONE, Tag::new(4, 0x05));
        assert_eq!(calendar::ALL_DAY_EVENT, Tag::new(4, 0x06));
        assert_eq!(calendar::NAME_TAG, Tag::new(4, 0x0A));
        assert_eq!(calendar::UID, Tag::new(4, 0x28));
        assert_eq!(calendar::CLIENT_UID, Tag::new(4, 0x3C));
        // AirSyncBase, including 16.0.
        assert_eq!(airsyncbase::BODY, Tag::new(17, 0x0A));
        assert_eq!(airsyncbase::DATA, Tag::new(17, 0x0B));
        assert_eq!(airsyncbase::LOCATION, Tag::new(17, 0x20));
        assert_eq!(airsyncbase::INSTANCE_ID, Tag::new(17, 0x2D));
        // Provision, Ping, FolderHierarchy, Settings.
        assert_eq!(provision::EAS_PROVISION_DOC, Tag::new(14, 0x0D));
        assert_eq!(provision::DEVICE_PASSWORD_ENABLED, Tag::new(14, 0x0E));
        assert_eq!(provision::ACCOUNT_ONLY_REMOTE_WIPE, Tag::new(14, 0x3B));
        assert_eq!(ping::HEARTBEAT_INTERVAL, Tag::new(13, 0x08));
        assert_eq!(ping::MAX_FOLDERS, Tag::new(13, 0x0D));
        assert_eq!(folder_hierarchy::FOLDER_SYNC, Tag::new(7, 0x16));
        assert_eq!(settings::RIGHTS_MANAGEMENT_INFORMATION, Tag::new(18, 0x2B));
        // MeetingResponse and ComposeMail 16.x additions.
        assert_eq!(meeting_response::SEND_RESPONSE, Tag::new(8, 0x12));
        assert_eq!(compose_mail::FORWARDEES, Tag::new(21, 0x15));
        assert_eq!(compose_mail::EMAIL, Tag::new(21, 0x18));
        // ResolveRecipients 14.x tail.
        assert_eq!(resolve_recipients::MAX_PICTURES, Tag::new(10, 0x1D));
        // Find (16.1), with its gaps at 0x0F-0x10 and 0x1A-0x1F.
        assert_eq!(find::FIND, Tag::new(25, 0x05));
        assert_eq!(find::MAIL_BOX_SEARCH_CRITERION, Tag::new(25, 0x08));
        assert_eq!(find::DEEP_TRAVERSAL, Tag::new(25, 0x0E));
        assert_eq!(find::RESPONSE, Tag::new(25, 0x11));
        assert_eq!(find::GAL_SEARCH_CRITERION, Tag::new(25, 0x19));
        assert_eq!(find::MAX_PICTURES, Tag::new(25, 0x20));
        assert_eq!(find::PICTURE, Tag::new(25, 0x22));
        // Names as the decoder shows them.
        assert_eq!(format!("{:?}", calendar::TIMEZONE), "Calendar:Timezone");
        assert_eq!(
            format!("{}", find::GAL_SEARCH_CRITERION),
            "Find:GalSearchCriterion"
        );
        assert_eq!(tag_by_name(17, "Body"), Some(airsyncbase::BODY));
        assert_eq!(
            tag_by_name(14, "EASProvisionDoc"),
            Some(provision::EAS_PROVISION_DOC)
        );
    }
}
