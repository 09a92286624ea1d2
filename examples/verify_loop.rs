//! In-process Sigstore bundle verification timing for bench/speed.sh, with the same protocol and
//! output as the peer adapter (bench/sigstore-verify-adapter): the trusted root is parsed once,
//! then N times the bundle file is read, parsed and verified through the public API.
//!
//! ```text
//! cargo run --release --example verify_loop -- bench --bundle B \
//!     (--certificate-identity I --certificate-oidc-issuer U | --key K) [--trusted-root R] \
//!     --iterations N FILE_OR_sha256:HEX
//! ```
//! Prints `median_us=.. min_us=.. iterations=N`. Exit codes: 0 verified every time, 1 rejected,
//! 2 usage or I/O error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mcpsig::digest::{Algorithm, Digest};
use mcpsig::error_chain;
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::{ArtifactRef, Bundle, SignerPolicy, VerifyOptions, verify_bundle};
use mcpsig::trust_request::conformance::conformance_root;
use mcpsig::verify::read_bundle_file;

/// Why a run failed: `Usage` (exit 2, nothing was checked) or `Rejected` (exit 1).
enum Failure {
    Usage(String),
    Rejected(String),
}

#[derive(Default)]
struct Args {
    bundle: Option<PathBuf>,
    identity: Option<String>,
    issuer: Option<String>,
    key: Option<PathBuf>,
    trusted_root: Option<PathBuf>,
    iterations: Option<usize>,
    input: Option<String>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, Failure> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        let value = |it: &mut dyn Iterator<Item = String>| {
            it.next()
                .ok_or_else(|| Failure::Usage(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--bundle" => a.bundle = Some(value(&mut it)?.into()),
            "--certificate-identity" => a.identity = Some(value(&mut it)?),
            "--certificate-oidc-issuer" => a.issuer = Some(value(&mut it)?),
            "--key" => a.key = Some(value(&mut it)?.into()),
            "--trusted-root" => a.trusted_root = Some(value(&mut it)?.into()),
            "--iterations" => {
                let v = value(&mut it)?;
                a.iterations = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Failure::Usage(format!("bad --iterations `{v}`")))?,
                );
            }
            s if s.starts_with("--") => return Err(Failure::Usage(format!("unknown option {s}"))),
            _ if a.input.is_none() => a.input = Some(arg),
            _ => return Err(Failure::Usage(format!("unexpected argument `{arg}`"))),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    // The same provider switch as the binaries, so both providers can be timed.
    if let Ok(name) = std::env::var("MCPSIG_CRYPTO_PROVIDER")
        && let Err(e) = mcpsig::crypto::install_named(&name)
    {
        eprintln!("MCPSIG_CRYPTO_PROVIDER: {e}");
        return ExitCode::from(2);
    }
    let mut argv = std::env::args().skip(1);
    let result = match argv.next().as_deref() {
        Some("bench") => parse_args(argv).and_then(|a| run(&a)),
        _ => Err(Failure::Usage(
            "usage: verify_loop bench --bundle B \
             (--certificate-identity I --certificate-oidc-issuer U | --key K) \
             [--trusted-root R] --iterations N FILE_OR_sha256:HEX"
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
    let (Some(bundle_path), Some(input), Some(n)) = (&a.bundle, &a.input, a.iterations) else {
        return Err(Failure::Usage(
            "--bundle, --iterations and FILE_OR_sha256:HEX are required".into(),
        ));
    };
    let usage = |e: &dyn std::error::Error| Failure::Usage(error_chain(e));
    let rejected = |e: &dyn std::error::Error| Failure::Rejected(error_chain(e));

    let root = conformance_root(a.trusted_root.as_deref(), false).map_err(|e| usage(&e))?;
    let signer = match (&a.key, &a.identity, &a.issuer) {
        (Some(k), None, None) => {
            SignerPolicy::Key(mcpsig::keys::public_key_from_file(k).map_err(|e| usage(&e))?)
        }
        (None, Some(id), Some(iss)) => SignerPolicy::Identity(IdentityPolicy::exact(id, iss)),
        _ => {
            return Err(Failure::Usage(
                "give either --key, or both --certificate-identity and --certificate-oidc-issuer"
                    .into(),
            ));
        }
    };
    let bytes;
    let artifact = if input.starts_with("sha256:") {
        let digest: Digest = input
            .parse()
            .map_err(|_| Failure::Usage(format!("invalid digest `{input}`")))?;
        match (digest.algorithm(), <[u8; 32]>::try_from(digest.as_bytes())) {
            (Algorithm::Sha256, Ok(d)) => ArtifactRef::Sha256(d),
            _ => return Err(Failure::Usage(format!("invalid digest `{input}`"))),
        }
    } else {
        bytes = std::fs::read(Path::new(input))
            .map_err(|e| Failure::Usage(format!("cannot read `{input}`: {e}")))?;
        ArtifactRef::Bytes(&bytes)
    };
    let opts = VerifyOptions {
        trusted_root: Some(&root),
        signer,
        require_transparency: true,
    };

    // One iteration: what a verifier of many bundles does per bundle.
    let once = || -> Result<(), Failure> {
        let json = read_bundle_file(bundle_path).map_err(|e| usage(&e))?;
        let bundle = Bundle::from_json(&json).map_err(|e| rejected(&e))?;
        verify_bundle(&bundle, Some(artifact), &opts)
            .map(|_| ())
            .map_err(|e| rejected(&e))
    };
    once()?;
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
