//! [MS-ASCMD] 2.2.1.13 Ping: wait until a folder changes or the heartbeat ends.
//!
//! Response element order follows `PingResponse.xsd`: Status, Folders, MaxFolders,
//! HeartbeatInterval. Status codes: 2.2.3.177.11.

use crate::eas::items::Class;
use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de, en};
use crate::wbxml::{Element, Encoder, Tag, ping};

/// Most folders one Ping request or response may list when decoded. The server's own limit
/// (answered with [`PingStatus::TooManyFolders`] and MaxFolders) is lower; this cap only
/// keeps a hostile body from costing memory.
pub const MAX_FOLDERS: u32 = 1_000;

status_enum! {
    /// Ping status ([MS-ASCMD] 2.2.3.177.11).
    pub enum PingStatus with common {
        /// The heartbeat ended without changes; the client pings again.
        HeartbeatExpired = 1,
        /// Folders changed; the response lists them.
        ChangesOccurred = 2,
        /// The request lacks the heartbeat or folders and the server has none cached.
        MissingParameters = 3,
        /// The request is malformed.
        SyntaxError = 4,
        /// The heartbeat is out of range; the response's HeartbeatInterval gives the bound.
        InvalidHeartbeatInterval = 5,
        /// Too many folders; the response's MaxFolders gives the limit.
        TooManyFolders = 6,
        /// The hierarchy changed; the client runs FolderSync.
        FolderSyncRequired = 7,
        /// A server error; the client retries.
        ServerError = 8,
    }
}

/// One folder to watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingFolder {
    /// The folder's ServerId.
    pub id: String,
    pub class: Class,
}

/// A Ping request. Both parts are optional: the server keeps the last ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PingRequest {
    /// Seconds to wait.
    pub heartbeat_interval: Option<u32>,
    /// Empty when the request has no Folders element.
    pub folders: Vec<PingFolder>,
}

/// A Ping response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingResponse {
    pub status: PingStatus,
    /// Changed folders' ids, with [`PingStatus::ChangesOccurred`].
    pub folders: Vec<String>,
    /// With [`PingStatus::TooManyFolders`].
    pub max_folders: Option<u32>,
    /// The allowed bound, with [`PingStatus::InvalidHeartbeatInterval`].
    pub heartbeat_interval: Option<u32>,
}

impl PingResponse {
    /// A response with only a status.
    pub fn status(status: PingStatus) -> Self {
        PingResponse {
            status,
            folders: Vec::new(),
            max_folders: None,
            heartbeat_interval: None,
        }
    }
}

fn non_empty<'a>(e: &Element<'a>, tag: Tag) -> Result<&'a str, Error> {
    let s = de::req_text(e, tag)?;
    if s.is_empty() {
        return Err(Error::BadValue {
            tag,
            why: "empty folder id",
        });
    }
    Ok(s)
}

/// The `Folder` children of `Folders` (request and response alike), at most [`MAX_FOLDERS`];
/// none when `Folders` is absent.
fn decode_folders<T>(
    root: &Element<'_>,
    f: impl FnMut(&Element<'_>) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    match root.child(ping::FOLDERS) {
        Some(fs) => de::capped(
            fs.children_with(ping::FOLDER),
            "Ping folders",
            MAX_FOLDERS,
            f,
        ),
        None => Ok(Vec::new()),
    }
}

