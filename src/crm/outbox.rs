//! The write-back outbox's drain (issue 4; CRM-API §2.5–2.7, §3, §7): device changes queued by
//! `store::outbox` are written to the CRM, retried with backoff, never created twice.
//!
//! For each due entry, in queue order:
//! - **Who writes.** The user's own client when `as_user` has one, so the CRM applies that
//!   user's permissions (CRM-API §4 "Ownership"); otherwise the integration user. Creates are
//!   owned by the box user's CRM id (`store::crm::CrmUser::crm_id`).
//! - **Zones.** The CRM reads written event and task times in the zone of the user who writes,
//!   and shows the record that a create/retrieve/revise returns in that zone too (CRM-API §3,
//!   [`Source::Record`]). That zone is the writer's `CrmUser::tz` (and the date format its
//!   `date_format`), as the pull's user discovery stores them. The server's zone is never
//!   needed here: nothing read comes from `query` or `sync` except record ids. A writer whose
//!   zone or format is unknown yet (users not discovered) leaves the entry waiting with backoff
//!   rather than writing times in a guessed zone.
//! - **Create** (an item the CRM never held): the entry is first made durable as
//!   [`OutboxState::Creating`], then `create` is sent. When the reply is lost (or the box dies
//!   before it commits the answer), the CRM may hold the record already: before any second
//!   create, `find_created` looks for it: records of that owner created since the first
//!   attempt (less [`RECOVERY_MARGIN_SECS`]) whose key fields match what was sent (contacts:
//!   last name, first name, e-mail; events: subject, start date and time; tasks: subject,
//!   start date), and adopts it. The CRM id and modifiedtime then replace the box's temporary
//!   identity without a change-log entry (`StoreTxn::set_crm_ref`): the phone sees nothing.
//! - **Change** (an item the CRM holds): `revise` with only the fields that differ from the
//!   item as it was last in step with the CRM (`map::revise`). First the record is retrieved:
//!   when its modifiedtime is not the one the box last saw, both sides changed since the last
//!   pull and the **conflict rule** applies: the CRM wins (its version is written to the box
//!   item with `Origin::Crm`, so phones get it, keeping what the CRM cannot hold), unless the
//!   phone asked for client-wins (Sync Conflict 0, [MS-ASCMD] 2.2.3.34), in which case the
//!   phone's whole field set is written. Every conflict is logged at info with its ids.
//! - **Delete**: `delete`; a record already deleted is fine. A record the integration user
//!   cannot see either is gone (the integration user is a CRM administrator).
//! - **Errors.** A transient failure ([`CrmError::is_transient`], and refused credentials,
//!   which the admin can fix) keeps the entry with backoff ([`backoff_secs`]) and ends this
//!   drain: the CRM is not hammered while it is down. A refusal (an API error such as
//!   MANDATORY_FIELDS_MISSING or ACCESS_DENIED, an unmappable item or record) turns the entry
//!   into [`OutboxState::Failed`] with the reason: kept for status and the admin, logged at
//!   warn, never retried by itself and never dropped silently. A record that is gone or hidden
//!   when a change is written also fails the entry: the box item is not deleted on that
//!   evidence alone (the pull's id listing decides), DESIGN "never turns into deletes".
//!
//! - **Company** (CRM-API §4, a contact's `account_id`→Accounts): a phone's CompanyName is
//!   the name of an Account. A create, or a change of the company, looks the account up by
//!   `accountname` ([`find_account`]; the lowest id wins, an exact-case match first) and sets
//!   `account_id`; when none exists, one is **created, owned by the contact's owner**:
//!   otherwise the CRM would lose the company the user typed, and users of such a product
//!   expect the account to appear. Account creates are idempotent the same way as contact
//!   creates: after a failed or lost create the account is searched by name again before
//!   any second create. An empty company clears the link (`account_id: ""`, which vtenext's
//!   reference sanitising leaves empty, CRM-API §1 "An empty reference is `\"\"`"). A refused
//!   account lookup or create (no permission on Accounts) does not fail the contact: it is
//!   written without the link, logged at warn, and the company stays on the box. Names are
//!   cut to [`MAX_ACCOUNT_NAME_CHARS`] (the column's width) so that a second lookup finds
//!   what the first create stored. On a conflict the CRM's company is the name of its
//!   record's account.
//!
//! Fields the CRM cannot hold stay on the box item: only mapped fields are sent.

use super::Module;
use super::client::Client;
use super::map::{self, Ctx, DateFormat, Outgoing, Zones};
use super::wire::{self, ApiCode, CrmError, Op, Query, Record, Source, field};
use crate::model;
use crate::store::crm::CrmUser;
use crate::store::crm_index::CrmIndexEntry;
use crate::store::outbox::{OutboxBase, OutboxEntry, OutboxOp, OutboxState};
use crate::store::{ReadTxn, Store, StoreError};
use crate::sync::{CrmRef, FolderId, ItemId, Origin, StoredItem, SyncStore};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Most entries one drain takes on, so one call stays bounded; the rest wait for the next.
pub const MAX_DRAIN_BATCH: u32 = 200;

/// Most CRM records `find_created` looks at for one lost create.
pub const MAX_RECOVERY_CANDIDATES: u32 = 20;

/// How far before the first create attempt a recovered record may have been created. The
/// CRM compares `createdtime` in its own zone, which this side does not know, and zones are at
/// most 26 hours apart; a day and ten minutes also absorbs a small clock skew.
pub const RECOVERY_MARGIN_SECS: i64 = 86_400 + 600;

/// Accounts one company lookup reads (same-named accounts: the lowest id is used).
pub const MAX_ACCOUNT_MATCHES: u32 = 10;

