//! The EAS form of a task: [MS-ASTASK] 2.2.2 (Tasks code page 9), with the notes in an
//! AirSyncBase Body ([MS-ASAIRS] 2.2.2.9) and the recurrence through
//! [`super::recurrence`] ([MS-ASTASK] 2.2.2.19, Tasks flavour).
//!
//! - Elements are written in the order of Microsoft's Tasks.xsd `AllProps`; the AirSyncBase
//!   Body takes the place of the old Tasks:Body.
//! - Start and due dates travel twice: UtcStartDate/UtcDueDate as instants, and
//!   StartDate/DueDate as the user's wall clock written as if it were UTC. Both are kept
//!   ([`TaskDate`]). When a client sends only one of a pair, the other is derived as if the
//!   user lived in UTC, which is all that can be known.
//! - `Complete` is required ([MS-ASTASK] 2.2.2 Complete): absent reads as not complete, and it
//!   is always written. The server must send DateCompleted with `Complete` 1, so a completed
//!   task without one is refused by the encoder rather than sent against the spec.
//! - OrdinalDate, SubOrdinalDate (flagged mail) and anything else unmapped stay in
//!   `unknown`.

use super::contact::{clean, format_date_time, format_timestamp, keep_unknown, read_list};
use super::contact::{read_date_time, read_timestamp, write_list};
use super::recurrence::{self, Flavor, TaskExtras};
use super::{Context, body};
use crate::eas::{Error, de};
use crate::model::Sensitivity;
use crate::model::task::{self as model, Importance, Task, TaskDate, TaskRecurrence};
use crate::wbxml::{Element, Encoder, OwnedElement, Tag, airsyncbase, tasks};
use jiff::Timestamp;
use jiff::civil::DateTime;

/// Reads the children of an `ApplicationData` (or `Properties`) of a Tasks folder.
pub fn decode(
    e: &Element<'_>,
    ctx: &Context<'_>,
    unknown: &mut Vec<OwnedElement>,
) -> Result<Task, Error> {
    let mut t = Task::default();
    let (mut utc_start, mut start, mut utc_due, mut due) = (None, None, None, None);
    for child in e.elements() {
        let tag = child.tag;
        if tag == tasks::SUBJECT {
            t.subject = Some(de::text_of(child)?.to_owned());
        } else if tag == airsyncbase::BODY {
            t.notes = Some(body::decode(child)?);
        } else if tag == tasks::IMPORTANCE {
            t.importance = Some(match de::num_of::<u8>(child)? {
                0 => Importance::Low,
                1 => Importance::Normal,
                2 => Importance::High,
                _ => return Err(bad(tag, "importance outside 0-2")),
            });
        } else if tag == tasks::UTC_START_DATE {
            utc_start = Some(read_timestamp(child)?);
        } else if tag == tasks::START_DATE {
            start = Some(read_date_time(child)?);
        } else if tag == tasks::UTC_DUE_DATE {
            utc_due = Some(read_timestamp(child)?);
        } else if tag == tasks::DUE_DATE {
            due = Some(read_date_time(child)?);
        } else if tag == tasks::CATEGORIES {
            t.categories = Some(read_list(
                child,
                tasks::CATEGORY,
                "task categories",
                model::MAX_CATEGORIES,
            )?);
        } else if tag == tasks::RECURRENCE {
            let (rule, extras) = recurrence::decode(child, Flavor::Tasks, ctx)?;
            t.recurrence = Some(TaskRecurrence {
                rule,
                start: extras.start,
                regenerate: extras.regenerate,
                dead_occur: extras.dead_occur,
            });
        } else if tag == tasks::COMPLETE {
            t.complete = read_bool(child)?;
        } else if tag == tasks::DATE_COMPLETED {
            t.date_completed = Some(read_timestamp(child)?);
        } else if tag == tasks::SENSITIVITY {
            t.sensitivity = Some(match de::num_of::<u8>(child)? {
                0 => Sensitivity::Normal,
                1 => Sensitivity::Personal,
                2 => Sensitivity::Private,
                3 => Sensitivity::Confidential,
                _ => return Err(bad(tag, "sensitivity outside 0-3")),
            });
        } else if tag == tasks::REMINDER_SET {
            t.reminder_set = Some(read_bool(child)?);
        } else if tag == tasks::REMINDER_TIME {
            t.reminder_time = Some(read_timestamp(child)?);
        } else {
            keep_unknown(unknown, child)?;
        }
    }
    t.start = pair(utc_start, start, tasks::START_DATE)?;
    t.due = pair(utc_due, due, tasks::DUE_DATE)?;
    Ok(t)
}

