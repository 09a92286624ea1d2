//! Rewriting a client configuration: `--wrap` makes each covered entry launch through
//! `mcp-verify run BUNDLE ... -- ORIGINAL COMMAND`, `--unwrap` restores each wrapped entry from
//! the words after its `--`. Everything the rewrite does not touch (other keys, other servers,
//! key order) is kept; the write is atomic, keeps the file's mode, and a wrap keeps a backup.

use super::cover::{ConfigReport, Note, ReportRequest, Status, report_on, trust_given};
use super::{ClientConfig, ClientKind, ConfigError, EntryLaunch};
use crate::fsutil::write_atomic;
use crate::trust_request::TrustRequest;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The suffix of the backup a wrap writes beside the configuration.
pub const BACKUP_SUFFIX: &str = ".mcpsig-backup";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WrapMode {
    Wrap,
    Unwrap,
}

#[derive(Debug, Clone)]
pub struct WrapRequest {
    pub config: PathBuf,
    pub kind: Option<ClientKind>,
    pub bundles: Option<PathBuf>,
    /// Passed on to `run` in every wrapped entry (paths made absolute); also used here to
    /// check each candidate bundle's signature.
    pub trust: Option<TrustRequest>,
    /// A policy file passed on to `run` (absolute).
    pub policy: Option<PathBuf>,
    /// The `mcp-verify` program wrapped entries launch (the running one).
    pub mcp_verify: PathBuf,
    pub mode: WrapMode,
    /// Compute the changes, write nothing.
    pub dry_run: bool,
    /// Replace an existing backup.
    pub force: bool,
    pub now: DateTime<Utc>,
}

/// One entry as it was and as it is (or would be) written, the values of its `env` and
/// `headers` shown as `<redacted>`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryChange {
    pub name: String,
    pub before: Value,
    pub after: Value,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WrapOutcome {
    pub mode: WrapMode,
    pub changes: Vec<EntryChange>,
    /// True when the file was rewritten (never with `dry_run`, nor when nothing changed).
    pub written: bool,
    pub dry_run: bool,
    /// The backup written before the rewrite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// True when every server launches through `mcp-verify run` after the rewrite (for
    /// `--wrap`, exit 0 exactly then).
    pub all_wrapped: bool,
    /// The servers as they stand after the rewrite (or would, with `dry_run`).
    pub report: ConfigReport,
}

