//! [MS-ASCMD] 2.2.1.18 Settings: DeviceInformation Set, UserInformation Get, and enough of
//! Oof and DevicePassword to answer them with a status.
//!
//! The response's children are an `xs:all` in `SettingsResponse.xsd`; they are written in the
//! specification's order (Status, Oof, DevicePassword, DeviceInformation, UserInformation).
//! UserInformation has two shapes: EmailAddresses directly under Get before 14.1, and
//! Accounts/Account from 14.1 on (2.2.3.2, 2.2.3.53). Status codes: 2.2.3.177.15.
//!
//! [`DeviceInformation`] is also what a 14.1+ Provision request carries ([MS-ASPROV] 2.2.2.52).

use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de, en};
use crate::wbxml::{Element, Encoder, OwnedElement, Tag, settings as st};

/// Longest DeviceInformation value kept (`Settings.xsd`: DeviceInformationStringType,
/// maxLength 1024). Longer values are cut, not refused: refusing DeviceInformation broke
/// iPhone setup against Zimbra (EAS-NOTES §1.3).
pub const MAX_DEVICE_INFO_LEN: u32 = 1024;

/// Most Account elements in one UserInformation.
pub const MAX_ACCOUNTS: u32 = 64;

/// Most SMTPAddress elements in one EmailAddresses.
pub const MAX_EMAIL_ADDRESSES: u32 = 256;

status_enum! {
    /// Settings status, for the Settings element and for each of its parts
    /// ([MS-ASCMD] 2.2.3.177.15).
    pub enum SettingsStatus with common {
        Success = 1,
        ProtocolError = 2,
        AccessDenied = 3,
        ServerUnavailable = 4,
        InvalidArguments = 5,
        ConflictingArguments = 6,
        DeniedByPolicy = 7,
    }
}

/// Out-of-office states ([MS-ASCMD] 2.2.3.119).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OofState {
    Disabled = 0,
    Global = 1,
    TimeBased = 2,
}

impl OofState {
    pub fn from_u8(n: u8) -> Option<OofState> {
        [OofState::Disabled, OofState::Global, OofState::TimeBased]
            .into_iter()
            .find(|s| *s as u8 == n)
    }
}

/// What a client tells about itself ([MS-ASCMD] 2.2.3.45, the children of its Set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInformation {
    pub model: Option<String>,
    pub imei: Option<String>,
    pub friendly_name: Option<String>,
    pub os: Option<String>,
    pub os_language: Option<String>,
    pub phone_number: Option<String>,
    pub user_agent: Option<String>,
    pub enable_outbound_sms: Option<bool>,
    pub mobile_operator: Option<String>,
}

/// An Oof request, modelled only as far as needed to answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OofRequest {
    /// Get, with the body type the client wants the messages in (`TEXT`, `HTML`).
    Get { body_type: Option<String> },
    /// Set, kept as sent.
    Set(OwnedElement),
}

/// A Settings request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsRequest {
    pub oof: Option<OofRequest>,
    /// DevicePassword Set: the recovery password (empty clears it).
    pub device_password: Option<String>,
    /// DeviceInformation Set.
    pub device_information: Option<DeviceInformation>,
    /// UserInformation Get.
    pub user_information_get: bool,
}

/// One account of UserInformation. Before 14.1 only `email_addresses` of the first account
/// is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub user_display_name: Option<String>,
    pub send_disabled: Option<bool>,
    /// SMTPAddress elements.
    pub email_addresses: Vec<String>,
    /// PrimarySmtpAddress (14.1+).
    pub primary_smtp_address: Option<String>,
}

/// The UserInformation part of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInformationResponse {
    pub status: SettingsStatus,
    /// The Get result; `None` writes no Get (with an error status).
    pub accounts: Option<Vec<Account>>,
}

/// The Oof part of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OofResponse {
    pub status: SettingsStatus,
    /// Answers a Get with this state and no messages.
    pub state: Option<OofState>,
}

/// A Settings response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsResponse {
    pub status: SettingsStatus,
    pub oof: Option<OofResponse>,
    pub device_password: Option<SettingsStatus>,
    pub device_information: Option<SettingsStatus>,
    pub user_information: Option<UserInformationResponse>,
}

