//! The trust policy (spec/policy.md): which signers may sign which servers, and the minimum
//! version, maximum age and revocation list a verified manifest must also satisfy. `file` reads
//! the TOML form, `glob` the server-name patterns, `revocation` the signed revocation list, and
//! `evaluate` decides a bundle against the policy with `verify`'s checks.

mod evaluate;
mod file;
pub mod glob;
pub mod revocation;

pub use evaluate::{
    LoadedRevocation, MatchedRule, PolicyOutcome, PolicyRequest, verify, verify_with_list,
};
pub use file::{PolicyFileError, RuleProblem};
pub use glob::NamePattern;
pub use revocation::{RevocationOptions, RevocationSource};

use crate::manifest::ServerName;
use crate::sigstore::keys::PublicKey;
use crate::sigstore::policy::IdentityPolicy;
use crate::verify::Trust;
use std::path::{Path, PathBuf};

/// A signer a rule trusts.
#[derive(Debug, Clone)]
pub enum TrustedSigner {
    Key(PublicKey),
    Identity(IdentityPolicy),
}

/// Which servers a rule is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleScope {
    /// A `[[server]]` rule's `name`.
    Server(NamePattern),
    /// The `[default]` rule: servers no `[[server]]` rule names.
    Default,
    /// The command line's trust options, for every server.
    CommandLine,
}

impl std::fmt::Display for RuleScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleScope::Server(p) => write!(f, "{p}"),
            RuleScope::Default => f.write_str("[default]"),
            RuleScope::CommandLine => f.write_str("the command line's trust options"),
        }
    }
}

/// One rule: who may sign, and what a manifest signed under it must also satisfy.
#[derive(Debug, Clone)]
pub struct Rule {
    pub scope: RuleScope,
    /// Never empty.
    pub signers: Vec<TrustedSigner>,
    /// Key-signed bundles are refused (`keyless-required`).
    pub keyless_required: bool,
    /// Lower versions, and versions that are not semver, are refused (`version-too-low`).
    pub min_version: Option<semver::Version>,
    /// Manifests issued longer ago are refused (`manifest-too-old`).
    pub max_age: Option<chrono::Duration>,
    /// The pin store refuses a manifest whose `previous` is not the stored digest.
    pub require_chain: bool,
    /// Where the rule starts in the policy file (1-based), if it came from one.
    pub line: Option<usize>,
}

/// A trust policy: rules by server name, an optional default, an optional revocation list.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    default: Option<Rule>,
    revocation: Option<RevocationSource>,
    origin: Option<PathBuf>,
}

impl Policy {
    /// Reads a policy file (spec/policy.md). Key files are read relative to its folder.
    pub fn load(path: &Path) -> Result<Policy, PolicyFileError> {
        file::load(path)
    }

    /// Reads policy text; `path` names it in errors and anchors relative key and list paths.
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyFileError> {
        file::parse(text, path)
    }

    /// The command line's trust options as a policy: one rule, for every server, trusting
    /// exactly what `trust` names, with no other constraint and no revocation list. The trusted
    /// root is the evaluation's (`PolicyRequest::trusted_root`), normally `trust`'s own.
    pub fn single(trust: &Trust) -> Policy {
        let signer = match trust {
            Trust::Key { key, .. } => TrustedSigner::Key(key.clone()),
            Trust::Identity { policy, .. } => TrustedSigner::Identity(policy.clone()),
        };
        Policy {
            rules: Vec::new(),
            default: Some(Rule {
                scope: RuleScope::CommandLine,
                signers: vec![signer],
                keyless_required: false,
                min_version: None,
                max_age: None,
                require_chain: false,
                line: None,
            }),
            revocation: None,
            origin: None,
        }
    }

