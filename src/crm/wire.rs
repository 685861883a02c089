//! The vtenext web-service protocol as typed values (CRM-API §1, §2): request builders for
//! `webservice.php` and parsers for its JSON envelope, sans-io.
//!
//! A [`Request`] says which HTTP method to use and carries the parameters already
//! form-encoded: a GET operation reads only the query string and a POST operation only the
//! form body (CRM-API §1), so the transport must put [`Request::encoded`] where
//! [`Request::method`] says. Replies go through [`parse_envelope`] (status, size, empty body,
//! JSON, `{success,result|error}`) and then through the typed parsers of each operation.
//!
//! Implemented: getchallenge (§2.1), login (§2.2), login_pwd (§2.3), listtypes and describe
//! (§2.4), create (§2.5), retrieve/update/revise/delete (§2.6), query with a VTQL builder
//! (§2.7), sync (§2.8), vtesync.get_changes (§2.9), extendsession and logout (§2.10).

use jiff::Timestamp;
use md5::{Digest, Md5};
use serde_json::{Map, Value};
use std::fmt;

/// Largest reply body accepted, in bytes. The biggest real reply is a page of 1000 contacts
/// (~1.9 KB each, CRM-API §2.7) or a `describe` of Users (~20 KB); 8 MiB leaves room for long
/// descriptions without letting a broken server fill the box's memory.
pub const MAX_REPLY_BYTES: u32 = 8 * 1024 * 1024;

/// Most records accepted in one reply. A query without LIMIT returns up to 1000 rows
/// ([`QUERY_DEFAULT_ROWS`]); a `sync` page may exceed its 100 ids when records share a second
/// (CRM-API §2.8), so the cap is twice the largest page.
pub const MAX_RECORDS_PER_REPLY: u32 = 2000;

/// Most fields accepted in one record (a contact has ~75, a Users record ~70).
pub const MAX_FIELDS_PER_RECORD: u32 = 512;

/// Most fields accepted in one `describe` reply.
pub const MAX_DESCRIBE_FIELDS: u32 = 512;

/// Most picklist values kept per field in a `describe` reply.
pub const MAX_PICKLIST_VALUES: u32 = 1000;

/// Most deleted ids accepted in one `sync` or `get_changes` reply.
pub const MAX_DELETED_PER_REPLY: u32 = 10_000;

/// Most module names accepted from `listtypes`.
pub const MAX_TYPES: u32 = 1000;

/// Rows a connector asks for per query page. Stock vtiger caps LIMIT at 100 per call while
/// vtenext does not (CRM-API §2.7), so paging by 100 works against both.
pub const PAGE_ROWS: u32 = 100;

/// Rows vtenext returns for a query without LIMIT ("crmv@55311 fix for z-push", CRM-API §2.7).
/// A reply of exactly this many rows to an unlimited query may be truncated.
pub const QUERY_DEFAULT_ROWS: u32 = 1000;

/// Most ids one `sync` call takes (CRM-API §2.8).
pub const SYNC_MAX_IDS: u32 = 100;

/// Most entries asked of `vtesync.get_changes` per call; its default is 100 (CRM-API §2.9).
pub const GET_CHANGES_MAX_ENTRIES: u32 = 100;

/// Most values in one `IN (…)` condition of a query we build.
pub const MAX_IN_VALUES: u32 = 1000;

/// Most conditions in one query we build.
pub const MAX_CONDITIONS: u32 = 64;

// ---------------------------------------------------------------------------------------------
// Errors.

/// Error codes of the envelope (`include/Webservices/WebServiceErrorCode.php`, CRM-API §1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiCode {
    SessionExpired,
    SessionLeftIdle,
    InvalidSessionId,
    InvalidUserCredentials,
    AuthenticationRequired,
    AuthenticationFailure,
    AccessDenied,
    DatabaseQueryError,
    MandatoryFieldsMissing,
    InvalidIdAttribute,
    QuerySyntaxError,
    InvalidAuthToken,
    AccessKeyUndefined,
    RecordNotFound,
    UnknownOperation,
    InternalServerError,
    OperationNotSupported,
    /// `UNKOWN_ENTITY`, misspelt so in the source.
    UnknownEntity,
    ReferenceInvalid,
    IpBanned,
    LoginLocked,
    /// Any other code (the lead and password ones, or a future one), as sent.
    Other(String),
}

