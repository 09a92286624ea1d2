//! What `mcp-verify trust refresh` decides, as a request: which repository (production, staging,
//! or a named one with its own anchor root), which anchor, which cache folder.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::{Limits, RefreshOptions, RefreshReport, TufError};

/// A refresh as the command line asks for it.
#[derive(Debug, Clone, Default)]
pub struct RefreshRequest {
    /// Another TUF repository; needs `anchor`.
    pub url: Option<String>,
    /// The trusted root.json of `url`'s repository.
    pub anchor: Option<PathBuf>,
    /// Sigstore's staging repository, with its embedded anchor.
    pub staging: bool,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshRequestError {
    #[error("--tuf-url needs --tuf-root: the repository's trusted root.json, its anchor")]
    UrlWithoutAnchor,
    #[error("--tuf-root needs --tuf-url: the repository it anchors")]
    AnchorWithoutUrl,
    #[error("--staging and --tuf-url name two repositories")]
    TwoRepositories,
    #[error("cannot read the anchor root")]
    Anchor(#[source] crate::fsutil::ReadError),
    #[error("no cache folder: set MCPSIG_CACHE_DIR (or XDG_CACHE_HOME, or HOME) to refresh")]
    NoCacheFolder,
    #[error(transparent)]
    Tuf(Box<TufError>),
}

/// The anchor root's size bound (the embedded ones are a few KiB).
const MAX_ANCHOR_BYTES: u64 = 1 << 20;

/// Refreshes the repository the request names into its cache folder (spec/trust.md).
pub fn refresh_request(
    req: &RefreshRequest,
    now: DateTime<Utc>,
) -> Result<RefreshReport, RefreshRequestError> {
    let (url, anchor): (String, Vec<u8>) = match (&req.url, &req.anchor, req.staging) {
        (Some(_), _, true) => return Err(RefreshRequestError::TwoRepositories),
        (Some(url), Some(path), false) => (
            url.clone(),
            crate::fsutil::read_limited(path, MAX_ANCHOR_BYTES)
                .map_err(RefreshRequestError::Anchor)?,
        ),
        (Some(_), None, false) => return Err(RefreshRequestError::UrlWithoutAnchor),
        (None, Some(_), _) => return Err(RefreshRequestError::AnchorWithoutUrl),
        (None, None, true) => (super::STAGING_URL.into(), super::staging_root().to_vec()),
        (None, None, false) => (
            super::PRODUCTION_URL.into(),
            super::production_root().to_vec(),
        ),
    };
    let root = super::cache_root().ok_or(RefreshRequestError::NoCacheFolder)?;
    let cache_dir = super::repo_cache_dir(&root, &url);
    super::refresh(&RefreshOptions {
        url: &url,
        initial_root: &anchor,
        cache_dir: &cache_dir,
        now,
        limits: Limits::default(),
    })
    .map_err(|e| RefreshRequestError::Tuf(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_and_its_anchor_go_together() {
        let now = Utc::now();
        let only_url = RefreshRequest {
            url: Some("http://127.0.0.1:9/".into()),
            ..RefreshRequest::default()
        };
        assert!(matches!(
            refresh_request(&only_url, now),
            Err(RefreshRequestError::UrlWithoutAnchor)
        ));
        let only_anchor = RefreshRequest {
            anchor: Some("root.json".into()),
            ..RefreshRequest::default()
        };
        assert!(matches!(
            refresh_request(&only_anchor, now),
            Err(RefreshRequestError::AnchorWithoutUrl)
        ));
        let both = RefreshRequest {
            url: Some("http://127.0.0.1:9/".into()),
            anchor: Some("root.json".into()),
            staging: true,
        };
        assert!(matches!(
            refresh_request(&both, now),
            Err(RefreshRequestError::TwoRepositories)
        ));
    }
}
