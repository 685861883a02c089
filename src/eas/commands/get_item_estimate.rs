//! [MS-ASCMD] 2.2.1.9 GetItemEstimate: how many changes a Sync would bring per collection,
//! with the status codes of [MS-ASCMD] 2.2.3.177.7.
//!
//! The request shape depends on the version ([MS-ASCMD] 2.2.3.29.1): 12.1 puts
//! `GetItemEstimate:Class` and `AirSync:FilterType` straight into the Collection; from 14.0
//! they move into `AirSync:Options` (as `AirSync:Class`, `AirSync:FilterType`,
//! `AirSync:MaxItems`). Both shapes decode into the same fields; the encoder writes the shape
//! of the version. The response has one shape; it never carries Class (not in
//! `GetItemEstimateResponse.xsd`).

use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de, en};
use crate::wbxml::{Element, Encoder, Tag, airsync, get_item_estimate as gie};

/// Caps on one GetItemEstimate.
pub mod caps {
    /// Collections per request or response (the spec allows 300; easbox serves far fewer
    /// folders).
    pub const MAX_COLLECTIONS: u32 = 100;
}

status_enum! {
    /// GetItemEstimate status ([MS-ASCMD] 2.2.3.177.7).
    pub enum GetItemEstimateStatus with common {
        Success = 1,
        /// The collection is unknown or not a syncable folder.
        InvalidCollection = 2,
        /// No Sync with key 0 has been done yet for this collection.
        SyncStateNotPrimed = 3,
        /// The SyncKey is not the one the next Sync expects.
        InvalidSyncKey = 4,
    }
}

/// A GetItemEstimate request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GetItemEstimateRequest {
    pub collections: Vec<EstimateCollection>,
}

/// One collection to estimate.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EstimateCollection {
    pub sync_key: String,
    pub collection_id: String,
    /// 12.1: `GetItemEstimate:Class`; 14.0+: `AirSync:Class` in Options.
    pub class: Option<String>,
    /// `AirSync:FilterType` (0–8), in the Collection (12.1) or in Options (14.0+).
    pub filter_type: Option<u8>,
    /// `AirSync:MaxItems` in Options (14.0+ only).
    pub max_items: Option<u32>,
}

impl EstimateCollection {
    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        // 14.x may send two Options blocks (SMS and the folder's own class); the folder's
        // own is the one that matters to a server without SMS.
        let options = e
            .children_with(airsync::OPTIONS)
            .find(|o| o.child_text(airsync::CLASS) != Some("SMS"));
        let class = match de::opt_text(e, gie::CLASS)? {
            Some(c) => Some(c),
            None => options
                .map(|o| de::opt_text(o, airsync::CLASS))
                .transpose()?
                .flatten(),
        };
        let filter_type: Option<u8> = match de::opt_num(e, airsync::FILTER_TYPE)? {
            Some(f) => Some(f),
            None => options
                .map(|o| de::opt_num(o, airsync::FILTER_TYPE))
                .transpose()?
                .flatten(),
        };
        if filter_type.is_some_and(|f| f > 8) {
            return Err(Error::BadValue {
                tag: airsync::FILTER_TYPE,
                why: "FilterType outside 0-8",
            });
        }
        Ok(EstimateCollection {
            sync_key: de::req_owned(e, airsync::SYNC_KEY)?,
            collection_id: de::req_owned(e, gie::COLLECTION_ID)?,
            class: class.map(str::to_owned),
            filter_type,
            max_items: options
                .map(|o| de::opt_num(o, airsync::MAX_ITEMS))
                .transpose()?
                .flatten(),
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        w.start(gie::COLLECTION)?;
        if v < ProtocolVersion::V14_0 {
            if self.max_items.is_some() {
                return Err(Error::Unencodable("MaxItems needs 14.0 or later"));
            }
            en::opt_leaf(w, gie::CLASS, self.class.as_deref())?;
            w.leaf(airsync::SYNC_KEY, &self.sync_key)?;
            w.leaf(gie::COLLECTION_ID, &self.collection_id)?;
            en::opt_leaf_int(w, airsync::FILTER_TYPE, self.filter_type)?;
        } else {
            w.leaf(airsync::SYNC_KEY, &self.sync_key)?;
            w.leaf(gie::COLLECTION_ID, &self.collection_id)?;
            if self.filter_type.is_some() || self.class.is_some() || self.max_items.is_some() {
                w.start(airsync::OPTIONS)?;
                en::opt_leaf_int(w, airsync::FILTER_TYPE, self.filter_type)?;
                en::opt_leaf(w, airsync::CLASS, self.class.as_deref())?;
                en::opt_leaf_int(w, airsync::MAX_ITEMS, self.max_items)?;
                w.end()?;
            }
        }
        w.end()?;
        Ok(())
    }
}

impl Codec for GetItemEstimateRequest {
    const ROOT: Tag = gie::GET_ITEM_ESTIMATE;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        let cs = root.child(gie::COLLECTIONS).ok_or(Error::Missing {
            parent: root.tag,
            child: gie::COLLECTIONS,
        })?;
        let collections = de::capped(
            cs.children_with(gie::COLLECTION),
            "GetItemEstimate collections",
            caps::MAX_COLLECTIONS,
            EstimateCollection::decode,
        )?;
        Ok(GetItemEstimateRequest { collections })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        w.start(gie::GET_ITEM_ESTIMATE)?;
        w.start(gie::COLLECTIONS)?;
        for c in &self.collections {
            c.encode(w, v)?;
        }
        w.end()?;
        w.end()?;
        Ok(())
    }
}