impl ApiCode {
    const TABLE: &'static [(&'static str, ApiCode)] = &[
        ("SESSION_EXPIRED", ApiCode::SessionExpired),
        ("SESSION_LEFT_IDLE", ApiCode::SessionLeftIdle),
        ("INVALID_SESSIONID", ApiCode::InvalidSessionId),
        ("INVALID_USER_CREDENTIALS", ApiCode::InvalidUserCredentials),
        ("AUTHENTICATION_REQUIRED", ApiCode::AuthenticationRequired),
        ("AUTHENTICATION_FAILURE", ApiCode::AuthenticationFailure),
        ("ACCESS_DENIED", ApiCode::AccessDenied),
        ("DATABASE_QUERY_ERROR", ApiCode::DatabaseQueryError),
        ("MANDATORY_FIELDS_MISSING", ApiCode::MandatoryFieldsMissing),
        ("INVALID_ID_ATTRIBUTE", ApiCode::InvalidIdAttribute),
        ("QUERY_SYNTAX_ERROR", ApiCode::QuerySyntaxError),
        ("INVALID_AUTH_TOKEN", ApiCode::InvalidAuthToken),
        ("ACCESSKEY_UNDEFINED", ApiCode::AccessKeyUndefined),
        ("RECORD_NOT_FOUND", ApiCode::RecordNotFound),
        ("UNKNOWN_OPERATION", ApiCode::UnknownOperation),
        ("INTERNAL_SERVER_ERROR", ApiCode::InternalServerError),
        ("OPERATION_NOT_SUPPORTED", ApiCode::OperationNotSupported),
        ("UNKOWN_ENTITY", ApiCode::UnknownEntity),
        ("REFERENCE_INVALID", ApiCode::ReferenceInvalid),
        ("IP_BANNED", ApiCode::IpBanned),
        ("LOGIN_LOCKED", ApiCode::LoginLocked),
    ];

    /// The code as vtenext spells it.
    pub fn parse(s: &str) -> ApiCode {
        Self::TABLE
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| ApiCode::Other(s.to_owned()))
    }

    /// The code as vtenext spells it.
    pub fn as_str(&self) -> &str {
        match self {
            ApiCode::Other(s) => s,
            known => Self::TABLE
                .iter()
                .find(|(_, c)| c == known)
                .map(|(name, _)| *name)
                .unwrap_or(""),
        }
    }

    /// The session is gone: log in again and repeat the call once.
    pub fn is_session_lost(&self) -> bool {
        matches!(
            self,
            ApiCode::SessionExpired | ApiCode::SessionLeftIdle | ApiCode::InvalidSessionId
        )
    }

    /// The credentials were refused. Repeating the login counts towards the lockout (5 per
    /// user, 100 per IP for every user, CRM-API §0.4), so a caller must not retry on these.
    pub fn is_credential_failure(&self) -> bool {
        matches!(
            self,
            ApiCode::InvalidUserCredentials
                | ApiCode::AuthenticationRequired
                | ApiCode::AuthenticationFailure
                | ApiCode::LoginLocked
                | ApiCode::IpBanned
                | ApiCode::AccessKeyUndefined
        )
    }
}

impl fmt::Display for ApiCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong talking to the CRM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrmError {
    /// The connection failed or timed out (filled in by the transport).
    Transport(String),
    /// A status other than 200: vtenext answers 200 even for errors, so this is a crash
    /// (unknown operation, stock `sync`: HTTP 500 with an empty body, CRM-API §0.2).
    Http(u16),
    /// Status 200 with nothing in it.
    EmptyBody,
    /// The body is larger than [`MAX_REPLY_BYTES`].
    TooLarge,
    /// Not JSON, or JSON of the wrong shape; says what was wrong.
    BadJson(String),
    /// The CRM answered `success:false`.
    Api { code: ApiCode, message: String },
    /// A request could not be built (an identifier that VTQL cannot carry, a missing id).
    BadRequest(String),
    /// A record could not be mapped (an unreadable date, a missing mandatory field).
    BadRecord(String),
}

impl CrmError {
    fn api(code: &str, message: &str) -> CrmError {
        CrmError::Api {
            code: ApiCode::parse(code),
            message: message.to_owned(),
        }
    }

    /// A failure of the server or the path to it, worth retrying later with backoff. Such a
    /// failure must never be read as "no records" (CRM-API §7).
    pub fn is_transient(&self) -> bool {
        match self {
            CrmError::Transport(_) | CrmError::EmptyBody | CrmError::TooLarge => true,
            CrmError::Http(s) => *s >= 500 || *s == 429 || *s == 408,
            CrmError::Api { code, .. } => matches!(
                code,
                ApiCode::DatabaseQueryError | ApiCode::InternalServerError
            ),
            CrmError::BadJson(_) => true,
            CrmError::BadRequest(_) | CrmError::BadRecord(_) => false,
        }
    }

    /// The API code, if the CRM answered with one.
    pub fn code(&self) -> Option<&ApiCode> {
        match self {
            CrmError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for CrmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrmError::Transport(m) => write!(f, "CRM unreachable: {m}"),
            CrmError::Http(s) => write!(f, "CRM answered HTTP {s}"),
            CrmError::EmptyBody => f.write_str("CRM answered with an empty body"),
            CrmError::TooLarge => write!(f, "CRM reply larger than {MAX_REPLY_BYTES} bytes"),
            CrmError::BadJson(m) => write!(f, "CRM reply is not what was expected: {m}"),
            CrmError::Api { code, message } => write!(f, "CRM error {code}: {message}"),
            CrmError::BadRequest(m) => write!(f, "bad CRM request: {m}"),
            CrmError::BadRecord(m) => write!(f, "bad CRM record: {m}"),
        }
    }
}

impl std::error::Error for CrmError {}

fn bad(what: impl Into<String>) -> CrmError {
    CrmError::BadJson(what.into())
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// HTTP method of an operation (`vte_ws_operation.type`, CRM-API §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Parameters in the query string only.
    Get,
    /// Parameters in an `application/x-www-form-urlencoded` body only.
    Post,
}

/// Content type of a POST body.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Path of the endpoint under the CRM's base URL.
pub const ENDPOINT: &str = "webservice.php";

/// One call of `webservice.php`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub operation: &'static str,
    /// Parameters after `operation`, in order, not yet encoded.
    pub params: Vec<(&'static str, String)>,
}

impl Request {
    fn new(method: Method, operation: &'static str) -> Request {
        Request {
            method,
            operation,
            params: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.params.push((name, value.into()));
        self
    }

    /// `operation=…&name=value…`, form-encoded: the query string of a GET (after `?`) or the
    /// body of a POST.
    pub fn encoded(&self) -> String {
        let mut out = String::from("operation=");
        form_encode_into(self.operation, &mut out);
        for (name, value) in &self.params {
            out.push('&');
            form_encode_into(name, &mut out);
            out.push('=');
            form_encode_into(value, &mut out);
        }
        out
    }

    /// The value of a parameter, for tests and logs.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes for `application/x-www-form-urlencoded` (also valid in a query string).
/// Spaces become `%20` rather than `+`: PHP decodes both, and `%20` cannot be misread.
pub fn form_encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0F)]));
        }
    }
}

