//! The operations of `webservice.php` (CRM-API §2) over the fake's state.

use super::util::{self, Out};
use super::vtql::{self, Join, Op, Select};
use super::{
    BAN_AFTER, Kind, LOCK_AFTER, MAX_FAILURE_ENTRIES, MAX_SESSIONS, MAX_TOKENS, Mode,
    QUERY_DEFAULT_ROWS, Record, Reply, SESSION_IDLE, SESSION_LIFETIME, SYNC_MAX_IDS, Session,
    State, TOKEN_LIFETIME, UserRec,
};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::OnceLock;

const DENIED: &str = "Permission to perform the operation is denied";
const DENIED_ID: &str = "Permission to perform the operation is denied for id";
const DENIED_NAME: &str = "Permission to perform the operation is denied for name";

/// The record modules the fake stores (create/retrieve/update/revise/delete/query).
const WRITABLE: [&str; 4] = ["Contacts", "Events", "Calendar", "Accounts"];

pub(crate) struct FieldMeta {
    pub name: String,
    pub ty: String,
    pub mandatory: bool,
}

pub(crate) struct Meta {
    pub prefix: String,
    pub fields: Vec<FieldMeta>,
    pub describe: Value,
}

fn load(json: &str) -> Value {
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|v| v.get("result").cloned())
        .unwrap_or(Value::Null)
}

fn metas() -> &'static BTreeMap<&'static str, Meta> {
    static M: OnceLock<BTreeMap<&'static str, Meta>> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = BTreeMap::new();
        for (name, json) in [
            ("Contacts", include_str!("data/describe_Contacts.json")),
            ("Events", include_str!("data/describe_Events.json")),
            ("Calendar", include_str!("data/describe_Calendar.json")),
            ("Users", include_str!("data/describe_Users.json")),
            // Not recorded: see the module docs of `crm::fake`.
            ("Accounts", include_str!("data/describe_Accounts.json")),
        ] {
            let d = load(json);
            let fields = d
                .get("fields")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|f| FieldMeta {
                            name: f["name"].as_str().unwrap_or_default().to_owned(),
                            ty: f["type"]["name"].as_str().unwrap_or_default().to_owned(),
                            mandatory: f["mandatory"].as_bool().unwrap_or(false),
                        })
                        .collect()
                })
                .unwrap_or_default();
            m.insert(
                name,
                Meta {
                    prefix: d["idPrefix"].as_str().unwrap_or_default().to_owned(),
                    fields,
                    describe: d,
                },
            );
        }
        m
    })
}

fn listtypes() -> &'static Value {
    static L: OnceLock<Value> = OnceLock::new();
    L.get_or_init(|| load(include_str!("data/listtypes.json")))
}

fn meta(module: &str) -> Option<&'static Meta> {
    metas().get(module)
}

/// The module a record answers to: tasks without `activitytype = Task` are events (§4).
fn module_of(r: &Record) -> &'static str {
    match r.kind {
        Kind::Contact => "Contacts",
        Kind::Account => "Accounts",
        Kind::Activity => {
            if r.fields.get("activitytype").map(String::as_str) == Some("Task") {
                "Calendar"
            } else {
                "Events"
            }
        }
    }
}

fn prefix(module: &str) -> String {
    meta(module).map(|m| m.prefix.clone()).unwrap_or_default()
}

/// Splits `4x20`; `None` when the id is not of that shape.
fn split_id(id: &str) -> Option<(&str, u32)> {
    let (p, n) = id.split_once('x')?;
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((p, n.parse().ok()?))
}

/// Read-only fields the server sets itself; input values for them are ignored.
fn server_set(name: &str) -> bool {
    matches!(
        name,
        "id" | "createdtime" | "modifiedtime" | "creator" | "contact_no" | "ical_uuid"
    ) || name.starts_with("gdpr_")
}

/// How an operation shows times and dates (CRM-API §3's table).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// create/retrieve/update/revise: event times and stamps in the user's zone, user format.
    Ws,
    /// query/sync: everything raw in the server zone, dates in the user format.
    Raw,
    /// vtesync.get_changes: event times in the user's zone, stamps in the server's, `Y-m-d`.
    VteSync,
    /// Database form (filters, ORDER BY, test helpers).
    Db,
}

const PAIRS: [(&str, &str); 2] = [("date_start", "time_start"), ("due_date", "time_end")];

fn default_value(f: &FieldMeta) -> String {
    if f.name.ends_with("_checkedtime") || f.name == "gdpr_sentdate" {
        "0000-00-00 00:00:00".to_owned()
    } else if f.name == "newsletter_unsubscrpt" {
        "1".to_owned()
    } else if f.ty == "boolean" || f.name == "recurr_idx" {
        "0".to_owned()
    } else {
        String::new()
    }
}

