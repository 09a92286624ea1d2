//! `mcp-sign`: create, pin and sign MCP server manifests. Argument parsing and output only; every
//! decision is made by the `mcpsig` library.

mod artifact_cmd;
mod attach_cmd;
mod keyless_cmd;
mod server_json_cmd;
use anyhow::Context;
use clap::{Parser, Subcommand};
use cli::{EXIT_ERROR, EXIT_OK, EXIT_REJECTED, print_error_as, read_passphrase};
use mcpsig::artifact::server_json::ServerJson;
use mcpsig::artifact::server_json::import::Imported;
use mcpsig::digest::Algorithm;
use mcpsig::fsutil::{read_limited, refuse_existing, write_atomic};
use mcpsig::keygen::KeygenRequest;
use mcpsig::keys::PrivateKey;
use mcpsig::manifest::init::InitRequest;
use mcpsig::manifest::{Manifest, Timestamp};
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
  mcp-sign attach mcp-manifest.sigstore.json oci://ghcr.io/acme/weather@sha256:<hex>

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
#[command(defer = true)]
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
        after_help = "Examples:\n  mcp-sign init --name io.github.acme/weather --version 1.2.0 --dir ./server \\\n      --launch 'node dist/index.js' --exclude 'node_modules/.cache' --expires-in-days 365\n  mcp-sign init --from-server-json server.json    # the packages an MCP registry server.json lists"
    )]
    Init(Box<InitArgs>),
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
        #[arg(long, default_value = "sha256", value_parser = parse_algorithm)]
        algorithm: Algorithm,
    },
    /// Launch the server, capture its tools, prompts and resource templates, pin them into the manifest.
    Tools(tools_cmd::ToolsArgs),
    /// Resolve a package (npm, PyPI), image (OCI) or MCP bundle and pin it in a manifest.
    AddArtifact(artifact_cmd::AddArtifactArgs),
    /// Print a manifest's package pins as MCP registry server.json `packages[]` entries
    /// (with fileSha256), or merge them into a server.json.
    ServerJson(server_json_cmd::ServerJsonArgs),
    /// Sigstore client commands (the Sigstore conformance CLI contract).
    #[command(subcommand)]
    Sigstore(SigstoreCmd),
    /// Write a signed revocation list for trust policies (spec/policy.md): revoked keys,
    /// keyless identities and manifests, valid for --expires-in-days.
    #[command(
        after_help = "Example:\n  mcp-sign revoke --key revocation.key --revoke-key old-release.key.pub \\\n      --revoke-manifest sha256:ab12... --expires-in-days 7 -o revocations.sigstore.json"
    )]
    Revoke(RevokeArgs),
    /// Attach a signed bundle to the OCI image its manifest pins, in the image's registry
    /// (an OCI 1.1 referrer; spec/oci.md).
    Attach(attach_cmd::AttachArgs),
}

#[derive(clap::Args)]
struct RevokeArgs {
    /// The list signer's private key (the policy's [revocation] signer).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// A revoked key: its id (64 hex digits) or its public key file; repeatable.
    #[arg(long = "revoke-key", value_name = "ID|PUB")]
    revoke_keys: Vec<String>,
    /// A revoked keyless identity, `ISSUER=IDENTITY`; repeatable.
    #[arg(long = "revoke-identity", value_name = "ISSUER=IDENTITY")]
    revoke_identities: Vec<String>,
    /// A revoked manifest: its digest (`sha256:<hex>`) or the manifest file; repeatable.
    #[arg(long = "revoke-manifest", value_name = "DIGEST|MANIFEST")]
    revoke_manifests: Vec<String>,
    /// The list is stale this many days after now: publish a new one before.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    expires_in_days: u32,
    /// Output bundle.
    #[arg(long, short = 'o', value_name = "BUNDLE")]
    output: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand)]
#[command(defer = true)]
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
        cli::rawln!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else if !human.is_empty() {
        cli::outln!("{human}");
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli: Cli = cli::parse_args(&args, false);
    if let Err(code) = cli::select_crypto_provider() {
        return code;
    }
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

pub(crate) fn cli_json() -> bool {
    JSON.load(std::sync::atomic::Ordering::Relaxed)
}

fn run(cmd: Cmd) -> Result<(), Failure> {
    match cmd {
        Cmd::Keygen {
            out,
            encrypt,
            force,
        } => keygen(&out, encrypt, force),
        Cmd::Init(args) => init(*args),
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
        } => digest(&path, &exclude, algorithm),
        Cmd::Tools(args) => tools_cmd::run(args),
        Cmd::AddArtifact(args) => artifact_cmd::run(args),
        Cmd::ServerJson(args) => server_json_cmd::run(args),
        Cmd::Sigstore(SigstoreCmd::SignBundle(args)) => Ok(keyless_cmd::sign_bundle(&args)?),
        Cmd::Revoke(args) => revoke(args),
        Cmd::Attach(args) => attach_cmd::run(args),
    }
}

