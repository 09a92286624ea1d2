//! Exclude patterns for directory trees: `/`-separated globs matched against a whole relative
//! path. `*` and `?` match within one component, `**` matches any number of components. A pattern
//! that matches a directory excludes everything beneath it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    parts: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid exclude pattern `{pattern}`: {why}")]
pub struct PatternError {
    pub pattern: String,
    pub why: &'static str,
}

impl Pattern {
    pub fn parse(s: &str) -> Result<Pattern, PatternError> {
        let bad = |why| {
            Err(PatternError {
                pattern: s.to_owned(),
                why,
            })
        };
        if s.is_empty() {
            return bad("empty pattern");
        }
        if s.starts_with('/') || s.contains('\\') {
            return bad("patterns are relative and `/`-separated");
        }
        let parts: Vec<String> = s.split('/').map(str::to_owned).collect();
        if parts.iter().any(|p| p.is_empty() || p == "." || p == "..") {
            return bad("empty, `.` or `..` component");
        }
        Ok(Pattern {
            text: s.to_owned(),
            parts,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the relative path (given as components) matches this pattern exactly.
    pub fn matches(&self, path: &[&str]) -> bool {
        match_parts(&self.parts, path)
    }
}

fn match_parts(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            // `**` absorbs 0..=n components; the recursion depth is bounded by the path length.
            (0..=path.len()).any(|skip| match_parts(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((comp, path_rest)) => {
                match_component(first.as_bytes(), comp.as_bytes()) && match_parts(rest, path_rest)
            }
            None => false,
        },
    }
}

/// Wildcard match of one component, iterative with single backtracking point (linear-ish time).
fn match_component(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        let s = String::deserialize(d)?;
        Pattern::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        let comps: Vec<&str> = path.split('/').collect();
        Pattern::parse(p).unwrap().matches(&comps)
    }

    #[test]
    fn wildcards() {
        assert!(m(".git", ".git"));
        assert!(!m(".git", "a/.git"));
        assert!(m("**/.git", "a/.git"));
        assert!(m("**/.git", ".git"));
        assert!(m("*.log", "debug.log"));
        assert!(!m("*.log", "logs/debug.log"));
        assert!(m("logs/**", "logs/a/b.txt"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in ["", "/abs", "a/../b", "a//b", "a\\b"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