fn render(
    st: &State,
    r: &Record,
    module: &str,
    view: View,
    user: &UserRec,
) -> Vec<(String, String)> {
    let Some(m) = meta(module) else {
        return Vec::new();
    };
    let server = &st.server_tz;
    let mut vals: BTreeMap<&str, String> = BTreeMap::new();
    for f in &m.fields {
        let v = r
            .fields
            .get(&f.name)
            .cloned()
            .unwrap_or_else(|| default_value(f));
        vals.insert(f.name.as_str(), v);
    }
    if r.kind == Kind::Activity && matches!(view, View::Ws | View::VteSync) {
        for (d, t) in PAIRS {
            let (Some(dv), Some(tv)) = (vals.get(d), vals.get(t)) else {
                continue;
            };
            if let (Some(date), Some(time)) = (util::parse_ymd(dv), util::parse_hm(tv)) {
                let local = util::shift(DateTime::from_parts(date, time), server, &user.tz);
                vals.insert(d, util::ymd(local.date()));
                vals.insert(t, util::hm(local.time()));
            }
        }
    }
    let stamp_tz = if view == View::Ws { &user.tz } else { server };
    let mut out = Vec::with_capacity(m.fields.len() + 1);
    for f in &m.fields {
        let name = f.name.as_str();
        let v = match name {
            "id" => format!("{}x{}", m.prefix, r.crmid),
            "createdtime" => util::stamp(r.created, stamp_tz),
            "modifiedtime" => util::stamp(r.modified, stamp_tz),
            "assigned_user_id" => format!("19x{}", r.owner),
            "creator" => format!("19x{}", r.creator),
            _ => {
                let v = vals.get(name).cloned().unwrap_or_default();
                if f.ty == "date" && matches!(view, View::Ws | View::Raw) {
                    match util::parse_ymd(&v) {
                        Some(d) => user.date_format.format(d),
                        None => v,
                    }
                } else {
                    v
                }
            }
        };
        out.push((f.name.clone(), v));
    }
    out
}

fn to_out(pairs: Vec<(String, String)>) -> Out {
    Out::Obj(pairs.into_iter().map(|(k, v)| (k, Out::Str(v))).collect())
}

fn visible(st: &State, r: &Record, user: &UserRec) -> bool {
    !r.deleted && (!st.private_sharing || user.admin || r.owner == user.id)
}

pub(crate) fn record_mut<'a>(st: &'a mut State, id: &str) -> Option<&'a mut Record> {
    let (_, crmid) = split_id(id)?;
    st.records.get_mut(&crmid)
}

pub(crate) fn ui_view(st: &State, id: &str, raw: bool) -> Option<BTreeMap<String, String>> {
    let (_, crmid) = split_id(id)?;
    let r = st.records.get(&crmid)?;
    if r.deleted && !raw {
        return None;
    }
    let owner = st.user(r.owner).or(st.users.first())?;
    let view = if raw { View::Db } else { View::Ws };
    let mut m: BTreeMap<String, String> = render(st, r, module_of(r), view, owner)
        .into_iter()
        .collect();
    if raw {
        m.insert("deleted".into(), if r.deleted { "1" } else { "0" }.into());
    }
    Some(m)
}

pub(crate) fn ids(st: &State, module: &str, owner: Option<&str>) -> Vec<String> {
    let owner_id = owner.and_then(|o| st.user_by_name(o)).map(|u| u.id);
    st.records
        .values()
        .filter(|r| !r.deleted && module_of(r) == module)
        .filter(|r| owner_id.is_none_or(|o| r.owner == o))
        .map(|r| format!("{}x{}", prefix(module), r.crmid))
        .collect()
}

fn value_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        other => other.to_string(),
    }
}

/// Applies an element (user-facing values) onto a record's fields in user-local form, then
/// stores them in database form. `base` holds the user-local starting values.
fn apply(
    st: &State,
    module: &str,
    user: &UserRec,
    mut local: BTreeMap<String, String>,
    el: &Map<String, Value>,
) -> Result<(BTreeMap<String, String>, Option<u32>), Reply> {
    let Some(m) = meta(module) else {
        return Err(Reply::err("ACCESS_DENIED", DENIED_NAME));
    };
    let mut owner = None;
    for f in &m.fields {
        let Some(v) = el.get(&f.name) else { continue };
        if server_set(&f.name) {
            continue;
        }
        let s = value_string(v);
        if f.name == "assigned_user_id" {
            if let Some((_, n)) = split_id(&s) {
                owner = Some(n);
            }
            local.insert(f.name.clone(), s);
        } else if f.ty == "date" {
            let stored = util::parse_date_input(&s, user.date_format).map_or(s, util::ymd);
            local.insert(f.name.clone(), stored);
        } else if f.name == "reminder_time" && !s.is_empty() {
            // Written in seconds, read back in minutes, at least 1 (DataTransform.php).
            let secs: i64 = s.trim().parse().unwrap_or(0);
            local.insert(f.name.clone(), (secs / 60).max(1).to_string());
        } else {
            local.insert(f.name.clone(), s);
        }
    }
    for f in &m.fields {
        if f.mandatory && !server_set(&f.name) && local.get(&f.name).is_none_or(|v| v.is_empty()) {
            return Err(Reply::Err(
                "MANDATORY_FIELDS_MISSING",
                format!("{} does not have a value", f.name),
            ));
        }
    }
    if matches!(module, "Events" | "Calendar") {
        let start = pair_dt(&local, PAIRS[0], true);
        let end = pair_dt(&local, PAIRS[1], true);
        if let (Some(s), Some(e)) = (start, end) {
            let secs = |d: DateTime| TimeZone::UTC.to_timestamp(d).map_or(0, |t| t.as_second());
            let mins = (secs(e) - secs(s)).div_euclid(60);
            // An end before the start gives PHP nonsense hours; the minutes stay the
            // remainder (create_event_baddate.json).
            local.insert(
                "duration_hours".into(),
                mins.max(0).div_euclid(60).to_string(),
            );
            local.insert("duration_minutes".into(), mins.rem_euclid(60).to_string());
        }
        for (d, t) in PAIRS {
            if let Some(dt) = pair_dt(&local, (d, t), false) {
                let srv = util::shift(dt, &user.tz, &st.server_tz);
                local.insert(d.into(), util::ymd(srv.date()));
                local.insert(t.into(), util::hm(srv.time()));
            }
        }
    }
    Ok((local, owner))
}

