//! The environment a launched server gets: never the caller's whole environment. A server is
//! third-party code; it sees a small documented base, the variables its launch configuration
//! names, and what the user passes explicitly, and never a credential of ours (spec/tools.md,
//! "Launch environment").

/// Environment variable holding a key passphrase for non-interactive signing (read by
/// `mcp-sign`, never passed to a server).
pub const PASSPHRASE_ENV: &str = "MCPSIG_KEY_PASSPHRASE";

/// Variables passed through from the caller when set: what a program needs to find its
/// interpreter, its home directory, its locale and a temporary directory. `LC_*` too.
pub const BASE_VARS: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
];

/// Credentials of mcpsig and of the signing environment: never passed to a server, whoever
/// names them (a signed launch configuration, the user, the base).
pub const NEVER_PASSED: &[&str] = &[
    "SIGSTORE_ID_TOKEN",
    PASSPHRASE_ENV,
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
];

/// Set by the launcher itself, last, so that neither a launch configuration nor the user can
/// point an interpreter's code cache back into the tree.
pub const CACHE_VARS: &[&str] = &[
    "PYTHONPYCACHEPREFIX",
    "PYTHONDONTWRITEBYTECODE",
    "NODE_COMPILE_CACHE",
    "NODE_DISABLE_COMPILE_CACHE",
];

/// Whether the base passes `name` through from the caller.
pub fn is_base(name: &str) -> bool {
    BASE_VARS.contains(&name) || name.starts_with("LC_")
}

/// Whether `name` is a credential no server may receive.
pub fn is_forbidden(name: &str) -> bool {
    NEVER_PASSED.contains(&name)
}

/// The base part of a server's environment, from this process's environment.
pub fn base_from_current() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| is_base(k) && !is_forbidden(k))
        .collect()
}

/// A user's `--env NAME` or `--env NAME=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvArg {
    /// Pass this variable's value from the caller's environment.
    Inherit(String),
    Set(String, String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvError {
    #[error("invalid environment variable name `{0}`")]
    InvalidName(String),
    #[error("`--env {0}` names a variable that is not set")]
    NotSet(String),
    #[error(
        "refusing to pass `{0}` to a server: it is a credential of the signing environment, never given to third-party code"
    )]
    Forbidden(String),
    #[error("`{0}` is set by the launcher (interpreter caches are kept out of the pinned tree)")]
    Reserved(String),
}

impl EnvArg {
    /// Parses `NAME` or `NAME=VALUE`.
    pub fn parse(arg: &str) -> Result<EnvArg, EnvError> {
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (arg, None),
        };
        check_name(name)?;
        Ok(match value {
            Some(v) => EnvArg::Set(name.to_owned(), v.to_owned()),
            None => EnvArg::Inherit(name.to_owned()),
        })
    }

    pub fn name(&self) -> &str {
        match self {
            EnvArg::Inherit(n) | EnvArg::Set(n, _) => n,
        }
    }

    /// The `(name, value)` pair, taking an inherited value from this process's environment.
    pub fn resolve(&self) -> Result<(String, String), EnvError> {
        match self {
            EnvArg::Set(n, v) => Ok((n.clone(), v.clone())),
            EnvArg::Inherit(n) => std::env::var(n)
                .map(|v| (n.clone(), v))
                .map_err(|_| EnvError::NotSet(n.clone())),
        }
    }
}

/// A name a server may be given: a portable shell name, not a credential, not reserved.
pub fn check_name(name: &str) -> Result<(), EnvError> {
    let portable = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !portable {
        return Err(EnvError::InvalidName(name.escape_debug().to_string()));
    }
    if is_forbidden(name) {
        return Err(EnvError::Forbidden(name.to_owned()));
    }
    if CACHE_VARS.contains(&name) {
        return Err(EnvError::Reserved(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(
            EnvArg::parse("API_KEY=x").unwrap(),
            EnvArg::Set("API_KEY".into(), "x".into())
        );
        assert_eq!(
            EnvArg::parse("API_KEY").unwrap(),
            EnvArg::Inherit("API_KEY".into())
        );
        for bad in ["", "1X", "A-B", "A B=1", "=x"] {
            assert!(matches!(EnvArg::parse(bad), Err(EnvError::InvalidName(_))));
        }
        assert_eq!(
            EnvArg::parse("SIGSTORE_ID_TOKEN=abc"),
            Err(EnvError::Forbidden("SIGSTORE_ID_TOKEN".into()))
        );
        assert_eq!(
            EnvArg::parse("PYTHONPYCACHEPREFIX=."),
            Err(EnvError::Reserved("PYTHONPYCACHEPREFIX".into()))
        );
        assert!(is_base("LC_ALL") && is_base("PATH") && !is_base("GITHUB_TOKEN"));
    }
}
