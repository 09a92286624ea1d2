//! Deciding a bundle against a policy: the server name the bundle claims picks the rule, the
//! rule's signers verify it through `verify::verify` (a key bundle's hint picks the key), and
//! then the rule's keyless requirement, minimum version and maximum age and the revocation list
//! are applied. A rejected report never carries a `Verified<Manifest>`.

use super::revocation::{self, RevocationList, RevocationOptions};
use super::{Policy, Rule, RuleScope, TrustedSigner};
use crate::keys::KeyId;
use crate::manifest::{Manifest, ServerName};
use crate::reason::Reason;
use crate::sigstore::bundle::{Bundle, Content, SignerMaterial};
use crate::sigstore::trust::TrustedRoot;
use crate::statement::Statement;
use crate::verify::{Checks, Problem, Report, SignerSummary, VerifyError};
use chrono::{DateTime, Utc};

/// One evaluation: the bundle, what it is checked against, and the local artifacts to re-hash.
#[derive(Debug, Clone)]
pub struct PolicyRequest<'a> {
    pub policy: &'a Policy,
    pub bundle: &'a [u8],
    /// The root keyless signatures (and key bundles' log entries) are verified against.
    pub trusted_root: &'a TrustedRoot,
    pub checks: Checks,
    pub now: DateTime<Utc>,
    pub revocation: &'a RevocationOptions,
}

/// The rule that decided, for the report and for the pin store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    pub scope: RuleScope,
    /// The pin store must refuse a manifest whose `previous` is not the stored digest.
    pub require_chain: bool,
    pub line: Option<usize>,
}

/// A decided evaluation. `report.manifest` is `Some` only when the signature, the artifacts and
/// the policy all held.
#[derive(Debug, Clone)]
pub struct PolicyOutcome {
    pub report: Report,
    /// `None` when no rule names the server.
    pub rule: Option<MatchedRule>,
    pub signer: Option<SignerSummary>,
}

/// A policy's revocation list, read (or fetched) and checked once, for evaluating many bundles
/// at the same time (`mcp-verify catalog`): [`verify_with_list`] then never reads it again.
#[derive(Debug, Clone)]
pub struct LoadedRevocation(Option<Result<RevocationList, Problem>>);

impl LoadedRevocation {
    /// Loads the list `policy` names, if any, as [`verify`] would for one bundle at `now`; a
    /// list that cannot be used is kept as the `revocation-stale` problem every evaluation
    /// under it reports.
    pub fn load(
        policy: &Policy,
        trusted_root: &TrustedRoot,
        now: DateTime<Utc>,
        opts: &RevocationOptions,
    ) -> LoadedRevocation {
        LoadedRevocation(
            policy
                .revocation()
                .map(|source| load_list(source, trusted_root, now, opts)),
        )
    }
}

/// Where an evaluation gets the revocation list.
enum ListSource<'a> {
    /// Read (or fetched) by this evaluation, once its signature held.
    Load,
    Loaded(&'a LoadedRevocation),
}

/// Evaluates a bundle against a policy. `Err` means it could not be decided (a local artifact
/// could not be read); every rejection, a stale revocation list included, is a report.
pub fn verify(req: &PolicyRequest) -> Result<PolicyOutcome, VerifyError> {
    evaluate(req, ListSource::Load)
}

/// [`verify`] with the revocation list already loaded (for `req.policy`, at `req.now`).
pub fn verify_with_list(
    req: &PolicyRequest,
    list: &LoadedRevocation,
) -> Result<PolicyOutcome, VerifyError> {
    evaluate(req, ListSource::Loaded(list))
}

fn load_list(
    source: &super::RevocationSource,
    trusted_root: &TrustedRoot,
    now: DateTime<Utc>,
    opts: &RevocationOptions,
) -> Result<RevocationList, Problem> {
    revocation::load(source, trusted_root, now, opts)
        .map_err(|e| Problem::new(Reason::RevocationStale, crate::error_chain(&e)))
}

