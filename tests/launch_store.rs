//! The launch store: a verified tree is hashed while it is copied into a private, read-only,
//! content-addressed snapshot, and the server runs from that snapshot (spec/launch-store.md).
//! Each test names its scenario under testdata/scenarios/store-*; the server is the project's
//! own tests/servers/drift-server.py, started for real.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::root;
use mcpsig::digest::Algorithm;
use mcpsig::digest::glob::Pattern;
use mcpsig::keys::PrivateKey;
use mcpsig::launch::{LaunchError, prepare};
use mcpsig::manifest::init::{InitRequest, build};
use mcpsig::manifest::{Artifact, Manifest};
use mcpsig::mcp::{ClientOptions, Launch, list_server};
use mcpsig::reason::Reason;
use mcpsig::sign::{KeySigner, sign_manifest};
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::store::{How, Outcome, Store, StoreError};
use mcpsig::verify::{Checks, LocalArtifact, Report, Request, Trust, verify};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A signed server tree `srv/` (drift-server.py, a helper, an executable, a symlink and an
/// excluded `.git`), its bundle, the trust to verify it and a store in `data/store`.
struct Ws {
    dir: tempfile::TempDir,
    manifest: Manifest,
    bundle: Vec<u8>,
    trust: Trust,
    store: Store,
}

impl Drop for Ws {
    /// Snapshots are read-only: make them removable so the temporary folder goes away.
    fn drop(&mut self) {
        let _ = std::process::Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(self.dir.path())
            .status();
    }
}

impl Ws {
    fn srv(&self) -> PathBuf {
        self.dir.path().join("srv")
    }

    fn digest(&self) -> mcpsig::digest::Digest {
        match &self.manifest.artifacts[0] {
            Artifact::Directory { digest, .. } => digest.clone(),
            other => panic!("not a directory artifact: {other:?}"),
        }
    }

    fn entries(&self) -> Vec<mcpsig::digest::tree::Entry> {
        match &self.manifest.artifacts[0] {
            Artifact::Directory { entries, .. } => entries.clone(),
            other => panic!("not a directory artifact: {other:?}"),
        }
    }

    fn excludes(&self) -> Vec<Pattern> {
        match &self.manifest.artifacts[0] {
            Artifact::Directory { exclude, .. } => exclude.clone(),
            other => panic!("not a directory artifact: {other:?}"),
        }
    }

    /// Verifies the bundle, checking `srv/` by snapshotting it into the store.
    fn verify(&self) -> Report {
        verify(&Request {
            bundle: &self.bundle,
            trust: &self.trust,
            now: mcpsig::chrono::Utc::now(),
            checks: Checks {
                dirs: vec![LocalArtifact {
                    artifact: None,
                    path: self.srv(),
                }],
                snapshot: Some(self.store.clone()),
                ..Checks::default()
            },
        })
        .unwrap()
    }

    fn snapshot(&self) -> Outcome {
        self.store
            .snapshot(
                &self.srv(),
                &self.excludes(),
                Algorithm::Sha256,
                &self.digest(),
                Some(&self.entries()),
            )
            .unwrap()
    }

    /// Temporary folders left in the store (a build that did not finish cleanly).
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.store.root().join("trees"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    }
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn workspace(launch: &str) -> Ws {
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    write(
        &srv.join("drift-server.py"),
        &std::fs::read(root().join("tests/servers/drift-server.py")).unwrap(),
    );
    write(&srv.join("lib/helper.txt"), b"helper\n");
    write(
        &srv.join("bin/run.sh"),
        b"#!/bin/sh\nexec python3 drift-server.py\n",
    );
    std::fs::set_permissions(srv.join("bin/run.sh"), PermissionsExt::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("lib/helper.txt", srv.join("helper-link")).unwrap();
    write(&srv.join(".git/HEAD"), b"ref: refs/heads/main\n");
    std::fs::create_dir_all(srv.join("empty/inner")).unwrap();
    let mut req = InitRequest::new("io.github.acme/store", "1.0.0", &srv);
    req.launch = Some(launch.to_owned());
    req.output = dir.path().join("mcp-manifest.json");
    let manifest = build(&req, None).unwrap().manifest;
    let key = PrivateKey::generate().unwrap();
    let bundle = sign_manifest(&manifest, &KeySigner::new(&key))
        .unwrap()
        .to_json_pretty();
    let trust = Trust::Key {
        key: key.public_key(),
        trusted_root: TrustedRoot::production().unwrap(),
    };
    let store = Store::open(&dir.path().join("data/store")).unwrap();
    Ws {
        dir,
        manifest,
        bundle,
        trust,
        store,
    }
}

fn tool_names(launch: mcpsig::mcp::StdioLaunch) -> Vec<String> {
    let listing = list_server(&Launch::Stdio(launch), &ClientOptions::default()).unwrap();
    listing
        .tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// Waits until every entry of the tree is older than the racy margin, so that its fingerprint
/// may be recorded (a change in the same timestamp tick as the stat would be invisible).
fn let_the_tree_age() {
    let margin = mcpsig::digest::stat_print::RACY_MARGIN_NS as u64;
    std::thread::sleep(std::time::Duration::from_nanos(margin + 200_000_000));
}

/// Scenario store-launch-runs-snapshot.
#[test]
fn a_verified_tree_runs_from_its_read_only_snapshot() {
    let ws = workspace("python3 drift-server.py");
    let report = ws.verify();
    assert!(report.verified, "{:?}", report.problems);
    let snap = report.artifacts[0].snapshot.clone().unwrap();
    assert_eq!(snap, ws.store.tree_path(&ws.digest()));
    assert!(snap.starts_with(ws.store.root().join("trees")));
    // Sealed: files 0444 (0555 when executable), folders 0555, the link recreated, the
    // excluded `.git` and the empty folders (pinned by nothing) absent.
    assert_eq!(mode(&snap), 0o555);
    assert_eq!(mode(&snap.join("lib")), 0o555);
    assert_eq!(mode(&snap.join("drift-server.py")), 0o444);
    assert_eq!(mode(&snap.join("bin/run.sh")), 0o555);
    assert_eq!(
        std::fs::read_link(snap.join("helper-link")).unwrap(),
        Path::new("lib/helper.txt")
    );
    assert!(!snap.join(".git").exists());
    assert!(!snap.join("empty").exists());
    assert_eq!(
        std::fs::read(snap.join("drift-server.py")).unwrap(),
        std::fs::read(ws.srv().join("drift-server.py")).unwrap()
    );
    // (Root writes through any mode; everyone else is refused.)
    if std::fs::metadata(ws.dir.path()).unwrap().uid() != 0 {
        assert!(std::fs::write(snap.join("drift-server.py"), b"x").is_err());
    }
    // Its JSON report names the snapshot.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["artifacts"][0]["snapshot"], snap.display().to_string());

    let manifest = report.manifest.as_ref().unwrap();
    let launch = prepare(manifest, &snap, &[]).unwrap();
    assert_eq!(launch.cwd.as_deref(), Some(snap.as_path()));
    assert_eq!(launch.program, "python3");
    let names = tool_names(launch);
    assert!(names.contains(&"read_note".to_owned()), "{names:?}");
    assert!(ws.leftovers().is_empty());
}

/// Scenario store-launch-command-inside-snapshot.
#[test]
fn a_command_naming_a_file_of_the_tree_runs_the_snapshot_copy() {
    let ws = workspace("./bin/run.sh");
    let report = ws.verify();
    assert!(report.verified, "{:?}", report.problems);
    let snap = report.artifacts[0].snapshot.clone().unwrap();
    let manifest = report.manifest.as_ref().unwrap();
    let launch = prepare(manifest, &snap, &[]).unwrap();
    assert_eq!(
        launch.program,
        snap.join("bin/run.sh").display().to_string()
    );
    // The source's copy is replaced by one that would fail; the snapshot's still runs.
    std::fs::write(ws.srv().join("bin/run.sh"), b"#!/bin/sh\nexit 3\n").unwrap();
    let names = tool_names(launch);
    assert!(names.contains(&"write_note".to_owned()), "{names:?}");
}

/// Scenario store-launch-outside-snapshot-refused.
#[test]
fn a_launch_leaving_the_snapshot_or_from_another_folder_is_refused() {
    let ws = workspace("../escape.sh");
    let report = ws.verify();
    assert!(report.verified, "{:?}", report.problems);
    let snap = report.artifacts[0].snapshot.clone().unwrap();
    let manifest = report.manifest.as_ref().unwrap();
    assert!(matches!(
        prepare(manifest, &snap, &[]),
        Err(LaunchError::ProgramOutsideSnapshot { .. })
    ));
    // Only a snapshot of a tree this manifest pins is launched from.
    assert!(matches!(
        prepare(manifest, &ws.srv(), &[]),
        Err(LaunchError::NotThisManifest { .. })
    ));
}

/// Scenario store-tampered-tree-not-snapshotted.
#[test]
fn a_tree_changed_after_signing_is_refused_and_not_stored() {
    let ws = workspace("python3 drift-server.py");
    let marker = ws.dir.path().join("STARTED");
    let server = ws.srv().join("drift-server.py");
    let original = std::fs::read_to_string(&server).unwrap();
    std::fs::write(
        &server,
        format!(
            "open({:?}, 'w').write('ran')\n{original}",
            marker.display().to_string()
        ),
    )
    .unwrap();
    let report = ws.verify();
    assert!(!report.verified);
    assert!(report.manifest.is_none());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.reason == Reason::ArtifactMismatch
                && p.path.as_deref() == Some("drift-server.py")),
        "{:?}",
        report.problems
    );
    assert_eq!(report.artifacts[0].snapshot, None);
    assert!(!ws.store.tree_path(&ws.digest()).exists());
    assert!(ws.leftovers().is_empty(), "{:?}", ws.leftovers());
    assert!(!marker.exists());
    // An added file is refused the same way.
    std::fs::write(&server, &original).unwrap();
    write(&ws.srv().join("lib/extra.py"), b"import os\n");
    let report = ws.verify();
    assert!(!report.verified);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.reason == Reason::ArtifactMismatch)
    );
    assert!(!ws.store.tree_path(&ws.digest()).exists());
}