/// The login digest: lowercase hex of md5(token . accessKey) (CRM-API §2.2).
pub fn access_key_digest(token: &str, access_key: &str) -> String {
    let mut h = Md5::new();
    h.update(token.as_bytes());
    h.update(access_key.as_bytes());
    let mut out = String::with_capacity(32);
    for b in h.finalize() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `getchallenge` (GET, §2.1).
pub fn getchallenge(username: &str) -> Request {
    Request::new(Method::Get, "getchallenge").with("username", username)
}

/// `login` (POST, §2.2) with the token from [`getchallenge`] and the user's access key.
pub fn login(username: &str, token: &str, access_key: &str) -> Request {
    Request::new(Method::Post, "login")
        .with("username", username)
        .with("accessKey", access_key_digest(token, access_key))
}

/// `login_pwd` (POST, §2.3): the CRM password in exchange for the access key. Opens no session.
pub fn login_pwd(username: &str, password: &str) -> Request {
    Request::new(Method::Post, "login_pwd")
        .with("username", username)
        .with("password", password)
}

/// `logout` (POST, §2.10).
pub fn logout(session: &str) -> Request {
    Request::new(Method::Post, "logout").with("sessionName", session)
}

/// `extendsession` (POST, §2.10). It only adopts a browser session, so a connector gets
/// AUTHENTICATION_FAILURE; it is here for the fake CRM's tests.
pub fn extendsession() -> Request {
    Request::new(Method::Post, "extendsession")
}

/// `listtypes` (GET, §2.4).
pub fn listtypes(session: &str) -> Request {
    Request::new(Method::Get, "listtypes").with("sessionName", session)
}

/// `describe` (GET, §2.4).
pub fn describe(session: &str, element_type: &str) -> Request {
    Request::new(Method::Get, "describe")
        .with("sessionName", session)
        .with("elementType", element_type)
}

/// `query` (GET, §2.7) from a built query.
pub fn query(session: &str, q: &Query) -> Result<Request, CrmError> {
    Ok(query_text(session, &q.to_vtql()?))
}

/// `query` (GET, §2.7) with VTQL text as it is.
pub fn query_text(session: &str, vtql: &str) -> Request {
    Request::new(Method::Get, "query")
        .with("sessionName", session)
        .with("query", vtql)
}

/// `retrieve` (GET, §2.6).
pub fn retrieve(session: &str, id: &str) -> Request {
    Request::new(Method::Get, "retrieve")
        .with("sessionName", session)
        .with("id", id)
}

/// `create` (POST, §2.5). `assigned_user_id` is mandatory on the CRM's side.
pub fn create(session: &str, element_type: &str, element: &Map<String, Value>) -> Request {
    Request::new(Method::Post, "create")
        .with("sessionName", session)
        .with("elementType", element_type)
        .with("element", Value::Object(element.clone()).to_string())
}

fn with_id(
    op: &'static str,
    session: &str,
    element: &Map<String, Value>,
) -> Result<Request, CrmError> {
    match element.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok(Request::new(Method::Post, op)
            .with("sessionName", session)
            .with("element", Value::Object(element.clone()).to_string())),
        _ => Err(CrmError::BadRequest(format!("{op} needs the record's id"))),
    }
}

/// `update` (POST, §2.6): the **whole** element, `id` included.
pub fn update(session: &str, element: &Map<String, Value>) -> Result<Request, CrmError> {
    with_id("update", session, element)
}

/// `revise` (POST, §2.6): a partial element, `id` included.
pub fn revise(session: &str, element: &Map<String, Value>) -> Result<Request, CrmError> {
    with_id("revise", session, element)
}

/// `delete` (POST, §2.6).
pub fn delete(session: &str, id: &str) -> Request {
    Request::new(Method::Post, "delete")
        .with("sessionName", session)
        .with("id", id)
}

/// The `syncType` of vtiger's `sync` (§2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncType {
    /// Records owned by the caller.
    User,
    /// Every record; admin only.
    Application,
}

/// `sync` (GET, §2.8). `modified_time` is Unix seconds; the CRM compares strictly greater, so
/// callers pass the last `lastModifiedTime - 1` and de-duplicate. Stock vtenext answers HTTP
/// 500 to this (§0.2); `sync_type` is the third parameter that vtiger registers.
pub fn sync(
    session: &str,
    element_type: &str,
    modified_time: i64,
    sync_type: Option<SyncType>,
) -> Request {
    let r = Request::new(Method::Get, "sync")
        .with("sessionName", session)
        .with("modifiedTime", modified_time.to_string())
        .with("elementType", element_type);
    match sync_type {
        None => r,
        Some(SyncType::User) => r.with("syncType", "user"),
        Some(SyncType::Application) => r.with("syncType", "application"),
    }
}

/// Parameters of `vtesync.get_changes` (§2.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetChanges {
    pub module: String,
    pub date_from: Timestamp,
    pub date_to: Option<Timestamp>,
    /// Defaults to `modifiedtime` on the CRM's side.
    pub date_field: Option<String>,
    pub max_entries: u32,
    pub show_deleted: bool,
    /// Admin only: the user whose records to return.
    pub delegated_user: Option<String>,
}

impl GetChanges {
    /// Changes of `module` since `date_from`, [`GET_CHANGES_MAX_ENTRIES`] at a time.
    pub fn since(module: &str, date_from: Timestamp) -> GetChanges {
        GetChanges {
            module: module.to_owned(),
            date_from,
            date_to: None,
            date_field: None,
            max_entries: GET_CHANGES_MAX_ENTRIES,
            show_deleted: true,
            delegated_user: None,
        }
    }
}

