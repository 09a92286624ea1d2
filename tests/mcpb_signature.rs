//! `mcp-verify mcpb` on real signatures (spec/mcpb.md). Every `testdata/scenarios/mcpb-sig-*`
//! directory is one case: `case` names how its bundle is made (below), `args` holds more
//! arguments (one per line; `{ca}`, `{root}`, `{other}`, `{self}`: certificate files this test
//! makes), `env` variables to set (`NAME=VALUE`, same placeholders), `expected` is `accept`,
//! `reject REASON` or `error` (exit 2), and `message` (optional) is text the first problem's
//! message must contain, so a refusal is known to come from the check its scenario is about.
//!
//! Certificates are made fresh each run with `openssl`; bundles are packed by the upstream
//! `mcpb` CLI (scripts/setup-mcpb.sh installs it) and signed either by its own `mcpb sign` (RSA,
//! node-forge) or by `openssl cms` (ECDSA P-256, an intermediate CA) wrapped in the same block.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, root, text};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const HEADER: &[u8] = b"MCPB_SIG_V1";
const FOOTER: &[u8] = b"MCPB_SIG_END";
/// Upstream's prepare-for-signing: the EOCD comment length is set to this before signing and the
/// block padded to exactly this size.
const PREPARED_BLOCK: usize = 16384;

