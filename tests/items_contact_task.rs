//! Contacts and tasks in EAS form: golden encodings for 14.1 and 16.1, round trips through
//! `ApplicationData`, unknown elements, birthdays per client family.

mod common;

use easbox::eas::ProtocolVersion;
use easbox::eas::items::{ApplicationData, BodyPreference, Class, ClientKind, Context};
use easbox::model::contact::{Address, Contact};
use easbox::model::task::{Importance, Task, TaskDate, TaskRecurrence};
use easbox::model::{Frequency, Item, Recurrence, RecurrenceEnd, Sensitivity, Weekdays};
use easbox::wbxml::{self, Encoder, Limits, OwnedElement, airsync, airsyncbase, contacts, tasks};
use jiff::Timestamp;
use jiff::civil::{Weekday, date};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn rich_contact() -> Contact {
    Contact {
        title: s("Dott."),
        first_name: s("Giulia"),
        middle_name: s("Maria"),
        last_name: s("Rossi"),
        suffix: s("Jr."),
        yomi_first_name: s("ジュリア"),
        yomi_last_name: s("ロッシ"),
        yomi_company_name: s("アクメ"),
        nickname: s("Giuli"),
        file_as: s("Rossi, Giulia"),
        company_name: s("Acme S.p.A."),
        department: s("Sales"),
        job_title: s("Account manager"),
        office_location: s("Building B, 2nd floor"),
        assistant_name: s("Marco Bianchi"),
        manager_name: s("Anna Verdi"),
        email: [
            s("\"Giulia Rossi\" <giulia.rossi@acme.example>"),
            s("giulia@home.example"),
            s("g.rossi@other.example"),
        ],
        im_address: [
            s("sip:giulia@acme.example"),
            s("xmpp:giulia@chat.example"),
            s("giulia.r"),
        ],
        web_page: s("https://acme.example/~giulia"),
        business_phone: s("+39 02 1234567"),
        business2_phone: s("+39 02 1234568"),
        home_phone: s("+39 02 7654321"),
        home2_phone: s("+39 02 7654322"),
        mobile_phone: s("+39 333 1234567"),
        car_phone: s("+39 333 7654321"),
        pager: s("555-0100"),
        radio_phone: s("555-0101"),
        business_fax: s("+39 02 1234569"),
        home_fax: s("+39 02 7654329"),
        company_main_phone: s("+39 02 1234000"),
        assistant_phone: s("+39 02 1234570"),
        mms: s("+39 333 1234567"),
        business_address: Address {
            street: s("Via Roma 1\nScala A"),
            city: s("Milano"),
            state: s("MI"),
            postal_code: s("20121"),
            country: s("Italia"),
        },
        home_address: Address {
            street: s("Via Verdi 7"),
            city: s("Monza"),
            state: s("MB"),
            postal_code: s("20900"),
            country: s("Italia"),
        },
        other_address: Address {
            street: s("Rue de Rivoli 10"),
            city: s("Paris"),
            state: None,
            postal_code: s("75001"),
            country: s("France"),
        },
        birthday: Some(date(1980, 5, 5)),
        anniversary: Some(date(2010, 9, 18)),
        spouse: s("Luca Rossi"),
        children: Some(vec!["Sofia".into(), "Leonardo".into()]),
        categories: Some(vec!["Customers".into(), "VIP".into()]),
        picture: Some(vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1,
        ]),
        notes: s("Met at the fair.\nPrefers calls after 10."),
        customer_id: s("CU-1042"),
        government_id: s("RSSGLI80E45F205X"),
        account_name: s("acme-milano"),
        alias: s("grossi"),
        weighted_rank: Some(7),
    }
}

fn minimal_contact() -> Contact {
    Contact {
        first_name: s("Ann"),
        ..Contact::default()
    }
}

