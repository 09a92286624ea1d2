//! The trust policy (spec/policy.md): which signers may sign which servers, and the minimum
//! version, maximum age and revocation list a verified manifest must also satisfy. `file` reads
//! the TOML form, `glob` the server-name patterns, `revocation` the signed revocation list, and
//! `evaluate` decides a bundle against the policy with `verify`'s checks.

mod evaluate;
mod file;
pub mod glob;
pub mod revocation;

pub use evaluate::{MatchedRule, PolicyOutcome, PolicyRequest, verify};
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
