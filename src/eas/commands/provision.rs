//! [MS-ASPROV] Provision (also [MS-ASCMD] 2.2.1.14): policy download, acknowledgement and
//! remote wipe.
//!
//! The exchange has two phases (MS-ASPROV 3.1.5.1):
//! 1. The client asks for the `MS-EAS-Provisioning-WBXML` policy, from 14.1 on with a
//!    `settings:DeviceInformation`; the server answers with a temporary PolicyKey and the
//!    EASProvisionDoc ([`Policy`]).
//! 2. The client acknowledges that key with a Policy Status; the server answers with the
//!    final key.
//!
//! A server may instead answer with `RemoteWipe` or (16.1) `AccountOnlyRemoteWipe`; the client
//! then acknowledges the wipe with a Status inside the same element.
//!
//! Response element order follows `ProvisionResponse.xsd` (DeviceInformation, Status,
//! Policies, RemoteWipe, AccountOnlyRemoteWipe) and the policy document `Provision.xsd`.
//! Status codes: MS-ASPROV 2.2.2.54.

use super::settings::{self, DeviceInformation, SettingsStatus};
use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de, en};
use crate::wbxml::{Element, Encoder, Tag, provision as pv, settings as st};

/// The policy type of every protocol version easbox speaks (MS-ASPROV 2.2.2.42).
pub const POLICY_TYPE_WBXML: &str = "MS-EAS-Provisioning-WBXML";

/// Most ApplicationName or Hash entries in one application list of a policy.
pub const MAX_APPLICATIONS: u32 = 256;

/// The MaxAttachmentSize of [`Policy::minimal`]: 100 MiB, a concrete number that Gmail
/// accepts (EAS-NOTES §3 row 12) and that fits the signed 32-bit integers clients parse
/// policy values into.
pub const MINIMAL_MAX_ATTACHMENT_SIZE: u32 = 100 * 1024 * 1024;

status_enum! {
    /// Provision status (MS-ASPROV 2.2.2.54.2); common codes 139, 141, 145 also occur
    /// (MS-ASPROV 3.1.5.2).
    pub enum ProvisionStatus with common {
        Success = 1,
        ProtocolError = 2,
        GeneralServerError = 3,
    }
}

status_enum! {
    /// Status of a Policy in a response (MS-ASPROV 2.2.2.54.1).
    pub enum PolicyStatus {
        Success = 1,
        /// There is no policy for this client.
        NoPolicy = 2,
        UnknownPolicyType = 3,
        /// The policy data on the server is corrupted.
        PolicyDataCorrupted = 4,
        /// The client acknowledges a policy key that is not the current one.
        WrongPolicyKey = 5,
    }
}

status_enum! {
    /// Status of a Policy in the client's acknowledgement (MS-ASPROV 2.2.2.54.1).
    pub enum PolicyAckStatus {
        /// The policy was applied.
        Success = 1,
        /// Partly applied (at least the PIN was enabled).
        PartialSuccess = 2,
        /// The policy was not applied at all.
        NotApplied = 3,
        /// The client claims to be provisioned by a third party.
        ExternallyManaged = 4,
    }
}

status_enum! {
    /// The client's report on a remote wipe (MS-ASPROV 2.2.2.54.3).
    pub enum RemoteWipeStatus {
        Success = 1,
        Failure = 2,
    }
}