/// A GetItemEstimate response.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GetItemEstimateResponse {
    /// Top-level status, for a failure of the whole request.
    pub status: Option<GetItemEstimateStatus>,
    pub responses: Vec<EstimateResponse>,
}

/// The answer for one collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EstimateResponse {
    pub status: GetItemEstimateStatus,
    /// The collection answered; the Collection element is optional on failure.
    pub collection_id: Option<String>,
    /// Changes waiting; absent on failure. Written only inside a Collection.
    pub estimate: Option<u32>,
}

impl Codec for GetItemEstimateResponse {
    const ROOT: Tag = gie::GET_ITEM_ESTIMATE;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        let mut responses = Vec::new();
        for r in root.children_with(gie::RESPONSE) {
            de::cap(
                "GetItemEstimate responses",
                responses.len() + 1,
                caps::MAX_COLLECTIONS,
            )?;
            let status = GetItemEstimateStatus::req(r, gie::STATUS)?;
            let (collection_id, estimate) = match r.child(gie::COLLECTION) {
                Some(c) => (
                    Some(de::req_owned(c, gie::COLLECTION_ID)?),
                    de::opt_num(c, gie::ESTIMATE)?,
                ),
                None => (None, None),
            };
            responses.push(EstimateResponse {
                status,
                collection_id,
                estimate,
            });
        }
        Ok(GetItemEstimateResponse {
            status: GetItemEstimateStatus::opt(root, gie::STATUS)?,
            responses,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(gie::GET_ITEM_ESTIMATE)?;
        if let Some(s) = self.status {
            w.leaf_int(gie::STATUS, s.as_u8())?;
        }
        for r in &self.responses {
            w.start(gie::RESPONSE)?;
            w.leaf_int(gie::STATUS, r.status.as_u8())?;
            match (&r.collection_id, r.estimate) {
                (Some(id), estimate) => {
                    w.start(gie::COLLECTION)?;
                    w.leaf(gie::COLLECTION_ID, id)?;
                    en::opt_leaf_int(w, gie::ESTIMATE, estimate)?;
                    w.end()?;
                }
                (None, Some(_)) => {
                    return Err(Error::Unencodable("an Estimate needs its CollectionId"));
                }
                (None, None) => {}
            }
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
        let named: Vec<u8> = GetItemEstimateStatus::NAMED
            .iter()
            .map(|s| s.as_u8())
            .collect();
        assert_eq!(named, [1, 2, 3, 4]);
        for c in 1u8..=4 {
            assert_eq!(GetItemEstimateStatus::from_u8(c).as_u8(), c);
        }
        assert_eq!(
            GetItemEstimateStatus::from_u8(5),
            GetItemEstimateStatus::Other(5)
        );
        assert_eq!(GetItemEstimateStatus::InvalidSyncKey.as_u8(), 4);
    }

    #[test]
    fn shapes_per_version_decode_alike() {
        let req = GetItemEstimateRequest {
            collections: vec![EstimateCollection {
                sync_key: "7".into(),
                collection_id: "2".into(),
                class: Some("Calendar".into()),
                filter_type: Some(5),
                max_items: None,
            }],
        };
        for v in ProtocolVersion::ALL {
            let bytes = to_wbxml(&req, v, 4096).unwrap();
            let back: GetItemEstimateRequest = from_wbxml(&bytes, v, Limits::DEFAULT).unwrap();
            assert_eq!(back, req, "{v}");
            let tree = crate::wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
            let col = tree
                .child(gie::COLLECTIONS)
                .and_then(|c| c.child(gie::COLLECTION))
                .unwrap();
            assert_eq!(col.child(gie::CLASS).is_some(), v < ProtocolVersion::V14_0);
            assert_eq!(
                col.child(airsync::OPTIONS).is_some(),
                v >= ProtocolVersion::V14_0
            );
        }
        let with_max = GetItemEstimateRequest {
            collections: vec![EstimateCollection {
                max_items: Some(10),
                ..req.collections[0].clone()
            }],
        };
        assert!(to_wbxml(&with_max, ProtocolVersion::V12_1, 4096).is_err());
    }

    #[test]
    fn collections_cap() {
        let one = EstimateCollection {
            sync_key: "1".into(),
            collection_id: "1".into(),
            ..Default::default()
        };
        let v = ProtocolVersion::V14_1;
        let at = GetItemEstimateRequest {
            collections: vec![one.clone(); caps::MAX_COLLECTIONS as usize],
        };
        let bytes = to_wbxml(&at, v, 1 << 20).unwrap();
        assert!(from_wbxml::<GetItemEstimateRequest>(&bytes, v, Limits::DEFAULT).is_ok());
        let over = GetItemEstimateRequest {
            collections: vec![one; caps::MAX_COLLECTIONS as usize + 1],
        };
        let bytes = to_wbxml(&over, v, 1 << 20).unwrap();
        assert_eq!(
            from_wbxml::<GetItemEstimateRequest>(&bytes, v, Limits::DEFAULT),
            Err(Error::TooMany {
                what: "GetItemEstimate collections",
                cap: caps::MAX_COLLECTIONS
            })
        );
    }
}
