//! OCI provenance end to end (spec/oci.md), through the real binaries against a real registry
//! on loopback (`docker-registry`, see tests/common/oci_registry.rs): an image we build and
//! push, a manifest pinning it signed with a local key, `mcp-sign attach`, and `mcp-verify
//! oci://...`. Each test is the scenario testdata/scenarios/oci-* it names, whose `expected`
//! file holds the outcome.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/oci_registry.rs"]
mod oci_registry;

use common::{assert_ok, bin, root, text};
use oci_registry::{
    FirstBytes, LoopbackRegistry, ReferrersProxy, get, push_blob, push_image, push_image_as,
    push_manifest, s, sha256,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPO: &str = "acme/server";
const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A binary run with no registry credentials from this environment or its docker
/// configuration (DOCKER_CONFIG points at a folder that does not exist).
fn command(name: &str) -> Command {
    let mut cmd = Command::new(bin(name));
    cmd.env("NO_COLOR", "1")
        .env_remove("MCPSIG_KEY_PASSPHRASE")
        .env_remove("MCPSIG_REGISTRY_TOKEN")
        .env_remove("MCPSIG_REGISTRY_USERNAME")
        .env_remove("MCPSIG_REGISTRY_PASSWORD")
        .env("DOCKER_CONFIG", "/nonexistent/mcpsig-test-docker-config");
    cmd
}

fn run(name: &str, args: &[&str]) -> Output {
    command(name).args(args).output().unwrap()
}

fn expected(scenario: &str) -> String {
    let dir = root().join("testdata/scenarios").join(scenario);
    assert!(dir.join("README.md").exists(), "{scenario}: no README.md");
    std::fs::read_to_string(dir.join("expected"))
        .unwrap_or_else(|e| panic!("{scenario}: {e}"))
        .trim()
        .to_owned()
}

/// A signer's workspace: a key pair, manifests pinning images, their bundles.
struct Ws {
    dir: tempfile::TempDir,
}

impl Ws {
    fn new() -> Ws {
        let ws = Ws {
            dir: tempfile::tempdir().unwrap(),
        };
        assert_ok(&run("mcp-sign", &["keygen", "--out", s(&ws.key())]));
        ws
    }
    fn key(&self) -> PathBuf {
        self.dir.path().join("k.key")
    }
    fn public(&self) -> String {
        format!("{}.pub", self.key().display())
    }

    /// Signs a manifest (`stem.json`) pinning the image `name@digest`; returns its bundle.
    fn sign_pinning(&self, stem: &str, name: &str, digest: &str) -> PathBuf {
        let manifest = self.dir.path().join(format!("{stem}.json"));
        let now =
            mcpsig::chrono::Utc::now().to_rfc3339_opts(mcpsig::chrono::SecondsFormat::Secs, true);
        std::fs::write(
            &manifest,
            serde_json::to_vec_pretty(&serde_json::json!({
                "schemaVersion": 1,
                "server": { "name": "io.github.acme/server", "version": "1.0.0" },
                "issuedAt": now,
                "artifacts": [{ "kind": "oci", "name": name, "digest": digest, "tag": "v1" }],
            }))
            .unwrap(),
        )
        .unwrap();
        assert_ok(&run(
            "mcp-sign",
            &["sign", "--key", s(&self.key()), s(&manifest)],
        ));
        self.dir.path().join(format!("{stem}.sigstore.json"))
    }

    /// `mcp-verify IMAGE --key PUB --json ARGS...`: exit code and report.
    fn verify(&self, image: &str, args: &[&str]) -> (i32, serde_json::Value, Output) {
        let public = self.public();
        let mut all = vec![image, "--key", public.as_str(), "--json"];
        all.extend_from_slice(args);
        let out = run("mcp-verify", &all);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr))
        });
        (out.status.code().unwrap_or(-1), report, out)
    }

    /// The same verification as a person reads it.
    fn verify_human(&self, image: &str) -> Output {
        run("mcp-verify", &[image, "--key", &self.public()])
    }
}

fn attach(bundle: &Path, image: &str) -> serde_json::Value {
    let out = run("mcp-sign", &["--json", "attach", s(bundle), image]);
    assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn reasons(report: &serde_json::Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["reason"].as_str().unwrap().to_owned())
        .collect()
}