    /// The rule for `name`: the most specific `[[server]]` rule that matches (an exact name,
    /// else the glob with the most literal characters, ties going to the first in the file),
    /// else the default rule, else none (the server is untrusted).
    pub fn rule_for(&self, name: &ServerName) -> Option<&Rule> {
        let mut best: Option<(&Rule, usize)> = None;
        for rule in &self.rules {
            let RuleScope::Server(p) = &rule.scope else {
                continue;
            };
            if p.matches(name) && best.is_none_or(|(_, s)| p.specificity() > s) {
                best = Some((rule, p.specificity()));
            }
        }
        best.map(|(r, _)| r).or(self.default.as_ref())
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn default_rule(&self) -> Option<&Rule> {
        self.default.as_ref()
    }

    pub fn revocation(&self) -> Option<&RevocationSource> {
        self.revocation.as_ref()
    }

    /// The file the policy was read from, if any.
    pub fn origin(&self) -> Option<&Path> {
        self.origin.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(body: &str) -> Result<Policy, PolicyFileError> {
        let pem = crate::keys::PrivateKey::generate()
            .unwrap()
            .public_key()
            .to_pem();
        let text = format!("schema-version = 1\n{}", body.replace("PEM", &pem));
        Policy::parse(&text, Path::new("/etc/mcpsig/policy.toml"))
    }

    fn line(e: PolicyFileError) -> usize {
        match e {
            PolicyFileError::Syntax { line, .. } | PolicyFileError::Invalid { line, .. } => line,
            other => panic!("{other}"),
        }
    }

    const SIGNER: &str = "[[server.signer]]\nkey-pem = \"\"\"PEM\"\"\"\n";
    /// One line per key, so that line numbers are easy to count.
    const ID_SIGNER: &str = "[[server.signer]]\nissuer = \"https://i\"\nidentity = \"me\"\n";

    #[test]
    fn the_most_specific_rule_wins_and_ties_go_to_the_first() {
        let p = policy(&format!(
            "[[server]]\nname = \"io.github.*/w*\"\n{SIGNER}\
             [[server]]\nname = \"io.github.acme/*\"\n{SIGNER}\
             [[server]]\nname = \"io.github.*/*r\"\n{SIGNER}\
             [[server]]\nname = \"io.github.acme/weather\"\n{SIGNER}"
        ))
        .unwrap();
        let at = |n: &str| {
            p.rule_for(&ServerName::parse(n).unwrap())
                .map(|r| r.scope.to_string())
        };
        assert_eq!(
            at("io.github.acme/weather").unwrap(),
            "io.github.acme/weather"
        );
        assert_eq!(at("io.github.acme/wind").unwrap(), "io.github.acme/*");
        // `io.github.*/w*` and `io.github.*/*r` tie (11 literal characters): the first wins.
        assert_eq!(at("io.github.x/water").unwrap(), "io.github.*/w*");
        assert_eq!(at("io.github.x/thing"), None);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(line(policy("[[server]]\nname = 3\n").unwrap_err()), 3);
        assert_eq!(line(policy("[[server]]\nnaem = \"x\"\n").unwrap_err()), 3);
        let dup = format!(
            "[[server]]\nname = \"io.github.acme/x\"\n{ID_SIGNER}[[server]]\nname = \"io.github.acme/x\"\n{ID_SIGNER}"
        );
        assert_eq!(line(policy(&dup).unwrap_err()), 8);
        let both = "[[server]]\nname = \"io.github.acme/x\"\n[[server.signer]]\nkey-pem = \"\"\"PEM\"\"\"\nissuer = \"https://i\"\n";
        assert_eq!(line(policy(both).unwrap_err()), 4);
        let no_issuer =
            "[[server]]\nname = \"io.github.acme/x\"\n[[server.signer]]\nidentity = \"me\"\n";
        assert_eq!(line(policy(no_issuer).unwrap_err()), 4);
        let keyless_only =
            format!("[[server]]\nname = \"io.github.acme/x\"\nkeyless-required = true\n{SIGNER}");
        assert_eq!(line(policy(&keyless_only).unwrap_err()), 2);
        let age =
            format!("[[server]]\nname = \"io.github.acme/x\"\nmax-age = \"3 months\"\n{SIGNER}");
        assert_eq!(line(policy(&age).unwrap_err()), 4);
        let both_lists = format!(
            "[default]\n{}\n[revocation]\nfile = \"a\"\nurl = \"https://x\"\n[[revocation.signer]]\nkey-pem = \"\"\"PEM\"\"\"\n",
            ID_SIGNER.replace("server.", "default.")
        );
        assert_eq!(line(policy(&both_lists).unwrap_err()), 7);
        let msg = policy("[[server]]\nnaem = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("/etc/mcpsig/policy.toml:3: "), "{msg}");
        assert!(
            Policy::parse("[default]\n", Path::new("p.toml")).is_err(),
            "schema-version is required"
        );
    }

    #[test]
    fn not_utf8_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, b"schema-version = 1\n# caf\xe9\n").unwrap();
        assert!(matches!(
            Policy::load(&path),
            Err(PolicyFileError::NotUtf8 { line: 2, .. })
        ));
    }
}
