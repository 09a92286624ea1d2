//! The command line itself: a mistake in it is exit 2 with clap's own message, and under
//! `--json` a JSON error object on stdout as well, so that a program reading the JSON is never
//! left with nothing to read.

use std::ffi::OsString;

use clap::error::ErrorKind;

/// Parses `args` (the program's name first) as `P`, or exits: help and version as clap prints
/// them (exit 0 once they are written; exit 2 when standard output refuses them, quietly for a
/// reader that went away, as [`crate::write_out`]); a mistake with clap's message on stderr (exit 2), preceded on stdout by
/// `{"error": {"reason": "error", "message": ..., "causes": [], "hint": ...}}` when `--json` is
/// among the words before `--` (with `"verified": false` when `verdict`).
pub fn parse_args<P: clap::Parser>(args: &[OsString], verdict: bool) -> P {
    match P::try_parse_from(args) {
        Ok(p) => p,
        Err(e) => {
            if !is_mistake(e.kind()) {
                // clap's own `exit` drops a write error, so help sent to a full disk or a
                // closed pipe would still say 0.
                use std::io::Write as _;
                let written = e.print().and_then(|()| std::io::stdout().flush());
                if let Err(err) = written.map_err(crate::closed_stdout) {
                    eprintln!("error: cannot write to standard output: {err}");
                    std::process::exit(i32::from(crate::EXIT_ERROR));
                }
                std::process::exit(e.exit_code());
            }
            if wants_json(args) {
                crate::rawln!("{}", json_error(&e.render().to_string(), verdict));
            }
            e.exit()
        }
    }
}

fn is_mistake(kind: ErrorKind) -> bool {
    // Help shown because a subcommand or argument is missing is a mistake (exit 2) too.
    !matches!(kind, ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
}

/// Whether `--json` (or `--json=VALUE`, itself a mistake) is one of our own words: those after
/// `--` belong to a server's command. Never for `run` and `proxy`, whose standard output is a
/// server's MCP stream and which print no JSON of their own.
fn wants_json(args: &[OsString]) -> bool {
    let ours = || args.iter().skip(1).take_while(|a| *a != "--");
    let streams = ours()
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|first| first == "run" || first == "proxy");
    !streams
        && ours().any(|a| {
            let a = a.to_string_lossy();
            a == "--json" || a.starts_with("--json=")
        })
}

/// The JSON error for clap's rendered message: its first line (without `error: `) is the
/// message; the usage line it shows becomes the hint.
fn json_error(rendered: &str, verdict: bool) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("the command line is not valid");
    let message = first.strip_prefix("error: ").unwrap_or(first);
    let usage = rendered
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("Usage: "));
    let hint = match usage {
        Some(u) => format!("usage: {u} (see --help)"),
        None => "see --help".to_owned(),
    };
    let mut doc = serde_json::json!({
        "error": { "reason": "error", "message": message, "causes": [], "hint": hint },
    });
    if verdict {
        doc["verified"] = serde_json::Value::Bool(false);
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_wanted_only_among_our_own_words() {
        let args = |words: &[&str]| -> Vec<OsString> { words.iter().map(Into::into).collect() };
        assert!(wants_json(&args(&["mcp-verify", "b.json", "--json"])));
        assert!(!wants_json(&args(&[
            "mcp-verify",
            "run",
            "b",
            "--",
            "srv",
            "--json"
        ])));
        assert!(!wants_json(&args(&["--json"])));
        assert!(wants_json(&args(&["mcp-sign", "--json=true", "keygen"])));
        assert!(!wants_json(&args(&[
            "mcp-verify",
            "run",
            "b",
            "--env",
            "--json"
        ])));
        assert!(!wants_json(&args(&["mcp-verify", "proxy", "b", "--json"])));
    }

    #[test]
    fn the_json_error_names_the_mistake_and_the_usage() {
        let rendered = "error: unexpected argument '--frob' found\n\n  tip: ...\n\nUsage: mcp-verify [OPTIONS] [BUNDLE]\n\nFor more information, try '--help'.\n";
        let doc: serde_json::Value = serde_json::from_str(&json_error(rendered, true)).unwrap();
        assert_eq!(
            doc["error"]["message"],
            "unexpected argument '--frob' found"
        );
        assert_eq!(doc["error"]["reason"], "error");
        assert_eq!(
            doc["error"]["hint"],
            "usage: mcp-verify [OPTIONS] [BUNDLE] (see --help)"
        );
        assert_eq!(doc["verified"], false);
        let doc: serde_json::Value = serde_json::from_str(&json_error(rendered, false)).unwrap();
        assert!(doc.get("verified").is_none());
    }
}