/// Wraps or unwraps the configuration's entries (see the module documentation).
pub fn wrap(req: &WrapRequest) -> Result<WrapOutcome, ConfigError> {
    let config = ClientConfig::read(&req.config, req.kind)?;
    let trust_on = req.trust.as_ref().is_some_and(trust_given);
    if req.mode == WrapMode::Wrap && !trust_on && req.policy.is_none() {
        return Err(ConfigError::NoTrust);
    }
    let report_req = ReportRequest {
        config: req.config.clone(),
        kind: Some(config.kind),
        bundles: req.bundles.clone(),
        trust: req.trust.clone(),
        now: req.now,
    };
    let before = report_on(&config, &report_req)?;
    if req.mcp_verify.to_str().is_none() {
        return Err(ConfigError::NotUtf8 {
            path: req.mcp_verify.clone(),
        });
    }
    let run_options = match req.mode {
        WrapMode::Wrap => run_options(req, trust_on)?,
        WrapMode::Unwrap => Vec::new(),
    };
    let key = config.kind.servers_key();
    let mut doc = config.doc.clone();
    let mut changes = Vec::new();
    if let Some(Value::Object(servers)) = doc.get_mut(key) {
        for (entry, judged) in config.servers.iter().zip(&before.servers) {
            let Some(Value::Object(obj)) = servers.get_mut(&entry.name) else {
                continue;
            };
            let before_value = Value::Object(obj.clone());
            let changed = match (&entry.launch, req.mode) {
                (EntryLaunch::Stdio(stdio), WrapMode::Wrap) => {
                    let blocked = judged
                        .notes
                        .iter()
                        .any(|n| matches!(n, Note::EnvFile | Note::EnvName { .. }));
                    match (&judged.status, &judged.bundle, &judged.base, blocked) {
                        (Status::Covered, Some(bundle), Some(base), false) => {
                            let argv =
                                wrapped_argv(&req.mcp_verify, bundle, base, &run_options, stdio);
                            set_argv(obj, &argv);
                            true
                        }
                        _ => false,
                    }
                }
                (EntryLaunch::Stdio(stdio), WrapMode::Unwrap) => {
                    if let Some(original) = stdio.wrapped().and_then(|w| w.original) {
                        set_argv(obj, &original);
                        true
                    } else if let Some(p) = stdio.proxied() {
                        unproxy(obj, &p)
                    } else {
                        false
                    }
                }
                (EntryLaunch::Remote(remote), WrapMode::Wrap) => {
                    let pinned = judged
                        .notes
                        .iter()
                        .any(|n| matches!(n, Note::RemotePinned { .. }));
                    let blocked = judged
                        .notes
                        .iter()
                        .any(|n| matches!(n, Note::LegacySse | Note::HeaderUnusable { .. }));
                    match (&judged.bundle, &remote.url) {
                        (Some(bundle), Some(url)) if pinned && !blocked => {
                            proxy_entry(obj, &req.mcp_verify, bundle, &run_options, url, remote)
                        }
                        _ => false,
                    }
                }
                (EntryLaunch::Remote(_), WrapMode::Unwrap) => false,
            };
            if changed {
                changes.push(EntryChange {
                    name: entry.name.clone(),
                    before: redacted(&before_value),
                    after: redacted(&Value::Object(obj.clone())),
                });
            }
        }
    }
    let new_bytes = if changes.is_empty() {
        config.bytes.clone()
    } else {
        render(&doc, &config.bytes)?
    };
    let after_config = ClientConfig::parse(&config.path, config.kind, new_bytes.clone())?;
    let report = report_on(&after_config, &report_req)?;
    let mut outcome = WrapOutcome {
        all_wrapped: report.servers.iter().all(|s| s.status == Status::Wrapped),
        mode: req.mode,
        changes,
        written: false,
        dry_run: req.dry_run,
        backup: None,
        report,
    };
    if outcome.changes.is_empty() {
        return Ok(outcome);
    }
    let mode = writable_mode(&config.path)?;
    if req.dry_run {
        return Ok(outcome);
    }
    // A client (or the user) may have saved the file meanwhile: never write over that.
    let unchanged = || -> Result<(), ConfigError> {
        let now = crate::fsutil::read_limited(&config.path, super::MAX_CONFIG_BYTES).map_err(
            |source| ConfigError::Read {
                path: config.path.clone(),
                source,
            },
        )?;
        if now != config.bytes {
            return Err(ConfigError::Changed {
                path: config.path.clone(),
            });
        }
        Ok(())
    };
    unchanged()?;
    if req.mode == WrapMode::Wrap {
        let backup = backup_path(&config.path);
        write_atomic(&backup, &config.bytes, mode, req.force).map_err(|source| {
            ConfigError::Write {
                path: backup.clone(),
                source,
            }
        })?;
        outcome.backup = Some(backup.display().to_string());
    }
    unchanged()?;
    write_atomic(&config.path, &new_bytes, mode, true).map_err(|source| ConfigError::Write {
        path: config.path.clone(),
        source,
    })?;
    outcome.written = true;
    Ok(outcome)
}

/// `MCP_VERIFY run BUNDLE --dir BASE OPTIONS [--env NAME]... -- COMMAND ARGS...`
fn wrapped_argv(
    mcp_verify: &Path,
    bundle: &str,
    base: &Path,
    run_options: &[String],
    entry: &super::StdioEntry,
) -> Vec<String> {
    let mut argv = vec![
        mcp_verify.display().to_string(),
        "run".to_owned(),
        bundle.to_owned(),
        "--dir".to_owned(),
        base.display().to_string(),
    ];
    argv.extend(run_options.iter().cloned());
    // `run` starts the server with a clean environment: it forwards these from its own, which
    // the client sets from the entry's `env`.
    for (name, _) in &entry.env {
        argv.extend(["--env".to_owned(), name.clone()]);
    }
    argv.push("--".to_owned());
    argv.extend(entry.argv());
    argv
}

/// The prefix of the variables a wrapped remote entry's `env` holds its headers in.
const HEADER_VAR_PREFIX: &str = "MCPSIG_HEADER_";