fn rich_task() -> Task {
    Task {
        subject: s("Send the offer to Acme"),
        notes: s("Include the\nvolume discount."),
        importance: Some(Importance::High),
        start: Some(TaskDate {
            utc: ts("2024-03-04T23:00:00Z"),
            local: date(2024, 3, 5).at(0, 0, 0, 0),
        }),
        due: Some(TaskDate {
            utc: ts("2024-03-07T23:00:00Z"),
            local: date(2024, 3, 8).at(0, 0, 0, 0),
        }),
        categories: Some(vec!["Sales".into()]),
        recurrence: None,
        complete: true,
        date_completed: Some(ts("2024-03-06T15:20:00Z")),
        sensitivity: Some(Sensitivity::Confidential),
        reminder_set: Some(true),
        reminder_time: Some(ts("2024-03-07T08:00:00Z")),
    }
}

fn minimal_task() -> Task {
    Task {
        subject: s("Call back"),
        ..Task::default()
    }
}

fn ctx(version: ProtocolVersion, client: ClientKind) -> Context<'static> {
    Context {
        client,
        ..Context::new(version)
    }
}

fn encode(ad: &ApplicationData, ctx: &Context<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1 << 20).unwrap();
    ad.encode(&mut w, ctx).unwrap();
    w.finish().unwrap();
    out
}

fn decode(bytes: &[u8], class: Class, ctx: &Context<'_>) -> ApplicationData {
    let root = wbxml::parse(bytes, Limits::DEFAULT).unwrap();
    assert_eq!(root.tag, airsync::APPLICATION_DATA);
    ApplicationData::decode(&root, class, ctx).unwrap()
}

const V14: ProtocolVersion = ProtocolVersion::V14_1;
const V16: ProtocolVersion = ProtocolVersion::V16_1;

// One test per golden file: a blessing run stops at the first file it writes.

#[test]
fn golden_contact_rich_14_1() {
    // The AOSP client (14.1) and iOS (16.1) show two birthday times of day.
    let rich = ApplicationData::new(Item::Contact(rich_contact()));
    common::golden(
        "items/contact_rich_14_1",
        &encode(&rich, &ctx(V14, ClientKind::AndroidAosp)),
    );
}

#[test]
fn golden_contact_rich_16_1() {
    let rich = ApplicationData::new(Item::Contact(rich_contact()));
    common::golden(
        "items/contact_rich_16_1",
        &encode(&rich, &ctx(V16, ClientKind::Ios)),
    );
}

#[test]
fn golden_contact_minimal_14_1() {
    let minimal = ApplicationData::new(Item::Contact(minimal_contact()));
    common::golden(
        "items/contact_minimal_14_1",
        &encode(&minimal, &ctx(V14, ClientKind::Other)),
    );
}

#[test]
fn golden_contact_minimal_16_1() {
    let minimal = ApplicationData::new(Item::Contact(minimal_contact()));
    common::golden(
        "items/contact_minimal_16_1",
        &encode(&minimal, &ctx(V16, ClientKind::Other)),
    );
}

#[test]
fn golden_task_rich_14_1() {
    let rich = ApplicationData::new(Item::Task(rich_task()));
    common::golden(
        "items/task_rich_14_1",
        &encode(&rich, &ctx(V14, ClientKind::Other)),
    );
}

#[test]
fn golden_task_rich_16_1() {
    let rich = ApplicationData::new(Item::Task(rich_task()));
    common::golden(
        "items/task_rich_16_1",
        &encode(&rich, &ctx(V16, ClientKind::Other)),
    );
}

#[test]
fn golden_task_minimal_14_1() {
    let minimal = ApplicationData::new(Item::Task(minimal_task()));
    common::golden(
        "items/task_minimal_14_1",
        &encode(&minimal, &ctx(V14, ClientKind::Other)),
    );
}

#[test]
fn golden_task_minimal_16_1() {
    let minimal = ApplicationData::new(Item::Task(minimal_task()));
    common::golden(
        "items/task_minimal_16_1",
        &encode(&minimal, &ctx(V16, ClientKind::Other)),
    );
}