fn keygen(out: &Path, encrypt: bool, force: bool) -> Result<(), Failure> {
    let req = KeygenRequest {
        out: out.to_path_buf(),
        encrypt,
        force,
    };
    let done = mcpsig::keygen::keygen(&req, || read_passphrase("New key passphrase: ", true))?;
    cli::errln!(
        "wrote private key {} (mode 0600) and public key {}",
        done.private_key.display(),
        done.public_key.display()
    );
    emit(
        &done.key_id.to_string(),
        serde_json::json!({
            "keyId": done.key_id.hex(),
            "privateKey": done.private_key.display().to_string(),
            "publicKey": done.public_key.display().to_string(),
            "encrypted": done.encrypted,
        }),
    );
    Ok(())
}

#[derive(clap::Args)]
struct InitArgs {
    /// Server name in reverse-DNS form, as the MCP registry uses (io.github.owner/name).
    #[arg(long, required_unless_present = "from_server_json")]
    name: Option<String>,
    /// Release version.
    #[arg(long, required_unless_present = "from_server_json")]
    version: Option<String>,
    /// The server's directory to pin (omit it for a server that is only packages).
    #[arg(long, value_name = "DIR", required_unless_present_any = ["artifact", "from_server_json", "url"])]
    dir: Option<PathBuf>,
    /// Pin the packages an MCP registry server.json lists (npm, pypi, oci, mcpb), taking the
    /// server's name and version from it unless --name / --version are given (spec/server-json.md).
    #[arg(long, value_name = "SERVER_JSON")]
    from_server_json: Option<PathBuf>,
    /// Leave out server.json packages of a registry type that cannot be pinned (nuget, ...)
    /// instead of refusing the document.
    #[arg(long, requires = "from_server_json")]
    skip_unsupported: bool,
    /// Also pin a package, image or bundle (npm:NAME@VERSION, pypi:NAME==VERSION, ...; see
    /// `mcp-sign add-artifact --help`); repeatable.
    #[arg(long, value_name = "REF")]
    artifact: Vec<String>,
    /// The registry or package index --artifact resolves from.
    #[arg(long, value_name = "URL", requires = "artifact")]
    registry: Option<String>,
    /// Launch command, split like a shell would (quotes group words; nothing is expanded).
    #[arg(long, value_name = "'CMD ARGS'")]
    launch: Option<String>,
    /// Environment variable NAMES the server needs at launch (values are never pinned).
    #[arg(long = "env-name", value_name = "NAME")]
    env_names: Vec<String>,
    /// A remote server: its Streamable HTTP endpoint (https; plain http only to loopback). The
    /// manifest then pins where it lives, not code; pin its tools with `mcp-sign tools`.
    #[arg(long, value_name = "URL", conflicts_with_all = ["launch", "env_names"])]
    url: Option<String>,
    /// A PEM CA certificate the endpoint's chain must lead to (instead of the system's roots);
    /// repeatable.
    #[arg(long, value_name = "PEM", requires = "url")]
    tls_ca: Vec<PathBuf>,
    /// `sha256:HEX` of the SubjectPublicKeyInfo the endpoint's certificate must carry
    /// (`openssl x509 -in CERT -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`);
    /// repeatable.
    #[arg(long, value_name = "sha256:HEX", requires = "url")]
    tls_spki: Vec<mcpsig::digest::Digest>,
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
    /// Arguments for a single package's own executable, when it becomes the launch.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

impl InitArgs {
    /// The request, with the artifacts resolved from --artifact and --from-server-json.
    fn request(
        self,
        resolved: Vec<mcpsig::artifact::resolve::Resolved>,
        from_server_json: Option<(ServerJson, Imported)>,
    ) -> Result<InitRequest, Failure> {
        // A single package's own executable is the launch when none is given (with the
        // arguments after `--`; from a server.json: with the arguments and variables that map).
        let default_launch = match (&self.dir, resolved.as_slice(), &from_server_json) {
            (None, [one], None) => one.launch.clone().map(|mut l| {
                if let mcpsig::manifest::Launch::Stdio { args, .. } = &mut l {
                    args.extend(self.args.iter().cloned());
                }
                l
            }),
            (None, [], Some((_, imported))) => imported.launch.clone(),
            _ => None,
        };
        let default_launch = match &self.url {
            Some(url) => Some(remote_launch(url, &self.tls_ca, &self.tls_spki)?),
            None => default_launch,
        };
        let (doc_name, doc_version) = match &from_server_json {
            Some((doc, _)) => (doc.name.clone(), doc.version.clone()),
            None => (None, None),
        };
        let (Some(name), Some(version)) = (self.name.or(doc_name), self.version.or(doc_version))
        else {
            return Err(refused(anyhow::anyhow!(
                "the server.json gives no `name` or `version`: pass --name and --version"
            )));
        };
        let mut artifacts: Vec<_> = resolved.into_iter().map(|r| r.artifact).collect();
        if let Some((_, imported)) = from_server_json {
            artifacts.extend(imported.resolved.into_iter().map(|r| r.artifact));
        }
        Ok(InitRequest {
            name,
            version,
            dir: self.dir,
            artifacts,
            default_launch,
            launch: self.launch,
            env_names: self.env_names,
            excludes: self.exclude,
            artifact_name: self.artifact_name,
            expires_in_days: self.expires_in_days,
            previous: self.previous,
            output: self.output,
            force: self.force,
            strict: self.strict,
            issued_at: Timestamp::now(),
        })
    }
}

/// The streamable-http launch of `--url`, with the TLS identity of `--tls-ca` / `--tls-spki`.
fn remote_launch(
    url: &str,
    cas: &[PathBuf],
    spki: &[mcpsig::digest::Digest],
) -> Result<mcpsig::manifest::Launch, Failure> {
    use mcpsig::manifest::remote::{TlsIdentity, check_url};
    check_url(url).map_err(|e| refused(anyhow::anyhow!("--url: {e}")))?;
    let mut tls = TlsIdentity {
        ca_certificates: Vec::new(),
        spki_digests: spki.to_vec(),
    };
    for path in cas {
        let pem = mcpsig::fsutil::read_limited(path, 64 * 1024)
            .map_err(|e| refused(anyhow::anyhow!("--tls-ca `{}`: {e}", path.display())))?;
        let pem = String::from_utf8(pem).map_err(|_| {
            refused(anyhow::anyhow!(
                "--tls-ca `{}` is not PEM text",
                path.display()
            ))
        })?;
        tls.ca_certificates.push(pem);
    }
    let tls = if tls.ca_certificates.is_empty() && tls.spki_digests.is_empty() {
        None
    } else {
        tls.check()
            .map_err(|e| refused(anyhow::anyhow!("the TLS identity: {e}")))?;
        if url.starts_with("http:") {
            return Err(refused(anyhow::anyhow!(
                "--tls-ca / --tls-spki need an https URL"
            )));
        }
        Some(tls)
    };
    Ok(mcpsig::manifest::Launch::StreamableHttp {
        url: url.to_owned(),
        tls,
    })
}

fn init(a: InitArgs) -> Result<(), Failure> {
    refuse_existing(&a.output, a.force)?;
    let started = std::time::Instant::now();
    let resolved = artifact_cmd::resolve_all(&a.artifact, a.registry.as_deref())?;
    let from_server_json = match &a.from_server_json {
        Some(path) => Some(server_json_cmd::import_for_init(path, a.skip_unsupported)?),
        None => None,
    };
    let packages: usize = resolved.iter().map(|r| r.packages).sum::<usize>()
        + from_server_json
            .as_ref()
            .map_or(0, |(_, i)| i.resolved.iter().map(|r| r.packages).sum());
    let req = a.request(resolved, from_server_json)?;
    let done = cli::with_progress(|progress| mcpsig::manifest::init::init(&req, progress))
        .map_err(|e| Failure {
            code: if e.is_refusal() {
                EXIT_REJECTED
            } else {
                EXIT_ERROR
            },
            hint: e.hint(),
            err: e.into(),
        })?;
    for w in &done.warnings {
        cli::errln!("warning: {w}");
    }
    match &req.dir {
        Some(dir) => cli::errln!(
            "pinned {} entries ({:.1} MB) of `{}` in {:.2} s; wrote {}",
            done.entries,
            done.bytes as f64 / 1e6,
            dir.display(),
            started.elapsed().as_secs_f64(),
            done.output.display()
        ),
        None => cli::errln!(
            "pinned {} artifact(s) ({packages} package(s) with their dependencies) in {:.2} s; wrote {}",
            done.manifest.artifacts.len(),
            started.elapsed().as_secs_f64(),
            done.output.display()
        ),
    }
    let manifest = &done.manifest;
    if req.launch.is_none()
        && let Some(mcpsig::manifest::Launch::Stdio {
            command,
            args,
            env_names,
            ..
        }) = &manifest.launch
    {
        cli::errln!(
            "launch: {command} {}{}",
            args.join(" "),
            if env_names.is_empty() {
                String::new()
            } else {
                format!(" (variables supplied at launch: {})", env_names.join(", "))
            }
        );
    }
    if let Some(mcpsig::manifest::Launch::StreamableHttp { url, tls }) = &manifest.launch {
        cli::errln!(
            "remote server: {}{}",
            cli::one_line(url),
            match tls {
                Some(_) => " (TLS identity pinned)",
                None => "",
            }
        );
    }
    // The line a script reads: the first artifact's digest, or a remote server's endpoint.
    let first = match (manifest.artifacts.first(), &manifest.launch) {
        (Some(a), _) => a.digest().to_string(),
        (None, Some(mcpsig::manifest::Launch::StreamableHttp { url, .. })) => url.clone(),
        (None, _) => String::new(),
    };
    emit(
        &first,
        serde_json::json!({
            "manifest": done.output.display().to_string(),
            "server": manifest.server,
            "launch": manifest.launch,
            "artifacts": manifest.artifacts.iter().map(|x| serde_json::json!({"name": x.name(), "digest": x.digest()})).collect::<Vec<_>>(),
            "entries": done.entries,
            "bytes": done.bytes,
        }),
    );
    Ok(())
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
    let out = output.unwrap_or_else(|| mcpsig::manifest::bundle_path(manifest_path));
    // Before any key is read or signing service asked.
    refuse_existing(&out, force)?;
    let Some(key_path) = key_path else {
        // Keyless: clap guarantees --keyless when --key is absent.
        let signer = keyless_cmd::keyless_signer(keyless_args)?;
        let bundle = mcpsig::sign::sign_manifest(&manifest, &signer)?;
        write_atomic(&out, &bundle.to_json_pretty(), 0o644, force)?;
        cli::errln!(
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
    cli::errln!(
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
        .and_then(|()| stdout.flush())
        .map_err(cli::closed_stdout)
        .context("cannot write to standard output")?;
    Ok(())
}

fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    s.parse()
        .map_err(|e: mcpsig::digest::DigestParseError| e.to_string())
}

fn digest(path: &Path, exclude: &[String], alg: Algorithm) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let (digest, bytes) = match mcpsig::digest::digest_path(path, exclude, alg) {
        Ok(x) => x,
        Err(e @ mcpsig::digest::PathDigestError::Pattern(_)) => return Err(refused(e)),
        Err(e) => return Err(anyhow::Error::new(e).into()),
    };
    let secs = started.elapsed().as_secs_f64();
    cli::errln!(
        "{bytes} bytes in {secs:.3} s ({:.2} GB/s)",
        bytes as f64 / secs.max(1e-9) / 1e9
    );
    emit(
        &digest.to_string(),
        serde_json::json!({ "path": path.display().to_string(), "digest": digest, "bytes": bytes }),
    );
    Ok(())
}

fn revoke(a: RevokeArgs) -> Result<(), Failure> {
    let req = mcpsig::policy::revocation::RevokeRequest {
        issued_at: Timestamp::now(),
        expires_in_days: a.expires_in_days,
        keys: a.revoke_keys,
        identities: a.revoke_identities,
        manifests: a.revoke_manifests,
    };
    let list = req.list().map_err(refused)?;
    refuse_existing(&a.output, a.force)?;
    let key = PrivateKey::from_file(&a.key, || read_passphrase("Key passphrase: ", false))
        .map_err(|e| Failure {
            hint: e.hint(),
            err: anyhow::Error::new(e)
                .context(format!("cannot load signing key `{}`", a.key.display())),
            code: EXIT_ERROR,
        })?;
    let bundle = mcpsig::policy::revocation::sign_list(&list, &mcpsig::sign::KeySigner::new(&key))?;
    write_atomic(&a.output, &bundle.to_json_pretty(), 0o644, a.force)?;
    cli::errln!(
        "signed a revocation list ({} keys, {} identities, {} manifests, expires {}) with key {}; wrote {}",
        list.keys.len(),
        list.identities.len(),
        list.manifests.len(),
        list.expires_at,
        key.key_id(),
        a.output.display()
    );
    emit(
        "",
        serde_json::json!({
            "bundle": a.output.display().to_string(),
            "list": list,
            "signer": { "kind": "key", "keyId": key.key_id().hex() },
        }),
    );
    Ok(())
}