/// Writes the task's elements (no wrapper).
pub fn encode(item: &Task, w: &mut Encoder<'_>, ctx: &Context<'_>) -> Result<(), Error> {
    if item.complete && item.date_completed.is_none() {
        return Err(Error::Unencodable("completed task without DateCompleted"));
    }
    if let Some(s) = &item.subject {
        w.leaf(tasks::SUBJECT, &clean(s))?;
    }
    if let Some(notes) = &item.notes {
        body::encode(w, &clean(notes), ctx.body)?;
    }
    if let Some(i) = item.importance {
        let v: u8 = match i {
            Importance::Low => 0,
            Importance::Normal => 1,
            Importance::High => 2,
        };
        w.leaf_int(tasks::IMPORTANCE, v)?;
    }
    for (d, utc_tag, local_tag) in [
        (item.start, tasks::UTC_START_DATE, tasks::START_DATE),
        (item.due, tasks::UTC_DUE_DATE, tasks::DUE_DATE),
    ] {
        if let Some(d) = d {
            w.leaf(utc_tag, &format_timestamp(d.utc)?)?;
            w.leaf(local_tag, &format_date_time(d.local)?)?;
        }
    }
    if let Some(list) = &item.categories {
        write_list(
            w,
            tasks::CATEGORIES,
            tasks::CATEGORY,
            list,
            model::MAX_CATEGORIES,
        )?;
    }
    if let Some(r) = &item.recurrence {
        let extras = TaskExtras {
            start: r.start,
            regenerate: r.regenerate,
            dead_occur: r.dead_occur,
        };
        recurrence::encode(&r.rule, &extras, w, Flavor::Tasks, ctx)?;
    }
    w.leaf_int(tasks::COMPLETE, u8::from(item.complete))?;
    if let Some(ts) = item.date_completed {
        w.leaf(tasks::DATE_COMPLETED, &format_timestamp(ts)?)?;
    }
    if let Some(s) = item.sensitivity {
        let v: u8 = match s {
            Sensitivity::Normal => 0,
            Sensitivity::Personal => 1,
            Sensitivity::Private => 2,
            Sensitivity::Confidential => 3,
        };
        w.leaf_int(tasks::SENSITIVITY, v)?;
    }
    if let Some(ts) = item.reminder_time {
        w.leaf(tasks::REMINDER_TIME, &format_timestamp(ts)?)?;
    }
    if let Some(on) = item.reminder_set {
        w.leaf_int(tasks::REMINDER_SET, u8::from(on))?;
    }
    Ok(())
}

fn bad(tag: Tag, why: &'static str) -> Error {
    Error::BadValue { tag, why }
}

/// An EAS `0`/`1` (an empty element reads as 0).
fn read_bool(e: &Element<'_>) -> Result<bool, Error> {
    match de::text_of(e)?.trim() {
        "1" => Ok(true),
        "0" | "" => Ok(false),
        _ => Err(bad(e.tag, "expected 0 or 1")),
    }
}