#[test]
fn golden_contact_html_body_truncated() {
    let pref = BodyPreference {
        body_type: 2,
        truncation_size: Some(16),
        all_or_none: false,
        preview: None,
    };
    let c = Contact {
        last_name: s("Rossi"),
        notes: s("Line one\nLine two and more"),
        ..Contact::default()
    };
    let ctx = Context {
        body: Some(&pref),
        ..ctx(V16, ClientKind::Other)
    };
    let ad = ApplicationData::new(Item::Contact(c));
    common::golden("items/contact_html_body_16_1", &encode(&ad, &ctx));
}

#[test]
fn full_items_round_trip() {
    for v in [ProtocolVersion::V14_0, V14, ProtocolVersion::V16_0, V16] {
        for client in [
            ClientKind::Other,
            ClientKind::Gmail,
            ClientKind::AndroidAosp,
            ClientKind::Samsung,
            ClientKind::Ios,
            ClientKind::WindowsPhone,
            ClientKind::BlackBerry,
        ] {
            let ctx = ctx(v, client);
            for (ad, class) in [
                (
                    ApplicationData::new(Item::Contact(rich_contact())),
                    Class::Contacts,
                ),
                (
                    ApplicationData::new(Item::Contact(minimal_contact())),
                    Class::Contacts,
                ),
                (ApplicationData::new(Item::Task(rich_task())), Class::Tasks),
                (
                    ApplicationData::new(Item::Task(minimal_task())),
                    Class::Tasks,
                ),
            ] {
                let back = decode(&encode(&ad, &ctx), class, &ctx);
                assert_eq!(back, ad, "{v} {client:?}");
            }
        }
    }
}

#[test]
fn unknown_elements_survive_a_round_trip() {
    let ctx = ctx(V16, ClientKind::Ios);
    // What a client might send that the model lacks: a 2.5 Contacts:Body, an element of
    // another page, a nested one.
    let unknown = vec![
        OwnedElement::leaf(contacts::BODY, "old style body"),
        OwnedElement::leaf(airsyncbase::NATIVE_BODY_TYPE, "1"),
        OwnedElement::new(contacts::CATEGORY).with(OwnedElement::leaf(contacts::CHILD, "x")),
    ];
    let ad = ApplicationData {
        item: Item::Contact(rich_contact()),
        unknown: unknown.clone(),
    };
    let once = decode(&encode(&ad, &ctx), Class::Contacts, &ctx);
    assert_eq!(once, ad);
    let twice = decode(&encode(&once, &ctx), Class::Contacts, &ctx);
    assert_eq!(twice.unknown, unknown);

    let task = ApplicationData {
        item: Item::Task(rich_task()),
        unknown: vec![
            OwnedElement::leaf(tasks::ORDINAL_DATE, "2024-03-05T00:00:00.000Z"),
            OwnedElement::leaf(tasks::SUB_ORDINAL_DATE, "0"),
        ],
    };
    assert_eq!(decode(&encode(&task, &ctx), Class::Tasks, &ctx), task);
}

#[test]
fn unknown_elements_cap() {
    let cap = easbox::eas::items::caps::MAX_UNKNOWN_ELEMENTS;
    let ctx = ctx(V14, ClientKind::Other);
    for (class, tag) in [
        (Class::Contacts, contacts::BODY),
        (Class::Tasks, tasks::SUB_ORDINAL_DATE),
    ] {
        let build = |n: u32| {
            let mut out = Vec::new();
            let mut w = Encoder::new(&mut out, 1 << 20).unwrap();
            w.start(airsync::APPLICATION_DATA).unwrap();
            for i in 0..n {
                w.leaf(tag, &i.to_string()).unwrap();
            }
            w.end().unwrap();
            w.finish().unwrap();
            out
        };
        let ok = build(cap);
        let root = wbxml::parse(&ok, Limits::DEFAULT).unwrap();
        let ad = ApplicationData::decode(&root, class, &ctx).unwrap();
        assert_eq!(ad.unknown.len(), cap as usize);
        let over = build(cap + 1);
        let root = wbxml::parse(&over, Limits::DEFAULT).unwrap();
        assert!(ApplicationData::decode(&root, class, &ctx).is_err());
    }
}

