//! Identity policy for keyless bundles: which certificate identity (SAN), OIDC issuer and
//! optional Fulcio extension values (repository, ref, workflow, runner, ...) are accepted.

use std::collections::BTreeMap;

use super::error::SigstoreError;

/// An exact string, or a regular expression that must match the whole value.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex(regex_lite::Regex),
}

/// Why two options (an exact value and a regular expression for the same field) or a `~`
/// value make no matcher. Callers name the fields in their own terms (flags, policy keys).
#[derive(Debug)]
pub enum MatcherChoiceError {
    /// Both the exact and the regular-expression form were given.
    Both,
    Regex {
        pattern: String,
        source: regex_lite::Error,
    },
}

/// How many characters of a value or pattern a message quotes.
const QUOTED_CHARS: usize = 512;

impl Matcher {
    /// A regular expression anchored at both ends, so `foo` never matches `xfoox`. The pattern
    /// must compile on its own first: wrapped unchecked, `x)|(.*` would close the anchoring
    /// group and match any value (`^(?:x)|(.*)$`).
    pub fn regex(pattern: &str) -> Result<Self, regex_lite::Error> {
        regex_lite::Regex::new(pattern)?;
        regex_lite::Regex::new(&format!("^(?:{pattern})$")).map(Self::Regex)
    }

    /// `exact` as it is, or `pattern` as an anchored regular expression; neither is `None`.
    pub fn exact_or_regex(
        exact: Option<&str>,
        pattern: Option<&str>,
    ) -> Result<Option<Self>, MatcherChoiceError> {
        match (exact, pattern) {
            (Some(_), Some(_)) => Err(MatcherChoiceError::Both),
            (Some(v), None) => Ok(Some(Self::Exact(v.to_owned()))),
            (None, Some(re)) => Self::checked_regex(re).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// The CI fields' convention: a leading `~` makes the rest a regular expression.
    pub fn tilde(value: &str) -> Result<Self, MatcherChoiceError> {
        match value.strip_prefix('~') {
            Some(re) => Self::checked_regex(re),
            None => Ok(Self::Exact(value.to_owned())),
        }
    }

    fn checked_regex(pattern: &str) -> Result<Self, MatcherChoiceError> {
        Self::regex(pattern).map_err(|source| MatcherChoiceError::Regex {
            // Quoted in messages only: on one line, and not the whole of a huge one.
            pattern: crate::text::one_line(pattern, QUOTED_CHARS),
            source,
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(s) => s == value,
            Self::Regex(r) => r.is_match(value),
        }
    }

    /// For messages: on one line (a policy's value could otherwise start a line of its own on
    /// the screen), at most `QUOTED_CHARS` characters.
    fn describe(&self) -> String {
        match self {
            Self::Exact(s) => format!("`{}`", crate::text::one_line(s, QUOTED_CHARS)),
            Self::Regex(r) => {
                let wrapped = r.as_str();
                let pattern = wrapped
                    .strip_prefix("^(?:")
                    .and_then(|p| p.strip_suffix(")$"))
                    .unwrap_or(wrapped);
                format!(
                    "/{}/ (whole value)",
                    crate::text::one_line(pattern, QUOTED_CHARS)
                )
            }
        }
    }
}

/// Fulcio certificate extensions (OID 1.3.6.1.4.1.57264.1.N; the variant's arc is N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FulcioExtension {
    BuildSignerUri,
    BuildSignerDigest,
    RunnerEnvironment,
    SourceRepositoryUri,
    SourceRepositoryDigest,
    SourceRepositoryRef,
    SourceRepositoryIdentifier,
    SourceRepositoryOwnerUri,
    SourceRepositoryOwnerIdentifier,
    BuildConfigUri,
    BuildConfigDigest,
    BuildTrigger,
    RunInvocationUri,
    SourceRepositoryVisibilityAtSigning,
}

impl FulcioExtension {
    pub const ALL: [Self; 14] = [
        Self::BuildSignerUri,
        Self::BuildSignerDigest,
        Self::RunnerEnvironment,
        Self::SourceRepositoryUri,
        Self::SourceRepositoryDigest,
        Self::SourceRepositoryRef,
        Self::SourceRepositoryIdentifier,
        Self::SourceRepositoryOwnerUri,
        Self::SourceRepositoryOwnerIdentifier,
        Self::BuildConfigUri,
        Self::BuildConfigDigest,
        Self::BuildTrigger,
        Self::RunInvocationUri,
        Self::SourceRepositoryVisibilityAtSigning,
    ];

    /// The last arc of the extension's OID.
    pub fn arc(self) -> u32 {
        match self {
            Self::BuildSignerUri => 9,
            Self::BuildSignerDigest => 10,
            Self::RunnerEnvironment => 11,
            Self::SourceRepositoryUri => 12,
            Self::SourceRepositoryDigest => 13,
            Self::SourceRepositoryRef => 14,
            Self::SourceRepositoryIdentifier => 15,
            Self::SourceRepositoryOwnerUri => 16,
            Self::SourceRepositoryOwnerIdentifier => 17,
            Self::BuildConfigUri => 18,
            Self::BuildConfigDigest => 19,
            Self::BuildTrigger => 20,
            Self::RunInvocationUri => 21,
            Self::SourceRepositoryVisibilityAtSigning => 22,
        }
    }

    /// A kebab-case name for reports and policy files.
    pub fn name(self) -> &'static str {
        match self {
            Self::BuildSignerUri => "build-signer-uri",
            Self::BuildSignerDigest => "build-signer-digest",
            Self::RunnerEnvironment => "runner-environment",
            Self::SourceRepositoryUri => "source-repository-uri",
            Self::SourceRepositoryDigest => "source-repository-digest",
            Self::SourceRepositoryRef => "source-repository-ref",
            Self::SourceRepositoryIdentifier => "source-repository-identifier",
            Self::SourceRepositoryOwnerUri => "source-repository-owner-uri",
            Self::SourceRepositoryOwnerIdentifier => "source-repository-owner-identifier",
            Self::BuildConfigUri => "build-config-uri",
            Self::BuildConfigDigest => "build-config-digest",
            Self::BuildTrigger => "build-trigger",
            Self::RunInvocationUri => "run-invocation-uri",
            Self::SourceRepositoryVisibilityAtSigning => "source-repository-visibility-at-signing",
        }
    }
}

/// Who may have signed a keyless bundle.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// Matched against each subject alternative name; one must match.
    pub identity: Matcher,
    /// Matched against the OIDC issuer extension (1.3.6.1.4.1.57264.1.8, else .1.1).
    pub issuer: Matcher,
    /// Further extensions that must be present and match.
    pub extensions: Vec<(FulcioExtension, Matcher)>,
}

