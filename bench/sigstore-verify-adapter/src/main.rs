//! The `sigstore-verify` crate (sigstore/sigstore-rust) behind the sigstore-conformance CLI
//! contract, so bench/speed.sh can run it side by side with `mcp-verify sigstore verify-bundle`:
//!
//! ```text
//! verify-bundle --bundle B (--certificate-identity I --certificate-oidc-issuer U | --key K) [--trusted-root R] FILE_OR_sha256:HEX
//! bench         (the same arguments) --iterations N
//! ```
//! `bench` parses the trusted root and prepares the verifier once, then N times reads the bundle
//! file, parses it and verifies it, and prints `median_us=.. min_us=.. iterations=N` (the same
//! line as the main crate's `examples/verify_loop.rs`).
//! `--version` prints the versions (bench/speed.sh times it as the start-up figure).
//! Exit codes: 0 verified, 1 rejected, 2 usage or I/O error.

use std::process::ExitCode;
use std::time::Instant;

use sigstore_verify::trust_root::{SIGSTORE_PRODUCTION_TRUSTED_ROOT, TrustedRoot};
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{Policy, PublicKeyVerificationPolicy, VerificationPolicy, Verifier};

/// Why a run failed: `Usage` (exit 2, nothing was checked) or `Rejected` (exit 1).
enum Failure {
    Usage(String),
    Rejected(String),
}

#[derive(Default)]
struct Args {
    bundle: Option<String>,
    identity: Option<String>,
    issuer: Option<String>,
    key: Option<String>,
    trusted_root: Option<String>,
    iterations: Option<usize>,
    input: Option<String>,
}

/// The artifact as given: a file's bytes, or a `sha256:` digest.
enum Input {
    Bytes(Vec<u8>),
    Digest(Sha256Hash),
}

fn parse_args(mut it: impl Iterator<Item = String>, bench: bool) -> Result<Args, Failure> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        let slot = match arg.as_str() {
            "--bundle" => &mut a.bundle,
            "--certificate-identity" => &mut a.identity,
            "--certificate-oidc-issuer" => &mut a.issuer,
            "--key" => &mut a.key,
            "--trusted-root" => &mut a.trusted_root,
            "--iterations" if bench => {
                let v = it.next().unwrap_or_default();
                a.iterations = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Failure::Usage(format!("bad --iterations `{v}`")))?,
                );
                continue;
            }
            s if s.starts_with("--") => return Err(Failure::Usage(format!("unknown option {s}"))),
            _ if a.input.is_none() => {
                a.input = Some(arg);
                continue;
            }
            _ => return Err(Failure::Usage(format!("unexpected argument `{arg}`"))),
        };
        *slot = Some(
            it.next()
                .ok_or_else(|| Failure::Usage(format!("{arg} needs a value")))?,
        );
    }
    Ok(a)
}

fn read(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("cannot read `{path}`: {e}")))
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let cmd = argv.next().unwrap_or_default();
    let result = match cmd.as_str() {
        // The dependency is pinned with `=` in Cargo.toml, so the version printed is the one built.
        "--version" | "-V" => {
            println!("sigstore-verify-adapter 0.1.0 (sigstore-verify 0.15.1)");
            Ok(())
        }
        "verify-bundle" => parse_args(argv, false).and_then(|a| run(&a)),
        "bench" => parse_args(argv, true).and_then(|a| run(&a)),
        _ => Err(Failure::Usage(
            "usage: sigstore-verify-adapter (verify-bundle | bench) --bundle B \
             (--certificate-identity I --certificate-oidc-issuer U | --key K) \
             [--trusted-root R] [--iterations N] FILE_OR_sha256:HEX"
                .into(),
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Rejected(m)) => {
            eprintln!("error: bundle rejected: {m}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
    }
}

fn run(a: &Args) -> Result<(), Failure> {
    let bundle_path = a
        .bundle
        .as_deref()
        .ok_or_else(|| Failure::Usage("--bundle is required".into()))?;
    let input = a
        .input
        .as_deref()
        .ok_or_else(|| Failure::Usage("FILE_OR_sha256:HEX is required".into()))?;
    let rejected = |e: &dyn std::fmt::Display| Failure::Rejected(e.to_string());

    let root_json = match &a.trusted_root {
        Some(p) => read(p)?,
        None => SIGSTORE_PRODUCTION_TRUSTED_ROOT.to_owned(),
    };
    let root = TrustedRoot::from_json(&root_json).map_err(|e| rejected(&e))?;
    let verifier = Verifier::new(&root).map_err(|e| rejected(&e))?;
    let policy: Box<dyn Policy> = match (&a.key, &a.identity, &a.issuer) {
        (Some(k), None, None) => Box::new(PublicKeyVerificationPolicy::new(
            DerPublicKey::from_pem(&read(k)?).map_err(|e| rejected(&e))?,
        )),
        (None, Some(id), Some(iss)) => Box::new(VerificationPolicy::new(id.as_str(), iss.as_str())),
        _ => {
            return Err(Failure::Usage(
                "give either --key, or both --certificate-identity and --certificate-oidc-issuer"
                    .into(),
            ));
        }
    };
    let artifact = match input.strip_prefix("sha256:") {
        Some(hex) => Input::Digest(
            Sha256Hash::from_hex(hex)
                .map_err(|e| Failure::Usage(format!("invalid digest `{input}`: {e}")))?,
        ),
        None => Input::Bytes(
            std::fs::read(input)
                .map_err(|e| Failure::Usage(format!("cannot read `{input}`: {e}")))?,
        ),
    };

    // One iteration: what a verifier of many bundles does per bundle.
    let once = || -> Result<(), Failure> {
        let bundle = Bundle::from_json(&read(bundle_path)?).map_err(|e| rejected(&e))?;
        match &artifact {
            Input::Bytes(b) => verifier.verify(b, &bundle, policy.as_ref()),
            Input::Digest(d) => verifier.verify(d, &bundle, policy.as_ref()),
        }
        .map(|_| ())
        .map_err(|e| rejected(&e))
    };
    once()?;
    let Some(n) = a.iterations else {
        println!("OK: {bundle_path}");
        return Ok(());
    };
    let mut micros = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        once()?;
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    println!(
        "median_us={:.1} min_us={:.1} iterations={n}",
        micros[n / 2],
        micros[0]
    );
    Ok(())
}