/// ISO 8601 as `get_changes` takes it: `2026-11-25T00:00:00+0000`.
pub fn iso8601(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// `vtesync.get_changes` (GET, §2.9).
pub fn get_changes(session: &str, p: &GetChanges) -> Request {
    let mut r = Request::new(Method::Get, "vtesync.get_changes")
        .with("sessionName", session)
        .with("module", p.module.as_str())
        .with("dateFrom", iso8601(p.date_from));
    if let Some(to) = p.date_to {
        r = r.with("dateTo", iso8601(to));
    }
    if let Some(f) = &p.date_field {
        r = r.with("dateField", f.as_str());
    }
    r = r
        .with("maxEntries", p.max_entries.to_string())
        .with("showDeleted", if p.show_deleted { "true" } else { "false" });
    if let Some(u) = &p.delegated_user {
        r = r.with("delegatedUser", u.as_str());
    }
    r
}

// ---------------------------------------------------------------------------------------------
// VTQL.

/// A comparison operator of VTQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Like,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Like => "LIKE",
        }
    }
}

/// How a condition joins the one before it. VTQL has no parentheses (§2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    And,
    Or,
}

/// One WHERE condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    Cmp {
        field: String,
        op: Op,
        value: String,
    },
    In {
        field: String,
        values: Vec<String>,
    },
}

/// What a query selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Select {
    All,
    Count,
    Fields(Vec<String>),
}

/// A VTQL query: `SELECT … FROM Module [WHERE …] [ORDER BY …] [LIMIT …];` (§2.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub select: Select,
    pub module: String,
    pub conditions: Vec<(Join, Cond)>,
    pub order_by: Vec<String>,
    pub descending: bool,
    /// `(offset, count)`. Without it vtenext returns at most [`QUERY_DEFAULT_ROWS`] rows.
    pub limit: Option<(u32, u32)>,
}

impl Query {
    /// `SELECT * FROM module`.
    pub fn all(module: &str) -> Query {
        Query {
            select: Select::All,
            module: module.to_owned(),
            conditions: Vec::new(),
            order_by: Vec::new(),
            descending: false,
            limit: None,
        }
    }

    /// `SELECT count(*) FROM module`.
    pub fn count(module: &str) -> Query {
        Query {
            select: Select::Count,
            ..Query::all(module)
        }
    }

    /// `SELECT f1,f2 FROM module`.
    pub fn fields(module: &str, fields: &[&str]) -> Query {
        Query {
            select: Select::Fields(fields.iter().map(|f| (*f).to_owned()).collect()),
            ..Query::all(module)
        }
    }

    /// Adds `AND field op 'value'` (the first condition opens the WHERE).
    pub fn and(mut self, field: &str, op: Op, value: &str) -> Query {
        self.conditions.push((
            Join::And,
            Cond::Cmp {
                field: field.to_owned(),
                op,
                value: value.to_owned(),
            },
        ));
        self
    }

    /// Adds `OR field op 'value'`.
    pub fn or(mut self, field: &str, op: Op, value: &str) -> Query {
        self.conditions.push((
            Join::Or,
            Cond::Cmp {
                field: field.to_owned(),
                op,
                value: value.to_owned(),
            },
        ));
        self
    }

    /// Adds `AND field IN ('a','b')`.
    pub fn and_in(mut self, field: &str, values: &[&str]) -> Query {
        self.conditions.push((
            Join::And,
            Cond::In {
                field: field.to_owned(),
                values: values.iter().map(|v| (*v).to_owned()).collect(),
            },
        ));
        self
    }

    pub fn order_by(mut self, field: &str) -> Query {
        self.order_by.push(field.to_owned());
        self
    }

    pub fn desc(mut self) -> Query {
        self.descending = true;
        self
    }

    /// `LIMIT offset, count`. Stock vtiger cuts `count` to 100; keep it at [`PAGE_ROWS`].
    pub fn limit(mut self, offset: u32, count: u32) -> Query {
        self.limit = Some((offset, count));
        self
    }

    /// Page `page` (from 0) of [`PAGE_ROWS`] rows. Paging needs a stable order: `ORDER BY id`
    /// sorts numerically (§9).
    pub fn page(self, page: u32) -> Query {
        self.limit(page.saturating_mul(PAGE_ROWS), PAGE_ROWS)
    }

    /// The VTQL text, with the trailing `;` the parser requires.
    pub fn to_vtql(&self) -> Result<String, CrmError> {
        ident(&self.module)?;
        let mut s = String::from("SELECT ");
        match &self.select {
            Select::All => s.push('*'),
            Select::Count => s.push_str("count(*)"),
            Select::Fields(fs) => {
                if fs.is_empty() {
                    return Err(CrmError::BadRequest("no field selected".into()));
                }
                for (i, f) in fs.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(ident(f)?);
                }
            }
        }
        s.push_str(" FROM ");
        s.push_str(&self.module);
        if self.conditions.len() > MAX_CONDITIONS as usize {
            return Err(CrmError::BadRequest(format!(
                "more than {MAX_CONDITIONS} conditions"
            )));
        }
        for (i, (join, cond)) in self.conditions.iter().enumerate() {
            s.push_str(match (i, join) {
                (0, _) => " WHERE ",
                (_, Join::And) => " AND ",
                (_, Join::Or) => " OR ",
            });
            match cond {
                Cond::Cmp { field, op, value } => {
                    s.push_str(ident(field)?);
                    s.push(' ');
                    s.push_str(op.as_str());
                    s.push(' ');
                    quote_into(value, &mut s);
                }
                Cond::In { field, values } => {
                    if values.is_empty() || values.len() > MAX_IN_VALUES as usize {
                        return Err(CrmError::BadRequest(format!(
                            "IN takes 1 to {MAX_IN_VALUES} values"
                        )));
                    }
                    s.push_str(ident(field)?);
                    s.push_str(" IN (");
                    for (j, v) in values.iter().enumerate() {
                        if j > 0 {
                            s.push(',');
                        }
                        quote_into(v, &mut s);
                    }
                    s.push(')');
                }
            }
        }
        if !self.order_by.is_empty() {
            s.push_str(" ORDER BY ");
            for (i, f) in self.order_by.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(ident(f)?);
            }
            if self.descending {
                s.push_str(" DESC");
            }
        }
        match self.limit {
            Some((0, n)) => s.push_str(&format!(" LIMIT {n}")),
            Some((off, n)) => s.push_str(&format!(" LIMIT {off},{n}")),
            None => {}
        }
        s.push(';');
        Ok(s)
    }
}

