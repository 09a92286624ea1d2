//! What a manifest may pin about a remote server (spec/manifest-v1.md, "Remote servers"): the
//! endpoint's URL, under rules that keep it from being downgraded or from carrying secrets, and
//! optionally the TLS identity the endpoint must present.

use serde::{Deserialize, Serialize};

use crate::digest::{Algorithm, Digest};

/// The longest URL a manifest may pin.
pub const MAX_URL_BYTES: usize = 2048;
/// At most this many CA certificates and as many key digests in one TLS identity.
pub const MAX_TLS_PINS: usize = 16;
/// The largest PEM CA certificate accepted in a manifest.
pub const MAX_CA_PEM_BYTES: usize = 16 * 1024;

/// The TLS identity a remote endpoint must present, when the publisher pins one (for a server
/// behind a private CA, or to hold a public one to its key). Empty lists mean "not pinned": the
/// endpoint is then checked against the system's roots as any HTTPS client would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsIdentity {
    /// PEM CA certificates: the endpoint's chain must lead to one of them (instead of the
    /// system's roots), for the URL's host name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_certificates: Vec<String>,
    /// `sha256:<hex>` of the DER SubjectPublicKeyInfo of the endpoint's own certificate: its key
    /// must be one of these. Alone (no `caCertificates`), the key is the identity: no chain or
    /// host name is required.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spki_digests: Vec<Digest>,
}

/// Why a remote endpoint cannot be pinned or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteProblem {
    #[error("`{url}` is not a URL ({why})")]
    Unparsable { url: String, why: String },
    #[error("the URL is longer than {MAX_URL_BYTES} bytes")]
    TooLong,
    #[error(
        "the URL holds a control character or white space: what is signed must be what is reached, byte for byte"
    )]
    ControlCharacters,
    #[error("`{scheme}:` is not https (plain http is allowed only to a loopback address)")]
    Scheme { scheme: String },
    #[error("plain http to `{host}`, which is not a loopback address: use https")]
    PlainHttpOffLoopback { host: String },
    #[error(
        "the URL carries a user name or password: credentials are passed at run time, never signed"
    )]
    Credentials,
    #[error("the URL has a fragment (`#...`), which HTTP never sends")]
    Fragment,
    #[error("the URL has no host")]
    NoHost,
    #[error("the TLS identity is empty: pin caCertificates, spkiDigests or both, or leave tls out")]
    EmptyTls,
    #[error("the TLS identity pins more than {MAX_TLS_PINS} certificates or keys")]
    TooManyPins,
    #[error("caCertificates[{index}] is not one PEM certificate ({why})")]
    BadCaCertificate { index: usize, why: String },
    #[error("spkiDigests[{index}] is `{digest}`: key digests are sha256")]
    SpkiNotSha256 { index: usize, digest: String },
    #[error("a TLS identity is pinned for plain http: it needs an https URL")]
    TlsWithoutHttps,
}

/// Whether `host` (as a URL writes it) is a loopback address or `localhost`.
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(a) => a.is_loopback(),
        url::Host::Ipv6(a) => a.is_loopback(),
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
    }
}

/// Whether two URLs name the same endpoint: equal once parsed (so `HTTPS://Host:443/mcp` is
/// `https://host/mcp`); a URL that does not parse names none.
pub fn same_endpoint(a: &str, b: &str) -> bool {
    matches!((url::Url::parse(a), url::Url::parse(b)), (Ok(a), Ok(b)) if a == b)
}

/// Checks a remote endpoint's URL: https, or http to loopback only; no credentials, no
/// fragment. Returns it parsed.
pub fn check_url(url: &str) -> Result<url::Url, RemoteProblem> {
    if url.len() > MAX_URL_BYTES {
        return Err(RemoteProblem::TooLong);
    }
    // A URL parser would percent-encode or drop these, so the endpoint reached would not be the
    // string signed (and a terminal would interpret them when it is shown).
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(RemoteProblem::ControlCharacters);
    }
    let parsed = url::Url::parse(url).map_err(|e| RemoteProblem::Unparsable {
        url: crate::text::one_line(url, 200),
        why: e.to_string(),
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(RemoteProblem::Credentials);
    }
    if parsed.fragment().is_some() {
        return Err(RemoteProblem::Fragment);
    }
    let host = parsed.host().ok_or(RemoteProblem::NoHost)?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        "http" => {
            return Err(RemoteProblem::PlainHttpOffLoopback {
                host: host.to_string(),
            });
        }
        other => {
            return Err(RemoteProblem::Scheme {
                scheme: other.to_owned(),
            });
        }
    }
    Ok(parsed)
}