/// Date and time of a pair; with `midnight`, a missing time counts as 00:00.
fn pair_dt(
    vals: &BTreeMap<String, String>,
    (d, t): (&str, &str),
    midnight: bool,
) -> Option<DateTime> {
    let date = util::parse_ymd(vals.get(d)?)?;
    let time = match vals.get(t).and_then(|v| util::parse_hm(v)) {
        Some(t) => t,
        None if midnight => jiff::civil::Time::midnight(),
        None => return None,
    };
    Some(DateTime::from_parts(date, time))
}

/// The fields of a record in user-local form (event times in the user's zone, `Y-m-d`).
fn local_fields(st: &State, r: &Record, user: &UserRec) -> BTreeMap<String, String> {
    let mut local = r.fields.clone();
    if r.kind == Kind::Activity {
        for (d, t) in PAIRS {
            if let Some(dt) = pair_dt(&r.fields, (d, t), false) {
                let l = util::shift(dt, &st.server_tz, &user.tz);
                local.insert(d.into(), util::ymd(l.date()));
                local.insert(t.into(), util::hm(l.time()));
            }
        }
    }
    local
}

fn uuid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        b = [7; 16];
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn hex_random(n: usize) -> String {
    let mut b = vec![0u8; n.div_ceil(2)];
    let _ = getrandom::fill(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    h.chars().take(n).collect()
}

fn do_create(
    st: &mut State,
    module: &str,
    user: &UserRec,
    el: &Map<String, Value>,
) -> Result<u32, Reply> {
    let (fields, owner) = apply(st, module, user, BTreeMap::new(), el)?;
    let now = st.now();
    let crmid = st.next_crmid;
    st.next_crmid = st.next_crmid.saturating_add(1);
    let mut fields = fields;
    fields.remove("assigned_user_id");
    let kind = if module == "Contacts" {
        fields.insert("contact_no".into(), format!("CON{}", st.next_contact_no));
        st.next_contact_no = st.next_contact_no.saturating_add(1);
        Kind::Contact
    } else if module == "Accounts" {
        Kind::Account
    } else {
        fields.insert("ical_uuid".into(), uuid());
        Kind::Activity
    };
    st.records.insert(
        crmid,
        Record {
            crmid,
            kind,
            fields,
            owner: owner.unwrap_or(user.id),
            creator: user.id,
            created: now,
            modified: now,
            deleted: false,
        },
    );
    Ok(crmid)
}

pub(crate) fn ui_create(
    st: &mut State,
    module: &str,
    uid: u32,
    el: &Map<String, Value>,
) -> Result<String, String> {
    let user = st.user(uid).cloned().ok_or("unknown user")?;
    match do_create(st, module, &user, el) {
        Ok(crmid) => Ok(format!("{}x{crmid}", prefix(module))),
        Err(Reply::Err(_, m)) => Err(m),
        Err(_) => Err("failed".into()),
    }
}

pub(crate) fn ui_revise(st: &mut State, id: &str, el: &Map<String, Value>) -> Result<(), String> {
    let (_, crmid) = split_id(id).ok_or("bad id")?;
    let r = st.records.get(&crmid).cloned().ok_or("no such record")?;
    let user = st
        .user(r.owner)
        .or(st.users.first())
        .cloned()
        .ok_or("no user")?;
    match revise_record(st, &r, &user, el, false) {
        Ok(()) => Ok(()),
        Err(Reply::Err(_, m)) => Err(m),
        Err(_) => Err("failed".into()),
    }
}

/// revise (partial) or update (whole element) of an existing record.
fn revise_record(
    st: &mut State,
    r: &Record,
    user: &UserRec,
    el: &Map<String, Value>,
    whole: bool,
) -> Result<(), Reply> {
    let module = module_of(r);
    let mut base = if whole {
        // update replaces every field; what the server sets itself stays.
        r.fields
            .iter()
            .filter(|(k, _)| server_set(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    } else {
        let mut l = local_fields(st, r, user);
        l.insert("assigned_user_id".into(), format!("19x{}", r.owner));
        l
    };
    if !whole {
        base.entry("assigned_user_id".into())
            .or_insert_with(|| format!("19x{}", r.owner));
    }
    let (mut fields, owner) = apply(st, module, user, base, el)?;
    fields.remove("assigned_user_id");
    let now = st.now();
    if let Some(rec) = st.records.get_mut(&r.crmid) {
        rec.fields = fields;
        if let Some(o) = owner {
            rec.owner = o;
        }
        rec.modified = now;
    }
    Ok(())
}

fn check_session(st: &mut State, session: Option<&str>) -> Result<UserRec, Reply> {
    let Some(s) = session.filter(|s| !s.is_empty()) else {
        return Err(Reply::err(
            "AUTHENTICATION_REQUIRED",
            "Authencation required",
        ));
    };
    let now = st.now();
    let invalid = || {
        Reply::err(
            "INVALID_SESSIONID",
            "Session Identifier provided is Invalid",
        )
    };
    let Some(sess) = st.sessions.get_mut(s) else {
        return Err(invalid());
    };
    if now - sess.last > SESSION_IDLE || now - sess.created > SESSION_LIFETIME {
        st.sessions.remove(s);
        return Err(invalid());
    }
    sess.last = now;
    let uid = sess.user;
    st.user(uid).cloned().ok_or_else(invalid)
}

fn p<'a>(params: &'a BTreeMap<String, String>, k: &str) -> &'a str {
    params.get(k).map(String::as_str).unwrap_or("")
}

pub(crate) fn dispatch(
    st: &mut State,
    op: &str,
    params: &BTreeMap<String, String>,
    session: Option<&str>,
    ip: IpAddr,
    zpush: bool,
) -> Reply {
    match op {
        "getchallenge" => return getchallenge(st, p(params, "username")),
        "login" => return login(st, p(params, "username"), p(params, "accessKey"), ip),
        "login_pwd" => {
            return login_pwd(st, p(params, "username"), p(params, "password"), ip, zpush);
        }
        "extendsession" => return Reply::err("AUTHENTICATION_FAILURE", "Authencation Failed"),
        _ => {}
    }
    let user = match check_session(st, session) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match op {
        "logout" => {
            if let Some(s) = session {
                st.sessions.remove(s);
            }
            Reply::Ok(Out::obj(vec![("message", Out::s("successfull"))]))
        }
        "listtypes" => Reply::Ok(Out::from_value(listtypes())),
        "describe" => describe(p(params, "elementType"), &user),
        "retrieve" => retrieve(st, p(params, "id"), &user),
        "create" => create(st, params, &user),
        "update" | "revise" => update(st, p(params, "element"), &user, op == "update"),
        "delete" => delete(st, p(params, "id"), &user),
        "query" => query(st, p(params, "query"), &user),
        "sync" => sync(st, params, &user),
        "vtesync.get_changes" => vtesync(st, params, &user),
        _ => Reply::Http500,
    }
}

fn getchallenge(st: &mut State, username: &str) -> Reply {
    let now = st.now();
    st.tokens.retain(|(_, _, exp)| *exp > now);
    if u32::try_from(st.tokens.len()).unwrap_or(u32::MAX) >= MAX_TOKENS {
        st.tokens.remove(0);
    }
    let token = hex_random(13);
    let expire = now + TOKEN_LIFETIME;
    st.tokens.push((username.to_owned(), token.clone(), expire));
    Reply::Ok(Out::obj(vec![
        ("token", Out::s(token)),
        ("serverTime", Out::Int(now)),
        ("expireTime", Out::Int(expire)),
    ]))
}

/// The lockout checks shared by login and login_pwd; `Some` = refuse with that reply.
fn locked(st: &State, username: &str, ip: IpAddr) -> Option<Reply> {
    if st.ip_failures.get(&ip).copied().unwrap_or(0) >= BAN_AFTER {
        return Some(Reply::err("IP_BANNED", "IP address banned"));
    }
    if st
        .failures
        .get(&(username.to_owned(), ip))
        .copied()
        .unwrap_or(0)
        >= LOCK_AFTER
    {
        return Some(Reply::err(
            "LOGIN_LOCKED",
            "Login failed because too many unsuccessfully logins",
        ));
    }
    None
}

fn fail(st: &mut State, username: &str, ip: IpAddr) -> Reply {
    let key = (username.to_owned(), ip);
    if st.failures.contains_key(&key)
        || u32::try_from(st.failures.len()).unwrap_or(u32::MAX) < MAX_FAILURE_ENTRIES
    {
        *st.failures.entry(key).or_insert(0) += 1;
    }
    *st.ip_failures.entry(ip).or_insert(0) += 1;
    Reply::err("INVALID_USER_CREDENTIALS", "Invalid username or password")
}

fn login(st: &mut State, username: &str, key: &str, ip: IpAddr) -> Reply {
    let now = st.now();
    st.tokens.retain(|(_, _, exp)| *exp > now);
    let live: Vec<String> = st
        .tokens
        .iter()
        .filter(|(u, _, _)| u == username)
        .map(|(_, t, _)| t.clone())
        .collect();
    if live.is_empty() {
        return Reply::err(
            "INVALID_AUTH_TOKEN",
            "Specified token is invalid or expired",
        );
    }
    if let Some(r) = locked(st, username, ip) {
        return r;
    }
    let Some(user) = st.user_by_name(username).cloned() else {
        return fail(st, username, ip);
    };
    // Newest first: a client logs in with the token it just asked for.
    let ok = live
        .iter()
        .rev()
        .any(|t| util::md5_hex(format!("{t}{}", user.access_key).as_bytes()) == key);
    if !ok {
        return fail(st, username, ip);
    }
    if !user.active {
        return Reply::err("AUTHENTICATION_REQUIRED", "Authencation required");
    }
    st.failures.remove(&(username.to_owned(), ip));
    if u32::try_from(st.sessions.len()).unwrap_or(u32::MAX) >= MAX_SESSIONS {
        let oldest = st
            .sessions
            .iter()
            .min_by_key(|(_, s)| s.last)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            st.sessions.remove(&k);
        }
    }
    let name = hex_random(21);
    st.sessions.insert(
        name.clone(),
        Session {
            user: user.id,
            created: now,
            last: now,
        },
    );
    let offset = |tz: &TimeZone| {
        jiff::Timestamp::from_second(now)
            .map(|t| i64::from(tz.to_offset(t).seconds()))
            .unwrap_or(0)
    };
    Reply::Ok(Out::obj(vec![
        ("sessionName", Out::s(name)),
        ("userId", Out::s(format!("19x{}", user.id))),
        ("version", Out::s("0.22")),
        ("vteVersion", Out::s("5.2.1")),
        (
            "timezone",
            Out::Int(offset(&user.tz) - offset(&st.server_tz)),
        ),
    ]))
}