/// The outcome an `expected` file names, checked against a report and exit code.
fn check(scenario: &str, code: i32, report: &serde_json::Value) {
    let want = expected(scenario);
    match want.split_once(' ').unwrap_or((want.as_str(), "")) {
        ("accept", _) => {
            assert_eq!(code, 0, "{scenario}: {report:#}");
            assert_eq!(report["verified"], true);
            assert!(reasons(report).is_empty());
        }
        ("reject", reason) => {
            assert_eq!(code, 1, "{scenario}: {report:#}");
            assert_eq!(report["verified"], false);
            assert!(
                reasons(report).iter().any(|r| r == reason),
                "{scenario}: wanted {reason}: {report:#}"
            );
        }
        ("error", reason) => {
            assert_eq!(code, 2, "{scenario}: {report:#}");
            assert_eq!(report["error"]["reason"], reason, "{scenario}: {report:#}");
        }
        _ => panic!("{scenario}: unknown expectation {want}"),
    }
}

/// Scenario oci-attached-bundle-accepted: sign, attach by tag, verify by tag and by digest,
/// through the referrers fallback tag (this registry has no referrers API).
#[test]
fn a_bundle_attached_to_the_image_verifies_through_the_fallback_tag() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let digest = push_image(&host, REPO, "v1", "v1");
    let ws = Ws::new();
    let bundle = ws.sign_pinning("m", &format!("{host}/{REPO}"), &digest);

    // This registry answers the referrers API with a plain 404.
    let (status, _) = get(
        &format!("http://{host}/v2/{REPO}/referrers/{digest}"),
        "application/vnd.oci.image.index.v1+json",
    );
    assert_eq!(status, 404);

    let out = run(
        "mcp-sign",
        &[
            "--json",
            "attach",
            s(&bundle),
            &format!("oci://{host}/{REPO}:v1"),
        ],
    );
    assert_ok(&out);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("resolved {host}/{REPO}:v1 to {digest}")),
        "{err}"
    );
    assert!(err.contains("no referrers API"), "{err}");
    let attached: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(attached["subject"]["digest"], digest.as_str());
    assert_eq!(attached["via"], "fallback-tag");
    let tag = format!("sha256-{}", digest.strip_prefix("sha256:").unwrap());
    assert_eq!(attached["fallbackTag"], tag.as_str());
    let referrer = attached["referrer"]["digest"].as_str().unwrap().to_owned();

    // What was pushed, read back from the registry as any client would.
    let (status, body) = get(
        &format!("http://{host}/v2/{REPO}/manifests/{referrer}"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200);
    assert_eq!(sha256(&body), referrer);
    let m: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(m["artifactType"], BUNDLE_TYPE);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(m["config"]["size"], 2);
    assert_eq!(m["subject"]["digest"], digest.as_str());
    assert_eq!(
        m["subject"]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert_eq!(m["layers"][0]["mediaType"], BUNDLE_TYPE);
    assert_eq!(
        m["layers"][0]["digest"],
        sha256(&std::fs::read(&bundle).unwrap()).as_str()
    );
    let (status, body) = get(
        &format!("http://{host}/v2/{REPO}/manifests/{tag}"),
        "application/vnd.oci.image.index.v1+json",
    );
    assert_eq!(status, 200);
    let index: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["manifests"][0]["digest"], referrer.as_str());
    assert_eq!(index["manifests"][0]["artifactType"], BUNDLE_TYPE);

    for image in [
        format!("oci://{host}/{REPO}:v1"),
        format!("oci://{host}/{REPO}@{digest}"),
    ] {
        let (code, report, _) = ws.verify(&image, &[]);
        check("oci-attached-bundle-accepted", code, &report);
        assert_eq!(report["digest"], digest.as_str());
        assert_eq!(report["discoveredVia"], "fallback-tag");
        assert_eq!(report["satisfiedBy"], referrer.as_str());
        assert_eq!(report["bundles"][0]["verified"], true);
        // The pinned image was also checked against its registry.
        assert_eq!(
            report["bundles"][0]["artifacts"][0]["checked"],
            format!("oci://{host}/{REPO}@{digest}").as_str()
        );
    }
    let human = ws.verify_human(&format!("oci://{host}/{REPO}:v1"));
    assert_ok(&human);
    let shown = text(&human.stdout);
    assert!(
        shown.starts_with("verified: io.github.acme/server 1.0.0"),
        "{shown}"
    );
    assert!(shown.contains("(satisfies the trust)"), "{shown}");
    assert!(shown.contains("referrers fallback tag"), "{shown}");

    // Attaching again changes nothing: the same referrer, already listed.
    let again = attach(&bundle, &format!("oci://{host}/{REPO}@{digest}"));
    assert_eq!(again["referrer"]["digest"], referrer.as_str());
    assert_eq!(again["indexUpdated"], false);
}

