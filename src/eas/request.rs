//! The request line: [MS-ASHTTP] 2.2.1.1.1 (the URI query value) in both of its forms,
//! 2.2.1.1.1.1 base64-encoded (command codes 2.2.1.1.1.1.2, command parameters 2.2.1.1.1.1.3)
//! and 2.2.1.1.1.2 plain text (command-specific parameters 2.2.1.1.1.2.5), plus the request
//! headers that the plain form carries instead of query fields: 2.2.1.1.2.5
//! `MS-ASAcceptMultiPart`, 2.2.1.1.2.6 `MS-ASProtocolVersion`, 2.2.1.1.2.8 `X-MS-PolicyKey`.
//! Also the OPTIONS response headers (3.2.5.2; 2.2.4.1.2.1 `MS-ASProtocolCommands`,
//! 2.2.4.1.2.2 `MS-ASProtocolVersions`).
//!
//! Sans-io: [`RequestLine::parse`] takes the raw query string and a header lookup; the
//! encoders give back query strings and header pairs for the test client.
//!
//! The form is told apart by shape rather than by looking for `Cmd=`: a plain query holds `&`
//! or a `=` that is not trailing base64 padding, and a base64 query never does (a base64 value
//! can end in `Cmd=` by chance).

use super::{Error, ProtocolVersion};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use core::fmt;

/// Longest raw query string accepted, in bytes. The longest legal base64 line (every field
/// and parameter at 255 bytes) is far beyond anything a client sends; real lines stay under
/// 200 bytes, and a plain line with a long AttachmentName under 1 KiB.
pub const MAX_QUERY_LEN: u32 = 2048;
/// Longest DeviceId, in bytes. The old client spec said "up to 32 characters"; some clients
/// send longer ids (hex GUIDs with a prefix), so we allow twice that.
pub const MAX_DEVICE_ID_LEN: u32 = 64;
/// Longest DeviceType, in bytes.
pub const MAX_DEVICE_TYPE_LEN: u32 = 64;
/// Longest User value, in bytes (the base64 form cannot carry more than 255).
pub const MAX_USER_LEN: u32 = 255;
/// Longest command parameter value (AttachmentName, CollectionId, ItemId, LongId,
/// Occurrence), in bytes (the base64 form cannot carry more than 255).
pub const MAX_PARAM_LEN: u32 = 255;
/// Most `key=value` pairs in a plain query, unknown keys included.
pub const MAX_PLAIN_PAIRS: u32 = 16;

/// Header names used around the request line ([MS-ASHTTP] 2.2.1.1.2, 2.2.4.1.2).
pub mod header {
    /// Request: the protocol version of a plain-form request (2.2.1.1.2.6).
    pub const PROTOCOL_VERSION: &str = "MS-ASProtocolVersion";
    /// Request: the client's policy key in a plain-form request (2.2.1.1.2.8).
    pub const POLICY_KEY: &str = "X-MS-PolicyKey";
    /// Request: `T` asks for a multipart ItemOperations response (2.2.1.1.2.5).
    pub const ACCEPT_MULTIPART: &str = "MS-ASAcceptMultiPart";
    /// OPTIONS response: the versions the server speaks, ascending (2.2.4.1.2.2).
    pub const PROTOCOL_VERSIONS: &str = "MS-ASProtocolVersions";
    /// OPTIONS response: the commands the server answers (2.2.4.1.2.1).
    pub const PROTOCOL_COMMANDS: &str = "MS-ASProtocolCommands";
    /// Response: the server's version.
    pub const SERVER_ACTIVESYNC: &str = "MS-Server-ActiveSync";
    /// Response: the version list again, telling the device to renegotiate after a change.
    pub const RP: &str = "X-MS-RP";
    /// Response: what IIS sends; Nine offers 16.1 only when it sees it (EAS-NOTES §1.1).
    pub const ASPNET_VERSION: &str = "X-AspNet-Version";
}

/// `MS-Server-ActiveSync` value: Exchange 2016's, the server generation that speaks 16.1
/// (the value the [MS-ASHTTP] response header table shows).
pub const SERVER_ACTIVESYNC_VERSION: &str = "15.1";
/// `X-AspNet-Version` value: what Exchange on .NET 4 sends.
pub const ASPNET_VERSION: &str = "4.0.30319";

/// An ActiveSync command with its base64 command code ([MS-ASHTTP] 2.2.1.1.1.1.2). Codes 5–8
/// were 2.5-only commands that the base64 form never carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    Sync,
    SendMail,
    SmartForward,
    SmartReply,
    GetAttachment,
    FolderSync,
    FolderCreate,
    FolderDelete,
    FolderUpdate,
    MoveItems,
    GetItemEstimate,
    MeetingResponse,
    Search,
    Settings,
    Ping,
    ItemOperations,
    Provision,
    ResolveRecipients,
    ValidateCert,
    Find,
}

impl Command {
    /// Every command, in code order.
    pub const ALL: [Command; 20] = [
        Command::Sync,
        Command::SendMail,
        Command::SmartForward,
        Command::SmartReply,
        Command::GetAttachment,
        Command::FolderSync,
        Command::FolderCreate,
        Command::FolderDelete,
        Command::FolderUpdate,
        Command::MoveItems,
        Command::GetItemEstimate,
        Command::MeetingResponse,
        Command::Search,
        Command::Settings,
        Command::Ping,
        Command::ItemOperations,
        Command::Provision,
        Command::ResolveRecipients,
        Command::ValidateCert,
        Command::Find,
    ];

    /// The commands easbox answers, listed in `MS-ASProtocolCommands`. easbox syncs contacts,
    /// calendar and tasks; of the mail commands only SendMail is here, because clients send
    /// meeting invitations and replies through it. Folder edits and the mail-only commands
    /// are left out so clients do not offer them.
    pub const SERVED: [Command; 11] = [
        Command::Sync,
        Command::SendMail,
        Command::FolderSync,
        Command::MoveItems,
        Command::GetItemEstimate,
        Command::MeetingResponse,
        Command::Search,
        Command::Settings,
        Command::Ping,
        Command::ItemOperations,
        Command::Provision,
    ];

    /// The base64 command code.
    pub const fn code(self) -> u8 {
        match self {
            Command::Sync => 0,
            Command::SendMail => 1,
            Command::SmartForward => 2,
            Command::SmartReply => 3,
            Command::GetAttachment => 4,
            Command::FolderSync => 9,
            Command::FolderCreate => 10,
            Command::FolderDelete => 11,
            Command::FolderUpdate => 12,
            Command::MoveItems => 13,
            Command::GetItemEstimate => 14,
            Command::MeetingResponse => 15,
            Command::Search => 16,
            Command::Settings => 17,
            Command::Ping => 18,
            Command::ItemOperations => 19,
            Command::Provision => 20,
            Command::ResolveRecipients => 21,
            Command::ValidateCert => 22,
            Command::Find => 23,
        }
    }

