//! The canonical JSON TUF signatures are computed over: the OLPC form as securesystemslib's
//! `encode_canonical` writes it. It is NOT RFC 8785 (`crate::canonical`), and the differences
//! decide whether a signature verifies:
//! - strings: only `\` and `"` are escaped; every other character, control characters and
//!   non-ASCII included, is written as raw UTF-8 (RFC 8785 escapes controls as `\n`, `\u001f`);
//! - numbers: integers only, in plain decimal; any float is refused (RFC 8785 formats floats);
//! - object keys sorted by code point (the same as byte order of their UTF-8), no whitespace.

use serde_json::Value;

/// A value that has no OLPC canonical form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OlpcError {
    #[error("number `{number}` is not an integer; canonical JSON has no floats")]
    NotAnInteger { number: String },
}

/// The canonical bytes of `value`.
pub fn encode(value: &Value) -> Result<Vec<u8>, OlpcError> {
    let mut out = Vec::with_capacity(1024);
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), OlpcError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // serde_json keeps integers that fit i64/u64 exact; anything else came in as a float.
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(OlpcError::NotAnInteger {
                    number: n.to_string(),
                });
            }
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Python sorts str keys by code point; Rust's str order is UTF-8 byte order, which
            // is the same order.
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        // `\` and `"` never occur inside a multi-byte UTF-8 sequence, so a byte scan is exact.
        if b == b'\\' || b == b'"' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differs_from_rfc8785_where_it_should() -> Result<(), OlpcError> {
        let v =
            json!({"b": "tab\there \"q\" back\\slash é \u{1f}", "a": [1, -2, true, null], "": {}});
        let got = encode(&v)?;
        let want =
            "{\"\":{},\"a\":[1,-2,true,null],\"b\":\"tab\there \\\"q\\\" back\\\\slash é \u{1f}\"}";
        assert_eq!(String::from_utf8_lossy(&got), want);
        assert!(matches!(
            encode(&json!({"x": 1.5})),
            Err(OlpcError::NotAnInteger { .. })
        ));
        assert!(encode(&json!(1.0)).is_err(), "1.0 is a float, not 1");
        assert_eq!(encode(&json!(u64::MAX))?, u64::MAX.to_string().as_bytes());
        Ok(())
    }

    #[test]
    fn keys_sort_by_code_point() -> Result<(), OlpcError> {
        // U+FF61 sorts after U+00E9 and after ASCII; capital letters before lowercase.
        let v = json!({"｡": 1, "é": 2, "Z": 3, "a": 4});
        assert_eq!(
            String::from_utf8_lossy(&encode(&v)?),
            "{\"Z\":3,\"a\":4,\"é\":2,\"｡\":1}"
        );
        Ok(())
    }
}