/// Scenario oci-fallback-index-keeps-entries: a second bundle and an entry another tool wrote
/// are kept in the fallback index; a bundle that fails beside one that verifies does not
/// reject the image.
#[test]
fn the_fallback_index_keeps_what_is_listed() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let digest = push_image(&host, REPO, "v1", "v1");
    let tag = format!("sha256-{}", digest.strip_prefix("sha256:").unwrap());
    // Another tool's referrer already listed (an SBOM), with annotations we do not model.
    let sbom = push_blob(&host, REPO, b"{\"sbom\": true}");
    let empty = push_blob(&host, REPO, b"{}");
    let sbom_manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sbom+json",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 },
        "layers": [{ "mediaType": "application/vnd.example.sbom+json", "digest": sbom, "size": 14 }],
        "subject": { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 1 },
    }))
    .unwrap();
    let sbom_digest = push_manifest(
        &host,
        REPO,
        None,
        &sbom_manifest,
        "application/vnd.oci.image.manifest.v1+json",
    );
    let foreign = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sbom_digest,
            "size": sbom_manifest.len(),
            "artifactType": "application/vnd.example.sbom+json",
            "annotations": { "org.example": "kept" },
        }],
    });
    push_manifest(
        &host,
        REPO,
        Some(&tag),
        &serde_json::to_vec(&foreign).unwrap(),
        "application/vnd.oci.image.index.v1+json",
    );
    let ws = Ws::new();
    let good = ws.sign_pinning("good", &format!("{host}/{REPO}"), &digest);
    // Signed by another key: attached, but does not verify under ours.
    let other = Ws::new();
    let foreign_signed = other.sign_pinning("other", &format!("{host}/{REPO}"), &digest);
    let image = format!("oci://{host}/{REPO}@{digest}");
    attach(&foreign_signed, &image);
    attach(&good, &image);
    let (_, body) = get(
        &format!("http://{host}/v2/{REPO}/manifests/{tag}"),
        "application/vnd.oci.image.index.v1+json",
    );
    let index: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{index:#}");
    assert_eq!(listed[0], foreign["manifests"][0]);

    let (code, report, _) = ws.verify(&image, &[]);
    check("oci-fallback-index-keeps-entries", code, &report);
    let bundles = report["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 2, "the sbom is not read: {report:#}");
    assert_eq!(bundles[0]["verified"], false);
    assert_eq!(bundles[0]["problems"][0]["reason"], "untrusted-signer");
    assert_eq!(bundles[1]["verified"], true);
    assert_eq!(report["satisfiedBy"], bundles[1]["referrer"]);
}

/// Scenario oci-referrers-api-accepted: where the registry has the referrers API, attaching
/// leaves the fallback tag alone and discovery asks the API.
#[test]
fn the_referrers_api_is_used_where_the_registry_has_it() {
    let reg = LoopbackRegistry::start();
    // The registry behind a proxy that implements the referrers API (see ReferrersProxy).
    let proxy = ReferrersProxy::start(reg.port);
    let host = proxy.host();
    let digest = push_image(&host, REPO, "v1", "v1");
    let ws = Ws::new();
    let bundle = ws.sign_pinning("m", &format!("{host}/{REPO}"), &digest);
    let attached = attach(&bundle, &format!("oci://{host}/{REPO}:v1"));
    assert_eq!(attached["via"], "referrers-api");
    assert!(attached.get("fallbackTag").is_none());
    let tag = format!("sha256-{}", digest.strip_prefix("sha256:").unwrap());
    let (status, _) = get(
        &format!("http://{}/v2/{REPO}/manifests/{tag}", reg.host()),
        "application/vnd.oci.image.index.v1+json",
    );
    assert_eq!(status, 404, "no fallback index is written");
    let before = *proxy.referrers_asked.lock().unwrap();
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    check("oci-referrers-api-accepted", code, &report);
    assert_eq!(report["discoveredVia"], "referrers-api");
    assert_eq!(report["satisfiedBy"], attached["referrer"]["digest"]);
    assert!(*proxy.referrers_asked.lock().unwrap() > before);
}

/// Scenario oci-retagged-image-rejected: the tag moved to another image, and the signed bundle
/// was attached to that one too.
#[test]
fn a_retagged_image_is_rejected() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let signed = push_image(&host, REPO, "v1", "v1");
    let ws = Ws::new();
    let bundle = ws.sign_pinning("m", &format!("{host}/{REPO}"), &signed);
    attach(&bundle, &format!("oci://{host}/{REPO}:v1"));
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    assert_eq!(code, 0, "{report:#}");

    // The tag now names another image: nothing is attached to it.
    let swapped = push_image(&host, REPO, "v1", "evil");
    assert_ne!(swapped, signed);
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    assert_eq!(code, 1);
    assert_eq!(reasons(&report), ["unsigned"]);

    // The signed bundle copied onto it (the registry's own attach, not ours: ours refuses).
    let registry = mcpsig::registry::oci::Registry::connect(&host, &Default::default()).unwrap();
    let repo = mcpsig::registry::oci::Repository::parse(&format!("{host}/{REPO}")).unwrap();
    let subject = registry
        .manifest(&repo, &swapped.parse().unwrap())
        .unwrap()
        .unwrap();
    registry
        .attach(&repo, &subject, &std::fs::read(&bundle).unwrap())
        .unwrap();
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    check("oci-retagged-image-rejected", code, &report);
    assert_eq!(report["digest"], swapped.as_str());
    let message = report["problems"][0]["message"].as_str().unwrap();
    assert!(message.contains(&signed), "{message}");
    let out = run(
        "mcp-sign",
        &["attach", s(&bundle), &format!("oci://{host}/{REPO}:v1")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("artifact-mismatch"));
}

/// Scenario oci-bundle-for-another-digest-rejected: a bundle signed for another image is
/// attached to this one.
#[test]
fn a_bundle_for_another_image_is_rejected() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let ours = push_image(&host, REPO, "v1", "v1");
    let other = push_image(&host, "acme/other", "v1", "other");
    let ws = Ws::new();
    let bundle = ws.sign_pinning("m", &format!("{host}/acme/other"), &other);
    // mcp-sign refuses to attach it where it does not belong...
    let out = run(
        "mcp-sign",
        &["attach", s(&bundle), &format!("oci://{host}/{REPO}@{ours}")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // ...so it is pushed as a registry compromise would.
    let registry = mcpsig::registry::oci::Registry::connect(&host, &Default::default()).unwrap();
    let repo = mcpsig::registry::oci::Repository::parse(&format!("{host}/{REPO}")).unwrap();
    let subject = registry
        .manifest(&repo, &ours.parse().unwrap())
        .unwrap()
        .unwrap();
    registry
        .attach(&repo, &subject, &std::fs::read(&bundle).unwrap())
        .unwrap();
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}@{ours}"), &[]);
    check("oci-bundle-for-another-digest-rejected", code, &report);
    assert_eq!(report["bundles"][0]["verified"], false);
}

/// Scenario oci-no-bundle-attached-unsigned.
#[test]
fn an_image_without_bundles_is_unsigned() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let digest = push_image(&host, REPO, "v1", "v1");
    let ws = Ws::new();
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    check("oci-no-bundle-attached-unsigned", code, &report);
    assert_eq!(report["digest"], digest.as_str());
    assert!(report["bundles"].as_array().unwrap().is_empty());
    let human = ws.verify_human(&format!("oci://{host}/{REPO}:v1"));
    assert_eq!(human.status.code(), Some(1));
    assert!(
        text(&human.stdout).contains("[unsigned]"),
        "{}",
        text(&human.stdout)
    );
}

/// Scenario oci-tampered-referrer-blob-rejected: the bundle's bytes changed in the registry's
/// storage, under the digest its descriptor names.
#[test]
fn a_tampered_bundle_blob_is_rejected() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let digest = push_image(&host, REPO, "v1", "v1");
    let ws = Ws::new();
    let bundle = ws.sign_pinning("m", &format!("{host}/{REPO}"), &digest);
    let attached = attach(&bundle, &format!("oci://{host}/{REPO}:v1"));
    let referrer_digest = attached["referrer"]["digest"].as_str().unwrap().to_owned();
    let original = std::fs::read(&bundle).unwrap();
    let stored = reg.blob_path(&sha256(&original));
    // Same length, one byte changed: only the digest can tell.
    let mut changed = original.clone();
    let i = changed.len() / 2;
    changed[i] ^= 1;
    std::fs::write(&stored, &changed).unwrap();
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    check("oci-tampered-referrer-blob-rejected", code, &report);
    let message = report["problems"][0]["message"].as_str().unwrap();
    assert!(message.contains("read back with digest"), "{message}");

    // Longer than its descriptor: refused from the announced length, or cut there.
    let mut longer = original.clone();
    longer.extend_from_slice(b"\n   ");
    std::fs::write(&stored, &longer).unwrap();
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    check("oci-tampered-referrer-blob-rejected", code, &report);
    let message = report["problems"][0]["message"].as_str().unwrap();
    assert!(message.contains("is longer than"), "{message}");

    // The referrer manifest itself altered in storage.
    std::fs::write(&stored, &original).unwrap();
    let (code, _, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    assert_eq!(code, 0);
    let referrer = std::fs::read(reg.blob_path(&referrer_digest)).unwrap();
    let altered = String::from_utf8(referrer)
        .unwrap()
        .replace("dsse-envelope", "dsse-envelopf");
    std::fs::write(reg.blob_path(&referrer_digest), altered).unwrap();
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    check("oci-tampered-referrer-blob-rejected", code, &report);
    let message = report["problems"][0]["message"].as_str().unwrap();
    assert!(message.contains("referrer manifest"), "{message}");
}

/// Scenario oci-huge-bundle-blob-rejected: an attachment whose bundle layer is larger than
/// 16 MiB is refused from its descriptor, unread.
#[test]
fn a_huge_bundle_blob_is_refused() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let digest = push_image(&host, REPO, "v1", "v1");
    let registry = mcpsig::registry::oci::Registry::connect(&host, &Default::default()).unwrap();
    let repo = mcpsig::registry::oci::Repository::parse(&format!("{host}/{REPO}")).unwrap();
    let subject = registry
        .manifest(&repo, &digest.parse().unwrap())
        .unwrap()
        .unwrap();
    let huge = vec![b' '; 16 * 1024 * 1024 + 1];
    registry.attach(&repo, &subject, &huge).unwrap();
    let ws = Ws::new();
    let (code, report, _) = ws.verify(&format!("oci://{host}/{REPO}:v1"), &[]);
    check("oci-huge-bundle-blob-rejected", code, &report);
    let message = report["problems"][0]["message"].as_str().unwrap();
    assert!(message.contains("larger than 16777216 bytes"), "{message}");
}

