//! Reading from a registry: one GET, bounded in size, with the registry's token exchange done
//! (through oci-client) only when the registry asks for it with a 401.

use super::{Credentials, OciError, Registry, Repository};

/// A successful answer.
pub(super) struct Fetched {
    pub body: Vec<u8>,
    /// The `Content-Type` header, parameters dropped.
    pub content_type: Option<String>,
}

impl Registry {
    /// GETs `url`: `Ok(None)` for a 404, the body (at most `limit` bytes) for a 200, an error
    /// for anything else.
    pub(super) async fn get(
        &self,
        repo: &Repository,
        url: &str,
        accept: &[&str],
        limit: u64,
    ) -> Result<Option<Fetched>, OciError> {
        let cached = self.read_auth_cache().get(repo.path()).cloned();
        let mut resp = self.send_get(url, accept, cached.as_ref()).await?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            let auth = self.read_auth(repo, url).await?;
            self.read_auth_cache()
                .insert(repo.path().to_owned(), auth.clone());
            resp = self.send_get(url, accept, Some(&auth)).await?;
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
                return Err(OciError::Unauthorized {
                    url: url.to_owned(),
                });
            }
        }
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned());
        let too_large = || OciError::TooLarge {
            url: url.to_owned(),
            limit,
        };
        // A length announced beyond the bound is refused before any of it is read.
        if resp.content_length().is_some_and(|n| n > limit) && status.is_success() {
            return Err(too_large());
        }
        let mut body = Vec::new();
        let read_limit = if status.is_success() { limit } else { 4096 };
        loop {
            let chunk = resp.chunk().await.map_err(|e| OciError::Transport {
                url: url.to_owned(),
                source: Box::new(e),
            })?;
            let Some(chunk) = chunk else { break };
            if (body.len() + chunk.len()) as u64 > read_limit {
                if status.is_success() {
                    return Err(too_large());
                }
                break;
            }
            body.extend_from_slice(&chunk);
        }
        if status != reqwest::StatusCode::OK {
            return Err(OciError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(Some(Fetched { body, content_type }))
    }

    fn read_auth_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, ReadAuth>> {
        self.read_auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn send_get(
        &self,
        url: &str,
        accept: &[&str],
        auth: Option<&ReadAuth>,
    ) -> Result<reqwest::Response, OciError> {
        let mut req = self.http.get(url);
        if !accept.is_empty() {
            req = req.header(reqwest::header::ACCEPT, accept.join(", "));
        }
        req = match auth {
            Some(ReadAuth::Bearer(t)) => req.bearer_auth(t.as_str()),
            Some(ReadAuth::Basic(u, p)) => req.basic_auth(u, Some(p.as_str())),
            Some(ReadAuth::None) | None => req,
        };
        req.send().await.map_err(|e| OciError::Transport {
            url: url.to_owned(),
            source: Box::new(e),
        })
    }

    /// What to present for a read of `repo` once the registry has asked (401): a bearer token
    /// from its token service (the exchange is oci-client's), else the basic credentials.
    async fn read_auth(&self, repo: &Repository, url: &str) -> Result<ReadAuth, OciError> {
        // The tag only names the repository: a token's scope is the whole repository.
        let reference = oci_client::Reference::with_tag(
            self.registry.clone(),
            repo.path().to_owned(),
            "latest".to_owned(),
        );
        let token = self
            .client()?
            .auth(&reference, &self.auth, oci_client::RegistryOperation::Pull)
            .await
            .map_err(|e| match e {
                oci_client::errors::OciDistributionError::AuthenticationFailure(_)
                | oci_client::errors::OciDistributionError::UnauthorizedError { .. } => {
                    OciError::Unauthorized {
                        url: url.to_owned(),
                    }
                }
                e => OciError::Transport {
                    url: url.to_owned(),
                    source: Box::new(e),
                },
            })?;
        Ok(match (token, &self.credentials) {
            (Some(t), _) => ReadAuth::Bearer(zeroize::Zeroizing::new(t)),
            (None, Credentials::Basic { username, password }) => {
                ReadAuth::Basic(username.clone(), password.clone())
            }
            (None, _) => ReadAuth::None,
        })
    }
}

/// Credentials for reads of one repository, once the registry asked for them.
#[derive(Clone)]
pub(super) enum ReadAuth {
    None,
    Bearer(zeroize::Zeroizing<String>),
    Basic(String, zeroize::Zeroizing<String>),
}