/// The EASProvisionDoc settings (MS-ASPROV 2.2.2.27), in schema order. `None` leaves an
/// element out; an empty element is never written (EAS-NOTES §3 row 12) and an empty one
/// received reads as `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub device_password_enabled: Option<bool>,
    pub alphanumeric_device_password_required: Option<bool>,
    pub password_recovery_enabled: Option<bool>,
    /// Called DeviceEncryptionEnabled in 12.x (same token).
    pub require_storage_card_encryption: Option<bool>,
    pub attachments_enabled: Option<bool>,
    pub min_device_password_length: Option<u8>,
    /// Seconds.
    pub max_inactivity_time_device_lock: Option<u32>,
    pub max_device_password_failed_attempts: Option<u8>,
    /// Bytes.
    pub max_attachment_size: Option<u32>,
    pub allow_simple_device_password: Option<bool>,
    /// Days.
    pub device_password_expiration: Option<u32>,
    pub device_password_history: Option<u32>,
    pub allow_storage_card: Option<bool>,
    pub allow_camera: Option<bool>,
    pub require_device_encryption: Option<bool>,
    pub allow_unsigned_applications: Option<bool>,
    pub allow_unsigned_installation_packages: Option<bool>,
    pub min_device_password_complex_characters: Option<u8>,
    pub allow_wifi: Option<bool>,
    pub allow_text_messaging: Option<bool>,
    pub allow_pop_imap_email: Option<bool>,
    /// 0 disabled, 1 hands-free only, 2 allowed.
    pub allow_bluetooth: Option<u8>,
    pub allow_irda: Option<bool>,
    pub require_manual_sync_when_roaming: Option<bool>,
    pub allow_desktop_sync: Option<bool>,
    /// A calendar FilterType: 0 all, 4 two weeks, 5 one month, 6 three months, 7 six months.
    pub max_calendar_age_filter: Option<u8>,
    pub allow_html_email: Option<bool>,
    /// An email FilterType, 0–5.
    pub max_email_age_filter: Option<u8>,
    /// Bytes; -1 for no limit.
    pub max_email_body_truncation_size: Option<i32>,
    /// Bytes; -1 for no limit.
    pub max_email_html_body_truncation_size: Option<i32>,
    pub require_signed_smime_messages: Option<bool>,
    pub require_encrypted_smime_messages: Option<bool>,
    /// 0 SHA1, 1 MD5.
    pub require_signed_smime_algorithm: Option<u8>,
    /// 0 TripleDES, 1 DES, 2 RC2 128, 3 RC2 64, 4 RC2 40.
    pub require_encryption_smime_algorithm: Option<u8>,
    /// 0 strongest only, 1 strong only, 2 any.
    pub allow_smime_encryption_algorithm_negotiation: Option<u8>,
    pub allow_smime_soft_certs: Option<bool>,
    pub allow_browser: Option<bool>,
    pub allow_consumer_email: Option<bool>,
    pub allow_remote_desktop: Option<bool>,
    pub allow_internet_sharing: Option<bool>,
    /// ApplicationName entries; written only when not empty.
    pub unapproved_in_rom_application_list: Vec<String>,
    /// Hash entries; written only when not empty.
    pub approved_application_list: Vec<String>,
}

/// One value of the policy document.
#[derive(Clone, Copy)]
enum Val {
    Bool(Option<bool>),
    Num(Option<i64>),
}

macro_rules! policy_fields {
    ($( $field:ident : $kind:ident $ty:ty = $tag:ident, )+) => {
        impl Policy {
            /// Every scalar setting with its tag, in schema order.
            fn values(&self) -> [(Tag, Val); policy_fields!(@count $($field)+)] {
                [$( (pv::$tag, policy_fields!(@get $kind self.$field)), )+]
            }

            fn set(&mut self, tag: Tag, e: &Element<'_>) -> Result<bool, Error> {
                $(
                    if tag == pv::$tag {
                        self.$field = policy_fields!(@read $kind $ty, e)?;
                        return Ok(true);
                    }
                )+
                Ok(false)
            }
        }
    };
    (@count) => { 0 };
    (@count $x:ident $($rest:ident)*) => { 1 + policy_fields!(@count $($rest)*) };
    (@get bool $e:expr) => { Val::Bool($e) };
    (@get num $e:expr) => { Val::Num($e.map(i64::from)) };
    (@read bool $ty:ty, $e:expr) => { read_bool($e) };
    (@read num $ty:ty, $e:expr) => { read_num::<$ty>($e) };
}

