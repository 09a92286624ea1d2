//! Trust policy files: parsing never panics on any bytes, and a policy that parses names a rule
//! or a default for every server it matches (no half-built rule survives an error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpsig::manifest::ServerName;
use mcpsig::policy::Policy;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::parse(text, Path::new("/nonexistent/policy.toml")) else {
        return;
    };
    for rule in policy.rules() {
        assert!(!rule.signers.is_empty(), "a rule without signers parsed");
    }
    if let Ok(name) = ServerName::parse("io.github.acme/weather") {
        let _ = policy.rule_for(&name);
    }
});
