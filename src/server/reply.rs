//! The one place where errors become what a client sees: an HTTP code or a command's status
//! ([MS-ASCMD] 2.2.2 common status codes; each command's Status element).

use crate::eas::request::Command;
use crate::eas::{self, ProtocolVersion};
use crate::http::EasReply;
use crate::sync;
use crate::wbxml::{
    self, Encoder, Tag, airsync, folder_hierarchy, get_item_estimate, item_operations,
    meeting_response, move_items, ping, provision, search, settings,
};

/// Largest response body easbox writes; a Sync window is cut before it (EAS-NOTES §3 row 15).
pub const MAX_RESPONSE: usize = 8 * 1024 * 1024;

/// Common status: the device must provision (again) ([MS-ASCMD] 2.2.2, 142 DeviceNotProvisioned).
pub const DEVICE_NOT_PROVISIONED: u8 = 142;
/// Common status: the policy key is stale (143 PolicyRefresh).
pub const POLICY_REFRESH: u8 = 143;
/// Common status: the policy key is unknown (144 InvalidPolicyKey).
pub const INVALID_POLICY_KEY: u8 = 144;

/// What went wrong, in terms a client acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The body is not a well-formed request of the command.
    Protocol,
    /// The server failed (storage); the client retries later.
    Server,
    /// Provision first: 449 before 14.0, the given common status from 14.0 on.
    Provision(u8),
}

/// The command's root element and the Status element a status-only answer uses.
fn root_and_status(cmd: Command) -> Option<(Tag, Tag)> {
    Some(match cmd {
        Command::Sync => (airsync::SYNC, airsync::STATUS),
        Command::FolderSync => (folder_hierarchy::FOLDER_SYNC, folder_hierarchy::STATUS),
        Command::Ping => (ping::PING, ping::STATUS),
        Command::GetItemEstimate => (
            get_item_estimate::GET_ITEM_ESTIMATE,
            get_item_estimate::STATUS,
        ),
        Command::ItemOperations => (item_operations::ITEM_OPERATIONS, item_operations::STATUS),
        Command::MoveItems => (move_items::MOVE_ITEMS, move_items::STATUS),
        Command::Settings => (settings::SETTINGS, settings::STATUS),
        Command::Search => (search::SEARCH, search::STATUS),
        Command::MeetingResponse => (meeting_response::MEETING_RESPONSE, meeting_response::STATUS),
        Command::Provision => (provision::PROVISION, provision::STATUS),
        _ => return None,
    })
}

/// The command-specific code for a protocol error and a server error.
fn codes(cmd: Command) -> (u8, u8) {
    match cmd {
        Command::Sync => (4, 5),
        Command::FolderSync => (10, 6),
        Command::Ping => (4, 8),
        Command::GetItemEstimate => (2, 2),
        Command::ItemOperations => (2, 3),
        Command::MoveItems => (5, 5),
        Command::Settings => (2, 2),
        Command::Search => (2, 3),
        Command::MeetingResponse => (2, 3),
        Command::Provision => (2, 3),
        _ => (103, 110),
    }
}

/// `<Root><Status>n</Status></Root>`.
pub fn status_only(cmd: Command, status: u8) -> EasReply {
    let Some((root, tag)) = root_and_status(cmd) else {
        return EasReply::status(400);
    };
    let mut out = Vec::new();
    let written = Encoder::new(&mut out, 256).and_then(|mut w| {
        w.start(root)?;
        w.leaf_int(tag, status)?;
        w.end()?;
        w.finish()
    });
    match written {
        Ok(_) => EasReply::wbxml(out),
        Err(_) => EasReply::status(500),
    }
}

/// The reply for a failure of `cmd` at version `v`.
pub fn failure(cmd: Command, v: ProtocolVersion, f: Failure) -> EasReply {
    let (protocol, server) = codes(cmd);
    match f {
        Failure::Provision(_) if v < ProtocolVersion::V14_0 => EasReply::status(449),
        Failure::Provision(code) => status_only(cmd, code),
        Failure::Protocol => status_only(cmd, protocol),
        Failure::Server => status_only(cmd, server),
    }
}

