//! Server-name patterns of policy rules: an exact name, or a glob whose `*` stands for any run
//! of characters inside one segment (segments are separated by `/` and `.`), so
//! `io.github.acme/*` never reaches `io.github.acme.evil/x` nor `io.github.acme/x.y`.

use crate::manifest::ServerName;

/// A rule's `name`: exact, or a glob with at least one `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    Exact(ServerName),
    Glob(String),
}

/// Why a `name` is not a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// Not a server name, even with each `*` read as a letter.
    #[error("`{0}` is not a server name or a glob of one (`*` stands inside one segment)")]
    NotAName(String),
    /// `**` would read as two wildcards in one place.
    #[error("`{0}`: `**` is not allowed; `*` never crosses `/` or `.`")]
    DoubleStar(String),
}

fn is_separator(c: char) -> bool {
    c == '/' || c == '.'
}

impl NamePattern {
    pub fn parse(text: &str) -> Result<NamePattern, PatternError> {
        if !text.contains('*') {
            return ServerName::parse(text)
                .map(NamePattern::Exact)
                .map_err(|_| PatternError::NotAName(text.escape_debug().to_string()));
        }
        if text.contains("**") {
            return Err(PatternError::DoubleStar(text.escape_debug().to_string()));
        }
        // The pattern must have the shape of a name: `*` read as one letter.
        if ServerName::parse(&text.replace('*', "x")).is_err() {
            return Err(PatternError::NotAName(text.escape_debug().to_string()));
        }
        Ok(NamePattern::Glob(text.to_owned()))
    }

    pub fn matches(&self, name: &ServerName) -> bool {
        match self {
            NamePattern::Exact(n) => n == name,
            NamePattern::Glob(g) => glob_matches(g, name.as_str()),
        }
    }

    /// How specific the pattern is: an exact name beats every glob, and among globs the one
    /// with more literal characters wins.
    pub fn specificity(&self) -> usize {
        match self {
            NamePattern::Exact(_) => usize::MAX,
            NamePattern::Glob(g) => g.chars().filter(|c| *c != '*').count(),
        }
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamePattern::Exact(n) => write!(f, "{n}"),
            NamePattern::Glob(g) => f.write_str(g),
        }
    }
}

/// Segment by segment: the separators must be the same, and each segment match its glob.
fn glob_matches(glob: &str, name: &str) -> bool {
    let seps = |s: &str| s.chars().filter(|c| is_separator(*c)).collect::<Vec<_>>();
    if seps(glob) != seps(name) {
        return false;
    }
    glob.split(is_separator)
        .zip(name.split(is_separator))
        .all(|(g, n)| segment_matches(g.as_bytes(), n.as_bytes()))
}

/// `*` matches any run of bytes (names are ASCII); everything else matches itself.
fn segment_matches(glob: &[u8], text: &[u8]) -> bool {
    // The classic two-pointer match with one backtrack point: linear enough for names.
    let (mut g, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if g < glob.len() && glob[g] == b'*' {
            star = Some((g, t));
            g += 1;
        } else if g < glob.len() && glob[g] == text[t] {
            g += 1;
            t += 1;
        } else if let Some((sg, st)) = star {
            g = sg + 1;
            t = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|b| *b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ServerName {
        ServerName::parse(s).unwrap()
    }

    #[test]
    fn star_stays_inside_one_segment() {
        let p = NamePattern::parse("io.github.acme/*").unwrap();
        assert!(p.matches(&name("io.github.acme/weather")));
        assert!(!p.matches(&name("io.github.acme/weather.v2")));
        assert!(!p.matches(&name("io.github.acme.evil/weather")));
        assert!(!p.matches(&name("io.github.acmeevil/weather")));
        let p = NamePattern::parse("io.github.*/srv-*").unwrap();
        assert!(p.matches(&name("io.github.x/srv-1")));
        assert!(!p.matches(&name("io.github.x/tool-1")));
        assert!(!p.matches(&name("io.github.x.y/srv-1")));
        let p = NamePattern::parse("io.github.acme/a*b*c").unwrap();
        assert!(p.matches(&name("io.github.acme/abc")));
        assert!(p.matches(&name("io.github.acme/axxbyyc")));
        assert!(!p.matches(&name("io.github.acme/axxbyy")));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "",
            "*",
            "io.github.acme",
            "io.github.acme/**",
            "io github/x",
            "*/x/y",
        ] {
            assert!(NamePattern::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            NamePattern::parse("io.github.acme/x"),
            Ok(NamePattern::Exact(_))
        ));
    }

    #[test]
    fn exact_is_most_specific() {
        let exact = NamePattern::parse("io.github.acme/x").unwrap();
        let long = NamePattern::parse("io.github.acme/*").unwrap();
        let short = NamePattern::parse("io.github.*/*").unwrap();
        assert!(exact.specificity() > long.specificity());
        assert!(long.specificity() > short.specificity());
    }
}
