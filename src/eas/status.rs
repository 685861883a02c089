//! Status codes: the common codes every command may return ([MS-ASCMD] 2.2.2 "Common Status
//! Codes", 101–177) and the [`status_enum!`] macro the commands use for their own codes.
//!
//! A command's Status element carries either one of that command's codes (1–20 or so) or, from
//! protocol 12.1 on, one of the common codes. Command status enums built with
//! `status_enum!(… with common …)` therefore hold both, plus `Other(u8)` for a number neither
//! table defines, so that decoding a peer's reply never fails on a code we do not know.

/// Defines a status enum with explicit numbers; every command's status codes use it.
///
/// `pub enum X with common { A = 1, … }` adds `Common(CommonStatus)` for codes 101–177 and
/// `Other(u8)`; `pub enum X { A = 1, … }` adds only `Other(u8)`. Generated items: `NAMED`,
/// `as_u8`, `from_u8`, `name`, and the readers `read(e)`, `opt(parent, tag)`,
/// `req(parent, tag)` for a `Status` element.
///
/// `from_u8` is total: a named code wins, then a common one, then `Other`. `Other(n)` with a
/// named `n` encodes as `n` and decodes as the named variant; construct named variants instead.
///
/// Why total rather than failing on an unknown code (an earlier Sync-family macro rejected
/// them): a Status comes from a peer, and Microsoft adds codes in new protocol versions. A
/// client must still read a reply that carries a code it has never seen, and a server must not
/// reject a request over a status it only echoes; `Other(u8)` keeps the number so that nothing
/// is lost and it encodes back byte for byte. A missing or non-numeric Status stays an error.
/// The common codes are typed (`CommonStatus`) rather than a bare range of numbers, so that
/// callers match on names and the gaps in the table (157–159) land in `Other`.
///
/// Both public forms expand through the internal `@def` arm; the common form hands it the
/// `Common` variant and its match arms, so that the two forms cannot drift apart.
macro_rules! status_enum {
    (
        $(#[$m:meta])*
        pub enum $name:ident with common {
            $( $(#[$vm:meta])* $v:ident = $n:literal, )+
        }
    ) => {
        $crate::eas::status::status_enum! {
            @def [$(#[$m])*] $name { $( $(#[$vm])* $v = $n, )+ }
            variants {
                /// A common status code ([MS-ASCMD] 2.2.2).
                Common($crate::eas::status::CommonStatus),
            }
            as_u8 { $name::Common(c) => c.as_u8(), }
            name { $name::Common(c) => c.name(), }
            unnamed(n) {
                match $crate::eas::status::CommonStatus::from_u8(n) {
                    Some(c) => $name::Common(c),
                    None => $name::Other(n),
                }
            }
        }

        impl From<$crate::eas::status::CommonStatus> for $name {
            fn from(c: $crate::eas::status::CommonStatus) -> Self {
                $name::Common(c)
            }
        }
    };
    (
        $(#[$m:meta])*
        pub enum $name:ident {
            $( $(#[$vm:meta])* $v:ident = $n:literal, )+
        }
    ) => {
        $crate::eas::status::status_enum! {
            @def [$(#[$m])*] $name { $( $(#[$vm])* $v = $n, )+ }
            variants {}
            as_u8 {}
            name {}
            unnamed(n) { $name::Other(n) }
        }
    };
    (
        @def [$(#[$m:meta])*] $name:ident { $( $(#[$vm:meta])* $v:ident = $n:literal, )+ }
        variants { $($variants:tt)* }
        as_u8 { $($as_u8:tt)* }
        name { $($names:tt)* }
        unnamed($u:ident) { $($unnamed:tt)* }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vm])* $v, )+
            $($variants)*
            /// A code the specification does not define here, kept as received.
            Other(u8),
        }

        impl $name {
            /// The codes this command defines, in declaration order.
            pub const NAMED: &'static [$name] = &[$($name::$v,)+];

            /// The number sent on the wire.
            pub const fn as_u8(self) -> u8 {
                match self {
                    $( $name::$v => $n, )+
                    $($as_u8)*
                    $name::Other(n) => n,
                }
            }

            /// The status for a number; never fails.
            pub const fn from_u8($u: u8) -> Self {
                match $u {
                    $( $n => $name::$v, )+
                    _ => { $($unnamed)* }
                }
            }

            /// The variant's name (the common code's symbolic name for `Common`), for logs.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$v => stringify!($v), )+
                    $($names)*
                    $name::Other(_) => "Other",
                }
            }

            /// Reads a `Status` element: a number (else `BadValue`), any code accepted.
            pub fn read(e: &$crate::wbxml::Element<'_>) -> Result<Self, $crate::eas::Error> {
                Ok(Self::from_u8($crate::eas::de::num_of(e)?))
            }

            /// Reads an optional `Status` child of `parent`.
            pub fn opt(
                parent: &$crate::wbxml::Element<'_>,
                tag: $crate::wbxml::Tag,
            ) -> Result<Option<Self>, $crate::eas::Error> {
                parent.child(tag).map(Self::read).transpose()
            }

            /// Reads a required `Status` child of `parent` (`Missing` when absent).
            pub fn req(
                parent: &$crate::wbxml::Element<'_>,
                tag: $crate::wbxml::Tag,
            ) -> Result<Self, $crate::eas::Error> {
                Self::opt(parent, tag)?.ok_or($crate::eas::Error::Missing {
                    parent: parent.tag,
                    child: tag,
                })
            }
        }
    };
}

pub(crate) use status_enum;

macro_rules! common_status {
    ($( $(#[$vm:meta])* $v:ident = $n:literal, )+) => {
        /// The status codes common to all commands ([MS-ASCMD] 2.2.2), valid from protocol
        /// 12.1 on in the Status element of any command response. Names follow the
        /// specification's symbolic names, without their underscores (`IRM_TransientError` is
        /// `IrmTransientError`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum CommonStatus {
            $( $(#[$vm])* $v, )+
        }

        impl CommonStatus {
            /// Every common code, ascending.
            pub const ALL: &'static [CommonStatus] = &[$(CommonStatus::$v,)+];

            pub const fn as_u8(self) -> u8 {
                match self {
                    $( CommonStatus::$v => $n, )+
                }
            }

            /// The common status for a number, if the table defines it.
            pub const fn from_u8(n: u8) -> Option<CommonStatus> {
                match n {
                    $( $n => Some(CommonStatus::$v), )+
                    _ => None,
                }
            }

            /// The specification's symbolic name, for logs.
            pub const fn name(self) -> &'static str {
                match self {
                    $( CommonStatus::$v => stringify!($v), )+
                }
            }
        }
    };
}

common_status! {
    /// The body of the request is not valid (e.g. it is empty where a body is required).
    InvalidContent = 101,
    /// The WBXML of the request could not be decoded.
    InvalidWBXML = 102,
    /// The XML of the request does not follow the command's schema.
    InvalidXML = 103,
    /// A date or time in the request is malformed.
    InvalidDateTime = 104,
    /// The request holds a combination of ids that is not allowed.
    InvalidCombinationOfIDs = 105,
    /// An id in the request is malformed.
    InvalidIDs = 106,
    /// The MIME of a message is malformed.
    InvalidMIME = 107,
    /// The DeviceId is missing or malformed.
    DeviceIdMissingOrInvalid = 108,
    /// The DeviceType is missing or malformed.
    DeviceTypeMissingOrInvalid = 109,
    /// A server error; the client may retry.
    ServerError = 110,
    /// A transient server error; the client should retry later.
    ServerErrorRetryLater = 111,
    /// The server cannot read the user's directory entry.
    ActiveDirectoryAccessDenied = 112,
    /// The mailbox is over its quota.
    MailboxQuotaExceeded = 113,
    /// The mailbox server is offline.
    MailboxServerOffline = 114,
    /// The user's send quota is exhausted.
    SendQuotaExceeded = 115,
    /// A recipient could not be resolved.
    MessageRecipientUnresolved = 116,
    /// Replying to this message is not allowed.
    MessageReplyNotAllowed = 117,
    /// The message was already sent.
    MessagePreviouslySent = 118,
    /// The message has no recipient.
    MessageHasNoRecipient = 119,
    /// The message could not be submitted.
    MailSubmissionFailed = 120,
    /// The reply could not be sent.
    MessageReplyFailed = 121,
    /// An attachment is too large.
    AttachmentIsTooLarge = 122,
    /// The user has no mailbox.
    UserHasNoMailbox = 123,
    /// The request was anonymous.
    UserCannotBeAnonymous = 124,
    /// The user was not found.
    UserPrincipalCouldNotBeFound = 125,
    /// The user may not use ActiveSync.
    UserDisabledForSync = 126,
    /// The user's mailbox is on a server version that cannot sync.
    UserOnNewMailboxCannotSync = 127,
    /// The user's mailbox is on a legacy server that cannot sync.
    UserOnLegacyMailboxCannotSync = 128,
    /// This device is blocked for this user.
    DeviceIsBlockedForThisUser = 129,
    /// Access denied.
    AccessDenied = 130,
    /// The account is disabled.
    AccountDisabled = 131,
    /// The sync state was not found; the client should start over.
    SyncStateNotFound = 132,
    /// The sync state is locked by another request.
    SyncStateLocked = 133,
    /// The sync state is corrupt.
    SyncStateCorrupt = 134,
    /// The sync state already exists.
    SyncStateAlreadyExists = 135,
    /// The sync state has an unsupported version.
    SyncStateVersionInvalid = 136,
    /// The command is not supported.
    CommandNotSupported = 137,
    /// The command is not supported at this protocol version.
    VersionNotSupported = 138,
    /// The device cannot fully apply the policy and the server requires it.
    DeviceNotFullyProvisionable = 139,
    /// A remote wipe is requested; the client must provision.
    RemoteWipeRequested = 140,
    /// A legacy device cannot meet the strict policy.
    LegacyDeviceOnStrictPolicy = 141,
    /// The device is not provisioned; the client must provision (14.0+, instead of HTTP 449).
    DeviceNotProvisioned = 142,
    /// The policy changed; the client must provision again.
    PolicyRefresh = 143,
    /// The policy key is not the current one; the client must provision again.
    InvalidPolicyKey = 144,
    /// Externally managed devices are not allowed.
    ExternallyManagedDevicesNotAllowed = 145,
    /// Recurrences in meeting responses are not supported.
    NoRecurrenceInCalendar = 146,
    /// The item's class does not fit the folder.
    UnexpectedItemClass = 147,
    /// The remote server has no SSL.
    RemoteServerHasNoSSL = 148,
    /// A stored request is invalid.
    InvalidStoredRequest = 149,
    /// The item was not found.
    ItemNotFound = 150,
    /// Too many folders.
    TooManyFolders = 151,
    /// No folders were found.
    NoFoldersFound = 152,
    /// Items were lost after a move.
    ItemsLostAfterMove = 153,
    /// The move failed.
    FailureInMoveOperation = 154,
    /// A move is not allowed for a non-persistent move action.
    MoveCommandDisallowedForNonPersistentMoveAction = 155,
    /// The move's destination folder is invalid.
    MoveCommandInvalidDestinationFolder = 156,
    /// Too many recipients for an availability request.
    AvailabilityTooManyRecipients = 160,
    /// A distribution list is too large for an availability request.
    AvailabilityDLLimitReached = 161,
    /// A transient failure of an availability request.
    AvailabilityTransientFailure = 162,
    /// An availability request failed.
    AvailabilityFailure = 163,
    /// The BodyPartPreference type is not supported.
    BodyPartPreferenceTypeNotSupported = 164,
    /// The server requires DeviceInformation (Settings) before this command.
    DeviceInformationRequired = 165,
    /// The AccountId is invalid.
    InvalidAccountId = 166,
    /// Sending is disabled for the account.
    AccountSendDisabled = 167,
    /// IRM is disabled.
    IrmFeatureDisabled = 168,
    /// A transient IRM error.
    IrmTransientError = 169,
    /// A permanent IRM error.
    IrmPermanentError = 170,
    /// The IRM template id is invalid.
    IrmInvalidTemplateID = 171,
    /// The IRM operation is not permitted.
    IrmOperationNotPermitted = 172,
    /// The contact has no picture.
    NoPicture = 173,
    /// The picture is larger than the client's MaxSize.
    PictureTooLarge = 174,
    /// More pictures than the client's MaxPictures.
    PictureLimitReached = 175,
    /// The conversation is too large for BodyPart.
    BodyPartConversationTooLarge = 176,
    /// The user has reached the maximum number of devices.
    MaximumDevicesReached = 177,
}

#[cfg(test)]
mod tests {
    use super::*;

    status_enum! {
        /// A test status with common codes.
        pub enum TestStatus with common {
            Ok = 1,
            Bad = 2,
        }
    }

    status_enum! {
        pub enum PlainStatus {
            Ok = 1,
        }
    }

    #[test]
    fn common_codes_round_trip_and_ascend() {
        assert_eq!(CommonStatus::ALL.len(), 74);
        assert!(
            CommonStatus::ALL
                .windows(2)
                .all(|w| w[0].as_u8() < w[1].as_u8())
        );
        for &c in CommonStatus::ALL {
            assert_eq!(CommonStatus::from_u8(c.as_u8()), Some(c));
        }
        for n in (0..=100).chain(157..=159).chain(178..=255) {
            assert_eq!(CommonStatus::from_u8(n), None, "{n}");
        }
        assert_eq!(CommonStatus::DeviceNotProvisioned.as_u8(), 142);
        assert_eq!(CommonStatus::PolicyRefresh.as_u8(), 143);
        assert_eq!(CommonStatus::InvalidPolicyKey.as_u8(), 144);
        assert_eq!(
            CommonStatus::MaximumDevicesReached.name(),
            "MaximumDevicesReached"
        );
    }

    #[test]
    fn macro_prefers_named_then_common_then_other() {
        for n in 0..=255u8 {
            let s = TestStatus::from_u8(n);
            assert_eq!(s.as_u8(), n);
            let p = PlainStatus::from_u8(n);
            assert_eq!(p.as_u8(), n);
        }
        assert_eq!(TestStatus::from_u8(2), TestStatus::Bad);
        assert_eq!(
            TestStatus::from_u8(142),
            TestStatus::Common(CommonStatus::DeviceNotProvisioned)
        );
        assert_eq!(TestStatus::from_u8(99), TestStatus::Other(99));
        assert_eq!(PlainStatus::from_u8(142), PlainStatus::Other(142));
        assert_eq!(TestStatus::NAMED, &[TestStatus::Ok, TestStatus::Bad]);
        assert_eq!(PlainStatus::NAMED, &[PlainStatus::Ok]);
        assert_eq!(
            TestStatus::from(CommonStatus::ServerError),
            TestStatus::Common(CommonStatus::ServerError)
        );
    }

    #[test]
    fn names_for_logs() {
        assert_eq!(TestStatus::Bad.name(), "Bad");
        assert_eq!(TestStatus::from_u8(142).name(), "DeviceNotProvisioned");
        assert_eq!(TestStatus::Other(99).name(), "Other");
        assert_eq!(PlainStatus::Ok.name(), "Ok");
        assert_eq!(PlainStatus::Other(7).name(), "Other");
    }

    /// `<Sync><Status>{status}</Status></Sync>`, or no Status when `None`.
    fn sync_with_status(status: Option<&str>) -> Vec<u8> {
        use crate::wbxml::airsync;
        let mut buf = Vec::new();
        let mut w = crate::wbxml::Encoder::new(&mut buf, 256).unwrap();
        w.start(airsync::SYNC).unwrap();
        if let Some(s) = status {
            w.leaf(airsync::STATUS, s).unwrap();
        }
        w.end().unwrap();
        w.finish().unwrap();
        buf
    }

    #[test]
    fn readers_keep_unknown_codes_and_reject_bad_numbers() {
        use crate::eas::Error;
        use crate::wbxml::{Limits, airsync, parse};
        let read = |status: Option<&str>| {
            let bytes = sync_with_status(status);
            let root = parse(&bytes, Limits::DEFAULT).unwrap();
            (
                TestStatus::req(&root, airsync::STATUS),
                TestStatus::opt(&root, airsync::STATUS),
                PlainStatus::req(&root, airsync::STATUS),
            )
        };
        let (t, o, p) = read(Some("2"));
        assert_eq!(t.unwrap(), TestStatus::Bad);
        assert_eq!(o.unwrap(), Some(TestStatus::Bad));
        assert_eq!(p.unwrap(), PlainStatus::Other(2));
        // A code from a future protocol version is kept, not an error.
        let (t, _, p) = read(Some("99"));
        assert_eq!(t.unwrap(), TestStatus::Other(99));
        assert_eq!(p.unwrap(), PlainStatus::Other(99));
        let (t, _, _) = read(Some(" 142 "));
        assert_eq!(
            t.unwrap(),
            TestStatus::Common(CommonStatus::DeviceNotProvisioned)
        );
        let (t, o, p) = read(None);
        assert!(matches!(t, Err(Error::Missing { .. })), "{t:?}");
        assert_eq!(o.unwrap(), None);
        assert!(matches!(p, Err(Error::Missing { .. })));
        for bad in ["256", "x", "-1"] {
            let (t, o, p) = read(Some(bad));
            assert!(matches!(t, Err(Error::BadValue { .. })), "{bad}: {t:?}");
            assert!(matches!(o, Err(Error::BadValue { .. })), "{bad}");
            assert!(matches!(p, Err(Error::BadValue { .. })), "{bad}");
        }
    }
}
