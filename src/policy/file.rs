//! The policy file (spec/policy.md): TOML read strictly (unknown keys refused), then every rule
//! checked and its keys, patterns and expressions compiled, each error naming the file and line.

use super::glob::{NamePattern, PatternError};
use super::revocation::{RevocationLocation, RevocationSource};
use super::{Policy, Rule, RuleScope, TrustedSigner};
use crate::fsutil::{ReadError, read_limited};
use crate::keys::KeyError;
use crate::sigstore::policy::{FulcioExtension, IdentityPolicy, Matcher, MatcherChoiceError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Policy files are small; anything larger is a mistake.
const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// A policy that cannot be used (exit 2): it is never partly applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyFileError {
    #[error("cannot read policy")]
    Read(#[source] ReadError),
    /// Not TOML, an unknown key, a value of the wrong type (toml's own message).
    #[error("{}:{line}: {}", path.display(), source.message())]
    Syntax {
        path: PathBuf,
        line: usize,
        source: Box<toml::de::Error>,
    },
    #[error("{}:{line}: not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf, line: usize },
    #[error("{}:{line}: {problem}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        #[source]
        problem: RuleProblem,
    },
}

/// What is wrong with a rule, a signer or the revocation section.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleProblem {
    #[error("`schema-version` must be 1, got {0}")]
    SchemaVersion(i64),
    #[error("a [[server]] rule needs a `name`")]
    NoName,
    #[error("the [default] rule has no `name`: it is for every server no [[server]] rule names")]
    NameInDefault,
    #[error("invalid rule name")]
    Pattern(#[source] PatternError),
    #[error("a rule for `{0}` is already given above; one rule per name")]
    DuplicateRule(String),
    #[error("the rule trusts no signer: add at least one [[server.signer]]")]
    EmptyTrust,
    #[error("the [revocation] section trusts no signer: add at least one [[revocation.signer]]")]
    EmptyRevocationTrust,
    #[error("`keyless-required` is set, but the rule trusts no keyless identity")]
    KeylessRequiredWithoutIdentity,
    #[error(
        "a signer is either a key (`key` or `key-pem`) or a keyless identity (`identity` or `identity-regexp` with `issuer` or `issuer-regexp`), not both and not neither"
    )]
    SignerShape,
    #[error("`{first}` and `{second}` cannot be combined")]
    Conflict {
        first: &'static str,
        second: &'static str,
    },
    #[error("a keyless identity needs `issuer` (or `issuer-regexp`)")]
    NoIssuer,
    #[error("a keyless identity needs `identity` (or `identity-regexp`)")]
    NoIdentity,
    #[error("invalid regular expression `{pattern}` for `{field}`")]
    Regex {
        field: &'static str,
        pattern: String,
        #[source]
        source: regex_lite::Error,
    },
    #[error("cannot load public key `{}`", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: Box<KeyError>,
    },
    #[error("`key-pem` is not a public key")]
    InlineKey(#[source] Box<KeyError>),
    #[error("`min-version` `{value}` is not a semantic version")]
    MinVersion {
        value: String,
        #[source]
        source: semver::Error,
    },
    #[error(
        "`max-age` `{0}` is not a duration: write a whole number of days, hours or weeks (`90d`, `12h`, `2w`)"
    )]
    MaxAge(String),
    #[error("the [revocation] section names its list by `file` or by `url`: exactly one")]
    RevocationLocation,
    #[error(
        "revocation list url `{0}`: only https (or http on 127.0.0.1, localhost, [::1]) is allowed"
    )]
    RevocationUrl(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PolicyToml {
    schema_version: Spanned<i64>,
    #[serde(default)]
    server: Vec<Spanned<RuleToml>>,
    default: Option<Spanned<RuleToml>>,
    revocation: Option<Spanned<RevocationToml>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleToml {
    name: Option<Spanned<String>>,
    #[serde(default)]
    signer: Vec<Spanned<SignerToml>>,
    #[serde(default)]
    keyless_required: bool,
    min_version: Option<Spanned<String>>,
    max_age: Option<Spanned<String>>,
    #[serde(default)]
    require_chain: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SignerToml {
    key: Option<String>,
    key_pem: Option<String>,
    identity: Option<String>,
    identity_regexp: Option<String>,
    issuer: Option<String>,
    issuer_regexp: Option<String>,
    source_repository: Option<String>,
    source_ref: Option<String>,
    workflow: Option<String>,
    runner_environment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RevocationToml {
    file: Option<String>,
    url: Option<Spanned<String>>,
    #[serde(default)]
    signer: Vec<Spanned<SignerToml>>,
}

pub(super) fn load(path: &Path) -> Result<Policy, PolicyFileError> {
    let bytes = read_limited(path, MAX_POLICY_BYTES).map_err(PolicyFileError::Read)?;
    // TOML is UTF-8: invalid bytes are an error at their line.
    match std::str::from_utf8(&bytes) {
        Ok(text) => parse(text, path),
        Err(e) => Err(PolicyFileError::NotUtf8 {
            path: path.to_path_buf(),
            line: bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1,
        }),
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Turns rule problems into errors at a line of the file.
struct At<'a> {
    path: &'a Path,
    text: &'a str,
}

impl At<'_> {
    fn err(&self, span: std::ops::Range<usize>, problem: RuleProblem) -> PolicyFileError {
        PolicyFileError::Invalid {
            path: self.path.to_path_buf(),
            line: line_of(self.text, span.start),
            problem,
        }
    }
}

pub(super) fn parse(text: &str, path: &Path) -> Result<Policy, PolicyFileError> {
    let raw: PolicyToml = toml::from_str(text).map_err(|source| PolicyFileError::Syntax {
        path: path.to_path_buf(),
        line: source.span().map_or(1, |s| line_of(text, s.start)),
        source: Box::new(source),
    })?;
    let at = At { path, text };
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    if *raw.schema_version.get_ref() != 1 {
        return Err(at.err(
            raw.schema_version.span(),
            RuleProblem::SchemaVersion(*raw.schema_version.get_ref()),
        ));
    }
    let mut rules: Vec<Rule> = Vec::new();
    for spanned in raw.server {
        let span = spanned.span();
        let rule = spanned.into_inner();
        let Some(name) = &rule.name else {
            return Err(at.err(span, RuleProblem::NoName));
        };
        let pattern = NamePattern::parse(name.get_ref())
            .map_err(|e| at.err(name.span(), RuleProblem::Pattern(e)))?;
        if rules
            .iter()
            .any(|r| r.scope == RuleScope::Server(pattern.clone()))
        {
            return Err(at.err(name.span(), RuleProblem::DuplicateRule(pattern.to_string())));
        }
        let line = line_of(text, span.start);
        rules.push(build_rule(
            &at,
            &base,
            RuleScope::Server(pattern),
            span,
            rule,
            line,
        )?);
    }
    let default = match raw.default {
        Some(spanned) => {
            let span = spanned.span();
            let rule = spanned.into_inner();
            if let Some(name) = &rule.name {
                return Err(at.err(name.span(), RuleProblem::NameInDefault));
            }
            let line = line_of(text, span.start);
            Some(build_rule(
                &at,
                &base,
                RuleScope::Default,
                span,
                rule,
                line,
            )?)
        }
        None => None,
    };
    let revocation = match raw.revocation {
        Some(spanned) => Some(build_revocation(&at, &base, spanned)?),
        None => None,
    };
    Ok(Policy {
        rules,
        default,
        revocation,
        origin: Some(path.to_path_buf()),
    })
}

fn build_rule(
    at: &At,
    base: &Path,
    scope: RuleScope,
    span: std::ops::Range<usize>,
    raw: RuleToml,
    line: usize,
) -> Result<Rule, PolicyFileError> {
    let signers = build_signers(at, base, &raw.signer)?;
    if signers.is_empty() {
        return Err(at.err(span, RuleProblem::EmptyTrust));
    }
    if raw.keyless_required
        && !signers
            .iter()
            .any(|s| matches!(s, TrustedSigner::Identity(_)))
    {
        return Err(at.err(span, RuleProblem::KeylessRequiredWithoutIdentity));
    }
    let min_version = match &raw.min_version {
        Some(v) => Some(semver::Version::parse(v.get_ref()).map_err(|source| {
            at.err(
                v.span(),
                RuleProblem::MinVersion {
                    value: v.get_ref().clone(),
                    source,
                },
            )
        })?),
        None => None,
    };
    let max_age = match &raw.max_age {
        Some(v) => Some(
            parse_duration(v.get_ref())
                .ok_or_else(|| at.err(v.span(), RuleProblem::MaxAge(v.get_ref().clone())))?,
        ),
        None => None,
    };
    Ok(Rule {
        scope,
        signers,
        keyless_required: raw.keyless_required,
        min_version,
        max_age,
        require_chain: raw.require_chain,
        line: Some(line),
    })
}

fn build_revocation(
    at: &At,
    base: &Path,
    spanned: Spanned<RevocationToml>,
) -> Result<RevocationSource, PolicyFileError> {
    let span = spanned.span();
    let raw = spanned.into_inner();
    let location = match (&raw.file, &raw.url) {
        (Some(file), None) => RevocationLocation::File(base.join(file)),
        (None, Some(url)) => {
            if !crate::http::https_or_loopback(url.get_ref()) {
                return Err(at.err(
                    url.span(),
                    RuleProblem::RevocationUrl(url.get_ref().clone()),
                ));
            }
            RevocationLocation::Url(url.get_ref().clone())
        }
        _ => return Err(at.err(span, RuleProblem::RevocationLocation)),
    };
    let signers = build_signers(at, base, &raw.signer)?;
    if signers.is_empty() {
        return Err(at.err(span, RuleProblem::EmptyRevocationTrust));
    }
    Ok(RevocationSource { location, signers })
}

fn build_signers(
    at: &At,
    base: &Path,
    raw: &[Spanned<SignerToml>],
) -> Result<Vec<TrustedSigner>, PolicyFileError> {
    raw.iter()
        .map(|s| build_signer(base, s.get_ref()).map_err(|p| at.err(s.span(), p)))
        .collect()
}

fn build_signer(base: &Path, s: &SignerToml) -> Result<TrustedSigner, RuleProblem> {
    let keyed = s.key.is_some() || s.key_pem.is_some();
    let keyless = [
        &s.identity,
        &s.identity_regexp,
        &s.issuer,
        &s.issuer_regexp,
        &s.source_repository,
        &s.source_ref,
        &s.workflow,
        &s.runner_environment,
    ]
    .iter()
    .any(|f| f.is_some());
    match (keyed, keyless) {
        (true, false) => match (&s.key, &s.key_pem) {
            (Some(_), Some(_)) => Err(RuleProblem::Conflict {
                first: "key",
                second: "key-pem",
            }),
            (Some(file), None) => {
                let path = base.join(file);
                crate::keys::public_key_from_file(&path)
                    .map(TrustedSigner::Key)
                    .map_err(|source| RuleProblem::KeyFile {
                        path,
                        source: Box::new(source),
                    })
            }
            (None, Some(pem)) => crate::keys::public_key_from_pem(pem)
                .map(TrustedSigner::Key)
                .map_err(|e| RuleProblem::InlineKey(Box::new(e))),
            (None, None) => Err(RuleProblem::SignerShape),
        },
        (false, true) => identity(s).map(TrustedSigner::Identity),
        _ => Err(RuleProblem::SignerShape),
    }
}

/// A keyless identity, with the matchers `sigstore::policy` checks certificates with. The CI
/// fields follow the command line's convention: a regular expression when they start with `~`.
fn identity(s: &SignerToml) -> Result<IdentityPolicy, RuleProblem> {
    let identity = exact_or_regex(
        &s.identity,
        &s.identity_regexp,
        ("identity", "identity-regexp"),
    )?
    .ok_or(RuleProblem::NoIdentity)?;
    let issuer = exact_or_regex(&s.issuer, &s.issuer_regexp, ("issuer", "issuer-regexp"))?
        .ok_or(RuleProblem::NoIssuer)?;
    let mut extensions = Vec::new();
    for (ext, field, value) in [
        (
            FulcioExtension::SourceRepositoryUri,
            "source-repository",
            &s.source_repository,
        ),
        (
            FulcioExtension::SourceRepositoryRef,
            "source-ref",
            &s.source_ref,
        ),
        (FulcioExtension::BuildSignerUri, "workflow", &s.workflow),
        (
            FulcioExtension::RunnerEnvironment,
            "runner-environment",
            &s.runner_environment,
        ),
    ] {
        if let Some(v) = value {
            let m = Matcher::tilde(v).map_err(|e| choice_problem(e, field, field))?;
            extensions.push((ext, m));
        }
    }
    Ok(IdentityPolicy {
        identity,
        issuer,
        extensions,
    })
}

fn exact_or_regex(
    exact: &Option<String>,
    pattern: &Option<String>,
    names: (&'static str, &'static str),
) -> Result<Option<Matcher>, RuleProblem> {
    Matcher::exact_or_regex(exact.as_deref(), pattern.as_deref())
        .map_err(|e| choice_problem(e, names.0, names.1))
}

fn choice_problem(e: MatcherChoiceError, exact: &'static str, regex: &'static str) -> RuleProblem {
    match e {
        MatcherChoiceError::Both => RuleProblem::Conflict {
            first: exact,
            second: regex,
        },
        MatcherChoiceError::Regex { pattern, source } => RuleProblem::Regex {
            field: regex,
            pattern,
            source,
        },
    }
}

/// `90d`, `12h`, `2w`: a whole number of days, hours or weeks, at most 100 years.
fn parse_duration(text: &str) -> Option<chrono::Duration> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 6 {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let hours = match unit {
        'h' => n,
        'd' => n.checked_mul(24)?,
        'w' => n.checked_mul(24 * 7)?,
        _ => return None,
    };
    if hours == 0 || hours > 100 * 366 * 24 {
        return None;
    }
    chrono::Duration::try_hours(hours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), chrono::Duration::try_days(90));
        assert_eq!(parse_duration("12h"), chrono::Duration::try_hours(12));
        assert_eq!(parse_duration("2w"), chrono::Duration::try_days(14));
        for bad in [
            "", "d", "90", "90m", "-1d", "0d", "1.5d", "90 d", "9999999d", "٣d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn lines_are_one_based() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