fn evaluate(req: &PolicyRequest, lists: ListSource) -> Result<PolicyOutcome, VerifyError> {
    let bundle = match Bundle::from_json(req.bundle) {
        Ok(b) => b,
        Err(e) => {
            return Ok(rejected(
                Reason::MalformedBundle,
                crate::error_chain(&e),
                None,
            ));
        }
    };
    // The statement is read (strictly, once) before the signature is checked only to pick the
    // rule by the name it claims; `verify_parsed` trusts it only once the signature over the
    // same payload held, and everything decided is read from the manifest it returns.
    let statement = statement(&bundle);
    let Some(name) = statement.as_ref().and_then(claimed_name) else {
        return Ok(rejected(
            Reason::MalformedStatement,
            "the bundle's payload names no server (not an mcpsig manifest statement)".to_owned(),
            None,
        ));
    };
    let Some(rule) = req.policy.rule_for(&name) else {
        return Ok(rejected(
            Reason::UntrustedSigner,
            format!("no policy rule names server `{name}`, and the policy has no [default] rule"),
            None,
        ));
    };
    let matched = MatchedRule {
        scope: rule.scope.clone(),
        require_chain: rule.require_chain,
        line: rule.line,
    };
    let candidates = match candidates(&bundle, rule) {
        Ok(c) => c,
        Err((reason, message)) => return Ok(rejected(reason, message, Some(matched))),
    };
    let Some(signer) = choose_signer(req, &bundle, &candidates) else {
        // Every candidate failed: the first one's report says why.
        let mut report = crate::verify::verify_parsed(
            &bundle,
            None,
            &candidates[0].trust(req.trusted_root),
            req.now,
            &Checks {
                signature_only: true,
                ..Checks::default()
            },
        )?
        .report;
        report.signature_only = req.checks.signature_only;
        report.manifest = None;
        return Ok(outcome(report, Some(matched)));
    };
    let signed = crate::verify::verify_parsed(
        &bundle,
        statement,
        &signer.trust(req.trusted_root),
        req.now,
        &req.checks,
    )?;
    let mut report = signed.report;
    let summary = report.signer.clone();
    // The signature held over this payload: the manifest read from it is the signed one.
    let manifest = match (&report.manifest, &signed.unverified) {
        (Some(verified), _) => verified.get(),
        (None, Some(unverified)) => unverified,
        (None, None) => {
            // The signature or the statement failed: nothing more to judge.
            return Ok(outcome(report, Some(matched)));
        }
    };
    let Some(summary) = summary else {
        return Ok(outcome(report, Some(matched)));
    };
    let mut problems = Vec::new();
    if manifest.server.name != name {
        problems.push(Problem::new(
            Reason::MalformedStatement,
            format!(
                "the bundle's server name changed between reads (`{name}`, then `{}`)",
                manifest.server.name
            ),
        ));
    }
    check_rule(rule, manifest, &summary, req.now, &mut problems);
    let loaded;
    let list = match lists {
        ListSource::Load => {
            loaded = req
                .policy
                .revocation()
                .map(|source| load_list(source, req.trusted_root, req.now, req.revocation));
            loaded.as_ref()
        }
        ListSource::Loaded(l) => l.0.as_ref(),
    };
    match list {
        None => {}
        Some(Ok(list)) => {
            if let Some(why) = list.revokes(&summary, &manifest.digest()) {
                problems.push(Problem::new(Reason::Revoked, why));
            }
        }
        Some(Err(stale)) => problems.push(stale.clone()),
    }
    report.problems.extend(problems);
    Ok(finish(report, matched))
}

/// A report whose policy problems are folded in: verified only when there are none, and
/// carrying the manifest only then.
fn finish(mut report: Report, rule: MatchedRule) -> PolicyOutcome {
    if !report.problems.is_empty() {
        report.verified = false;
        report.manifest = None;
    }
    outcome(report, Some(rule))
}

fn outcome(report: Report, rule: Option<MatchedRule>) -> PolicyOutcome {
    PolicyOutcome {
        signer: report.signer.clone(),
        report,
        rule,
    }
}

fn rejected(reason: Reason, message: String, rule: Option<MatchedRule>) -> PolicyOutcome {
    outcome(Report::rejected(Problem::new(reason, message)), rule)
}

/// The statement inside the envelope, read strictly but not yet trusted.
fn statement(bundle: &Bundle) -> Option<Statement> {
    let Content::DsseEnvelope(env) = &bundle.content else {
        return None;
    };
    crate::json::from_slice(&env.payload).ok()
}

fn claimed_name(statement: &Statement) -> Option<ServerName> {
    let name = statement.predicate.get("server")?.get("name")?.as_str()?;
    ServerName::parse(name).ok()
}

