//! Text for a terminal: anything that came from outside (names, descriptions, error excerpts)
//! is escaped before it is printed, so it cannot move the cursor, rewrite a line or reorder text.

use std::borrow::Cow;

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

fn escape_where(s: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a terminal: every control and invisible format character is written as a visible
/// `\u{..}` escape, except newlines and tabs, which our own multi-line output uses. Apply it to
/// every human-readable line (JSON output is exact and never goes through this).
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c != '\n' && c != '\t' && is_unsafe_for_terminal(c))
}

/// [`terminal_safe`] for a value that must stay on one line (a name, an identity, a path):
/// newlines and tabs are escaped too, so a value cannot forge a line of the report.
pub fn one_line(s: &str) -> Cow<'_, str> {
    escape_where(s, is_unsafe_for_terminal)
}

/// Serialized JSON for a terminal, still the same JSON: every control and invisible format
/// character (which can only stand inside a string) written as a `\uXXXX` escape. Newlines
/// are the layout of pretty JSON (a string never holds one raw) and stay.
pub fn json_safe(s: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c != '\n' && is_unsafe_for_terminal(c);
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if unsafe_char(c) {
            // Every such character lies in the Basic Multilingual Plane: one escape each.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_stays_the_same_json() {
        let v = serde_json::json!({"a": "x\u{202E}y\u{9b}z\u{1b}", "b": ["ü"]});
        let text = serde_json::to_string_pretty(&v).unwrap();
        let safe = json_safe(&text);
        assert!(
            !safe.chars().any(|c| c != '\n' && is_unsafe_for_terminal(c)),
            "{safe}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).unwrap(), v);
    }

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
        assert!(matches!(terminal_safe("plain ü"), Cow::Borrowed(_)));
    }
}