#[test]
fn birthday_per_client_kind() {
    let c = ApplicationData::new(Item::Contact(Contact {
        birthday: Some(date(1975, 1, 1)),
        ..Contact::default()
    }));
    for (client, device_type, agent, sent) in [
        (
            ClientKind::Gmail,
            "Android",
            "Android-Mail/2024.01.01",
            "1975-01-01T00:00:00.000Z",
        ),
        (
            ClientKind::AndroidAosp,
            "Android",
            "Android/7.0-EAS-2.0",
            "1975-01-01T08:00:00.000Z",
        ),
        (
            ClientKind::Samsung,
            "SAMSUNGSMA515F",
            "SAMSUNG-SM-A515F/101",
            "1975-01-01T00:00:00.000Z",
        ),
        (
            ClientKind::Ios,
            "iPhone",
            "Apple-iPhone14C2/2104.65",
            "1975-01-01T00:00:00.000Z",
        ),
        (
            ClientKind::WindowsPhone,
            "WP8",
            "MSFT-WP/8.10.14219",
            "1975-01-01T00:00:00.000Z",
        ),
        (
            ClientKind::BlackBerry,
            "BlackBerry",
            "RIM-BlackBerry/10",
            "1975-01-01T11:00:00.000Z",
        ),
        (
            ClientKind::Other,
            "Nine",
            "Nine/4.9",
            "1975-01-01T00:00:00.000Z",
        ),
    ] {
        assert_eq!(ClientKind::from_device(device_type, Some(agent)), client);
        let ctx = ctx(V14, client);
        let bytes = encode(&c, &ctx);
        let root = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(
            root.child_text(contacts::BIRTHDAY),
            Some(sent),
            "{client:?}"
        );
        assert_eq!(decode(&bytes, Class::Contacts, &ctx), c, "{client:?}");
    }
    // A phone east of UTC writing its local midnight: still the 1st of January.
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1024).unwrap();
    w.start(airsync::APPLICATION_DATA).unwrap();
    w.leaf(contacts::BIRTHDAY, "1974-12-31T23:00:00.000Z")
        .unwrap();
    w.end().unwrap();
    w.finish().unwrap();
    for client in [ClientKind::Ios, ClientKind::AndroidAosp, ClientKind::Other] {
        let ad = decode(&out, Class::Contacts, &ctx(V16, client));
        assert_eq!(ad, c, "{client:?}");
    }
}

#[test]
fn empty_picture_is_not_absent() {
    let ctx = ctx(V16, ClientKind::Ios);
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1024).unwrap();
    w.start(airsync::APPLICATION_DATA).unwrap();
    w.leaf(contacts::LAST_NAME, "Rossi").unwrap();
    w.empty(contacts::PICTURE).unwrap();
    w.end().unwrap();
    w.finish().unwrap();
    let Item::Contact(c) = decode(&out, Class::Contacts, &ctx).item else {
        panic!("not a contact");
    };
    assert_eq!(c.picture, Some(Vec::new()));
}

fn recurring_task() -> Task {
    let mut rule = Recurrence::new(Frequency::Weekly);
    rule.interval = 2;
    rule.weekdays = [Weekday::Monday, Weekday::Thursday]
        .into_iter()
        .collect::<Weekdays>();
    rule.end = RecurrenceEnd::Count(10);
    Task {
        recurrence: Some(TaskRecurrence {
            rule,
            start: Some(ts("2024-03-04T00:00:00Z")),
            regenerate: false,
            dead_occur: false,
        }),
        complete: false,
        date_completed: None,
        ..rich_task()
    }
}

#[test]
fn recurring_task_round_trips() {
    for v in [V14, V16] {
        let ctx = ctx(v, ClientKind::Other);
        let ad = ApplicationData::new(Item::Task(recurring_task()));
        let bytes = encode(&ad, &ctx);
        let root = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        let rec = root.child(tasks::RECURRENCE).expect("a Recurrence element");
        assert_eq!(rec.child_text(tasks::TYPE), Some("1"));
        assert_eq!(decode(&bytes, Class::Tasks, &ctx), ad, "{v}");
    }
}
