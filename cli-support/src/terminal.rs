//! Text for a terminal: anything that came from outside (names, descriptions, error excerpts)
//! is escaped before it is printed, so it cannot move the cursor, rewrite a line or reorder text.

use std::borrow::Cow;

/// Whether a character must not reach a terminal raw: C0 and C1 controls (ESC starts every
/// terminal escape sequence, CR rewrites a line), DEL, line separators, and every character
/// Unicode says a renderer may show as nothing (Default_Ignorable_Code_Point: bidi overrides
/// and isolates, zero-width characters, the soft hyphen, fillers, variation selectors, tag
/// characters), since each can make two different values print the same.
fn is_unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
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
            // One escape per UTF-16 unit: a character beyond the Basic Multilingual Plane (a
            // tag character) is written as its surrogate pair, as JSON spells it.
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{:04x}", unit));
            }
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
    fn invisible_characters_are_escaped() {
        // Each would make `1.0.0` and `1.0.0` plus it print the same.
        for c in [
            '\u{AD}',
            '\u{34F}',
            '\u{115F}',
            '\u{3164}',
            '\u{FE0F}',
            '\u{FFA0}',
            '\u{1D173}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{E0100}',
        ] {
            let version = format!("1.0.0{c}");
            assert_ne!(one_line(&version), "1.0.0", "{:x}", u32::from(c));
            assert!(
                one_line(&version).starts_with("1.0.0\\u{"),
                "{:x}",
                u32::from(c)
            );
        }
        assert!(matches!(one_line("1.0.0 ü é ❤"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_stays_the_same_json() {
        let v = serde_json::json!({"a": "x\u{202E}y\u{9b}z\u{1b}\u{E0041}", "b": ["ü"]});
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