policy_fields! {
    device_password_enabled: bool bool = DEVICE_PASSWORD_ENABLED,
    alphanumeric_device_password_required: bool bool = ALPHANUMERIC_DEVICE_PASSWORD_REQUIRED,
    password_recovery_enabled: bool bool = PASSWORD_RECOVERY_ENABLED,
    require_storage_card_encryption: bool bool = REQUIRE_STORAGE_CARD_ENCRYPTION,
    attachments_enabled: bool bool = ATTACHMENTS_ENABLED,
    min_device_password_length: num u8 = MIN_DEVICE_PASSWORD_LENGTH,
    max_inactivity_time_device_lock: num u32 = MAX_INACTIVITY_TIME_DEVICE_LOCK,
    max_device_password_failed_attempts: num u8 = MAX_DEVICE_PASSWORD_FAILED_ATTEMPTS,
    max_attachment_size: num u32 = MAX_ATTACHMENT_SIZE,
    allow_simple_device_password: bool bool = ALLOW_SIMPLE_DEVICE_PASSWORD,
    device_password_expiration: num u32 = DEVICE_PASSWORD_EXPIRATION,
    device_password_history: num u32 = DEVICE_PASSWORD_HISTORY,
    allow_storage_card: bool bool = ALLOW_STORAGE_CARD,
    allow_camera: bool bool = ALLOW_CAMERA,
    require_device_encryption: bool bool = REQUIRE_DEVICE_ENCRYPTION,
    allow_unsigned_applications: bool bool = ALLOW_UNSIGNED_APPLICATIONS,
    allow_unsigned_installation_packages: bool bool = ALLOW_UNSIGNED_INSTALLATION_PACKAGES,
    min_device_password_complex_characters: num u8 = MIN_DEVICE_PASSWORD_COMPLEX_CHARACTERS,
    allow_wifi: bool bool = ALLOW_WI_FI,
    allow_text_messaging: bool bool = ALLOW_TEXT_MESSAGING,
    allow_pop_imap_email: bool bool = ALLOW_POPIMAP_EMAIL,
    allow_bluetooth: num u8 = ALLOW_BLUETOOTH,
    allow_irda: bool bool = ALLOW_IR_DA,
    require_manual_sync_when_roaming: bool bool = REQUIRE_MANUAL_SYNC_WHEN_ROAMING,
    allow_desktop_sync: bool bool = ALLOW_DESKTOP_SYNC,
    max_calendar_age_filter: num u8 = MAX_CALENDAR_AGE_FILTER,
    allow_html_email: bool bool = ALLOW_HTML_EMAIL,
    max_email_age_filter: num u8 = MAX_EMAIL_AGE_FILTER,
    max_email_body_truncation_size: num i32 = MAX_EMAIL_BODY_TRUNCATION_SIZE,
    max_email_html_body_truncation_size: num i32 = MAX_EMAIL_HTML_BODY_TRUNCATION_SIZE,
    require_signed_smime_messages: bool bool = REQUIRE_SIGNED_SMIME_MESSAGES,
    require_encrypted_smime_messages: bool bool = REQUIRE_ENCRYPTED_SMIME_MESSAGES,
    require_signed_smime_algorithm: num u8 = REQUIRE_SIGNED_SMIME_ALGORITHM,
    require_encryption_smime_algorithm: num u8 = REQUIRE_ENCRYPTION_SMIME_ALGORITHM,
    allow_smime_encryption_algorithm_negotiation: num u8 = ALLOW_SMIME_ENCRYPTION_ALGORITHM_NEGOTIATION,
    allow_smime_soft_certs: bool bool = ALLOW_SMIME_SOFT_CERTS,
    allow_browser: bool bool = ALLOW_BROWSER,
    allow_consumer_email: bool bool = ALLOW_CONSUMER_EMAIL,
    allow_remote_desktop: bool bool = ALLOW_REMOTE_DESKTOP,
    allow_internet_sharing: bool bool = ALLOW_INTERNET_SHARING,
}

/// An EAS boolean; `xs:boolean` also allows `true`/`false`. Empty reads as unset.
fn read_bool(e: &Element<'_>) -> Result<Option<bool>, Error> {
    match de::text_of(e)?.trim() {
        "" => Ok(None),
        "1" | "true" => Ok(Some(true)),
        "0" | "false" => Ok(Some(false)),
        _ => Err(Error::BadValue {
            tag: e.tag,
            why: "expected 0 or 1",
        }),
    }
}