/// Scenario oci-plain-http-non-loopback-refused: a registry named by a host the loopback rule
/// does not recognise (`127.1`, which the resolver maps to 127.0.0.1) is spoken to over TLS
/// only; plain HTTP needs --insecure.
#[test]
fn plain_http_to_a_registry_off_loopback_needs_insecure() {
    let listener = FirstBytes::start();
    let ws = Ws::new();
    let image = format!("oci://127.1:{}/{REPO}:v1", listener.port);
    let (code, report, out) = ws.verify(&image, &[]);
    check("oci-plain-http-non-loopback-refused", code, &report);
    assert!(
        report["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--insecure"),
        "{report:#}"
    );
    let seen = listener.seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "nothing connected: {}", text(&out.stderr));
    for first in &seen {
        // A TLS handshake record, never an HTTP request.
        assert_eq!(first.first(), Some(&0x16), "{first:?}");
    }
    // The same registry name with --insecure is spoken to in plain HTTP.
    let reg = LoopbackRegistry::start();
    push_image(&reg.host(), REPO, "v1", "v1");
    let image = format!("oci://127.1:{}/{REPO}:v1", reg.port);
    let (code, report, _) = ws.verify(&image, &["--insecure"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(reasons(&report), ["unsigned"]);
    let (code, _, _) = ws.verify(&image, &[]);
    assert_eq!(code, 2);
}

/// Scenario oci-registry-unreachable-error.
#[test]
fn an_unreachable_registry_is_undecided() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ws = Ws::new();
    let (code, report, _) = ws.verify(&format!("oci://127.0.0.1:{port}/{REPO}:v1"), &[]);
    check("oci-registry-unreachable-error", code, &report);
}

