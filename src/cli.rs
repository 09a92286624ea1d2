//! Transitional: the one terminal helper `sign::oidc` still uses for its login prompt. Everything
//! else moved to the `mcpsig-cli-support` crate; this goes once `sign::oidc` returns the URL
//! instead of printing it (the library never prints).

/// A value for one terminal line: control and invisible format characters (and newlines and
/// tabs) written as visible `\u{..}` escapes. Same rule as `mcpsig_cli_support::one_line`.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            let hidden = c.is_control()
                || matches!(
                    c,
                    '\u{061C}'
                        | '\u{180E}'
                        | '\u{200B}'..='\u{200F}'
                        | '\u{2028}'..='\u{202E}'
                        | '\u{2060}'..='\u{206F}'
                        | '\u{FEFF}'
                        | '\u{FFF9}'..='\u{FFFB}'
                );
            if hidden {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
