//! RFC 8785 vectors (testdata/jcs, from the RFC author's reference repository): every input must
//! canonicalize to its output byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn every_jcs_vector_matches_byte_for_byte() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/jcs");
    let mut count = 0;
    for entry in std::fs::read_dir(dir.join("input")).unwrap() {
        let input_path = entry.unwrap().path();
        let name = input_path.file_name().unwrap().to_str().unwrap().to_owned();
        let input = std::fs::read(&input_path).unwrap();
        let want = std::fs::read(dir.join("output").join(&name)).unwrap();
        let got = mcpsig::canonical::canonicalize(&input).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "vector {name}"
        );
        let hex_want: String =
            std::fs::read_to_string(dir.join("outhex").join(name.replace(".json", ".txt")))
                .unwrap()
                .split_whitespace()
                .collect();
        assert_eq!(
            hex::encode(&got),
            hex_want.to_lowercase(),
            "hex vector {name}"
        );
        count += 1;
    }
    assert!(count >= 6, "expected the RFC 8785 vectors, found {count}");
}

#[test]
fn ieee754_number_formatting() {
    // A sample of ES6 Number.prototype.toString results (RFC 8785 appendix B).
    let cases = [
        ("0", "0"),
        ("-0", "0"),
        ("1e+30", "1e+30"),
        ("4.35", "4.35"),
        ("0.002", "0.002"),
        ("0.000001", "0.000001"),
        ("1e-7", "1e-7"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("5e-324", "5e-324"),
        ("9007199254740992", "9007199254740992"),
        ("9007199254740993", "9007199254740992"),
        ("295147905179352830000", "295147905179352830000"),
        ("1e21", "1e+21"),
        ("333333333.33333329", "333333333.3333333"),
        ("-1.5e-9", "-1.5e-9"),
    ];
    for (input, want) in cases {
        let got = mcpsig::canonical::canonicalize(input.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), want, "input {input}");
    }
}
