//! Small pieces both binaries share: exit codes, the error layout (`error:` / `Caused by:` /
//! `hint:`), JSON errors, passphrase input and color handling. No decisions are made here.

use std::io::IsTerminal;
use zeroize::Zeroizing;

/// Exit codes (spec/cli.md).
pub const EXIT_OK: u8 = 0;
pub const EXIT_REJECTED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Environment variable holding a key passphrase for non-interactive use.
pub const PASSPHRASE_ENV: &str = "MCPSIG_KEY_PASSPHRASE";

/// Prints an error chain to stderr, or as a JSON document on stdout when `json` is set; the
/// document starts with `"verified": false`, as a verifier's reports do.
pub fn print_error(
    err: &(dyn std::error::Error + 'static),
    reason: &str,
    hint: Option<&str>,
    json: bool,
) {
    print_error_as(err, reason, hint, json, true);
}

/// [`print_error`] for commands that verify nothing (no `verified` member in the JSON).
pub fn print_error_as(
    err: &(dyn std::error::Error + 'static),
    reason: &str,
    hint: Option<&str>,
    json: bool,
    verdict: bool,
) {
    let mut causes = Vec::new();
    let mut cur = err.source();
    while let Some(c) = cur {
        causes.push(c.to_string());
        cur = c.source();
    }
    if json {
        let mut doc = serde_json::json!({
            "error": { "reason": reason, "message": err.to_string(), "causes": causes, "hint": hint },
        });
        if verdict {
            doc["verified"] = serde_json::Value::Bool(false);
        }
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return;
    }
    let (red, bold, reset) = if use_color() {
        ("\x1b[31m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    // Error texts can quote what came from outside (file names, server output, certificate
    // fields): escaped before our own colour codes are added.
    eprintln!(
        "{red}{bold}error{reset}: {}",
        terminal_safe(&err.to_string())
    );
    for c in &causes {
        eprintln!("  Caused by: {}", terminal_safe(c));
    }
    if let Some(h) = hint {
        eprintln!("{bold}hint{reset}: {}", terminal_safe(h));
    }
}

/// Color only on a terminal, and never when NO_COLOR is set.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// A passphrase from the environment, else from the terminal; `None` when neither is available.
pub fn read_passphrase(prompt: &str, confirm: bool) -> Option<Zeroizing<String>> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Some(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let first = Zeroizing::new(rpassword_prompt(prompt)?);
    if confirm {
        let again = Zeroizing::new(rpassword_prompt("Repeat passphrase: ")?);
        if *again != *first {
            eprintln!("error: passphrases do not match");
            return None;
        }
    }
    Some(first)
}

fn rpassword_prompt(prompt: &str) -> Option<String> {
    rpassword::prompt_password(prompt).ok()
}

/// Whether a character must not reach a terminal raw: C0 and C1 controls (ESC starts every
/// terminal escape sequence, CR rewrites a line), DEL, and the invisible format characters that
/// reorder or hide text (bidi overrides and isolates, zero-width characters, line separators).
fn is_unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

fn escape_where(s: &str, unsafe_char: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(&unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Text for a terminal: every control and invisible format character is written as a visible
/// `\u{..}` escape, except newlines and tabs, which our own multi-line output uses. Apply it to
/// every human-readable line (JSON output is exact and never goes through this).
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    escape_where(s, |c| c != '\n' && c != '\t' && is_unsafe_for_terminal(c))
}

/// [`terminal_safe`] for a value that must stay on one line (a name, an identity, a path):
/// newlines and tabs are escaped too, so a value cannot forge a line of the report.
pub fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    escape_where(s, is_unsafe_for_terminal)
}

/// `println!` for human output: the formatted text goes through [`terminal_safe`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        println!("{}", $crate::cli::terminal_safe(&format!($($arg)*)))
    };
}

/// `eprintln!` for human output: the formatted text goes through [`terminal_safe`].
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::cli::terminal_safe(&format!($($arg)*)))
    };
}

#[cfg(test)]
mod terminal_tests {
    use super::*;

    #[test]
    fn escapes_reach_the_terminal_as_visible_text() {
        let forged = "evil\u{1b}[2K\rverified: io.x/y\u{202E}txt.exe\u{9b}31m";
        let safe = terminal_safe(forged);
        assert!(!safe.chars().any(is_unsafe_for_terminal), "{safe}");
        assert_eq!(
            safe,
            "evil\\u{1b}[2K\\u{d}verified: io.x/y\\u{202e}txt.exe\\u{9b}31m"
        );
        assert_eq!(terminal_safe("a\nb\tc"), "a\nb\tc");
        assert_eq!(one_line("a\nb"), "a\\u{a}b");
        assert!(matches!(
            terminal_safe("plain ü"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
