//! Fetching TUF metadata and targets over HTTP: bounded downloads, a missing file told apart
//! from a failure, and a role another role lists fetched and checked against that listing.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::TufError;
use super::metadata::{
    Envelope, Header, MetaFile, RootSigned, check_meta_file, parse_envelope, verify_role,
};

/// An HTTP client for one refresh.
pub(super) struct Fetcher {
    agent: ureq::Agent,
}

impl Fetcher {
    pub(super) fn new(timeout: Duration) -> Self {
        // Everything fetched is verified, so following a CDN redirect is harmless.
        let agent = crate::http::agent(timeout, crate::http::Redirects::Follow(3));
        Self { agent }
    }

    /// `Ok(None)` when the server says the file does not exist (404, or 403 as S3 answers).
    pub(super) fn get(
        &self,
        url: &str,
        role: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, TufError> {
        let mut resp = self.agent.get(url).call().map_err(|e| TufError::Fetch {
            role: role.to_owned(),
            url: url.to_owned(),
            transport: Box::new(e),
        })?;
        let status = resp.status().as_u16();
        if status == 404 || status == 403 {
            return Ok(None);
        }
        if status != 200 {
            return Err(TufError::Status {
                role: role.to_owned(),
                url: url.to_owned(),
                status,
            });
        }
        match resp.body_mut().with_config().limit(limit).read_to_vec() {
            Ok(body) => Ok(Some(body)),
            Err(ureq::Error::BodyExceedsLimit(_)) => Err(TufError::TooLarge {
                role: role.to_owned(),
                url: url.to_owned(),
                limit,
            }),
            Err(e) => Err(TufError::Fetch {
                role: role.to_owned(),
                url: url.to_owned(),
                transport: Box::new(e),
            }),
        }
    }

    pub(super) fn get_required(
        &self,
        url: &str,
        role: &str,
        limit: u64,
    ) -> Result<Vec<u8>, TufError> {
        self.get(url, role, limit)?.ok_or_else(|| TufError::Status {
            role: role.to_owned(),
            url: url.to_owned(),
            status: 404,
        })
    }
}

/// Fetches a role that another role's `meta` lists (snapshot from timestamp, targets from
/// snapshot): by version under consistent snapshots, bytes checked against the listed length and
/// hashes before parsing, signatures by the root's threshold, version equal to the listed one.
pub(super) fn fetch_listed_role<T: DeserializeOwned + Header>(
    fetch: &Fetcher,
    base: &str,
    root: &Envelope<RootSigned>,
    role: &str,
    meta: &MetaFile,
    max_bytes: u64,
) -> Result<(Envelope<T>, String), TufError> {
    let url = if root.signed.consistent_snapshot {
        format!("{base}/{}.{role}.json", meta.version)
    } else {
        format!("{base}/{role}.json")
    };
    let limit = meta.length.map_or(max_bytes, |l| l.min(max_bytes));
    let raw = fetch.get_required(&url, role, limit)?;
    check_meta_file(role, &url, meta, &raw)?;
    let env: Envelope<T> = parse_envelope(raw, role, &url)?;
    verify_role(&env, root, role)?;
    if env.version != meta.version {
        return Err(TufError::VersionMismatch {
            role: role.into(),
            url,
            expected: meta.version,
            actual: env.version,
        });
    }
    Ok((env, url))
}
