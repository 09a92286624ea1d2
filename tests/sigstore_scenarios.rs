//! Every directory testdata/scenarios/sigstore-<property>/ holds one bundle with the inputs to
//! verify it and an `expected` file (`accept` or `reject <reason-code>`). Each is run with the
//! artifact's bytes and with its digest; both must give the expected outcome and reason code.
//! The directories are built by testdata/scenarios/sigstore-scenarios-gen/generate.py. A
//! `trusted_root.sparse-bytes` file stands for a trusted root of that many bytes (a sparse file
//! made at test time, too large to check in).

mod common;

use std::path::{Path, PathBuf};

use common::sigstore_case::{io, read_trim, verify_case};
use mcpsig::sigstore::SigstoreError;
use mcpsig::sigstore::trust::TrustedRoot;

fn run(dir: &Path, by_digest: bool) -> Result<(), SigstoreError> {
    let art_path = dir.join("artifact");
    let artifact = std::fs::read(&art_path).map_err(io(&art_path))?;
    let sparse = read_trim(&dir.join("trusted_root.sparse-bytes"));
    let work = tempfile::tempdir().map_err(io(dir))?;
    let root = match (dir.join("trusted_root.json"), sparse) {
        (p, _) if p.exists() => TrustedRoot::from_file(&p)?,
        (_, Some(size)) => {
            let p = work.path().join("trusted_root.json");
            let f = std::fs::File::create(&p).map_err(io(&p))?;
            let size = size.parse().map_err(|_| {
                io(dir)(std::io::Error::other(
                    "trusted_root.sparse-bytes is not a number",
                ))
            })?;
            f.set_len(size).map_err(io(&p))?;
            TrustedRoot::from_file(&p)?
        }
        _ => TrustedRoot::production()?,
    };
    verify_case(dir, &root, &artifact, by_digest)
}

#[test]
fn sigstore_scenarios_give_expected_outcome() -> Result<(), std::io::Error> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/scenarios");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.join("expected").exists()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("sigstore-"))
        })
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 25,
        "expected the sigstore scenarios, found {}",
        dirs.len()
    );
    let mut wrong = Vec::new();
    for dir in &dirs {
        let expected = read_trim(&dir.join("expected")).unwrap_or_default();
        for by_digest in [false, true] {
            let got = match run(dir, by_digest) {
                Ok(()) => "accept".to_owned(),
                Err(e) => format!("reject {}", e.reason_code()),
            };
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let detail = run(dir, by_digest)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            println!(
                "{name} [{}]: {got} {detail}",
                if by_digest { "DIGEST" } else { "PATH" }
            );
            if got != expected {
                wrong.push(format!(
                    "{name}: expected `{expected}`, got `{got}` ({detail})"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "wrong outcomes:\n{}", wrong.join("\n"));
    Ok(())
}