/// Joins the UTC and local halves of a start or due date.
fn pair(
    utc: Option<Timestamp>,
    local: Option<DateTime>,
    tag: Tag,
) -> Result<Option<TaskDate>, Error> {
    Ok(match (utc, local) {
        (Some(utc), Some(local)) => Some(TaskDate { utc, local }),
        (Some(utc), None) => Some(TaskDate::from_utc(utc)),
        (None, Some(local)) => {
            let utc = jiff::tz::Offset::UTC
                .to_timestamp(local)
                .map_err(|_| bad(tag, "date out of range"))?;
            Some(TaskDate { utc, local })
        }
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::ProtocolVersion;
    use crate::wbxml::{self, Limits, airsync};
    use jiff::civil::date;

    fn ctx() -> Context<'static> {
        Context::new(ProtocolVersion::V16_1)
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn encode_bytes(t: &Task) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1 << 20).unwrap();
        w.start(airsync::APPLICATION_DATA).unwrap();
        encode(t, &mut w, &ctx())?;
        w.end().unwrap();
        w.finish().unwrap();
        Ok(out)
    }

    fn app_data(build: impl FnOnce(&mut Encoder<'_>)) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1 << 20).unwrap();
        w.start(airsync::APPLICATION_DATA).unwrap();
        build(&mut w);
        w.end().unwrap();
        w.finish().unwrap();
        out
    }

    fn decode_bytes(bytes: &[u8]) -> Result<(Task, Vec<OwnedElement>), Error> {
        let root = wbxml::parse(bytes, Limits::DEFAULT).unwrap();
        let mut unknown = Vec::new();
        let t = decode(&root, &ctx(), &mut unknown)?;
        Ok((t, unknown))
    }

    fn rich() -> Task {
        Task {
            subject: Some("Call Rossi".into()),
            notes: Some("About the offer\nby phone".into()),
            importance: Some(Importance::High),
            start: Some(TaskDate {
                utc: ts("2024-03-04T23:00:00Z"),
                local: date(2024, 3, 5).at(0, 0, 0, 0),
            }),
            due: Some(TaskDate {
                utc: ts("2024-03-07T23:00:00Z"),
                local: date(2024, 3, 8).at(0, 0, 0, 0),
            }),
            categories: Some(vec!["Sales".into(), "Call".into()]),
            recurrence: None,
            complete: true,
            date_completed: Some(ts("2024-03-06T15:20:00Z")),
            sensitivity: Some(Sensitivity::Private),
            reminder_set: Some(true),
            reminder_time: Some(ts("2024-03-07T08:00:00Z")),
        }
    }

    #[test]
    fn round_trip() {
        let t = rich();
        let (back, unknown) = decode_bytes(&encode_bytes(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert!(unknown.is_empty());
        let minimal = Task::default();
        let bytes = encode_bytes(&minimal).unwrap();
        let root = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(root.child_text(tasks::COMPLETE), Some("0"));
        assert_eq!(root.elements().count(), 1);
        assert_eq!(decode_bytes(&bytes).unwrap().0, minimal);
    }

    #[test]
    fn dates_are_written_utc_and_local() {
        let bytes = encode_bytes(&rich()).unwrap();
        let root = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(
            root.child_text(tasks::UTC_START_DATE),
            Some("2024-03-04T23:00:00.000Z")
        );
        assert_eq!(
            root.child_text(tasks::START_DATE),
            Some("2024-03-05T00:00:00.000Z")
        );
        assert_eq!(
            root.child_text(tasks::DATE_COMPLETED),
            Some("2024-03-06T15:20:00.000Z")
        );
        let order: Vec<Tag> = root.elements().map(|e| e.tag).collect();
        assert_eq!(
            order,
            [
                tasks::SUBJECT,
                airsyncbase::BODY,
                tasks::IMPORTANCE,
                tasks::UTC_START_DATE,
                tasks::START_DATE,
                tasks::UTC_DUE_DATE,
                tasks::DUE_DATE,
                tasks::CATEGORIES,
                tasks::COMPLETE,
                tasks::DATE_COMPLETED,
                tasks::SENSITIVITY,
                tasks::REMINDER_TIME,
                tasks::REMINDER_SET,
            ]
        );
    }

    #[test]
    fn half_pairs_and_compact_dates() {
        let bytes = app_data(|w| {
            w.leaf(tasks::UTC_DUE_DATE, "20240307T230000Z").unwrap();
            w.leaf(tasks::START_DATE, "2024-03-05T09:00:00.000Z")
                .unwrap();
        });
        let (t, _) = decode_bytes(&bytes).unwrap();
        assert_eq!(
            t.due,
            Some(TaskDate {
                utc: ts("2024-03-07T23:00:00Z"),
                local: date(2024, 3, 7).at(23, 0, 0, 0),
            })
        );
        assert_eq!(
            t.start,
            Some(TaskDate {
                utc: ts("2024-03-05T09:00:00Z"),
                local: date(2024, 3, 5).at(9, 0, 0, 0),
            })
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for (tag, value) in [
            (tasks::IMPORTANCE, "3"),
            (tasks::IMPORTANCE, "x"),
            (tasks::SENSITIVITY, "4"),
            (tasks::COMPLETE, "2"),
            (tasks::REMINDER_SET, "yes"),
            (tasks::DUE_DATE, "tomorrow"),
            (tasks::UTC_START_DATE, "2024-02-30T00:00:00Z"),
        ] {
            let bytes = app_data(|w| w.leaf(tag, value).unwrap());
            assert!(decode_bytes(&bytes).is_err(), "{tag:?} {value}");
        }
    }

    #[test]
    fn completed_without_date() {
        // A client may leave DateCompleted out; the server may not.
        let bytes = app_data(|w| w.leaf(tasks::COMPLETE, "1").unwrap());
        let (t, _) = decode_bytes(&bytes).unwrap();
        assert!(t.complete && t.date_completed.is_none());
        assert_eq!(
            encode_bytes(&t),
            Err(Error::Unencodable("completed task without DateCompleted"))
        );
    }

    #[test]
    fn categories_cap() {
        let build = |n: u32| {
            app_data(|w| {
                w.start(tasks::CATEGORIES).unwrap();
                for i in 0..n {
                    w.leaf(tasks::CATEGORY, &format!("c{i}")).unwrap();
                }
                w.end().unwrap();
            })
        };
        let (t, _) = decode_bytes(&build(model::MAX_CATEGORIES)).unwrap();
        assert_eq!(
            t.categories.map(|c| c.len()),
            Some(model::MAX_CATEGORIES as usize)
        );
        assert_eq!(
            decode_bytes(&build(model::MAX_CATEGORIES + 1)).map(|_| ()),
            Err(Error::TooMany {
                what: "task categories",
                cap: model::MAX_CATEGORIES
            })
        );
        let over = Task {
            categories: Some(vec![String::new(); model::MAX_CATEGORIES as usize + 1]),
            ..Task::default()
        };
        assert!(encode_bytes(&over).is_err());
    }

    #[test]
    fn unknown_elements_are_kept() {
        let bytes = app_data(|w| {
            w.leaf(tasks::SUBJECT, "s").unwrap();
            w.leaf(tasks::ORDINAL_DATE, "2024-03-05T00:00:00.000Z")
                .unwrap();
            w.leaf(tasks::SUB_ORDINAL_DATE, "5").unwrap();
        });
        let (t, unknown) = decode_bytes(&bytes).unwrap();
        assert_eq!(t.subject.as_deref(), Some("s"));
        let tags: Vec<Tag> = unknown.iter().map(|u| u.tag).collect();
        assert_eq!(tags, [tasks::ORDINAL_DATE, tasks::SUB_ORDINAL_DATE]);
        let cap = super::super::caps::MAX_UNKNOWN_ELEMENTS;
        let many = app_data(|w| {
            for _ in 0..=cap {
                w.leaf(tasks::SUB_ORDINAL_DATE, "1").unwrap();
            }
        });
        assert_eq!(
            decode_bytes(&many).map(|_| ()),
            Err(Error::TooMany {
                what: "unknown elements",
                cap
            })
        );
    }
}
