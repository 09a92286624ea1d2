//! RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form that mcpsig hashes and signs.
//! Pure: no I/O. Numbers are IEEE 754 doubles printed as ECMAScript does; object members are
//! sorted by their keys' UTF-16 code units; strings use the minimal JSON escaping.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CanonError {
    #[error("number {0} cannot be represented in canonical JSON")]
    Number(String),
}

/// The canonical bytes of `value`.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, CanonError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out)
}

/// Canonicalizes a JSON document given as bytes, parsed strictly (duplicate keys rejected).
pub fn canonicalize(bytes: &[u8]) -> Result<Vec<u8>, crate::json::JsonError> {
    let value = crate::json::parse_value(bytes)?;
    // Every Value parsed from text holds a finite number, so this cannot fail; still no panic.
    to_vec(&value).map_err(|e| {
        crate::json::JsonError::Shape(<serde_json::Error as serde::de::Error>::custom(e))
    })
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| key_order(a, b));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) -> Result<(), CanonError> {
    // JCS treats every number as a double, integers included.
    let f = n
        .as_f64()
        .ok_or_else(|| CanonError::Number(n.to_string()))?;
    write_f64(f, out).map_err(|()| CanonError::Number(n.to_string()))
}

/// Writes a double as ECMAScript prints it; refuses NaN and infinities.
pub(crate) fn write_f64(f: f64, out: &mut Vec<u8>) -> Result<(), ()> {
    if !f.is_finite() {
        return Err(());
    }
    if f == 0.0 {
        // ECMAScript prints negative zero as "0".
        out.push(b'0');
        return Ok(());
    }
    let mut buf = ryu_js::Buffer::new();
    out.extend_from_slice(buf.format_finite(f).as_bytes());
    Ok(())
}

/// Writes a JSON string with the minimal escaping RFC 8785 requires. Only ASCII bytes are ever
/// escaped, and no byte of a multi-byte UTF-8 sequence is ASCII, so the text is copied in runs
/// between the bytes that need escaping.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0..0x20 => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(escape);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// RFC 8785's member order: keys compared by their UTF-16 code units. ASCII keys (nearly all)
/// compare the same byte by byte.
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        String::from_utf8(canonicalize(s.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn numbers_print_as_ecmascript() {
        assert_eq!(
            canon("[1.0, -0, 1e21, 1e-7, 123456789012345678901, 0.1, 5e-324]"),
            "[1,0,1e+21,1e-7,123456789012345680000,0.1,5e-324]"
        );
    }

    #[test]
    fn keys_sort_by_utf16_units() {
        // U+1F600 is a surrogate pair (0xD83D...) and sorts before U+FB33 in UTF-16.
        assert_eq!(
            canon("{\"\u{fb33}\":1,\"\u{1f600}\":2,\"a\":3}"),
            "{\"a\":3,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn escapes_minimally() {
        assert_eq!(
            canon(r#""\u0001\u001f\/\u00e9\n""#),
            "\"\\u0001\\u001f/\u{e9}\\n\""
        );
    }
}
