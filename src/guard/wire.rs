//! The guard's view of one JSON-RPC line: the few members it decides on (id, method, the
//! `name` and `requestId` parameters, whether it carries a result or an error), read in one
//! pass without building the message; the line itself is what gets forwarded. Also the bounded
//! line reader and the error responses the guard writes itself.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};

use serde::de::{Deserializer, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A JSON-RPC request id (a number or a string; `null` means "none").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Int(i64),
    /// An integer above `i64::MAX`.
    Big(u64),
    /// A number with a fraction or exponent, by its bits (matched exactly, never loosely).
    Float(u64),
    Str(String),
}

/// The prefix of the ids of the guard's own requests: a client request using it is refused, so
/// the two id spaces can never collide.
pub const OWN_ID_PREFIX: &str = "mcpsig-guard/";

impl Id {
    pub fn is_reserved(&self) -> bool {
        matches!(self, Id::Str(s) if s.starts_with(OWN_ID_PREFIX))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Int(n) => write!(f, "{n}"),
            Id::Big(n) => write!(f, "{n}"),
            Id::Float(bits) => write!(f, "{}", f64::from_bits(*bits)),
            Id::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Int(n) => s.serialize_i64(*n),
            Id::Big(n) => s.serialize_u64(*n),
            Id::Float(bits) => s.serialize_f64(f64::from_bits(*bits)),
            Id::Str(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Id, E> {
                Ok(Id::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Id, E> {
                Ok(i64::try_from(v).map_or(Id::Big(v), Id::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Id, E> {
                // `1.0` and `1` are one id to a JavaScript client: one id here too, so that a
                // server cannot answer one request under the other's id.
                if v.fract() == 0.0 {
                    if (-9.2e18..=9.2e18).contains(&v) {
                        return Ok(Id::Int(v as i64));
                    }
                    if (0.0..=1.8e19).contains(&v) {
                        return Ok(Id::Big(v as u64));
                    }
                }
                Ok(Id::Float(v.to_bits()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Id, E> {
                Ok(Id::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Id, E> {
                Ok(Id::Str(v))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

/// The members of a message the guard looks at. Any other member is skipped (but its JSON is
/// still checked); a member given twice is an error, as in the rest of mcpsig.
#[derive(Deserialize)]
pub struct Envelope<'a> {
    #[serde(default)]
    pub id: Option<Id>,
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub params: Option<Params<'a>>,
    #[serde(default)]
    pub result: Option<IgnoredAny>,
    #[serde(default)]
    pub error: Option<IgnoredAny>,
}

/// The parameters the guard reads: the `name` of `tools/call` and `prompts/get`, the
/// `requestId` of `notifications/cancelled`.
#[derive(Deserialize)]
pub struct Params<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default, rename = "requestId")]
    pub request_id: Option<Id>,
}

impl Envelope<'_> {
    pub fn param_name(&self) -> Option<&str> {
        self.params.as_ref().and_then(|p| p.name.as_deref())
    }
}

/// What kind of JSON-RPC message a line is.
pub enum Shape<'e> {
    Request(&'e Id, &'e str),
    Notification(&'e str),
    Response(&'e Id),
    /// An error without an id: the sender could not read something.
    UnidentifiedError,
    Neither,
}

impl<'a> Envelope<'a> {
    pub fn shape(&self) -> Shape<'_> {
        // A request that also answers something could be taken for either: it is neither.
        if self.method.is_some() && (self.result.is_some() || self.error.is_some()) {
            return Shape::Neither;
        }
        match (&self.id, self.method.as_deref()) {
            (Some(id), Some(m)) => Shape::Request(id, m),
            (None, Some(m)) => Shape::Notification(m),
            (Some(id), None) => Shape::Response(id),
            (None, None) if self.error.is_some() => Shape::UnidentifiedError,
            (None, None) => Shape::Neither,
        }
    }
}

/// Why a line is not a message the guard can decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineProblem {
    /// Not JSON at all.
    NotJson,
    /// JSON, but not a JSON-RPC object the guard can read (a member of the wrong type, a member
    /// given twice, not an object).
    NotJsonRpc,
    /// A JSON array: a JSON-RPC batch, which the guard does not take.
    Batch,
    /// Longer than the message limit.
    TooLarge,
}

impl LineProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            LineProblem::NotJson => "not-json",
            LineProblem::NotJsonRpc => "not-json-rpc",
            LineProblem::Batch => "batch",
            LineProblem::TooLarge => "too-large",
        }
    }
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineProblem::NotJson => "not JSON",
            LineProblem::NotJsonRpc => "not a JSON-RPC message",
            LineProblem::Batch => "a JSON-RPC batch",
            LineProblem::TooLarge => "longer than the message limit",
        })
    }
}

/// Reads the envelope of one non-blank line.
pub fn envelope(line: &[u8]) -> Result<Envelope<'_>, LineProblem> {
    if first_byte(line) == Some(b'[') {
        return Err(LineProblem::Batch);
    }
    serde_json::from_slice(line).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => LineProblem::NotJsonRpc,
        _ => LineProblem::NotJson,
    })
}

