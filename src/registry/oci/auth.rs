//! Registry credentials: from `MCPSIG_REGISTRY_TOKEN`, or `MCPSIG_REGISTRY_USERNAME` with
//! `MCPSIG_REGISTRY_PASSWORD`, else the docker configuration's `auths` entry for the registry,
//! else none. Secrets are wiped when dropped and never printed (`Debug` redacts them).

use base64::Engine as _;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const TOKEN_VAR: &str = "MCPSIG_REGISTRY_TOKEN";
pub const USERNAME_VAR: &str = "MCPSIG_REGISTRY_USERNAME";
pub const PASSWORD_VAR: &str = "MCPSIG_REGISTRY_PASSWORD";

/// Largest docker configuration file read.
const MAX_DOCKER_CONFIG: u64 = 1024 * 1024;

/// How a registry is asked.
#[derive(Clone, Default)]
pub enum Credentials {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: Zeroizing<String>,
    },
    Bearer(Zeroizing<String>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => {
                write!(f, "Basic({username:?}, <redacted>)")
            }
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Where the credentials for a registry come from.
#[derive(Debug, Clone, Default)]
pub enum CredentialSource {
    /// None: anonymous access.
    Anonymous,
    /// The environment, then the docker configuration (what the command line does).
    #[default]
    Ambient,
    /// These, for every registry asked.
    Given(Credentials),
}

/// Why the credentials could not be read. The message never holds a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    #[error("{USERNAME_VAR} is set without {PASSWORD_VAR}")]
    PasswordMissing,
    #[error("{PASSWORD_VAR} is set without {USERNAME_VAR}")]
    UsernameMissing,
    #[error("{0} is set but empty")]
    Empty(&'static str),
    #[error("cannot read docker configuration `{}`", path.display())]
    DockerConfig {
        path: PathBuf,
        #[source]
        source: crate::fsutil::ReadError,
    },
    #[error("docker configuration `{}` is not valid JSON of the expected shape", path.display())]
    DockerConfigShape {
        path: PathBuf,
        #[source]
        source: crate::json::JsonError,
    },
    #[error(
        "docker configuration `{}`: the `auth` of `{registry}` is not base64 of `user:password`",
        path.display()
    )]
    DockerAuth { path: PathBuf, registry: String },
}

impl CredentialSource {
    /// The credentials to present to `registry` (`HOST[:PORT]`).
    pub fn resolve(&self, registry: &str) -> Result<Credentials, CredentialError> {
        match self {
            CredentialSource::Anonymous => Ok(Credentials::Anonymous),
            CredentialSource::Given(c) => Ok(c.clone()),
            CredentialSource::Ambient => {
                let var = |name: &str| std::env::var(name).ok().map(Zeroizing::new);
                if let Some(c) = from_env(var(TOKEN_VAR), var(USERNAME_VAR), var(PASSWORD_VAR))? {
                    return Ok(c);
                }
                match docker_config_path() {
                    Some(path) if path.exists() => from_docker_config(&path, registry),
                    _ => Ok(Credentials::Anonymous),
                }
            }
        }
    }
}

/// The environment's credentials, if it names any.
fn from_env(
    token: Option<Zeroizing<String>>,
    username: Option<Zeroizing<String>>,
    password: Option<Zeroizing<String>>,
) -> Result<Option<Credentials>, CredentialError> {
    if let Some(t) = token {
        if t.is_empty() {
            return Err(CredentialError::Empty(TOKEN_VAR));
        }
        return Ok(Some(Credentials::Bearer(t)));
    }
    match (username, password) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(CredentialError::PasswordMissing),
        (None, Some(_)) => Err(CredentialError::UsernameMissing),
        (Some(u), Some(_)) if u.is_empty() => Err(CredentialError::Empty(USERNAME_VAR)),
        (Some(u), Some(p)) => Ok(Some(Credentials::Basic {
            username: u.to_string(),
            password: p,
        })),
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".docker/config.json"))
}

#[derive(serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, DockerAuth>,
}

#[derive(serde::Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
}

