//! MCP client configurations: parsing never panics, for any client; an entry reads as wrapped
//! only when it launches `mcp-verify run BUNDLE`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpsig::client_config::{ClientConfig, ClientKind, EntryLaunch};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    for kind in ClientKind::ALL {
        let Ok(config) = ClientConfig::parse(Path::new("mcp.json"), *kind, data.to_vec()) else {
            continue;
        };
        for server in &config.servers {
            if let EntryLaunch::Stdio(entry) = &server.launch
                && let Some(wrapped) = entry.wrapped()
            {
                assert_eq!(entry.args.first().map(String::as_str), Some("run"));
                assert!(!wrapped.bundle.as_os_str().is_empty());
            }
        }
    }
});
