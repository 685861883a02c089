//! Sync engine throughput: the initial sync of 5,000 contacts by a new device through
//! [`MemStore`], with windows of 100 and 512, from key 0 to the last window; then the same
//! with each answer also encoded to WBXML as the server sends it. The redb figure comes with
//! the store.
//!
//! Run: `cargo bench --bench sync_engine` (optimised build). Prints items/s; nothing here
//! asserts a speed.

use easbox::eas::ProtocolVersion;
use easbox::eas::commands::sync::{SyncCollectionRequest, SyncRequest, SyncResponse};
use easbox::eas::items::ClientKind;
use easbox::eas::to_wbxml;
use easbox::model::contact::Address;
use easbox::model::{Contact, Item};
use easbox::sync::mem::MemStore;
use easbox::sync::{DeviceCtx, DeviceKey, FolderId, Origin, StoredItem, SyncStore, sync};
use std::hint::black_box;
use std::time::{Duration, Instant};

const ITEMS: u32 = 5_000;
const RUN_FOR: Duration = Duration::from_secs(2);
const CONTACTS: FolderId = FolderId(8);

fn contact(i: u32) -> Contact {
    Contact {
        first_name: Some(format!("Giulia{i}")),
        last_name: Some(format!("Bianchi-{i}")),
        file_as: Some(format!("Bianchi-{i}, Giulia{i}")),
        company_name: Some("Studio Rossi & Associati S.r.l.".into()),
        job_title: Some("Responsabile acquisti".into()),
        email: [Some(format!("giulia.bianchi{i}@example.com")), None, None],
        business_phone: Some(format!("+39 02 5550{i:04}")),
        mobile_phone: Some(format!("+39 333 55{i:05}")),
        business_address: Address {
            street: Some(format!("Via Roma {i}")),
            city: Some("Milano".into()),
            postal_code: Some("20121".into()),
            country: Some("Italia".into()),
            ..Address::default()
        },
        notes: Some("Cliente dal 2019. Preferisce essere contattata al mattino.".into()),
        ..Contact::default()
    }
}

fn device(n: u32) -> DeviceCtx {
    DeviceCtx {
        key: DeviceKey {
            user: "ann".into(),
            device_id: format!("bench{n}"),
        },
        version: ProtocolVersion::V16_1,
        client: ClientKind::Other,
    }
}

/// One initial sync; returns the items received and the WBXML bytes written (0 without
/// encoding).
fn initial_sync(store: &mut MemStore, dev: &DeviceCtx, window: u32, encode: bool) -> (u32, u64) {
    let mut key = "0".to_owned();
    let (mut items, mut bytes) = (0u32, 0u64);
    loop {
        let req = SyncRequest {
            collections: vec![SyncCollectionRequest {
                sync_key: key.clone(),
                collection_id: "8".into(),
                window_size: Some(window),
                ..SyncCollectionRequest::default()
            }],
            ..SyncRequest::default()
        };
        let out = sync(store, dev, &req).expect("sync");
        if encode {
            bytes += to_wbxml(&out.response, dev.version, usize::MAX)
                .expect("encode")
                .len() as u64;
        }
        let resp: SyncResponse = out.response;
        let c = resp.collections.into_iter().next().expect("one collection");
        items += c.commands.len() as u32;
        let more = c.more_available || key == "0";
        key = c.sync_key;
        black_box(&c.commands);
        if !more {
            return (items, bytes);
        }
    }
}

fn main() {
    let mut store = MemStore::new();
    for i in 0..ITEMS {
        let item = StoredItem {
            item: Item::Contact(contact(i)),
            unknown: vec![],
            crm: None,
        };
        store
            .put_item("ann", CONTACTS, None, &item, &Origin::Crm)
            .expect("seed");
    }
    let mut n = 0;
    for encode in [false, true] {
        for window in [100u32, 512] {
            let start = Instant::now();
            let (mut runs, mut bytes) = (0u32, 0u64);
            while start.elapsed() < RUN_FOR || runs == 0 {
                n += 1;
                let (items, b) = initial_sync(&mut store, &device(n), window, encode);
                assert_eq!(items, ITEMS);
                bytes += b;
                runs += 1;
            }
            let secs = start.elapsed().as_secs_f64();
            let per_s = f64::from(runs) * f64::from(ITEMS) / secs;
            let what = if encode {
                "engine + WBXML"
            } else {
                "engine only"
            };
            println!(
                "initial sync of {ITEMS} contacts, window {window:3}, {what:14}: {per_s:10.0} items/s \
                 ({:.1} ms per sync{})",
                secs * 1000.0 / f64::from(runs),
                if encode {
                    format!(", {:.1} MB/s", bytes as f64 / secs / 1e6)
                } else {
                    String::new()
                }
            );
        }
    }
}