const EXTENSIONS: &str = "\
[root_ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[intermediate_ca]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[code_signing]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=codeSigning
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[server_auth]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
[tls_only_ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign
extendedKeyUsage=serverAuth
[no_cert_sign_ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,digitalSignature
[odd_critical]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=codeSigning
1.3.6.1.4.1.99999.1=critical,ASN1:NULL
";

fn mcpb_cli() -> Option<PathBuf> {
    let cli = root().join("tests/support/mcpb-cli/node_modules/.bin/mcpb");
    if cli.exists() {
        return Some(cli);
    }
    assert!(
        common::skip_external(),
        "{} is missing: run scripts/setup-mcpb.sh",
        cli.display()
    );
    None
}

fn run_tool(dir: &Path, program: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}{}",
        program.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
    out.stdout
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    run_tool(dir, Path::new("openssl"), args)
}

/// The certificates, keys and the unsigned bundle every case starts from.
struct Pki {
    dir: tempfile::TempDir,
    mcpb: PathBuf,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn p(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }

    fn new(mcpb: PathBuf) -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            mcpb,
        };
        let d = pki.dir.path();
        std::fs::write(d.join("ext.cnf"), EXTENSIONS).unwrap();
        // `req -x509 -extfile` needs OpenSSL 3.2; 3.0 takes extensions from -config only.
        let ca_config = format!("[req]\ndistinguished_name=dn\n[dn]\n{EXTENSIONS}");
        std::fs::write(d.join("req.cnf"), ca_config).unwrap();
        for (name, subject) in [
            ("ca", "/CN=mcpsig test publisher CA"),
            ("other", "/CN=mcpsig test other CA"),
            ("root", "/CN=mcpsig test root CA"),
        ] {
            openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.pem"),
                    "-days",
                    "30",
                    "-subj",
                    subject,
                    "-config",
                    "req.cnf",
                    "-extensions",
                    "root_ca",
                ],
            );
        }
        let serial = std::cell::Cell::new(100u32);
        let issue = |name: &str, key: &[&str], subject: &str, ca: &str, ext: &str| {
            let mut args = vec!["req", "-new", "-nodes", "-keyout"];
            let keyfile = format!("{name}.key");
            let csr = format!("{name}.csr");
            args.extend([keyfile.as_str(), "-out", csr.as_str(), "-subj", subject]);
            args.extend(key);
            openssl(d, &args);
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &format!("{ca}.pem"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-set_serial",
                    &serial.replace(serial.get() + 1).to_string(),
                    "-days",
                    "10",
                    "-out",
                    &format!("{name}.pem"),
                    "-extfile",
                    "ext.cnf",
                    "-extensions",
                    ext,
                ],
            );
        };
        let rsa: &[&str] = &["-newkey", "rsa:2048"];
        let ec: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        // node-forge signs with RSA keys only.
        issue(
            "leaf",
            rsa,
            "/O=Acme/CN=Acme Weather Publisher",
            "ca",
            "code_signing",
        );
        issue("tls", rsa, "/CN=Acme TLS server", "ca", "server_auth");
        issue(
            "intermediate",
            rsa,
            "/CN=mcpsig test intermediate CA",
            "root",
            "intermediate_ca",
        );
        issue(
            "ecleaf",
            ec,
            "/O=Acme/CN=Acme EC Publisher",
            "intermediate",
            "code_signing",
        );
        // Issuers that may not issue: a leaf, a CA under a path length of 0, a CA for TLS only,
        // a CA without keyCertSign; and a leaf with a critical extension nobody understands.
        issue(
            "subleaf",
            ec,
            "/CN=Issued by a leaf",
            "leaf",
            "code_signing",
        );
        issue(
            "intermediate2",
            ec,
            "/CN=second intermediate",
            "intermediate",
            "intermediate_ca",
        );
        issue(
            "deepleaf",
            ec,
            "/CN=Too deep publisher",
            "intermediate2",
            "code_signing",
        );
        issue(
            "tlsca",
            ec,
            "/CN=TLS-only intermediate",
            "root",
            "tls_only_ca",
        );
        issue(
            "tlscaleaf",
            ec,
            "/CN=Publisher under a TLS CA",
            "tlsca",
            "code_signing",
        );
        issue(
            "nosignca",
            ec,
            "/CN=intermediate without keyCertSign",
            "root",
            "no_cert_sign_ca",
        );
        issue(
            "nosignleaf",
            ec,
            "/CN=Publisher under a non-signing CA",
            "nosignca",
            "code_signing",
        );
        issue(
            "oddleaf",
            ec,
            "/CN=Publisher with an odd extension",
            "ca",
            "odd_critical",
        );
        let p521: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"];
        issue(
            "p521leaf",
            p521,
            "/CN=Publisher on P-521",
            "ca",
            "code_signing",
        );
        let chain = [pki.path("intermediate.pem"), pki.path("intermediate2.pem")]
            .map(|p| std::fs::read(p).unwrap())
            .concat();
        std::fs::write(d.join("deepchain.pem"), chain).unwrap();

        // Expired: `openssl ca` can set past dates (x509 -req cannot before OpenSSL 3.4).
        std::fs::write(d.join("index.txt"), "").unwrap();
        std::fs::write(d.join("serial"), "1000\n").unwrap();
        let ca_cnf = "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n\
                      default_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n";
        std::fs::write(d.join("ca.cnf"), ca_cnf).unwrap();
        openssl(
            d,
            &[
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "rsa:2048",
                "-keyout",
                "expired.key",
                "-out",
                "expired.csr",
                "-subj",
                "/CN=Acme expired publisher",
            ],
        );
        openssl(
            d,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-in",
                "expired.csr",
                "-out",
                "expired.pem",
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20210101000000Z",
                "-extfile",
                "ext.cnf",
                "-extensions",
                "code_signing",
                "-notext",
            ],
        );
        // The certificate upstream's `mcpb sign --self-signed` makes (its own openssl command,
        // with a smaller key): a CA certificate without code-signing usage.
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-keyout",
                "self.key",
                "-out",
                "self.pem",
                "-days",
                "3650",
                "-nodes",
                "-subj",
                "/CN=MCPB Self-Signed Certificate/O=MCPB Extensions/C=US",
            ],
        );
        // The bundle, packed by upstream.
        let src = d.join("server");
        std::fs::create_dir_all(src.join("server")).unwrap();
        std::fs::write(
            src.join("manifest.json"),
            r#"{"manifest_version":"0.2","name":"weather","version":"1.0.0","description":"test bundle","author":{"name":"Acme"},"server":{"type":"node","entry_point":"server/index.js","mcp_config":{"command":"node","args":["${__dirname}/server/index.js"]}}}"#,
        )
        .unwrap();
        std::fs::write(src.join("server/index.js"), "console.log('weather');\n").unwrap();
        run_tool(d, &pki.mcpb, &["pack", "server", "unsigned.mcpb"]);
        pki
    }

    fn unsigned(&self) -> Vec<u8> {
        std::fs::read(self.path("unsigned.mcpb")).unwrap()
    }

    /// `mcpb sign` of the unsigned bundle with `cert` (an RSA key), optionally with `extra`
    /// certificates in the block.
    fn upstream_signed(&self, cert: &str, extra: &[&str]) -> Vec<u8> {
        let out = self.path(&format!("up-{cert}.mcpb"));
        std::fs::copy(self.path("unsigned.mcpb"), &out).unwrap();
        let mut args = vec![
            "sign".to_owned(),
            out.to_string_lossy().into_owned(),
            "--cert".into(),
            self.p(&format!("{cert}.pem")),
            "--key".into(),
            self.p(&format!("{cert}.key")),
        ];
        for e in extra {
            args.push("--intermediate".into());
            args.push(self.p(&format!("{e}.pem")));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_tool(self.dir.path(), &self.mcpb, &args);
        std::fs::read(out).unwrap()
    }

    /// A detached `openssl cms` signature over `content`.
    fn cms(&self, content: &[u8], signers: &[&str], chain: Option<&str>, more: &[&str]) -> Vec<u8> {
        let d = self.dir.path();
        std::fs::write(d.join("content.bin"), content).unwrap();
        let mut args: Vec<String> = [
            "cms",
            "-sign",
            "-binary",
            "-in",
            "content.bin",
            "-outform",
            "DER",
            "-out",
            "sig.der",
        ]
        .map(String::from)
        .to_vec();
        for s in signers {
            args.extend([
                "-signer".into(),
                format!("{s}.pem"),
                "-inkey".into(),
                format!("{s}.key"),
            ]);
        }
        if let Some(c) = chain {
            args.extend(["-certfile".into(), format!("{c}.pem")]);
        }
        args.extend(more.iter().map(|m| (*m).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        openssl(d, &args);
        std::fs::read(d.join("sig.der")).unwrap()
    }
}

fn block(der: &[u8], padding: usize) -> Vec<u8> {
    let mut b = HEADER.to_vec();
    b.extend_from_slice(&u32::try_from(der.len()).unwrap().to_le_bytes());
    b.extend_from_slice(der);
    b.extend(std::iter::repeat_n(0u8, padding));
    b.extend_from_slice(FOOTER);
    b
}

/// Offset of the zip's end-of-central-directory comment length field.
fn eocd_comment_field(zip: &[u8]) -> usize {
    let at = zip
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .expect("a zip");
    at + 20
}

fn with_comment_length(zip: &[u8], value: usize) -> Vec<u8> {
    let mut z = zip.to_vec();
    let at = eocd_comment_field(&z);
    z[at..at + 2].copy_from_slice(&u16::try_from(value).unwrap().to_le_bytes());
    z
}

/// The position of the DER signature in a signed file.
fn der_range(signed: &[u8]) -> std::ops::Range<usize> {
    let h = signed
        .windows(HEADER.len())
        .rposition(|w| w == HEADER)
        .unwrap();
    let n = u32::from_le_bytes(signed[h + 11..h + 15].try_into().unwrap()) as usize;
    h + 15..h + 15 + n
}

/// Builds the bundle of one case.
fn make(pki: &Pki, case: &str) -> Vec<u8> {
    let zip = pki.unsigned();
    let ec_signed = |content: &[u8]| pki.cms(content, &["ecleaf"], Some("intermediate"), &[]);
    match case {
        "upstream" => pki.upstream_signed("leaf", &["ca"]),
        "upstream-leaf-only" => pki.upstream_signed("leaf", &[]),
        "openssl-intermediate" => [zip.clone(), block(&ec_signed(&zip), 0)].concat(),
        "eocd-raised" => {
            // Upstream's newer `sign`: the zip is signed, then its comment length raised over
            // the block so that strict zip readers accept the file.
            let b = block(&ec_signed(&zip), 0);
            [with_comment_length(&zip, b.len()), b].concat()
        }
        "prepared-padded" => {
            // Upstream's prepare-for-signing / apply-signature flow for external signers.
            let prepared = with_comment_length(&zip, PREPARED_BLOCK);
            let der = ec_signed(&prepared);
            let pad = PREPARED_BLOCK - (HEADER.len() + 4 + der.len() + FOOTER.len());
            [prepared, block(&der, pad)].concat()
        }
        "unsigned" => zip,
        "truncated" => {
            let s = pki.upstream_signed("leaf", &["ca"]);
            s[..s.len() - 5].to_vec()
        }
        "length-too-large" => {
            let mut s = pki.upstream_signed("leaf", &["ca"]);
            let r = der_range(&s);
            let n = u32::try_from(r.len() + 1000).unwrap().to_le_bytes();
            s[r.start - 4..r.start].copy_from_slice(&n);
            s
        }
        "trailing-bytes" => [pki.upstream_signed("leaf", &["ca"]), b"junk\n".to_vec()].concat(),
        "bytes-before-footer" => {
            let s = pki.upstream_signed("leaf", &["ca"]);
            let n = s.len() - FOOTER.len();
            [&s[..n], b"\x01", FOOTER].concat()
        }
        "not-signed-data" => {
            let (_, der) =
                mcpsig::sigstore::keys::pem_decode(&std::fs::read(pki.path("leaf.pem")).unwrap())
                    .unwrap();
            [zip, block(&der, 0)].concat()
        }
        "two-signers" => [
            zip.clone(),
            block(
                &pki.cms(&zip, &["ecleaf", "leaf"], Some("intermediate"), &[]),
                0,
            ),
        ]
        .concat(),
        "attached" => [
            zip.clone(),
            block(
                &pki.cms(&zip, &["ecleaf"], Some("intermediate"), &["-nodetach"]),
                0,
            ),
        ]
        .concat(),
        "sha1" => [
            zip.clone(),
            block(
                &pki.cms(&zip, &["ecleaf"], Some("intermediate"), &["-md", "sha1"]),
                0,
            ),
        ]
        .concat(),
        "zip-byte-changed" => {
            let mut s = pki.upstream_signed("leaf", &["ca"]);
            // A byte of the first entry's data (after its 30-byte header and name).
            s[40] ^= 0x01;
            s
        }
        "signature-byte-changed" => {
            let mut s = pki.upstream_signed("leaf", &["ca"]);
            // The DER ends with the SignerInfo's signature value.
            let end = der_range(&s).end;
            s[end - 1] ^= 0x01;
            s
        }
        "intermediate-missing" => [
            zip.clone(),
            block(&pki.cms(&zip, &["ecleaf"], None, &[]), 0),
        ]
        .concat(),
        "self-signed" => pki.upstream_signed("self", &[]),
        "expired" => pki.upstream_signed("expired", &[]),
        "no-certificates" => [
            zip.clone(),
            block(&pki.cms(&zip, &["ecleaf"], None, &["-nocerts"]), 0),
        ]
        .concat(),
        "no-signed-attributes" => [
            zip.clone(),
            block(
                &pki.cms(&zip, &["ecleaf"], Some("intermediate"), &["-noattr"]),
                0,
            ),
        ]
        .concat(),
        "p521" => [
            zip.clone(),
            block(&pki.cms(&zip, &["p521leaf"], None, &[]), 0),
        ]
        .concat(),
        "footer-only" => [zip, FOOTER.to_vec()].concat(),
        "issued-by-leaf" => [
            zip.clone(),
            block(&pki.cms(&zip, &["subleaf"], Some("leaf"), &[]), 0),
        ]
        .concat(),
        "path-too-long" => [
            zip.clone(),
            block(&pki.cms(&zip, &["deepleaf"], Some("deepchain"), &[]), 0),
        ]
        .concat(),
        "issuer-tls-only" => [
            zip.clone(),
            block(&pki.cms(&zip, &["tlscaleaf"], Some("tlsca"), &[]), 0),
        ]
        .concat(),
        "issuer-no-cert-sign" => [
            zip.clone(),
            block(&pki.cms(&zip, &["nosignleaf"], Some("nosignca"), &[]), 0),
        ]
        .concat(),
        "unknown-critical" => [
            zip.clone(),
            block(&pki.cms(&zip, &["oddleaf"], None, &[]), 0),
        ]
        .concat(),
        "signing-time-before-validity" => [zip.clone(), block(&backdated(pki, &zip), 0)].concat(),
        "server-auth-leaf" => pki.upstream_signed("tls", &[]),
        other => panic!("unknown case `{other}`"),
    }
}

/// A signature by `leaf` (RSA, so the signature keeps its length) whose signed `signingTime`
/// says 2021, before the certificate was issued: openssl's signature with that one attribute
/// changed and the attributes signed again with `openssl dgst`.
fn backdated(pki: &Pki, zip: &[u8]) -> Vec<u8> {
    let mut der = pki.cms(zip, &["leaf"], None, &[]);
    let parsed = mcpsig::mcpb_sig::pkcs7::parse(&der).unwrap();
    let attrs = parsed.signed_attributes.clone();
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    // signingTime: OID 1.2.840.113549.1.9.5, then SET { UTCTime (13 bytes) }.
    let oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05, 0x31, 0x0f, 0x17, 0x0d,
    ];
    let t = find(&attrs, &oid).unwrap() + oid.len();
    let mut backdated = attrs.clone();
    backdated[t..t + 13].copy_from_slice(b"210101000000Z");
    std::fs::write(pki.path("attrs.der"), &backdated).unwrap();
    let sig = openssl(
        pki.dir.path(),
        &["dgst", "-sha256", "-sign", "leaf.key", "attrs.der"],
    );
    assert_eq!(sig.len(), parsed.signature.len());
    // In the SignerInfo the attributes are tagged [0] instead of SET; the rest is the same.
    let a = find(&der, &attrs[1..]).unwrap();
    der[a..a + attrs.len() - 1].copy_from_slice(&backdated[1..]);
    let s = find(&der, &parsed.signature).unwrap();
    der[s..s + sig.len()].copy_from_slice(&sig);
    der
}

fn fill(pki: &Pki, s: &str) -> String {
    let mut s = s.to_owned();
    for name in ["ca", "root", "other", "self"] {
        s = s.replace(&format!("{{{name}}}"), &pki.p(&format!("{name}.pem")));
    }
    s
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn run_case(pki: &Pki, dir: &Path) -> Result<(), String> {
    let case =
        std::fs::read_to_string(dir.join("case")).map_err(|e| format!("no case file: {e}"))?;
    let expected = std::fs::read_to_string(dir.join("expected"))
        .map_err(|e| format!("no expected file: {e}"))?;
    let expected = expected.trim();
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let file = pki.path(&format!("{name}.mcpb"));
    std::fs::write(&file, make(pki, case.trim())).unwrap();
    let mut cmd = Command::new(bin("mcp-verify"));
    cmd.arg("mcpb")
        .arg(&file)
        .arg("--json")
        .env("NO_COLOR", "1")
        .env_remove("SSL_CERT_FILE");
    for a in lines(&dir.join("args")) {
        cmd.arg(fill(pki, &a));
    }
    for e in lines(&dir.join("env")) {
        let (k, v) = e.split_once('=').ok_or("env line without =")?;
        cmd.env(k, fill(pki, v));
    }
    let out = cmd.output().unwrap();
    let code = out.status.code();
    let stdout = text(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|e| format!("not JSON ({e}): {stdout}{}", text(&out.stderr)))?;
    let first_reason = report["problems"][0]["reason"].as_str().unwrap_or("");
    let first_message = report["problems"][0]["message"].as_str().unwrap_or("");
    if let Ok(want) = std::fs::read_to_string(dir.join("message"))
        && !first_message.contains(want.trim())
    {
        return Err(format!(
            "the message does not say `{}`: {stdout}",
            want.trim()
        ));
    }
    eprintln!(
        "{name}: exit {code:?}, {} {first_reason}: {}",
        report["outcome"],
        report["problems"][0]["message"]
            .as_str()
            .or(report["error"]["message"].as_str())
            .unwrap_or("")
    );
    match expected.split_once(' ').unwrap_or((expected, "")) {
        ("accept", _) => {
            if code != Some(0) || report["verified"] != true || report["outcome"] != "valid" {
                return Err(format!("expected accept, got exit {code:?}: {stdout}"));
            }
            if report["chain"].as_array().is_none_or(|c| c.len() < 2) {
                return Err(format!("an accepted signature reports its chain: {stdout}"));
            }
        }
        ("reject", reason) => {
            if code != Some(1) || report["verified"] != false || first_reason != reason {
                return Err(format!(
                    "expected reject {reason}, got exit {code:?}: {stdout}"
                ));
            }
        }
        ("error", _) => {
            if code != Some(2) || report["error"].is_null() {
                return Err(format!(
                    "expected error (exit 2), got exit {code:?}: {stdout}"
                ));
            }
        }
        _ => return Err(format!("unknown expected `{expected}`")),
    }
    Ok(())
}

#[test]
fn every_mcpb_sig_scenario_has_its_outcome() {
    let Some(cli) = mcpb_cli() else { return };
    let pki = Pki::new(cli);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("testdata/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("mcpb-sig-")
        })
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 20,
        "expected at least 20 mcpb-sig scenarios, found {}",
        dirs.len()
    );
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| {
            run_case(&pki, d)
                .err()
                .map(|e| format!("{}: {e}", d.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "scenarios failed:\n{}",
        failures.join("\n")
    );
}

/// The signed content is what upstream means by it: `mcpb unsign` restores exactly the zip whose
/// digest the report gives, and the signed file still opens as a zip.
#[test]
fn the_reported_zip_is_what_upstream_unsigns() {
    let Some(cli) = mcpb_cli() else { return };
    let pki = Pki::new(cli);
    let signed = make(&pki, "upstream");
    let file = pki.path("signed.mcpb");
    std::fs::write(&file, &signed).unwrap();
    let out = Command::new(bin("mcp-verify"))
        .args(["mcpb", "--json", "--ca"])
        .arg(pki.path("ca.pem"))
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["signedContent"], "prefix");
    assert_eq!(
        report["signer"]["subject"],
        "CN=Acme Weather Publisher,O=Acme"
    );
    assert_eq!(report["chain"][1]["subject"], "CN=mcpsig test publisher CA");

    let unsigned = pki.path("unsigned-again.mcpb");
    std::fs::copy(&file, &unsigned).unwrap();
    run_tool(
        pki.dir.path(),
        &pki.mcpb,
        &["unsign", &unsigned.to_string_lossy()],
    );
    let restored = std::fs::read(&unsigned).unwrap();
    assert_eq!(restored, pki.unsigned());
    assert_eq!(
        report["zipSha256"],
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&restored)))
    );
    // The zip reader the manifest's `mcpb` artifact uses reads the signed file's entries.
    let entries = mcpsig::artifact::resolve::mcpb_entries(&file).unwrap();
    assert_eq!(entries.len(), 2);

    // --sha256 of the restored zip holds; the human report names signer and anchor.
    let out = Command::new(bin("mcp-verify"))
        .args(["mcpb", "--ca"])
        .arg(pki.path("ca.pem"))
        .arg("--sha256")
        .arg(hex::encode(sha2::Sha256::digest(&restored)))
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let human = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{human}");
    assert!(human.starts_with("verified: "), "{human}");
    assert!(
        human.contains("signer:   CN=Acme Weather Publisher,O=Acme"),
        "{human}"
    );
    assert!(
        human.contains("anchor:   CN=mcpsig test publisher CA"),
        "{human}"
    );
}

/// Upstream's newer layout (comment length raised over the block) keeps the signed file a zip
/// that strict readers accept, and the report says which bytes were signed.
#[test]
fn the_eocd_raised_layout_reports_its_signed_content() {
    let Some(cli) = mcpb_cli() else { return };
    let pki = Pki::new(cli);
    let signed = make(&pki, "eocd-raised");
    let file = pki.path("raised.mcpb");
    std::fs::write(&file, &signed).unwrap();
    let out = Command::new(bin("mcp-verify"))
        .args(["mcpb", "--json", "--ca"])
        .arg(pki.path("root.pem"))
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["signedContent"], "prefix-eocd-restored");
    assert_eq!(
        report["zipSha256"],
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(pki.unsigned()))
        )
    );
    assert_eq!(report["chain"].as_array().unwrap().len(), 3);
    assert!(mcpsig::artifact::resolve::mcpb_entries(&file).is_ok());
}
