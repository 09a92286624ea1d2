//! TUF metadata: the model of the four top-level roles, parsing a signed envelope (strict JSON,
//! OLPC canonical bytes for the signatures), and the checks every role passes: a threshold of
//! valid signatures by the keys the root assigns, expiry, root rotation by exactly one version,
//! and the length and hashes another role lists for a file.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha512};

use super::{MetadataProblem as P, TufError, olpc};
use crate::sigstore::keys::{KeyKind, PublicKey};

#[derive(Debug, Clone, Deserialize)]
pub(super) struct RawKey {
    pub(super) keytype: String,
    pub(super) scheme: String,
    pub(super) keyval: RawKeyVal,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct RawKeyVal {
    pub(super) public: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct RoleKeys {
    pub(super) keyids: Vec<String>,
    pub(super) threshold: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct RootSigned {
    #[serde(rename = "_type")]
    pub(super) typ: String,
    pub(super) spec_version: String,
    pub(super) version: u64,
    pub(super) expires: String,
    pub(super) keys: BTreeMap<String, RawKey>,
    pub(super) roles: BTreeMap<String, RoleKeys>,
    #[serde(default)]
    pub(super) consistent_snapshot: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct MetaFile {
    pub(super) version: u64,
    #[serde(default)]
    pub(super) length: Option<u64>,
    #[serde(default)]
    pub(super) hashes: Option<BTreeMap<String, String>>,
}

/// Timestamp and snapshot share a shape: a `meta` map of file name to version.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct MetaSigned {
    #[serde(rename = "_type")]
    pub(super) typ: String,
    pub(super) spec_version: String,
    pub(super) version: u64,
    pub(super) expires: String,
    pub(super) meta: BTreeMap<String, MetaFile>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct TargetFile {
    pub(super) length: u64,
    pub(super) hashes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct TargetsSigned {
    #[serde(rename = "_type")]
    pub(super) typ: String,
    pub(super) spec_version: String,
    pub(super) version: u64,
    pub(super) expires: String,
    #[serde(default)]
    pub(super) targets: BTreeMap<String, TargetFile>,
}

pub(super) trait Header {
    fn header(&self) -> (&str, &str, u64, &str);
}

impl Header for RootSigned {
    fn header(&self) -> (&str, &str, u64, &str) {
        (&self.typ, &self.spec_version, self.version, &self.expires)
    }
}

impl Header for MetaSigned {
    fn header(&self) -> (&str, &str, u64, &str) {
        (&self.typ, &self.spec_version, self.version, &self.expires)
    }
}

impl Header for TargetsSigned {
    fn header(&self) -> (&str, &str, u64, &str) {
        (&self.typ, &self.spec_version, self.version, &self.expires)
    }
}

/// A parsed metadata file whose signatures are not yet checked.
#[derive(Debug, Clone)]
pub(super) struct Envelope<T> {
    pub(super) signed: T,
    pub(super) version: u64,
    pub(super) expires: DateTime<Utc>,
    /// The OLPC canonical bytes of `signed`: what the signatures cover.
    pub(super) canonical: Vec<u8>,
    pub(super) signatures: Vec<(String, Vec<u8>)>,
    /// The file as fetched, written to the cache unchanged.
    pub(super) raw: Vec<u8>,
    pub(super) url: String,
}

pub(super) fn parse_envelope<T: DeserializeOwned + Header>(
    raw: Vec<u8>,
    role: &str,
    url: &str,
) -> Result<Envelope<T>, TufError> {
    let bad = |problem: P| TufError::Malformed {
        role: role.to_owned(),
        url: url.to_owned(),
        problem,
    };
    let value = crate::json::parse_value(&raw).map_err(|e| bad(P::Json(e)))?;
    let Value::Object(mut top) = value else {
        return Err(bad(P::NotAnObject));
    };
    let signed_value = top.remove("signed").ok_or_else(|| bad(P::NoSigned))?;
    let sigs = top
        .remove("signatures")
        .ok_or_else(|| bad(P::NoSignatures))?;
    let Value::Array(sigs) = sigs else {
        return Err(bad(P::SignaturesNotAnArray));
    };
    let mut signatures = Vec::with_capacity(sigs.len());
    for s in sigs {
        #[derive(Deserialize)]
        struct RawSig {
            keyid: String,
            sig: String,
        }
        let s: RawSig = serde_json::from_value(s).map_err(|e| bad(P::SignatureEntry(e)))?;
        let sig = hex::decode(&s.sig).map_err(|_| {
            bad(P::SignatureNotHex {
                keyid: s.keyid.clone(),
            })
        })?;
        signatures.push((s.keyid, sig));
    }
    let canonical = olpc::encode(&signed_value).map_err(|e| bad(P::Canonical(e)))?;
    let signed: T = serde_json::from_value(signed_value).map_err(|e| bad(P::Signed(e)))?;
    let (typ, spec_version, version, expires) = signed.header();
    if typ != role {
        return Err(bad(P::Type {
            found: typ.to_owned(),
            expected: role.to_owned(),
        }));
    }
    // Only major version 1 of the specification is understood.
    if spec_version.split('.').next() != Some("1") {
        return Err(bad(P::SpecVersion {
            found: spec_version.to_owned(),
        }));
    }
    if version == 0 {
        return Err(bad(P::VersionZero));
    }
    let expires = parse_expires(expires).map_err(bad)?;
    Ok(Envelope {
        version,
        expires,
        signed,
        canonical,
        signatures,
        raw,
        url: url.to_owned(),
    })
}

pub(super) fn parse_expires(s: &str) -> Result<DateTime<Utc>, P> {
    if !s.ends_with('Z') {
        return Err(P::ExpiresNotUtc {
            value: s.to_owned(),
        });
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|source| P::Expires {
            value: s.to_owned(),
            source,
        })
}

/// A key in one of the forms Sigstore's repositories use; `None` for any other (such a key can
/// never count towards a threshold).
pub(super) fn parse_key(k: &RawKey) -> Option<PublicKey> {
    match (k.keytype.as_str(), k.scheme.as_str()) {
        ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
            match PublicKey::from_pem(&k.keyval.public).ok()? {
                key if key.kind() == KeyKind::P256 => Some(key),
                _ => None,
            }
        }
        ("ecdsa" | "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384") => {
            match PublicKey::from_pem(&k.keyval.public).ok()? {
                key if key.kind() == KeyKind::P384 => Some(key),
                _ => None,
            }
        }
        ("ed25519", "ed25519") => {
            let bytes: [u8; 32] = hex::decode(&k.keyval.public).ok()?.try_into().ok()?;
            PublicKey::from_raw(KeyKind::Ed25519, &bytes).ok()
        }
        _ => None,
    }
}

/// Checks that `env` carries valid signatures by at least `threshold` distinct keys that
/// `root` assigns to `role`.
pub(super) fn verify_role<T>(
    env: &Envelope<T>,
    root: &Envelope<RootSigned>,
    role: &str,
) -> Result<(), TufError> {
    let signer = format!("root v{}", root.version);
    let keys = root
        .signed
        .roles
        .get(role)
        .ok_or_else(|| TufError::Malformed {
            role: "root".into(),
            url: root.url.clone(),
            problem: P::NoRole {
                role: role.to_owned(),
            },
        })?;
    if keys.threshold == 0 {
        return Err(TufError::Malformed {
            role: "root".into(),
            url: root.url.clone(),
            problem: P::ZeroThreshold {
                role: role.to_owned(),
            },
        });
    }
    let mut valid = BTreeSet::new();
    let mut bad = 0usize;
    for (keyid, sig) in &env.signatures {
        if valid.contains(keyid) || !keys.keyids.iter().any(|k| k == keyid) {
            continue;
        }
        let Some(key) = root.signed.keys.get(keyid).and_then(parse_key) else {
            continue;
        };
        match key.verify(&env.canonical, sig) {
            Ok(()) => {
                valid.insert(keyid.clone());
            }
            Err(_) => bad += 1,
        }
    }
    if (valid.len() as u64) >= keys.threshold {
        return Ok(());
    }
    let role = role.to_owned();
    Err(if bad > 0 {
        TufError::BadSignature {
            role,
            version: env.version,
            url: env.url.clone(),
            signer,
            valid: valid.len(),
            threshold: keys.threshold,
            bad,
        }
    } else {
        TufError::BelowThreshold {
            role,
            version: env.version,
            url: env.url.clone(),
            signer,
            valid: valid.len(),
            threshold: keys.threshold,
        }
    })
}

pub(super) fn check_expiry<T>(
    env: &Envelope<T>,
    role: &str,
    now: DateTime<Utc>,
) -> Result<(), TufError> {
    if env.expires <= now {
        return Err(TufError::Expired {
            role: role.to_owned(),
            version: env.version,
            url: env.url.clone(),
            expires: env.expires.to_rfc3339(),
        });
    }
    Ok(())
}

/// Hex digest of `data` with a TUF hash algorithm name, `None` for one we do not implement.
pub(super) fn hash_hex(algorithm: &str, data: &[u8]) -> Option<String> {
    match algorithm {
        "sha256" => Some(hex::encode(Sha256::digest(data))),
        "sha512" => Some(hex::encode(Sha512::digest(data))),
        _ => None,
    }
}

/// Parses and self-verifies a root: a threshold of its own root keys must sign it. This is
/// how a trust anchor (embedded or cached) is checked before use.
pub(super) fn parse_self_signed_root(
    raw: Vec<u8>,
    url: &str,
) -> Result<Envelope<RootSigned>, TufError> {
    let root: Envelope<RootSigned> = parse_envelope(raw, "root", url)?;
    verify_role(&root, &root, "root")?;
    Ok(root)
}

/// Parses a trusted TUF root and checks that a threshold of its own root keys signed it; returns
/// its version. Used on the embedded roots (a published test vector) and on `--tuf-root` files.
pub fn verify_root_self_signed(raw: &[u8], name: &str) -> Result<u64, TufError> {
    Ok(parse_self_signed_root(raw.to_vec(), name)?.version)
}

/// One root rotation step: `new` must be signed by a threshold of `trusted`'s root keys and of
/// its own, and be exactly the next version.
pub(super) fn rotate(
    trusted: &Envelope<RootSigned>,
    new: Envelope<RootSigned>,
) -> Result<Envelope<RootSigned>, TufError> {
    verify_role(&new, trusted, "root")?;
    verify_role(&new, &new, "root")?;
    let next = trusted.version.saturating_add(1);
    if new.version != next {
        return Err(TufError::VersionMismatch {
            role: "root".into(),
            url: new.url.clone(),
            expected: next,
            actual: new.version,
        });
    }
    Ok(new)
}

pub(super) fn check_meta_file(
    role: &str,
    url: &str,
    meta: &MetaFile,
    data: &[u8],
) -> Result<(), TufError> {
    let mismatch = |what: String, expected: String, actual: String| TufError::MetaMismatch {
        role: role.to_owned(),
        url: url.to_owned(),
        what,
        expected,
        actual,
    };
    if let Some(len) = meta.length
        && len != data.len() as u64
    {
        return Err(mismatch(
            "length".into(),
            len.to_string(),
            data.len().to_string(),
        ));
    }
    for (alg, expected) in meta.hashes.iter().flatten() {
        let actual = hash_hex(alg, data).ok_or_else(|| TufError::Malformed {
            role: role.to_owned(),
            url: url.to_owned(),
            problem: P::UnsupportedHash {
                algorithm: alg.clone(),
            },
        })?;
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(mismatch(format!("{alg} hash"), expected.clone(), actual));
        }
    }
    Ok(())
}

/// The hash a consistent-snapshot repository prefixes target file names with.
pub(super) fn target_url_hash(file: &TargetFile) -> Option<(&'static str, &str)> {
    if let Some(h) = file.hashes.get("sha256") {
        return Some(("sha256", h));
    }
    file.hashes.get("sha512").map(|h| ("sha512", h.as_str()))
}

pub(super) fn check_target(
    name: &str,
    url: &str,
    file: &TargetFile,
    data: &[u8],
) -> Result<(), TufError> {
    if data.len() as u64 != file.length {
        return Err(TufError::TargetLength {
            name: name.to_owned(),
            url: url.to_owned(),
            expected: file.length,
            actual: data.len() as u64,
        });
    }
    if file.hashes.is_empty() {
        return Err(TufError::Malformed {
            role: "targets".into(),
            url: url.to_owned(),
            problem: P::TargetNoHashes {
                name: name.to_owned(),
            },
        });
    }
    for (alg, expected) in &file.hashes {
        // An algorithm we cannot compute is a hash we cannot check: refuse rather than skip it.
        let actual = hash_hex(alg, data).ok_or_else(|| TufError::Malformed {
            role: "targets".into(),
            url: url.to_owned(),
            problem: P::TargetUnsupportedHash {
                name: name.to_owned(),
                algorithm: alg.clone(),
            },
        })?;
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(TufError::TargetHash {
                name: name.to_owned(),
                url: url.to_owned(),
                algorithm: alg.clone(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

/// Parses one metadata file of `role` (`root`, `timestamp`, `snapshot` or `targets`) as a
/// refresh does, before any signature check; returns its version. For the fuzz targets.
pub(crate) fn parse_role(role: &str, raw: &[u8]) -> Result<u64, super::TufError> {
    let url = "fuzz-input";
    let version = match role {
        "root" => parse_envelope::<RootSigned>(raw.to_vec(), role, url)?.version,
        "timestamp" | "snapshot" => parse_envelope::<MetaSigned>(raw.to_vec(), role, url)?.version,
        _ => parse_envelope::<TargetsSigned>(raw.to_vec(), "targets", url)?.version,
    };
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::super::{production_root, staging_root};
    use super::*;

    /// Published vectors: the TUF roots Sigstore clients ship are signed by a threshold of
    /// their own root keys over the OLPC canonical form of `signed`.
    #[test]
    fn embedded_roots_verify_themselves() -> Result<(), TufError> {
        assert_eq!(
            verify_root_self_signed(production_root(), "production")?,
            15
        );
        assert_eq!(verify_root_self_signed(staging_root(), "staging")?, 14);
        Ok(())
    }

    #[test]
    fn a_changed_byte_breaks_the_threshold() -> Result<(), Box<dyn std::error::Error>> {
        let mut v: Value = serde_json::from_slice(production_root())?;
        v["signed"]["expires"] = Value::String("2099-01-01T00:00:00Z".into());
        let err = verify_root_self_signed(&serde_json::to_vec(&v)?, "edited")
            .err()
            .ok_or("edited root verified")?;
        assert_eq!(err.reason_code(), "bad-signature");
        // Signatures by keys that are not root keys do not count.
        let mut v: Value = serde_json::from_slice(production_root())?;
        v["signatures"] = Value::Array(vec![]);
        let err = verify_root_self_signed(&serde_json::to_vec(&v)?, "unsigned")
            .err()
            .ok_or("unsigned root verified")?;
        assert_eq!(err.reason_code(), "below-threshold");
        Ok(())
    }

    #[test]
    fn pretty_printing_does_not_matter() -> Result<(), Box<dyn std::error::Error>> {
        let v: Value = serde_json::from_slice(staging_root())?;
        verify_root_self_signed(&serde_json::to_vec(&v)?, "compact")?;
        Ok(())
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let raw = br#"{"signed":{"_type":"root","_type":"targets"},"signatures":[]}"#;
        let err = verify_root_self_signed(raw, "dup").err();
        assert_eq!(
            err.map(|e| e.reason_code().as_str()),
            Some("malformed-metadata")
        );
    }

    #[test]
    fn target_checks() {
        let data = b"hello";
        let file = TargetFile {
            length: 5,
            hashes: BTreeMap::from([("sha256".to_owned(), hex::encode(Sha256::digest(data)))]),
        };
        assert!(check_target("t", "u", &file, data).is_ok());
        let e = check_target("t", "u", &file, b"hellO").err();
        assert_eq!(
            e.map(|e| e.reason_code().as_str()),
            Some("target-hash-mismatch")
        );
        let e = check_target("t", "u", &file, b"hell").err();
        assert_eq!(
            e.map(|e| e.reason_code().as_str()),
            Some("target-length-mismatch")
        );
        let mut md5 = file.clone();
        md5.hashes.insert("md5".into(), "00".into());
        let e = check_target("t", "u", &md5, data).err();
        assert_eq!(
            e.map(|e| e.reason_code().as_str()),
            Some("malformed-metadata")
        );
    }
}