fn login_pwd(st: &mut State, username: &str, password: &str, ip: IpAddr, zpush: bool) -> Reply {
    if let Some(r) = locked(st, username, ip) {
        return r;
    }
    match st.user_by_name(username).cloned() {
        Some(u) if u.password == password && u.active && (!zpush || u.activesync) => {
            st.failures.remove(&(username.to_owned(), ip));
            Reply::Ok(Out::Arr(vec![Out::s(u.access_key)]))
        }
        _ => fail(st, username, ip),
    }
}

fn describe(module: &str, user: &UserRec) -> Reply {
    let Some(m) = meta(module) else {
        return Reply::err("ACCESS_DENIED", DENIED_NAME);
    };
    let mut d = m.describe.clone();
    // Date fields carry the caller's format (CRM-API §2.4).
    if let Some(fields) = d.get_mut("fields").and_then(Value::as_array_mut) {
        for f in fields {
            if let Some(t) = f.get_mut("type").and_then(Value::as_object_mut)
                && t.get("name").and_then(Value::as_str) == Some("date")
            {
                t.insert("format".into(), Value::from(user.date_format.name()));
            }
        }
    }
    Reply::Ok(Out::from_value(&d))
}

/// Finds a record for retrieve/update/delete with the recorded errors.
fn find(st: &State, id: &str, user: &UserRec, allow_deleted: bool) -> Result<Record, Reply> {
    let Some((pfx, crmid)) = split_id(id) else {
        return Err(Reply::err("ACCESS_DENIED", DENIED_ID));
    };
    if !WRITABLE.iter().any(|m| prefix(m) == pfx) {
        return Err(Reply::err("ACCESS_DENIED", DENIED_ID));
    }
    let Some(r) = st.records.get(&crmid) else {
        return Err(Reply::err("ACCESS_DENIED", DENIED));
    };
    if (r.deleted && !allow_deleted) || !(r.deleted || visible(st, r, user)) {
        return Err(Reply::err("ACCESS_DENIED", DENIED));
    }
    if prefix(module_of(r)) != pfx {
        return Err(Reply::err(
            "INVALID_ID_ATTRIBUTE",
            "Id specified is incorrect",
        ));
    }
    Ok(r.clone())
}

