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

/// The canonical bytes of any serializable value, written straight from it: the same bytes as
/// `to_vec(&serde_json::to_value(value)?)`, without building the `Value` tree (a manifest holds
/// one object per file of its trees). `None` for what that route would refuse or reshape
/// (non-string map keys, 128-bit integers, a key given twice); callers then take that route.
pub fn to_vec_of<T: serde::Serialize + ?Sized>(value: &T) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    value.serialize(Canon { out: &mut out }).ok()?;
    Some(out)
}

mod ser {
    use super::{key_order, write_f64, write_string};
    use serde::ser::{self, Impossible, Serialize};
    use std::fmt;

    /// Not representable the way `serde_json::to_value` would represent it.
    #[derive(Debug)]
    pub(super) struct Unsupported;

    impl fmt::Display for Unsupported {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("value has no direct canonical form")
        }
    }
    impl std::error::Error for Unsupported {}
    impl ser::Error for Unsupported {
        fn custom<T: fmt::Display>(_: T) -> Self {
            Unsupported
        }
    }

    type R = Result<(), Unsupported>;

    /// Writes one value into `out`.
    pub(super) struct Canon<'a> {
        pub(super) out: &'a mut Vec<u8>,
    }

    fn number(f: f64, out: &mut Vec<u8>) {
        // `to_value` turns a non-finite float into `null`.
        if write_f64(f, out).is_err() {
            out.extend_from_slice(b"null");
        }
    }

    impl<'a> ser::Serializer for Canon<'a> {
        type Ok = ();
        type Error = Unsupported;
        type SerializeSeq = Seq<'a>;
        type SerializeTuple = Seq<'a>;
        type SerializeTupleStruct = Seq<'a>;
        type SerializeTupleVariant = Seq<'a>;
        type SerializeMap = Object<'a>;
        type SerializeStruct = Object<'a>;
        type SerializeStructVariant = Object<'a>;

        fn serialize_bool(self, v: bool) -> R {
            self.out
                .extend_from_slice(if v { b"true" } else { b"false" });
            Ok(())
        }
        fn serialize_i8(self, v: i8) -> R {
            self.serialize_i64(i64::from(v))
        }
        fn serialize_i16(self, v: i16) -> R {
            self.serialize_i64(i64::from(v))
        }
        fn serialize_i32(self, v: i32) -> R {
            self.serialize_i64(i64::from(v))
        }
        fn serialize_i64(self, v: i64) -> R {
            // JCS treats every number as a double, as `Number::as_f64` does.
            number(v as f64, self.out);
            Ok(())
        }
        fn serialize_u8(self, v: u8) -> R {
            self.serialize_u64(u64::from(v))
        }
        fn serialize_u16(self, v: u16) -> R {
            self.serialize_u64(u64::from(v))
        }
        fn serialize_u32(self, v: u32) -> R {
            self.serialize_u64(u64::from(v))
        }
        fn serialize_u64(self, v: u64) -> R {
            number(v as f64, self.out);
            Ok(())
        }
        fn serialize_i128(self, _: i128) -> R {
            Err(Unsupported)
        }
        fn serialize_u128(self, _: u128) -> R {
            Err(Unsupported)
        }
        fn serialize_f32(self, v: f32) -> R {
            number(f64::from(v), self.out);
            Ok(())
        }
        fn serialize_f64(self, v: f64) -> R {
            number(v, self.out);
            Ok(())
        }
        fn serialize_char(self, v: char) -> R {
            let mut buf = [0u8; 4];
            write_string(v.encode_utf8(&mut buf), self.out);
            Ok(())
        }
        fn serialize_str(self, v: &str) -> R {
            write_string(v, self.out);
            Ok(())
        }
        fn serialize_bytes(self, v: &[u8]) -> R {
            let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
            for b in v {
                ser::SerializeSeq::serialize_element(&mut seq, b)?;
            }
            ser::SerializeSeq::end(seq)
        }
        fn serialize_none(self) -> R {
            self.serialize_unit()
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
            value.serialize(self)
        }
        fn serialize_unit(self) -> R {
            self.out.extend_from_slice(b"null");
            Ok(())
        }
        fn serialize_unit_struct(self, _: &'static str) -> R {
            self.serialize_unit()
        }
        fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> R {
            self.serialize_str(variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> R {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            value: &T,
        ) -> R {
            self.out.push(b'{');
            write_string(variant, self.out);
            self.out.push(b':');
            value.serialize(Canon { out: self.out })?;
            self.out.push(b'}');
            Ok(())
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>, Unsupported> {
            self.out.push(b'[');
            Ok(Seq {
                out: self.out,
                first: true,
                variant: false,
            })
        }
        fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Unsupported> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            len: usize,
        ) -> Result<Seq<'a>, Unsupported> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            _: usize,
        ) -> Result<Seq<'a>, Unsupported> {
            self.out.push(b'{');
            write_string(variant, self.out);
            self.out.extend_from_slice(b":[");
            Ok(Seq {
                out: self.out,
                first: true,
                variant: true,
            })
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Object<'a>, Unsupported> {
            Ok(Object::new(self.out, false))
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'a>, Unsupported> {
            Ok(Object::new(self.out, false))
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            _: usize,
        ) -> Result<Object<'a>, Unsupported> {
            self.out.push(b'{');
            write_string(variant, self.out);
            self.out.push(b':');
            Ok(Object::new(self.out, true))
        }
    }

    pub(super) struct Seq<'a> {
        out: &'a mut Vec<u8>,
        first: bool,
        /// Inside `{"Variant":[...]}`: one more brace to close.
        variant: bool,
    }

    impl Seq<'_> {
        fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
            if !self.first {
                self.out.push(b',');
            }
            self.first = false;
            value.serialize(Canon { out: self.out })
        }
        fn close(self) -> R {
            self.out.push(b']');
            if self.variant {
                self.out.push(b'}');
            }
            Ok(())
        }
    }

    impl ser::SerializeSeq for Seq<'_> {
        type Ok = ();
        type Error = Unsupported;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
            self.element(value)
        }
        fn end(self) -> R {
            self.close()
        }
    }
    impl ser::SerializeTuple for Seq<'_> {
        type Ok = ();
        type Error = Unsupported;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
            self.element(value)
        }
        fn end(self) -> R {
            self.close()
        }
    }
    impl ser::SerializeTupleStruct for Seq<'_> {
        type Ok = ();
        type Error = Unsupported;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
            self.element(value)
        }
        fn end(self) -> R {
            self.close()
        }
    }
    impl ser::SerializeTupleVariant for Seq<'_> {
        type Ok = ();
        type Error = Unsupported;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
            self.element(value)
        }
        fn end(self) -> R {
            self.close()
        }
    }

    /// An object's members, each written into `scratch` and sorted when the object ends.
    pub(super) struct Object<'a> {
        out: &'a mut Vec<u8>,
        scratch: Vec<u8>,
        /// Key, and the member value's range in `scratch`.
        members: Vec<(String, usize, usize)>,
        pending: Option<String>,
        variant: bool,
    }

    impl<'a> Object<'a> {
        fn new(out: &'a mut Vec<u8>, variant: bool) -> Object<'a> {
            Object {
                out,
                scratch: Vec::new(),
                members: Vec::new(),
                pending: None,
                variant,
            }
        }
        fn member<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> R {
            let start = self.scratch.len();
            value.serialize(Canon {
                out: &mut self.scratch,
            })?;
            self.members.push((key, start, self.scratch.len()));
            Ok(())
        }
        fn close(mut self) -> R {
            self.members.sort_by(|a, b| key_order(&a.0, &b.0));
            // `to_value` keeps one member per key; a key given twice is left to it.
            if self.members.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(Unsupported);
            }
            self.out.push(b'{');
            for (i, (key, start, end)) in self.members.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                write_string(key, self.out);
                self.out.push(b':');
                self.out.extend_from_slice(&self.scratch[*start..*end]);
            }
            self.out.push(b'}');
            if self.variant {
                self.out.push(b'}');
            }
            Ok(())
        }
    }

    impl ser::SerializeMap for Object<'_> {
        type Ok = ();
        type Error = Unsupported;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> R {
            self.pending = Some(key.serialize(KeyText)?);
            Ok(())
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
            let key = self.pending.take().ok_or(Unsupported)?;
            self.member(key, value)
        }
        fn end(self) -> R {
            self.close()
        }
    }
    impl ser::SerializeStruct for Object<'_> {
        type Ok = ();
        type Error = Unsupported;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> R {
            self.member(key.to_owned(), value)
        }
        fn end(self) -> R {
            self.close()
        }
    }
    impl ser::SerializeStructVariant for Object<'_> {
        type Ok = ();
        type Error = Unsupported;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> R {
            self.member(key.to_owned(), value)
        }
        fn end(self) -> R {
            self.close()
        }
    }

    /// A map key: only strings (anything else takes the `Value` route).
    struct KeyText;

    macro_rules! refuse {
        ($($name:ident($($t:ty),*)),* $(,)?) => {
            $(fn $name(self, $(_: $t),*) -> Result<String, Unsupported> { Err(Unsupported) })*
        };
    }

    impl ser::Serializer for KeyText {
        type Ok = String;
        type Error = Unsupported;
        type SerializeSeq = Impossible<String, Unsupported>;
        type SerializeTuple = Impossible<String, Unsupported>;
        type SerializeTupleStruct = Impossible<String, Unsupported>;
        type SerializeTupleVariant = Impossible<String, Unsupported>;
        type SerializeMap = Impossible<String, Unsupported>;
        type SerializeStruct = Impossible<String, Unsupported>;
        type SerializeStructVariant = Impossible<String, Unsupported>;

        fn serialize_str(self, v: &str) -> Result<String, Unsupported> {
            Ok(v.to_owned())
        }
        refuse!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_f32(f32),
            serialize_f64(f64),
            serialize_char(char),
            serialize_bytes(&[u8]),
            serialize_none(),
            serialize_unit(),
            serialize_unit_struct(&'static str),
            serialize_unit_variant(&'static str, u32, &'static str),
        );
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<String, Unsupported> {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<String, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Unsupported> {
            Err(Unsupported)
        }
    }
}

