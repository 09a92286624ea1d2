//! `mcp-sign`: create, pin and sign MCP server manifests. Argument parsing and output only; every
//! decision is made by the `mcpsig` library.

mod keyless_cmd;
use anyhow::Context;
use clap::{Parser, Subcommand};
use mcpsig::cli::{EXIT_ERROR, EXIT_OK, EXIT_REJECTED, print_error_as, read_passphrase};
use mcpsig::digest::glob::Pattern;
use mcpsig::digest::{Algorithm, tree};
use mcpsig::fsutil::{read_limited, write_atomic};
use mcpsig::keys::PrivateKey;
use mcpsig::manifest::{
    Artifact, Launch, Manifest, SCHEMA_VERSION, ServerId, ServerName, Timestamp, Version,
};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod tools_cmd;

const AFTER_HELP: &str = "\
Examples:
  mcp-sign keygen --out release.key
  mcp-sign init --name io.github.acme/weather --version 1.2.0 --dir ./server \\
      --launch 'node dist/index.js'
  mcp-sign sign --key release.key mcp-manifest.json
  mcp-verify mcp-manifest.sigstore.json --key release.key.pub --dir ./server

Exit codes: 0 done, 1 input refused (invalid manifest or JSON), 2 could not run (usage, I/O).";

#[derive(Parser)]
#[command(name = "mcp-sign", version, about = "Create, pin and sign MCP server manifests", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Print the result as JSON on stdout (errors too); human messages still go to stderr.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate an Ed25519 signing key: PATH (PKCS#8 PEM, mode 0600) and PATH.pub (SPKI PEM).
    #[command(
        after_help = "Set MCPSIG_KEY_PASSPHRASE (or answer the prompt) with --encrypt.\n\nExample:\n  mcp-sign keygen --out release.key --encrypt"
    )]
    Keygen {
        /// Where to write the private key; the public key goes to PATH.pub.
        #[arg(long, short = 'o', value_name = "PATH")]
        out: PathBuf,
        /// Encrypt the private key with a passphrase (PBES2, scrypt + AES-256-CBC).
        #[arg(long)]
        encrypt: bool,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Write a manifest pinning a server directory (every file's path and digest).
    #[command(
        after_help = "Example:\n  mcp-sign init --name io.github.acme/weather --version 1.2.0 --dir ./server \\\n      --launch 'node dist/index.js' --exclude 'node_modules/.cache' --expires-in-days 365"
    )]
    Init(InitArgs),
    /// Sign a manifest into a Sigstore bundle (in-toto statement in a DSSE envelope).
    #[command(
        after_help = "Examples:\n  mcp-sign sign --key release.key mcp-manifest.json    # writes mcp-manifest.sigstore.json\n  mcp-sign sign --keyless mcp-manifest.json            # Sigstore public-good instance\n\nKeyless signing takes its identity token from --identity-token-file (FILE, or - for stdin),\n--identity-token, SIGSTORE_ID_TOKEN, GitHub Actions (permissions: id-token: write), or a\nbrowser login when run in a terminal. A token on the command line is visible to other users\nof the machine; pass it in a file, on stdin or in SIGSTORE_ID_TOKEN instead."
    )]
    Sign {
        /// Private key (PKCS#8 PEM; encrypted keys read MCPSIG_KEY_PASSPHRASE or prompt).
        #[arg(long, value_name = "KEY", required_unless_present = "keyless")]
        key: Option<PathBuf>,
        /// Sign keylessly through Sigstore (Fulcio certificate for your OIDC identity, Rekor
        /// log entry) instead of with a key.
        #[arg(long, conflicts_with = "key")]
        keyless: bool,
        /// Bundle path (default: the manifest's stem + `.sigstore.json`, beside it).
        #[arg(long, short = 'o', value_name = "BUNDLE")]
        output: Option<PathBuf>,
        /// Replace an existing bundle.
        #[arg(long)]
        force: bool,
        manifest: PathBuf,
        #[command(flatten, next_help_heading = "Keyless")]
        keyless_args: keyless_cmd::KeylessArgs,
    },
    /// Print the RFC 8785 canonical form of a JSON document (stdin when FILE is absent).
    Canonicalize { file: Option<PathBuf> },
    /// Print the digest of a file, or the tree digest of a directory (as `init` would pin it).
    #[command(after_help = "Example:\n  mcp-sign digest ./server --exclude node_modules/.cache")]
    Digest {
        path: PathBuf,
        /// Exclude paths matching this glob (directories only); repeatable.
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
        /// sha256 (default) or sha512.
        #[arg(long, default_value = "sha256", value_parser = ["sha256", "sha512"])]
        algorithm: String,
    },
    /// Launch the server, capture its tools, prompts and resource templates, pin them into the manifest.
    Tools(tools_cmd::ToolsArgs),
    /// Sigstore client commands (the Sigstore conformance CLI contract).
    #[command(subcommand)]
    Sigstore(SigstoreCmd),
}

