//! Error excerpts, error chains, character classes and redirect targets: text helpers every layer may use. A leaf: it depends on
//! nothing else in the crate.

/// How many bytes of a response body an error message quotes.
const EXCERPT_BYTES: usize = 300;

/// The start of a response body for an error message, trimmed, cut at a character boundary
/// and marked with `...` when cut. Bodies of token endpoints on success carry secrets, so only
/// error bodies are ever passed here.
pub fn excerpt(body: &str) -> String {
    let trimmed = body.trim();
    let mut end = trimmed.len().min(EXCERPT_BYTES);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = trimmed[..end].to_owned();
    if end < trimmed.len() {
        out.push_str("...");
    }
    out
}

/// Untrusted text quoted in a message: control characters escaped (no terminal escape or line
/// break gets through), at most `max` characters, marked with `...` when cut.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push_str("...");
            break;
        }
        if c.is_control() || c == '\\' {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// An error and its causes on one line (`outer: cause: root cause`), for reports and for errors
/// that carry another error's text.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Bidi controls: they reorder the text around them on screen.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that render as nothing (or nearly) but change the text a model reads.
pub fn is_invisible(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}')
}

/// Where a refused redirect pointed (its `Location` value, if it had one), for a message or a
/// log: its origin only. The rest of a `Location` may carry what no log should (an
/// authorization code, a token in the query).
pub fn redirect_target(location: Option<&[u8]>) -> String {
    let Some(location) = location else {
        return "nowhere".to_owned();
    };
    let Ok(text) = std::str::from_utf8(location) else {
        return "an unreadable location".to_owned();
    };
    match url::Url::parse(text) {
        Ok(u) if u.host().is_some() => format!(
            "`{}` (path and query not shown)",
            one_line(&u.origin().ascii_serialization(), 200)
        ),
        // A path on the same origin (or nothing readable as a URL).
        _ => "another path of the endpoint (not shown)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_target_is_its_origin_alone() {
        let at = |location: &[u8]| redirect_target(Some(location));
        let shown = at(b"https://user:pass@evil.example:8443/cb?code=SECRET#frag");
        assert_eq!(
            shown,
            "`https://evil.example:8443` (path and query not shown)"
        );
        assert_eq!(
            at(b"/login?token=SECRET"),
            "another path of the endpoint (not shown)"
        );
        assert_eq!(at(b"\xff\xfe"), "an unreadable location");
        assert!(!at(b"https://evil.example/\x1b[2J").contains('\u{1b}'));
        assert_eq!(redirect_target(None), "nowhere");
    }

    #[test]
    fn excerpts_are_trimmed_and_cut_on_a_character_boundary() {
        assert_eq!(excerpt("  short \n"), "short");
        let long = "é".repeat(200);
        let cut = excerpt(&long);
        assert!(cut.ends_with("..."));
        assert!(cut.len() <= EXCERPT_BYTES + 3);
        assert!(cut.trim_end_matches("...").chars().all(|c| c == 'é'));
    }

    #[test]
    fn chains_name_every_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("root cause"));
        assert_eq!(error_chain(&e), "outer: root cause");
    }
}