impl Codec for PingRequest {
    const ROOT: Tag = ping::PING;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let folders = decode_folders(root, |f| {
            let class = de::req_text(f, ping::CLASS)?;
            Ok(PingFolder {
                id: non_empty(f, ping::ID)?.to_owned(),
                class: Class::parse(class.trim()).ok_or(Error::BadValue {
                    tag: ping::CLASS,
                    why: "unknown folder class",
                })?,
            })
        })?;
        Ok(PingRequest {
            heartbeat_interval: de::opt_num(root, ping::HEARTBEAT_INTERVAL)?,
            folders,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        en::opt_leaf_int(w, ping::HEARTBEAT_INTERVAL, self.heartbeat_interval)?;
        if !self.folders.is_empty() {
            w.start(ping::FOLDERS)?;
            for f in &self.folders {
                w.start(ping::FOLDER)?;
                w.leaf(ping::ID, &f.id)?;
                w.leaf(ping::CLASS, f.class.as_str())?;
                w.end()?;
            }
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

impl Codec for PingResponse {
    const ROOT: Tag = ping::PING;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let folders = decode_folders(root, |f| Ok(de::text_of(f)?.to_owned()))?;
        Ok(PingResponse {
            status: PingStatus::req(root, ping::STATUS)?,
            folders,
            max_folders: de::opt_num(root, ping::MAX_FOLDERS)?,
            heartbeat_interval: de::opt_num(root, ping::HEARTBEAT_INTERVAL)?,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        w.leaf_int(ping::STATUS, self.status.as_u8())?;
        if !self.folders.is_empty() {
            w.start(ping::FOLDERS)?;
            for id in &self.folders {
                w.leaf(ping::FOLDER, id)?;
            }
            w.end()?;
        }
        en::opt_leaf_int(w, ping::MAX_FOLDERS, self.max_folders)?;
        en::opt_leaf_int(w, ping::HEARTBEAT_INTERVAL, self.heartbeat_interval)?;
        w.end()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::{from_wbxml, to_wbxml};
    use crate::wbxml::Limits;

    const V: ProtocolVersion = ProtocolVersion::V16_1;

    #[test]
    fn request_round_trip_and_empty_ping() {
        let r = PingRequest {
            heartbeat_interval: Some(480),
            folders: vec![
                PingFolder {
                    id: "2".into(),
                    class: Class::Contacts,
                },
                PingFolder {
                    id: "3".into(),
                    class: Class::Email,
                },
            ],
        };
        let b = to_wbxml(&r, V, 4096).unwrap();
        assert_eq!(from_wbxml::<PingRequest>(&b, V, Limits::DEFAULT), Ok(r));
        let empty = PingRequest::default();
        let b = to_wbxml(&empty, V, 4096).unwrap();
        assert_eq!(from_wbxml::<PingRequest>(&b, V, Limits::DEFAULT), Ok(empty));
    }

    #[test]
    fn response_round_trip() {
        for r in [
            PingResponse {
                folders: vec!["2".into(), "5".into()],
                ..PingResponse::status(PingStatus::ChangesOccurred)
            },
            PingResponse {
                heartbeat_interval: Some(60),
                ..PingResponse::status(PingStatus::InvalidHeartbeatInterval)
            },
            PingResponse {
                max_folders: Some(200),
                ..PingResponse::status(PingStatus::TooManyFolders)
            },
            PingResponse::status(PingStatus::Common(
                crate::eas::status::CommonStatus::DeviceNotProvisioned,
            )),
        ] {
            let b = to_wbxml(&r, V, 4096).unwrap();
            assert_eq!(from_wbxml::<PingResponse>(&b, V, Limits::DEFAULT), Ok(r));
        }
    }

    #[test]
    fn folder_caps() {
        let many = PingRequest {
            heartbeat_interval: None,
            folders: (0..=MAX_FOLDERS)
                .map(|i| PingFolder {
                    id: i.to_string(),
                    class: Class::Calendar,
                })
                .collect(),
        };
        let b = to_wbxml(&many, V, 1 << 20).unwrap();
        assert_eq!(
            from_wbxml::<PingRequest>(&b, V, Limits::DEFAULT),
            Err(Error::TooMany {
                what: "Ping folders",
                cap: MAX_FOLDERS
            })
        );
        let resp = PingResponse {
            folders: (0..=MAX_FOLDERS).map(|i| i.to_string()).collect(),
            ..PingResponse::status(PingStatus::ChangesOccurred)
        };
        let b = to_wbxml(&resp, V, 1 << 20).unwrap();
        assert!(matches!(
            from_wbxml::<PingResponse>(&b, V, Limits::DEFAULT),
            Err(Error::TooMany { .. })
        ));
        let ok = PingRequest {
            folders: many.folders[..MAX_FOLDERS as usize].to_vec(),
            heartbeat_interval: None,
        };
        let b = to_wbxml(&ok, V, 1 << 20).unwrap();
        assert!(from_wbxml::<PingRequest>(&b, V, Limits::DEFAULT).is_ok());
    }
}
