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
    let causes = causes_of(err);
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

/// The messages of `err`'s sources, in order. A cause whose message already ends the one before
/// it (`policy.toml:6: invalid regular expression ...` over `invalid regular expression ...`) is
/// left out: it would only say the same thing again, at the length of what it quotes.
fn causes_of(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut causes = Vec::new();
    let mut before = err.to_string();
    let mut cur = err.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !before.ends_with(&text) {
            causes.push(text.clone());
        }
        before = text;
        cur = c.source();
    }
    causes
}

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(String, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let root = Layer("exceeded size limit".into(), None);
        let problem = Layer("invalid pattern `a{9}`".into(), Some(Box::new(root)));
        let top = Layer(
            "p.toml:6: invalid pattern `a{9}`".into(),
            Some(Box::new(problem)),
        );
        assert_eq!(causes_of(&top), ["exceeded size limit"]);
        let other = Layer(
            "cannot read policy".into(),
            Some(Box::new(Layer("permission denied".into(), None))),
        );
        assert_eq!(causes_of(&other), ["permission denied"]);
    }
}
