//! Serde helpers for the protobuf-JSON mapping Sigstore files use: `bytes` as base64 and
//! `int64` as decimal strings (numbers are accepted on input, strings always written).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// Decodes base64 the way protobuf JSON parsers do: standard or URL-safe, padded or not.
pub(crate) fn decode_b64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
}

pub(crate) fn encode_b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// `bytes` fields.
pub(crate) mod b64 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode_b64(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode_b64(&s).map_err(|e| D::Error::custom(format!("invalid base64: {e}")))
    }
}

/// `repeated bytes` fields.
pub(crate) mod b64_vec {
    use super::*;
    use serde::ser::SerializeSeq as _;

    pub(crate) fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(&encode_b64(b))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| decode_b64(s).map_err(|e| D::Error::custom(format!("invalid base64: {e}"))))
            .collect()
    }
}

/// `int64` fields: written as strings, read from strings or integers.
pub(crate) mod i64_str {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrNum {
        S(String),
        N(i64),
    }

    pub(crate) fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        match StrOrNum::deserialize(d)? {
            StrOrNum::N(n) => Ok(n),
            StrOrNum::S(s) => s
                .parse::<i64>()
                .map_err(|e| D::Error::custom(format!("invalid int64 `{s}`: {e}"))),
        }
    }
}
