//! The strict JSON reader: never panics; whatever it accepts, serde_json accepts with the same
//! value (strictness only ever refuses more), and its output reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = mcpsig::json::parse_value(data) else {
        return;
    };
    let lenient: serde_json::Value =
        serde_json::from_slice(data).expect("serde_json accepts what the strict reader accepts");
    assert_eq!(lenient, value);
    let text = serde_json::to_vec(&value).expect("a Value serializes");
    let again = mcpsig::json::parse_value(&text).expect("serialized JSON re-reads strictly");
    assert_eq!(again, value);
});