/// A number; empty reads as unset ("no limit" in the schema's `unsignedIntOrEmpty`).
fn read_num<T: core::str::FromStr>(e: &Element<'_>) -> Result<Option<T>, Error> {
    if de::text_of(e)?.trim().is_empty() {
        return Ok(None);
    }
    de::num_of(e).map(Some)
}

impl Policy {
    /// A policy that requires nothing of the device, with every value concrete: no
    /// password, no encryption, everything allowed. Elements whose "no limit" form is empty
    /// (password length, lock time, failed attempts, expiration) are left out rather than
    /// sent empty, and MaxAttachmentSize is [`MINIMAL_MAX_ATTACHMENT_SIZE`] rather than empty
    /// or -1 (EAS-NOTES §3 row 12; -1 is invalid per `Provision.xsd`).
    pub fn minimal() -> Policy {
        Policy {
            device_password_enabled: Some(false),
            alphanumeric_device_password_required: Some(false),
            password_recovery_enabled: Some(false),
            require_storage_card_encryption: Some(false),
            attachments_enabled: Some(true),
            min_device_password_length: None,
            max_inactivity_time_device_lock: None,
            max_device_password_failed_attempts: None,
            max_attachment_size: Some(MINIMAL_MAX_ATTACHMENT_SIZE),
            allow_simple_device_password: Some(true),
            device_password_expiration: None,
            device_password_history: Some(0),
            allow_storage_card: Some(true),
            allow_camera: Some(true),
            require_device_encryption: Some(false),
            allow_unsigned_applications: Some(true),
            allow_unsigned_installation_packages: Some(true),
            min_device_password_complex_characters: Some(1),
            allow_wifi: Some(true),
            allow_text_messaging: Some(true),
            allow_pop_imap_email: Some(true),
            allow_bluetooth: Some(2),
            allow_irda: Some(true),
            require_manual_sync_when_roaming: Some(false),
            allow_desktop_sync: Some(true),
            max_calendar_age_filter: Some(0),
            allow_html_email: Some(true),
            max_email_age_filter: Some(0),
            max_email_body_truncation_size: Some(-1),
            max_email_html_body_truncation_size: Some(-1),
            require_signed_smime_messages: Some(false),
            require_encrypted_smime_messages: Some(false),
            require_signed_smime_algorithm: Some(0),
            require_encryption_smime_algorithm: Some(0),
            allow_smime_encryption_algorithm_negotiation: Some(2),
            allow_smime_soft_certs: Some(true),
            allow_browser: Some(true),
            allow_consumer_email: Some(true),
            allow_remote_desktop: Some(true),
            allow_internet_sharing: Some(true),
            unapproved_in_rom_application_list: Vec::new(),
            approved_application_list: Vec::new(),
        }
    }

    /// Reads an `EASProvisionDoc` element. Unknown settings are skipped.
    pub fn decode(e: &Element<'_>) -> Result<Policy, Error> {
        let mut p = Policy::default();
        for c in e.elements() {
            if p.set(c.tag, c)? {
                continue;
            }
            let (list, item, what) = if c.tag == pv::UNAPPROVED_IN_ROM_APPLICATION_LIST {
                (
                    &mut p.unapproved_in_rom_application_list,
                    pv::APPLICATION_NAME,
                    "unapproved applications",
                )
            } else if c.tag == pv::APPROVED_APPLICATION_LIST {
                (
                    &mut p.approved_application_list,
                    pv::HASH,
                    "approved applications",
                )
            } else {
                continue;
            };
            for a in c.children_with(item) {
                let s = de::text_of(a)?;
                if s.is_empty() {
                    continue;
                }
                de::cap(what, list.len() + 1, MAX_APPLICATIONS)?;
                list.push(s.to_owned());
            }
        }
        Ok(p)
    }