impl SettingsResponse {
    pub fn status(status: SettingsStatus) -> Self {
        SettingsResponse {
            status,
            oof: None,
            device_password: None,
            device_information: None,
            user_information: None,
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn cut(s: &str, max: u32) -> String {
    let max = max as usize;
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl DeviceInformation {
    /// Reads a `DeviceInformation` element (the `Set` inside it). One without a Set reads as
    /// empty rather than failing the command it came with.
    pub fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let Some(set) = e.child(st::SET) else {
            return Ok(DeviceInformation::default());
        };
        let s = |tag| -> Result<Option<String>, Error> {
            Ok(de::opt_text(set, tag)?.map(|t| cut(t, MAX_DEVICE_INFO_LEN)))
        };
        Ok(DeviceInformation {
            model: s(st::MODEL)?,
            imei: s(st::IMEI)?,
            friendly_name: s(st::FRIENDLY_NAME)?,
            os: s(st::OS)?,
            os_language: s(st::OS_LANGUAGE)?,
            phone_number: s(st::PHONE_NUMBER)?,
            user_agent: s(st::USER_AGENT)?,
            enable_outbound_sms: de::opt_bool(set, st::ENABLE_OUTBOUND_SMS)?,
            mobile_operator: s(st::MOBILE_OPERATOR)?,
        })
    }

    /// Writes `<DeviceInformation><Set>…</Set></DeviceInformation>`.
    pub fn encode(&self, w: &mut Encoder<'_>) -> Result<(), Error> {
        w.start(st::DEVICE_INFORMATION)?;
        w.start(st::SET)?;
        for (tag, v) in [
            (st::MODEL, &self.model),
            (st::IMEI, &self.imei),
            (st::FRIENDLY_NAME, &self.friendly_name),
            (st::OS, &self.os),
            (st::OS_LANGUAGE, &self.os_language),
            (st::PHONE_NUMBER, &self.phone_number),
            (st::USER_AGENT, &self.user_agent),
        ] {
            if let Some(v) = v {
                w.leaf(tag, v)?;
            }
        }
        if let Some(b) = self.enable_outbound_sms {
            w.leaf(st::ENABLE_OUTBOUND_SMS, if b { "1" } else { "0" })?;
        }
        en::opt_leaf(w, st::MOBILE_OPERATOR, self.mobile_operator.as_deref())?;
        w.end()?;
        w.end()?;
        Ok(())
    }
}

/// Status child of a response part; also accepts it inside a `Set` or `Get`, where some
/// servers put it (libwbxml's `activesync-005` vector).
pub(crate) fn part_status(e: &Element<'_>) -> Result<SettingsStatus, Error> {
    let inner = e.child(st::SET).or_else(|| e.child(st::GET));
    match (SettingsStatus::opt(e, st::STATUS)?, inner) {
        (Some(s), _) => Ok(s),
        (None, Some(i)) => SettingsStatus::req(i, st::STATUS),
        (None, None) => Err(Error::Missing {
            parent: e.tag,
            child: st::STATUS,
        }),
    }
}

/// Writes `<tag><Status>n</Status></tag>`.
pub(crate) fn write_part_status(
    w: &mut Encoder<'_>,
    tag: Tag,
    s: SettingsStatus,
) -> Result<(), Error> {
    w.start(tag)?;
    w.leaf_int(st::STATUS, s.as_u8())?;
    w.end()?;
    Ok(())
}

fn decode_addresses(e: &Element<'_>, acc: &mut Account) -> Result<(), Error> {
    for a in e.children_with(st::SMTP_ADDRESS) {
        de::cap(
            "SMTP addresses",
            acc.email_addresses.len() + 1,
            MAX_EMAIL_ADDRESSES,
        )?;
        acc.email_addresses.push(de::text_of(a)?.to_owned());
    }
    acc.primary_smtp_address = de::opt_owned(e, st::PRIMARY_SMTP_ADDRESS)?;
    Ok(())
}

fn decode_user_information(e: &Element<'_>) -> Result<UserInformationResponse, Error> {
    let status = SettingsStatus::req(e, st::STATUS)?;
    let Some(get) = e.child(st::GET) else {
        return Ok(UserInformationResponse {
            status,
            accounts: None,
        });
    };
    let mut accounts = Vec::new();
    if let Some(list) = get.child(st::ACCOUNTS) {
        for a in list.children_with(st::ACCOUNT) {
            de::cap("accounts", accounts.len() + 1, MAX_ACCOUNTS)?;
            let mut acc = Account {
                account_id: de::opt_owned(a, st::ACCOUNT_ID)?,
                account_name: de::opt_owned(a, st::ACCOUNT_NAME)?,
                user_display_name: de::opt_owned(a, st::USER_DISPLAY_NAME)?,
                send_disabled: de::opt_bool(a, st::SEND_DISABLED)?,
                ..Account::default()
            };
            if let Some(ea) = a.child(st::EMAIL_ADDRESSES) {
                decode_addresses(ea, &mut acc)?;
            }
            accounts.push(acc);
        }
    } else if let Some(ea) = get.child(st::EMAIL_ADDRESSES) {
        let mut acc = Account::default();
        decode_addresses(ea, &mut acc)?;
        accounts.push(acc);
    }
    Ok(UserInformationResponse {
        status,
        accounts: Some(accounts),
    })
}

fn encode_addresses(w: &mut Encoder<'_>, acc: &Account, v: ProtocolVersion) -> Result<(), Error> {
    w.start(st::EMAIL_ADDRESSES)?;
    for a in &acc.email_addresses {
        w.leaf(st::SMTP_ADDRESS, a)?;
    }
    if v >= ProtocolVersion::V14_1
        && let Some(p) = &acc.primary_smtp_address
    {
        w.leaf(st::PRIMARY_SMTP_ADDRESS, p)?;
    }
    w.end()?;
    Ok(())
}

fn encode_user_information(
    w: &mut Encoder<'_>,
    u: &UserInformationResponse,
    v: ProtocolVersion,
) -> Result<(), Error> {
    w.start(st::USER_INFORMATION)?;
    w.leaf_int(st::STATUS, u.status.as_u8())?;
    if let Some(accounts) = &u.accounts {
        w.start(st::GET)?;
        if v >= ProtocolVersion::V14_1 {
            if !accounts.is_empty() {
                w.start(st::ACCOUNTS)?;
                for a in accounts {
                    w.start(st::ACCOUNT)?;
                    for (tag, val) in [
                        (st::ACCOUNT_ID, &a.account_id),
                        (st::ACCOUNT_NAME, &a.account_name),
                        (st::USER_DISPLAY_NAME, &a.user_display_name),
                    ] {
                        if let Some(val) = val {
                            w.leaf(tag, val)?;
                        }
                    }
                    if let Some(b) = a.send_disabled {
                        w.leaf(st::SEND_DISABLED, if b { "1" } else { "0" })?;
                    }
                    if !a.email_addresses.is_empty() || a.primary_smtp_address.is_some() {
                        encode_addresses(w, a, v)?;
                    }
                    w.end()?;
                }
                w.end()?;
            }
        } else if let Some(first) = accounts.first() {
            // Before 14.1 there is one mailbox and no account metadata.
            encode_addresses(w, first, v)?;
        }
        w.end()?;
    }
    w.end()?;
    Ok(())
}

impl Codec for SettingsRequest {
    const ROOT: Tag = st::SETTINGS;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let oof = match root.child(st::OOF) {
            None => None,
            Some(o) => Some(if let Some(g) = o.child(st::GET) {
                OofRequest::Get {
                    body_type: de::opt_owned(g, st::BODY_TYPE)?,
                }
            } else if let Some(s) = o.child(st::SET) {
                OofRequest::Set(s.to_owned_element())
            } else {
                return Err(Error::Missing {
                    parent: st::OOF,
                    child: st::GET,
                });
            }),
        };
        let device_password = match root.child(st::DEVICE_PASSWORD) {
            None => None,
            Some(d) => {
                let set = d.child(st::SET).ok_or(Error::Missing {
                    parent: st::DEVICE_PASSWORD,
                    child: st::SET,
                })?;
                Some(de::opt_text(set, st::PASSWORD)?.unwrap_or("").to_owned())
            }
        };
        let device_information = root
            .child(st::DEVICE_INFORMATION)
            .map(DeviceInformation::decode)
            .transpose()?;
        let user_information_get = root
            .child(st::USER_INFORMATION)
            .is_some_and(|u| de::flag(u, st::GET));
        Ok(SettingsRequest {
            oof,
            device_password,
            device_information,
            user_information_get,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        match &self.oof {
            None => {}
            Some(OofRequest::Get { body_type }) => {
                w.start(st::OOF)?;
                w.start(st::GET)?;
                if let Some(b) = body_type {
                    w.leaf(st::BODY_TYPE, b)?;
                }
                w.end()?;
                w.end()?;
            }
            Some(OofRequest::Set(set)) => {
                if set.tag != st::SET {
                    return Err(Error::Unencodable("an Oof Set must be a Set element"));
                }
                w.start(st::OOF)?;
                w.owned(set)?;
                w.end()?;
            }
        }
        if let Some(p) = &self.device_password {
            w.start(st::DEVICE_PASSWORD)?;
            w.start(st::SET)?;
            w.leaf(st::PASSWORD, p)?;
            w.end()?;
            w.end()?;
        }
        if let Some(d) = &self.device_information {
            d.encode(w)?;
        }
        if self.user_information_get {
            w.start(st::USER_INFORMATION)?;
            w.empty(st::GET)?;
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

impl Codec for SettingsResponse {
    const ROOT: Tag = st::SETTINGS;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let oof = match root.child(st::OOF) {
            None => None,
            Some(o) => {
                let state = match o.child(st::GET) {
                    None => None,
                    Some(g) => match de::opt_num::<u8>(g, st::OOF_STATE)? {
                        None => None,
                        Some(n) => Some(OofState::from_u8(n).ok_or(Error::BadValue {
                            tag: st::OOF_STATE,
                            why: "OOF state outside 0-2",
                        })?),
                    },
                };
                Some(OofResponse {
                    status: SettingsStatus::req(o, st::STATUS)?,
                    state,
                })
            }
        };
        Ok(SettingsResponse {
            status: SettingsStatus::req(root, st::STATUS)?,
            oof,
            device_password: root
                .child(st::DEVICE_PASSWORD)
                .map(part_status)
                .transpose()?,
            device_information: root
                .child(st::DEVICE_INFORMATION)
                .map(part_status)
                .transpose()?,
            user_information: root
                .child(st::USER_INFORMATION)
                .map(decode_user_information)
                .transpose()?,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        w.leaf_int(st::STATUS, self.status.as_u8())?;
        if let Some(o) = &self.oof {
            w.start(st::OOF)?;
            w.leaf_int(st::STATUS, o.status.as_u8())?;
            if let Some(s) = o.state {
                w.start(st::GET)?;
                w.leaf_int(st::OOF_STATE, s as u8)?;
                w.end()?;
            }
            w.end()?;
        }
        if let Some(s) = self.device_password {
            write_part_status(w, st::DEVICE_PASSWORD, s)?;
        }
        if let Some(s) = self.device_information {
            write_part_status(w, st::DEVICE_INFORMATION, s)?;
        }
        if let Some(u) = &self.user_information {
            encode_user_information(w, u, v)?;
        }
        w.end()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::{from_wbxml, to_wbxml};
    use crate::wbxml::{Limits, parse};

    fn rt<T: Codec + PartialEq + core::fmt::Debug>(x: &T, v: ProtocolVersion) {
        let b = to_wbxml(x, v, 1 << 16).unwrap();
        assert_eq!(&from_wbxml::<T>(&b, v, Limits::DEFAULT).unwrap(), x);
    }

    fn device() -> DeviceInformation {
        DeviceInformation {
            model: Some("Pixel 8".into()),
            imei: Some("490154203237518".into()),
            friendly_name: Some("Anna's phone".into()),
            os: Some("Android 14".into()),
            os_language: Some("Italian".into()),
            phone_number: Some("+39 02 1234567".into()),
            user_agent: Some("Android-Mail/2024.01".into()),
            enable_outbound_sms: Some(false),
            mobile_operator: Some("TIM".into()),
        }
    }

    #[test]
    fn request_round_trips() {
        for v in [ProtocolVersion::V14_1, ProtocolVersion::V16_1] {
            rt(
                &SettingsRequest {
                    device_information: Some(device()),
                    user_information_get: true,
                    ..SettingsRequest::default()
                },
                v,
            );
            rt(
                &SettingsRequest {
                    oof: Some(OofRequest::Get {
                        body_type: Some("TEXT".into()),
                    }),
                    device_password: Some("secret".into()),
                    ..SettingsRequest::default()
                },
                v,
            );
        }
    }

    #[test]
    fn oof_set_is_kept_as_sent() {
        let set = OwnedElement::new(st::SET).with(OwnedElement::leaf(st::OOF_STATE, "1"));
        rt(
            &SettingsRequest {
                oof: Some(OofRequest::Set(set)),
                ..SettingsRequest::default()
            },
            ProtocolVersion::V14_1,
        );
    }

    #[test]
    fn response_round_trips_per_version() {
        let acc = Account {
            account_id: Some("1".into()),
            account_name: Some("anna".into()),
            user_display_name: Some("Anna Rossi".into()),
            send_disabled: Some(true),
            email_addresses: vec!["anna@example.com".into(), "a.rossi@example.com".into()],
            primary_smtp_address: Some("anna@example.com".into()),
        };
        let full = SettingsResponse {
            oof: Some(OofResponse {
                status: SettingsStatus::Success,
                state: Some(OofState::Disabled),
            }),
            device_password: Some(SettingsStatus::DeniedByPolicy),
            device_information: Some(SettingsStatus::Success),
            user_information: Some(UserInformationResponse {
                status: SettingsStatus::Success,
                accounts: Some(vec![acc.clone()]),
            }),
            ..SettingsResponse::status(SettingsStatus::Success)
        };
        rt(&full, ProtocolVersion::V14_1);
        rt(&full, ProtocolVersion::V16_1);
        // Before 14.1 only the addresses survive.
        let only_addresses = Account {
            email_addresses: acc.email_addresses.clone(),
            ..Account::default()
        };
        let old = SettingsResponse {
            user_information: Some(UserInformationResponse {
                status: SettingsStatus::Success,
                accounts: Some(vec![only_addresses]),
            }),
            ..full.clone()
        };
        rt(&old, ProtocolVersion::V14_0);
        let b = to_wbxml(&full, ProtocolVersion::V14_0, 4096).unwrap();
        assert_eq!(
            from_wbxml::<SettingsResponse>(&b, ProtocolVersion::V14_0, Limits::DEFAULT),
            Ok(old)
        );
    }

    #[test]
    fn long_device_values_are_cut_on_char_boundary() {
        let d = DeviceInformation {
            model: Some("é".repeat(600)),
            ..DeviceInformation::default()
        };
        let b = to_wbxml(
            &SettingsRequest {
                device_information: Some(d),
                ..SettingsRequest::default()
            },
            ProtocolVersion::V14_1,
            1 << 16,
        )
        .unwrap();
        let r: SettingsRequest = from_wbxml(&b, ProtocolVersion::V14_1, Limits::DEFAULT).unwrap();
        let m = r.device_information.unwrap().model.unwrap();
        assert_eq!(m.len(), 1024);
        assert!(m.chars().all(|c| c == 'é'));
    }

    #[test]
    fn caps() {
        let acc = Account {
            email_addresses: (0..=MAX_EMAIL_ADDRESSES)
                .map(|i| format!("u{i}@example.com"))
                .collect(),
            ..Account::default()
        };
        let r = SettingsResponse {
            user_information: Some(UserInformationResponse {
                status: SettingsStatus::Success,
                accounts: Some(vec![acc]),
            }),
            ..SettingsResponse::status(SettingsStatus::Success)
        };
        let b = to_wbxml(&r, ProtocolVersion::V16_1, 1 << 20).unwrap();
        assert_eq!(
            from_wbxml::<SettingsResponse>(&b, ProtocolVersion::V16_1, Limits::DEFAULT),
            Err(Error::TooMany {
                what: "SMTP addresses",
                cap: MAX_EMAIL_ADDRESSES
            })
        );
        let r = SettingsResponse {
            user_information: Some(UserInformationResponse {
                status: SettingsStatus::Success,
                accounts: Some(vec![Account::default(); MAX_ACCOUNTS as usize + 1]),
            }),
            ..SettingsResponse::status(SettingsStatus::Success)
        };
        let b = to_wbxml(&r, ProtocolVersion::V16_1, 1 << 20).unwrap();
        assert_eq!(
            from_wbxml::<SettingsResponse>(&b, ProtocolVersion::V16_1, Limits::DEFAULT),
            Err(Error::TooMany {
                what: "accounts",
                cap: MAX_ACCOUNTS
            })
        );
    }

    #[test]
    fn status_inside_set_is_read() {
        // <Settings><Status>1</Status><DeviceInformation><Set><Status>2</Status></Set>
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1024).unwrap();
        w.start(st::SETTINGS).unwrap();
        w.leaf(st::STATUS, "1").unwrap();
        w.start(st::DEVICE_INFORMATION).unwrap();
        w.start(st::SET).unwrap();
        w.leaf(st::STATUS, "2").unwrap();
        w.end().unwrap();
        w.end().unwrap();
        w.end().unwrap();
        w.finish().unwrap();
        let root = parse(&out, Limits::DEFAULT).unwrap();
        let r = SettingsResponse::decode(&root, ProtocolVersion::V14_1).unwrap();
        assert_eq!(r.device_information, Some(SettingsStatus::ProtocolError));
    }
}