/// Scenario store-unmatchable-file-not-copied.
#[test]
fn a_file_that_cannot_match_is_neither_read_nor_copied_into_the_store() {
    // A pinned file grown to a gigabyte and a gigabyte added, both sparse (free to make): read
    // and copied, they would fill the store's disk with zeros (a terabyte as easily as this).
    // Their sizes alone say the tree does not match.
    let ws = workspace("python3 drift-server.py");
    let gig = 1u64 << 30;
    std::fs::OpenOptions::new()
        .write(true)
        .open(ws.srv().join("lib/helper.txt"))
        .unwrap()
        .set_len(gig)
        .unwrap();
    std::fs::File::create(ws.srv().join("lib/huge.bin"))
        .unwrap()
        .set_len(gig)
        .unwrap();
    let Outcome::Mismatch { entries, .. } = ws.snapshot() else {
        panic!("a changed tree was snapshotted");
    };
    let unread: Vec<&str> = entries
        .iter()
        .filter(|e| {
            matches!(&e.kind, mcpsig::digest::tree::EntryKind::File { digest, .. }
            if digest.as_bytes().iter().all(|b| *b == 0))
        })
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(unread, ["lib/helper.txt", "lib/huge.bin"]);
    assert!(!ws.store.tree_path(&ws.digest()).exists());
    assert!(ws.leftovers().is_empty(), "{:?}", ws.leftovers());
    // Through verification: both named, nothing stored.
    let report = ws.verify();
    assert!(!report.verified);
    let named: Vec<&str> = report
        .problems
        .iter()
        .filter_map(|p| p.path.as_deref())
        .collect();
    assert_eq!(
        named,
        ["lib/helper.txt", "lib/huge.bin"],
        "{:?}",
        report.problems
    );
    assert!(
        report.problems[0].message.contains("1073741824 bytes"),
        "{:?}",
        report.problems
    );
}

