//! RFC 8785 canonicalization: never panics; the canonical form is a fixed point and parses back
//! to the input's value (numbers compared as the IEEE doubles JCS makes of them); the direct
//! serializer (`to_vec_of`, used for manifest digests) writes the same bytes as the `Value` path
//! whenever it answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(canonical) = mcpsig::canonical::canonicalize(data) else {
        return;
    };
    let twice = mcpsig::canonical::canonicalize(&canonical).expect("canonical JSON re-reads");
    assert_eq!(twice, canonical, "not a fixed point");
    let input = mcpsig::json::parse_value(data).expect("the input parsed once already");
    let back = mcpsig::json::parse_value(&canonical).expect("canonical JSON parses");
    assert!(same(&input, &back), "canonical form changed the value");
    if let Some(direct) = mcpsig::canonical::to_vec_of(&input) {
        assert_eq!(direct, canonical, "the two canonicalizers disagree");
    }
});
