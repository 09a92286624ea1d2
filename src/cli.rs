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
    eprintln!("{red}{bold}error{reset}: {err}");
    for c in &causes {
        eprintln!("  Caused by: {c}");
    }
    if let Some(h) = hint {
        eprintln!("{bold}hint{reset}: {h}");
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