/// A body that is not WBXML at all is a 400; a decodable one that breaks the command's rules
/// gets the command's protocol-error status.
pub fn eas_error(cmd: Command, v: ProtocolVersion, e: &eas::Error) -> EasReply {
    match e {
        eas::Error::Wbxml(
            wbxml::Error::Truncated
            | wbxml::Error::BadHeader(_)
            | wbxml::Error::BadUtf8
            | wbxml::Error::BadInteger
            | wbxml::Error::Unsupported(_)
            | wbxml::Error::Structure(_),
        ) => EasReply::status(400),
        _ => failure(cmd, v, Failure::Protocol),
    }
}

/// The reply for an engine error that ends the whole request.
pub fn sync_error(cmd: Command, v: ProtocolVersion, e: &sync::Error) -> EasReply {
    match e {
        sync::Error::Store(_) => failure(cmd, v, Failure::Server),
        sync::Error::Eas(e) => eas_error(cmd, v, e),
        sync::Error::UnknownFolderSyncKey => status_only(cmd, 9),
        sync::Error::UnknownFolder(_) => match cmd {
            Command::Ping => status_only(cmd, 7),
            _ => status_only(cmd, 12),
        },
        sync::Error::UnknownSyncKey => status_only(cmd, 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::Limits;

    fn status_of(r: &EasReply) -> (Tag, String) {
        let e = wbxml::parse(&r.body, Limits::DEFAULT).unwrap();
        let s = e.elements().next().unwrap();
        (e.tag, s.text().unwrap().to_owned())
    }

    #[test]
    fn provision_needed_is_449_before_14_and_142_after() {
        let old = failure(
            Command::Sync,
            ProtocolVersion::V12_1,
            Failure::Provision(142),
        );
        assert_eq!((old.status, old.body.len()), (449, 0));
        let new = failure(
            Command::FolderSync,
            ProtocolVersion::V14_1,
            Failure::Provision(142),
        );
        assert_eq!(new.status, 200);
        assert_eq!(
            status_of(&new),
            (folder_hierarchy::FOLDER_SYNC, "142".into())
        );
    }

    #[test]
    fn each_command_answers_in_its_own_root() {
        for cmd in Command::SERVED {
            let r = failure(cmd, ProtocolVersion::V16_1, Failure::Server);
            if cmd == Command::SendMail {
                assert_eq!(r.status, 400);
                continue;
            }
            let (root, _) = status_of(&r);
            assert_eq!(Some(root), root_and_status(cmd).map(|p| p.0), "{cmd:?}");
        }
    }

    #[test]
    fn engine_errors_map_to_their_statuses() {
        let v = ProtocolVersion::V14_1;
        let fs = sync_error(Command::FolderSync, v, &sync::Error::UnknownFolderSyncKey);
        assert_eq!(status_of(&fs).1, "9");
        let ping = sync_error(Command::Ping, v, &sync::Error::UnknownFolder("99".into()));
        assert_eq!(status_of(&ping).1, "7");
        let sync = sync_error(Command::Sync, v, &sync::Error::UnknownFolder("99".into()));
        assert_eq!(status_of(&sync).1, "12");
        let store = sync_error(Command::Sync, v, &sync::Error::Store("disk".into()));
        assert_eq!(status_of(&store).1, "5");
        let garbage = eas_error(
            Command::Sync,
            v,
            &eas::Error::Wbxml(wbxml::Error::Truncated),
        );
        assert_eq!(garbage.status, 400);
        let bad_value = eas_error(
            Command::Sync,
            v,
            &eas::Error::BadValue {
                tag: airsync::WINDOW_SIZE,
                why: "x",
            },
        );
        assert_eq!(status_of(&bad_value).1, "4");
    }
}