    pub fn from_code(code: u8) -> Option<Command> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The name as written in `Cmd=` and `MS-ASProtocolCommands`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Command::Sync => "Sync",
            Command::SendMail => "SendMail",
            Command::SmartForward => "SmartForward",
            Command::SmartReply => "SmartReply",
            Command::GetAttachment => "GetAttachment",
            Command::FolderSync => "FolderSync",
            Command::FolderCreate => "FolderCreate",
            Command::FolderDelete => "FolderDelete",
            Command::FolderUpdate => "FolderUpdate",
            Command::MoveItems => "MoveItems",
            Command::GetItemEstimate => "GetItemEstimate",
            Command::MeetingResponse => "MeetingResponse",
            Command::Search => "Search",
            Command::Settings => "Settings",
            Command::Ping => "Ping",
            Command::ItemOperations => "ItemOperations",
            Command::Provision => "Provision",
            Command::ResolveRecipients => "ResolveRecipients",
            Command::ValidateCert => "ValidateCert",
            Command::Find => "Find",
        }
    }

    /// Looks a command up by name, ignoring ASCII case as IIS does.
    pub fn from_name(name: &str) -> Option<Command> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether easbox answers this command (see [`Command::SERVED`]).
    pub fn is_served(self) -> bool {
        Self::SERVED.contains(&self)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for Command {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Command::from_name(s).ok_or(Error::BadRequestLine("unknown command"))
    }
}

/// The Options command parameter, a bit mask ([MS-ASHTTP] 2.2.1.1.1.1.3). In the plain form
/// SaveInSent is the `SaveInSent=T` parameter and AcceptMultiPart the `MS-ASAcceptMultiPart`
/// header. Bits the spec does not define are dropped on input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Options(u8);

impl Options {
    /// Save the sent message in Sent Items (SendMail, SmartForward, SmartReply).
    pub const SAVE_IN_SENT: Options = Options(0x01);
    /// Answer ItemOperations in multipart form.
    pub const ACCEPT_MULTI_PART: Options = Options(0x02);
    const KNOWN: u8 = 0x03;

    pub const fn empty() -> Self {
        Options(0)
    }

    /// Keeps the defined bits and drops the rest.
    pub const fn from_bits_truncate(bits: u8) -> Self {
        Options(bits & Self::KNOWN)
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn contains(self, other: Options) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: Options) {
        self.0 |= other.0;
    }

    pub const fn save_in_sent(self) -> bool {
        self.contains(Self::SAVE_IN_SENT)
    }

    pub const fn accept_multipart(self) -> bool {
        self.contains(Self::ACCEPT_MULTI_PART)
    }
}

impl core::ops::BitOr for Options {
    type Output = Options;
    fn bitor(self, rhs: Options) -> Options {
        Options(self.0 | rhs.0)
    }
}

/// One request line, whichever form it came in.
///
/// Fields the plain form keeps in headers (`protocol_version`, `policy_key`, the
/// AcceptMultiPart option) are filled from the header lookup given to [`RequestLine::parse`].
/// `locale` exists only in the base64 form and is 0 for plain requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLine {
    pub command: Command,
    /// The `User` parameter as sent (`DOMAIN\user`, `user@domain` or `user`; see
    /// [`split_user`]). Required in the plain form; optional in the base64 form, where the
    /// user is then known only from the Authorization header.
    pub user: Option<String>,
    /// The DeviceId: ASCII letters, digits, `-`, `_`, `.`. A 16-byte binary GUID in the
    /// base64 form becomes 32 upper-case hex digits.
    pub device_id: String,
    /// The DeviceType, same character set as the DeviceId.
    pub device_type: String,
    /// `None` when a plain request has no `MS-ASProtocolVersion` header.
    pub protocol_version: Option<ProtocolVersion>,
    /// `None` when the client sent no policy key (the first Provision).
    pub policy_key: Option<u32>,
    /// The response language as an [MS-LCID] value, e.g. 0x0409; 0 when not sent.
    pub locale: u16,
    pub attachment_name: Option<String>,
    pub collection_id: Option<String>,
    pub item_id: Option<String>,
    pub long_id: Option<String>,
    pub occurrence: Option<String>,
    pub options: Options,
}

/// A header lookup that finds nothing, for callers without headers (fuzzing, base64 tests).
pub fn no_headers(_name: &str) -> Option<&'static str> {
    None
}

impl RequestLine {
    /// A line with the required fields and nothing else.
    pub fn new(command: Command, device_id: &str, device_type: &str) -> Self {
        RequestLine {
            command,
            user: None,
            device_id: device_id.to_owned(),
            device_type: device_type.to_owned(),
            protocol_version: None,
            policy_key: None,
            locale: 0,
            attachment_name: None,
            collection_id: None,
            item_id: None,
            long_id: None,
            occurrence: None,
            options: Options::empty(),
        }
    }

    /// Parses the raw query string (the part after `?`, still percent-encoded) of an EAS
    /// POST, in either form.
    ///
    /// `headers` looks a request header up by name and gives its value; names are passed as
    /// spelled in [`header`], and matching them case-insensitively is the caller's job (hyper's
    /// `HeaderMap` does). Use [`no_headers`] when there are none. The plain form takes its
    /// protocol version, policy key and AcceptMultiPart flag from the headers; the base64 form
    /// carries the first two itself and consults the headers only for a missing policy key
    /// and for AcceptMultiPart.
    ///
    /// Errors: [`Error::BadRequestLine`] for anything malformed or over a cap;
    /// [`Error::UnsupportedVersion`] for a well-formed `MS-ASProtocolVersion` that easbox does
    /// not speak (2.5, 12.0). Never panics.
    pub fn parse<'h>(
        query: &str,
        headers: &dyn Fn(&str) -> Option<&'h str>,
    ) -> Result<RequestLine, Error> {
        if query.len() > MAX_QUERY_LEN as usize {
            return Err(Error::BadRequestLine("query too long"));
        }
        if query.is_empty() {
            return Err(Error::BadRequestLine("empty query"));
        }
        let mut line = if is_plain(query) {
            parse_plain(query, headers)?
        } else {
            parse_base64(query, headers)?
        };
        if let Some(v) = headers(header::ACCEPT_MULTIPART)
            && v.trim().eq_ignore_ascii_case("T")
        {
            line.options.insert(Options::ACCEPT_MULTI_PART);
        }
        Ok(line)
    }

    /// The plain query value (without the leading `?`). The protocol version, policy key
    /// and AcceptMultiPart travel as headers: see [`RequestLine::plain_headers`]. The locale
    /// has no plain form and is dropped.
    pub fn to_query_plain(&self) -> Result<String, Error> {
        self.check().map_err(Error::Unencodable)?;
        let user = self
            .user
            .as_deref()
            .ok_or(Error::Unencodable("the plain form needs User"))?;
        let mut q = String::new();
        push_pair(&mut q, "Cmd", self.command.as_str());
        push_pair(&mut q, "User", user);
        push_pair(&mut q, "DeviceId", &self.device_id);
        push_pair(&mut q, "DeviceType", &self.device_type);
        for (name, _, value) in self.params() {
            if let Some(v) = value {
                push_pair(&mut q, name, v);
            }
        }
        if self.options.save_in_sent() {
            push_pair(&mut q, "SaveInSent", "T");
        }
        Ok(q)
    }

    /// The headers that go with [`RequestLine::to_query_plain`].
    pub fn plain_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(v) = self.protocol_version {
            h.push((header::PROTOCOL_VERSION, v.as_str().to_owned()));
        }
        if let Some(k) = self.policy_key {
            h.push((header::POLICY_KEY, k.to_string()));
        }
        if self.options.accept_multipart() {
            h.push((header::ACCEPT_MULTIPART, "T".to_owned()));
        }
        h
    }

    /// The base64 query value (without the leading `?`): standard alphabet with padding, and
    /// `+`, `/`, `=` percent-encoded so the value survives any URL handling. Needs a protocol
    /// version; every field must fit its one-byte length.
    pub fn to_query_base64(&self) -> Result<String, Error> {
        self.check().map_err(Error::Unencodable)?;
        let version = self.protocol_version.ok_or(Error::Unencodable(
            "the base64 form needs a protocol version",
        ))?;
        let mut b = Vec::with_capacity(64);
        b.push(version.as_byte());
        b.push(self.command.code());
        b.extend_from_slice(&self.locale.to_le_bytes());
        push_field(&mut b, self.device_id.as_bytes())?;
        match self.policy_key {
            None => b.push(0),
            Some(k) => {
                b.push(4);
                b.extend_from_slice(&k.to_le_bytes());
            }
        }
        push_field(&mut b, self.device_type.as_bytes())?;
        for (_, tag, value) in self.params() {
            if let Some(v) = value {
                b.push(tag);
                push_field(&mut b, v.as_bytes())?;
            }
        }
        if !self.options.is_empty() {
            b.extend_from_slice(&[TAG_OPTIONS, 1, self.options.bits()]);
        }
        if let Some(u) = &self.user {
            b.push(TAG_USER);
            push_field(&mut b, u.as_bytes())?;
        }
        let text = base64::engine::general_purpose::STANDARD.encode(&b);
        let mut q = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            match c {
                '+' => q.push_str("%2B"),
                '/' => q.push_str("%2F"),
                '=' => q.push_str("%3D"),
                c => q.push(c),
            }
        }
        Ok(q)
    }

    /// The string parameters with their plain names and base64 tags, in tag order.
    fn params(&self) -> [(&'static str, u8, Option<&str>); 5] {
        [
            (
                "AttachmentName",
                TAG_ATTACHMENT_NAME,
                self.attachment_name.as_deref(),
            ),
            (
                "CollectionId",
                TAG_COLLECTION_ID,
                self.collection_id.as_deref(),
            ),
            ("ItemId", TAG_ITEM_ID, self.item_id.as_deref()),
            ("LongId", TAG_LONG_ID, self.long_id.as_deref()),
            ("Occurrence", TAG_OCCURRENCE, self.occurrence.as_deref()),
        ]
    }

    /// The same rules the parsers apply, so encoders never write what parse would refuse.
    fn check(&self) -> Result<(), &'static str> {
        check_device_field(&self.device_id, &DEVICE_ID)?;
        check_device_field(&self.device_type, &DEVICE_TYPE)?;
        if let Some(u) = &self.user {
            check_text(u, &USER)?;
        }
        for (_, _, value) in self.params() {
            if let Some(v) = value {
                check_text(v, &PARAM)?;
            }
        }
        Ok(())
    }
}

