//! The admission rules (spec/pin-store.md, "Rules"), as one pure function of the stored record
//! and the new release: no I/O here, so every rule is tested on plain values.

use std::cmp::Ordering;

use serde::Serialize;

use super::record::{
    Approval, ChangeSummary, MAX_APPROVALS, PinRecord, PinnedSigner, RECORD_SCHEMA_VERSION,
};
use crate::digest::Digest;
use crate::manifest::pins::ToolPins;
use crate::manifest::{Manifest, ServerName, Timestamp, Version};
use crate::reason::Reason;
use crate::tools::diff::{DiffCode, ToolDiff, diff};
use crate::verify::Problem;

/// How stale `lastSeen` may grow before admitting the unchanged release rewrites it.
pub const LAST_SEEN_GRANULARITY: chrono::Duration = chrono::Duration::hours(1);

/// What the store decided about a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// No pin existed: the release was recorded (trust on first use).
    FirstUse,
    /// The pinned release itself.
    Unchanged,
    /// A newer release by the same signer, without a change that needs approval.
    Upgraded,
    /// A newer release whose permission changes were approved (`accept`) and recorded.
    Approved,
    /// Refused; `problems` says why. The store was not changed.
    Rejected,
}

/// The release the store held before this admission.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinnedRelease {
    pub version: Version,
    pub manifest_digest: Digest,
    pub signer: PinnedSigner,
}

/// One difference between the pinned release's definitions and the new one's.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// True when it changes what the server may be asked to do (a definition added or removed,
    /// a schema, annotations or another field changed): such a change needs approval. Text
    /// alone (descriptions, titles, instructions) and the capture profile are only listed.
    pub needs_approval: bool,
    #[serde(flatten)]
    pub diff: ToolDiff,
}

/// The store's answer for one release.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Admission {
    pub server: ServerName,
    pub version: Version,
    pub manifest_digest: Digest,
    pub signer: PinnedSigner,
    pub outcome: Outcome,
    /// True exactly when `outcome` is not `rejected` (and `problems` is empty).
    pub admitted: bool,
    /// Why the release was refused (`rollback`, `signer-changed`, `chain-broken`,
    /// `needs-approval`).
    pub problems: Vec<Problem>,
    /// Reported, not refused: a broken `previous` chain when the caller does not require one.
    pub warnings: Vec<Problem>,
    /// The release pinned before, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<PinnedRelease>,
    /// The definitions' differences from the pinned release (for a newer release).
    pub changes: Vec<Change>,
    /// Variables a newer release takes from the caller's environment that the pinned one did
    /// not (they need approval like a new tool).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_env_names: Vec<String>,
}

/// An admission and the record to write (none when nothing changes or the release is refused).
pub(super) struct Decision {
    pub admission: Admission,
    pub write: Option<PinRecord>,
}

pub(super) struct Input<'a> {
    pub manifest: &'a Manifest,
    pub signer: PinnedSigner,
    pub require_chain: bool,
    pub accept: bool,
    pub now: Timestamp,
}

fn problem(reason: Reason, message: String) -> Problem {
    Problem {
        reason,
        message,
        path: None,
    }
}

/// How a new version relates to the pinned one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// The same version string.
    Same,
    /// Different strings of equal semver precedence (they differ in build metadata only).
    SamePrecedence,
    Newer,
    Older,
    /// Not both semantic versions: only equality can be told.
    Unordered,
}

fn order(pinned: &Version, new: &Version) -> Order {
    if pinned == new {
        return Order::Same;
    }
    match semver_cmp(pinned.as_str(), new.as_str()) {
        Some(Ordering::Less) => Order::Newer,
        Some(Ordering::Greater) => Order::Older,
        Some(Ordering::Equal) => Order::SamePrecedence,
        None => Order::Unordered,
    }
}

