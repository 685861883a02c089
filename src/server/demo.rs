//! The demo data set `easbox serve --demo` seeds: 200 contacts, 50 events (some recurring,
//! some all-day, several time zones) and 20 tasks, deterministic for a seed so that a newcomer
//! and a test see the same data.
//!
//! The demo runs the fake vtenext in-process ([`fake_config`], [`fill_fake`]): the data set is
//! created there as records of the CRM user `demo`, the way a user would in the web UI, and the
//! connector brings it to the box like from a real CRM. The CRM keeps only what vtenext can
//! hold: an event's own zone becomes the user's (the instants stay), and a recurrence becomes
//! vtenext's `recurringtype` label (CRM-API §4). The fake lives in memory: what phones wrote
//! back to it is gone after a restart.

use crate::crm::fake::{FakeConfig, FakeHandle, FakeUser};
use crate::crm::map;
use crate::model::event::Event;
use crate::model::recurrence::{Frequency, Recurrence, RecurrenceEnd, Weekdays};
use crate::model::task::{Importance, Task, TaskDate};
use crate::model::{Contact, contact::Address};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan};

pub const CONTACTS: u32 = 200;
pub const EVENTS: u32 = 50;
pub const TASKS: u32 = 20;

const FIRST: [&str; 12] = [
    "Giulia", "Marco", "Sofia", "Luca", "Anna", "Paolo", "Chiara", "Davide", "Elena", "Franco",
    "Marta", "Stefano",
];
const LAST: [&str; 10] = [
    "Rossi", "Bianchi", "Russo", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci", "Marino",
    "Greco",
];
const CITIES: [(&str, &str); 5] = [
    ("Milano", "20121"),
    ("Roma", "00184"),
    ("Torino", "10121"),
    ("Bologna", "40121"),
    ("Napoli", "80133"),
];
const ZONES: [&str; 5] = [
    "Europe/Rome",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
];

/// The CRM user that owns the demo data (and the box user of the same name).
pub const DEMO_USER: &str = "demo";
/// The demo CRM's integration user (its administrator).
pub const DEMO_ADMIN: &str = "admin";
/// The demo CRM's server zone, also the demo user's.
pub const DEMO_TZ: &str = "Europe/Rome";

/// The fake CRM of the demo: an administrator (the integration user) and the user `demo`,
/// whose CRM password is `demo_password`; no generated records (see [`fill_fake`]).
pub fn fake_config(admin_key: &str, demo_password: &str, demo_key: &str) -> FakeConfig {
    FakeConfig {
        seed: 0,
        tz: DEMO_TZ.to_owned(),
        users: vec![
            FakeUser::new(DEMO_ADMIN, admin_key, admin_key, ""),
            FakeUser::new(DEMO_USER, demo_password, demo_key, ""),
        ],
        ..FakeConfig::default()
    }
}

/// Creates the data set in the fake CRM as records of [`DEMO_USER`]. Returns how many records
/// were created; a record the fake refuses is logged and left out.
pub fn fill_fake(h: &FakeHandle, seed: u64, today: Date, now: Timestamp) -> u32 {
    let tz = TimeZone::get(DEMO_TZ).unwrap_or(TimeZone::UTC);
    let mut records: Vec<(&str, map::Outgoing)> = Vec::new();
    records.extend(
        contacts(seed)
            .iter()
            .map(|c| ("Contacts", map::contact_fields(c))),
    );
    for e in events(seed, today) {
        match map::event_fields(&e, &tz) {
            Ok(o) => records.push(("Events", o)),
            Err(err) => log::warn!("demo event not created: {err}"),
        }
    }
    for mut t in tasks(seed, now) {
        // vtenext requires a task's start date (CRM-API §4); the demo's tasks start when due.
        if t.start.is_none() {
            t.start = t.due;
        }
        records.push(("Calendar", map::task_fields(&t, &tz)));
    }
    let mut made = 0u32;
    for (module, out) in records {
        let fields: Vec<(&str, &str)> = out
            .fields
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
            .collect();
        match h.create(module, DEMO_USER, &fields) {
            Ok(_) => made += 1,
            Err(err) => log::warn!("demo {module} record not created: {err}"),
        }
    }
    made
}

/// A small deterministic generator (SplitMix64): demo data must not depend on a random source.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n.max(1))) as u32
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u32) as usize]
    }
}

pub fn contacts(seed: u64) -> Vec<Contact> {
    let mut r = Rng(seed);
    (0..CONTACTS)
        .map(|i| {
            let first = r.pick(&FIRST);
            let last = r.pick(&LAST);
            let (city, cap) = CITIES[r.below(CITIES.len() as u32) as usize];
            let login = format!("{}.{}{i}", first.to_lowercase(), last.to_lowercase());
            Contact {
                first_name: Some(first.to_owned()),
                last_name: Some(last.to_owned()),
                file_as: Some(format!("{last}, {first}")),
                company_name: Some(format!("{} S.r.l.", r.pick(&LAST))),
                job_title: Some(
                    ["Acquisti", "Vendite", "Direzione", "Tecnico"][i as usize % 4].into(),
                ),
                email: [Some(format!("{login}@example.com")), None, None],
                mobile_phone: Some(format!(
                    "+39 3{:02} {:07}",
                    r.below(100),
                    r.below(10_000_000)
                )),
                business_phone: Some(format!("+39 0{} {:06}", 2 + i % 8, r.below(1_000_000))),
                business_address: Address {
                    street: Some(format!("Via Garibaldi {}", 1 + r.below(200))),
                    city: Some(city.to_owned()),
                    postal_code: Some(cap.to_owned()),
                    country: Some("Italia".to_owned()),
                    state: None,
                },
                birthday: (i % 3 == 0)
                    .then(|| {
                        Date::new(
                            1960 + r.below(40) as i16,
                            1 + r.below(12) as i8,
                            1 + r.below(28) as i8,
                        )
                        .ok()
                    })
                    .flatten(),
                notes: (i % 5 == 0).then(|| format!("Demo contact {i}.")),
                ..Contact::default()
            }
        })
        .collect()
}