/// Scenario store-source-changed-after-verify.
#[test]
fn the_launched_bytes_are_the_hashed_bytes() {
    let ws = workspace("python3 drift-server.py");
    let report = ws.verify();
    assert!(report.verified, "{:?}", report.problems);
    let snap = report.artifacts[0].snapshot.clone().unwrap();
    // Between verification and launch, the source is rewritten: it would leave a marker and
    // drift its tools. What runs is the snapshot, whose bytes were hashed as they were written.
    let marker = ws.dir.path().join("STARTED");
    let server = ws.srv().join("drift-server.py");
    let original = std::fs::read_to_string(&server).unwrap();
    std::fs::write(
        &server,
        format!(
            "import os\nos.environ['DRIFT'] = 'add-tool'\nopen({:?}, 'w').write('ran')\n{original}",
            marker.display().to_string()
        ),
    )
    .unwrap();
    let launch = prepare(report.manifest.as_ref().unwrap(), &snap, &[]).unwrap();
    let names = tool_names(launch.clone());
    assert!(!marker.exists(), "the source ran, not the snapshot");
    // The rewritten source really is hostile: run from the source folder, it drifts.
    let mut from_source = launch;
    from_source.cwd = Some(ws.srv());
    let drifted = tool_names(from_source);
    assert!(marker.exists());
    assert_ne!(names, drifted);
}

