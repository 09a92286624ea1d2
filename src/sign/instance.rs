//! Which Sigstore instance keyless signing talks to and checks against: the signing config and
//! trusted root of production or staging (as last refreshed over TUF, else embedded), or the
//! trusted root inside a ClientTrustConfig file.

use std::path::PathBuf;

use chrono::Utc;

use super::keyless::KeylessError;
use crate::sigstore::SigstoreError;
use crate::sigstore::signing_config::{CLIENT_TRUST_CONFIG_MEDIA_TYPE, SigningConfig};
use crate::sigstore::trust::TrustedRoot;

/// The signing config and trusted root of the public-good (or staging) instance: the ones
/// `mcp-verify trust refresh` cached under `cache` when they are there and still match their
/// verified TUF metadata (so signing follows service rotations), else the embedded ones. The two
/// come from the same place, never one cached and one embedded.
pub(super) fn public_instance(
    staging: bool,
    cache: Option<PathBuf>,
) -> Result<(SigningConfig, TrustedRoot), KeylessError> {
    use crate::sigstore::tuf;
    let (url, anchor) = if staging {
        (tuf::STAGING_URL, tuf::staging_root())
    } else {
        (tuf::PRODUCTION_URL, tuf::production_root())
    };
    let cached = cache.and_then(|root| {
        let dir = tuf::repo_cache_dir(&root, url);
        let get = |name| {
            tuf::load_cached_target(&dir, name, anchor, Utc::now())
                .ok()
                .flatten()
        };
        let config = get(tuf::SIGNING_CONFIG_TARGET)?;
        let trusted = get(tuf::TRUSTED_ROOT_TARGET)?;
        let config =
            SigningConfig::from_json(&config.bytes, &config.path.display().to_string()).ok()?;
        let trusted = TrustedRoot::from_json(&trusted.bytes).ok()?;
        Some((config, trusted))
    });
    if let Some(found) = cached {
        return Ok(found);
    }
    if staging {
        Ok((
            SigningConfig::staging()?,
            TrustedRoot::staging().map_err(KeylessError::TrustedRoot)?,
        ))
    } else {
        Ok((
            SigningConfig::production()?,
            TrustedRoot::production().map_err(KeylessError::TrustedRoot)?,
        ))
    }
}

/// The trusted root inside a ClientTrustConfig file, if the file is one.
pub(super) fn client_trust_config_root(
    path: &std::path::Path,
) -> Option<Result<TrustedRoot, SigstoreError>> {
    let bytes =
        crate::fsutil::read_limited(path, crate::sigstore::trust::MAX_TRUST_FILE_BYTES).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    if v.get("mediaType")?.as_str()? != CLIENT_TRUST_CONFIG_MEDIA_TYPE {
        return None;
    }
    let root = v.get("trustedRoot")?;
    Some(TrustedRoot::from_json(root.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_instance_without_a_cache_is_the_embedded_one() -> Result<(), KeylessError> {
        let empty = tempfile::tempdir().map_err(|e| KeylessError::Read {
            path: std::env::temp_dir(),
            source: e,
        })?;
        for staging in [false, true] {
            let (config, _root) = public_instance(staging, Some(empty.path().to_owned()))?;
            let want = if staging {
                "embedded:staging"
            } else {
                "embedded:production"
            };
            assert_eq!(config.origin, want);
            let (config, _) = public_instance(staging, None)?;
            assert_eq!(config.origin, want);
        }
        Ok(())
    }
}