#[derive(Subcommand)]
enum SigstoreCmd {
    /// Sign FILE keylessly into a Sigstore bundle (`--in-toto`: FILE is an in-toto statement,
    /// signed as a DSSE envelope).
    #[command(
        after_help = "Example:\n  mcp-sign sigstore sign-bundle --identity-token-file token.jwt --bundle a.txt.sigstore.json a.txt"
    )]
    SignBundle(keyless_cmd::SignBundleArgs),
}

/// An error with the exit code and reason it maps to.
struct Failure {
    err: anyhow::Error,
    code: u8,
    hint: Option<String>,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure {
            err: e.into(),
            code: EXIT_ERROR,
            hint: None,
        }
    }
}

fn refused(err: impl Into<anyhow::Error>) -> Failure {
    Failure {
        err: err.into(),
        code: EXIT_REJECTED,
        hint: None,
    }
}

/// Set once from `--json` before any command runs.
static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints a command's result: `human` as a line on stdout, or `json` as a document with `--json`.
pub(crate) fn emit(human: &str, json: serde_json::Value) {
    if JSON.load(std::sync::atomic::Ordering::Relaxed) {
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else if !human.is_empty() {
        mcpsig::outln!("{human}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    JSON.store(cli.json, std::sync::atomic::Ordering::Relaxed);
    match run(cli.cmd) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => {
            print_error_as(
                f.err.as_ref(),
                if f.code == EXIT_REJECTED {
                    "refused"
                } else {
                    "error"
                },
                f.hint.as_deref(),
                cli_json(),
                false,
            );
            ExitCode::from(f.code)
        }
    }
}

fn cli_json() -> bool {
    JSON.load(std::sync::atomic::Ordering::Relaxed)
}

fn run(cmd: Cmd) -> Result<(), Failure> {
    match cmd {
        Cmd::Keygen {
            out,
            encrypt,
            force,
        } => keygen(&out, encrypt, force),
        Cmd::Init(args) => init(args),
        Cmd::Sign {
            key,
            keyless: _,
            keyless_args,
            output,
            force,
            manifest,
        } => sign(key.as_deref(), &keyless_args, output, force, &manifest),
        Cmd::Canonicalize { file } => canonicalize(file.as_deref()),
        Cmd::Digest {
            path,
            exclude,
            algorithm,
        } => digest(&path, &exclude, &algorithm),
        Cmd::Tools(args) => tools_cmd::run(args),
        Cmd::Sigstore(SigstoreCmd::SignBundle(args)) => Ok(keyless_cmd::sign_bundle(&args)?),
    }
}

fn keygen(out: &Path, encrypt: bool, force: bool) -> Result<(), Failure> {
    let pub_path = PathBuf::from(format!("{}.pub", out.display()));
    if !force {
        for p in [out, pub_path.as_path()] {
            if p.exists() {
                return Err(Failure {
                    err: anyhow::anyhow!("refusing to overwrite `{}`", p.display()),
                    code: EXIT_ERROR,
                    hint: Some("use --force to replace the existing key".to_owned()),
                });
            }
        }
    }
    let key = PrivateKey::generate()?;
    let pass = if encrypt {
        Some(read_passphrase("New key passphrase: ", true).context(
            "--encrypt needs a passphrase: set MCPSIG_KEY_PASSPHRASE or run in a terminal",
        )?)
    } else {
        None
    };
    if matches!(&pass, Some(p) if p.is_empty()) {
        return Err(anyhow::anyhow!("the passphrase is empty").into());
    }
    let pem = key.to_pem(pass.as_ref().map(|p| p.as_str()))?;
    write_atomic(out, pem.as_bytes(), 0o600, force)?;
    write_atomic(
        &pub_path,
        key.public_key().to_pem().as_bytes(),
        0o644,
        force,
    )?;
    mcpsig::errln!(
        "wrote private key {} (mode 0600) and public key {}",
        out.display(),
        pub_path.display()
    );
    emit(
        &key.key_id().to_string(),
        serde_json::json!({
            "keyId": key.key_id().hex(),
            "privateKey": out.display().to_string(),
            "publicKey": pub_path.display().to_string(),
            "encrypted": pass.is_some(),
        }),
    );
    Ok(())
}

#[derive(clap::Args)]
struct InitArgs {
    /// Server name in reverse-DNS form, as the MCP registry uses (io.github.owner/name).
    #[arg(long)]
    name: String,
    /// Release version.
    #[arg(long)]
    version: String,
    /// The server's directory to pin.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Launch command, split like a shell would (quotes group words; nothing is expanded).
    #[arg(long, value_name = "'CMD ARGS'")]
    launch: Option<String>,
    /// Environment variable NAMES the server needs at launch (values are never pinned).
    #[arg(long = "env-name", value_name = "NAME")]
    env_names: Vec<String>,
    /// Exclude paths matching this glob (`*`, `?`, `**`); repeatable. `.git` is always excluded.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Name of the directory artifact (default: the directory's name).
    #[arg(long, value_name = "NAME")]
    artifact_name: Option<String>,
    /// Expire the manifest this many days after issue.
    #[arg(long, value_name = "DAYS")]
    expires_in_days: Option<u32>,
    /// The previous release's manifest: its digest is pinned, chaining releases.
    #[arg(long, value_name = "MANIFEST")]
    previous: Option<PathBuf>,
    /// Output file.
    #[arg(long, short = 'o', default_value = mcpsig::manifest::DEFAULT_FILE_NAME)]
    output: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
    /// Refuse (exit 1) when an exclude rule leaves out files a runtime loads as code.
    #[arg(long)]
    strict: bool,
}

fn init(a: InitArgs) -> Result<(), Failure> {
    let name = ServerName::parse(&a.name).map_err(refused)?;
    let version = Version::parse(&a.version).map_err(refused)?;
    let mut launch = match &a.launch {
        Some(line) => {
            Some(Launch::stdio_from_command_line(line).map_err(|e| refused(anyhow::anyhow!(e)))?)
        }
        None => None,
    };
    if let Some(Launch::Stdio { env_names, .. }) = &mut launch {
        for n in &a.env_names {
            mcpsig::mcp::env::check_name(n).map_err(refused)?;
            env_names.push(n.clone());
        }
    } else if !a.env_names.is_empty() {
        return Err(refused(anyhow::anyhow!("--env-name needs --launch")));
    }
    let mut patterns = vec![Pattern::parse(".git").map_err(refused)?];
    for ex in &a.exclude {
        patterns.push(Pattern::parse(ex).map_err(refused)?);
    }
    // The manifest and its bundle must not pin themselves when written inside the directory.
    for own in own_outputs_inside(&a.dir, &a.output) {
        if !patterns.iter().any(|p| p.as_str() == own) {
            patterns.push(Pattern::parse(&own).map_err(refused)?);
        }
    }
    let previous = match &a.previous {
        Some(p) => {
            let bytes = read_limited(p, mcpsig::json::MAX_DOCUMENT_BYTES as u64)?;
            let prev = Manifest::from_json(&bytes).map_err(|e| {
                refused(
                    anyhow::Error::new(e).context(format!("previous manifest `{}`", p.display())),
                )
            })?;
            Some(prev.digest())
        }
        None => None,
    };
    // Excluded bytes are never verified: code among them could run unseen.
    let hidden = mcpsig::digest::excluded::excluded_code(&a.dir, &patterns, tree::MAX_ENTRIES)
        .with_context(|| format!("cannot read directory `{}`", a.dir.display()))?;
    if hidden.count > 0 {
        let label = if a.strict { "error" } else { "warning" };
        mcpsig::errln!(
            "{label}: exclude rules leave out {} file(s) that a runtime loads as code, which \
             verification will never check: {}{}",
            hidden.count,
            hidden.examples.join(", "),
            if hidden.count > hidden.examples.len() {
                ", ..."
            } else {
                ""
            }
        );
        if a.strict {
            return Err(refused(anyhow::anyhow!(
                "refusing under --strict: narrow the --exclude rules so that no code is excluded"
            )));
        }
    }
    let started = std::time::Instant::now();
    let entries = hash_tree_showing_progress(&a.dir, &patterns).map_err(|e| {
        anyhow::Error::new(e).context(format!("cannot pin directory `{}`", a.dir.display()))
    })?;
    let artifact_name = match a.artifact_name {
        Some(n) => n,
        None => std::fs::canonicalize(&a.dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "server".into()),
    };
    let files = entries.len();
    let bytes = tree::total_size(&entries);
    let issued_at = Timestamp::now();
    let expires_at = a
        .expires_in_days
        .map(|d| Timestamp(issued_at.0 + mcpsig::chrono::Duration::days(i64::from(d))));
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        server: ServerId { name, version },
        issued_at,
        expires_at,
        previous,
        launch,
        artifacts: vec![Artifact::directory(artifact_name, patterns, entries)],
        tools: None,
    };
    manifest.check().map_err(refused)?;
    write_atomic(&a.output, &manifest.to_json_pretty(), 0o644, a.force)?;
    mcpsig::errln!(
        "pinned {files} entries ({:.1} MB) of `{}` in {:.2} s; wrote {}",
        bytes as f64 / 1e6,
        a.dir.display(),
        started.elapsed().as_secs_f64(),
        a.output.display()
    );
    emit(
        &manifest.artifacts[0].digest().to_string(),
        serde_json::json!({
            "manifest": a.output.display().to_string(),
            "server": manifest.server,
            "artifacts": manifest.artifacts.iter().map(|x| serde_json::json!({"name": x.name(), "digest": x.digest()})).collect::<Vec<_>>(),
            "entries": files,
            "bytes": bytes,
        }),
    );
    Ok(())
}

/// Patterns for the output manifest and its default bundle when they lie inside `dir`.
fn own_outputs_inside(dir: &Path, output: &Path) -> Vec<String> {
    let (Ok(dir), Some(parent)) = (std::fs::canonicalize(dir), output.parent()) else {
        return Vec::new();
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let (Ok(parent), Some(file)) = (std::fs::canonicalize(parent), output.file_name()) else {
        return Vec::new();
    };
    let Ok(rel) = parent.join(file).strip_prefix(&dir).map(Path::to_path_buf) else {
        return Vec::new();
    };
    let Some(rel) = rel.to_str().map(str::to_owned) else {
        return Vec::new();
    };
    let bundle = default_bundle_path(Path::new(&rel))
        .to_string_lossy()
        .into_owned();
    vec![rel, bundle]
}

/// `dir/name.json` -> `dir/name.sigstore.json`.
fn default_bundle_path(manifest: &Path) -> PathBuf {
    let stem = manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    manifest.with_file_name(format!("{stem}.sigstore.json"))
}

fn sign(
    key_path: Option<&Path>,
    keyless_args: &keyless_cmd::KeylessArgs,
    output: Option<PathBuf>,
    force: bool,
    manifest_path: &Path,
) -> Result<(), Failure> {
    let bytes = read_limited(manifest_path, mcpsig::json::MAX_DOCUMENT_BYTES as u64)?;
    let manifest = Manifest::from_json(&bytes).map_err(|e| {
        refused(anyhow::Error::new(e).context(format!("manifest `{}`", manifest_path.display())))
    })?;
    let out = output.unwrap_or_else(|| default_bundle_path(manifest_path));
    if !force && out.exists() {
        return Err(Failure {
            err: anyhow::anyhow!("refusing to overwrite `{}`", out.display()),
            code: EXIT_ERROR,
            hint: Some("use --force to replace the existing bundle".to_owned()),
        });
    }
    let Some(key_path) = key_path else {
        // Keyless: clap guarantees --keyless when --key is absent.
        let signer = keyless_cmd::keyless_signer(keyless_args)?;
        let bundle = mcpsig::sign::sign_manifest(&manifest, &signer)?;
        write_atomic(&out, &bundle.to_json_pretty(), 0o644, force)?;
        mcpsig::errln!(
            "signed {} {} keylessly as {}; wrote {}",
            manifest.server.name,
            manifest.server.version,
            signer.expected_identity(),
            out.display()
        );
        emit(
            "",
            serde_json::json!({
                "bundle": out.display().to_string(),
                "server": manifest.server,
                "signer": { "kind": "certificate", "identity": signer.expected_identity(), "issuer": signer.issuer() },
            }),
        );
        return Ok(());
    };
    let key = PrivateKey::from_file(key_path, || read_passphrase("Key passphrase: ", false))
        .map_err(|e| Failure {
            hint: e.hint(),
            err: anyhow::Error::new(e)
                .context(format!("cannot load signing key `{}`", key_path.display())),
            code: EXIT_ERROR,
        })?;
    let bundle = mcpsig::sign::sign_manifest(&manifest, &mcpsig::sign::KeySigner::new(&key))?;
    write_atomic(&out, &bundle.to_json_pretty(), 0o644, force)?;
    mcpsig::errln!(
        "signed {} {} with key {}; wrote {}",
        manifest.server.name,
        manifest.server.version,
        key.key_id(),
        out.display()
    );
    emit(
        "",
        serde_json::json!({
            "bundle": out.display().to_string(),
            "server": manifest.server,
            "signer": { "kind": "key", "keyId": key.key_id().hex() },
        }),
    );
    Ok(())
}

fn canonicalize(file: Option<&Path>) -> Result<(), Failure> {
    let bytes = match file {
        Some(p) => read_limited(p, mcpsig::json::MAX_DOCUMENT_BYTES as u64)?,
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .take(mcpsig::json::MAX_DOCUMENT_BYTES as u64 + 1)
                .read_to_end(&mut buf)
                .context("cannot read standard input")?;
            buf
        }
    };
    let what = file
        .map(|p| format!("`{}`", p.display()))
        .unwrap_or_else(|| "standard input".into());
    let out = mcpsig::canonical::canonicalize(&bytes).map_err(|e| {
        refused(anyhow::Error::new(e).context(format!("{what} is not canonicalizable JSON")))
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .context("cannot write to standard output")?;
    stdout.flush().context("cannot write to standard output")?;
    Ok(())
}

fn digest(path: &Path, exclude: &[String], algorithm: &str) -> Result<(), Failure> {
    let alg = if algorithm == "sha512" {
        Algorithm::Sha512
    } else {
        Algorithm::Sha256
    };
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let started = std::time::Instant::now();
    let (digest, bytes) = if meta.is_dir() {
        let patterns = exclude
            .iter()
            .map(|e| Pattern::parse(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(refused)?;
        let entries = tree::hash_tree(path, &patterns, alg).map_err(|e| {
            anyhow::Error::new(e).context(format!("cannot digest directory `{}`", path.display()))
        })?;
        let bytes = tree::total_size(&entries);
        (tree::tree_digest(&entries), bytes)
    } else {
        mcpsig::digest::hash_file(alg, path)?
    };
    let secs = started.elapsed().as_secs_f64();
    mcpsig::errln!(
        "{bytes} bytes in {secs:.3} s ({:.2} GB/s)",
        bytes as f64 / secs.max(1e-9) / 1e9
    );
    emit(
        &digest.to_string(),
        serde_json::json!({ "path": path.display().to_string(), "digest": digest, "bytes": bytes }),
    );
    Ok(())
}

/// Hashes a tree; on a terminal, shows a progress line on stderr while it runs.
fn hash_tree_showing_progress(
    dir: &Path,
    patterns: &[Pattern],
) -> Result<Vec<tree::Entry>, tree::TreeError> {
    use std::io::IsTerminal;
    use std::sync::atomic::Ordering;
    if !std::io::stderr().is_terminal() {
        return tree::hash_tree(dir, patterns, Algorithm::Sha256);
    }
    let progress = tree::Progress::default();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut shown = false;
            // Bounded: ends when hashing ends; checks twice a second.
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let found = progress.files_total.load(Ordering::Relaxed);
                if found == 0 || done.load(Ordering::Relaxed) {
                    continue;
                }
                let bytes = progress.bytes_done.load(Ordering::Relaxed);
                eprint!(
                    "\rhashing: {}/{} files found so far, {:.0} MB ",
                    progress.files_done.load(Ordering::Relaxed),
                    found,
                    bytes as f64 / 1e6,
                );
                shown = true;
            }
            if shown {
                eprint!("\r\x1b[K");
            }
        });
        let result =
            tree::hash_tree_with_progress(dir, patterns, Algorithm::Sha256, Some(&progress));
        done.store(true, Ordering::Relaxed);
        result
    })
}