/// Field and module names go into VTQL unquoted, so only `[A-Za-z0-9_]` passes.
fn ident(s: &str) -> Result<&str, CrmError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(s)
    } else {
        Err(CrmError::BadRequest(format!("not a VTQL name: {s:?}")))
    }
}

/// A single-quoted VTQL string. The lexer reads backslash escapes, so `\` and `'` are
/// escaped with a backslash; everything else, UTF-8 included, goes as it is (§1: values arrive
/// intact).
fn quote_into(v: &str, out: &mut String) {
    out.push('\'');
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
}

/// Whether a query reply may have been cut by the CRM, so that the next page must be asked
/// for. Stock vtiger silently cuts a LIMIT above 100 to 100, so a reply of 100 rows to a
/// larger LIMIT also counts as full.
pub fn page_may_continue(rows: u32, asked: Option<u32>) -> bool {
    match asked {
        Some(n) => rows >= n.min(PAGE_ROWS),
        None => rows >= QUERY_DEFAULT_ROWS,
    }
}

// ---------------------------------------------------------------------------------------------
// Replies.

/// A record as the CRM sends it: field name → value. Every value is a string on the wire
/// (§2.5); `get_changes` adds `invitees` as an array, which is kept as it came.
pub type Record = Map<String, Value>;

/// A field of a record as text; `None` when absent or not a string.
pub fn field<'a>(r: &'a Record, name: &str) -> Option<&'a str> {
    r.get(name).and_then(Value::as_str)
}

/// Checks status and size, then reads the `{success,result|error}` envelope and returns
/// `result` (`Value::Null` when the CRM sends `null`, as for a second delete).
pub fn parse_envelope(status: u16, body: &[u8]) -> Result<Value, CrmError> {
    if body.len() > MAX_REPLY_BYTES as usize {
        return Err(CrmError::TooLarge);
    }
    if status != 200 {
        return Err(CrmError::Http(status));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(CrmError::EmptyBody);
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let Value::Object(mut env) = v else {
        return Err(bad("the envelope is not an object"));
    };
    match env.get("success") {
        Some(Value::Bool(true)) => Ok(env.remove("result").unwrap_or(Value::Null)),
        Some(Value::Bool(false)) => {
            let err = env
                .get("error")
                .and_then(Value::as_object)
                .ok_or_else(|| bad("success:false without an error object"))?;
            let code = err.get("code").and_then(Value::as_str).unwrap_or("");
            let message = err.get("message").and_then(Value::as_str).unwrap_or("");
            Err(CrmError::api(code, message))
        }
        _ => Err(bad("no boolean success")),
    }
}

fn object(v: Value, what: &str) -> Result<Map<String, Value>, CrmError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(bad(format!("{what}: not an object"))),
    }
}

fn take_str(m: &Map<String, Value>, key: &str, what: &str) -> Result<String, CrmError> {
    m.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| bad(format!("{what}: no {key}")))
}

/// A number that PHP may have sent as a number or as a string.
fn int_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn bool_of(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(matches!(s.as_str(), "1" | "true")),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        _ => None,
    }
}

/// The reply of `getchallenge`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub token: String,
    pub server_time: i64,
    pub expire_time: i64,
}

pub fn parse_challenge(result: Value) -> Result<Challenge, CrmError> {
    let m = object(result, "getchallenge")?;
    Ok(Challenge {
        token: take_str(&m, "token", "getchallenge")?,
        server_time: int_of(m.get("serverTime")).unwrap_or(0),
        expire_time: int_of(m.get("expireTime")).unwrap_or(0),
    })
}

/// The reply of `login`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginResult {
    pub session: String,
    /// The user's webservice id (`19x4`).
    pub user_id: String,
    /// User's zone offset minus the server's, in seconds, at login time (§2.2). Only a hint:
    /// it changes with daylight saving; zones come from `get_changes` or configuration.
    pub timezone_offset: i32,
    pub version: Option<String>,
    pub vte_version: Option<String>,
}

pub fn parse_login(result: Value) -> Result<LoginResult, CrmError> {
    let m = object(result, "login")?;
    let tz = int_of(m.get("timezone")).unwrap_or(0);
    Ok(LoginResult {
        session: take_str(&m, "sessionName", "login")?,
        user_id: take_str(&m, "userId", "login")?,
        timezone_offset: i32::try_from(tz).map_err(|_| bad("login: timezone out of range"))?,
        version: m.get("version").and_then(Value::as_str).map(str::to_owned),
        vte_version: m
            .get("vteVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// The reply of `login_pwd`: the user's access key.
pub fn parse_login_pwd(result: Value) -> Result<String, CrmError> {
    match result {
        Value::Array(a) => a
            .first()
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad("login_pwd: no access key")),
        _ => Err(bad("login_pwd: not an array")),
    }
}

/// The reply of `logout` is `{"message":"successfull"}`; any object is accepted.
pub fn parse_logout(result: Value) -> Result<(), CrmError> {
    object(result, "logout").map(|_| ())
}

/// The module names of `listtypes`.
pub fn parse_listtypes(result: Value) -> Result<Vec<String>, CrmError> {
    let m = object(result, "listtypes")?;
    let types = m
        .get("types")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("listtypes: no types"))?;
    let mut out = Vec::new();
    for t in types {
        cap(out.len(), MAX_TYPES, "listtypes")?;
        out.push(
            t.as_str()
                .ok_or_else(|| bad("listtypes: a type is not a string"))?
                .to_owned(),
        );
    }
    Ok(out)
}

fn cap(len: usize, max: u32, what: &str) -> Result<(), CrmError> {
    if len >= max as usize {
        Err(bad(format!("{what}: more than {max} entries")))
    } else {
        Ok(())
    }
}

/// One field of `describe`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    pub name: String,
    pub label: String,
    /// `type.name`: string, date, datetime, picklist, reference, owner, boolean, …
    pub type_name: String,
    /// `type.format` of date fields: the **user's** date format (`dd-mm-yyyy`).
    pub format: Option<String>,
    pub mandatory: bool,
    pub editable: bool,
    pub picklist: Vec<String>,
    pub refers_to: Vec<String>,
}

/// The reply of `describe`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Describe {
    pub name: String,
    pub label: String,
    /// The id prefix of the module's records (`4` for `4x20`); never hard-code it (§1).
    pub id_prefix: String,
    pub fields: Vec<FieldInfo>,
}