fn retrieve(st: &State, id: &str, user: &UserRec) -> Reply {
    if let Some(("19", uid)) = split_id(id) {
        return match st.user(uid) {
            Some(u) if user.admin => Reply::Ok(to_out(user_fields(st, u))),
            Some(u) if u.id == user.id => {
                Reply::Ok(Out::obj(vec![("id", Out::s(format!("19x{uid}")))]))
            }
            _ => Reply::err("ACCESS_DENIED", DENIED),
        };
    }
    match find(st, id, user, false) {
        Ok(r) => Reply::Ok(to_out(render(st, &r, module_of(&r), View::Ws, user))),
        Err(e) => e,
    }
}

fn parse_element(s: &str) -> Map<String, Value> {
    // Malformed JSON decodes as null, which surfaces as missing mandatory fields (§2.5).
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn create(st: &mut State, params: &BTreeMap<String, String>, user: &UserRec) -> Reply {
    let module = p(params, "elementType");
    if module.is_empty() {
        return Reply::err("ACCESS_DENIED", DENIED);
    }
    if !WRITABLE.contains(&module) {
        return Reply::err("ACCESS_DENIED", DENIED_NAME);
    }
    let el = parse_element(p(params, "element"));
    match do_create(st, module, user, &el) {
        Ok(crmid) => match st.records.get(&crmid) {
            Some(r) => Reply::Ok(to_out(render(st, r, module, View::Ws, user))),
            None => Reply::err("INTERNAL_SERVER_ERROR", "Internal error"),
        },
        Err(e) => e,
    }
}

fn update(st: &mut State, element: &str, user: &UserRec, whole: bool) -> Reply {
    let el = parse_element(element);
    let id = el.get("id").map(value_string).unwrap_or_default();
    if id.is_empty() {
        return Reply::err("ACCESS_DENIED", DENIED_ID);
    }
    let r = match find(st, &id, user, false) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if let Err(e) = revise_record(st, &r, user, &el, whole) {
        return e;
    }
    match st.records.get(&r.crmid) {
        Some(n) => {
            let module = module_of(n);
            Reply::Ok(to_out(render(st, n, module, View::Ws, user)))
        }
        None => Reply::err("ACCESS_DENIED", DENIED),
    }
}

fn delete(st: &mut State, id: &str, user: &UserRec) -> Reply {
    let r = match find(st, id, user, true) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if r.deleted {
        return Reply::Ok(Out::Null);
    }
    let now = st.now();
    if let Some(rec) = st.records.get_mut(&r.crmid) {
        rec.deleted = true;
        rec.modified = now;
    }
    Reply::Ok(Out::obj(vec![("status", Out::s("successful"))]))
}

fn user_fields(st: &State, u: &UserRec) -> Vec<(String, String)> {
    let Some(m) = meta("Users") else {
        return Vec::new();
    };
    m.fields
        .iter()
        .map(|f| {
            let v = match f.name.as_str() {
                "id" => format!("19x{}", u.id),
                "user_name" => u.name.clone(),
                "first_name" | "last_name" => u.name.clone(),
                "email1" => format!("{}@example.test", u.name),
                "status" => if u.active { "Active" } else { "Inactive" }.to_owned(),
                "is_admin" => if u.admin { "on" } else { "off" }.to_owned(),
                "user_timezone" => u.tz_name.clone(),
                "date_format" => u.date_format.name().to_owned(),
                "enable_activesync" => if u.activesync { "1" } else { "0" }.to_owned(),
                // Never hand out secrets the connector does not need.
                "user_password" | "confirm_password" | "accesskey" => String::new(),
                "roleid" => if u.admin { "H2" } else { "H3" }.to_owned(),
                _ => default_value(f),
            };
            let _ = st;
            (f.name.clone(), v)
        })
        .collect()
}

/// Compares two column values the way MySQL would for these columns.
fn cmp_values(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}

/// A literal as stored: ids and owners lose their prefix so they compare as numbers.
fn db_literal(field: &str, v: &str, ty: &str) -> String {
    if (field == "id" || ty == "owner" || ty == "reference")
        && let Some((_, n)) = split_id(v)
    {
        return n.to_string();
    }
    v.to_owned()
}

/// A query row: database values for WHERE/ORDER BY, and the rendered reply fields.
type Row = (BTreeMap<String, String>, Vec<(String, String)>);

fn query(st: &State, text: &str, user: &UserRec) -> Reply {
    let q = match vtql::parse(text) {
        Ok(q) => q,
        Err(e) => return Reply::Err("QUERY_SYNTAX_ERROR", e),
    };
    let Some(m) = meta(&q.module) else {
        return Reply::err("ACCESS_DENIED", DENIED_NAME);
    };
    let known = |f: &str| m.fields.iter().any(|x| x.name == f);
    let mut named: Vec<&str> = q.conds.iter().map(|(_, c)| c.field.as_str()).collect();
    named.extend(q.order_by.iter().map(String::as_str));
    if let Select::Fields(fs) = &q.select {
        named.extend(fs.iter().map(String::as_str));
    }
    if let Some(bad) = named.iter().find(|f| !known(f)) {
        return Reply::Err(
            "ACCESS_DENIED",
            format!("Permission to access '.{bad}.' attribute denied."),
        );
    }
    let ty = |f: &str| {
        m.fields
            .iter()
            .find(|x| x.name == f)
            .map(|x| x.ty.as_str())
            .unwrap_or("")
    };
    // Rows as (db values for filtering, rendered values for the reply).
    let rows: Vec<Row> = if q.module == "Users" {
        st.users
            .iter()
            .map(|u| {
                let shown = user_fields(st, u);
                let mut db: BTreeMap<String, String> = shown.iter().cloned().collect();
                db.insert("id".into(), u.id.to_string());
                (db, shown)
            })
            .collect()
    } else {
        st.records
            .values()
            .filter(|r| module_of(r) == q.module && visible(st, r, user))
            .map(|r| {
                let mut db: BTreeMap<String, String> = render(st, r, &q.module, View::Db, user)
                    .into_iter()
                    .collect();
                db.insert("id".into(), r.crmid.to_string());
                db.insert("assigned_user_id".into(), r.owner.to_string());
                (db, render(st, r, &q.module, View::Raw, user))
            })
            .collect()
    };
    let matches = |db: &BTreeMap<String, String>, c: &vtql::Cond| {
        let v = db.get(&c.field).map(String::as_str).unwrap_or("");
        let lit = |x: &str| db_literal(&c.field, x, ty(&c.field));
        let first = c.values.first().map(|x| lit(x)).unwrap_or_default();
        use std::cmp::Ordering::*;
        match c.op {
            Op::Eq => cmp_values(v, &first) == Equal,
            Op::Ne => cmp_values(v, &first) != Equal,
            Op::Lt => cmp_values(v, &first) == Less,
            Op::Gt => cmp_values(v, &first) == Greater,
            Op::Le => cmp_values(v, &first) != Greater,
            Op::Ge => cmp_values(v, &first) != Less,
            Op::Like => vtql::like(v, &first),
            Op::In => c.values.iter().any(|x| cmp_values(v, &lit(x)) == Equal),
        }
    };
    let mut selected: Vec<_> = rows
        .into_iter()
        .filter(|(db, _)| {
            // SQL precedence: OR of AND groups.
            let mut any = false;
            let mut group = true;
            for (i, (join, c)) in q.conds.iter().enumerate() {
                if i > 0 && *join == Join::Or {
                    any |= group;
                    group = true;
                }
                group &= matches(db, c);
            }
            q.conds.is_empty() || any || group
        })
        .collect();
    if !q.order_by.is_empty() {
        selected.sort_by(|(a, _), (b, _)| {
            let mut o = std::cmp::Ordering::Equal;
            for f in &q.order_by {
                o = o.then_with(|| {
                    cmp_values(
                        a.get(f).map(String::as_str).unwrap_or(""),
                        b.get(f).map(String::as_str).unwrap_or(""),
                    )
                });
            }
            if q.descending { o.reverse() } else { o }
        });
    }
    if q.select == Select::Count {
        return Reply::Ok(Out::Arr(vec![Out::obj(vec![(
            "count",
            Out::s(selected.len().to_string()),
        )])]));
    }
    let offset = q.offset.unwrap_or(0) as usize;
    let limit = q.limit.unwrap_or(QUERY_DEFAULT_ROWS) as usize;
    let out = selected
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, shown)| match &q.select {
            Select::Fields(fs) => {
                let mut pairs = Vec::new();
                if !fs.iter().any(|f| f == "id") {
                    pairs.extend(shown.iter().filter(|(k, _)| k == "id").cloned());
                }
                for f in fs {
                    pairs.extend(shown.iter().filter(|(k, _)| k == f).cloned());
                }
                to_out(pairs)
            }
            _ => to_out(shown),
        })
        .collect();
    Reply::Ok(Out::Arr(out))
}