/// Width of `accountname` (vtenext's `vte_account.accountname`, varchar(100)).
pub const MAX_ACCOUNT_NAME_CHARS: u32 = 100;

/// Backoff after a transient failure: `BACKOFF_BASE_SECS · 2^attempts`, at most
/// `BACKOFF_MAX_SECS`.
pub const BACKOFF_BASE_SECS: i64 = 5;
pub const BACKOFF_MAX_SECS: i64 = 3_600;

/// What one drain did.
#[derive(Debug, Default)]
pub struct DrainReport {
    /// Creates, revises and deletes that reached the CRM (a recovered create counts).
    pub written: u32,
    /// Items changed on both sides since the last pull (either rule).
    pub conflicts: u32,
    /// Entries the CRM refused in this drain (now [`OutboxState::Failed`]).
    pub failed: u32,
    /// Live entries left after the drain (waiting for backoff or the next drain).
    pub pending: u32,
    /// Users whose box items changed (the CRM won a conflict): their Pings should wake.
    pub users_changed: BTreeSet<String>,
}

/// A box user's own CRM client, when the box has one (the user's access key).
pub type UserClients<'a> = &'a (dyn Fn(&str) -> Option<Arc<Client>> + Send + Sync);

/// Live entries waiting, for status.
pub fn pending_len(t: &ReadTxn) -> Result<u32, StoreError> {
    t.outbox_counts().map(|(live, _)| live)
}

/// The wait after `attempts` failed tries.
pub fn backoff_secs(attempts: u32) -> i64 {
    let exp = attempts.min(20);
    BACKOFF_BASE_SECS
        .saturating_mul(1i64 << exp)
        .min(BACKOFF_MAX_SECS)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Writes the due entries to the CRM (see the module docs). `Err` only when the store fails;
/// CRM failures are kept per entry and counted in the report.
pub async fn drain(
    admin: &Client,
    as_user: UserClients<'_>,
    store: &Arc<Store>,
) -> Result<DrainReport, CrmError> {
    drain_at(admin, as_user, store, now_secs()).await
}

/// [`drain`] at a given time (Unix seconds), so tests drive the backoff without sleeping.
pub async fn drain_at(
    admin: &Client,
    as_user: UserClients<'_>,
    store: &Arc<Store>,
    now: i64,
) -> Result<DrainReport, CrmError> {
    let mut report = DrainReport::default();
    let due = blocking(store, move |s| s.read()?.outbox_due(now, MAX_DRAIN_BATCH)).await?;
    for (seq, _) in due {
        match process(admin, as_user, store, seq, now, &mut report).await {
            Ok(()) => {}
            Err(Fail::Store(e)) => return Err(e),
            Err(Fail::Wait(msg)) => {
                log::info!("outbox: entry {seq} waits: {msg}");
                note_failure(store, seq, now, msg, false).await?;
            }
            Err(Fail::Crm(e)) if retryable(&e) => {
                log::warn!("outbox: entry {seq}: {e}; retrying later");
                note_failure(store, seq, now, e.to_string(), false).await?;
                // The CRM is failing: the other entries wait for the next drain.
                break;
            }
            Err(Fail::Crm(e)) => {
                log::warn!("outbox: the CRM refused entry {seq}: {e}; kept as failed");
                note_failure(store, seq, now, e.to_string(), true).await?;
                report.failed = report.failed.saturating_add(1);
            }
        }
    }
    report.pending = blocking(store, |s| pending_len(&s.read()?)).await?;
    Ok(report)
}

/// Worth trying again later: the CRM or the path to it failed, or a login was refused (the
/// admin fixes the key; retrying later is what the client allows).
fn retryable(e: &CrmError) -> bool {
    e.is_transient()
        || e.code()
            .is_some_and(|c| c.is_credential_failure() || c.is_session_lost())
}

#[derive(Clone)]
enum Fail {
    /// A CRM failure, transient or a refusal ([`retryable`]).
    Crm(CrmError),
    /// Something the box has to learn first (CRM users, zones): back off.
    Wait(String),
    /// The store failed: the drain stops.
    Store(CrmError),
}

impl From<CrmError> for Fail {
    fn from(e: CrmError) -> Self {
        Fail::Crm(e)
    }
}

fn store_err(e: impl std::fmt::Display) -> CrmError {
    CrmError::BadRequest(format!("outbox store: {e}"))
}

async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, CrmError> {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(store_err)?
        .map_err(store_err)
}

async fn blocking_f<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Fail> {
    blocking(store, f).await.map_err(Fail::Store)
}

/// Counts a failed try: backoff, or [`OutboxState::Failed`] when `refused`.
async fn note_failure(
    store: &Arc<Store>,
    seq: u64,
    now: i64,
    msg: String,
    refused: bool,
) -> Result<(), CrmError> {
    blocking(store, move |s| {
        let mut t = s.write()?;
        let Some(mut e) = t.outbox_entry(seq)? else {
            return Ok(());
        };
        e.attempts = e.attempts.saturating_add(1);
        e.last_error = Some(msg);
        if refused {
            e.state = OutboxState::Failed { at: now };
        } else {
            e.next_try = now.saturating_add(backoff_secs(e.attempts));
        }
        t.put_outbox_entry(seq, &e)?;
        t.commit()
    })
    .await
}

/// The client that writes, and how to read what it returns.
struct Writer<'a> {
    client: WriterClient<'a>,
    ctx: Ctx,
}

enum WriterClient<'a> {
    Admin(&'a Client),
    User(Arc<Client>),
}

impl Writer<'_> {
    fn client(&self) -> &Client {
        match &self.client {
            WriterClient::Admin(c) => c,
            WriterClient::User(c) => c,
        }
    }

    fn is_admin(&self) -> bool {
        matches!(self.client, WriterClient::Admin(_))
    }
}

