//! Trust anchors for bundle signatures: the certificates of a PEM file the user gives, or the
//! system's roots (`SSL_CERT_FILE`, else the first PEM bundle found at the usual Linux places).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::sigstore::cert::ParsedCert;
use crate::sigstore::keys::pem_decode;

/// Where Linux distributions keep their PEM bundle of trusted roots, in the order tried.
pub const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
/// The largest anchor file read.
pub const MAX_FILE: u64 = 16 * 1024 * 1024;
const MAX_CERTIFICATES: usize = 10_000;
const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

/// Which anchors to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorSource {
    /// A PEM file of CA certificates: every certificate in it must be readable.
    File(PathBuf),
    /// The system's roots; certificates in the bundle that cannot be read are skipped.
    System,
}

/// Loaded trust anchors.
#[derive(Debug, Clone)]
pub struct Anchors {
    pub certs: Vec<ParsedCert>,
    /// Where they came from.
    pub path: PathBuf,
    pub system: bool,
    /// Certificates of a system bundle that could not be read.
    pub skipped: usize,
}

/// Why anchors cannot be loaded (verification cannot decide: exit 2).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("cannot read trust anchors `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("trust anchors `{}` exceed {MAX_FILE} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("trust anchors `{}` hold more than {MAX_CERTIFICATES} certificates", path.display())]
    TooMany { path: PathBuf },
    #[error("trust anchors `{}` hold no PEM certificate", path.display())]
    Empty { path: PathBuf },
    #[error("certificate {index} of `{}` cannot be read: {detail}", path.display())]
    Certificate {
        path: PathBuf,
        index: usize,
        detail: String,
    },
    #[error("no system trust roots: SSL_CERT_FILE is unset and none of {} exists", SYSTEM_BUNDLES.join(", "))]
    NoSystemBundle,
}

impl AnchorError {
    /// A hint for the command line.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            AnchorError::NoSystemBundle => Some(
                "give the publisher's CA with --ca, or install the system roots (Debian: ca-certificates)",
            ),
            _ => None,
        }
    }
}

impl Anchors {
    /// Loads the anchors `source` names.
    pub fn load(source: &AnchorSource) -> Result<Anchors, AnchorError> {
        match source {
            AnchorSource::File(path) => {
                let (certs, _) = parse_file(path, true)?;
                Ok(Anchors {
                    certs,
                    path: path.clone(),
                    system: false,
                    skipped: 0,
                })
            }
            AnchorSource::System => {
                let path = system_bundle().ok_or(AnchorError::NoSystemBundle)?;
                let (certs, skipped) = parse_file(&path, false)?;
                Ok(Anchors {
                    certs,
                    path,
                    system: true,
                    skipped,
                })
            }
        }
    }

    /// Human description: `CA file x.pem (1 certificate)`.
    pub fn describe(&self) -> String {
        let what = if self.system {
            "system roots"
        } else {
            "CA file"
        };
        let n = self.certs.len();
        let s = if n == 1 { "" } else { "s" };
        format!("{what} {} ({n} certificate{s})", self.path.display())
    }
}

fn system_bundle() -> Option<PathBuf> {
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        return Some(PathBuf::from(f));
    }
    SYSTEM_BUNDLES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn parse_file(path: &Path, strict: bool) -> Result<(Vec<ParsedCert>, usize), AnchorError> {
    let read = |source| AnchorError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut text = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut text)
        .map_err(read)?;
    if text.len() as u64 > MAX_FILE {
        return Err(AnchorError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    parse_pem(&text, path, strict)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every `CERTIFICATE` PEM block of `text` (other text, comments included, is ignored).
/// Strict: a block that cannot be read is an error; otherwise it is counted as skipped.
pub fn parse_pem(
    text: &[u8],
    path: &Path,
    strict: bool,
) -> Result<(Vec<ParsedCert>, usize), AnchorError> {
    let mut certs = Vec::new();
    let mut skipped = 0;
    let mut rest = text;
    let mut index = 0;
    while let Some(b) = find(rest, BEGIN) {
        let after = &rest[b..];
        let Some(e) = find(after, END) else {
            if strict {
                return Err(AnchorError::Certificate {
                    path: path.to_path_buf(),
                    index,
                    detail: "no END line".into(),
                });
            }
            skipped += 1;
            break;
        };
        let block = &after[..e + END.len()];
        rest = &after[e + END.len()..];
        if certs.len() + skipped >= MAX_CERTIFICATES {
            return Err(AnchorError::TooMany {
                path: path.to_path_buf(),
            });
        }
        let parsed = pem_decode(block)
            .map_err(|e| e.to_string())
            .and_then(|(_, der)| ParsedCert::from_der(&der).map_err(|e| e.to_string()));
        match parsed {
            Ok(c) => certs.push(c),
            Err(detail) if strict => {
                return Err(AnchorError::Certificate {
                    path: path.to_path_buf(),
                    index,
                    detail,
                });
            }
            Err(_) => skipped += 1,
        }
        index += 1;
    }
    if certs.is_empty() {
        return Err(AnchorError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok((certs, skipped))
}