/// Scenarios oci-pinned-image-checked-accepted, oci-pinned-image-missing-rejected and
/// oci-pinned-image-offline-unchecked: verifying a bundle file whose manifest pins an image
/// checks the image against its registry, unless --offline.
#[test]
fn a_pinned_image_is_checked_against_its_registry() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let digest = push_image(&host, REPO, "v1", "v1");
    let ws = Ws::new();
    let bundle = ws.sign_pinning("m", &format!("{host}/{REPO}"), &digest);
    let (code, report, _) = ws.verify(s(&bundle), &[]);
    check("oci-pinned-image-checked-accepted", code, &report);
    assert_eq!(
        report["artifacts"][0]["checked"],
        format!("oci://{host}/{REPO}@{digest}").as_str()
    );

    let (code, report, _) = ws.verify(s(&bundle), &["--offline"]);
    check("oci-pinned-image-offline-unchecked", code, &report);
    let message = report["problems"][0]["message"].as_str().unwrap();
    assert!(message.contains("--offline"), "{message}");

    let absent = sha256(b"no such image");
    let bundle = ws.sign_pinning("absent", &format!("{host}/{REPO}"), &absent);
    let (code, report, _) = ws.verify(s(&bundle), &[]);
    check("oci-pinned-image-missing-rejected", code, &report);
}

