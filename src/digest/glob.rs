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

/// Components matched as `match_component` matches bytes: `**` absorbs any run of components,
/// and on a mismatch only the latest `**` takes one more (the earlier ones never need to: the
/// latest can absorb whatever they would). Time at most the product of the two lengths; trying
/// every split for every `**` instead was exponential in their number (a signed pattern of a
/// dozen `**` took minutes on a deep path).
fn match_parts(pat: &[String], path: &[&str]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < path.len() {
        if p < pat.len() && pat[p] == "**" {
            star = Some((p, n));
            p += 1;
        } else if p < pat.len() && match_component(pat[p].as_bytes(), path[n].as_bytes()) {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == "**" {
        p += 1;
    }
    p == pat.len()
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

    /// The matcher before it was made linear: every split for every `**`.
    fn reference(pat: &[&str], path: &[&str]) -> bool {
        match pat.split_first() {
            None => path.is_empty(),
            Some((&"**", rest)) => (0..=path.len()).any(|skip| reference(rest, &path[skip..])),
            Some((first, rest)) => match path.split_first() {
                Some((comp, path_rest)) => {
                    match_component(first.as_bytes(), comp.as_bytes()) && reference(rest, path_rest)
                }
                None => false,
            },
        }
    }

    #[test]
    fn components_match_as_every_split_would() {
        // Every pattern of up to 5 parts from these, against every path of up to 5 components.
        let parts = ["**", "a", "*", "b?", "*b"];
        let comps = ["a", "b", "bb", "ab"];
        let mut patterns: Vec<Vec<&str>> = vec![vec![]];
        let mut paths: Vec<Vec<&str>> = vec![vec![]];
        for _ in 0..5 {
            let longer: Vec<Vec<&str>> = patterns
                .iter()
                .filter(|p| p.len() == patterns.last().map_or(0, Vec::len))
                .flat_map(|p| parts.iter().map(move |x| [p.clone(), vec![*x]].concat()))
                .collect();
            patterns.extend(longer);
            let longer: Vec<Vec<&str>> = paths
                .iter()
                .filter(|p| p.len() == paths.last().map_or(0, Vec::len))
                .flat_map(|p| comps.iter().map(move |x| [p.clone(), vec![*x]].concat()))
                .collect();
            paths.extend(longer);
        }
        let mut checked = 0;
        for pat in patterns.iter().filter(|p| !p.is_empty()) {
            let owned: Vec<String> = pat.iter().map(|s| (*s).to_owned()).collect();
            for path in &paths {
                assert_eq!(
                    match_parts(&owned, path),
                    reference(pat, path),
                    "{pat:?} against {path:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 1_000_000, "{checked}");
    }

    #[test]
    fn many_double_stars_against_a_deep_path_finish() {
        // Exponential before: C(depth + stars, stars) splits tried.
        let pattern = format!("{}nomatch", "**/".repeat(40));
        let deep = vec!["d"; 60].join("/");
        assert!(!m(&pattern, &deep));
        assert!(m(&format!("{}d", "**/".repeat(40)), &deep));
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in ["", "/abs", "a/../b", "a//b", "a\\b"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