/// The OPTIONS response headers ([MS-ASHTTP] 3.2.5.2): server version, supported versions
/// ascending (AOSP takes the last one), served commands, and `X-AspNet-Version`.
pub fn options_headers() -> [(&'static str, String); 4] {
    [
        (
            header::SERVER_ACTIVESYNC,
            SERVER_ACTIVESYNC_VERSION.to_owned(),
        ),
        (header::PROTOCOL_VERSIONS, ProtocolVersion::header_list()),
        (header::PROTOCOL_COMMANDS, commands_header_value()),
        (header::ASPNET_VERSION, ASPNET_VERSION.to_owned()),
    ]
}

/// `MS-ASProtocolCommands` value: [`Command::SERVED`] joined by commas.
pub fn commands_header_value() -> String {
    Command::SERVED.map(Command::as_str).join(",")
}

/// The `X-MS-RP` header that tells a device the version list changed and it must
/// renegotiate; its value is the version list, as in `MS-ASProtocolVersions`.
pub fn rp_header() -> (&'static str, String) {
    (header::RP, ProtocolVersion::header_list())
}

/// Splits a user name as clients send it (Basic-auth user or the `User` parameter) into
/// (domain, user): `DOMAIN\user` splits at the first backslash, otherwise `user@domain`
/// splits at the last `@`. An empty domain part counts as none; the user part is returned as
/// is (possibly empty) for the caller to judge. `user@domain` yields the local part as user,
/// so a caller that logs in with full e-mail addresses should use the input unsplit.
pub fn split_user(s: &str) -> (Option<&str>, &str) {
    let (domain, user) = match s.split_once('\\') {
        Some(pair) => pair,
        None => match s.rsplit_once('@') {
            Some((user, domain)) => (domain, user),
            None => return (None, s),
        },
    };
    ((!domain.is_empty()).then_some(domain), user)
}

// Base64 command parameter tags ([MS-ASHTTP] 2.2.1.1.1.1.3). Tags 2 (CollectionName) and
// 5 (ParentId) were defined by older revisions; we skip them if a client still sends them.
const TAG_ATTACHMENT_NAME: u8 = 0;
const TAG_COLLECTION_ID: u8 = 1;
const TAG_COLLECTION_NAME: u8 = 2;
const TAG_ITEM_ID: u8 = 3;
const TAG_LONG_ID: u8 = 4;
const TAG_PARENT_ID: u8 = 5;
const TAG_OCCURRENCE: u8 = 6;
const TAG_OPTIONS: u8 = 7;
const TAG_USER: u8 = 8;

/// Length of a binary GUID DeviceId in the base64 form.
const GUID_LEN: usize = 16;

fn is_plain(query: &str) -> bool {
    query.contains('&') || query.trim_end_matches('=').contains('=')
}

fn bad(why: &'static str) -> Error {
    Error::BadRequestLine(why)
}

/// Limits and error reasons for one request-line field.
struct Rules {
    cap: u32,
    empty: &'static str,
    long: &'static str,
    bad_char: &'static str,
}

/// DeviceId and DeviceType end up in log lines and store keys, so they may hold only
/// characters that need no quoting anywhere ([MS-ASHTTP] 2.2.1.1.1.2.3: "MUST NOT contain
/// commas or special characters").
const DEVICE_ID: Rules = Rules {
    cap: MAX_DEVICE_ID_LEN,
    empty: "empty DeviceId",
    long: "DeviceId too long",
    bad_char: "DeviceId holds a character outside A-Z a-z 0-9 - _ .",
};
const DEVICE_TYPE: Rules = Rules {
    cap: MAX_DEVICE_TYPE_LEN,
    empty: "empty DeviceType",
    long: "DeviceType too long",
    bad_char: "DeviceType holds a character outside A-Z a-z 0-9 - _ .",
};
/// User and the string parameters: any text without control characters.
const USER: Rules = Rules {
    cap: MAX_USER_LEN,
    empty: "empty User",
    long: "User too long",
    bad_char: "control character in User",
};
/// Empty parameters are read as absent, so `empty` is never reported for them.
const PARAM: Rules = Rules {
    cap: MAX_PARAM_LEN,
    empty: "empty command parameter",
    long: "command parameter too long",
    bad_char: "control character in a command parameter",
};

fn check_device_field(s: &str, rules: &Rules) -> Result<(), &'static str> {
    check_len(s, rules)?;
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(rules.bad_char);
    }
    Ok(())
}

fn check_text(s: &str, rules: &Rules) -> Result<(), &'static str> {
    check_len(s, rules)?;
    if s.chars().any(char::is_control) {
        return Err(rules.bad_char);
    }
    Ok(())
}

fn check_len(s: &str, rules: &Rules) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err(rules.empty);
    }
    if s.len() > rules.cap as usize {
        return Err(rules.long);
    }
    Ok(())
}

