//! Places the functions one verification runs next to each other in the release binary, so a
//! whole `mcp-verify` process faults in a few pages of code instead of pages spread over 10 MB
//! (bench/link-order.sh writes the list; README "Speed" has the figures). Only where the
//! linker is rust-lld, the default for x86_64 Linux since Rust 1.90: another linker does not
//! know the option, and the build goes on without it. Where glibc can read them, relative
//! relocations are packed (fewer bytes for the loader to read at every start).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=MCPSIG_NO_LINK_ORDER");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let other_linker = flags.contains("linker") || flags.contains("fuse-ld");
    if !release
        || target != "x86_64-unknown-linux-gnu"
        || other_linker
        || std::env::var_os("MCPSIG_NO_LINK_ORDER").is_some()
        || !rust_lld_by_default()
    {
        return;
    }
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("link-order.txt");
    if order.is_file() {
        warn_if_stale(&order);
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names the build does not have (the list is older than the code) are skipped quietly.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    if glibc_reads_packed_relocations() {
        // Relative relocations packed as a bitmap (DT_RELR): the loader reads 7 KB instead of
        // 270 KB before `main`, a whole verification about 2% sooner. The binary then needs
        // glibc 2.36 or later, as the one it is built against already has.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Warns when the list was made with another Cargo.lock (its first line names the one): a
/// dependency's new version or features renames the functions it lists, and a stale list cost
/// about 30 page faults per verification. Speed only: the build goes on.
fn warn_if_stale(order: &Path) {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let first = std::fs::read_to_string(order)
        .ok()
        .and_then(|t| t.lines().next().map(str::to_owned))
        .unwrap_or_default();
    let Some(made_with) = first.strip_prefix("# Cargo.lock sha256 ") else {
        return;
    };
    let Ok(out) = Command::new("sha256sum").arg(&lock).output() else {
        return;
    };
    let now = String::from_utf8_lossy(&out.stdout);
    let now = now.split_whitespace().next().unwrap_or_default();
    if !out.status.success() || now.is_empty() {
        return;
    }
    if !made_with.starts_with(now) {
        println!(
            "cargo:warning=mcp-verify/link-order.txt was made with another Cargo.lock: run \
             bench/link-order.sh (a stale list costs whole-process speed, never correctness)"
        );
    }
}

/// Whether this machine's glibc (the one the binary links against) is 2.36 or later, the first
/// to apply packed relocations.
fn glibc_reads_packed_relocations() -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    // "glibc 2.36"
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    major_minor(version) >= (2, 36)
}

/// Whether the compiler is Rust 1.90 or later (it links with rust-lld on this target).
fn rust_lld_by_default() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    major_minor(text.split_whitespace().nth(1).unwrap_or_default()) >= (1, 90)
}

/// The first two numbers of a version (`1.95.0` is (1, 95)); what does not read is 0.
fn major_minor(version: &str) -> (u32, u32) {
    let mut parts = version.split('.');
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next())
}
