//! The interactive login: OAuth 2.0 authorization code with PKCE (RFC 7636), the browser
//! redirected to a listener on 127.0.0.1 that takes the code when it carries our `state`.
//! The login URL is handed to the caller to show; the library never prints.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::claims::IdentityToken;
use super::{OidcError, agent, read_reply};

/// PKCE (RFC 7636) S256 challenge for a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn random_urlsafe(n: usize) -> Result<String, OidcError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| OidcError::Interactive {
        problem: InteractiveProblem::NoRandomness(e),
    })?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The interactive flow: OAuth 2.0 authorization code with PKCE, the browser redirected to a
/// listener on 127.0.0.1. `show_url` presents the login URL to the user.
pub fn interactive_token(
    issuer: &str,
    client_id: &str,
    timeout: Duration,
    show_url: &mut dyn FnMut(&str),
) -> Result<IdentityToken, OidcError> {
    let err = |problem: InteractiveProblem| OidcError::Interactive { problem };
    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let http = agent(timeout);
    let doc = read_reply(&discovery_url, http.get(&discovery_url).call())?;
    #[derive(Deserialize)]
    struct Discovery {
        authorization_endpoint: String,
        token_endpoint: String,
    }
    let discovery: Discovery = serde_json::from_str(&doc).map_err(|e| {
        err(InteractiveProblem::Discovery {
            url: discovery_url.clone(),
            source: e,
        })
    })?;

    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| err(InteractiveProblem::Listen(e)))?;
    let port = listener
        .local_addr()
        .map_err(|e| err(InteractiveProblem::ListenerAddress(e)))?
        .port();
    let redirect_uri = format!("http://localhost:{port}/auth/callback");
    let verifier = Zeroizing::new(random_urlsafe(48)?);
    let state = random_urlsafe(16)?;
    let nonce = random_urlsafe(16)?;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid email")
        .append_pair("code_challenge", &pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .finish();
    show_url(&format!("{}?{query}", discovery.authorization_endpoint));
    // The user has to find the browser and sign in: far longer than one HTTP call.
    let code = Zeroizing::new(wait_for_redirect(
        &listener,
        &state,
        timeout.saturating_mul(10),
    )?);

    // Holds the code and the verifier: wiped on drop.
    let form = Zeroizing::new(
        form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("client_id", client_id)
            .append_pair("code_verifier", &verifier)
            .finish(),
    );
    let reply = http
        .post(&discovery.token_endpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(form.as_bytes());
    let body = read_reply(&discovery.token_endpoint, reply)?;
    #[derive(Deserialize)]
    struct TokenAnswer {
        id_token: String,
    }
    let answer: TokenAnswer =
        serde_json::from_str(&body).map_err(|e| err(InteractiveProblem::NoIdToken(e)))?;
    let id_token = Zeroizing::new(answer.id_token);
    IdentityToken::parse(&id_token, "interactive login")
}

/// Accepts connections on the loopback listener until one carries the redirect with our `state`,
/// answering each; bounded by `deadline` and a connection count.
pub fn wait_for_redirect(
    listener: &TcpListener,
    state: &str,
    timeout: Duration,
) -> Result<String, OidcError> {
    let err = |problem: InteractiveProblem| OidcError::Interactive { problem };
    let deadline = Instant::now() + timeout;
    listener
        .set_nonblocking(true)
        .map_err(|e| err(InteractiveProblem::Listener(e)))?;
    for _ in 0..64 {
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(err(InteractiveProblem::NoRedirect {
                            secs: timeout.as_secs(),
                        }));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(err(InteractiveProblem::Accept(e))),
            }
        };
        if let Some(result) = handle_redirect(stream, state)? {
            return result;
        }
    }
    Err(err(InteractiveProblem::TooManyRequests))
}