/// A string parameter; an empty value says nothing and is read as absent.
fn opt_param(v: String) -> Result<Option<String>, Error> {
    if v.is_empty() {
        return Ok(None);
    }
    check_text(&v, &PARAM).map_err(bad)?;
    Ok(Some(v))
}

fn push_field(b: &mut Vec<u8>, v: &[u8]) -> Result<(), Error> {
    let len = u8::try_from(v.len()).map_err(|_| Error::Unencodable("field over 255 bytes"))?;
    b.push(len);
    b.extend_from_slice(v);
    Ok(())
}

fn push_pair(q: &mut String, key: &str, value: &str) {
    if !q.is_empty() {
        q.push('&');
    }
    q.push_str(key);
    q.push('=');
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            q.push(char::from(b));
        } else {
            q.push('%');
            q.push(char::from(HEX[usize::from(b >> 4)]));
            q.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s`; `+` becomes a space when `plus_is_space` (form encoding).
fn percent_decode(s: &str, plus_is_space: bool) -> Result<Vec<u8>, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_val);
                let lo = bytes.get(i + 2).copied().and_then(hex_val);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                    _ => return Err(bad("bad percent escape")),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn decode_text(s: &str) -> Result<String, Error> {
    String::from_utf8(percent_decode(s, true)?).map_err(|_| bad("query value is not UTF-8"))
}

// ---- plain form ([MS-ASHTTP] 2.2.1.1.1.2) ----

fn parse_plain<'h>(
    query: &str,
    headers: &dyn Fn(&str) -> Option<&'h str>,
) -> Result<RequestLine, Error> {
    let mut command = None;
    let mut user = None;
    let mut device_id = None;
    let mut device_type = None;
    let mut strings: [(bool, Option<String>); 5] = Default::default();
    let mut save_in_sent = None;
    let mut pairs = 0u32;

    for pair in query.split('&').filter(|p| !p.is_empty()) {
        pairs += 1;
        if pairs > MAX_PLAIN_PAIRS {
            return Err(bad("too many query parameters"));
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_text(key)?;
        let value = decode_text(value)?;
        let slot = match PLAIN_KEYS.iter().position(|k| k.eq_ignore_ascii_case(&key)) {
            Some(i) => i,
            // Unknown keys are ignored: nothing in them changes what we answer.
            None => continue,
        };
        let set = |dst: &mut Option<String>, v: String| {
            if dst.replace(v).is_some() {
                Err(bad("repeated query parameter"))
            } else {
                Ok(())
            }
        };
        match slot {
            0 => {
                let c = Command::from_name(&value).ok_or(bad("unknown command"))?;
                if command.replace(c).is_some() {
                    return Err(bad("repeated query parameter"));
                }
            }
            1 => set(&mut user, value)?,
            2 => set(&mut device_id, value)?,
            3 => set(&mut device_type, value)?,
            4..=8 => {
                let entry = strings
                    .get_mut(slot - 4)
                    .ok_or(bad("query parameter slot"))?;
                if entry.0 {
                    return Err(bad("repeated query parameter"));
                }
                entry.0 = true;
                entry.1 = opt_param(value)?;
            }
            _ => {
                let v = if value.eq_ignore_ascii_case("T") {
                    true
                } else if value.eq_ignore_ascii_case("F") {
                    false
                } else {
                    return Err(bad("SaveInSent is neither T nor F"));
                };
                if save_in_sent.replace(v).is_some() {
                    return Err(bad("repeated query parameter"));
                }
            }
        }
    }

    let command = command.ok_or(bad("missing Cmd"))?;
    let user = user.ok_or(bad("missing User"))?;
    check_text(&user, &USER).map_err(bad)?;
    let device_id = device_id.ok_or(bad("missing DeviceId"))?;
    check_device_field(&device_id, &DEVICE_ID).map_err(bad)?;
    let device_type = device_type.ok_or(bad("missing DeviceType"))?;
    check_device_field(&device_type, &DEVICE_TYPE).map_err(bad)?;

    let protocol_version = match headers(header::PROTOCOL_VERSION).map(str::trim) {
        None | Some("") => None,
        Some(v) => Some(parse_version_header(v)?),
    };
    let policy_key = policy_key_header(headers)?;

    let [attachment_name, collection_id, item_id, long_id, occurrence] = strings.map(|(_, v)| v);
    let mut options = Options::empty();
    if save_in_sent == Some(true) {
        options.insert(Options::SAVE_IN_SENT);
    }
    Ok(RequestLine {
        command,
        user: Some(user),
        device_id,
        device_type,
        protocol_version,
        policy_key,
        locale: 0,
        attachment_name,
        collection_id,
        item_id,
        long_id,
        occurrence,
        options,
    })
}

/// Plain keys by slot: 0 Cmd, 1 User, 2 DeviceId, 3 DeviceType, 4..=8 the string parameters
/// in tag order, 9 SaveInSent.
const PLAIN_KEYS: [&str; 10] = [
    "Cmd",
    "User",
    "DeviceId",
    "DeviceType",
    "AttachmentName",
    "CollectionId",
    "ItemId",
    "LongId",
    "Occurrence",
    "SaveInSent",
];

fn parse_version_header(v: &str) -> Result<ProtocolVersion, Error> {
    match v.parse::<ProtocolVersion>() {
        Ok(v) => Ok(v),
        // Versions that exist but that easbox does not speak.
        Err(_) if matches!(v, "2.5" | "12.0") => Err(Error::UnsupportedVersion),
        Err(_) => Err(bad("bad MS-ASProtocolVersion header")),
    }
}

fn policy_key_header<'h>(headers: &dyn Fn(&str) -> Option<&'h str>) -> Result<Option<u32>, Error> {
    match headers(header::POLICY_KEY).map(str::trim) {
        None | Some("") => Ok(None),
        Some(k) if k.len() <= 10 && k.bytes().all(|b| b.is_ascii_digit()) => k
            .parse()
            .map(Some)
            .map_err(|_| bad("X-MS-PolicyKey out of range")),
        Some(_) => Err(bad("bad X-MS-PolicyKey header")),
    }
}

// ---- base64 form ([MS-ASHTTP] 2.2.1.1.1.1) ----

/// Standard alphabet, padding optional, non-zero trailing bits tolerated: clients differ.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A bounds-checked cursor over the decoded bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self, what: &'static str) -> Result<u8, Error> {
        let b = self.bytes.get(self.pos).copied().ok_or(bad(what))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(bad(what))?;
        let s = self.bytes.get(self.pos..end).ok_or(bad(what))?;
        self.pos = end;
        Ok(s)
    }

    /// A one-byte length followed by that many bytes.
    fn field(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let n = self.byte(what)?;
        self.take(usize::from(n), what)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

fn parse_base64<'h>(
    query: &str,
    headers: &dyn Fn(&str) -> Option<&'h str>,
) -> Result<RequestLine, Error> {
    let mut text = percent_decode(query, false)?;
    for b in &mut text {
        // URL-safe alphabet, and a `+` that some layer already turned into a space.
        *b = match *b {
            b'-' => b'+',
            b'_' => b'/',
            b' ' => b'+',
            b => b,
        };
    }
    let bytes = LENIENT_BASE64
        .decode(&text)
        .map_err(|_| bad("query is neither plain nor valid base64"))?;
    let mut r = Reader {
        bytes: &bytes,
        pos: 0,
    };

    let version = ProtocolVersion::from_byte(r.byte("truncated before protocol version")?)
        .map_err(|_| bad("unsupported protocol version byte"))?;
    let command = Command::from_code(r.byte("truncated before command code")?)
        .ok_or(bad("unknown command code"))?;
    let locale = u16::from_le_bytes(
        r.take(2, "truncated in locale")?
            .try_into()
            .map_err(|_| bad("truncated in locale"))?,
    );
    let device_id = device_id_from_bytes(r.field("DeviceId runs past the end")?)?;
    let policy_key = match r.field("policy key runs past the end")? {
        [] => None,
        [a, b, c, d] => Some(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => return Err(bad("policy key length is neither 0 nor 4")),
    };
    let device_type = String::from_utf8(r.field("DeviceType runs past the end")?.to_vec())
        .map_err(|_| bad("DeviceType is not UTF-8"))?;
    check_device_field(&device_type, &DEVICE_TYPE).map_err(bad)?;

    let mut line = RequestLine {
        locale,
        protocol_version: Some(version),
        policy_key,
        ..RequestLine::new(command, "", "")
    };
    line.device_id = device_id;
    line.device_type = device_type;

    // Each tag may appear once, which bounds the parameters at nine.
    let mut seen = 0u16;
    while !r.at_end() {
        let tag = r.byte("truncated command parameter")?;
        let value = r.field("command parameter runs past the end")?;
        if tag > TAG_USER {
            return Err(bad("unknown command parameter tag"));
        }
        let bit = 1u16 << tag;
        if seen & bit != 0 {
            return Err(bad("repeated command parameter"));
        }
        seen |= bit;
        match tag {
            TAG_COLLECTION_NAME | TAG_PARENT_ID => {}
            TAG_OPTIONS => match value {
                [b] => line.options = Options::from_bits_truncate(*b),
                _ => return Err(bad("Options parameter is not one byte")),
            },
            TAG_USER => {
                let u = String::from_utf8(value.to_vec()).map_err(|_| bad("User is not UTF-8"))?;
                check_text(&u, &USER).map_err(bad)?;
                line.user = Some(u);
            }
            _ => {
                let v = String::from_utf8(value.to_vec())
                    .map_err(|_| bad("command parameter is not UTF-8"))?;
                let v = opt_param(v)?;
                match tag {
                    TAG_ATTACHMENT_NAME => line.attachment_name = v,
                    TAG_COLLECTION_ID => line.collection_id = v,
                    TAG_ITEM_ID => line.item_id = v,
                    TAG_LONG_ID => line.long_id = v,
                    _ => line.occurrence = v,
                }
            }
        }
    }

    // The spec says the headers should not be sent with the base64 form; a client that
    // sends its key there anyway is still understood.
    if line.policy_key.is_none() {
        line.policy_key = policy_key_header(headers)?;
    }
    Ok(line)
}

/// A base64 DeviceId is "a string or a GUID" ([MS-ASHTTP] 2.2.1.1.1.1). A string must meet
/// the plain-form rules; 16 bytes that do not are taken as a binary GUID and written as hex,
/// so the device gets a stable, printable id.
fn device_id_from_bytes(b: &[u8]) -> Result<String, Error> {
    let as_text = core::str::from_utf8(b)
        .ok()
        .filter(|s| check_device_field(s, &DEVICE_ID).is_ok());
    match as_text {
        Some(s) => Ok(s.to_owned()),
        None if b.len() == GUID_LEN => {
            let mut s = String::with_capacity(GUID_LEN * 2);
            for &x in b {
                s.push(char::from(HEX[usize::from(x >> 4)]));
                s.push(char::from(HEX[usize::from(x & 0x0f)]));
            }
            Ok(s)
        }
        None => match core::str::from_utf8(b) {
            Ok(s) => check_device_field(s, &DEVICE_ID)
                .map(|()| s.to_owned())
                .map_err(bad),
            Err(_) => Err(bad("DeviceId is not UTF-8")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// The example of [MS-ASHTTP] 2.2.1.1.1.1 and its plain twin from 2.2.1.1.
    const SPEC_BASE64: &str = "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l";
    const SPEC_PLAIN: &str = "Cmd=Sync&User=rmjones&DeviceId=v140Device&DeviceType=SmartPhone";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HashMap<String, &'static str> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect()
    }

    fn parse_with(q: &str, h: &HashMap<String, &'static str>) -> Result<RequestLine, Error> {
        RequestLine::parse(q, &|n: &str| h.get(&n.to_ascii_lowercase()).copied())
    }

    fn parse(q: &str) -> Result<RequestLine, Error> {
        RequestLine::parse(q, &no_headers)
    }

    fn spec_line() -> RequestLine {
        RequestLine {
            protocol_version: Some(ProtocolVersion::V14_0),
            locale: 0x0409,
            ..RequestLine::new(Command::Sync, "v140Device", "SmartPhone")
        }
    }

    /// Builds a base64 query from raw bytes, as a client would.
    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The spec example's bytes up to and including the DeviceType, to append parameters to.
    fn spec_bytes() -> Vec<u8> {
        let mut b = vec![140, 0, 0x09, 0x04, 10];
        b.extend_from_slice(b"v140Device");
        b.push(0);
        b.push(10);
        b.extend_from_slice(b"SmartPhone");
        b
    }

    #[test]
    fn spec_base64_example() {
        assert_eq!(parse(SPEC_BASE64), Ok(spec_line()));
        // And we write exactly what the spec shows.
        assert_eq!(spec_line().to_query_base64().as_deref(), Ok(SPEC_BASE64));
    }

    #[test]
    fn spec_plain_example() {
        let h = headers(&[("MS-ASProtocolVersion", "14.0")]);
        let want = RequestLine {
            user: Some("rmjones".into()),
            locale: 0,
            ..spec_line()
        };
        assert_eq!(parse_with(SPEC_PLAIN, &h), Ok(want.clone()));
        assert_eq!(want.to_query_plain().as_deref(), Ok(SPEC_PLAIN));
        assert_eq!(
            want.plain_headers(),
            vec![("MS-ASProtocolVersion", "14.0".to_owned())]
        );
    }

    #[test]
    fn base64_alphabet_and_padding_variants() {
        // 0xFB 0xFF bytes in the DeviceType force `+`/`/` in standard base64.
        let mut line = spec_line();
        line.attachment_name = Some("a>?~>?".into());
        line.policy_key = Some(0xFFFF_FFFE);
        let mut raw = spec_bytes();
        raw[9 + 6] = 4; // policy key length (index after DeviceId)
        raw.splice(16..16, 0xFFFF_FFFEu32.to_le_bytes());
        raw.extend_from_slice(&[0, 6]);
        raw.extend_from_slice(b"a>?~>?");
        let std = b64(&raw);
        assert!(std.contains('+') || std.contains('/'), "{std}");
        let url_safe = std.replace('+', "-").replace('/', "_");
        let unpadded = std.trim_end_matches('=').to_owned();
        let encoded = std
            .replace('+', "%2B")
            .replace('/', "%2f")
            .replace('=', "%3D");
        let plus_as_space = std.replace('+', " ");
        for q in [&std, &url_safe, &unpadded, &encoded, &plus_as_space] {
            assert_eq!(parse(q), Ok(line.clone()), "{q}");
        }
        assert_eq!(line.to_query_base64(), Ok(encoded.replace("%2f", "%2F")));
    }

    #[test]
    fn every_command_round_trips() {
        let mut codes = Vec::new();
        for c in Command::ALL {
            assert_eq!(Command::from_code(c.code()), Some(c));
            assert_eq!(Command::from_name(c.as_str()), Some(c));
            assert_eq!(c.to_string().parse::<Command>(), Ok(c));
            assert_eq!(
                Command::from_name(&c.as_str().to_ascii_lowercase()),
                Some(c)
            );
            codes.push(c.code());

            let line = RequestLine {
                command: c,
                user: Some("DOMAIN\\jo".into()),
                protocol_version: Some(ProtocolVersion::V16_1),
                policy_key: Some(7),
                locale: 0x0407,
                ..RequestLine::new(c, "androidc123", "Android")
            };
            let q = line.to_query_base64().expect("encodes");
            assert_eq!(parse(&q), Ok(line.clone()), "{c} base64");
            let plain = RequestLine { locale: 0, ..line };
            let h: HashMap<String, String> = plain
                .plain_headers()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            let q = plain.to_query_plain().expect("encodes");
            assert!(q.starts_with(&format!("Cmd={c}&")), "{q}");
            let got = RequestLine::parse(&q, &|n: &str| h.get(n).map(String::as_str));
            assert_eq!(got, Ok(plain), "{c} plain");
        }
        assert_eq!(
            codes,
            [
                0, 1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23
            ]
        );
        for code in [5, 6, 7, 8, 24, 255] {
            assert_eq!(Command::from_code(code), None);
        }
        assert_eq!(Command::from_name("GetHierarchy"), None);
    }

    #[test]
    fn every_parameter_in_both_forms() {
        let line = RequestLine {
            user: Some("jo@example.com".into()),
            protocol_version: Some(ProtocolVersion::V14_1),
            policy_key: Some(0),
            attachment_name: Some("5:1:0 é/x".into()),
            collection_id: Some("1".into()),
            item_id: Some("1:23".into()),
            long_id: Some("RgAAAAD&x=y".into()),
            occurrence: Some("2026-03-01T10:00:00.000Z".into()),
            options: Options::SAVE_IN_SENT | Options::ACCEPT_MULTI_PART,
            ..RequestLine::new(Command::SmartReply, "ApplF17XXXX", "iPhone")
        };
        let q = line.to_query_base64().expect("encodes");
        assert_eq!(parse(&q), Ok(line.clone()));

        let q = line.to_query_plain().expect("encodes");
        assert!(q.contains("SaveInSent=T"), "{q}");
        assert!(q.contains("LongId=RgAAAAD%26x%3Dy"), "{q}");
        let h = headers(&[
            ("MS-ASProtocolVersion", "14.1"),
            ("X-MS-PolicyKey", "0"),
            ("MS-ASAcceptMultiPart", "T"),
        ]);
        assert_eq!(parse_with(&q, &h), Ok(RequestLine { locale: 0, ..line }));
    }

    #[test]
    fn plain_details() {
        // Keys in any case and order, `+` as space, unknown keys ignored, empty pairs skipped.
        let q = "deviceid=abc&&cmd=ping&user=a+b%40c&devicetype=x.y&Foo=bar&SaveInSent=F&ItemId=";
        let got = parse(q).expect("parses");
        assert_eq!(got.command, Command::Ping);
        assert_eq!(got.user.as_deref(), Some("a b@c"));
        assert_eq!(got.device_type, "x.y");
        assert_eq!(got.protocol_version, None);
        assert_eq!(got.policy_key, None);
        assert_eq!(got.item_id, None);
        assert!(got.options.is_empty());

        let h = headers(&[
            ("X-MS-PolicyKey", " 3942919513 "),
            ("MS-ASProtocolVersion", "16.1"),
        ]);
        let got = parse_with(SPEC_PLAIN, &h).expect("parses");
        assert_eq!(got.policy_key, Some(3_942_919_513));
        assert_eq!(got.protocol_version, Some(ProtocolVersion::V16_1));

        let h = headers(&[("MS-ASProtocolVersion", "2.5")]);
        assert_eq!(parse_with(SPEC_PLAIN, &h), Err(Error::UnsupportedVersion));
        let h = headers(&[("MS-ASProtocolVersion", "12.0")]);
        assert_eq!(parse_with(SPEC_PLAIN, &h), Err(Error::UnsupportedVersion));
        for (name, value) in [
            ("MS-ASProtocolVersion", "14"),
            ("MS-ASProtocolVersion", "banana"),
            ("X-MS-PolicyKey", "-1"),
            ("X-MS-PolicyKey", "4294967296"),
            ("X-MS-PolicyKey", "12a"),
        ] {
            let h = headers(&[(name, value)]);
            assert!(
                matches!(parse_with(SPEC_PLAIN, &h), Err(Error::BadRequestLine(_))),
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn base64_details() {
        // A 16-byte binary GUID DeviceId becomes hex.
        let guid: [u8; 16] = [
            0x6F, 0x24, 0xCA, 0xD5, 0x99, 0xA5, 0xBF, 0x1A, 0x69, 0x02, 0x46, 0xB8, 0xC6, 0x8F,
            0xAE, 0x8D,
        ];
        let mut raw = vec![141, 20, 0, 0, 16];
        raw.extend_from_slice(&guid);
        raw.extend_from_slice(&[0, 3]);
        raw.extend_from_slice(b"WP8");
        let got = parse(&b64(&raw)).expect("parses");
        assert_eq!(got.device_id, "6F24CAD599A5BF1A690246B8C68FAE8D");
        assert_eq!(got.command, Command::Provision);
        // Re-encoded, the id stays the same string.
        assert_eq!(parse(&got.to_query_base64().expect("encodes")), Ok(got));

        // Undefined option bits are dropped; obsolete tags 2 and 5 are skipped.
        let mut raw = spec_bytes();
        raw.extend_from_slice(&[7, 1, 0xFD, 2, 3, b'a', b'b', b'c', 5, 0, 8, 2, b'j', b'o']);
        let got = parse(&b64(&raw)).expect("parses");
        assert_eq!(got.options, Options::SAVE_IN_SENT);
        assert_eq!(got.user.as_deref(), Some("jo"));

        // The policy key header is a fallback only; AcceptMultiPart is honoured in both forms.
        let h = headers(&[("X-MS-PolicyKey", "5"), ("MS-ASAcceptMultiPart", "t")]);
        let got = parse_with(SPEC_BASE64, &h).expect("parses");
        assert_eq!(got.policy_key, Some(5));
        assert!(got.options.accept_multipart());
        let with_key = RequestLine {
            policy_key: Some(9),
            ..spec_line()
        };
        let got = parse_with(&with_key.to_query_base64().expect("encodes"), &h).expect("parses");
        assert_eq!(got.policy_key, Some(9));
        // A version header never overrides the version byte.
        let h = headers(&[("MS-ASProtocolVersion", "16.1")]);
        assert_eq!(
            parse_with(SPEC_BASE64, &h).map(|l| l.protocol_version),
            Ok(Some(ProtocolVersion::V14_0))
        );
    }

    #[test]
    fn bad_inputs() {
        let spec = spec_bytes();
        let with = |tail: &[u8]| {
            let mut b = spec.clone();
            b.extend_from_slice(tail);
            b64(&b)
        };
        let patch = |i: usize, v: u8| {
            let mut b = spec.clone();
            b[i] = v;
            b64(&b)
        };
        let cases: Vec<(&str, String, &str)> = vec![
            ("empty", String::new(), "empty query"),
            (
                "truncated base64",
                SPEC_BASE64[..5].to_owned(),
                "query is neither plain nor valid base64",
            ),
            (
                "not base64",
                "!!!!".to_owned(),
                "query is neither plain nor valid base64",
            ),
            (
                "'=' inside is read as plain",
                "jA==AAkE".to_owned(),
                "missing Cmd",
            ),
            (
                "bad percent escape",
                "jAAJ%zz".to_owned(),
                "bad percent escape",
            ),
            (
                "truncated after version",
                b64(&spec[..1]),
                "truncated before command code",
            ),
            (
                "truncated in locale",
                b64(&spec[..3]),
                "truncated in locale",
            ),
            (
                "device id length past end",
                b64(&spec[..8]),
                "DeviceId runs past the end",
            ),
            (
                "device type length past end",
                b64(&spec[..spec.len() - 1]),
                "DeviceType runs past the end",
            ),
            (
                "zero-length device id",
                b64(&[140, 0, 0, 0, 0, 0, 1, b'x']),
                "empty DeviceId",
            ),
            (
                "bad version byte",
                patch(0, 13),
                "unsupported protocol version byte",
            ),
            (
                "2.5 version byte",
                patch(0, 25),
                "unsupported protocol version byte",
            ),
            (
                "12.0 version byte",
                patch(0, 120),
                "unsupported protocol version byte",
            ),
            ("unknown command code", patch(1, 5), "unknown command code"),
            ("command code 24", patch(1, 24), "unknown command code"),
            (
                "policy key length 3",
                patch(15, 3),
                "policy key length is neither 0 nor 4",
            ),
            (
                "non-UTF-8 device id",
                b64(&[140, 0, 0, 0, 2, 0xC3, 0x28, 0, 1, b'x']),
                "DeviceId is not UTF-8",
            ),
            (
                "device id with a space",
                b64(&[140, 0, 0, 0, 2, b'a', b' ', 0, 1, b'x']),
                "DeviceId holds a character outside A-Z a-z 0-9 - _ .",
            ),
            (
                "device type with a control",
                patch(17, 0x07),
                "DeviceType holds a character outside A-Z a-z 0-9 - _ .",
            ),
            (
                "parameter length past end",
                with(&[3, 9, b'a']),
                "command parameter runs past the end",
            ),
            (
                "parameter tag alone",
                with(&[3]),
                "command parameter runs past the end",
            ),
            (
                "unknown parameter tag",
                with(&[9, 1, b'a']),
                "unknown command parameter tag",
            ),
            (
                "options two bytes",
                with(&[7, 2, 1, 1]),
                "Options parameter is not one byte",
            ),
            (
                "repeated parameter",
                with(&[3, 1, b'a', 3, 1, b'b']),
                "repeated command parameter",
            ),
            ("non-UTF-8 user", with(&[8, 1, 0xFF]), "User is not UTF-8"),
            ("empty user", with(&[8, 0]), "empty User"),
            (
                "control in item id",
                with(&[3, 2, b'a', b'\n']),
                "control character in a command parameter",
            ),
            (
                "huge query",
                "A".repeat(MAX_QUERY_LEN as usize + 1),
                "query too long",
            ),
            (
                "huge plain query",
                format!("{SPEC_PLAIN}&x={}", "y".repeat(2100)),
                "query too long",
            ),
            (
                "missing Cmd",
                "User=a&DeviceId=b&DeviceType=c".to_owned(),
                "missing Cmd",
            ),
            (
                "missing User",
                "Cmd=Sync&DeviceId=b&DeviceType=c".to_owned(),
                "missing User",
            ),
            (
                "missing DeviceId",
                "Cmd=Sync&User=a&DeviceType=c".to_owned(),
                "missing DeviceId",
            ),
            (
                "missing DeviceType",
                "Cmd=Sync&User=a&DeviceId=b".to_owned(),
                "missing DeviceType",
            ),
            ("only Cmd", "Cmd=Sync".to_owned(), "missing User"),
            (
                "unknown Cmd",
                format!("{SPEC_PLAIN}&Cmd=Fly").replacen("Cmd=Sync&", "", 1),
                "unknown command",
            ),
            (
                "2.5 command",
                SPEC_PLAIN.replace("Sync", "GetHierarchy"),
                "unknown command",
            ),
            (
                "repeated key",
                format!("{SPEC_PLAIN}&deviceid=v"),
                "repeated query parameter",
            ),
            (
                "empty DeviceId",
                SPEC_PLAIN.replace("v140Device", ""),
                "empty DeviceId",
            ),
            (
                "empty User",
                SPEC_PLAIN.replace("rmjones", ""),
                "empty User",
            ),
            (
                "DeviceId with comma",
                SPEC_PLAIN.replace("v140Device", "a%2Cb"),
                "DeviceId holds a character outside A-Z a-z 0-9 - _ .",
            ),
            (
                "DeviceId with newline",
                SPEC_PLAIN.replace("v140Device", "a%0Ab"),
                "DeviceId holds a character outside A-Z a-z 0-9 - _ .",
            ),
            (
                "DeviceType with slash",
                SPEC_PLAIN.replace("SmartPhone", "a/b"),
                "DeviceType holds a character outside A-Z a-z 0-9 - _ .",
            ),
            (
                "User with newline",
                SPEC_PLAIN.replace("rmjones", "a%0D%0Ab"),
                "control character in User",
            ),
            (
                "non-UTF-8 value",
                SPEC_PLAIN.replace("rmjones", "%FF"),
                "query value is not UTF-8",
            ),
            (
                "truncated escape",
                format!("{SPEC_PLAIN}&ItemId=%4"),
                "bad percent escape",
            ),
            (
                "SaveInSent=Y",
                format!("{SPEC_PLAIN}&SaveInSent=Y"),
                "SaveInSent is neither T nor F",
            ),
            (
                "control in ItemId",
                format!("{SPEC_PLAIN}&ItemId=a%00"),
                "control character in a command parameter",
            ),
        ];
        for (what, q, why) in cases {
            assert_eq!(parse(&q), Err(Error::BadRequestLine(why)), "{what}: {q:?}");
        }
    }

    #[test]
    fn caps() {
        let line = |id: &str, ty: &str, user: &str, item: &str| RequestLine {
            user: Some(user.to_owned()),
            protocol_version: Some(ProtocolVersion::V14_1),
            item_id: (!item.is_empty()).then(|| item.to_owned()),
            ..RequestLine::new(Command::Sync, id, ty)
        };
        let ok_id = "d".repeat(MAX_DEVICE_ID_LEN as usize);
        let ok_ty = "t".repeat(MAX_DEVICE_TYPE_LEN as usize);
        let ok_user = "u".repeat(MAX_USER_LEN as usize);
        let ok_item = "i".repeat(MAX_PARAM_LEN as usize);
        let at_cap = line(&ok_id, &ok_ty, &ok_user, &ok_item);
        assert_eq!(
            parse(&at_cap.to_query_base64().expect("fits")),
            Ok(at_cap.clone())
        );
        let plain = at_cap.to_query_plain().expect("fits");
        assert_eq!(parse(&plain).map(|l| l.item_id), Ok(at_cap.item_id.clone()));

        let over = [
            line(&format!("{ok_id}d"), "t", "u", ""),
            line("d", &format!("{ok_ty}t"), "u", ""),
            line("d", "t", &format!("{ok_user}u"), ""),
            line("d", "t", "u", &format!("{ok_item}i")),
        ];
        for l in over {
            assert!(matches!(l.to_query_base64(), Err(Error::Unencodable(_))));
            assert!(matches!(l.to_query_plain(), Err(Error::Unencodable(_))));
            // A client sending the same is refused.
            let q = format!(
                "Cmd=Sync&User={}&DeviceId={}&DeviceType={}&ItemId={}",
                l.user.as_deref().unwrap_or_default(),
                l.device_id,
                l.device_type,
                l.item_id.as_deref().unwrap_or_default()
            );
            assert!(matches!(parse(&q), Err(Error::BadRequestLine(_))), "{q}");
        }
        // The same over-long DeviceId in the base64 form.
        let mut raw = vec![141, 0, 0, 0, 65];
        raw.extend_from_slice(&[b'd'; 65]);
        raw.extend_from_slice(&[0, 1, b't']);
        assert!(matches!(parse(&b64(&raw)), Err(Error::BadRequestLine(_))));

        // Plain pairs: MAX_PLAIN_PAIRS in all is fine, one more is not.
        let filler = MAX_PLAIN_PAIRS as usize - 4;
        let q = |n: usize| format!("{SPEC_PLAIN}{}", "&x=1".repeat(n));
        assert!(parse(&q(filler)).is_ok());
        assert_eq!(
            parse(&q(filler + 1)),
            Err(Error::BadRequestLine("too many query parameters"))
        );

        // Base64 parameters: each tag at most once, so all nine tags together are fine.
        let mut raw = spec_bytes();
        for t in 0..=TAG_USER {
            let item: [u8; 3] = if t == TAG_OPTIONS {
                [7, 1, 1]
            } else {
                [t, 1, b'a']
            };
            raw.extend_from_slice(&item);
        }
        assert!(parse(&b64(&raw)).is_ok());

        // The query cap: exactly MAX_QUERY_LEN passes the length check.
        let q = format!(
            "{SPEC_PLAIN}&x={}",
            "y".repeat(MAX_QUERY_LEN as usize - SPEC_PLAIN.len() - 3)
        );
        assert_eq!(q.len(), MAX_QUERY_LEN as usize);
        assert!(parse(&q).is_ok());
    }

    #[test]
    fn encoders_refuse_what_they_cannot_write() {
        let mut l = spec_line();
        l.protocol_version = None;
        assert!(matches!(l.to_query_base64(), Err(Error::Unencodable(_))));
        assert!(matches!(
            spec_line().to_query_plain(),
            Err(Error::Unencodable(_))
        ));
        let mut l = spec_line();
        l.device_id = "a b".into();
        assert!(matches!(l.to_query_base64(), Err(Error::Unencodable(_))));
    }

    #[test]
    fn options_response_headers() {
        let h = options_headers();
        let get = |name: &str| {
            h.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        assert_eq!(get("MS-ASProtocolVersions"), "12.1,14.0,14.1,16.0,16.1");
        assert_eq!(get("MS-Server-ActiveSync"), "15.1");
        assert_eq!(get("X-AspNet-Version"), "4.0.30319");
        let cmds: Vec<&str> = get("MS-ASProtocolCommands").split(',').collect();
        for c in [
            "Sync",
            "FolderSync",
            "Ping",
            "Provision",
            "Settings",
            "ItemOperations",
        ] {
            assert!(cmds.contains(&c), "{c} missing from {cmds:?}");
        }
        assert!(!cmds.contains(&"SmartReply"));
        assert!(
            cmds.iter()
                .all(|c| Command::from_name(c).is_some_and(Command::is_served))
        );
        assert_eq!(
            rp_header(),
            ("X-MS-RP", "12.1,14.0,14.1,16.0,16.1".to_owned())
        );
    }

    #[test]
    fn user_forms() {
        assert_eq!(split_user("CONTOSO\\jo"), (Some("CONTOSO"), "jo"));
        assert_eq!(split_user("jo@contoso.com"), (Some("contoso.com"), "jo"));
        assert_eq!(split_user("a@b@contoso.com"), (Some("contoso.com"), "a@b"));
        assert_eq!(
            split_user("D\\jo@contoso.com"),
            (Some("D"), "jo@contoso.com")
        );
        assert_eq!(split_user("jo"), (None, "jo"));
        assert_eq!(split_user("\\jo"), (None, "jo"));
        assert_eq!(split_user("jo@"), (None, "jo"));
        assert_eq!(split_user(""), (None, ""));
    }

    #[test]
    fn options_bits() {
        let o = Options::from_bits_truncate(0xFF);
        assert_eq!(o.bits(), 0x03);
        assert!(o.save_in_sent() && o.accept_multipart());
        assert!(!Options::empty().save_in_sent());
        assert_eq!(Options::SAVE_IN_SENT | Options::ACCEPT_MULTI_PART, o);
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        // Any characters but controls; at most 4 bytes each, so within the 255-byte caps.
        proptest::collection::vec(
            any::<char>().prop_filter("control", |c| !c.is_control()),
            1..max,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn device() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._-]{1,64}"
    }

    prop_compose! {
        fn request_line()(
            command in proptest::sample::select(Command::ALL.to_vec()),
            user in proptest::option::of(text(60)),
            device_id in device(),
            device_type in device(),
            protocol_version in proptest::sample::select(ProtocolVersion::ALL.to_vec()),
            policy_key in any::<Option<u32>>(),
            locale in any::<u16>(),
            params in proptest::collection::vec(proptest::option::of(text(60)), 5),
            options in 0u8..4,
        ) -> RequestLine {
            let mut p = params.into_iter();
            let mut next = move || p.next().flatten();
            RequestLine {
                command,
                user,
                device_id,
                device_type,
                protocol_version: Some(protocol_version),
                policy_key,
                locale,
                attachment_name: next(),
                collection_id: next(),
                item_id: next(),
                long_id: next(),
                occurrence: next(),
                options: Options::from_bits_truncate(options),
            }
        }
    }

    proptest! {
        #[test]
        fn base64_round_trip(line in request_line()) {
            let q = line.to_query_base64().expect("generated lines fit");
            prop_assert_eq!(parse(&q), Ok(line));
        }

        #[test]
        fn plain_round_trip(line in request_line(), user in text(60), version in any::<bool>()) {
            let line = RequestLine {
                user: Some(user),
                locale: 0,
                protocol_version: line.protocol_version.filter(|_| version),
                ..line
            };
            let q = line.to_query_plain().expect("generated lines fit");
            let h: HashMap<&str, String> = line.plain_headers().into_iter().collect();
            let got = RequestLine::parse(&q, &|n: &str| h.get(n).map(String::as_str));
            prop_assert_eq!(got, Ok(line));
        }

        #[test]
        fn any_string_is_safe(q in ".{0,300}", h in ".{0,20}") {
            let _ = RequestLine::parse(&q, &|_: &str| Some(h.as_str()));
            let _ = parse(&q);
        }

        #[test]
        fn any_bytes_as_base64_are_safe(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&b64(&b));
        }

        #[test]
        fn near_valid_bytes_are_safe(
            version in proptest::sample::select(ProtocolVersion::ALL.to_vec()),
            code in 0u8..24,
            tail in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut b = vec![version.as_byte(), code];
            b.extend_from_slice(&tail);
            let _ = parse(&b64(&b));
        }

        #[test]
        fn plain_shaped_strings_are_safe(
            pairs in proptest::collection::vec(
                (proptest::sample::select(PLAIN_KEYS.to_vec()), "[^&]{0,20}"), 0..20)
        ) {
            let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = parse(&q.join("&"));
        }
    }
}