impl TlsIdentity {
    /// Checks the identity's shape (non-empty, bounded, each CA one PEM certificate, each key
    /// digest sha256) and returns the CA certificates as DER.
    pub fn check(&self) -> Result<Vec<Vec<u8>>, RemoteProblem> {
        if self.ca_certificates.is_empty() && self.spki_digests.is_empty() {
            return Err(RemoteProblem::EmptyTls);
        }
        if self.ca_certificates.len() > MAX_TLS_PINS || self.spki_digests.len() > MAX_TLS_PINS {
            return Err(RemoteProblem::TooManyPins);
        }
        for (index, d) in self.spki_digests.iter().enumerate() {
            if d.algorithm() != Algorithm::Sha256 {
                return Err(RemoteProblem::SpkiNotSha256 {
                    index,
                    digest: d.to_string(),
                });
            }
        }
        self.ca_certificates
            .iter()
            .enumerate()
            .map(|(index, pem)| {
                ca_der(pem).map_err(|why| RemoteProblem::BadCaCertificate { index, why })
            })
            .collect()
    }
}

/// One PEM `CERTIFICATE` block, parsed as an X.509 certificate, as DER.
fn ca_der(pem: &str) -> Result<Vec<u8>, String> {
    use der::{Decode as _, DecodePem as _, Encode as _};
    if pem.len() > MAX_CA_PEM_BYTES {
        return Err(format!("longer than {MAX_CA_PEM_BYTES} bytes"));
    }
    let cert =
        x509_cert::Certificate::from_pem(pem.trim().as_bytes()).map_err(|e| e.to_string())?;
    let der = cert.to_der().map_err(|e| e.to_string())?;
    // One block only: anything after the first is refused rather than silently ignored.
    if pem.trim().matches("-----BEGIN").count() != 1 {
        return Err("more than one PEM block".into());
    }
    x509_cert::Certificate::from_der(&der).map_err(|e| e.to_string())?;
    Ok(der)
}

/// The digest a manifest pins for a certificate's key: SHA-256 of its DER SubjectPublicKeyInfo.
pub fn spki_digest(cert_der: &[u8]) -> Result<Digest, String> {
    use der::{Decode as _, Encode as _};
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|e| e.to_string())?;
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| e.to_string())?;
    Ok(Digest::sha256_of(&spki))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http_without_credentials() {
        for ok in [
            "https://mcp.example.com/mcp",
            "https://mcp.example.com:8443/v1/mcp?x=1",
            "http://127.0.0.1:3001/mcp",
            "http://127.8.9.1/mcp",
            "http://[::1]:3001/mcp",
            "http://localhost:3001/mcp",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        let bad = |u: &str| check_url(u).unwrap_err();
        assert!(matches!(
            bad("http://mcp.example.com/mcp"),
            RemoteProblem::PlainHttpOffLoopback { .. }
        ));
        assert!(matches!(
            bad("http://10.0.0.1/mcp"),
            RemoteProblem::PlainHttpOffLoopback { .. }
        ));
        assert!(matches!(
            bad("http://127.0.0.1.evil.com/mcp"),
            RemoteProblem::PlainHttpOffLoopback { .. }
        ));
        assert!(matches!(bad("ftp://x/"), RemoteProblem::Scheme { .. }));
        assert!(matches!(
            bad("ws://127.0.0.1/"),
            RemoteProblem::Scheme { .. }
        ));
        assert!(matches!(
            bad("https://user:pw@mcp.example.com/"),
            RemoteProblem::Credentials
        ));
        assert!(matches!(
            bad("https://token@mcp.example.com/"),
            RemoteProblem::Credentials
        ));
        assert!(matches!(
            bad("https://mcp.example.com/#x"),
            RemoteProblem::Fragment
        ));
        assert!(matches!(bad("not a url"), RemoteProblem::ControlCharacters));
        assert!(matches!(bad("nota-url"), RemoteProblem::Unparsable { .. }));
        assert!(matches!(
            bad("https://x/\u{1b}[31m"),
            RemoteProblem::ControlCharacters
        ));
        assert!(matches!(
            bad("https://x/a b"),
            RemoteProblem::ControlCharacters
        ));
        assert!(matches!(
            bad(&format!("https://x/{}", "a".repeat(3000))),
            RemoteProblem::TooLong
        ));
    }

    #[test]
    fn a_tls_identity_must_pin_something_well_formed() {
        assert_eq!(TlsIdentity::default().check(), Err(RemoteProblem::EmptyTls));
        let bad_pem = TlsIdentity {
            ca_certificates: vec![
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
            ],
            ..Default::default()
        };
        assert!(matches!(
            bad_pem.check(),
            Err(RemoteProblem::BadCaCertificate { index: 0, .. })
        ));
        let sha512 = TlsIdentity {
            spki_digests: vec![format!("sha512:{}", "ab".repeat(64)).parse().unwrap()],
            ..Default::default()
        };
        assert!(matches!(
            sha512.check(),
            Err(RemoteProblem::SpkiNotSha256 { index: 0, .. })
        ));
    }
}