impl Describe {
    pub fn field(&self, name: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The user's date format, from the first date field that carries one: the only way a
    /// non-admin learns it (§2.4).
    pub fn date_format(&self) -> Option<&str> {
        self.fields
            .iter()
            .filter(|f| f.type_name == "date")
            .find_map(|f| f.format.as_deref())
    }
}

pub fn parse_describe(result: Value) -> Result<Describe, CrmError> {
    let m = object(result, "describe")?;
    let fields = m
        .get("fields")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("describe: no fields"))?;
    let mut out = Vec::new();
    for f in fields {
        cap(out.len(), MAX_DESCRIBE_FIELDS, "describe")?;
        let f = f
            .as_object()
            .ok_or_else(|| bad("describe: a field is not an object"))?;
        let ty = f.get("type").and_then(Value::as_object);
        let mut picklist = Vec::new();
        if let Some(vals) = ty
            .and_then(|t| t.get("picklistValues"))
            .and_then(Value::as_array)
        {
            for v in vals {
                cap(picklist.len(), MAX_PICKLIST_VALUES, "describe picklist")?;
                if let Some(s) = v.get("value").and_then(Value::as_str) {
                    picklist.push(s.to_owned());
                }
            }
        }
        let mut refers_to = Vec::new();
        if let Some(vals) = ty.and_then(|t| t.get("refersTo")).and_then(Value::as_array) {
            for v in vals {
                cap(refers_to.len(), MAX_PICKLIST_VALUES, "describe refersTo")?;
                if let Some(s) = v.as_str() {
                    refers_to.push(s.to_owned());
                }
            }
        }
        out.push(FieldInfo {
            name: take_str(f, "name", "describe field")?,
            label: f
                .get("label")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            type_name: ty
                .and_then(|t| t.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            format: ty
                .and_then(|t| t.get("format"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            mandatory: bool_of(f.get("mandatory")).unwrap_or(false),
            editable: bool_of(f.get("editable")).unwrap_or(false),
            picklist,
            refers_to,
        });
    }
    Ok(Describe {
        name: take_str(&m, "name", "describe")?,
        label: m
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        id_prefix: match m.get("idPrefix") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad("describe: no idPrefix")),
        },
        fields: out,
    })
}

fn record(v: Value, what: &str) -> Result<Record, CrmError> {
    let m = object(v, what)?;
    if m.len() > MAX_FIELDS_PER_RECORD as usize {
        return Err(bad(format!(
            "{what}: more than {MAX_FIELDS_PER_RECORD} fields"
        )));
    }
    Ok(m)
}

/// The reply of `retrieve`, `create`, `update` and `revise`: one full record.
pub fn parse_record(result: Value) -> Result<Record, CrmError> {
    let r = record(result, "record")?;
    if field(&r, "id").is_none_or(str::is_empty) {
        return Err(bad("record without id"));
    }
    Ok(r)
}

fn records(v: Option<Value>, what: &str) -> Result<Vec<Record>, CrmError> {
    let a = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad(format!("{what}: not an array"))),
    };
    if a.len() > MAX_RECORDS_PER_REPLY as usize {
        return Err(bad(format!(
            "{what}: more than {MAX_RECORDS_PER_REPLY} records"
        )));
    }
    a.into_iter().map(|r| record(r, what)).collect()
}

/// The rows of a `query` reply.
pub fn parse_query(result: Value) -> Result<Vec<Record>, CrmError> {
    records(Some(result), "query")
}

/// The reply of `SELECT count(*)`: `[{"count":"N"}]`.
pub fn parse_count(result: Value) -> Result<u32, CrmError> {
    let rows = parse_query(result)?;
    let n = rows
        .first()
        .and_then(|r| int_of(r.get("count")))
        .ok_or_else(|| bad("count: no count"))?;
    u32::try_from(n).map_err(|_| bad("count out of range"))
}

/// What `delete` answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// `{"status":"successful"}`.
    Now,
    /// `null`: the record was already deleted (§2.6).
    Already,
}

pub fn parse_delete(result: Value) -> Result<Deleted, CrmError> {
    match result {
        Value::Null => Ok(Deleted::Already),
        Value::Object(m) if m.get("status").and_then(Value::as_str) == Some("successful") => {
            Ok(Deleted::Now)
        }
        _ => Err(bad("delete: unexpected result")),
    }
}

/// Which operation returned a record: the zone of its times and the format of its dates
/// depend on it (CRM-API §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// create, retrieve, update, revise: event times and created/modifiedtime in the user's
    /// zone; dates in the user's format.
    Record,
    /// query: everything in the server's zone; dates in the user's format.
    Query,
    /// sync: as query.
    Sync,
    /// vtesync.get_changes: event times in the user's zone, created/modifiedtime in the
    /// server's; dates `Y-m-d`.
    GetChanges,
}

/// A deleted record reported by `sync` or `get_changes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedRef {
    pub id: String,
    /// Server-zone `Y-m-d H:i:s`; `get_changes` only.
    pub modified_time: Option<String>,
}