pub(super) fn decide(stored: Option<&PinRecord>, input: &Input) -> Decision {
    let m = input.manifest;
    let digest = m.digest();
    let mut admission = Admission {
        server: m.server.name.clone(),
        version: m.server.version.clone(),
        manifest_digest: digest.clone(),
        signer: input.signer.clone(),
        outcome: Outcome::Rejected,
        admitted: false,
        problems: Vec::new(),
        warnings: Vec::new(),
        pinned: None,
        changes: Vec::new(),
        new_env_names: Vec::new(),
    };
    let Some(rec) = stored else {
        admission.outcome = Outcome::FirstUse;
        admission.admitted = true;
        let write = PinRecord {
            schema_version: RECORD_SCHEMA_VERSION,
            server: m.server.name.clone(),
            signer: input.signer.clone(),
            version: m.server.version.clone(),
            manifest_digest: digest,
            tools: m.tools.clone(),
            env_names: env_names(m),
            first_seen: input.now,
            last_seen: input.now,
            approvals: Vec::new(),
        };
        return Decision {
            admission,
            write: Some(write),
        };
    };
    admission.pinned = Some(PinnedRelease {
        version: rec.version.clone(),
        manifest_digest: rec.manifest_digest.clone(),
        signer: rec.signer.clone(),
    });
    let reject = |mut admission: Admission, p: Problem| {
        admission.problems.push(p);
        Decision {
            admission,
            write: None,
        }
    };
    // Versions of another signer say nothing about this signer's releases: checked first.
    if rec.signer != input.signer {
        let p = problem(
            Reason::SignerChanged,
            format!(
                "`{}` is pinned to signer {}; this release is signed by {} (if the publisher \
                 really changed, check it out of band, then `mcp-verify pins forget {}`)",
                m.server.name, rec.signer, input.signer, m.server.name
            ),
        );
        return reject(admission, p);
    }
    let newer = match order(&rec.version, &m.server.version) {
        Order::Same if digest == rec.manifest_digest => {
            admission.outcome = Outcome::Unchanged;
            admission.admitted = true;
            // `lastSeen` is kept to the hour: a relaunch within it leaves the record as it is
            // (no rewrite, no fsync on every start of an unchanged server).
            let age = input.now.0.signed_duration_since(rec.last_seen.0);
            let write =
                (age < chrono::Duration::zero() || age >= LAST_SEEN_GRANULARITY).then(|| {
                    let mut write = rec.clone();
                    write.last_seen = input.now;
                    write
                });
            return Decision { admission, write };
        }
        Order::Same | Order::SamePrecedence => {
            let p = problem(
                Reason::Rollback,
                format!(
                    "version {} of `{}` is pinned as manifest {}; this is another manifest ({}) for \
                     the same version{}",
                    rec.version,
                    m.server.name,
                    rec.manifest_digest,
                    digest,
                    if rec.version == m.server.version {
                        String::new()
                    } else {
                        format!(" (`{}` differs in build metadata only)", m.server.version)
                    }
                ),
            );
            return reject(admission, p);
        }
        Order::Older => {
            let p = problem(
                Reason::Rollback,
                format!(
                    "version {} of `{}` is lower than the pinned version {}",
                    m.server.version, m.server.name, rec.version
                ),
            );
            return reject(admission, p);
        }
        Order::Newer => true,
        Order::Unordered => false,
    };
    let chained = m.previous.as_ref() == Some(&rec.manifest_digest);
    if !newer && !chained {
        let p = problem(
            Reason::Rollback,
            format!(
                "versions {} (pinned) and {} of `{}` are not both semantic versions, so they cannot \
                 be ordered, and this manifest's `previous` does not name the pinned release {}: it \
                 may be an older release",
                rec.version, m.server.version, m.server.name, rec.manifest_digest
            ),
        );
        return reject(admission, p);
    }
    if !chained {
        let named = m.previous.as_ref().map_or_else(
            || "names no previous release".to_owned(),
            |d| format!("names {d}"),
        );
        let p = problem(
            Reason::ChainBroken,
            format!(
                "version {} of `{}` {named}, not the pinned release {} ({})",
                m.server.version, m.server.name, rec.version, rec.manifest_digest
            ),
        );
        if input.require_chain {
            admission.problems.push(p);
        } else {
            admission.warnings.push(p);
        }
    }
    admission.changes = changes(rec.tools.as_ref(), m.tools.as_ref());
    let to_approve: Vec<ChangeSummary> = admission
        .changes
        .iter()
        .filter(|c| c.needs_approval)
        .map(|c| ChangeSummary {
            kind: c.diff.kind,
            name: c.diff.name.clone(),
            code: c.diff.code,
        })
        .collect();
    if !to_approve.is_empty() && !input.accept {
        let list: Vec<String> = to_approve
            .iter()
            .map(|c| format!("{} `{}` {}", c.kind, c.name, c.code.as_str()))
            .collect();
        admission.problems.push(problem(
            Reason::NeedsApproval,
            format!(
                "version {} of `{}` changes what the server may do ({}); review the changes and \
                 pass --accept to approve them",
                m.server.version,
                m.server.name,
                list.join(", ")
            ),
        ));
    }
    // A variable the pinned release did not take from the caller's environment may carry a
    // secret (a token, a key): asking for it is a permission change like a new tool.
    let new_env: Vec<String> = env_names(m)
        .into_iter()
        .filter(|n| !rec.env_names.contains(n))
        .collect();
    if !new_env.is_empty() && !input.accept {
        admission.problems.push(problem(
            Reason::NeedsApproval,
            format!(
                "version {} of `{}` takes variables from your environment that the pinned \
                 release did not ({}); they may carry secrets: review them and pass --accept to \
                 approve",
                m.server.version,
                m.server.name,
                new_env.join(", ")
            ),
        ));
    }
    admission.new_env_names = new_env.clone();
    if !admission.problems.is_empty() {
        return Decision {
            admission,
            write: None,
        };
    }
    let mut write = rec.clone();
    write.version = m.server.version.clone();
    write.manifest_digest = digest.clone();
    write.tools = m.tools.clone();
    write.env_names = env_names(m);
    write.last_seen = input.now;
    if to_approve.is_empty() && new_env.is_empty() {
        admission.outcome = Outcome::Upgraded;
    } else {
        admission.outcome = Outcome::Approved;
        write.approvals.push(Approval {
            version: m.server.version.clone(),
            manifest_digest: digest,
            approved_at: input.now,
            changes: to_approve,
            env_names: new_env,
        });
        let excess = write.approvals.len().saturating_sub(MAX_APPROVALS);
        write.approvals.drain(..excess);
    }
    admission.admitted = true;
    Decision {
        admission,
        write: Some(write),
    }
}