    /// Writes an `EASProvisionDoc` element. Refuses to write an empty document or an empty
    /// element: clients read those as settings they cannot meet.
    pub fn encode(&self, w: &mut Encoder<'_>) -> Result<(), Error> {
        let values = self.values();
        let any = values.iter().any(|(_, v)| match v {
            Val::Bool(b) => b.is_some(),
            Val::Num(n) => n.is_some(),
        }) || !self.unapproved_in_rom_application_list.is_empty()
            || !self.approved_application_list.is_empty();
        if !any {
            return Err(Error::Unencodable("empty policy document"));
        }
        w.start(pv::EAS_PROVISION_DOC)?;
        for (tag, v) in values {
            match v {
                Val::Bool(Some(b)) => w.leaf(tag, if b { "1" } else { "0" })?,
                Val::Num(Some(n)) => w.leaf_int(tag, n)?,
                Val::Bool(None) | Val::Num(None) => {}
            }
        }
        for (list, tag, item) in [
            (
                &self.unapproved_in_rom_application_list,
                pv::UNAPPROVED_IN_ROM_APPLICATION_LIST,
                pv::APPLICATION_NAME,
            ),
            (
                &self.approved_application_list,
                pv::APPROVED_APPLICATION_LIST,
                pv::HASH,
            ),
        ] {
            if list.is_empty() {
                continue;
            }
            w.start(tag)?;
            for a in list {
                if a.is_empty() {
                    return Err(Error::Unencodable("empty application entry in policy"));
                }
                w.leaf(item, a)?;
            }
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

/// The Policy of a request: a download request (no key, no status) or an acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRequest {
    /// [`POLICY_TYPE_WBXML`].
    pub policy_type: String,
    /// The temporary key being acknowledged.
    pub policy_key: Option<u32>,
    /// How applying the policy went.
    pub status: Option<PolicyAckStatus>,
}

impl PolicyRequest {
    /// The first phase: ask for the policy.
    pub fn download() -> Self {
        PolicyRequest {
            policy_type: POLICY_TYPE_WBXML.to_owned(),
            policy_key: None,
            status: None,
        }
    }

    /// The second phase: acknowledge `key`.
    pub fn acknowledge(key: u32, status: PolicyAckStatus) -> Self {
        PolicyRequest {
            policy_type: POLICY_TYPE_WBXML.to_owned(),
            policy_key: Some(key),
            status: Some(status),
        }
    }
}

/// A Provision request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProvisionRequest {
    /// 14.1+: what the device tells about itself.
    pub device_information: Option<DeviceInformation>,
    pub policy: Option<PolicyRequest>,
    /// Acknowledges a RemoteWipe directive.
    pub remote_wipe: Option<RemoteWipeStatus>,
    /// Acknowledges an AccountOnlyRemoteWipe directive (16.1).
    pub account_only_remote_wipe: Option<RemoteWipeStatus>,
}

/// The Policy of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyResponse {
    pub policy_type: String,
    pub status: PolicyStatus,
    /// The temporary key (first phase) or the final key (acknowledgement).
    pub policy_key: Option<u32>,
    /// The policy document, first phase only.
    pub data: Option<Policy>,
}

/// A Provision response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisionResponse {
    /// The status of the request's DeviceInformation (14.1+, when the client sent one).
    pub device_information: Option<SettingsStatus>,
    pub status: ProvisionStatus,
    pub policy: Option<PolicyResponse>,
    /// A remote wipe directive.
    pub remote_wipe: bool,
    /// An account-only remote wipe directive (16.1).
    pub account_only_remote_wipe: bool,
}

impl ProvisionResponse {
    /// A response with only a status.
    pub fn status(status: ProvisionStatus) -> Self {
        ProvisionResponse {
            device_information: None,
            status,
            policy: None,
            remote_wipe: false,
            account_only_remote_wipe: false,
        }
    }
}

fn parse_key(e: &Element<'_>) -> Result<Option<u32>, Error> {
    let Some(k) = e.child(pv::POLICY_KEY) else {
        return Ok(None);
    };
    de::num_of(k).map(Some)
}

fn wipe_ack(root: &Element<'_>, tag: Tag) -> Result<Option<RemoteWipeStatus>, Error> {
    root.child(tag)
        .map(|e| RemoteWipeStatus::req(e, pv::STATUS))
        .transpose()
}