/// One request on the redirect listener: `None` if it was not the callback (favicon, ...).
#[allow(clippy::type_complexity)]
fn handle_redirect(
    mut stream: TcpStream,
    state: &str,
) -> Result<Option<Result<String, OidcError>>, OidcError> {
    let err = |problem: InteractiveProblem| OidcError::Interactive { problem };
    stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(10))))
        .map_err(|e| err(InteractiveProblem::RedirectConnection(e)))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .take_line(&mut line)
        .map_err(|e| err(InteractiveProblem::ReadRedirect(e)))?;
    let target = line.split_whitespace().nth(1).unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/auth/callback" {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return Ok(None);
    }
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            _ => {}
        }
    }
    let outcome = match (error, code, got_state) {
        (Some(e), _, _) => Err(err(InteractiveProblem::ProviderError {
            error: e.to_owned(),
        })),
        (None, Some(c), Some(s)) if s == state => Ok(c),
        (None, Some(_), _) => Err(err(InteractiveProblem::StateMismatch)),
        (None, None, _) => Err(err(InteractiveProblem::NoCode)),
    };
    let page: &[u8] = if outcome.is_ok() {
        b"Signed in; you can close this window and return to mcp-sign."
    } else {
        b"Sign-in failed; see mcp-sign's output."
    };
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        page.len()
    );
    let _ = stream.write_all(page);
    Ok(Some(outcome))
}

trait TakeLine {
    fn take_line(self, line: &mut String) -> std::io::Result<usize>;
}

