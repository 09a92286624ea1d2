//! Strict JSON reading for everything mcpsig trusts: duplicate object keys are rejected (parsers
//! disagree on which one wins, so a signer and a verifier could see different documents), input
//! size is bounded, and errors name the line and column.

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Largest JSON document mcpsig reads into memory (manifests, bundles, trusted roots).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    #[error("document is {size} bytes, larger than the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid JSON")]
    Syntax(#[source] serde_json::Error),
    #[error("wrong JSON shape")]
    Shape(#[source] serde_json::Error),
}

impl JsonError {
    /// True when the bytes were not JSON at all (as opposed to JSON of the wrong shape).
    pub fn is_syntax(&self) -> bool {
        matches!(self, JsonError::Syntax(_) | JsonError::TooLarge { .. })
    }
}

/// Parses `bytes` into a [`Value`], rejecting duplicate keys at any depth.
pub fn parse_value(bytes: &[u8]) -> Result<Value, JsonError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(JsonError::TooLarge {
            size: bytes.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let StrictValue(value) = serde::Deserialize::deserialize(&mut de).map_err(JsonError::Syntax)?;
    de.end().map_err(JsonError::Syntax)?;
    Ok(value)
}

/// Parses `bytes` strictly (see [`parse_value`]) and then into `T`.
///
/// Two passes over the bytes and no tree: the first checks syntax, size and duplicate keys (keys
/// borrowed from the input where they hold no escapes), the second deserializes `T` directly.
/// Building a `Value` and converting it cost about twice as much (bench/speed.sh, callgrind).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    check(bytes)?;
    serde_json::from_slice(bytes).map_err(JsonError::Shape)
}

/// Checks that `bytes` is one JSON document within the size limit, with no duplicate object key
/// at any depth, without building it.
pub fn check(bytes: &[u8]) -> Result<(), JsonError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(JsonError::TooLarge {
            size: bytes.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Checked = serde::Deserialize::deserialize(&mut de).map_err(JsonError::Syntax)?;
    de.end().map_err(JsonError::Syntax)
}

/// A JSON value read only to be checked (see [`check`]).
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `deserialize_any`, not `ignored_any`: strings are decoded, so a lone surrogate fails.
        deserializer.deserialize_any(CheckVisitor)
    }
}

/// An object key, borrowed from the input unless it held an escape.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Checked, E> {
        if v.is_finite() {
            Ok(Checked)
        } else {
            Err(E::custom("number out of range"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        // Small objects (nearly all) are searched in place; a large one gets a hash set.
        const LINEAR: usize = 16;
        let mut keys: Vec<std::borrow::Cow<'de, str>> = Vec::new();
        let mut set: Option<std::collections::HashSet<std::borrow::Cow<'de, str>>> = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let seen = match &mut set {
                Some(set) => !set.insert(key.clone()),
                None => keys.contains(&key),
            };
            if seen {
                return Err(de::Error::custom(format_args!(
                    "duplicate object key `{key}`"
                )));
            }
            if set.is_none() {
                keys.push(key);
                if keys.len() > LINEAR {
                    set = Some(std::mem::take(&mut keys).into_iter().collect());
                }
            }
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// A `Value` whose deserialization refuses duplicate object keys.
struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<StrictValue, E> {
        serde_json::Number::from_f64(v)
            .map(|n| StrictValue(Value::Number(n)))
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(StrictValue(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // One lookup per key: the duplicate is refused before its value is read.
            match out.entry(key) {
                serde_json::map::Entry::Occupied(e) => {
                    return Err(de::Error::custom(format_args!(
                        "duplicate object key `{}`",
                        e.key()
                    )));
                }
                serde_json::map::Entry::Vacant(e) => {
                    let StrictValue(v) = map.next_value()?;
                    e.insert(v);
                }
            }
        }
        Ok(StrictValue(Value::Object(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_duplicate_keys_at_any_depth() {
        let mut wide = String::from("{");
        for i in 0..40 {
            wide.push_str(&format!("\"k{i}\":{i},"));
        }
        wide.push_str("\"k7\":0}");
        for doc in [
            r#"{"a":1,"a":2}"#,
            r#"{"x":[{"b":1,"c":2,"b":1}]}"#,
            r#"{"a":1,"\u0061":2}"#,
            wide.as_str(),
        ] {
            let err = parse_value(doc.as_bytes()).unwrap_err();
            let source = std::error::Error::source(&err)
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(source.contains("duplicate object key"), "{err}: {source}");
            assert!(err.is_syntax());
            let err = from_slice::<Value>(doc.as_bytes()).unwrap_err();
            let source = std::error::Error::source(&err)
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(source.contains("duplicate object key"), "{err}: {source}");
            assert!(err.is_syntax());
        }
    }

    #[test]
    fn rejects_trailing_garbage_and_truncation() {
        for doc in [&b"{\"a\":1} x"[..], b"{\"a\":[1,2", b""] {
            assert!(parse_value(doc).is_err());
            assert!(from_slice::<Value>(doc).unwrap_err().is_syntax());
        }
    }

    #[test]
    fn rejects_lone_surrogates() {
        for doc in [&br#"{"a":"\ud800"}"#[..], br#"{"\udc00":1}"#] {
            assert!(parse_value(doc).is_err());
            assert!(from_slice::<Value>(doc).unwrap_err().is_syntax());
        }
    }

    #[test]
    fn shape_errors_are_not_syntax_errors() {
        #[derive(Debug, serde::Deserialize)]
        struct T {
            #[allow(dead_code)]
            n: u32,
        }
        let err = from_slice::<T>(br#"{"n":"x"}"#).unwrap_err();
        assert!(!err.is_syntax(), "{err:?}");
        assert!(matches!(err, JsonError::Shape(_)));
        assert_eq!(from_slice::<T>(br#"{"n":7,"other":[1]}"#).unwrap().n, 7);
    }

    #[test]
    fn keeps_distinct_keys() {
        let v = parse_value(br#"{"a":1,"b":{"a":2}}"#).unwrap();
        assert_eq!(v["b"]["a"], 2);
    }
}
