//! [MS-ASCMD] 2.2.1.12 MoveItems: move items between folders, with the status codes of
//! [MS-ASCMD] 2.2.3.177.10. Response order per `MoveItemsResponse.xsd`: SrcMsgId, Status,
//! DstMsgId.

use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de, en};
use crate::wbxml::{Element, Encoder, Tag, move_items as mv};

/// Caps on one MoveItems.
pub mod caps {
    /// Moves per request or responses per response. Phones move what the user selected;
    /// a few hundred covers a "select all" in a contacts folder view.
    pub const MAX_MOVES: u32 = 256;
}

status_enum! {
    /// MoveItems status ([MS-ASCMD] 2.2.3.177.10). 6 is not defined.
    pub enum MoveItemsStatus with common {
        /// The source folder or the item in it is unknown.
        InvalidSource = 1,
        InvalidDestination = 2,
        Success = 3,
        SameSourceAndDestination = 4,
        /// The item cannot be moved (e.g. between folders of different classes).
        CannotMove = 5,
        /// The source or destination item is locked.
        Locked = 7,
    }
}

/// One `Move`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    /// ServerId of the item.
    pub src_msg_id: String,
    pub src_fld_id: String,
    pub dst_fld_id: String,
}

/// A MoveItems request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MoveItemsRequest {
    pub moves: Vec<Move>,
}

/// The answer for one move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveResponse {
    pub src_msg_id: String,
    pub status: MoveItemsStatus,
    /// The item's ServerId in the destination, on success.
    pub dst_msg_id: Option<String>,
}

/// A MoveItems response.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MoveItemsResponse {
    /// Top-level status, for a failure of the whole request (a common status code).
    pub status: Option<MoveItemsStatus>,
    pub responses: Vec<MoveResponse>,
}

impl Codec for MoveItemsRequest {
    const ROOT: Tag = mv::MOVE_ITEMS;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        let moves = de::capped(
            root.children_with(mv::MOVE),
            "MoveItems moves",
            caps::MAX_MOVES,
            |m| {
                Ok(Move {
                    src_msg_id: de::req_owned(m, mv::SRC_MSG_ID)?,
                    src_fld_id: de::req_owned(m, mv::SRC_FLD_ID)?,
                    dst_fld_id: de::req_owned(m, mv::DST_FLD_ID)?,
                })
            },
        )?;
        Ok(MoveItemsRequest { moves })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(mv::MOVE_ITEMS)?;
        for m in &self.moves {
            w.start(mv::MOVE)?;
            w.leaf(mv::SRC_MSG_ID, &m.src_msg_id)?;
            w.leaf(mv::SRC_FLD_ID, &m.src_fld_id)?;
            w.leaf(mv::DST_FLD_ID, &m.dst_fld_id)?;
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

impl Codec for MoveItemsResponse {
    const ROOT: Tag = mv::MOVE_ITEMS;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        let responses = de::capped(
            root.children_with(mv::RESPONSE),
            "MoveItems responses",
            caps::MAX_MOVES,
            |r| {
                Ok(MoveResponse {
                    src_msg_id: de::req_owned(r, mv::SRC_MSG_ID)?,
                    status: MoveItemsStatus::req(r, mv::STATUS)?,
                    dst_msg_id: de::opt_owned(r, mv::DST_MSG_ID)?,
                })
            },
        )?;
        Ok(MoveItemsResponse {
            status: MoveItemsStatus::opt(root, mv::STATUS)?,
            responses,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(mv::MOVE_ITEMS)?;
        if let Some(s) = self.status {
            w.leaf_int(mv::STATUS, s.as_u8())?;
        }
        for r in &self.responses {
            w.start(mv::RESPONSE)?;
            w.leaf(mv::SRC_MSG_ID, &r.src_msg_id)?;
            w.leaf_int(mv::STATUS, r.status.as_u8())?;
            en::opt_leaf(w, mv::DST_MSG_ID, r.dst_msg_id.as_deref())?;
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::{from_wbxml, to_wbxml};
    use crate::wbxml::Limits;

    #[test]
    fn status_codes() {
        let named: Vec<u8> = MoveItemsStatus::NAMED.iter().map(|s| s.as_u8()).collect();
        assert_eq!(named, [1, 2, 3, 4, 5, 7]);
        for c in [1u8, 2, 3, 4, 5, 7] {
            assert_eq!(MoveItemsStatus::from_u8(c).as_u8(), c);
        }
        assert_eq!(MoveItemsStatus::from_u8(6), MoveItemsStatus::Other(6));
        assert_eq!(MoveItemsStatus::from_u8(0), MoveItemsStatus::Other(0));
    }

    #[test]
    fn moves_cap() {
        let v = ProtocolVersion::V14_1;
        let m = Move {
            src_msg_id: "1:1".into(),
            src_fld_id: "1".into(),
            dst_fld_id: "2".into(),
        };
        let at = MoveItemsRequest {
            moves: vec![m.clone(); caps::MAX_MOVES as usize],
        };
        let bytes = to_wbxml(&at, v, 1 << 20).unwrap();
        assert_eq!(
            from_wbxml::<MoveItemsRequest>(&bytes, v, Limits::DEFAULT),
            Ok(at)
        );
        let over = MoveItemsRequest {
            moves: vec![m; caps::MAX_MOVES as usize + 1],
        };
        let bytes = to_wbxml(&over, v, 1 << 20).unwrap();
        assert!(matches!(
            from_wbxml::<MoveItemsRequest>(&bytes, v, Limits::DEFAULT),
            Err(Error::TooMany {
                cap: caps::MAX_MOVES,
                ..
            })
        ));
    }

    #[test]
    fn missing_fields_are_errors() {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1024).unwrap();
        w.start(mv::MOVE_ITEMS).unwrap();
        w.start(mv::MOVE).unwrap();
        w.leaf(mv::SRC_MSG_ID, "1:1").unwrap();
        w.leaf(mv::SRC_FLD_ID, "1").unwrap();
        w.end().unwrap();
        w.end().unwrap();
        w.finish().unwrap();
        assert_eq!(
            from_wbxml::<MoveItemsRequest>(&out, ProtocolVersion::V14_1, Limits::DEFAULT),
            Err(Error::Missing {
                parent: mv::MOVE,
                child: mv::DST_FLD_ID
            })
        );
    }
}