/// Rewrites a remote entry to start `MCP_VERIFY proxy BUNDLE OPTIONS --stdio [--header-env
/// NAME=VAR]... --url URL`: each header's value moves to the entry's `env` (the client sets it
/// for the process; a value is never an argument), `url` and `headers` go, and a `type` becomes
/// `stdio`. False (nothing changed) when the entry's `env` is not an object.
fn proxy_entry(
    obj: &mut Map<String, Value>,
    mcp_verify: &Path,
    bundle: &str,
    options: &[String],
    url: &str,
    remote: &super::RemoteEntry,
) -> bool {
    let mut env = match obj.get("env") {
        None => Map::new(),
        Some(Value::Object(e)) => e.clone(),
        Some(_) => return false,
    };
    let mut argv = vec![
        mcp_verify.display().to_string(),
        "proxy".to_owned(),
        bundle.to_owned(),
    ];
    argv.extend(options.iter().cloned());
    argv.push("--stdio".to_owned());
    for (name, value) in &remote.headers {
        let base: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        let mut var = format!("{HEADER_VAR_PREFIX}{base}");
        let mut n = 2;
        while env.contains_key(&var) {
            var = format!("{HEADER_VAR_PREFIX}{base}_{n}");
            n += 1;
        }
        env.insert(var.clone(), Value::String(value.clone()));
        argv.extend(["--header-env".to_owned(), format!("{name}={var}")]);
    }
    argv.extend(["--url".to_owned(), url.to_owned()]);
    obj.shift_remove("url");
    obj.shift_remove("headers");
    if obj.contains_key("type") {
        obj.insert("type".to_owned(), Value::String("stdio".to_owned()));
    }
    set_argv(obj, &argv);
    if !env.is_empty() {
        obj.insert("env".to_owned(), Value::Object(env));
    }
    true
}

/// Restores a proxied entry: `url` from its `--url`, `headers` from the `env` variables its
/// `--header-env` options name (removed from `env`), `type` `http` for `stdio`. False when it
/// has no `--url` (nothing says which URL it had).
fn unproxy(obj: &mut Map<String, Value>, p: &super::Proxied) -> bool {
    let Some(url) = &p.url else {
        return false;
    };
    let mut env = match obj.get("env") {
        Some(Value::Object(e)) => e.clone(),
        _ => Map::new(),
    };
    let mut headers = Map::new();
    for (name, var) in &p.header_env {
        if let Some(v) = env.shift_remove(var) {
            headers.insert(name.clone(), v);
        }
    }
    obj.shift_remove("command");
    obj.shift_remove("args");
    if obj.get("type").and_then(Value::as_str) == Some("stdio") {
        obj.insert("type".to_owned(), Value::String("http".to_owned()));
    }
    obj.insert("url".to_owned(), Value::String(url.clone()));
    if !headers.is_empty() {
        obj.insert("headers".to_owned(), Value::Object(headers));
    }
    if env.is_empty() {
        obj.shift_remove("env");
    } else {
        obj.insert("env".to_owned(), Value::Object(env));
    }
    true
}

/// An entry as a change shows it: the values of its `env` and `headers` (tokens, often) as
/// `<redacted>`, their names kept.
fn redacted(entry: &Value) -> Value {
    let mut out = entry.clone();
    if let Value::Object(obj) = &mut out {
        for key in ["env", "headers"] {
            if let Some(Value::Object(vars)) = obj.get_mut(key) {
                for v in vars.values_mut() {
                    *v = Value::String("<redacted>".to_owned());
                }
            }
        }
    }
    out
}

/// `FILE.mcpsig-backup`.
pub fn backup_path(config: &Path) -> PathBuf {
    let mut name = config.as_os_str().to_owned();
    name.push(BACKUP_SUFFIX);
    PathBuf::from(name)
}