/// Blobs the tests push are real blobs of the registry (a sanity check of the helpers).
#[test]
fn pushed_blobs_read_back() {
    let reg = LoopbackRegistry::start();
    let d = push_blob(&reg.host(), REPO, b"hello");
    let (status, body) = get(&format!("http://{}/v2/{REPO}/blobs/{d}", reg.host()), "*/*");
    assert_eq!((status, body.as_slice()), (200, b"hello".as_slice()));
}

/// Scenarios oci-registry-credentials-accepted and oci-registry-without-credentials-undecided:
/// a registry that needs a password (basic, htpasswd) is used with the credentials from
/// MCPSIG_REGISTRY_USERNAME / MCPSIG_REGISTRY_PASSWORD or from the docker configuration, and
/// without them (or with a wrong one) nothing can be decided; the password never shows.
#[test]
fn registry_credentials_come_from_the_environment_or_docker_config() {
    use base64::Engine as _;
    const PASSWORD: &str = "pa55-w0rd-never-shown";
    let reg = LoopbackRegistry::start_with_password("alice", PASSWORD);
    let host = reg.host();
    let digest = push_image_as(&host, REPO, "v1", "v1", Some(("alice", PASSWORD)));
    let ws = Ws::new();
    let bundle = ws.sign_pinning("m", &format!("{host}/{REPO}"), &digest);
    let image = format!("oci://{host}/{REPO}:v1");
    let public = ws.public();
    let env_login = [
        ("MCPSIG_REGISTRY_USERNAME", "alice"),
        ("MCPSIG_REGISTRY_PASSWORD", PASSWORD),
    ];
    let run_with = |name: &str, args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = command(name);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !text(stream).contains(PASSWORD),
                "password shown: {}",
                text(stream)
            );
        }
        out
    };

    // Without credentials: could not decide, with a hint naming where they come from.
    let out = run_with("mcp-sign", &["attach", s(&bundle), &image], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("MCPSIG_REGISTRY_TOKEN"),
        "{}",
        text(&out.stderr)
    );
    let out = run_with("mcp-verify", &[&image, "--key", &public, "--json"], &[]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check(
        "oci-registry-without-credentials-undecided",
        out.status.code().unwrap(),
        &report,
    );
    let wrong = [
        ("MCPSIG_REGISTRY_USERNAME", "alice"),
        ("MCPSIG_REGISTRY_PASSWORD", "not-it"),
    ];
    let out = run_with("mcp-verify", &[&image, "--key", &public, "--json"], &wrong);
    assert_eq!(out.status.code(), Some(2));

    // From the environment.
    let out = run_with("mcp-sign", &["attach", s(&bundle), &image], &env_login);
    assert_ok(&out);
    let out = run_with(
        "mcp-verify",
        &[&image, "--key", &public, "--json"],
        &env_login,
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check(
        "oci-registry-credentials-accepted",
        out.status.code().unwrap(),
        &report,
    );

    // From a docker configuration.
    let docker = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
    std::fs::write(
        docker.path().join("config.json"),
        format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    let out = run_with(
        "mcp-verify",
        &[&image, "--key", &public, "--json"],
        &[("DOCKER_CONFIG", s(docker.path()))],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check(
        "oci-registry-credentials-accepted",
        out.status.code().unwrap(),
        &report,
    );
}

/// Scenario oci-policy-version-too-low-rejected: `--policy` decides each attached bundle as it
/// decides a bundle file; the rule is named.
#[test]
fn an_image_is_verified_under_a_policy() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let digest = push_image(&host, REPO, "v1", "v1");
    let ws = Ws::new();
    let bundle = ws.sign_pinning("m", &format!("{host}/{REPO}"), &digest);
    attach(&bundle, &format!("oci://{host}/{REPO}:v1"));
    let policy = ws.dir.path().join("policy.toml");
    let image = format!("oci://{host}/{REPO}:v1");
    for (min, code) in [("1.0.0", 0), ("2.0.0", 1)] {
        std::fs::write(
            &policy,
            format!(
                "schema-version = 1\n[[server]]\nname = \"io.github.acme/server\"\n\
                 min-version = \"{min}\"\n[[server.signer]]\nkey = \"k.key.pub\"\n"
            ),
        )
        .unwrap();
        let out = run("mcp-verify", &[&image, "--policy", s(&policy), "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}{}", text(&out.stdout), text(&out.stderr)));
        assert_eq!(out.status.code(), Some(code), "{report:#}");
        if code == 1 {
            check("oci-policy-version-too-low-rejected", 1, &report);
        }
        let human = run("mcp-verify", &[&image, "--policy", s(&policy)]);
        assert_eq!(human.status.code(), Some(code));
        assert!(
            text(&human.stdout).contains("policy:   rule io.github.acme/server ("),
            "{}",
            text(&human.stdout)
        );
    }
}

/// `mcp-sign init --artifact oci:REGISTRY/REPO:TAG` pins the image by the digest its tag names
/// now (the bytes the registry serves hash to it); the tag is kept as information only.
#[test]
fn an_image_reference_is_pinned_by_the_digest_its_tag_names() {
    let reg = LoopbackRegistry::start();
    let host = reg.host();
    let digest = push_image(&host, REPO, "v1", "v1");
    let ws = Ws::new();
    let out_path = ws.dir.path().join("img.json");
    let reference = format!("oci:{host}/{REPO}:v1");
    let out = run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/img",
            "--version",
            "1.0.0",
            "--artifact",
            &reference,
            "-o",
            s(&out_path),
        ],
    );
    assert_ok(&out);
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    let a = &m["artifacts"][0];
    assert_eq!(a["kind"], "oci");
    assert_eq!(a["name"], format!("{host}/{REPO}").as_str());
    assert_eq!(a["digest"], digest.as_str());
    assert_eq!(a["tag"], "v1");
    // A tag that names nothing cannot be pinned.
    let missing = run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/img",
            "--version",
            "1.0.0",
            "--artifact",
            &format!("oci:{host}/{REPO}:nope"),
            "-o",
            s(&ws.dir.path().join("nope.json")),
        ],
    );
    assert_ne!(missing.status.code(), Some(0), "{}", text(&missing.stderr));
    assert!(!ws.dir.path().join("nope.json").exists());
}
