//! The command-line side both binaries share: exit codes, the error layout (`error:` /
//! `Caused by:` / `hint:`), colour, prompts, progress and terminal-safe output. Nothing here
//! decides anything about manifests or trust: that is the `mcpsig` library, which never prints.

mod error;
mod progress;
mod prompt;
mod terminal;

pub use error::{print_error, print_error_as, use_color};
pub use progress::with_progress;
pub use prompt::read_passphrase;
pub use terminal::{json_safe, one_line, terminal_safe};

/// Exit codes (spec/cli.md).
pub const EXIT_OK: u8 = 0;
pub const EXIT_REJECTED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// `println!` for human output: the formatted text goes through [`terminal_safe`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        println!("{}", $crate::terminal_safe(&format!($($arg)*)))
    };
}

/// `eprintln!` for human output: the formatted text goes through [`terminal_safe`].
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::terminal_safe(&format!($($arg)*)))
    };
}
