//! HTTP for every client in the crate: blocking (Sigstore services, TUF, OIDC, MCP over HTTP)
//! and, for OCI registries, the async client their crate is built on. The one place agents are
//! built, so timeouts, redirects and the user agent are decided once.

use std::time::Duration;

/// Bound on any JSON answer read through [`post_json`].
const MAX_JSON_RESPONSE: u64 = 8 * 1024 * 1024;

/// The user agent every request carries.
pub(crate) const USER_AGENT: &str = concat!("mcpsig/", env!("CARGO_PKG_VERSION"));

/// How an agent treats redirects. Credentials never follow one: ureq drops `Authorization` on
/// a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redirects {
    /// Answer with the redirect itself (Sigstore services answer directly).
    Refuse,
    /// Follow at most this many, so a redirect loop stays finite.
    Follow(u32),
}

/// True for an `https://` URL, or a plain `http://` one on loopback (127.0.0.1, localhost,
/// [::1]): what travels over it is either secret or must not be altered on the way.
pub(crate) fn https_or_loopback(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("https://") {
        !rest.is_empty()
    } else if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // `http://localhost:80@evil.example/` is a user name, not the host: refused.
        if authority.contains('@') {
            return false;
        }
        loopback_authority(authority)
    } else {
        false
    }
}

/// Whether `HOST[:PORT]` is on loopback: `localhost`, an address in 127.0.0.0/8 written as four
/// decimal numbers, or `::1` (`[::1]`).
pub fn loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _port)| host)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An agent with one whole-request `timeout` (connect, send and read the answer), non-2xx
/// statuses returned as answers for each client to word, and our user agent.
pub(crate) fn agent(timeout: Duration, redirects: Redirects) -> ureq::Agent {
    // The operating system's trust store (which honours SSL_CERT_FILE / SSL_CERT_DIR on
    // Linux): registries and services behind a company's TLS-inspecting proxy or signed by an
    // internal CA are reached as every other tool on the machine reaches them. What is fetched
    // is checked against signed digests anyway; TLS only keeps it private and unaltered.
    agent_with_roots(timeout, redirects, ureq::tls::RootCerts::PlatformVerifier)
}

fn agent_with_roots(
    timeout: Duration,
    redirects: Redirects,
    roots: ureq::tls::RootCerts,
) -> ureq::Agent {
    let max_redirects = match redirects {
        Redirects::Refuse => 0,
        Redirects::Follow(n) => n,
    };
    let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(max_redirects)
        .user_agent(USER_AGENT)
        .build()
        .into()
}

/// The agent for an MCP endpoint pinned by a manifest: redirects never followed (the pins are
/// the pinned URL's, not another's), and the endpoint's certificate checked against `cas` (DER)
/// instead of the system's roots when there are some.
pub(crate) fn endpoint_agent(timeout: Duration, cas: &[Vec<u8>]) -> ureq::Agent {
    if cas.is_empty() {
        return agent(timeout, Redirects::Refuse);
    }
    let roots: Vec<ureq::tls::Certificate<'static>> = cas
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
        .collect();
    agent_with_roots(
        timeout,
        Redirects::Refuse,
        ureq::tls::RootCerts::Specific(std::sync::Arc::new(roots)),
    )
}

/// The async client for registry reads: a whole-request `timeout`, at most 5 redirects
/// (reqwest drops credentials when one leaves the host), and, for a `plain` HTTP session, no
/// trust roots (no TLS is spoken; loading the system's takes ~10 ms) and otherwise HTTPS only,
/// redirects included.
pub(crate) fn async_client(
    timeout: Duration,
    connect_timeout: Duration,
    plain: bool,
) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::limited(5))
        .https_only(!plain);
    if plain {
        builder = builder.tls_certs_only(std::iter::empty());
    }
    builder.build()
}

/// A bounded answer to [`post_json`]; non-2xx statuses are returned, not raised.
pub(crate) struct HttpReply {
    pub status: u16,
    pub body: String,
}

/// Why a JSON POST failed: sending it, or reading the answer (the transport's own error kept).
#[derive(Debug)]
#[non_exhaustive]
pub enum PostError {
    Send(ureq::Error),
    Read(ureq::Error),
}

impl std::fmt::Display for PostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostError::Send(e) => write!(f, "{e}"),
            PostError::Read(e) => write!(f, "reading the answer: {e}"),
        }
    }
}

/// POSTs `body` as JSON (with a bearer token when given) and reads at most 8 MiB of answer.
/// The error is the transport's, for the caller to put in its own error with the URL.
pub(crate) fn post_json(
    agent: &ureq::Agent,
    url: &str,
    bearer: Option<&str>,
    body: &serde_json::Value,
) -> Result<HttpReply, PostError> {
    let mut req = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json");
    if let Some(token) = bearer {
        req = req.header("Authorization", &format!("Bearer {token}"));
    }
    let mut resp = req.send_json(body).map_err(PostError::Send)?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_JSON_RESPONSE)
        .read_to_string()
        .map_err(PostError::Read)?;
    Ok(HttpReply { status, body })
}

#[cfg(test)]
mod tests {
    use super::https_or_loopback;

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "https://example.com/x",
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]:1/",
        ] {
            assert!(https_or_loopback(ok), "{ok}");
        }
        for bad in [
            "https://",
            "http://example.com/",
            "http://localhost:80@evil.example/",
            "http://127.0.0.1@evil.example/",
            "http://127.0.0.1.evil.example/",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
        ] {
            assert!(!https_or_loopback(bad), "{bad}");
        }
    }
}