/// The file's permission bits, if it may be rewritten: not a symbolic link (the rename would
/// replace the link with a file), not read-only (a rename would get past that).
fn writable_mode(path: &Path) -> Result<u32, ConfigError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source: crate::fsutil::ReadError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    if meta.file_type().is_symlink() {
        return Err(ConfigError::Symlink {
            path: path.to_path_buf(),
            target: std::fs::read_link(path).unwrap_or_default(),
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o200 == 0 {
        return Err(ConfigError::ReadOnly {
            path: path.to_path_buf(),
        });
    }
    Ok(mode)
}

/// Sets `command` and `args` in place (other keys and their order stay); an empty `args` is
/// removed.
fn set_argv(obj: &mut Map<String, Value>, argv: &[String]) {
    let Some((command, args)) = argv.split_first() else {
        return;
    };
    obj.insert("command".to_owned(), Value::String(command.clone()));
    if args.is_empty() {
        obj.shift_remove("args");
    } else {
        obj.insert(
            "args".to_owned(),
            Value::Array(args.iter().cloned().map(Value::String).collect()),
        );
    }
}

/// The options every wrapped entry passes to `run`: the trust options (paths absolute) and
/// the policy.
fn run_options(req: &WrapRequest, trust_on: bool) -> Result<Vec<String>, ConfigError> {
    let abs = |p: &Path| {
        let a = std::path::absolute(p).map_err(|source| ConfigError::Absolute {
            path: p.to_path_buf(),
            source,
        })?;
        a.to_str()
            .map(str::to_owned)
            .ok_or(ConfigError::NotUtf8 { path: a.clone() })
    };
    let mut out = Vec::new();
    if let (Some(t), true) = (&req.trust, trust_on) {
        let mut push = |flag: &str, value: String| {
            out.push(flag.to_owned());
            out.push(value);
        };
        if let Some(k) = &t.key {
            push("--key", abs(k)?);
        }
        for (flag, value) in [
            ("--certificate-identity", &t.certificate_identity),
            (
                "--certificate-identity-regexp",
                &t.certificate_identity_regexp,
            ),
            ("--certificate-oidc-issuer", &t.certificate_oidc_issuer),
            (
                "--certificate-oidc-issuer-regexp",
                &t.certificate_oidc_issuer_regexp,
            ),
            ("--source-repository", &t.source_repository),
            ("--source-ref", &t.source_ref),
            ("--workflow", &t.workflow),
            ("--runner-environment", &t.runner_environment),
        ] {
            if let Some(v) = value {
                push(flag, v.clone());
            }
        }
        for x in &t.extensions {
            push("--certificate-extension", x.clone());
        }
        if let Some(r) = &t.trusted_root {
            push("--trusted-root", abs(r)?);
        }
        if let Some(u) = &t.tuf_url {
            push("--tuf-url", u.clone());
        }
        if let Some(r) = &t.tuf_root {
            push("--tuf-root", abs(r)?);
        }
        if t.staging {
            out.push("--staging".to_owned());
        }
    }
    if let Some(p) = &req.policy {
        if let Err(source) = std::fs::metadata(p) {
            return Err(ConfigError::Read {
                path: p.clone(),
                source: crate::fsutil::ReadError::Io {
                    path: p.clone(),
                    source,
                },
            });
        }
        out.push("--policy".to_owned());
        out.push(abs(p)?);
    }
    Ok(out)
}

/// The document as JSON in the original's style: its indentation, line endings and final
/// newline.
fn render(doc: &Map<String, Value>, like: &[u8]) -> Result<Vec<u8>, ConfigError> {
    let indent = like
        .split(|b| *b == b'\n')
        .skip(1)
        .map(|line| {
            line.iter()
                .take_while(|b| **b == b' ' || **b == b'\t')
                .copied()
                .collect::<Vec<u8>>()
        })
        .find(|ws| !ws.is_empty())
        .unwrap_or_else(|| b"  ".to_vec());
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(&indent),
    );
    doc.serialize(&mut ser).map_err(ConfigError::Serialize)?;
    if like.ends_with(b"\n") {
        out.push(b'\n');
    }
    if like.windows(2).any(|w| w == b"\r\n") {
        let mut crlf = Vec::with_capacity(out.len() + out.len() / 16);
        for b in out {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        out = crlf;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_keeps_the_style_and_key_order() {
        let src = b"{\n    \"z\": 1,\n    \"a\": {\"k\": [1, 2]}\n}\n";
        let Value::Object(doc) = crate::json::parse_value(src).unwrap() else {
            panic!()
        };
        let out = render(&doc, src).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n    \"z\": 1,\n    \"a\": {\n        \"k\": [\n            1,\n            2\n        ]\n    }\n}\n"
        );
        let crlf = render(&doc, b"{\r\n\t\"z\": 1\r\n}").unwrap();
        assert!(crlf.starts_with(b"{\r\n\t\"z\": 1,\r\n\t\"a\""));
    }

    #[test]
    fn argv_is_set_in_place() {
        let Value::Object(mut obj) =
            serde_json::json!({"type": "stdio", "command": "node", "args": ["a"], "env": {}})
        else {
            panic!()
        };
        set_argv(&mut obj, &["x".into(), "run".into()]);
        let keys: Vec<&String> = obj.keys().collect();
        assert_eq!(keys, ["type", "command", "args", "env"]);
        set_argv(&mut obj, &["y".into()]);
        let keys: Vec<&String> = obj.keys().collect();
        assert_eq!(keys, ["type", "command", "env"]);
    }
}
