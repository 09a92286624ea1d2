//! `RelPath`: a path relative to a pinned root that cannot point outside it by construction.
//! `/`-separated UTF-8, no empty, `.` or `..` components, not absolute, no backslash, NUL or
//! control characters. Compared bytewise.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unsafe path `{path}`: {why}")]
pub struct RelPathError {
    pub path: String,
    pub why: &'static str,
}

impl RelPath {
    pub fn parse(s: &str) -> Result<RelPath, RelPathError> {
        let bad = |why| {
            Err(RelPathError {
                path: s.escape_debug().to_string(),
                why,
            })
        };
        if s.is_empty() {
            return bad("empty path");
        }
        if s.starts_with('/') {
            return bad("absolute paths are not allowed");
        }
        if s.contains('\\') {
            return bad("backslashes are not allowed");
        }
        if s.chars().any(|c| c.is_control()) {
            return bad("control characters are not allowed");
        }
        for comp in s.split('/') {
            match comp {
                "" => return bad("empty path component"),
                "." => return bad("`.` components are not allowed"),
                ".." => return bad("`..` components are not allowed"),
                _ => {}
            }
        }
        Ok(RelPath(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// `self/name`, with `name` checked as a single component.
    pub fn join(&self, name: &str) -> Result<RelPath, RelPathError> {
        if name.contains('/') {
            return Err(RelPathError {
                path: name.to_owned(),
                why: "name contains `/`",
            });
        }
        RelPath::parse(&format!("{}/{}", self.0, name))
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for RelPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RelPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RelPath, D::Error> {
        let s = String::deserialize(d)?;
        RelPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        for ok in [
            "a",
            "a/b.js",
            ".hidden/x",
            "a..b/c",
            "node_modules/@scope/pkg",
        ] {
            assert_eq!(RelPath::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_escaping_and_ambiguous_paths() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/",
            "a\\b",
            "a\u{0}b",
            "a\nb",
            "..",
        ] {
            assert!(RelPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