/// The `auths` entry of the docker configuration at `path` for `registry`: its key is the
/// registry itself, or a URL whose host is the registry (`https://REGISTRY/v1/`). Entries
/// without `auth` (credential helpers, identity tokens) are not used.
pub(super) fn from_docker_config(
    path: &Path,
    registry: &str,
) -> Result<Credentials, CredentialError> {
    let bytes = Zeroizing::new(
        crate::fsutil::read_limited(path, MAX_DOCKER_CONFIG).map_err(|source| {
            CredentialError::DockerConfig {
                path: path.to_path_buf(),
                source,
            }
        })?,
    );
    let config: DockerConfig =
        crate::json::from_slice(&bytes).map_err(|source| CredentialError::DockerConfigShape {
            path: path.to_path_buf(),
            source,
        })?;
    let host_of = |key: &str| {
        let rest = key
            .strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"))
            .unwrap_or(key);
        rest.split('/').next().unwrap_or_default().to_owned()
    };
    let Some(entry) = config
        .auths
        .iter()
        .find(|(k, _)| host_of(k) == registry)
        .map(|(_, v)| v)
    else {
        return Ok(Credentials::Anonymous);
    };
    let Some(auth) = entry.auth.as_deref().map(|a| Zeroizing::new(a.to_owned())) else {
        return Ok(Credentials::Anonymous);
    };
    let bad = || CredentialError::DockerAuth {
        path: path.to_path_buf(),
        registry: crate::text::one_line(registry, 100),
    };
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(auth.as_bytes())
            .map_err(|_| bad())?,
    );
    let text = std::str::from_utf8(&decoded).map_err(|_| bad())?;
    let (user, pass) = text.split_once(':').ok_or_else(bad)?;
    if user.is_empty() {
        return Err(bad());
    }
    Ok(Credentials::Basic {
        username: user.to_owned(),
        password: Zeroizing::new(pass.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(s: &str) -> Option<Zeroizing<String>> {
        Some(Zeroizing::new(s.to_owned()))
    }

    #[test]
    fn environment_names_one_kind_of_credentials() {
        assert!(matches!(
            from_env(z("t"), z("u"), z("p")).unwrap(),
            Some(Credentials::Bearer(_))
        ));
        assert!(matches!(
            from_env(None, z("u"), z("p")).unwrap(),
            Some(Credentials::Basic { .. })
        ));
        assert!(from_env(None, None, None).unwrap().is_none());
        assert!(matches!(
            from_env(None, z("u"), None),
            Err(CredentialError::PasswordMissing)
        ));
        assert!(matches!(
            from_env(None, None, z("p")),
            Err(CredentialError::UsernameMissing)
        ));
        assert!(matches!(
            from_env(z(""), None, None),
            Err(CredentialError::Empty(_))
        ));
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials::Basic {
            username: "me".into(),
            password: Zeroizing::new("hunter2".into()),
        };
        let shown = format!(
            "{c:?} {:?}",
            Credentials::Bearer(Zeroizing::new("tok3n".into()))
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok3n"),
            "{shown}"
        );
    }

    #[test]
    fn docker_config_auths_by_registry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cr:et");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths": {{"https://ghcr.io/v1/": {{"auth": "{auth}"}}, "127.0.0.1:5000": {{"auth": "!!"}}, "quay.io": {{"identitytoken": "x"}}}}, "credsStore": "desktop"}}"#
            ),
        )
        .unwrap();
        match from_docker_config(&path, "ghcr.io").unwrap() {
            Credentials::Basic { username, password } => {
                assert_eq!(username, "alice");
                assert_eq!(password.as_str(), "s3cr:et");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            from_docker_config(&path, "docker.io").unwrap(),
            Credentials::Anonymous
        ));
        assert!(matches!(
            from_docker_config(&path, "quay.io").unwrap(),
            Credentials::Anonymous
        ));
        let err = from_docker_config(&path, "127.0.0.1:5000").unwrap_err();
        assert!(matches!(err, CredentialError::DockerAuth { .. }));
        std::fs::write(&path, r#"{"auths": {"a": {}}, "auths": {}}"#).unwrap();
        assert!(matches!(
            from_docker_config(&path, "a"),
            Err(CredentialError::DockerConfigShape { .. })
        ));
    }
}