/// What one entry needs from the store.
struct Job {
    seq: u64,
    entry: OutboxEntry,
    module: Module,
    /// The box item now (`None` once deleted).
    item: Option<StoredItem>,
    /// The owner's CRM id, for creates.
    owner: Option<String>,
}

fn zone_of<'a>(row: Option<&'a CrmUser>, who: &str) -> Result<(TimeZone, &'a str), Fail> {
    let row = row.ok_or_else(|| Fail::Wait(format!("CRM user {who:?} not discovered yet")))?;
    let zone = TimeZone::get(&row.tz)
        .map_err(|_| Fail::Wait(format!("time zone of CRM user {who:?} unknown")))?;
    Ok((zone, row.date_format.as_str()))
}

/// How to write for, and read what `writer` gets back about, a record of `owner` (CRM-API §3).
///
/// A create/retrieve/revise reply shows event and task times and modifiedtime in the zone of
/// the user who made the call, and the CRM reads written times in that zone too. `map`'s
/// [`Source::Record`] takes that zone to be the owner's, which holds only when owners write
/// their own records. So the writer's zone goes where `map` looks for the zone of the raw
/// times ([`Ctx::event_zone`] and [`Ctx::stamp_zone`] of [`Source::Query`]: `zones.server`)
/// and the owner's zone where it looks for the days of all-day events and the zone items are
/// shown in (`zones.user`). With the writer in the server's zone this is exactly a query
/// reply; with the writer being the owner, exactly a record reply.
fn ctx_of(
    writer: Option<&CrmUser>,
    writer_name: &str,
    owner: Option<&CrmUser>,
    owner_name: &str,
) -> Result<Ctx, Fail> {
    let (write_zone, format) = zone_of(writer, writer_name)?;
    let (owner_zone, _) = zone_of(owner, owner_name)?;
    let date_format = DateFormat::parse(format)
        .ok_or_else(|| Fail::Wait(format!("date format of CRM user {writer_name:?} unknown")))?;
    Ok(Ctx {
        zones: Zones {
            server: write_zone,
            user: owner_zone,
        },
        date_format,
        source: Source::Query,
    })
}

async fn process(
    admin: &Client,
    as_user: UserClients<'_>,
    store: &Arc<Store>,
    seq: u64,
    now: i64,
    report: &mut DrainReport,
) -> Result<(), Fail> {
    // A fresh look: the entry may have moved on since the list was read.
    let loaded = blocking_f(store, move |s| {
        let t = s.read()?;
        let Some(entry) = t.outbox_entry(seq)? else {
            return Ok(None);
        };
        let folder = entry.folder_id();
        let item = t.item(&entry.user, folder, entry.item_id())?;
        let settings = t.crm_settings()?;
        let user_row = t.crm_user(&entry.user)?;
        let admin_name = settings.map(|s| s.user.to_lowercase());
        let admin_row = match &admin_name {
            Some(n) => t.crm_user(n)?,
            None => None,
        };
        Ok(Some((entry, item, user_row, admin_name, admin_row)))
    })
    .await?;
    let Some((entry, item, user_row, admin_name, admin_row)) = loaded else {
        return Ok(());
    };
    if entry.is_failed() || entry.next_try > now {
        return Ok(());
    }
    let Some(module) = Module::from_folder(entry.folder_id()) else {
        return Err(
            CrmError::BadRecord(format!("folder {} is not a CRM module", entry.folder)).into(),
        );
    };
    let owner = (user_row.as_ref(), entry.user.as_str());
    let admin_name = admin_name.ok_or_else(|| Fail::Wait("no CRM settings".into()))?;
    let admin_ctx = ctx_of(admin_row.as_ref(), &admin_name, owner.0, owner.1);
    let writer = match as_user(&entry.user) {
        Some(c) => Writer {
            client: WriterClient::User(c),
            ctx: ctx_of(owner.0, owner.1, owner.0, owner.1)?,
        },
        None => Writer {
            client: WriterClient::Admin(admin),
            ctx: admin_ctx.clone()?,
        },
    };
    let job = Job {
        seq,
        owner: user_row.map(|r| r.crm_id),
        entry,
        module,
        item,
    };
    // Deletes read nothing back: any context does for the integration user's retry.
    let admin_fallback = Writer {
        client: WriterClient::Admin(admin),
        ctx: admin_ctx.unwrap_or_else(|_| writer.ctx.clone()),
    };
    match (&job.entry.state, job.entry.op, &job.entry.base) {
        (OutboxState::Failed { .. }, _, _) => Ok(()),
        (OutboxState::Creating { started_at, sent }, op, _) => {
            let (started_at, sent) = (*started_at, (**sent).clone());
            match find_created(&writer, store, &job, started_at, &sent).await? {
                Some(found) => adopt(store, &writer, &job, found, &sent, report).await,
                None if op == OutboxOp::Delete => {
                    // The create never ran and the item is gone: nothing to do.
                    remove_if_unchanged(store, &job).await
                }
                None => create(&writer, store, &job, Some(started_at), now, report).await,
            }
        }
        (OutboxState::Pending, OutboxOp::Upsert, None) => {
            create(&writer, store, &job, None, now, report).await
        }
        (OutboxState::Pending, OutboxOp::Upsert, Some(base)) => {
            update(&writer, store, &job, base, report).await
        }
        (OutboxState::Pending, OutboxOp::Delete, Some(base)) => {
            delete(&writer, &admin_fallback, store, &job, &base.crm_id, report).await
        }
        (OutboxState::Pending, OutboxOp::Delete, None) => remove_if_unchanged(store, &job).await,
    }
}