fn check_14_1(v: ProtocolVersion) -> Result<(), Error> {
    if v < ProtocolVersion::V14_1 {
        return Err(Error::Unencodable(
            "DeviceInformation in Provision needs 14.1",
        ));
    }
    Ok(())
}

fn check_16_1(v: ProtocolVersion) -> Result<(), Error> {
    if v < ProtocolVersion::V16_1 {
        return Err(Error::Unencodable("AccountOnlyRemoteWipe needs 16.1"));
    }
    Ok(())
}

/// The single Policy inside Policies; the specification allows only one.
fn the_policy<'e, 'a>(root: &'e Element<'a>) -> Option<&'e Element<'a>> {
    root.child(pv::POLICIES).and_then(|p| p.child(pv::POLICY))
}

impl Codec for ProvisionRequest {
    const ROOT: Tag = pv::PROVISION;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let policy = match the_policy(root) {
            None => None,
            Some(p) => Some(PolicyRequest {
                policy_type: de::req_text(p, pv::POLICY_TYPE)?.trim().to_owned(),
                policy_key: parse_key(p)?,
                status: PolicyAckStatus::opt(p, pv::STATUS)?,
            }),
        };
        Ok(ProvisionRequest {
            device_information: root
                .child(st::DEVICE_INFORMATION)
                .map(DeviceInformation::decode)
                .transpose()?,
            policy,
            remote_wipe: wipe_ack(root, pv::REMOTE_WIPE)?,
            account_only_remote_wipe: wipe_ack(root, pv::ACCOUNT_ONLY_REMOTE_WIPE)?,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        if let Some(d) = &self.device_information {
            check_14_1(v)?;
            d.encode(w)?;
        }
        if let Some(p) = &self.policy {
            w.start(pv::POLICIES)?;
            w.start(pv::POLICY)?;
            w.leaf(pv::POLICY_TYPE, &p.policy_type)?;
            en::opt_leaf_int(w, pv::POLICY_KEY, p.policy_key)?;
            if let Some(s) = p.status {
                w.leaf_int(pv::STATUS, s.as_u8())?;
            }
            w.end()?;
            w.end()?;
        }
        if let Some(s) = self.remote_wipe {
            w.start(pv::REMOTE_WIPE)?;
            w.leaf_int(pv::STATUS, s.as_u8())?;
            w.end()?;
        }
        if let Some(s) = self.account_only_remote_wipe {
            check_16_1(v)?;
            w.start(pv::ACCOUNT_ONLY_REMOTE_WIPE)?;
            w.leaf_int(pv::STATUS, s.as_u8())?;
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

impl Codec for ProvisionResponse {
    const ROOT: Tag = pv::PROVISION;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let policy = match the_policy(root) {
            None => None,
            Some(p) => Some(PolicyResponse {
                policy_type: de::req_text(p, pv::POLICY_TYPE)?.trim().to_owned(),
                status: PolicyStatus::req(p, pv::STATUS)?,
                policy_key: parse_key(p)?,
                data: p
                    .child(pv::DATA)
                    .and_then(|d| d.child(pv::EAS_PROVISION_DOC))
                    .map(Policy::decode)
                    .transpose()?,
            }),
        };
        Ok(ProvisionResponse {
            device_information: root
                .child(st::DEVICE_INFORMATION)
                .map(settings::part_status)
                .transpose()?,
            status: ProvisionStatus::req(root, pv::STATUS)?,
            policy,
            remote_wipe: de::flag(root, pv::REMOTE_WIPE),
            account_only_remote_wipe: de::flag(root, pv::ACCOUNT_ONLY_REMOTE_WIPE),
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        if let Some(s) = self.device_information {
            check_14_1(v)?;
            settings::write_part_status(w, st::DEVICE_INFORMATION, s)?;
        }
        w.leaf_int(pv::STATUS, self.status.as_u8())?;
        if let Some(p) = &self.policy {
            w.start(pv::POLICIES)?;
            w.start(pv::POLICY)?;
            w.leaf(pv::POLICY_TYPE, &p.policy_type)?;
            w.leaf_int(pv::STATUS, p.status.as_u8())?;
            en::opt_leaf_int(w, pv::POLICY_KEY, p.policy_key)?;
            if let Some(doc) = &p.data {
                w.start(pv::DATA)?;
                doc.encode(w)?;
                w.end()?;
            }
            w.end()?;
            w.end()?;
        }
        if self.remote_wipe {
            w.empty(pv::REMOTE_WIPE)?;
        }
        if self.account_only_remote_wipe {
            check_16_1(v)?;
            w.empty(pv::ACCOUNT_ONLY_REMOTE_WIPE)?;
        }
        w.end()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::{from_wbxml, to_wbxml};
    use crate::wbxml::{Limits, parse, to_xml};

    fn rt<T: Codec + PartialEq + core::fmt::Debug>(x: &T, v: ProtocolVersion) {
        let b = to_wbxml(x, v, 1 << 16).unwrap();
        assert_eq!(&from_wbxml::<T>(&b, v, Limits::DEFAULT).unwrap(), x);
    }

    fn full_policy() -> Policy {
        Policy {
            min_device_password_length: Some(6),
            max_inactivity_time_device_lock: Some(900),
            max_device_password_failed_attempts: Some(8),
            device_password_expiration: Some(90),
            unapproved_in_rom_application_list: vec!["Solitaire".into()],
            approved_application_list: vec!["0A1B2C".into(), "3D4E5F".into()],
            ..Policy::minimal()
        }
    }

    #[test]
    fn minimal_policy_has_no_empty_element() {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 8192).unwrap();
        Policy::minimal().encode(&mut w).unwrap();
        w.finish().unwrap();
        let doc = parse(&out, Limits::DEFAULT).unwrap();
        assert!(doc.elements().count() >= 30);
        for e in doc.elements() {
            let t = e.text().unwrap_or("");
            assert!(!t.is_empty(), "{:?} is empty", e.tag);
        }
        let size = doc.child(pv::MAX_ATTACHMENT_SIZE).unwrap().text().unwrap();
        assert_eq!(size, MINIMAL_MAX_ATTACHMENT_SIZE.to_string());
        assert!(!to_xml(&doc).contains("-1</MaxAttachmentSize"));
    }

    #[test]
    fn empty_policy_and_entries_are_refused() {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 8192).unwrap();
        assert_eq!(
            Policy::default().encode(&mut w),
            Err(Error::Unencodable("empty policy document"))
        );
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 8192).unwrap();
        let p = Policy {
            approved_application_list: vec![String::new()],
            ..Policy::minimal()
        };
        assert!(p.encode(&mut w).is_err());
    }

    #[test]
    fn empty_elements_read_as_unset() {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 8192).unwrap();
        w.start(pv::EAS_PROVISION_DOC).unwrap();
        w.empty(pv::MAX_ATTACHMENT_SIZE).unwrap();
        w.empty(pv::DEVICE_PASSWORD_ENABLED).unwrap();
        w.leaf(pv::ALLOW_CAMERA, "true").unwrap();
        w.empty(pv::APPROVED_APPLICATION_LIST).unwrap();
        w.end().unwrap();
        w.finish().unwrap();
        let p = Policy::decode(&parse(&out, Limits::DEFAULT).unwrap()).unwrap();
        assert_eq!(
            p,
            Policy {
                allow_camera: Some(true),
                ..Policy::default()
            }
        );
    }

    #[test]
    fn application_list_cap() {
        let p = Policy {
            approved_application_list: (0..=MAX_APPLICATIONS).map(|i| format!("h{i}")).collect(),
            ..Policy::minimal()
        };
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1 << 20).unwrap();
        p.encode(&mut w).unwrap();
        w.finish().unwrap();
        assert_eq!(
            Policy::decode(&parse(&out, Limits::DEFAULT).unwrap()),
            Err(Error::TooMany {
                what: "approved applications",
                cap: MAX_APPLICATIONS
            })
        );
    }

    #[test]
    fn round_trips() {
        for v in [ProtocolVersion::V14_1, ProtocolVersion::V16_1] {
            rt(
                &ProvisionRequest {
                    policy: Some(PolicyRequest::download()),
                    ..ProvisionRequest::default()
                },
                v,
            );
            rt(
                &ProvisionRequest {
                    policy: Some(PolicyRequest::acknowledge(
                        3_000_000_000,
                        PolicyAckStatus::PartialSuccess,
                    )),
                    ..ProvisionRequest::default()
                },
                v,
            );
            rt(
                &ProvisionRequest {
                    remote_wipe: Some(RemoteWipeStatus::Success),
                    ..ProvisionRequest::default()
                },
                v,
            );
            rt(
                &ProvisionResponse {
                    device_information: Some(SettingsStatus::Success),
                    policy: Some(PolicyResponse {
                        policy_type: POLICY_TYPE_WBXML.into(),
                        status: PolicyStatus::Success,
                        policy_key: Some(1_686_474_474),
                        data: Some(full_policy()),
                    }),
                    ..ProvisionResponse::status(ProvisionStatus::Success)
                },
                v,
            );
            rt(
                &ProvisionResponse {
                    remote_wipe: true,
                    ..ProvisionResponse::status(ProvisionStatus::Success)
                },
                v,
            );
        }
        rt(
            &ProvisionResponse {
                account_only_remote_wipe: true,
                ..ProvisionResponse::status(ProvisionStatus::Success)
            },
            ProtocolVersion::V16_1,
        );
        rt(
            &ProvisionRequest {
                account_only_remote_wipe: Some(RemoteWipeStatus::Failure),
                ..ProvisionRequest::default()
            },
            ProtocolVersion::V16_1,
        );
    }

    #[test]
    fn device_information_needs_14_1() {
        let r = ProvisionRequest {
            device_information: Some(DeviceInformation::default()),
            policy: Some(PolicyRequest::download()),
            ..ProvisionRequest::default()
        };
        assert!(to_wbxml(&r, ProtocolVersion::V14_1, 1024).is_ok());
        assert!(matches!(
            to_wbxml(&r, ProtocolVersion::V14_0, 1024),
            Err(Error::Unencodable(_))
        ));
        let r = ProvisionResponse {
            device_information: Some(SettingsStatus::Success),
            ..ProvisionResponse::status(ProvisionStatus::Success)
        };
        assert!(matches!(
            to_wbxml(&r, ProtocolVersion::V12_1, 1024),
            Err(Error::Unencodable(_))
        ));
    }

    #[test]
    fn device_information_without_set_does_not_fail_provision() {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1024).unwrap();
        w.start(pv::PROVISION).unwrap();
        w.empty(st::DEVICE_INFORMATION).unwrap();
        w.start(pv::POLICIES).unwrap();
        w.start(pv::POLICY).unwrap();
        w.leaf(pv::POLICY_TYPE, POLICY_TYPE_WBXML).unwrap();
        w.end().unwrap();
        w.end().unwrap();
        w.end().unwrap();
        w.finish().unwrap();
        let r: ProvisionRequest =
            from_wbxml(&out, ProtocolVersion::V16_1, Limits::DEFAULT).unwrap();
        assert_eq!(r.device_information, Some(DeviceInformation::default()));
        assert_eq!(r.policy, Some(PolicyRequest::download()));
    }

    #[test]
    fn account_only_wipe_needs_16_1() {
        let r = ProvisionResponse {
            account_only_remote_wipe: true,
            ..ProvisionResponse::status(ProvisionStatus::Success)
        };
        assert!(matches!(
            to_wbxml(&r, ProtocolVersion::V16_0, 1024),
            Err(Error::Unencodable(_))
        ));
    }

    #[test]
    fn statuses() {
        assert_eq!(
            ProvisionStatus::from_u8(139),
            ProvisionStatus::Common(crate::eas::status::CommonStatus::DeviceNotFullyProvisionable)
        );
        assert_eq!(PolicyStatus::WrongPolicyKey.as_u8(), 5);
        assert_eq!(
            PolicyAckStatus::from_u8(4),
            PolicyAckStatus::ExternallyManaged
        );
        assert_eq!(RemoteWipeStatus::from_u8(9), RemoteWipeStatus::Other(9));
    }
}