fn sync(st: &State, params: &BTreeMap<String, String>, user: &UserRec) -> Reply {
    if st.mode == Mode::Stock {
        return Reply::Http500;
    }
    let module = p(params, "elementType");
    if module.is_empty() {
        return Reply::err(
            "DATABASE_QUERY_ERROR",
            "Database error while performing required operation",
        );
    }
    if !matches!(module, "Contacts" | "Events" | "Calendar") {
        return Reply::err("ACCESS_DENIED", DENIED_NAME);
    }
    let application = p(params, "syncType") == "application";
    if application && !user.admin {
        return Reply::err(
            "ACCESS_DENIED",
            "Only admin users can perform application sync",
        );
    }
    let since: i64 = p(params, "modifiedTime").trim().parse().unwrap_or(0);
    let mut cands: Vec<&Record> = st
        .records
        .values()
        .filter(|r| module_of(r) == module && (application || r.owner == user.id))
        .filter(|r| r.modified > since)
        .collect();
    cands.sort_by_key(|r| (r.modified, r.crmid));
    let max = cands
        .iter()
        .take(SYNC_MAX_IDS as usize)
        .next_back()
        .map(|r| r.modified);
    let Some(max) = max else {
        return Reply::Ok(Out::obj(vec![
            ("updated", Out::Arr(Vec::new())),
            ("deleted", Out::Arr(Vec::new())),
            ("more", Out::Bool(false)),
            ("lastModifiedTime", Out::Int(since)),
        ]));
    };
    let in_window: Vec<&&Record> = cands.iter().filter(|r| r.modified <= max).collect();
    let updated = in_window
        .iter()
        .filter(|r| !r.deleted)
        .map(|r| to_out(render(st, r, module, View::Raw, user)))
        .collect();
    let deleted = in_window
        .iter()
        .filter(|r| r.deleted)
        .map(|r| Out::s(format!("{}x{}", prefix(module), r.crmid)))
        .collect();
    let more = cands.iter().any(|r| r.modified > max);
    Reply::Ok(Out::obj(vec![
        ("updated", Out::Arr(updated)),
        ("deleted", Out::Arr(deleted)),
        ("more", Out::Bool(more)),
        ("lastModifiedTime", Out::Int(max)),
    ]))
}

