//! `mcp-verify oci://REGISTRY/REPO:TAG|@DIGEST`: verify the bundles attached to an image in its
//! registry. Every decision is `mcpsig::verify::oci`'s; this maps flags and renders.

use crate::{VerifyArgs, checks, print_report_lines};
use cli::{EXIT_OK, EXIT_REJECTED, one_line, outln};
use mcpsig::registry::oci::ImageRef;
use mcpsig::verify::oci::{ImageReport, ImageRequest, verify_image, via_text};
use mcpsig::verify::{Report, Request};

pub fn run(args: &VerifyArgs, reference: &str) -> anyhow::Result<u8> {
    if args.offline {
        anyhow::bail!("`--offline` cannot verify an image in a registry: {reference}");
    }
    if args.signature_only {
        anyhow::bail!(
            "`--signature-only` does not apply to an image in a registry: its bundles are \
             verified in full, and must pin the image"
        );
    }
    let image = ImageRef::parse(reference)?;
    let checks = checks(args);
    let options = checks.oci.clone();
    let now = mcpsig::chrono::Utc::now();
    let req = ImageRequest {
        image: &image,
        options: &options,
    };
    let mut rules: Vec<String> = Vec::new();
    let report = match &args.policy {
        None => {
            let trust = args.trust.to_trust()?;
            verify_image(&req, |bundle| {
                mcpsig::verify::verify(&Request {
                    bundle,
                    trust: &trust,
                    now,
                    checks: checks.clone(),
                })
            })?
        }
        Some(policy_path) => {
            let policy = mcpsig::policy::Policy::load(policy_path)?;
            let trusted_root = args.trust.to_root()?;
            let revocation = mcpsig::policy::RevocationOptions::default();
            verify_image(&req, |bundle| {
                let outcome = mcpsig::policy::verify(&mcpsig::policy::PolicyRequest {
                    policy: &policy,
                    bundle,
                    trusted_root: &trusted_root,
                    checks: checks.clone(),
                    now,
                    revocation: &revocation,
                })?;
                if let Some(r) = outcome.rule {
                    let rule = match r.line {
                        Some(line) => format!("{} ({}:{line})", r.scope, policy_path.display()),
                        None => r.scope.to_string(),
                    };
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
                Ok(outcome.report)
            })?
        }
    };
    if args.json {
        cli::rawln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report, &rules, args.policy.is_some());
    }
    Ok(if report.verified {
        EXIT_OK
    } else {
        EXIT_REJECTED
    })
}

fn print_human(r: &ImageReport, rules: &[String], policy: bool) {
    let named = match &r.tag {
        Some(t) => format!("{}:{t}", r.image),
        None => r.image.clone(),
    };
    let server = r
        .satisfied_by
        .as_ref()
        .and_then(|d| r.bundles.iter().find(|b| &b.referrer == d))
        .and_then(|b| b.report.server.as_ref())
        .map(|s| format!("{} {} ", s.name, s.version))
        .unwrap_or_default();
    if r.verified {
        outln!("verified: {}({})", one_line(&server), one_line(&named));
    } else {
        outln!("REJECTED: {}", one_line(&named));
    }
    outln!(
        "  image:    {}@{} ({})",
        one_line(&r.image),
        r.digest,
        one_line(&r.media_type)
    );
    let count = match r.bundles.len() {
        1 => "1 bundle".to_owned(),
        n => format!("{n} bundles"),
    };
    outln!(
        "  found:    {count} through {}",
        via_text(r.discovered_via, &r.digest)
    );
    if r.not_read > 0 {
        outln!(
            "  not read: {} more bundles (at most {} are read)",
            r.not_read,
            mcpsig::registry::oci::MAX_REFERRERS
        );
    }
    for rule in rules {
        outln!("  policy:   rule {}", one_line(rule));
    }
    for b in &r.bundles {
        let mark = match (r.satisfied_by.as_ref() == Some(&b.referrer), policy) {
            (true, true) => " (satisfies the policy)",
            (true, false) => " (satisfies the trust)",
            (false, _) => "",
        };
        outln!("  bundle {}{mark}:", b.referrer);
        print_report_lines(&b.report, &who(&b.report), "    ");
    }
    if r.bundles.is_empty() {
        for p in &r.problems {
            outln!("  [{}] {}", p.reason, p.message);
        }
    }
}

fn who(r: &Report) -> String {
    r.server
        .as_ref()
        .map(|s| format!("{} {}", s.name, s.version))
        .unwrap_or_else(|| "(no manifest read)".to_owned())
}
