//! TUF metadata: the first byte picks the role (root, timestamp, snapshot, targets), the rest is
//! the file. Parsing never panics; a root is also checked for its own signatures.
#![no_main]

use libfuzzer_sys::fuzz_target;

const ROLES: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

fuzz_target!(|data: &[u8]| {
    let Some((pick, raw)) = data.split_first() else {
        return;
    };
    let role = ROLES[usize::from(*pick) % ROLES.len()];
    let _ = mcpsig::fuzzing::tuf_metadata(role, raw);
    if role == "root" {
        let _ = mcpsig::sigstore::tuf::verify_root_self_signed(raw, "fuzz-input");
    }
});