/// ISO 8601 as VteSync takes it: `2026-11-25T00:00:00+0000`, `…+00:00`, `…Z`.
fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S%:z",
        "%Y-%m-%d %H:%M:%S%z",
    ] {
        if let Ok(t) = jiff::Timestamp::strptime(f, s) {
            return Some(t.as_second());
        }
    }
    None
}

fn vtesync(st: &State, params: &BTreeMap<String, String>, user: &UserRec) -> Reply {
    if !st.vtesync {
        return Reply::Http500;
    }
    let module = p(params, "module");
    if !matches!(module, "Contacts" | "Events" | "Calendar") {
        return Reply::err("ACCESS_DENIED", DENIED_NAME);
    }
    let now = st.now();
    let from = match p(params, "dateFrom") {
        "" => 0,
        s => match parse_iso(s) {
            Some(t) => t,
            None => return Reply::err("INVALID_PARAMETER", "Invalid dateFrom"),
        },
    };
    let to = match p(params, "dateTo") {
        "" => i64::MAX,
        s => match parse_iso(s) {
            Some(t) => t,
            None => return Reply::err("INVALID_PARAMETER", "Invalid dateTo"),
        },
    };
    let by_created = p(params, "dateField") == "createdtime";
    let max: usize = p(params, "maxEntries").parse().unwrap_or(100);
    let show_deleted = !matches!(p(params, "showDeleted"), "false" | "0");
    let delegated = p(params, "delegatedUser");
    let owner_filter = if delegated.is_empty() {
        if user.admin { None } else { Some(user.id) }
    } else {
        if !user.admin {
            return Reply::err("ACCESS_DENIED", DENIED);
        }
        let d = st
            .user_by_name(delegated)
            .or_else(|| split_id(delegated).and_then(|(_, n)| st.user(n)));
        match d {
            Some(d) => Some(d.id),
            None => return Reply::err("ACCESS_DENIED", DENIED),
        }
    };
    let view_user = owner_filter.and_then(|o| st.user(o)).unwrap_or(user);
    let key = |r: &Record| if by_created { r.created } else { r.modified };
    let mut cands: Vec<&Record> = st
        .records
        .values()
        .filter(|r| module_of(r) == module && owner_filter.is_none_or(|o| r.owner == o))
        .filter(|r| show_deleted || !r.deleted)
        .filter(|r| key(r) >= from && key(r) <= to)
        .collect();
    cands.sort_by_key(|r| (key(r), r.crmid));
    let more = cands.len() > max;
    cands.truncate(max);
    let (mut created, mut updated, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
    for r in &cands {
        let id = format!("{}x{}", prefix(module), r.crmid);
        if r.deleted {
            deleted.push(Out::obj(vec![
                ("id", Out::s(id)),
                (
                    "modifiedtime",
                    Out::s(util::stamp(r.modified, &st.server_tz)),
                ),
                ("createdtime", Out::s(util::stamp(r.created, &st.server_tz))),
            ]));
            continue;
        }
        let mut pairs: Vec<(String, Out)> = render(st, r, module, View::VteSync, view_user)
            .into_iter()
            .map(|(k, v)| (k, Out::Str(v)))
            .collect();
        if module != "Contacts" {
            pairs.push(("invitees".into(), Out::Arr(Vec::new())));
        }
        if r.created == r.modified {
            created.push(Out::Obj(pairs));
        } else {
            updated.push(Out::Obj(pairs));
        }
    }
    let last = if more {
        cands.last().map_or(now, |r| key(r))
    } else {
        now
    };
    Reply::Ok(Out::obj(vec![
        ("created", Out::Arr(created)),
        ("updated", Out::Arr(updated)),
        ("deleted", Out::Arr(deleted)),
        ("more", Out::Bool(more)),
        ("local_timezone", Out::s(st.server_tz_name.clone())),
        ("user_timezone", Out::s(view_user.tz_name.clone())),
        ("last_update", Out::Int(last)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_load() {
        for m in ["Contacts", "Events", "Calendar", "Users", "Accounts"] {
            let meta = meta(m).unwrap();
            assert!(!meta.prefix.is_empty(), "{m}");
            assert!(meta.fields.len() > 10, "{m}");
        }
        assert_eq!(meta("Contacts").unwrap().prefix, "4");
        assert_eq!(meta("Accounts").unwrap().prefix, "3");
        assert!(listtypes()["types"].as_array().unwrap().len() > 5);
    }

    fn state() -> super::super::FakeCrm {
        super::super::FakeCrm::new(super::super::FakeConfig::default()).unwrap()
    }

    #[test]
    fn token_session_and_failure_caps() {
        let fake = state();
        let mut st = fake.state.lock().unwrap();
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..=MAX_TOKENS {
            getchallenge(&mut st, "admin");
        }
        assert_eq!(st.tokens.len(), MAX_TOKENS as usize);
        for _ in 0..=MAX_SESSIONS {
            let Reply::Ok(Out::Obj(o)) = getchallenge(&mut st, "admin") else {
                panic!()
            };
            let Some((_, Out::Str(t))) = o.first().cloned() else {
                panic!()
            };
            let key = util::md5_hex(format!("{t}AdminAccessKey00").as_bytes());
            assert!(matches!(login(&mut st, "admin", &key, ip), Reply::Ok(_)));
        }
        assert_eq!(st.sessions.len(), MAX_SESSIONS as usize);
        for i in 0..=MAX_FAILURE_ENTRIES {
            let ip: IpAddr = [10, 0, (i >> 8) as u8, i as u8].into();
            fail(&mut st, &format!("u{i}"), ip);
        }
        assert_eq!(st.failures.len(), MAX_FAILURE_ENTRIES as usize);
    }

    #[test]
    fn ids_split() {
        assert_eq!(split_id("4x20"), Some(("4", 20)));
        assert_eq!(split_id("x20"), None);
        assert_eq!(split_id("4x"), None);
        assert_eq!(split_id("abc"), None);
    }

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso("2026-11-25T00:00:00+0000"), Some(1_795_564_800));
        assert_eq!(parse_iso("2026-11-25T01:00:00+01:00"), Some(1_795_564_800));
        assert_eq!(parse_iso("2026-11-25T00:00:00Z"), Some(1_795_564_800));
        assert_eq!(parse_iso("nope"), None);
    }
}