/// The changes of one `sync` or `vtesync.get_changes` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeSet {
    pub source: Source,
    /// Records created since the cursor (`get_changes` only: createdtime == modifiedtime).
    pub created: Vec<Record>,
    pub updated: Vec<Record>,
    pub deleted: Vec<DeletedRef>,
    /// More changes wait: call again from `cursor`.
    pub more: bool,
    /// `lastModifiedTime` (sync) or `last_update` (get_changes), Unix seconds.
    pub cursor: Option<i64>,
    /// `local_timezone` of get_changes: the server's zone.
    pub server_tz: Option<String>,
    /// `user_timezone` of get_changes.
    pub user_tz: Option<String>,
}

fn deleted_refs(v: Option<&Value>, what: &str) -> Result<Vec<DeletedRef>, CrmError> {
    let a = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad(format!("{what}: deleted is not an array"))),
    };
    let mut out = Vec::new();
    for d in a {
        cap(out.len(), MAX_DELETED_PER_REPLY, what)?;
        out.push(match d {
            Value::String(id) => DeletedRef {
                id: id.clone(),
                modified_time: None,
            },
            Value::Object(m) => DeletedRef {
                id: take_str(m, "id", what)?,
                modified_time: m
                    .get("modifiedtime")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            },
            _ => {
                return Err(bad(format!(
                    "{what}: a deleted entry is neither id nor object"
                )));
            }
        });
    }
    Ok(out)
}

/// The reply of `sync`.
pub fn parse_sync(result: Value) -> Result<ChangeSet, CrmError> {
    let mut m = object(result, "sync")?;
    let deleted = deleted_refs(m.get("deleted"), "sync")?;
    Ok(ChangeSet {
        source: Source::Sync,
        created: Vec::new(),
        updated: records(m.remove("updated"), "sync updated")?,
        deleted,
        more: bool_of(m.get("more")).unwrap_or(false),
        cursor: int_of(m.get("lastModifiedTime")),
        server_tz: None,
        user_tz: None,
    })
}