/// Every mapped field of an item as the writer must send it (see [`ctx_of`]).
fn full_fields(item: &model::Item, ctx: &Ctx) -> Result<Outgoing, CrmError> {
    let write_zone = &ctx.zones.server;
    match item {
        model::Item::Contact(c) => Ok(map::contact_fields(c)),
        model::Item::Event(e) => {
            let mut o = map::event_fields(e, write_zone)?;
            if e.time.is_all_day() {
                // The days are the owner's: the CRM keeps an all-day event as the owner's
                // midnight to 23:59 (CRM-API §3), whoever writes it.
                owner_days_in_writer_zone(&mut o, &ctx.zones.user, write_zone)?;
            }
            Ok(o)
        }
        model::Item::Task(t) => Ok(map::task_fields(t, write_zone)),
    }
}

/// Rewrites the date+time pairs of an all-day event from the owner's wall clock to the
/// writer's.
fn owner_days_in_writer_zone(
    o: &mut Outgoing,
    owner: &TimeZone,
    writer: &TimeZone,
) -> Result<(), CrmError> {
    if owner == writer {
        return Ok(());
    }
    for (d, t) in [("date_start", "time_start"), ("due_date", "time_end")] {
        let date = map::parse_date(field(&o.fields, d).unwrap_or(""), DateFormat::YMD)?;
        let time = map::parse_time(field(&o.fields, t).unwrap_or(""))?;
        let Some(date) = date else { continue };
        let at = map::to_instant(
            date.to_datetime(time.unwrap_or(jiff::civil::Time::midnight())),
            owner,
        )?;
        let local = map::to_local(at, writer);
        o.fields
            .insert(d.into(), map::format_date(local.date()).into());
        o.fields
            .insert(t.into(), map::format_time(local.time()).into());
    }
    Ok(())
}

fn fits(module: Module, item: &model::Item) -> bool {
    matches!(
        (module, item),
        (Module::Contacts, model::Item::Contact(_))
            | (Module::Events, model::Item::Event(_))
            | (Module::Tasks, model::Item::Task(_))
    )
}

/// A record from create/retrieve/revise as a model item.
fn from_record(
    module: Module,
    r: &Record,
    ctx: &Ctx,
    account_name: Option<&str>,
) -> Result<model::Item, CrmError> {
    Ok(match module {
        Module::Contacts => model::Item::Contact(map::contact_from_record(r, ctx, account_name)?),
        Module::Events => model::Item::Event(map::event_from_record(r, ctx)?),
        Module::Tasks => {
            if !map::is_task(r) {
                return Err(CrmError::BadRecord("the record is not a task".into()));
            }
            model::Item::Task(map::task_from_record(r, ctx)?)
        }
    })
}

/// The fields that identify a just-created record (see the module docs).
fn key_fields(module: Module) -> &'static [&'static str] {
    match module {
        Module::Contacts => &["lastname", "firstname", "email"],
        Module::Events => &["subject", "date_start", "time_start"],
        Module::Tasks => &["subject", "date_start"],
    }
}

fn record_id(r: &Record) -> Result<String, CrmError> {
    field(r, "id")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| CrmError::BadJson("record without id".into()))
}

/// The record's modifiedtime as Unix seconds; 0 when it has none (the next pull then sees a
/// change and refreshes the item, which is harmless).
fn modified_secs(r: &Record, ctx: &Ctx) -> i64 {
    match map::modified_time(r, ctx) {
        Ok(Some(t)) => t.as_second(),
        Ok(None) => 0,
        Err(e) => {
            log::warn!("outbox: unreadable modifiedtime: {e}");
            0
        }
    }
}

async fn retrieve(w: &Writer<'_>, id: &str) -> Result<Record, CrmError> {
    w.client()
        .call(|s| Ok(wire::retrieve(s, id)))
        .await
        .and_then(wire::parse_record)
}

