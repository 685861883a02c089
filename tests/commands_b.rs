//! Golden and round-trip tests for Sync, GetItemEstimate, ItemOperations and MoveItems
//! ([MS-ASCMD] 2.2.1.21, 2.2.1.9, 2.2.1.10, 2.2.1.12).

mod common;

use easbox::eas::commands::get_item_estimate::{
    EstimateCollection, EstimateResponse, GetItemEstimateRequest, GetItemEstimateResponse,
    GetItemEstimateStatus,
};
use easbox::eas::commands::item_operations::{
    self as io_cmd, Fetch, FetchOptions, FetchResult, FetchTarget, ItemOperationsRequest,
    ItemOperationsResponse, ItemOperationsStatus, Operation, STORE_MAILBOX,
};
use easbox::eas::commands::move_items::{
    Move, MoveItemsRequest, MoveItemsResponse, MoveItemsStatus, MoveResponse,
};
use easbox::eas::commands::sync::{
    ClientCommand, Conflict, ServerCommand, SyncCollectionRequest, SyncCollectionResponse,
    SyncData, SyncOptions, SyncReply, SyncRequest, SyncResponse, SyncStatus,
};
use easbox::eas::items::{ApplicationData, BodyPreference, Class, Context};
use easbox::eas::status::CommonStatus;
use easbox::eas::{Codec, Error, ProtocolVersion, from_wbxml, to_wbxml};
use easbox::model::{Contact, Item};
use easbox::wbxml::{
    Limits, OwnedElement, airsync, airsyncbase, calendar, contacts, item_operations as io, parse,
};
use std::fmt::Debug;

const V12: ProtocolVersion = ProtocolVersion::V12_1;
const V14: ProtocolVersion = ProtocolVersion::V14_1;
const V16: ProtocolVersion = ProtocolVersion::V16_1;

/// Encodes, checks decode(encode(x)) == x, and returns the bytes.
fn encode_round<T: Codec + PartialEq + Debug>(x: &T, v: ProtocolVersion) -> Vec<u8> {
    let bytes = to_wbxml(x, v, 1 << 20).expect("encodes");
    let back: T = from_wbxml(&bytes, v, Limits::DEFAULT).expect("decodes");
    assert_eq!(&back, x, "round trip at {v}");
    bytes
}

fn golden<T: Codec + PartialEq + Debug>(name: &str, x: &T, v: ProtocolVersion) -> Vec<u8> {
    let bytes = encode_round(x, v);
    common::golden(&format!("commands/{name}"), &bytes);
    bytes
}

/// One golden file per test: `common::golden` stops a test at the first file it writes.
macro_rules! golden_test {
    ($name:ident, $v:expr, $value:expr) => {
        #[test]
        fn $name() {
            golden(stringify!($name), &$value, $v);
        }
    };
}

/// A small contact as a client would send it, wrapped in `wrapper`.
fn contact(wrapper: easbox::wbxml::Tag, first: &str, last: &str, mail: &str) -> OwnedElement {
    OwnedElement::new(wrapper)
        .with(OwnedElement::leaf(
            contacts::FILE_AS,
            format!("{last}, {first}"),
        ))
        .with(OwnedElement::leaf(contacts::FIRST_NAME, first))
        .with(OwnedElement::leaf(contacts::LAST_NAME, last))
        .with(OwnedElement::leaf(contacts::EMAIL1_ADDRESS, mail))
        .with(
            OwnedElement::new(airsyncbase::BODY)
                .with(OwnedElement::leaf(airsyncbase::TYPE, "1"))
                .with(OwnedElement::leaf(airsyncbase::DATA, "met at the fair")),
        )
}

fn app_data(first: &str, last: &str, mail: &str) -> OwnedElement {
    contact(airsync::APPLICATION_DATA, first, last, mail)
}

// ---------------------------------------------------------------------------------------------
// Sync
// ---------------------------------------------------------------------------------------------