/// Scenario store-relaunch-reuses-unchanged.
#[test]
fn an_unchanged_source_reuses_its_snapshot_unread() {
    let ws = workspace("python3 drift-server.py");
    let_the_tree_age();
    let Outcome::Ready(first) = ws.snapshot() else {
        panic!("mismatch")
    };
    assert_eq!(first.how, How::Copied);
    let ino = std::fs::metadata(&first.path).unwrap().ino();
    let file_ino = std::fs::metadata(first.path.join("drift-server.py"))
        .unwrap()
        .ino();
    for _ in 0..3 {
        let Outcome::Ready(again) = ws.snapshot() else {
            panic!("mismatch")
        };
        assert_eq!(again.how, How::Reused);
        assert_eq!(again.path, first.path);
    }
    // Nothing was copied again: the same folder and files.
    assert_eq!(std::fs::metadata(&first.path).unwrap().ino(), ino);
    assert_eq!(
        std::fs::metadata(first.path.join("drift-server.py"))
            .unwrap()
            .ino(),
        file_ino
    );
    // Through verification too.
    let report = ws.verify();
    assert!(report.verified);
    assert_eq!(
        report.artifacts[0].snapshot.as_deref(),
        Some(first.path.as_path())
    );
}

/// Scenario store-relaunch-rehashes-changed-source.
#[test]
fn a_touched_or_changed_source_is_hashed_again() {
    let ws = workspace("python3 drift-server.py");
    let_the_tree_age();
    assert!(matches!(ws.snapshot(), Outcome::Ready(s) if s.how == How::Copied));
    assert!(matches!(ws.snapshot(), Outcome::Ready(s) if s.how == How::Reused));
    // The same bytes written again: the ctime moved, so the tree is hashed (and still matches).
    let helper = ws.srv().join("lib/helper.txt");
    std::fs::write(&helper, b"helper\n").unwrap();
    assert!(matches!(ws.snapshot(), Outcome::Ready(s) if s.how == How::Existing));
    // A mode change alone is seen too.
    std::fs::set_permissions(&helper, PermissionsExt::from_mode(0o600)).unwrap();
    assert!(matches!(ws.snapshot(), Outcome::Ready(s) if s.how == How::Existing));
    // Other content: a mismatch, whatever the store holds.
    std::fs::write(&helper, b"HELPER\n").unwrap();
    assert!(matches!(ws.snapshot(), Outcome::Mismatch { .. }));
    let report = ws.verify();
    assert!(!report.verified);
    assert!(report.problems.iter().any(
        |p| p.reason == Reason::ArtifactMismatch && p.path.as_deref() == Some("lib/helper.txt")
    ));
    assert!(ws.leftovers().is_empty());
}

/// Scenario store-group-writable-refused.
#[test]
fn a_store_others_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    std::fs::set_permissions(&store, PermissionsExt::from_mode(0o770)).unwrap();
    assert!(matches!(
        Store::open(&store),
        Err(StoreError::Private(
            mcpsig::fsutil::private_dir::PrivateDirError::Unsafe { .. }
        ))
    ));
    std::fs::set_permissions(&store, PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::create_dir(store.join("trees")).unwrap();
    std::fs::set_permissions(store.join("trees"), PermissionsExt::from_mode(0o722)).unwrap();
    assert!(matches!(Store::open(&store), Err(StoreError::Private(_))));
}

