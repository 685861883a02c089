//! The EAS form of the domain items: what goes inside `AirSync:ApplicationData` (Sync),
//! `ItemOperations:Properties` and `Search:Properties`.
//!
//! Contacts follow [MS-ASCNTC], events [MS-ASCAL], tasks [MS-ASTASK], bodies [MS-ASAIRS].
//! Elements a client sends that the model does not hold are kept as [`OwnedElement`]s in
//! [`ApplicationData::unknown`] and written back unchanged, so that a round trip loses nothing.

pub mod body;
pub mod contact;
pub mod event;
pub mod recurrence;
pub mod task;

use super::{Error, ProtocolVersion};
use crate::model::{self, Item};
use crate::wbxml::{Element, Encoder, OwnedElement, airsync};

pub use body::BodyPreference;

/// Caps on what one item may carry.
pub mod caps {
    /// Elements kept opaque per item (unknown to the model).
    pub const MAX_UNKNOWN_ELEMENTS: u32 = 64;
}

/// The class of a folder's items ([MS-ASCMD] 2.2.3.27).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    Contacts,
    Calendar,
    Tasks,
    Email,
    Notes,
}

impl Class {
    pub const fn as_str(self) -> &'static str {
        match self {
            Class::Contacts => "Contacts",
            Class::Calendar => "Calendar",
            Class::Tasks => "Tasks",
            Class::Email => "Email",
            Class::Notes => "Notes",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        [
            Class::Contacts,
            Class::Calendar,
            Class::Tasks,
            Class::Email,
            Class::Notes,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// Client families whose quirks change how an item is written (EAS-NOTES §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientKind {
    #[default]
    Other,
    /// Gmail's Exchange client on Android 8+.
    Gmail,
    /// The AOSP Exchange client, Android 4–10.
    AndroidAosp,
    Samsung,
    Ios,
    WindowsPhone,
    BlackBerry,
}

impl ClientKind {
    /// The family of a client, from the request line's `DeviceType` ([MS-ASHTTP]
    /// 2.2.1.1.1.2.3) and the `User-Agent` header, as peers recognise them (Horde
    /// `Horde_ActiveSync_Device`): Gmail sends `Android-Mail/…`, the AOSP client
    /// `Android/<release>-EAS-…`, Samsung Email `SAMSUNG…` device types, iOS `iPhone`/`iPad`
    /// with `Apple-…` agents. Anything else is [`ClientKind::Other`].
    pub fn from_device(device_type: &str, user_agent: Option<&str>) -> ClientKind {
        let dt = device_type.trim().to_ascii_lowercase();
        let ua = user_agent.unwrap_or("").trim().to_ascii_lowercase();
        if ua.starts_with("android-mail") {
            ClientKind::Gmail
        } else if dt.starts_with("samsung") || ua.starts_with("samsung") {
            ClientKind::Samsung
        } else if ["iphone", "ipad", "ipod"].iter().any(|p| dt.starts_with(p))
            || ua.starts_with("apple-")
        {
            ClientKind::Ios
        } else if dt.starts_with("windowsphone") || dt.starts_with("wp") || ua.contains("msft-wp") {
            ClientKind::WindowsPhone
        } else if dt.starts_with("blackberry") || ua.contains("blackberry") {
            ClientKind::BlackBerry
        } else if dt.starts_with("android")
            && aosp_release(&ua).is_some_and(|r| (4..=10).contains(&r))
        {
            ClientKind::AndroidAosp
        } else {
            ClientKind::Other
        }
    }
}

/// The Android major release in an AOSP Exchange agent, `android/<release>-eas-<version>`.
fn aosp_release(ua: &str) -> Option<u8> {
    let rest = ua.strip_prefix("android/")?;
    if !rest.contains("-eas") {
        return None;
    }
    let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
    major.parse().ok()
}

/// What the encoder of an item needs to know about the request it answers.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub version: ProtocolVersion,
    /// The client's BodyPreference for this collection, if it sent one.
    pub body: Option<&'a BodyPreference>,
    pub client: ClientKind,
}

impl Context<'_> {
    pub fn new(version: ProtocolVersion) -> Context<'static> {
        Context {
            version,
            body: None,
            client: ClientKind::Other,
        }
    }
}

/// An item in EAS form: the model item plus what the client sent that the model lacks.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationData {
    pub item: Item,
    /// Elements unknown to the model, in the order the client sent them.
    pub unknown: Vec<OwnedElement>,
}

impl ApplicationData {
    pub fn new(item: Item) -> Self {
        ApplicationData {
            item,
            unknown: Vec::new(),
        }
    }

    /// Reads the children of an `ApplicationData` (or `Properties`) element of a folder of
    /// `class`.
    pub fn decode(e: &Element<'_>, class: Class, ctx: &Context<'_>) -> Result<Self, Error> {
        let mut unknown = Vec::new();
        let item = match class {
            Class::Contacts => Item::Contact(contact::decode(e, ctx, &mut unknown)?),
            Class::Calendar => Item::Event(event::decode(e, ctx, &mut unknown)?),
            Class::Tasks => Item::Task(task::decode(e, ctx, &mut unknown)?),
            Class::Email | Class::Notes => {
                return Err(Error::BadValue {
                    tag: e.tag,
                    why: "easbox holds no mail or notes",
                });
            }
        };
        super::de::cap(
            "unknown elements",
            unknown.len(),
            caps::MAX_UNKNOWN_ELEMENTS,
        )?;
        Ok(ApplicationData { item, unknown })
    }

    /// Writes the item's elements (without a wrapper), then the kept unknown ones.
    pub fn encode_children(&self, w: &mut Encoder<'_>, ctx: &Context<'_>) -> Result<(), Error> {
        match &self.item {
            Item::Contact(c) => contact::encode(c, w, ctx)?,
            Item::Event(ev) => event::encode(ev, w, ctx)?,
            Item::Task(t) => task::encode(t, w, ctx)?,
        }
        for u in &self.unknown {
            w.owned(u)?;
        }
        Ok(())
    }

    /// Writes `<ApplicationData>…</ApplicationData>`.
    pub fn encode(&self, w: &mut Encoder<'_>, ctx: &Context<'_>) -> Result<(), Error> {
        w.start(airsync::APPLICATION_DATA)?;
        self.encode_children(w, ctx)?;
        w.end()?;
        Ok(())
    }

    /// The class of folder this item belongs in.
    pub fn class(&self) -> Class {
        match self.item {
            model::Item::Contact(_) => Class::Contacts,
            model::Item::Event(_) => Class::Calendar,
            model::Item::Task(_) => Class::Tasks,
        }
    }
}