/// The launch's `envNames`, sorted and deduplicated (none for a manifest without a stdio launch).
fn env_names(m: &Manifest) -> Vec<String> {
    let mut names = match &m.launch {
        Some(crate::manifest::Launch::Stdio { env_names, .. }) => env_names.clone(),
        _ => Vec::new(),
    };
    names.sort();
    names.dedup();
    names
}

/// The definitions' differences, each marked with whether it needs approval. A side without
/// pins counts as pinning nothing, so pins appearing or disappearing list every definition.
fn changes(old: Option<&ToolPins>, new: Option<&ToolPins>) -> Vec<Change> {
    let empty_like = |p: &ToolPins| ToolPins {
        profile: p.profile.clone(),
        tools: Vec::new(),
        prompts: Vec::new(),
        resource_templates: Vec::new(),
        instructions: None,
    };
    let diffs = match (old, new) {
        (None, None) => Vec::new(),
        (Some(a), Some(b)) => diff(a, b),
        (Some(a), None) => diff(a, &empty_like(a)),
        (None, Some(b)) => diff(&empty_like(b), b),
    };
    diffs
        .into_iter()
        .map(|d| Change {
            needs_approval: needs_approval(&d),
            diff: d,
        })
        .collect()
}

/// The permission rule: text the model reads is listed, anything that changes what can be
/// called or how is approved. Unknown fields count as permissions (fail closed).
fn needs_approval(d: &ToolDiff) -> bool {
    match d.code {
        DiffCode::DescriptionChanged | DiffCode::InstructionsChanged | DiffCode::ProfileChanged => {
            false
        }
        // `title` is display text like a description; every other field may carry meaning.
        DiffCode::FieldChanged => {
            d.omitted > 0
                || d.changes.is_empty()
                || !d
                    .changes
                    .iter()
                    .all(|c| c.pointer == "/title" || c.pointer.starts_with("/title/"))
        }
        DiffCode::Added
        | DiffCode::Removed
        | DiffCode::SchemaChanged
        | DiffCode::AnnotationChanged => true,
    }
}

/// A semantic version (semver.org 2.0.0): precedence ignores build metadata.
struct SemVer<'a> {
    core: [u64; 3],
    pre: Vec<&'a str>,
}