/// Scenario store-damaged-snapshot-refused.
#[test]
fn a_snapshot_made_writable_is_not_trusted() {
    let ws = workspace("python3 drift-server.py");
    let report = ws.verify();
    let snap = report.artifacts[0].snapshot.clone().unwrap();
    std::fs::set_permissions(&snap, PermissionsExt::from_mode(0o755)).unwrap();
    let err = ws
        .store
        .snapshot(
            &ws.srv(),
            &ws.excludes(),
            Algorithm::Sha256,
            &ws.digest(),
            Some(&ws.entries()),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
    assert!(err.hint().is_some());
    // Verification cannot decide then (exit 2), and hands out no manifest.
    let out = verify(&Request {
        bundle: &ws.bundle,
        trust: &ws.trust,
        now: mcpsig::chrono::Utc::now(),
        checks: Checks {
            dirs: vec![LocalArtifact {
                artifact: None,
                path: ws.srv(),
            }],
            snapshot: Some(ws.store.clone()),
            ..Checks::default()
        },
    });
    assert!(matches!(
        out,
        Err(mcpsig::verify::VerifyError::Store { .. })
    ));
    // Removed, it is rebuilt.
    ws.store.remove_snapshot(&ws.digest()).unwrap();
    assert!(ws.verify().verified);
}

/// Scenario store-concurrent-snapshots.
#[test]
fn concurrent_snapshots_of_one_tree_both_succeed() {
    for _ in 0..3 {
        let ws = workspace("python3 drift-server.py");
        let results: Vec<Outcome> = std::thread::scope(|s| {
            let a = s.spawn(|| ws.snapshot());
            let b = s.spawn(|| ws.snapshot());
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        let target = ws.store.tree_path(&ws.digest());
        let mut copied = 0;
        for r in results {
            let Outcome::Ready(s) = r else {
                panic!("mismatch")
            };
            assert_eq!(s.path, target);
            copied += usize::from(s.how == How::Copied);
        }
        assert!(copied <= 1, "two builders both installed a snapshot");
        assert_eq!(mode(&target), 0o555);
        assert!(ws.leftovers().is_empty(), "{:?}", ws.leftovers());
    }
}

/// Scenario store-file-rewritten-while-hashed.
#[test]
fn a_file_rewritten_while_it_is_hashed_never_yields_other_bytes() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    // Two contents of different lengths; a reader racing the writer can see either, or a mix.
    let good: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let evil = vec![b'#'; 700_000];
    write(&srv.join("server.js"), &good);
    write(&srv.join("lib/other.js"), b"other");
    let pinned = mcpsig::digest::tree::tree_digest(
        &mcpsig::digest::tree::hash_tree(&srv, &[], Algorithm::Sha256).unwrap(),
    );
    let stop = AtomicBool::new(false);
    let (mut ready, mut refused) = (0, 0);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Bounded: the loop below stops it; a cap keeps a failure from hanging the suite.
            // Bursts of rewrites with quiet gaps of varying length between them, so that some
            // snapshots race a rewrite and some do not.
            for i in 0..20_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = std::fs::write(srv.join("server.js"), &evil);
                let _ = std::fs::write(srv.join("server.js"), &good);
                std::thread::sleep(std::time::Duration::from_millis(i % 7 * 8));
            }
        });
        for round in 0..20 {
            let store = Store::open(&dir.path().join(format!("store{round}"))).unwrap();
            match store.snapshot(&srv, &[], Algorithm::Sha256, &pinned, None) {
                Ok(Outcome::Ready(snap)) => {
                    ready += 1;
                    assert_eq!(std::fs::read(snap.path.join("server.js")).unwrap(), good);
                }
                Ok(Outcome::Mismatch { .. }) => {
                    refused += 1;
                    assert!(!store.tree_path(&pinned).exists());
                }
                // The file may be caught mid-rewrite in other ways (it shrank while read).
                Err(StoreError::Tree { .. }) => refused += 1,
                Err(e) => panic!("{e:?}"),
            }
            let left: Vec<_> = std::fs::read_dir(store.root().join("trees"))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| n.to_string_lossy().starts_with('.'))
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
        stop.store(true, Ordering::Relaxed);
    });
    eprintln!("{ready} snapshots ready, {refused} refused while the file was rewritten");
    assert_eq!(ready + refused, 20);
    let _ = std::process::Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(dir.path())
        .status();
}

/// Every store-* scenario directory is one of the tests above (none is left unrun).
#[test]
fn every_store_scenario_is_run_here() {
    let this = std::fs::read_to_string(root().join("tests/launch_store.rs")).unwrap();
    let mut seen = 0;
    for e in std::fs::read_dir(root().join("testdata/scenarios")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("store-") {
            seen += 1;
            assert!(
                this.contains(&format!("/// Scenario {name}.")),
                "testdata/scenarios/{name} is run by no test"
            );
        }
    }
    assert!(seen >= 11, "store scenarios missing: found {seen}");
}