/// The first byte that is not JSON whitespace.
pub fn first_byte(line: &[u8]) -> Option<u8> {
    line.iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

pub use crate::mcp::stdio::{LineRead, read_raw_line as read_line};

/// Discards input up to and including the next `\n`; false when the input ended first.
pub fn skip_line(r: &mut impl BufRead) -> io::Result<bool> {
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(false);
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(true);
            }
            None => {
                let n = available.len();
                r.consume(n);
            }
        }
    }
}

/// JSON-RPC error codes the guard answers with.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
/// What MCP servers answer for an unknown tool; the guard answers a refused call with it.
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// One error response line (with its `\n`); `data` is an object of the guard's own fields.
pub fn error_line(id: Option<&Id>, code: i64, message: &str, data: serde_json::Value) -> Vec<u8> {
    let mut error = serde_json::Map::new();
    error.insert("code".into(), code.into());
    error.insert("message".into(), message.into());
    error.insert("data".into(), data);
    let mut response = serde_json::Map::new();
    response.insert("jsonrpc".into(), "2.0".into());
    response.insert(
        "id".into(),
        match id {
            Some(id) => serde_json::to_value(id).unwrap_or(serde_json::Value::Null),
            None => serde_json::Value::Null,
        },
    );
    response.insert("error".into(), serde_json::Value::Object(error));
    let mut line = serde_json::to_vec(&serde_json::Value::Object(response)).unwrap_or_default();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        let e = envelope(br#"{"jsonrpc":"2.0","id":7,"method":"tools\/call","params":{"name":"a","arguments":{"x":[1,{"y":null}]}}}"#).unwrap();
        assert!(matches!(
            e.shape(),
            Shape::Request(Id::Int(7), "tools/call")
        ));
        assert_eq!(e.param_name(), Some("a"));
        let e = envelope(br#"{"id":"x","result":{}}"#).unwrap();
        assert!(matches!(e.shape(), Shape::Response(Id::Str(s)) if s == "x"));
        let e = envelope(br#"{"id":null,"error":{"code":1}}"#).unwrap();
        assert!(matches!(e.shape(), Shape::UnidentifiedError));
        assert_eq!(
            envelope(br#"{"id":1,"id":2,"result":{}}"#).err(),
            Some(LineProblem::NotJsonRpc)
        );
        assert_eq!(
            envelope(br#"{"id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#).err(),
            Some(LineProblem::NotJsonRpc)
        );
        assert_eq!(envelope(b"hello").err(), Some(LineProblem::NotJson));
        assert_eq!(envelope(b" [1]").err(), Some(LineProblem::Batch));
        assert_eq!(envelope(b"3").err(), Some(LineProblem::NotJsonRpc));
        assert_eq!(
            envelope(br#"{"id":1,"method":5}"#).err(),
            Some(LineProblem::NotJsonRpc)
        );
        let e = envelope(br#"{"id":1.5,"result":{}}"#).unwrap();
        assert_eq!(e.id, Some(Id::Float(1.5f64.to_bits())));
        for same in [
            &br#"{"id":1.0,"result":{}}"#[..],
            br#"{"id":1e0,"result":{}}"#,
        ] {
            assert_eq!(envelope(same).unwrap().id, Some(Id::Int(1)));
        }
        let e = envelope(br#"{"id":1,"method":"tools/list","result":{"tools":[]}}"#).unwrap();
        assert!(matches!(e.shape(), Shape::Neither));
        assert!(Id::Str("mcpsig-guard/3".into()).is_reserved());
    }

    #[test]
    fn lines_are_bounded_and_keep_their_newline() {
        let mut r = io::BufReader::with_capacity(4, &b"ab\ncdefgh\nxy"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 5).unwrap(), LineRead::Line);
        assert_eq!(buf, b"ab\n");
        assert_eq!(read_line(&mut r, &mut buf, 5).unwrap(), LineRead::TooLarge);
        assert!(skip_line(&mut r).unwrap());
        assert_eq!(read_line(&mut r, &mut buf, 5).unwrap(), LineRead::Line);
        assert_eq!(buf, b"xy\n");
        assert_eq!(read_line(&mut r, &mut buf, 5).unwrap(), LineRead::Eof);
    }
}