/// Creates the item's record. `started_at` is the first attempt's time when a create may
/// already have been sent.
async fn create(
    w: &Writer<'_>,
    store: &Arc<Store>,
    job: &Job,
    started_at: Option<i64>,
    now: i64,
    report: &mut DrainReport,
) -> Result<(), Fail> {
    let Some(item) = job.item.as_ref() else {
        // The item is gone and its delete will follow (or already dropped the entry).
        return remove_if_unchanged(store, job).await;
    };
    check_fits(job.module, &item.item)?;
    let owner = job.owner.clone().ok_or_else(|| {
        Fail::Wait(format!(
            "CRM user for box user {:?} not discovered yet",
            job.entry.user
        ))
    })?;
    let full = full_fields(&item.item, &w.ctx)?;
    let mut fields = map::for_create(&full, &owner);
    if let Some(name) = company(&full)
        && let Some(account) = link_account(w, &name, &owner).await?
    {
        fields
            .fields
            .insert("account_id".into(), Value::String(account));
    }
    let sent = item.item.clone();
    // Durable before the create leaves: after a crash the CRM is searched, not written again.
    let started_at = started_at.unwrap_or(now);
    let (seq, version, sent2) = (job.seq, job.entry.version, sent.clone());
    let marked = blocking_f(store, move |s| {
        let mut t = s.write()?;
        let Some(mut e) = t.outbox_entry(seq)? else {
            return Ok(false);
        };
        if e.version != version || e.is_failed() {
            return Ok(false);
        }
        e.state = OutboxState::Creating {
            started_at,
            sent: Box::new(sent2),
        };
        t.put_outbox_entry(seq, &e)?;
        t.commit()?;
        Ok(true)
    })
    .await?;
    if !marked {
        // The item moved on meanwhile; the next drain takes the newer state.
        return Ok(());
    }
    let module = job.module.crm_name();
    let reply = w
        .client()
        .call(|s| Ok(wire::create(s, module, &fields.fields)))
        .await
        .and_then(wire::parse_record);
    match reply {
        Ok(record) => adopt(store, w, job, Found::Record(record), &sent, report).await,
        Err(e) if e.is_transient() => {
            // The reply may be lost after the CRM ran the create: look for it right away, so
            // a pull in between does not file the record as a new item.
            match find_created(w, store, job, started_at, &sent).await {
                Ok(Some(found)) => adopt(store, w, job, found, &sent, report).await,
                Err(Fail::Store(s)) => Err(Fail::Store(s)),
                // Not found or not searchable now: the next try searches again first.
                Ok(None) | Err(_) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A record the CRM holds for a create.
enum Found {
    /// The create's reply (or a retrieve of the record).
    Record(Record),
    /// Found by `find_created`, filed on the box already as `dup` by a pull: that box item
    /// is a duplicate of the entry's item and goes.
    Duplicate { record: Record, dup: ItemId },
}

/// Looks for the record a create may have made (see the module docs).
async fn find_created(
    w: &Writer<'_>,
    store: &Arc<Store>,
    job: &Job,
    started_at: i64,
    sent: &model::Item,
) -> Result<Option<Found>, Fail> {
    let owner = job.owner.clone().ok_or_else(|| {
        Fail::Wait(format!(
            "CRM user for box user {:?} not discovered yet",
            job.entry.user
        ))
    })?;
    let sent_fields = full_fields(sent, &w.ctx)?;
    let keys = key_fields(job.module);
    let Some(first) = keys.first() else {
        return Ok(None);
    };
    let first_value = field(&sent_fields.fields, first).unwrap_or("");
    if first_value.is_empty() {
        // The CRM refuses a record without it, so no create can have run.
        return Ok(None);
    }
    let since = map::to_local(
        Timestamp::from_second(started_at.saturating_sub(RECOVERY_MARGIN_SECS))
            .unwrap_or(Timestamp::UNIX_EPOCH),
        &TimeZone::UTC,
    )
    .strftime("%Y-%m-%d %H:%M:%S")
    .to_string();
    let q = Query::fields(job.module.crm_name(), &["id"])
        .and("assigned_user_id", Op::Eq, &owner)
        .and("createdtime", Op::Ge, &since)
        .and(first, Op::Eq, first_value)
        .order_by("id")
        .desc()
        .limit(0, MAX_RECOVERY_CANDIDATES);
    let rows = w
        .client()
        .call(|s| wire::query(s, &q))
        .await
        .and_then(wire::parse_query)?;
    for row in rows.iter().take(MAX_RECOVERY_CANDIDATES as usize) {
        let Ok(id) = record_id(row) else { continue };
        let record = match retrieve(w, &id).await {
            Ok(r) => r,
            Err(e) if retryable(&e) => return Err(e.into()),
            Err(_) => continue,
        };
        let Ok(theirs) =
            from_record(job.module, &record, &w.ctx, None).and_then(|i| full_fields(&i, &w.ctx))
        else {
            continue;
        };
        let same = keys
            .iter()
            .all(|k| field(&theirs.fields, k) == field(&sent_fields.fields, k));
        if !same {
            continue;
        }
        let (user, folder, item) = (job.entry.user.clone(), job.entry.folder, job.entry.item);
        let id2 = id.clone();
        let claim = blocking_f(store, move |s| {
            let t = s.read()?;
            Ok(match t.crm_index(&id2)? {
                None => Some(None),
                Some(e) if e.user == user && e.folder == folder && e.item == item => Some(None),
                // Filed by a pull as a new item: the same record twice on the box.
                Some(e)
                    if e.user == user
                        && e.folder == folder
                        && !t.outbox_pending(&user, FolderId(folder), e.item())? =>
                {
                    Some(Some(e.item()))
                }
                Some(_) => None,
            })
        })
        .await?;
        match claim {
            Some(None) => {
                log::info!(
                    "outbox: adopting {id}, created in the CRM for {} item {}:{} before a lost reply",
                    job.entry.user,
                    job.entry.folder,
                    job.entry.item
                );
                return Ok(Some(Found::Record(record)));
            }
            Some(Some(dup)) => {
                log::info!(
                    "outbox: adopting {id} for {} item {}:{}; its duplicate item {} goes",
                    job.entry.user,
                    job.entry.folder,
                    job.entry.item,
                    dup.0
                );
                return Ok(Some(Found::Duplicate { record, dup }));
            }
            None => {}
        }
    }
    Ok(None)
}

/// Records a create's (or recovered create's) record on the box.
async fn adopt(
    store: &Arc<Store>,
    w: &Writer<'_>,
    job: &Job,
    found: Found,
    sent: &model::Item,
    report: &mut DrainReport,
) -> Result<(), Fail> {
    let (record, dup) = match found {
        Found::Record(r) => (r, None),
        Found::Duplicate { record, dup } => (record, Some(dup)),
    };
    let changed = finish_write(store, job, &record, &w.ctx, sent.clone(), dup).await?;
    report.written = report.written.saturating_add(1);
    if changed {
        report.users_changed.insert(job.entry.user.clone());
    }
    Ok(())
}

/// After the CRM took `sent` (and returned `record`): the item's CRM identity and the index
/// follow the record; the entry goes, or, when the item changed meanwhile, waits again with
/// `sent` as its new base. Returns whether a phone-visible change was made (a duplicate went).
async fn finish_write(
    store: &Arc<Store>,
    job: &Job,
    record: &Record,
    ctx: &Ctx,
    sent: model::Item,
    dup: Option<ItemId>,
) -> Result<bool, Fail> {
    let id = record_id(record)?;
    let modified = modified_secs(record, ctx);
    let (seq, version) = (job.seq, job.entry.version);
    let (user, folder, item) = (
        job.entry.user.clone(),
        job.entry.folder_id(),
        job.entry.item_id(),
    );
    blocking_f(store, move |s| {
        let mut t = s.write()?;
        let r = CrmRef {
            id: id.clone(),
            modified: modified.to_string(),
        };
        t.set_crm_ref(&user, folder, item, Some(r))?;
        t.put_crm_index(
            &id,
            &CrmIndexEntry {
                user: user.clone(),
                folder: folder.0,
                item: item.0,
                modified,
            },
        )?;
        let mut changed = false;
        if let Some(dup) = dup {
            changed = t
                .delete_item(&user, folder, dup, &Origin::Crm)
                .map_err(|e| StoreError::Db(e.to_string()))?;
        }
        if let Some(mut e) = t.outbox_entry(seq)? {
            if e.version == version && e.op == OutboxOp::Upsert {
                t.remove_outbox_entry(seq)?;
            } else {
                e.base = Some(OutboxBase {
                    crm_id: id,
                    modified: modified.to_string(),
                    item: sent,
                });
                e.state = OutboxState::Pending;
                e.attempts = 0;
                e.next_try = 0;
                e.last_error = None;
                t.put_outbox_entry(seq, &e)?;
            }
        }
        t.commit()?;
        Ok(changed)
    })
    .await
}

/// Drops the entry unless a change folded in meanwhile.
async fn remove_if_unchanged(store: &Arc<Store>, job: &Job) -> Result<(), Fail> {
    let (seq, version) = (job.seq, job.entry.version);
    blocking_f(store, move |s| {
        let mut t = s.write()?;
        if t.outbox_entry(seq)?.is_some_and(|e| e.version == version) {
            t.remove_outbox_entry(seq)?;
        }
        t.commit()
    })
    .await
}

/// An item of the wrong class for its module (an event in Contacts) is refused, not written.
fn check_fits(module: Module, item: &model::Item) -> Result<(), Fail> {
    if fits(module, item) {
        return Ok(());
    }
    Err(CrmError::BadRecord(format!("the item does not belong in {}", module.crm_name())).into())
}

/// A change of an item the CRM holds (see the module docs).
async fn update(
    w: &Writer<'_>,
    store: &Arc<Store>,
    job: &Job,
    base: &OutboxBase,
    report: &mut DrainReport,
) -> Result<(), Fail> {
    let Some(item) = job.item.as_ref() else {
        return remove_if_unchanged(store, job).await;
    };
    check_fits(job.module, &item.item)?;
    let id = base.crm_id.as_str();
    let new = full_fields(&item.item, &w.ctx)?;
    let old = full_fields(&base.item, &w.ctx)?;
    let diff = map::revise(id, &old, &new);
    let company_changed = company(&old) != company(&new);
    if diff.fields.is_empty() && !company_changed {
        // Only fields the CRM cannot hold changed: they stay on the box.
        return remove_if_unchanged(store, job).await;
    }
    let current = match retrieve(w, id).await {
        Ok(r) => r,
        Err(e) if e.code() == Some(&ApiCode::AccessDenied) => {
            return Err(CrmError::Api {
                code: ApiCode::AccessDenied,
                message: format!(
                    "{id} is gone from the CRM or hidden from its writer; the pull decides \
                     about the box item"
                ),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let crm_modified = modified_secs(&current, &w.ctx);
    let in_step = base.modified.trim().parse::<i64>().ok() == Some(crm_modified);
    if in_step {
        let mut diff = diff;
        if company_changed {
            set_company(w, job, id, &mut diff, company(&new)).await?;
        }
        if diff.fields.is_empty() {
            // Only the company changed and it could not be linked: it stays on the box.
            return remove_if_unchanged(store, job).await;
        }
        return revise(w, store, job, &diff, item.item.clone(), report).await;
    }
    // Both sides changed since the last pull.
    let their_company = match field(&current, "account_id").filter(|a| !a.is_empty()) {
        Some(a) if job.module == Module::Contacts => account_name(w, a).await?,
        _ => None,
    };
    let theirs = from_record(job.module, &current, &w.ctx, their_company.as_deref())?;
    let theirs_fields = full_fields(&theirs, &w.ctx)?;
    // The CRM compares account names without case: "acme" may be the account of "ACME".
    let same_company = company(&theirs_fields).map(|c| c.to_lowercase())
        == company(&new).map(|c| c.to_lowercase());
    if map::revise(id, &theirs_fields, &new).fields.is_empty() && same_company {
        // The CRM holds the phone's values already (a revise whose reply was lost, or the
        // same edit on both sides): nothing to resolve.
        finish_write(store, job, &current, &w.ctx, item.item.clone(), None).await?;
        report.written = report.written.saturating_add(1);
        return Ok(());
    }
    report.conflicts = report.conflicts.saturating_add(1);
    if job.entry.client_wins {
        log::info!(
            "outbox: conflict on {id} ({} item {}:{}): changed in the CRM and on the phone; \
             the phone asked for client-wins, its version is written",
            job.entry.user,
            job.entry.folder,
            job.entry.item
        );
        let mut all = map::revise(id, &Outgoing::default(), &new);
        if job.module == Module::Contacts {
            set_company(w, job, id, &mut all, company(&new)).await?;
        }
        return revise(w, store, job, &all, item.item.clone(), report).await;
    }
    log::info!(
        "outbox: conflict on {id} ({} item {}:{}): changed in the CRM and on the phone; \
         the CRM wins",
        job.entry.user,
        job.entry.folder,
        job.entry.item
    );
    let merged = crm_wins(&item.item, theirs);
    let stored = StoredItem {
        item: merged,
        unknown: item.unknown.clone(),
        crm: Some(CrmRef {
            id: id.to_owned(),
            modified: crm_modified.to_string(),
        }),
    };
    let (seq, version) = (job.seq, job.entry.version);
    let (user, folder, item_id) = (
        job.entry.user.clone(),
        job.entry.folder_id(),
        job.entry.item_id(),
    );
    let crm_id = id.to_owned();
    let applied = blocking_f(store, move |s| {
        let mut t = s.write()?;
        if t.outbox_entry(seq)?.is_none_or(|e| e.version != version) {
            // The phone changed it again meanwhile: the next drain decides again.
            return Ok(false);
        }
        t.put_item(&user, folder, Some(item_id), &stored, &Origin::Crm)
            .map_err(|e| StoreError::Db(e.to_string()))?;
        t.put_crm_index(
            &crm_id,
            &CrmIndexEntry {
                user: user.clone(),
                folder: folder.0,
                item: item_id.0,
                modified: crm_modified,
            },
        )?;
        t.remove_outbox_entry(seq)?;
        t.commit()?;
        Ok(true)
    })
    .await?;
    if applied {
        report.users_changed.insert(job.entry.user.clone());
    }
    Ok(())
}

/// The company a contact's fields carry, as an account name (`None`: no company).
fn company(o: &Outgoing) -> Option<String> {
    let name = o.account_name.as_deref()?.trim();
    let cut: String = name.chars().take(MAX_ACCOUNT_NAME_CHARS as usize).collect();
    let cut = cut.trim_end();
    (!cut.is_empty()).then(|| cut.to_owned())
}

/// Puts the link to the account of `name` (or the clearing of the link) into a revise.
async fn set_company(
    w: &Writer<'_>,
    job: &Job,
    id: &str,
    diff: &mut Outgoing,
    name: Option<String>,
) -> Result<(), Fail> {
    let account = match name {
        None => Some(String::new()),
        Some(name) => {
            let owner = job.owner.clone().ok_or_else(|| {
                Fail::Wait(format!(
                    "CRM user for box user {:?} not discovered yet",
                    job.entry.user
                ))
            })?;
            link_account(w, &name, &owner).await?
        }
    };
    if let Some(a) = account {
        diff.fields.insert("account_id".into(), Value::String(a));
        diff.fields
            .insert("id".into(), Value::String(id.to_owned()));
    }
    Ok(())
}

/// The id of the account named `name`, created for `owner` when there is none (module docs).
/// `Ok(None)`: the CRM refused the lookup or the create; the contact goes without the link.
async fn link_account(w: &Writer<'_>, name: &str, owner: &str) -> Result<Option<String>, CrmError> {
    let refused = |e: CrmError| {
        if retryable(&e) {
            Err(e)
        } else {
            log::warn!(
                "outbox: no account for company {name:?}: {e}; the company stays on the box"
            );
            Ok(None)
        }
    };
    match find_account(w, name).await {
        Ok(Some(id)) => return Ok(Some(id)),
        Ok(None) => {}
        Err(e) => return refused(e),
    }
    let mut el = Record::new();
    el.insert("accountname".into(), Value::String(name.to_owned()));
    el.insert("assigned_user_id".into(), Value::String(owner.to_owned()));
    let reply = w
        .client()
        .call(|s| Ok(wire::create(s, "Accounts", &el)))
        .await
        .and_then(wire::parse_record);
    match reply {
        Ok(r) => {
            let id = record_id(&r)?;
            log::info!("outbox: created account {id} for company {name:?}");
            Ok(Some(id))
        }
        Err(e) if e.is_transient() => {
            // The reply may be lost after the CRM ran the create.
            match find_account(w, name).await {
                Ok(Some(id)) => Ok(Some(id)),
                _ => Err(e),
            }
        }
        Err(e) => refused(e),
    }
}

/// The account named `name`: an exact-case match first (the CRM compares names without
/// case), the lowest id among equals.
async fn find_account(w: &Writer<'_>, name: &str) -> Result<Option<String>, CrmError> {
    let q = Query::fields("Accounts", &["id", "accountname"])
        .and("accountname", Op::Eq, name)
        .order_by("id")
        .limit(0, MAX_ACCOUNT_MATCHES);
    let rows = w
        .client()
        .call(|s| wire::query(s, &q))
        .await
        .and_then(wire::parse_query)?;
    let rows = rows
        .get(..rows.len().min(MAX_ACCOUNT_MATCHES as usize))
        .unwrap_or(&[]);
    let exact = rows
        .iter()
        .find(|r| field(r, "accountname") == Some(name))
        .or_else(|| rows.first());
    Ok(exact.and_then(|r| record_id(r).ok()))
}

/// The name of account `id` (`None`: not visible or refused).
async fn account_name(w: &Writer<'_>, id: &str) -> Result<Option<String>, CrmError> {
    let q = Query::fields("Accounts", &["id", "accountname"]).and_in("id", &[id]);
    match w
        .client()
        .call(|s| wire::query(s, &q))
        .await
        .and_then(wire::parse_query)
    {
        Ok(rows) => Ok(rows
            .iter()
            .find(|r| field(r, "id") == Some(id))
            .and_then(|r| field(r, "accountname"))
            .map(str::to_owned)),
        Err(e) if retryable(&e) => Err(e),
        Err(e) => {
            log::warn!("outbox: account {id} not readable: {e}");
            Ok(None)
        }
    }
}

async fn revise(
    w: &Writer<'_>,
    store: &Arc<Store>,
    job: &Job,
    diff: &Outgoing,
    sent: model::Item,
    report: &mut DrainReport,
) -> Result<(), Fail> {
    let record = w
        .client()
        .call(|s| wire::revise(s, &diff.fields))
        .await
        .and_then(wire::parse_record)?;
    finish_write(store, job, &record, &w.ctx, sent, None).await?;
    report.written = report.written.saturating_add(1);
    Ok(())
}

async fn send_delete(c: &Client, id: &str) -> Result<wire::Deleted, CrmError> {
    c.call(|s| Ok(wire::delete(s, id)))
        .await
        .and_then(wire::parse_delete)
}

async fn delete(
    w: &Writer<'_>,
    admin: &Writer<'_>,
    store: &Arc<Store>,
    job: &Job,
    id: &str,
    report: &mut DrainReport,
) -> Result<(), Fail> {
    let denied = |r: &Result<wire::Deleted, CrmError>| matches!(r, Err(e) if e.code() == Some(&ApiCode::AccessDenied));
    let mut r = send_delete(w.client(), id).await;
    if denied(&r) && !w.is_admin() {
        // The user may not see it; the integration user (an administrator) sees everything.
        r = send_delete(admin.client(), id).await;
    }
    match r {
        Ok(_) => {}
        // Not even an administrator sees it: purged from the recycle bin, gone.
        Err(e) if e.code() == Some(&ApiCode::AccessDenied) => {
            log::info!("outbox: {id} was already gone from the CRM");
        }
        Err(e) => return Err(e.into()),
    }
    let (seq, version) = (job.seq, job.entry.version);
    let (user, folder, item) = (job.entry.user.clone(), job.entry.folder, job.entry.item);
    let crm_id = id.to_owned();
    blocking_f(store, move |s| {
        let mut t = s.write()?;
        if t.crm_index(&crm_id)?
            .is_some_and(|e| e.user == user && e.folder == folder && e.item == item)
        {
            t.remove_crm_index(&crm_id)?;
        }
        if t.outbox_entry(seq)?.is_some_and(|e| e.version == version) {
            t.remove_outbox_entry(seq)?;
        }
        t.commit()
    })
    .await?;
    report.written = report.written.saturating_add(1);
    Ok(())
}

/// The item after the CRM won a conflict: what the CRM holds replaces the mapped fields; what
/// it cannot hold stays as the phone had it. The same rule as a pull's update, so it is the
/// pull's merge.
fn crm_wins(phone: &model::Item, crm: model::Item) -> model::Item {
    super::pull::merge(phone, crm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sensitivity;
    use crate::model::event::MeetingStatus;
    use crate::store::outbox::crm_module_name;

    #[test]
    fn the_store_carries_the_modules_folders() {
        for f in 0..=200u32 {
            let module = Module::from_folder(FolderId(f)).map(Module::crm_name);
            assert_eq!(crm_module_name(FolderId(f)), module, "folder {f}");
        }
    }

    #[test]
    fn company_is_trimmed_and_cut_to_the_column() {
        let o = |n: Option<&str>| Outgoing {
            account_name: n.map(str::to_owned),
            ..Outgoing::default()
        };
        assert_eq!(company(&o(None)), None);
        assert_eq!(company(&o(Some("  "))), None);
        assert_eq!(company(&o(Some(" ACME "))).as_deref(), Some("ACME"));
        let long = "é".repeat(MAX_ACCOUNT_NAME_CHARS as usize + 5);
        let cut = company(&o(Some(&long))).unwrap();
        assert_eq!(cut.chars().count(), MAX_ACCOUNT_NAME_CHARS as usize);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_secs(0), 5);
        assert_eq!(backoff_secs(1), 10);
        assert_eq!(backoff_secs(3), 40);
        assert_eq!(backoff_secs(10), BACKOFF_MAX_SECS);
        assert_eq!(backoff_secs(u32::MAX), BACKOFF_MAX_SECS);
    }

    #[test]
    fn crm_wins_keeps_what_the_crm_cannot_hold() {
        let phone = model::Item::Contact(model::Contact {
            last_name: Some("Rossi".into()),
            nickname: Some("Mario".into()),
            email: [Some("a@x".into()), Some("b@x".into()), None],
            company_name: Some("ACME".into()),
            ..model::Contact::default()
        });
        let crm = model::Item::Contact(model::Contact {
            last_name: Some("Rossi-Bianchi".into()),
            email: [Some("c@x".into()), None, None],
            ..model::Contact::default()
        });
        let model::Item::Contact(m) = crm_wins(&phone, crm) else {
            panic!("not a contact");
        };
        assert_eq!(m.last_name.as_deref(), Some("Rossi-Bianchi"));
        assert_eq!(m.email[0].as_deref(), Some("c@x"));
        assert_eq!(m.email[1].as_deref(), Some("b@x"));
        assert_eq!(m.nickname.as_deref(), Some("Mario"));
        assert_eq!(m.company_name.as_deref(), Some("ACME"));

        let mut p = model::Event {
            subject: "Phone".into(),
            sensitivity: Sensitivity::Confidential,
            meeting_status: MeetingStatus::Organizer,
            categories: vec!["Work".into()],
            ..model::Event::default()
        };
        let c = model::Event {
            subject: "CRM".into(),
            sensitivity: Sensitivity::Private,
            meeting_status: MeetingStatus::Appointment,
            ..model::Event::default()
        };
        let model::Item::Event(m) = crm_wins(
            &model::Item::Event(p.clone()),
            model::Item::Event(c.clone()),
        ) else {
            panic!("not an event");
        };
        assert_eq!(m.subject, "CRM");
        // Confidential and Private are both "Private" in the CRM: the phone's stays.
        assert_eq!(m.sensitivity, Sensitivity::Confidential);
        assert_eq!(m.meeting_status, MeetingStatus::Organizer);
        assert_eq!(m.categories, ["Work"]);
        p.meeting_status = MeetingStatus::Canceled;
        let model::Item::Event(m) = crm_wins(&model::Item::Event(p), model::Item::Event(c)) else {
            panic!("not an event");
        };
        assert_eq!(m.meeting_status, MeetingStatus::Appointment);
    }
}
