//! Errors as a person or a program reads them: `error:` then `  Caused by:` lines then an
//! optional `hint:` on stderr, or one JSON document on stdout with `--json`.

use crate::terminal::terminal_safe;
use std::io::IsTerminal;

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
        crate::rawln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
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

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}