fn numeric(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn identifiers_ok(s: &str) -> bool {
    s.split('.')
        .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn parse_semver(s: &str) -> Option<SemVer<'_>> {
    let (s, build) = match s.split_once('+') {
        Some((v, b)) => (v, Some(b)),
        None => (s, None),
    };
    if build.is_some_and(|b| !identifiers_ok(b)) {
        return None;
    }
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    let mut parts = core.split('.');
    let mut nums = [0u64; 3];
    for n in &mut nums {
        *n = numeric(parts.next()?)?;
    }
    if parts.next().is_some() {
        return None;
    }
    let pre = match pre {
        None => Vec::new(),
        Some(p) if identifiers_ok(p) => {
            let ids: Vec<&str> = p.split('.').collect();
            // Numeric identifiers must not have leading zeros.
            if ids
                .iter()
                .any(|id| id.bytes().all(|b| b.is_ascii_digit()) && numeric(id).is_none())
            {
                return None;
            }
            ids
        }
        Some(_) => return None,
    };
    Some(SemVer { core: nums, pre })
}

/// Semver precedence of `a` and `b`; `None` when either is not a semantic version.
pub(super) fn semver_cmp(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse_semver(a)?, parse_semver(b)?);
    let ord = a
        .core
        .cmp(&b.core)
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (x, y) in a.pre.iter().zip(&b.pre) {
                    let o = match (numeric(x), numeric(y)) {
                        (Some(p), Some(q)) => p.cmp(&q),
                        (Some(_), None) => Ordering::Less,
                        (None, Some(_)) => Ordering::Greater,
                        (None, None) => x.cmp(y),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.pre.len().cmp(&b.pre.len())
            }
        });
    Some(ord)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ServerId;
    use crate::manifest::pins::{CaptureProfile, Pinned, TransportKind};

    #[test]
    fn semver_precedence() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.2.0",
            "1.10.0",
            "2.0.0",
        ];
        for w in chain.windows(2) {
            assert_eq!(semver_cmp(w[0], w[1]), Some(Ordering::Less), "{w:?}");
            assert_eq!(semver_cmp(w[1], w[0]), Some(Ordering::Greater), "{w:?}");
        }
        assert_eq!(semver_cmp("1.0.0+a", "1.0.0+b"), Some(Ordering::Equal));
        for bad in [
            "v1.0.0", "1.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "1..0", "latest",
        ] {
            assert_eq!(semver_cmp(bad, "1.0.0"), None, "{bad}");
        }
    }

    fn pins(tools: &[serde_json::Value]) -> ToolPins {
        ToolPins {
            profile: CaptureProfile {
                transport: TransportKind::Stdio,
                protocol_version: "2025-11-25".into(),
                client_capabilities: Vec::new(),
                argv: vec!["server".into()],
                env_names: Vec::new(),
                url: None,
            },
            tools: tools
                .iter()
                .map(|t| Pinned::new(t.as_object().unwrap().clone()).unwrap())
                .collect(),
            prompts: Vec::new(),
            resource_templates: Vec::new(),
            instructions: None,
        }
    }

    fn manifest(version: &str, previous: Option<Digest>, tools: Option<ToolPins>) -> Manifest {
        let m: Manifest = serde_json::from_value(serde_json::json!({
            "schemaVersion": 1,
            "server": {"name": "io.github.acme/wx", "version": version},
            "issuedAt": "2026-11-24T12:00:00Z",
            "artifacts": [{"kind": "file", "name": "a.tgz", "digest": format!("sha256:{}", "0".repeat(64)), "size": 1}],
        }))
        .unwrap();
        Manifest {
            previous,
            tools,
            server: ServerId {
                version: Version::parse(version).unwrap(),
                ..m.server.clone()
            },
            ..m
        }
    }

    fn key(id: char) -> PinnedSigner {
        PinnedSigner::Key {
            key_id: id.to_string().repeat(64),
        }
    }

    fn now() -> Timestamp {
        Timestamp("2026-12-01T00:00:00Z".parse().unwrap())
    }

    fn run(stored: Option<&PinRecord>, m: &Manifest, accept: bool, chain: bool) -> Decision {
        decide(
            stored,
            &Input {
                manifest: m,
                signer: key('a'),
                require_chain: chain,
                accept,
                now: now(),
            },
        )
    }

    fn reasons(d: &Decision) -> Vec<Reason> {
        d.admission.problems.iter().map(|p| p.reason).collect()
    }

    #[test]
    fn the_rules_on_plain_values() {
        let read = serde_json::json!({"name": "read", "description": "Reads.", "inputSchema": {"type": "object"}});
        let v1 = manifest("1.0.0", None, Some(pins(std::slice::from_ref(&read))));
        let first = run(None, &v1, false, false);
        assert_eq!(first.admission.outcome, Outcome::FirstUse);
        let rec = first.write.unwrap();
        // Same release: unchanged; within the hour the record is left as it is, an hour later
        // (or with the clock set back) last seen moves.
        let same = run(Some(&rec), &v1, false, true);
        assert_eq!(same.admission.outcome, Outcome::Unchanged);
        assert!(same.write.is_none());
        for (shift, moves) in [
            (LAST_SEEN_GRANULARITY - chrono::Duration::seconds(1), false),
            (LAST_SEEN_GRANULARITY, true),
            (-chrono::Duration::seconds(1), true),
        ] {
            let later = decide(
                Some(&rec),
                &Input {
                    manifest: &v1,
                    signer: key('a'),
                    require_chain: true,
                    accept: false,
                    now: Timestamp(now().0 + shift),
                },
            );
            assert_eq!(later.admission.outcome, Outcome::Unchanged);
            assert_eq!(
                later.write.map(|w| w.last_seen),
                moves.then(|| Timestamp(now().0 + shift)),
                "{shift}"
            );
        }
        // Another signer: refused whatever else holds, accept or not.
        let other = decide(
            Some(&rec),
            &Input {
                manifest: &v1,
                signer: key('b'),
                require_chain: false,
                accept: true,
                now: now(),
            },
        );
        assert_eq!(reasons(&other), [Reason::SignerChanged]);
        assert!(other.write.is_none());
        // Description-only change in a chained newer release: upgraded, listed.
        let mut reworded = read.clone();
        reworded["description"] = "Reads one note.".into();
        reworded["title"] = "Read".into();
        let v2 = manifest("1.1.0", Some(v1.digest()), Some(pins(&[reworded])));
        let up = run(Some(&rec), &v2, false, true);
        assert_eq!(
            up.admission.outcome,
            Outcome::Upgraded,
            "{:?}",
            up.admission
        );
        assert_eq!(up.admission.changes.len(), 2);
        assert!(up.admission.changes.iter().all(|c| !c.needs_approval));
        let rec2 = up.write.unwrap();
        assert_eq!(rec2.first_seen, rec.first_seen);
        // Back to 1.0.0: rollback, even with accept.
        assert_eq!(
            reasons(&run(Some(&rec2), &v1, true, false)),
            [Reason::Rollback]
        );
        // Same version, another manifest: rollback.
        let v2b = manifest("1.1.0", Some(v1.digest()), None);
        assert_eq!(
            reasons(&run(Some(&rec2), &v2b, true, false)),
            [Reason::Rollback]
        );
        let v2c = manifest("1.1.0+build.7", Some(v1.digest()), None);
        assert_eq!(
            reasons(&run(Some(&rec2), &v2c, true, false)),
            [Reason::Rollback]
        );
        // Unchained newer release: a warning, or refused when the chain is required.
        let v3 = manifest("1.2.0", None, rec2.tools.clone());
        let warned = run(Some(&rec2), &v3, false, false);
        assert_eq!(warned.admission.outcome, Outcome::Upgraded);
        assert_eq!(warned.admission.warnings[0].reason, Reason::ChainBroken);
        assert_eq!(
            reasons(&run(Some(&rec2), &v3, true, true)),
            [Reason::ChainBroken]
        );
        // A new tool: needs approval; accept records it.
        let write = serde_json::json!({"name": "write", "inputSchema": {"type": "object"}});
        let v3 = manifest(
            "1.2.0",
            Some(v2.digest()),
            Some(pins(&[
                rec2.tools.as_ref().unwrap().tools[0]
                    .definition
                    .clone()
                    .into(),
                write,
            ])),
        );
        let asked = run(Some(&rec2), &v3, false, true);
        assert_eq!(reasons(&asked), [Reason::NeedsApproval]);
        assert!(asked.write.is_none());
        let ok = run(Some(&rec2), &v3, true, true);
        assert_eq!(ok.admission.outcome, Outcome::Approved);
        let rec3 = ok.write.unwrap();
        assert_eq!(rec3.approvals.len(), 1);
        assert_eq!(rec3.approvals[0].changes[0].code, DiffCode::Added);
        // Pins dropped altogether: every definition removed, needs approval.
        let v4 = manifest("1.3.0", Some(v3.digest()), None);
        assert_eq!(
            reasons(&run(Some(&rec3), &v4, false, true)),
            [Reason::NeedsApproval]
        );
    }

    #[test]
    fn versions_that_are_not_semver_follow_only_through_the_chain() {
        let v1 = manifest("2026.11", None, None);
        let rec = run(None, &v1, false, false).write.unwrap();
        let unchained = manifest("2026.12", None, None);
        assert_eq!(
            reasons(&run(Some(&rec), &unchained, true, false)),
            [Reason::Rollback]
        );
        let chained = manifest("2026.12", Some(v1.digest()), None);
        let d = run(Some(&rec), &chained, false, true);
        assert_eq!(d.admission.outcome, Outcome::Upgraded);
        assert_eq!(d.write.unwrap().version.as_str(), "2026.12");
    }
}
