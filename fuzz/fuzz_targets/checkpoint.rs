//! Checkpoints (signed notes): parsing never panics, and neither does checking the signature
//! lines against the production Rekor keys.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcpsig::sigstore::checkpoint::Checkpoint;
use mcpsig::sigstore::trust::TrustedRoot;

static ROOT: LazyLock<TrustedRoot> =
    LazyLock::new(|| TrustedRoot::production().expect("the embedded root parses"));

fuzz_target!(|data: &[u8]| {
    let Ok(note) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(checkpoint) = Checkpoint::parse(note) else {
        return;
    };
    assert!(
        note.starts_with(&checkpoint.body),
        "the signed body is a prefix of the note"
    );
    for log in &ROOT.tlogs {
        if let (Some(key), Some(hint)) = (&log.key, log.log_id.first_chunk::<4>()) {
            let _ = checkpoint.verify(*hint, key);
        }
    }
});