/// The reply of `vtesync.get_changes`.
pub fn parse_get_changes(result: Value) -> Result<ChangeSet, CrmError> {
    let mut m = object(result, "get_changes")?;
    let deleted = deleted_refs(m.get("deleted"), "get_changes")?;
    let created = records(m.remove("created"), "get_changes created")?;
    let updated = records(m.remove("updated"), "get_changes updated")?;
    if created.len() + updated.len() > MAX_RECORDS_PER_REPLY as usize {
        return Err(bad("get_changes: too many records"));
    }
    Ok(ChangeSet {
        source: Source::GetChanges,
        created,
        updated,
        deleted,
        more: bool_of(m.get("more")).unwrap_or(false),
        cursor: int_of(m.get("last_update")),
        server_tz: m
            .get("local_timezone")
            .and_then(Value::as_str)
            .map(str::to_owned),
        user_tz: m
            .get("user_timezone")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Splits `"4x20"` into its module prefix and crmid.
pub fn split_id(id: &str) -> Option<(&str, u64)> {
    let (prefix, n) = id.split_once('x')?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((prefix, n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_lowercase_hex_md5_of_token_then_key() {
        // md5("abc") is the RFC 1321 test vector.
        assert_eq!(
            access_key_digest("a", "bc"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            access_key_digest("", ""),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        let r = login("mrossi", "6b06d3b7bee2f", "PVW7C7EyRVrVJjec");
        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.param("accessKey"),
            Some(access_key_digest("6b06d3b7bee2f", "PVW7C7EyRVrVJjec").as_str())
        );
        assert_eq!(r.param("accessKey").map(str::len), Some(32));
    }

    #[test]
    fn methods_follow_the_operation_table() {
        let s = "S";
        let el: Record = serde_json::from_str(r#"{"id":"4x20"}"#).unwrap();
        let gets = [
            getchallenge("u"),
            listtypes(s),
            describe(s, "Contacts"),
            query_text(s, "SELECT * FROM Contacts;"),
            retrieve(s, "4x20"),
            sync(s, "Contacts", 1, None),
            get_changes(s, &GetChanges::since("Contacts", Timestamp::UNIX_EPOCH)),
        ];
        let posts = [
            login("u", "t", "k"),
            login_pwd("u", "p"),
            logout(s),
            extendsession(),
            create(s, "Contacts", &el),
            update(s, &el).unwrap(),
            revise(s, &el).unwrap(),
            delete(s, "4x20"),
        ];
        assert!(gets.iter().all(|r| r.method == Method::Get));
        assert!(posts.iter().all(|r| r.method == Method::Post));
        assert!(update(s, &Record::new()).is_err());
    }

    #[test]
    fn form_encoding() {
        let r = query_text("a b", "SELECT * FROM Contacts WHERE lastname = 'D''x&y=€';");
        assert_eq!(
            r.encoded(),
            "operation=query&sessionName=a%20b&query=SELECT%20%2A%20FROM%20Contacts%20WHERE%20\
             lastname%20%3D%20%27D%27%27x%26y%3D%E2%82%AC%27%3B"
        );
        let g = get_changes(
            "S",
            &GetChanges::since("Events", "2026-11-25T00:00:00Z".parse().unwrap()),
        );
        assert_eq!(g.param("dateFrom"), Some("2026-11-25T00:00:00+0000"));
        assert_eq!(g.operation, "vtesync.get_changes");
        assert!(g.encoded().starts_with("operation=vtesync.get_changes&"));
        let s = sync("S", "Contacts", 1795609681, Some(SyncType::User));
        assert_eq!(s.param("modifiedTime"), Some("1795609681"));
        assert_eq!(s.param("syncType"), Some("user"));
    }

    #[test]
    fn vtql_builder() {
        let q = Query::all("Contacts")
            .and("assigned_user_id", Op::Eq, "19x4")
            .and("modifiedtime", Op::Ge, "2026-11-25 13:26:38")
            .order_by("id")
            .page(2);
        assert_eq!(
            q.to_vtql().unwrap(),
            "SELECT * FROM Contacts WHERE assigned_user_id = '19x4' AND modifiedtime >= \
             '2026-11-25 13:26:38' ORDER BY id LIMIT 200,100;"
        );
        let q = Query::fields("Contacts", &["id", "lastname"])
            .and_in("id", &["4x20", "4x21"])
            .or("lastname", Op::Like, "O'Brien\\%")
            .limit(0, 10);
        assert_eq!(
            q.to_vtql().unwrap(),
            "SELECT id,lastname FROM Contacts WHERE id IN ('4x20','4x21') OR lastname LIKE \
             'O\\'Brien\\\\%' LIMIT 10;"
        );
        assert_eq!(
            Query::count("Events").to_vtql().unwrap(),
            "SELECT count(*) FROM Events;"
        );
        assert!(Query::all("Contacts; DROP").to_vtql().is_err());
        assert!(
            Query::all("Contacts")
                .and("a b", Op::Eq, "x")
                .to_vtql()
                .is_err()
        );
        assert!(Query::all("Contacts").and_in("id", &[]).to_vtql().is_err());
        let many: Vec<String> = (0..=MAX_IN_VALUES).map(|i| format!("4x{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(
            Query::all("Contacts")
                .and_in("id", &many)
                .to_vtql()
                .is_err()
        );
        let mut q = Query::all("Contacts");
        for _ in 0..=MAX_CONDITIONS {
            q = q.and("id", Op::Eq, "1");
        }
        assert!(q.to_vtql().is_err());
        assert!(Query::fields("Contacts", &[]).to_vtql().is_err());
    }

    #[test]
    fn envelope_errors() {
        assert_eq!(parse_envelope(500, b""), Err(CrmError::Http(500)));
        assert_eq!(parse_envelope(200, b" \n"), Err(CrmError::EmptyBody));
        assert!(matches!(
            parse_envelope(200, b"{\"succ"),
            Err(CrmError::BadJson(_))
        ));
        assert!(matches!(
            parse_envelope(200, b"[1]"),
            Err(CrmError::BadJson(_))
        ));
        assert!(matches!(
            parse_envelope(200, br#"{"success":false}"#),
            Err(CrmError::BadJson(_))
        ));
        let big = vec![b' '; MAX_REPLY_BYTES as usize + 1];
        assert_eq!(parse_envelope(200, &big), Err(CrmError::TooLarge));
        assert_eq!(
            parse_envelope(200, br#"{"success":true,"result":null}"#),
            Ok(Value::Null)
        );
        let e = parse_envelope(
            200,
            br#"{"success":false,"error":{"message":"m","code":"NEW_ONE"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code(), Some(&ApiCode::Other("NEW_ONE".into())));
        assert!(!e.is_transient());
        assert!(CrmError::Http(500).is_transient());
        assert!(CrmError::EmptyBody.is_transient());
        for (name, code) in ApiCode::TABLE {
            assert_eq!(ApiCode::parse(name), *code);
            assert_eq!(code.as_str(), *name);
        }
        assert!(ApiCode::LoginLocked.is_credential_failure());
        assert!(ApiCode::IpBanned.is_credential_failure());
        assert!(ApiCode::InvalidSessionId.is_session_lost());
        assert!(!ApiCode::AccessDenied.is_session_lost());
    }

    #[test]
    fn record_caps() {
        let mut m = Map::new();
        for i in 0..=MAX_FIELDS_PER_RECORD {
            m.insert(format!("f{i}"), Value::String(String::new()));
        }
        m.insert("id".into(), "4x1".into());
        assert!(parse_record(Value::Object(m)).is_err());
        let one = serde_json::json!({"id":"4x1"});
        let rows = Value::Array(vec![one.clone(); MAX_RECORDS_PER_REPLY as usize]);
        assert_eq!(
            parse_query(rows).unwrap().len(),
            MAX_RECORDS_PER_REPLY as usize
        );
        let rows = Value::Array(vec![one; MAX_RECORDS_PER_REPLY as usize + 1]);
        assert!(parse_query(rows).is_err());
        let del = serde_json::json!({"updated":[],"deleted":vec!["4x1"; MAX_DELETED_PER_REPLY as usize + 1],"more":false,"lastModifiedTime":1});
        assert!(parse_sync(del).is_err());
        let types = serde_json::json!({"types": vec!["A"; MAX_TYPES as usize + 1]});
        assert!(parse_listtypes(types).is_err());
        let fields: Vec<Value> = (0..=MAX_DESCRIBE_FIELDS)
            .map(|i| serde_json::json!({"name": format!("f{i}")}))
            .collect();
        let d = serde_json::json!({"name":"X","idPrefix":"4","fields":fields});
        assert!(parse_describe(d).is_err());
        let pl: Vec<Value> = (0..=MAX_PICKLIST_VALUES)
            .map(|i| serde_json::json!({"label":"l","value": format!("v{i}")}))
            .collect();
        let d = serde_json::json!({"name":"X","idPrefix":"4","fields":[{"name":"p","type":{"name":"picklist","picklistValues":pl}}]});
        assert!(parse_describe(d).is_err());
    }

    #[test]
    fn paging() {
        assert!(page_may_continue(100, Some(100)));
        assert!(!page_may_continue(33, Some(100)));
        // Stock vtiger cut LIMIT 500 to 100.
        assert!(page_may_continue(100, Some(500)));
        assert!(!page_may_continue(999, None));
        assert!(page_may_continue(QUERY_DEFAULT_ROWS, None));
    }

    #[test]
    fn ids() {
        assert_eq!(split_id("4x20"), Some(("4", 20)));
        assert_eq!(split_id("x20"), None);
        assert_eq!(split_id("4x"), None);
        assert_eq!(split_id("a4x1"), None);
    }
}