/// The rule's signers that can have signed this bundle, the likeliest first: for a key bundle,
/// the key its hint names (alone), else every key; for a certificate, every identity.
fn candidates<'r>(
    bundle: &Bundle,
    rule: &'r Rule,
) -> Result<Vec<&'r TrustedSigner>, (Reason, String)> {
    let keys = rule
        .signers
        .iter()
        .filter(|s| matches!(s, TrustedSigner::Key(_)));
    let identities: Vec<&TrustedSigner> = rule
        .signers
        .iter()
        .filter(|s| matches!(s, TrustedSigner::Identity(_)))
        .collect();
    match &bundle.verification_material.signer {
        SignerMaterial::PublicKey { hint } => {
            if rule.keyless_required {
                return Err((
                    Reason::KeylessRequired,
                    format!(
                        "the policy rule for {} accepts only keyless signatures; this bundle is signed with a key",
                        rule.scope
                    ),
                ));
            }
            let keys: Vec<&TrustedSigner> = keys.collect();
            if keys.is_empty() {
                return Err((
                    Reason::UntrustedSigner,
                    format!(
                        "the bundle is signed with a key, and the policy rule for {} trusts only keyless identities",
                        rule.scope
                    ),
                ));
            }
            let hinted: Vec<&TrustedSigner> = keys
                .iter()
                .copied()
                .filter(|s| matches!(s, TrustedSigner::Key(k) if KeyId::of(k).hex() == *hint))
                .collect();
            Ok(if hinted.is_empty() { keys } else { hinted })
        }
        _ if identities.is_empty() => Err((
            Reason::UntrustedSigner,
            format!(
                "the bundle is signed keylessly (with a certificate), and the policy rule for {} trusts only keys",
                rule.scope
            ),
        )),
        _ => Ok(identities),
    }
}

/// The first candidate whose signature verifies; `None` when none does. With one candidate
/// there is nothing to choose: the full verification decides. Only the signature is checked
/// here; the statement is read once, by the full verification of the chosen signer.
fn choose_signer<'r>(
    req: &PolicyRequest,
    bundle: &Bundle,
    candidates: &[&'r TrustedSigner],
) -> Option<&'r TrustedSigner> {
    if let [only] = candidates {
        return Some(*only);
    }
    candidates
        .iter()
        .copied()
        .find(|c| crate::verify::check_signature(bundle, &c.trust(req.trusted_root)).is_ok())
}

/// The rule's own constraints on a verified manifest.
fn check_rule(
    rule: &Rule,
    manifest: &Manifest,
    signer: &SignerSummary,
    now: DateTime<Utc>,
    problems: &mut Vec<Problem>,
) {
    if rule.keyless_required && !matches!(signer, SignerSummary::Certificate { .. }) {
        problems.push(Problem::new(
            Reason::KeylessRequired,
            format!(
                "the policy rule for {} accepts only keyless signatures",
                rule.scope
            ),
        ));
    }
    if let Some(min) = &rule.min_version {
        let version = manifest.server.version.as_str();
        match semver::Version::parse(version) {
            Ok(v) if v >= *min => {}
            Ok(_) => problems.push(Problem::new(
                Reason::VersionTooLow,
                format!(
                    "version {version} is below the policy's min-version {min} for {}",
                    rule.scope
                ),
            )),
            Err(_) => problems.push(Problem::new(
                Reason::VersionTooLow,
                format!(
                    "version `{}` is not a semantic version, so it cannot be compared with the policy's min-version {min} for {}",
                    version.escape_debug(),
                    rule.scope
                ),
            )),
        }
    }
    if let Some(max_age) = rule.max_age
        && manifest.issued_at.0 + max_age < now
    {
        problems.push(Problem::new(
            Reason::ManifestTooOld,
            format!(
                "manifest was issued at {}, longer ago than the policy's max-age ({}) for {}",
                manifest.issued_at,
                age_text(max_age),
                rule.scope
            ),
        ));
    }
}

/// `90d`, `36h`: how a policy writes an age.
fn age_text(age: chrono::Duration) -> String {
    let hours = age.num_hours();
    if hours % 24 == 0 {
        format!("{}d", hours / 24)
    } else {
        format!("{hours}h")
    }
}
