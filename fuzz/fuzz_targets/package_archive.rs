//! Package archives (npm tarballs, wheels, MCP bundles) from a hostile registry or publisher:
//! unpacking never panics, never writes outside the install folder, never creates a symlink,
//! and what it reports written is exactly what is on disk.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let _ = mcpsig::fuzzing::package_archive(kind, rest);
});
