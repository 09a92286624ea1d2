//! Distinguished names as RFC 4514 strings (`CN=Acme Publisher,O=Acme`), for reports and
//! messages (MCPB chains, certificate chain errors): the last RDN first, an RDN's attributes
//! joined by `+`, string values escaped.
//!
//! The output is x509-cert's own `Display` for every attribute named in [`short_name`] (a test
//! compares the two). Any other attribute is written as RFC 4514 section 2.4 allows, as its
//! dotted OID and its DER in hex (`2.5.4.65=#0c03616263`), where x509-cert looks its name up in
//! const-oid's database of some 3,000 names: that table alone was 36 KB of relocated data that
//! every `mcp-verify` process wrote at start (README "Speed").

use std::fmt::Write as _;

use const_oid::ObjectIdentifier;
use const_oid::db::{rfc3280, rfc4519};
use der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
use der::{Encode as _, Tag, Tagged as _};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;

/// `name` as an RFC 4514 string.
pub fn rfc4514(name: &Name) -> String {
    let mut out = String::new();
    for (i, rdn) in name
        .iter_rdn()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            attribute(&mut out, atv);
        }
    }
    out
}

fn attribute(out: &mut String, atv: &AttributeTypeAndValue) {
    let text = match atv.value.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(&atv.value)
            .ok()
            .map(|s| s.as_str()),
        Tag::Utf8String => Utf8StringRef::try_from(&atv.value).ok().map(|s| s.as_str()),
        Tag::Ia5String => Ia5StringRef::try_from(&atv.value).ok().map(|s| s.as_str()),
        Tag::TeletexString => TeletexStringRef::try_from(&atv.value)
            .ok()
            .map(|s| s.as_str()),
        _ => None,
    };
    match (short_name(&atv.oid), text) {
        (Some(key), Some(text)) => {
            out.push_str(key);
            out.push('=');
            escaped(out, text);
        }
        _ => {
            let _ = write!(out, "{}=#", atv.oid);
            for b in atv.value.to_der().unwrap_or_default() {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
}

/// RFC 4514 section 2.4: a leading `#`, a leading or trailing space, the special characters and
/// control characters are escaped.
fn escaped(out: &mut String, text: &str) {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || chars.peek().is_none() => out.push_str("\\ "),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\x00'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\{:02x}", c as u32);
            }
            _ => out.push(c),
        }
    }
}

/// The attributes of publisher and CA certificates in practice, by the names x509-cert gives
/// them (the shortest name const-oid knows, upper-cased).
fn short_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    let known = [
        (rfc4519::CN, "CN"),
        (rfc4519::C, "C"),
        (rfc4519::L, "L"),
        (rfc4519::ST, "ST"),
        (rfc4519::O, "O"),
        (rfc4519::OU, "OU"),
        (rfc4519::STREET, "STREET"),
        (rfc4519::DC, "DC"),
        (rfc4519::UID, "UID"),
        (rfc4519::SN, "SN"),
        (rfc4519::SERIAL_NUMBER, "SERIALNUMBER"),
        (rfc4519::TITLE, "TITLE"),
        (rfc4519::GIVEN_NAME, "GN"),
        (rfc4519::POSTAL_CODE, "POSTALCODE"),
        (rfc4519::BUSINESS_CATEGORY, "BUSINESSCATEGORY"),
        (rfc3280::EMAIL_ADDRESS, "EMAIL"),
    ];
    known.iter().find(|(k, _)| k == oid).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use der::asn1::{Any, PrintableStringRef, SetOfVec, Utf8StringRef};
    use x509_cert::name::{RdnSequence, RelativeDistinguishedName};

    use super::*;

    fn atv(oid: ObjectIdentifier, value: Any) -> AttributeTypeAndValue {
        AttributeTypeAndValue { oid, value }
    }

    fn utf8(s: &str) -> Any {
        Any::from(Utf8StringRef::new(s).unwrap())
    }

    fn name(rdns: Vec<Vec<AttributeTypeAndValue>>) -> Name {
        let rdns = rdns
            .into_iter()
            .map(|atvs| RelativeDistinguishedName::from(SetOfVec::try_from(atvs).unwrap()))
            .collect::<Vec<_>>();
        let der = RdnSequence::from(rdns).to_der().unwrap();
        <Name as der::Decode>::from_der(&der).unwrap()
    }

    /// Every attribute with a short name prints as x509-cert prints it (its name looked up in
    /// const-oid's database), values escaped the same way.
    #[test]
    fn known_attributes_print_as_x509_cert_prints_them() {
        let values = [
            "Acme",
            " #lead, \"q\" +;<>\\ trail ",
            "\u{1b}[31mred\u{7f}",
            "Ünï",
        ];
        for oid in [
            rfc4519::CN,
            rfc4519::C,
            rfc4519::L,
            rfc4519::ST,
            rfc4519::O,
            rfc4519::OU,
            rfc4519::STREET,
            rfc4519::DC,
            rfc4519::UID,
            rfc4519::SN,
            rfc4519::SERIAL_NUMBER,
            rfc4519::TITLE,
            rfc4519::GIVEN_NAME,
            rfc4519::POSTAL_CODE,
            rfc4519::BUSINESS_CATEGORY,
            rfc3280::EMAIL_ADDRESS,
        ] {
            assert!(short_name(&oid).is_some(), "{oid}");
            for v in values {
                let n = name(vec![
                    vec![atv(
                        rfc4519::C,
                        Any::from(PrintableStringRef::new("US").unwrap()),
                    )],
                    vec![atv(oid, utf8(v)), atv(rfc4519::O, utf8("Acme"))],
                ]);
                assert_eq!(rfc4514(&n), n.to_string(), "{oid} {v:?}");
            }
        }
        let n = Name::from_str("CN=Acme Weather Publisher,O=Acme").unwrap();
        assert_eq!(rfc4514(&n), "CN=Acme Weather Publisher,O=Acme");
    }

    /// Any other attribute, and a value that is not a string, is its OID and DER in hex.
    #[test]
    fn other_attributes_are_an_oid_and_hex() {
        let other = ObjectIdentifier::new_unwrap("2.5.4.65");
        let n = name(vec![vec![atv(other, utf8("abc"))]]);
        assert_eq!(rfc4514(&n), "2.5.4.65=#0c03616263");
        let n = name(vec![vec![atv(rfc4519::CN, Any::from(der::asn1::Null))]]);
        assert_eq!(rfc4514(&n), "2.5.4.3=#0500");
        assert_eq!(rfc4514(&Name::default()), "");
    }
}
