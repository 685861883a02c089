//! Codec throughput: a Sync response carrying 512 contacts, encoded from the model, decoded to
//! the WBXML tree, and decoded all the way back to model contacts.
//!
//! Run: `cargo bench --bench codec` (optimised build). Prints MB/s and items/s per stage.
//! Figures are for the issue notes; nothing here asserts a speed.

use easbox::eas::ProtocolVersion;
use easbox::eas::commands::sync::{
    ServerCommand, SyncCollectionResponse, SyncData, SyncResponse, SyncStatus,
};
use easbox::eas::items::{ApplicationData, Class, Context};
use easbox::eas::{Codec, to_wbxml};
use easbox::model::contact::Address;
use easbox::model::{Contact, Item};
use easbox::wbxml::{self, Limits};
use std::hint::black_box;
use std::time::{Duration, Instant};

const ITEMS: usize = 512;
const RUN_FOR: Duration = Duration::from_secs(2);

fn contact(i: usize) -> Contact {
    Contact {
        first_name: Some(format!("Giulia{i}")),
        last_name: Some(format!("Bianchi-{i}")),
        file_as: Some(format!("Bianchi-{i}, Giulia{i}")),
        company_name: Some("Studio Rossi & Associati S.r.l.".into()),
        job_title: Some("Responsabile acquisti".into()),
        department: Some("Amministrazione".into()),
        email: [
            Some(format!("giulia.bianchi{i}@example.com")),
            Some(format!("g{i}@example.org")),
            None,
        ],
        business_phone: Some(format!("+39 02 5550{i:04}")),
        mobile_phone: Some(format!("+39 333 55{i:05}")),
        home_phone: Some(format!("+39 06 44{i:05}")),
        business_address: Address {
            street: Some(format!("Via Roma {i}")),
            city: Some("Milano".into()),
            state: Some("MI".into()),
            postal_code: Some("20121".into()),
            country: Some("Italia".into()),
        },
        birthday: jiff::civil::Date::new(
            1970 + (i % 40) as i16,
            1 + (i % 12) as i8,
            1 + (i % 28) as i8,
        )
        .ok(),
        notes: Some(format!(
            "Cliente dal {}. Preferisce essere contattata al mattino; referente per gli ordini \
             trimestrali e per le fatture elettroniche.",
            2000 + i % 25
        )),
        categories: Some(vec!["Clienti".into()]),
        ..Contact::default()
    }
}

fn response() -> SyncResponse {
    let mut coll = SyncCollectionResponse::new("2", "2", SyncStatus::Success);
    coll.more_available = true;
    coll.commands = (0..ITEMS)
        .map(|i| ServerCommand::Add {
            server_id: format!("2:{i}"),
            data: SyncData::Item(Box::new(ApplicationData::new(Item::Contact(contact(i))))),
        })
        .collect();
    SyncResponse {
        collections: vec![coll],
        ..SyncResponse::default()
    }
}

/// Runs `f` repeatedly for about [`RUN_FOR`]; returns iterations per second.
fn rate(mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < RUN_FOR {
        f();
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

fn main() {
    for v in [ProtocolVersion::V14_1, ProtocolVersion::V16_1] {
        let resp = response();
        let bytes = to_wbxml(&resp, v, 64 << 20).expect("encode");
        let mb = bytes.len() as f64 / 1e6;
        println!(
            "EAS {v}: Sync response with {ITEMS} contacts = {} bytes",
            bytes.len()
        );

        let enc = rate(|| {
            black_box(to_wbxml(black_box(&resp), v, 64 << 20).expect("encode"));
        });
        let tree = rate(|| {
            black_box(wbxml::parse(black_box(&bytes), Limits::DEFAULT).expect("decode"));
        });
        let ctx = Context::new(v);
        let typed = rate(|| {
            let root = wbxml::parse(black_box(&bytes), Limits::DEFAULT).expect("decode");
            let r = SyncResponse::decode(&root, v).expect("typed");
            for c in &r.collections {
                for cmd in &c.commands {
                    if let ServerCommand::Add {
                        data: SyncData::Raw(e),
                        ..
                    } = cmd
                    {
                        let e = e.as_element();
                        black_box(
                            ApplicationData::decode(&e, Class::Contacts, &ctx).expect("item"),
                        );
                    }
                }
            }
        });
        for (what, per_s) in [
            ("encode (model -> WBXML)", enc),
            ("decode (WBXML -> tree)", tree),
            ("decode (WBXML -> model)", typed),
        ] {
            println!(
                "  {what:<26} {:>8.1} MB/s {:>10.0} items/s",
                per_s * mb,
                per_s * ITEMS as f64
            );
        }
    }
}