impl<R: std::io::Read> TakeLine for BufReader<R> {
    /// Reads the request line only, bounded, so a client cannot make us buffer without end.
    fn take_line(self, line: &mut String) -> std::io::Result<usize> {
        use std::io::Read as _;
        self.take(8192).read_line(line)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_tokens::{good_claims, jwt};
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redirect_listener_takes_code_with_matching_state() -> Result<(), Box<dyn std::error::Error>>
    {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let client = std::thread::spawn(move || -> std::io::Result<String> {
            use std::io::Read as _;
            let mut other = TcpStream::connect(("127.0.0.1", port))?;
            other.write_all(b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n")?;
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.write_all(b"GET /auth/callback?code=abc%2F1&state=st HTTP/1.1\r\nHost: x\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        });
        let code = wait_for_redirect(&listener, "st", Duration::from_secs(10))?;
        assert_eq!(code, "abc/1");
        let page = client.join().map_err(|_| "client thread panicked")??;
        assert!(page.starts_with("HTTP/1.1 200"));
        Ok(())
    }

    #[test]
    fn redirect_with_foreign_state_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let client = std::thread::spawn(move || -> std::io::Result<()> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.write_all(b"GET /auth/callback?code=abc&state=evil HTTP/1.1\r\n\r\n")
        });
        let got = wait_for_redirect(&listener, "st", Duration::from_secs(10));
        assert!(matches!(got, Err(OidcError::Interactive { .. })));
        client.join().map_err(|_| "client thread panicked")??;
        Ok(())
    }

    /// A minimal OAuth provider on loopback for the interactive flow: discovery, an authorize
    /// endpoint that redirects straight back (the user "signs in" at once), and a token endpoint
    /// that checks the code, the redirect URI and the PKCE verifier against the S256 challenge.
    fn oauth_provider(id_token: String) -> std::io::Result<(String, std::thread::JoinHandle<()>)> {
        use std::io::Read as _;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let base2 = base.clone();
        let handle = std::thread::spawn(move || {
            let mut challenge = String::new();
            let mut redirect = String::new();
            for _ in 0..3 {
                let Ok((mut s, _)) = listener.accept() else {
                    return;
                };
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = vec![0u8; 16384];
                let mut req = Vec::new();
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if req.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&req).to_string();
                let target = text
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let params = |q: &str| -> std::collections::HashMap<String, String> {
                    form_urlencoded::parse(q.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                };
                let reply = match path {
                    "/.well-known/openid-configuration" => {
                        let body = format!(
                            r#"{{"authorization_endpoint":"{base2}/auth","token_endpoint":"{base2}/token"}}"#
                        );
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                    "/auth" => {
                        let p = params(query);
                        challenge = p.get("code_challenge").cloned().unwrap_or_default();
                        redirect = p.get("redirect_uri").cloned().unwrap_or_default();
                        let state = p.get("state").cloned().unwrap_or_default();
                        let ok = p.get("code_challenge_method").map(String::as_str) == Some("S256")
                            && p.get("client_id").map(String::as_str) == Some("sigstore");
                        let code = if ok { "the-code" } else { "refused" };
                        format!(
                            "HTTP/1.1 302 Found\r\nLocation: {redirect}?code={code}&state={state}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                    }
                    "/token" => {
                        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
                        let p = params(body);
                        let verifier = p.get("code_verifier").cloned().unwrap_or_default();
                        let good = p.get("code").map(String::as_str) == Some("the-code")
                            && p.get("redirect_uri") == Some(&redirect)
                            && p.get("grant_type").map(String::as_str)
                                == Some("authorization_code")
                            && pkce_challenge(&verifier) == challenge;
                        if good {
                            let body =
                                format!(r#"{{"id_token":"{id_token}","token_type":"Bearer"}}"#);
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                        } else {
                            let body = r#"{"error":"invalid_grant"}"#;
                            format!(
                                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                        }
                    }
                    _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_owned(),
                };
                let _ = s.write_all(reply.as_bytes());
            }
        });
        Ok((base, handle))
    }

    #[test]
    fn interactive_login_with_pkce_through_a_loopback_redirect()
    -> Result<(), Box<dyn std::error::Error>> {
        let (issuer, provider) = oauth_provider(jwt(&good_claims()))?;
        let mut browser = None;
        let token = interactive_token(&issuer, "sigstore", Duration::from_secs(10), &mut |url| {
            // The "browser": follows the login URL, which redirects to our loopback callback.
            let url = url.to_owned();
            browser = Some(std::thread::spawn(move || {
                let agent =
                    crate::http::agent(Duration::from_secs(10), crate::http::Redirects::Refuse);
                let Ok(resp) = agent.get(&url).call() else {
                    return;
                };
                let Some(loc) = resp.headers().get("location").and_then(|l| l.to_str().ok()) else {
                    return;
                };
                // Browsers try localhost on every loopback address; this listener is IPv4.
                let loc = loc.replace("//localhost:", "//127.0.0.1:");
                let _ = agent.get(&loc).call();
            }));
        })?;
        assert_eq!(token.claims().subject, "https://example.com/me");
        assert_eq!(token.source_name(), "interactive login");
        if let Some(b) = browser {
            b.join().map_err(|_| "browser thread panicked")?;
        }
        provider.join().map_err(|_| "provider thread panicked")?;
        Ok(())
    }
}

/// What went wrong in the interactive (PKCE) login.
#[derive(Debug)]
#[non_exhaustive]
pub enum InteractiveProblem {
    NoRandomness(getrandom::Error),
    Discovery {
        url: String,
        source: serde_json::Error,
    },
    Listen(std::io::Error),
    ListenerAddress(std::io::Error),
    NoIdToken(serde_json::Error),
    Listener(std::io::Error),
    NoRedirect {
        secs: u64,
    },
    Accept(std::io::Error),
    TooManyRequests,
    RedirectConnection(std::io::Error),
    ReadRedirect(std::io::Error),
    ProviderError {
        error: String,
    },
    StateMismatch,
    NoCode,
    /// The signing config names no OIDC provider to log in with.
    NoProvider,
}

impl std::fmt::Display for InteractiveProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoRandomness(e) => write!(f, "no randomness: {e}"),
            Self::Discovery { url, source } => {
                write!(f, "bad discovery document at {url}: {source}")
            }
            Self::Listen(e) => write!(f, "cannot listen on 127.0.0.1: {e}"),
            Self::ListenerAddress(e) => write!(f, "cannot read listener address: {e}"),
            Self::NoIdToken(e) => write!(f, "token endpoint gave no id_token: {e}"),
            Self::Listener(e) => write!(f, "listener: {e}"),
            Self::NoRedirect { secs } => write!(f, "no browser redirect within {secs}s"),
            Self::Accept(e) => write!(f, "accepting the redirect: {e}"),
            Self::TooManyRequests => f.write_str("too many requests on the redirect listener"),
            Self::RedirectConnection(e) => write!(f, "redirect connection: {e}"),
            Self::ReadRedirect(e) => write!(f, "reading the redirect: {e}"),
            Self::ProviderError { error } => write!(f, "the provider answered error `{error}`"),
            Self::StateMismatch => f.write_str("redirect state does not match this login"),
            Self::NoCode => f.write_str("redirect carries no code"),
            Self::NoProvider => f.write_str("the signing config names no oidc provider"),
        }
    }
}