impl IdentityPolicy {
    /// Exact identity and issuer, no extension constraints.
    pub fn exact(identity: &str, issuer: &str) -> Self {
        Self {
            identity: Matcher::Exact(identity.to_owned()),
            issuer: Matcher::Exact(issuer.to_owned()),
            extensions: Vec::new(),
        }
    }

    /// Checks a certificate's identity facts against the policy.
    pub fn check(
        &self,
        sans: &[String],
        issuer: Option<&str>,
        extensions: &BTreeMap<u32, String>,
    ) -> Result<(), SigstoreError> {
        if !sans.iter().any(|s| self.identity.matches(s)) {
            return Err(SigstoreError::IdentityMismatch {
                field: "certificate identity",
                expected: self.identity.describe(),
                actual: format!("{sans:?}"),
            });
        }
        match issuer {
            Some(i) if self.issuer.matches(i) => {}
            other => {
                return Err(SigstoreError::IdentityMismatch {
                    field: "oidc issuer",
                    expected: self.issuer.describe(),
                    actual: other.unwrap_or("(none)").to_owned(),
                });
            }
        }
        for (ext, m) in &self.extensions {
            match extensions.get(&ext.arc()) {
                Some(v) if m.matches(v) => {}
                other => {
                    return Err(SigstoreError::IdentityMismatch {
                        field: ext.name(),
                        expected: m.describe(),
                        actual: other.map_or("(none)", String::as_str).to_owned(),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value or pattern is quoted on one line and cut: a policy's `(?x)` pattern with a line
    /// break could otherwise put a line of its own making on the screen under a rejection, and
    /// an invalid pattern of a megabyte would be printed whole.
    #[test]
    fn values_and_patterns_are_quoted_on_one_line_and_cut() {
        let forged = "(?x)acme\nOK: verified, signed by trusted-publisher";
        let m = Matcher::tilde(&format!("~{forged}")).unwrap();
        let shown = m.describe();
        assert!(!shown.contains('\n'), "{shown}");
        assert!(shown.contains("acme\\nOK"), "{shown}");
        let m = Matcher::tilde("bot\u{1b}[2J@example.com").unwrap();
        assert!(!m.describe().contains('\u{1b}'), "{}", m.describe());
        let huge = format!("({}", "a".repeat(100_000));
        let Err(MatcherChoiceError::Regex { pattern, .. }) = Matcher::tilde(&format!("~{huge}"))
        else {
            panic!("an unclosed group compiled");
        };
        assert_eq!(pattern.chars().count(), QUOTED_CHARS + 3, "{pattern}");
        assert!(pattern.ends_with("..."));
    }

    #[test]
    fn regex_is_anchored() -> Result<(), regex_lite::Error> {
        let m = Matcher::regex("https://github.com/org/.*")?;
        assert!(m.matches("https://github.com/org/repo"));
        assert!(!m.matches("evil https://github.com/org/repo"));
        let m = Matcher::regex("a|b")?;
        assert!(!m.matches("ab"));
        Ok(())
    }

    /// The dialect is cosign's (Go's RE2) where it matters for a match: `\d`, `\w`, `\s` and
    /// `\b` are ASCII, so a look-alike digit or letter from another script never satisfies
    /// them. Unicode classes (`\p{..}`) are refused with an error rather than matched.
    #[test]
    fn classes_are_ascii_and_unicode_classes_are_refused() -> Result<(), regex_lite::Error> {
        let m = Matcher::regex(r"https://github\.com/\w+/repo@v\d+")?;
        assert!(m.matches("https://github.com/acme/repo@v12"));
        // U+0430 CYRILLIC SMALL LETTER A and U+0663 ARABIC-INDIC DIGIT THREE.
        assert!(!m.matches("https://github.com/\u{430}cme/repo@v12"));
        assert!(!m.matches("https://github.com/acme/repo@v\u{663}"));
        let m = Matcher::regex("(?i)ACME")?;
        assert!(m.matches("acme"));
        // Patterns as projects publish them for cosign compile and match as they do there.
        for (pattern, value) in [
            (
                r"https://github\.com/sigstore/sigstore-js/\.github/workflows/release\.yml@refs/tags/v.*",
                "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/tags/v3.0.0",
            ),
            (
                r"^https://github.com/chainguard-images/images/.github/workflows/release.yaml@refs/heads/main$",
                "https://github.com/chainguard-images/images/.github/workflows/release.yaml@refs/heads/main",
            ),
            (r".*@chainguard\.dev", "bot@chainguard.dev"),
            (r"[\w.+-]+@example\.com", "first.last+mcp@example.com"),
            (
                r"https://github\.com/[[:alnum:]_-]+/.+",
                "https://github.com/acme-org/repo",
            ),
            (
                r"\Ahttps://accounts\.google\.com\z",
                "https://accounts.google.com",
            ),
        ] {
            assert!(Matcher::regex(pattern)?.matches(value), "{pattern}");
        }
        // A pattern that is not whole on its own cannot reach around the anchors.
        for escape in [r"x)|(.*", r"x)|(?:.*", r"a)|(b", r"x)|.*|(y"] {
            assert!(Matcher::regex(escape).is_err(), "{escape} accepted");
        }
        // An `(?x)` comment that runs to the end swallows the anchoring: refused, not unanchored.
        assert!(Matcher::regex("(?x)nomatch#").is_err());
        let m = Matcher::regex("(?x)nomatch#\n")?;
        assert!(m.matches("nomatch") && !m.matches("nomatchx"));
        let e = Matcher::regex(r"\p{Greek}+").err().map(|e| e.to_string());
        assert!(
            e.is_some_and(|e| e.contains("Unicode")),
            "a Unicode class is refused"
        );
        Ok(())
    }

    #[test]
    fn identity_issuer_and_extension_checked() {
        let mut p = IdentityPolicy::exact("id", "iss");
        let mut ext = BTreeMap::new();
        assert!(p.check(&["id".into()], Some("iss"), &ext).is_ok());
        assert!(p.check(&["other".into()], Some("iss"), &ext).is_err());
        assert!(p.check(&["id".into()], Some("other"), &ext).is_err());
        assert!(p.check(&["id".into()], None, &ext).is_err());
        p.extensions.push((
            FulcioExtension::SourceRepositoryRef,
            Matcher::Exact("refs/heads/main".into()),
        ));
        assert!(p.check(&["id".into()], Some("iss"), &ext).is_err());
        ext.insert(14, "refs/heads/main".into());
        assert!(p.check(&["id".into()], Some("iss"), &ext).is_ok());
    }
}