fn initial(class: Option<&str>) -> SyncRequest {
    SyncRequest {
        collections: vec![SyncCollectionRequest {
            class: class.map(str::to_owned),
            sync_key: "0".into(),
            collection_id: "2".into(),
            supported: Some(vec![
                contacts::FIRST_NAME,
                contacts::LAST_NAME,
                contacts::EMAIL1_ADDRESS,
                contacts::MOBILE_PHONE_NUMBER,
            ]),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn sync_request_initial() {
    let b14 = encode_round(&initial(None), V14);
    // The request shape does not change from 14.1 to 16.1.
    assert_eq!(encode_round(&initial(None), V16), b14);
    let r: SyncRequest = from_wbxml(&b14, V14, Limits::DEFAULT).unwrap();
    assert!(!r.collections[0].wants_changes(V14));
    assert_eq!(r.collections[0].effective_window(), 100);
}

fn with_commands() -> SyncRequest {
    SyncRequest {
        collections: vec![SyncCollectionRequest {
            class: None,
            sync_key: "{1f0c}3".into(),
            collection_id: "2".into(),
            supported: None,
            deletes_as_moves: Some(true),
            get_changes: Some(true),
            window_size: Some(50),
            options: vec![SyncOptions {
                filter_type: Some(0),
                body_preferences: vec![
                    BodyPreference {
                        body_type: 1,
                        truncation_size: Some(32768),
                        all_or_none: false,
                        preview: None,
                    },
                    BodyPreference {
                        body_type: 2,
                        truncation_size: Some(200_000),
                        all_or_none: true,
                        preview: Some(100),
                    },
                ],
                conflict: Some(Conflict::ServerWins),
                mime_support: Some(0),
                ..Default::default()
            }],
            commands: vec![
                ClientCommand::Add {
                    class: None,
                    client_id: "c-17".into(),
                    data: app_data("Ada", "Lovelace", "ada@example.org"),
                },
                ClientCommand::Change {
                    server_id: "2:8".into(),
                    instance_id: None,
                    data: app_data("Alan", "Turing", "alan@example.org"),
                },
                ClientCommand::Delete {
                    server_id: "2:9".into(),
                    instance_id: None,
                },
                ClientCommand::Fetch {
                    server_id: "2:10".into(),
                },
            ],
        }],
        wait: None,
        heartbeat_interval: Some(480),
        window_size: Some(100),
        partial: false,
    }
}

#[test]
fn sync_request_with_commands() {
    let req = with_commands();
    let bytes = encode_round(&req, V14);
    assert_eq!(encode_round(&req, V16), bytes);
    let back: SyncRequest = from_wbxml(&bytes, V14, Limits::DEFAULT).unwrap();
    let c = &back.collections[0];
    assert_eq!(c.effective_window(), 50);
    assert_eq!(c.conflict(), Conflict::ServerWins);
    assert_eq!(c.item_options().map(|o| o.body_preferences.len()), Some(2));
    // The kept ApplicationData is what the client sent, byte for byte in tree form.
    match &c.commands[0] {
        ClientCommand::Add { data, .. } => {
            assert_eq!(data, &app_data("Ada", "Lovelace", "ada@example.org"))
        }
        other => panic!("expected Add, got {other:?}"),
    }
}

/// 16.x addresses one occurrence of a recurring event with `AirSyncBase:InstanceId` beside
/// the ServerId, in the client's Change and Delete and in the server's answers to them.
fn occurrence_request() -> SyncRequest {
    let data = OwnedElement::new(airsync::APPLICATION_DATA)
        .with(OwnedElement::leaf(calendar::SUBJECT, "Standup (moved)"));
    SyncRequest {
        collections: vec![SyncCollectionRequest {
            sync_key: "{9a9a}7".into(),
            collection_id: "3".into(),
            commands: vec![
                ClientCommand::Change {
                    server_id: "3:4".into(),
                    instance_id: Some("20260302T090000Z".into()),
                    data,
                },
                ClientCommand::Delete {
                    server_id: "3:4".into(),
                    instance_id: Some("20260309T090000Z".into()),
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn occurrence_response() -> SyncResponse {
    SyncResponse {
        collections: vec![SyncCollectionResponse {
            responses: vec![
                SyncReply::Change {
                    server_id: "3:4".into(),
                    instance_id: Some("20260302T090000Z".into()),
                    status: SyncStatus::Conflict,
                },
                SyncReply::Delete {
                    server_id: "3:4".into(),
                    instance_id: Some("20260309T090000Z".into()),
                    status: SyncStatus::ObjectNotFound,
                },
            ],
            ..SyncCollectionResponse::new("{9a9a}8", "3", SyncStatus::Success)
        }],
        ..Default::default()
    }
}

#[test]
fn instance_id_is_16_only() {
    assert_eq!(
        to_wbxml(&occurrence_request(), V14, 4096),
        Err(Error::Unencodable("InstanceId needs 16.0 or later"))
    );
    // A response drops it below 16.0.
    let bytes = to_wbxml(&occurrence_response(), V14, 4096).unwrap();
    let back: SyncResponse = from_wbxml(&bytes, V14, Limits::DEFAULT).unwrap();
    match &back.collections[0].responses[0] {
        SyncReply::Change { instance_id, .. } => assert_eq!(instance_id, &None),
        other => panic!("expected Change, got {other:?}"),
    }
}

fn response() -> SyncResponse {
    SyncResponse {
        collections: vec![SyncCollectionResponse {
            sync_key: "{1f0c}4".into(),
            collection_id: "2".into(),
            status: SyncStatus::Success,
            responses: vec![
                SyncReply::Add {
                    client_id: "c-17".into(),
                    server_id: Some("2:11".into()),
                    status: SyncStatus::Success,
                },
                SyncReply::Change {
                    server_id: "2:8".into(),
                    instance_id: None,
                    status: SyncStatus::Conflict,
                },
                SyncReply::Delete {
                    server_id: "2:9".into(),
                    instance_id: None,
                    status: SyncStatus::ObjectNotFound,
                },
                SyncReply::Fetch {
                    server_id: "2:10".into(),
                    status: SyncStatus::Success,
                    data: Some(SyncData::Raw(app_data(
                        "Grace",
                        "Hopper",
                        "grace@example.org",
                    ))),
                },
            ],
            more_available: true,
            commands: vec![
                ServerCommand::Add {
                    server_id: "2:12".into(),
                    data: SyncData::Raw(app_data("Edsger", "Dijkstra", "ewd@example.org")),
                },
                ServerCommand::Change {
                    server_id: "2:8".into(),
                    data: SyncData::Raw(app_data("Alan", "Turing", "turing@example.org")),
                },
                ServerCommand::Delete {
                    server_id: "2:5".into(),
                },
                ServerCommand::SoftDelete {
                    server_id: "2:6".into(),
                },
            ],
            body_preference: None,
        }],
        ..Default::default()
    }
}

#[test]
fn sync_response() {
    // No version writes Class in a response Collection (SyncResponse.xsd has none).
    let b14 = encode_round(&response(), V14);
    assert_eq!(encode_round(&response(), V16), b14);
    assert_eq!(encode_round(&response(), V12), b14);

    // Order inside a Collection: SyncKey, CollectionId, Status, Responses, MoreAvailable,
    // Commands.
    let tree = parse(&b14, Limits::DEFAULT).unwrap();
    let col = tree
        .child(airsync::COLLECTIONS)
        .and_then(|c| c.child(airsync::COLLECTION))
        .unwrap();
    let order: Vec<_> = col.elements().map(|e| e.tag).collect();
    assert_eq!(
        order,
        [
            airsync::SYNC_KEY,
            airsync::COLLECTION_ID,
            airsync::STATUS,
            airsync::RESPONSES,
            airsync::MORE_AVAILABLE,
            airsync::COMMANDS,
        ]
    );
    // No top-level Status on success.
    assert!(tree.child(airsync::STATUS).is_none());
}

/// The answer to SyncKey 0: a key, no data.
fn sync_initial_answer() -> SyncResponse {
    SyncResponse {
        collections: vec![SyncCollectionResponse::new(
            "{1f0c}1",
            "2",
            SyncStatus::Success,
        )],
        ..Default::default()
    }
}

fn sync_failed() -> SyncResponse {
    SyncResponse {
        status: Some(SyncStatus::ProtocolError),
        ..Default::default()
    }
}

fn sync_limit() -> SyncResponse {
    SyncResponse {
        status: Some(SyncStatus::InvalidWaitOrHeartbeat),
        limit: Some(3540),
        ..Default::default()
    }
}

#[test]
fn sync_response_bad_key_round_trips() {
    let bad_key = SyncResponse {
        collections: vec![SyncCollectionResponse::new(
            "0",
            "2",
            SyncStatus::InvalidSyncKey,
        )],
        ..Default::default()
    };
    encode_round(&bad_key, V14);
}

#[test]
fn sync_empty_request() {
    let empty = SyncRequest::from_body(&[], V14, Limits::DEFAULT).unwrap();
    assert!(empty.is_empty() && empty.uses_cache());
    assert_eq!(empty.to_body(V14, 64).unwrap(), Vec::<u8>::new());
    let partial = SyncRequest {
        partial: true,
        wait: Some(10),
        ..initial(None)
    };
    assert!(partial.uses_cache() && !partial.is_empty());
    encode_round(&partial, V14);
}

// ---------------------------------------------------------------------------------------------
// GetItemEstimate
// ---------------------------------------------------------------------------------------------

fn estimate_request() -> GetItemEstimateRequest {
    GetItemEstimateRequest {
        collections: vec![
            EstimateCollection {
                sync_key: "{1f0c}4".into(),
                collection_id: "2".into(),
                class: Some("Contacts".into()),
                filter_type: None,
                max_items: None,
            },
            EstimateCollection {
                sync_key: "{77aa}9".into(),
                collection_id: "3".into(),
                class: Some("Calendar".into()),
                filter_type: Some(5),
                max_items: None,
            },
        ],
    }
}

fn estimate_response() -> GetItemEstimateResponse {
    GetItemEstimateResponse {
        status: None,
        responses: vec![
            EstimateResponse {
                status: GetItemEstimateStatus::Success,
                collection_id: Some("2".into()),
                estimate: Some(17),
            },
            EstimateResponse {
                status: GetItemEstimateStatus::InvalidSyncKey,
                collection_id: Some("3".into()),
                estimate: None,
            },
            EstimateResponse {
                status: GetItemEstimateStatus::InvalidCollection,
                collection_id: None,
                estimate: None,
            },
        ],
    }
}

#[test]
fn get_item_estimate() {
    let req = estimate_request();
    let b12 = encode_round(&req, V12);
    let b14 = encode_round(&req, V14);
    assert_ne!(b12, b14, "12.1 and 14.1 shapes differ");
    assert_eq!(encode_round(&req, V16), b14);

    let resp = estimate_response();
    let r14 = encode_round(&resp, V14);
    assert_eq!(encode_round(&resp, V12), r14, "the response has one shape");
    encode_round(
        &GetItemEstimateResponse {
            status: Some(GetItemEstimateStatus::Common(CommonStatus::ServerError)),
            responses: vec![],
        },
        V14,
    );
}

// ---------------------------------------------------------------------------------------------
// ItemOperations
// ---------------------------------------------------------------------------------------------

fn itemops_request() -> ItemOperationsRequest {
    ItemOperationsRequest {
        operations: vec![
            Operation::Fetch(Fetch {
                store: STORE_MAILBOX.into(),
                target: FetchTarget::Item {
                    collection_id: Some("2".into()),
                    server_id: "2:11".into(),
                },
                options: FetchOptions {
                    range: None,
                    mime_support: None,
                    body_preferences: vec![BodyPreference {
                        body_type: 1,
                        truncation_size: Some(5120),
                        all_or_none: false,
                        preview: None,
                    }],
                },
            }),
            Operation::Fetch(Fetch {
                store: STORE_MAILBOX.into(),
                target: FetchTarget::LongId("RgAAAAD1".into()),
                options: FetchOptions::default(),
            }),
        ],
    }
}

fn itemops_response() -> ItemOperationsResponse {
    let mut resp = ItemOperationsResponse::new(ItemOperationsStatus::Success);
    resp.fetches.push(FetchResult {
        collection_id: Some("2".into()),
        server_id: Some("2:11".into()),
        class: Some("Contacts".into()),
        properties: Some(SyncData::Raw(contact(
            io::PROPERTIES,
            "Ada",
            "Lovelace",
            "ada@example.org",
        ))),
        ..FetchResult::new(ItemOperationsStatus::Success)
    });
    resp.fetches.push(FetchResult {
        long_id: Some("RgAAAAD1".into()),
        ..FetchResult::new(ItemOperationsStatus::NotFound)
    });
    resp
}

#[test]
fn item_operations_fetch() {
    let req = itemops_request();
    let b = encode_round(&req, V14);
    assert_eq!(encode_round(&req, V16), b);

    let resp = itemops_response();
    let b = encode_round(&resp, V14);
    assert_eq!(encode_round(&resp, V16), b);
}

#[test]
fn item_operations_caps() {
    let pref = BodyPreference::plain();
    let fetch = |n: usize| ItemOperationsRequest {
        operations: vec![Operation::Fetch(Fetch {
            store: STORE_MAILBOX.into(),
            target: FetchTarget::LongId("x".into()),
            options: FetchOptions {
                body_preferences: vec![pref; n],
                ..Default::default()
            },
        })],
    };
    let cap = io_cmd::caps::MAX_BODY_PREFERENCES;
    encode_round(&fetch(cap as usize), V14);
    let bytes = to_wbxml(&fetch(cap as usize + 1), V14, 1 << 20).unwrap();
    assert_eq!(
        from_wbxml::<ItemOperationsRequest>(&bytes, V14, Limits::DEFAULT),
        Err(Error::TooMany {
            what: "BodyPreference elements",
            cap
        })
    );

    let cap = io_cmd::caps::MAX_OPERATIONS;
    let mut resp = ItemOperationsResponse::new(ItemOperationsStatus::Success);
    resp.fetches = vec![FetchResult::new(ItemOperationsStatus::NotFound); cap as usize];
    encode_round(&resp, V14);
    resp.fetches
        .push(FetchResult::new(ItemOperationsStatus::NotFound));
    let bytes = to_wbxml(&resp, V14, 1 << 20).unwrap();
    assert_eq!(
        from_wbxml::<ItemOperationsResponse>(&bytes, V14, Limits::DEFAULT),
        Err(Error::TooMany {
            what: "ItemOperations results",
            cap
        })
    );
}

// ---------------------------------------------------------------------------------------------
// MoveItems
// ---------------------------------------------------------------------------------------------

fn move_request() -> MoveItemsRequest {
    MoveItemsRequest {
        moves: vec![
            Move {
                src_msg_id: "2:11".into(),
                src_fld_id: "2".into(),
                dst_fld_id: "7".into(),
            },
            Move {
                src_msg_id: "2:12".into(),
                src_fld_id: "2".into(),
                dst_fld_id: "2".into(),
            },
        ],
    }
}

fn move_response() -> MoveItemsResponse {
    MoveItemsResponse {
        status: None,
        responses: vec![
            MoveResponse {
                src_msg_id: "2:11".into(),
                status: MoveItemsStatus::Success,
                dst_msg_id: Some("7:1".into()),
            },
            MoveResponse {
                src_msg_id: "2:12".into(),
                status: MoveItemsStatus::SameSourceAndDestination,
                dst_msg_id: None,
            },
        ],
    }
}

#[test]
fn move_items() {
    let req = move_request();
    let b = encode_round(&req, V14);
    assert_eq!(encode_round(&req, V12), b);
    let resp = move_response();
    let b = encode_round(&resp, V14);
    assert_eq!(encode_round(&resp, V16), b);

    let cap = easbox::eas::commands::move_items::caps::MAX_MOVES;
    let many = MoveItemsResponse {
        status: None,
        responses: vec![resp.responses[0].clone(); cap as usize + 1],
    };
    let bytes = to_wbxml(&many, V14, 1 << 20).unwrap();
    assert!(matches!(
        from_wbxml::<MoveItemsResponse>(&bytes, V14, Limits::DEFAULT),
        Err(Error::TooMany { cap: c, .. }) if c == cap
    ));
}

// ---------------------------------------------------------------------------------------------
// Golden files (read the .xml next to each .wbxml)
// ---------------------------------------------------------------------------------------------

golden_test!(sync_request_initial_12_1, V12, initial(Some("Contacts")));
golden_test!(sync_request_initial_14_1, V14, initial(None));
golden_test!(sync_request_commands_14_1, V14, with_commands());
golden_test!(sync_response_14_1, V14, response());
golden_test!(sync_request_occurrence_16_1, V16, occurrence_request());
golden_test!(sync_response_occurrence_16_1, V16, occurrence_response());
golden_test!(sync_response_initial_14_1, V14, sync_initial_answer());
golden_test!(sync_response_status_4, V14, sync_failed());
golden_test!(sync_response_limit_16_1, V16, sync_limit());
golden_test!(gie_request_12_1, V12, estimate_request());
golden_test!(gie_request_14_1, V14, estimate_request());
golden_test!(gie_response_14_1, V14, estimate_response());
golden_test!(itemops_fetch_request_14_1, V14, itemops_request());
golden_test!(itemops_fetch_response_14_1, V14, itemops_response());
golden_test!(
    itemops_response_status_2,
    V14,
    ItemOperationsResponse::new(ItemOperationsStatus::ProtocolError)
);
golden_test!(moveitems_request_14_1, V14, move_request());
golden_test!(moveitems_response_14_1, V14, move_response());

// ---------------------------------------------------------------------------------------------
// Wrong roots
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_root_is_rejected() {
    let bytes = to_wbxml(&estimate_request(), V14, 4096).unwrap();
    assert!(matches!(
        from_wbxml::<SyncRequest>(&bytes, V14, Limits::DEFAULT),
        Err(Error::WrongRoot { .. })
    ));
    assert!(matches!(
        from_wbxml::<MoveItemsRequest>(&bytes, V14, Limits::DEFAULT),
        Err(Error::WrongRoot { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// A foreign document
// ---------------------------------------------------------------------------------------------

/// libwbxml's `airsync-001.xml` (fixtures/wbxml-libwbxml), encoded with
/// `xml2wbxml -n -a -v 1.3`: an older client's Sync with Class, empty GetChanges and
/// DeletesAsMoves, 2.5-era Options (Truncation, RTFTruncation) that we ignore, and an Add.
#[test]
fn libwbxml_airsync_001_decodes() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/commands/libwbxml_airsync_001.wbxml"
    );
    let bytes = std::fs::read(path).unwrap();
    let req: SyncRequest = from_wbxml(&bytes, V12, Limits::DEFAULT).unwrap();
    let c = &req.collections[0];
    assert_eq!(c.class.as_deref(), Some("Contacts"));
    assert_eq!(c.sync_key, "{F0A866C8-E590-42B9-830C-4CF4DFD545DF}12");
    assert_eq!(c.collection_id, "{F0A866C8-E590-42B9-830C-4CF4DFD545DF}");
    assert_eq!(c.deletes_as_moves, Some(true));
    assert_eq!(c.get_changes, Some(true));
    assert_eq!(c.effective_window(), 100);
    assert_eq!(c.conflict(), Conflict::ServerWins);
    match c.commands.as_slice() {
        [
            ClientCommand::Add {
                client_id, data, ..
            },
        ] => {
            assert_eq!(client_id, "2147483800");
            assert_eq!(
                data.child(contacts::MOBILE_PHONE_NUMBER)
                    .and_then(|e| e.text()),
                Some("12345678")
            );
            assert_eq!(data.elements().count(), 6);
        }
        other => panic!("expected one Add, got {other:?}"),
    }
    // Our own encoding of what we kept decodes to the same value.
    encode_round(&req, V12);
}

// ---------------------------------------------------------------------------------------------
// Items written from the model
// ---------------------------------------------------------------------------------------------

fn ada() -> ApplicationData {
    ApplicationData::new(Item::Contact(Contact {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        notes: Some("analytical engine".into()),
        ..Default::default()
    }))
}

/// The Body of the first item data in a tree, and the item read back.
fn read_item(data: &SyncData) -> (ApplicationData, Option<String>, Option<String>) {
    let SyncData::Raw(raw) = data else {
        panic!("a decoded response holds raw data")
    };
    let e = raw.as_element();
    let item = ApplicationData::decode(&e, Class::Contacts, &Context::new(V14)).unwrap();
    let body = e.child(airsyncbase::BODY).unwrap();
    (
        item,
        body.child_text(airsyncbase::DATA).map(str::to_owned),
        body.child_text(airsyncbase::TRUNCATED).map(str::to_owned),
    )
}

#[test]
fn sync_response_writes_model_items_under_the_body_preference() {
    let pref = BodyPreference {
        truncation_size: Some(10),
        ..BodyPreference::plain()
    };
    let resp = SyncResponse {
        collections: vec![SyncCollectionResponse {
            commands: vec![ServerCommand::Add {
                server_id: "2:1".into(),
                data: SyncData::Item(Box::new(ada())),
            }],
            body_preference: Some(pref),
            ..SyncCollectionResponse::new("5", "2", SyncStatus::Success)
        }],
        ..Default::default()
    };
    let bytes = to_wbxml(&resp, V14, 1 << 16).unwrap();
    let back: SyncResponse = from_wbxml(&bytes, V14, Limits::DEFAULT).unwrap();
    let ServerCommand::Add { data, .. } = &back.collections[0].commands[0] else {
        panic!("expected Add")
    };
    let (item, data, truncated) = read_item(data);
    let Item::Contact(c) = &item.item else {
        panic!("expected a contact")
    };
    assert_eq!(c.first_name.as_deref(), Some("Ada"));
    assert_eq!(data.as_deref(), Some("analytical"));
    assert_eq!(truncated.as_deref(), Some("1"));
}

#[test]
fn item_operations_writes_model_items_under_the_fetch_preference() {
    let mut resp = ItemOperationsResponse::new(ItemOperationsStatus::Success);
    resp.fetches.push(FetchResult {
        server_id: Some("2:1".into()),
        properties: Some(SyncData::Item(Box::new(ada()))),
        body_preference: Some(BodyPreference {
            truncation_size: Some(3),
            ..BodyPreference::plain()
        }),
        ..FetchResult::new(ItemOperationsStatus::Success)
    });
    let bytes = to_wbxml(&resp, V16, 1 << 16).unwrap();
    let back: ItemOperationsResponse = from_wbxml(&bytes, V16, Limits::DEFAULT).unwrap();
    let data = back.fetches[0].properties.as_ref().unwrap();
    match data {
        SyncData::Raw(e) => assert_eq!(e.tag, io::PROPERTIES),
        other => panic!("expected raw data, got {other:?}"),
    }
    let (_, data, truncated) = read_item(data);
    assert_eq!(data.as_deref(), Some("ana"));
    assert_eq!(truncated.as_deref(), Some("1"));
}