/// Events around `today`: timed meetings in several zones, all-day events, and recurring
/// series of each frequency.
pub fn events(seed: u64, today: Date) -> Vec<Event> {
    let mut r = Rng(seed ^ 0xE7E7);
    (0..EVENTS)
        .map(|i| {
            let zone_name = ZONES[i as usize % ZONES.len()];
            let tz = TimeZone::get(zone_name).unwrap_or(TimeZone::UTC);
            let day = today
                .checked_add(Span::new().days(i64::from(r.below(60)) - 20))
                .unwrap_or(today);
            let mut ev = if i % 7 == 3 {
                let end = day.checked_add(1.day()).unwrap_or(day);
                Event::all_day(&format!("Giornata {i}"), day, end, tz.clone())
            } else {
                let hour = 8 + r.below(9) as i8;
                let minute = if r.below(2) == 0 { 0 } else { 30 };
                let start = day
                    .at(hour, minute, 0, 0)
                    .to_zoned_datetime(tz.clone())
                    .map(|z| z.timestamp())
                    .unwrap_or(Timestamp::UNIX_EPOCH);
                let end = start
                    .checked_add(Span::new().minutes(30 * (1 + i64::from(r.below(4)))))
                    .unwrap_or(start);
                Event::timed(
                    &format!("Riunione {i} ({zone_name})"),
                    start,
                    end,
                    tz.clone(),
                )
            };
            ev.location = ["Sala A", "Sala B", "Online", ""][i as usize % 4].to_owned();
            ev.reminder = Some(15);
            ev.uid = Some(format!("easbox-demo-{seed}-{i}"));
            ev.recurrence = match i % 10 {
                1 => Some(Recurrence {
                    end: RecurrenceEnd::Count(10),
                    ..Recurrence::new(Frequency::Daily)
                }),
                2 => Some(Recurrence {
                    weekdays: Weekdays::EMPTY.with(day.weekday()),
                    ..Recurrence::new(Frequency::Weekly)
                }),
                5 => Some(Recurrence {
                    weekdays: Weekdays::EMPTY.with(Weekday::Friday),
                    set_pos: Some(-1),
                    ..Recurrence::new(Frequency::Monthly)
                }),
                8 => Some(Recurrence {
                    month: Some(day.month() as u8),
                    month_day: Some(day.day() as u8),
                    ..Recurrence::new(Frequency::Yearly)
                }),
                _ => None,
            };
            ev
        })
        .collect()
}

pub fn tasks(seed: u64, now: Timestamp) -> Vec<Task> {
    let mut r = Rng(seed ^ 0x7A5C);
    (0..TASKS)
        .map(|i| {
            let due = now
                .checked_add(Span::new().hours(24 * (i64::from(r.below(30)) - 5)))
                .unwrap_or(now);
            Task {
                subject: Some(format!("Attività {i}: richiamare {}", r.pick(&LAST))),
                importance: Some(
                    [Importance::Low, Importance::Normal, Importance::High][i as usize % 3],
                ),
                due: Some(TaskDate::from_utc(due)),
                complete: i % 6 == 5,
                date_completed: (i % 6 == 5).then_some(now),
                ..Task::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_takes_every_demo_record() {
        let fake = crate::crm::fake::FakeCrm::new(fake_config("K", "pw", "D")).unwrap();
        let h = fake.handle();
        let today = Date::constant(2026, 11, 25);
        let now = Timestamp::from_second(1_795_000_000).unwrap();
        assert_eq!(fill_fake(&h, 7, today, now), CONTACTS + EVENTS + TASKS);
        assert_eq!(h.ids("Contacts", Some(DEMO_USER)).len(), CONTACTS as usize);
        assert_eq!(h.ids("Events", Some(DEMO_USER)).len(), EVENTS as usize);
        assert_eq!(h.ids("Calendar", Some(DEMO_USER)).len(), TASKS as usize);
        let all_day = h
            .ids("Events", None)
            .iter()
            .filter_map(|id| h.record(id))
            .filter(|r| r.get("is_all_day_event").map(String::as_str) == Some("1"))
            .count();
        assert!(all_day > 0);
    }

    #[test]
    fn sizes_and_determinism() {
        let today = Date::constant(2026, 11, 25);
        let now = Timestamp::from_second(1_795_000_000).unwrap();
        assert_eq!(contacts(7).len(), CONTACTS as usize);
        assert_eq!(events(7, today).len(), EVENTS as usize);
        assert_eq!(tasks(7, now).len(), TASKS as usize);
        assert_eq!(contacts(7), contacts(7));
        assert_ne!(contacts(7), contacts(8));
        let evs = events(7, today);
        assert!(evs.iter().any(|e| e.time.is_all_day()));
        assert!(evs.iter().filter(|e| e.recurrence.is_some()).count() >= 10);
        let zones: std::collections::BTreeSet<_> = evs
            .iter()
            .filter_map(|e| e.time_zone.iana_name().map(str::to_owned))
            .collect();
        assert!(zones.len() >= 4, "{zones:?}");
    }
}
