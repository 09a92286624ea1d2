//! The command-line side both binaries share: exit codes, the error layout (`error:` /
//! `Caused by:` / `hint:`), colour, prompts, progress and terminal-safe output. Nothing here
//! decides anything about manifests or trust: that is the `mcpsig` library, which never prints.

mod error;
mod progress;
mod prompt;
mod terminal;
mod usage;

pub use error::{print_error, print_error_as, use_color};
pub use progress::with_progress;
pub use prompt::read_passphrase;
pub use terminal::{json_safe, one_line, terminal_safe};
pub use usage::parse_args;

/// Exit codes (spec/cli.md).
pub const EXIT_OK: u8 = 0;
pub const EXIT_REJECTED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// `println!` for human output: the formatted text goes through [`terminal_safe`], and out
/// through [`write_out`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::write_out(&$crate::terminal_safe(&format!($($arg)*)))
    };
}

/// `println!` for machine output (JSON, whose strings are escaped already), out through
/// [`write_out`].
#[macro_export]
macro_rules! rawln {
    ($($arg:tt)*) => {
        $crate::write_out(&format!($($arg)*))
    };
}

/// For writes to standard output that report their errors: a reader that went away ends the
/// process as [`write_out`] does (exit 2, no message); any other error is returned.
pub fn closed_stdout(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(EXIT_ERROR));
    }
    e
}

/// Writes `line` and a line end to standard output. Where `println!` panics when the reader has
/// gone away (`mcp-verify ... | head -n 1`), this ends the process with [`EXIT_ERROR`]: quietly
/// for a closed pipe, with a message on stderr for any other failure. Never exit 0 with output
/// lost.
pub fn write_out(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written.map_err(closed_stdout) {
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(i32::from(EXIT_ERROR));
    }
}

/// `eprintln!` for human output: the formatted text goes through [`terminal_safe`].
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::terminal_safe(&format!($($arg)*)))
    };
}

/// The environment variable that picks the signature backend (`aws-lc` or `rustcrypto`).
pub const CRYPTO_PROVIDER_ENV: &str = "MCPSIG_CRYPTO_PROVIDER";

/// Installs the crypto provider named by `MCPSIG_CRYPTO_PROVIDER`, if set. Call first thing in
/// `main`; an unknown name is a usage error (exit 2), never a silent fallback.
pub fn select_crypto_provider() -> Result<(), std::process::ExitCode> {
    let Some(name) = std::env::var_os(CRYPTO_PROVIDER_ENV) else {
        return Ok(());
    };
    mcpsig::crypto::install_named(&name.to_string_lossy()).map_err(|e| {
        errln!(
            "error: {CRYPTO_PROVIDER_ENV}={} is not a provider of this build (have: {})",
            e.name,
            mcpsig::crypto::names().join(", ")
        );
        std::process::ExitCode::from(EXIT_ERROR)
    })
}