use ser::Canon;

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

    #[test]
    fn serializable_values_canonicalize_as_their_json_value_does() {
        let doc = r#"{"b":[1,-2,3.5,1e21,null,true,"\u0001é\"",{"z":{},"a":[]}],"a":"x","\u00e9":0,
            "\ud83d\ude00":1,"\ufb33":2,"n":18446744073709551615,"m":-9223372036854775808}"#;
        let value = crate::json::parse_value(doc.as_bytes()).unwrap();
        assert_eq!(to_vec_of(&value).unwrap(), to_vec(&value).unwrap());

        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase", tag = "kind")]
        enum Shape {
            Unit,
            Fields { b_field: Option<u8>, a: f64 },
        }
        #[derive(serde::Serialize)]
        struct Outer {
            shapes: Vec<Shape>,
            map: std::collections::BTreeMap<String, char>,
            nested: (u32, String),
            nan: f32,
            raw: &'static [u8],
        }
        let outer = Outer {
            shapes: vec![
                Shape::Unit,
                Shape::Fields {
                    b_field: None,
                    a: 0.1,
                },
            ],
            map: [("y".to_owned(), 'q'), ("x".to_owned(), '\n')].into(),
            nested: (7, "s".to_owned()),
            nan: f32::NAN,
            raw: b"ab",
        };
        let via_value = to_vec(&serde_json::to_value(&outer).unwrap()).unwrap();
        assert_eq!(to_vec_of(&outer).unwrap(), via_value);
        // What the `Value` route reshapes is left to it.
        let keyed: std::collections::BTreeMap<u32, u32> = [(1, 2)].into();
        assert!(to_vec_of(&keyed).is_none());
    }
}
