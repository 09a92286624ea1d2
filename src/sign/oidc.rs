//! OIDC identity tokens for keyless signing: where a token comes from (an explicit value,
//! `SIGSTORE_ID_TOKEN`, GitHub Actions' ambient credentials, or an interactive browser login with
//! PKCE on a loopback redirect) and what it claims. The token is a bearer secret: it is never
//! logged, `Debug` redacts it, and its memory is wiped on drop. Its signature is not checked here:
//! Fulcio checks it, and the certificate Fulcio returns is what verifiers trust.

use std::fmt;
use std::io::{BufRead as _, BufReader, IsTerminal as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The audience Fulcio requires.
pub const SIGSTORE_AUDIENCE: &str = "sigstore";
/// The issuer of GitHub Actions workflow tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// Upper bound for reading a token or an OIDC provider's answer.
const MAX_RESPONSE: u64 = 1024 * 1024;
/// Upper bound for a token read from a file or standard input (real ones are a few KiB).
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// Why no usable identity token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    #[error("identity token from {source_name} is not a jwt: {reason}")]
    Malformed {
        source_name: &'static str,
        reason: String,
    },
    #[error("identity token from {source_name} lacks the `{claim}` claim")]
    MissingClaim {
        source_name: &'static str,
        claim: &'static str,
    },
    #[error(
        "identity token from {source_name} is for audience {actual:?}, not `{SIGSTORE_AUDIENCE}`"
    )]
    Audience {
        source_name: &'static str,
        actual: Vec<String>,
    },
    #[error("identity token from {source_name} expired at {expired_at} (now {now})")]
    Expired {
        source_name: &'static str,
        expired_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error(
        "no identity token: pass --identity-token-file, set SIGSTORE_ID_TOKEN, run in GitHub Actions with `id-token: write`, or run interactively"
    )]
    NoSource,
    #[error("request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    #[error("{url} answered http {status}: {body}")]
    HttpStatus {
        url: String,
        status: u16,
        body: String,
    },
    #[error("interactive login failed: {reason}")]
    Interactive { reason: String },
    #[error("cannot read the identity token from {from}")]
    TokenFile {
        from: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the identity token in {from} is larger than {limit} bytes")]
    TokenFileTooLarge { from: String, limit: u64 },
    #[error("{from} holds no identity token")]
    TokenFileEmpty { from: String },
    #[error("two identity tokens given (--identity-token and --identity-token-file); give one")]
    TwoTokens,
}

impl OidcError {
    /// A stable kebab-case code for reports and scenario files.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "token-malformed",
            Self::MissingClaim { .. } => "token-missing-claim",
            Self::Audience { .. } => "token-audience",
            Self::Expired { .. } => "token-expired",
            Self::NoSource => "no-token",
            Self::Http { .. } | Self::HttpStatus { .. } => "token-request-failed",
            Self::Interactive { .. } => "interactive-login-failed",
            Self::TokenFile { .. } => "token-file-unreadable",
            Self::TokenFileTooLarge { .. } => "token-file-too-large",
            Self::TokenFileEmpty { .. } => "token-file-empty",
            Self::TwoTokens => "token-conflict",
        }
    }
}

/// The claims of an identity token that signing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub audience: Vec<String>,
    pub expires_at: DateTime<Utc>,
    /// GitHub Actions: `job_workflow_ref`, which Fulcio turns into the certificate's SAN.
    pub job_workflow_ref: Option<String>,
}

/// A parsed OIDC identity token. The raw token is reachable only through [`Self::secret`].
pub struct IdentityToken {
    raw: Zeroizing<String>,
    claims: Claims,
    source_name: &'static str,
}

impl fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityToken")
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .field("source", &self.source_name)
            .finish()
    }
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    email: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    exp: Option<i64>,
    job_workflow_ref: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl IdentityToken {
    /// Parses a compact JWT and checks what a client can check: the audience is `sigstore` and
    /// the token has an issuer, a subject and an expiry. `source_name` says where it came from,
    /// for error messages (the token itself never appears in one).
    pub fn parse(raw: &str, source_name: &'static str) -> Result<Self, OidcError> {
        let raw = Zeroizing::new(raw.trim().to_owned());
        let malformed = |reason: &str| OidcError::Malformed {
            source_name,
            reason: reason.to_owned(),
        };
        let mut parts = raw.split('.');
        let (Some(_header), Some(payload), Some(_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("expected three dot-separated parts"));
        };
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .or_else(|_| URL_SAFE.decode(payload))
            .map_err(|_| malformed("payload is not base64url"))?;
        let raw_claims: RawClaims = serde_json::from_slice(&payload)
            .map_err(|e| malformed(&format!("payload is not a json claims object: {e}")))?;
        let missing = |claim| OidcError::MissingClaim { source_name, claim };
        let audience = match raw_claims.aud {
            Some(Audience::One(a)) => vec![a],
            Some(Audience::Many(a)) => a,
            None => return Err(missing("aud")),
        };
        if !audience.iter().any(|a| a == SIGSTORE_AUDIENCE) {
            return Err(OidcError::Audience {
                source_name,
                actual: audience,
            });
        }
        let exp = raw_claims.exp.ok_or_else(|| missing("exp"))?;
        let expires_at = DateTime::from_timestamp(exp, 0)
            .ok_or_else(|| malformed("`exp` is not a valid time"))?;
        let claims = Claims {
            issuer: raw_claims
                .iss
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("iss"))?,
            subject: raw_claims
                .sub
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("sub"))?,
            email: raw_claims.email.filter(|s| !s.is_empty()),
            audience,
            expires_at,
            job_workflow_ref: raw_claims.job_workflow_ref,
        };
        Ok(Self {
            raw,
            claims,
            source_name,
        })
    }

    /// Fails if the token has expired at `now` (Fulcio would refuse it anyway, less clearly).
    pub fn check_unexpired(&self, now: DateTime<Utc>) -> Result<(), OidcError> {
        if self.claims.expires_at <= now {
            return Err(OidcError::Expired {
                source_name: self.source_name,
                expired_at: self.claims.expires_at,
                now,
            });
        }
        Ok(())
    }

    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Where the token came from (`--identity-token`, `SIGSTORE_ID_TOKEN`, ...).
    pub fn source_name(&self) -> &'static str {
        self.source_name
    }

    /// The identity Fulcio will most likely certify, for telling the user who they sign as:
    /// the email for email-based issuers, the workflow URI for GitHub Actions, else `sub`.
    /// Verification never relies on this guess; it reads the certificate.
    pub fn expected_identity(&self) -> String {
        if let Some(email) = &self.claims.email {
            return email.clone();
        }
        if self.claims.issuer == GITHUB_ACTIONS_ISSUER
            && let Some(r) = &self.claims.job_workflow_ref
        {
            return format!("https://github.com/{r}");
        }
        self.claims.subject.clone()
    }

    /// The raw bearer token, for the Fulcio request only.
    pub(crate) fn secret(&self) -> &str {
        &self.raw
    }
}

/// Where to look for a token, in order: the first that yields one wins. `Debug` redacts the
/// explicit token.
#[derive(Clone)]
pub struct TokenOptions {
    /// `--identity-token` or the content of `--identity-token-file`: used as is.
    pub explicit: Option<Zeroizing<String>>,
    /// Where `explicit` came from, for messages.
    pub explicit_source: &'static str,
    /// Allow the interactive browser flow when nothing else gives a token and a terminal is
    /// present. Needs `oidc_issuer`.
    pub allow_interactive: bool,
    /// The OIDC provider for the interactive flow (from the signing config's oidcUrls).
    pub oidc_issuer: Option<String>,
    /// OAuth client id for the interactive flow (`sigstore` on the public instance).
    pub client_id: String,
    /// Bound on every HTTP call and on waiting for the browser.
    pub timeout: Duration,
}

impl fmt::Debug for TokenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenOptions")
            .field("explicit", &self.explicit.as_ref().map(|_| "<redacted>"))
            .field("explicit_source", &self.explicit_source)
            .field("allow_interactive", &self.allow_interactive)
            .field("oidc_issuer", &self.oidc_issuer)
            .field("client_id", &self.client_id)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenOptions {
    pub fn new() -> Self {
        Self {
            explicit: None,
            explicit_source: "--identity-token",
            allow_interactive: true,
            oidc_issuer: None,
            client_id: "sigstore".to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Reads an identity token from a file, or from standard input when `path` is `-`: at most
/// [`MAX_TOKEN_FILE_BYTES`], surrounding whitespace dropped. A file keeps the token off the
/// command line, which other users of the machine can read. The bytes read are wiped after use.
pub fn read_token_file(path: &std::path::Path) -> Result<Zeroizing<String>, OidcError> {
    use std::io::Read as _;
    let from = if path.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        format!("`{}`", path.display())
    };
    let io = |source| OidcError::TokenFile {
        from: from.clone(),
        source,
    };
    let reader: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_file() && meta.len() > MAX_TOKEN_FILE_BYTES {
            return Err(OidcError::TokenFileTooLarge {
                from,
                limit: MAX_TOKEN_FILE_BYTES,
            });
        }
        Box::new(file)
    };
    // Sized once, so growing never leaves a copy of the token behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_TOKEN_FILE_BYTES as usize + 1));
    reader
        .take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(OidcError::TokenFileTooLarge {
            from,
            limit: MAX_TOKEN_FILE_BYTES,
        });
    }
    let text = std::str::from_utf8(&buf).map_err(|_| OidcError::Malformed {
        source_name: "--identity-token-file",
        reason: "not utf-8 text".to_owned(),
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(OidcError::TokenFileEmpty { from });
    }
    Ok(Zeroizing::new(token.to_owned()))
}

/// Finds an identity token: explicit, then `SIGSTORE_ID_TOKEN`, then GitHub Actions' ambient
/// credentials, then (with a terminal) an interactive login.
pub fn obtain_token(opts: &TokenOptions) -> Result<IdentityToken, OidcError> {
    obtain_token_with_env(opts, &|k| std::env::var(k).ok())
}

/// [`obtain_token`] reading the environment through `env` (tests pass their own).
pub fn obtain_token_with_env(
    opts: &TokenOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<IdentityToken, OidcError> {
    if let Some(t) = &opts.explicit {
        return IdentityToken::parse(t, opts.explicit_source);
    }
    if let Some(t) = env("SIGSTORE_ID_TOKEN").map(Zeroizing::new)
        && !t.trim().is_empty()
    {
        return IdentityToken::parse(&t, "SIGSTORE_ID_TOKEN");
    }
    if let (Some(url), Some(bearer)) = (
        env("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Zeroizing::new),
    ) {
        return github_actions_token(&url, &bearer, opts.timeout);
    }
    if opts.allow_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let issuer = opts
            .oidc_issuer
            .as_deref()
            .ok_or_else(|| OidcError::Interactive {
                reason: "the signing config names no oidc provider".to_owned(),
            })?;
        return interactive_token(issuer, &opts.client_id, opts.timeout, &mut |url| {
            eprintln!(
                "Open this URL in a browser to sign in:\n\n  {}\n",
                crate::cli::one_line(url)
            );
        });
    }
    Err(OidcError::NoSource)
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

fn read_reply(
    url: &str,
    reply: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Zeroizing<String>, OidcError> {
    let mut resp = reply.map_err(|e| OidcError::Http {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE)
        .read_to_string()
        .map_err(|e| OidcError::Http {
            url: url.to_owned(),
            reason: format!("reading the answer: {e}"),
        })?;
    let body = Zeroizing::new(body);
    if !(200..300).contains(&status) {
        return Err(OidcError::HttpStatus {
            url: url.to_owned(),
            status,
            body: excerpt(&body),
        });
    }
    Ok(body)
}

/// The start of a response body for an error message. Bodies of token endpoints on success
/// carry secrets, so only error bodies are ever passed here.
pub(crate) fn excerpt(body: &str) -> String {
    let trimmed = body.trim();
    let mut end = trimmed.len().min(300);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = trimmed[..end].to_owned();
    if end < trimmed.len() {
        out.push_str("...");
    }
    out
}

/// GitHub Actions: GET `$ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with the request token
/// as bearer; the answer is `{"value": "<jwt>"}`.
pub fn github_actions_token(
    request_url: &str,
    request_token: &str,
    timeout: Duration,
) -> Result<IdentityToken, OidcError> {
    let sep = if request_url.contains('?') { '&' } else { '?' };
    let url = format!("{request_url}{sep}audience={SIGSTORE_AUDIENCE}");
    // The request URL carries no secret itself, but keep errors to the part before the query.
    let shown = request_url.split('?').next().unwrap_or_default().to_owned();
    let reply = agent(timeout)
        .get(&url)
        .header("Authorization", &format!("Bearer {request_token}"))
        .header("Accept", "application/json")
        .call();
    let body = read_reply(&shown, reply)?;
    #[derive(Deserialize)]
    struct Answer {
        value: String,
    }
    let answer: Answer = serde_json::from_str(&body).map_err(|e| OidcError::Malformed {
        source_name: "github actions",
        reason: format!("answer is not {{\"value\": ...}}: {e}"),
    })?;
    // Moving the String into Zeroizing keeps its one allocation, which is wiped on drop.
    let value = Zeroizing::new(answer.value);
    IdentityToken::parse(&value, "github actions")
}

/// PKCE (RFC 7636) S256 challenge for a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn random_urlsafe(n: usize) -> Result<String, OidcError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| OidcError::Interactive {
        reason: format!("no randomness: {e}"),
    })?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or_default();
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The interactive flow: OAuth 2.0 authorization code with PKCE, the browser redirected to a
/// listener on 127.0.0.1. `show_url` presents the login URL to the user.
pub fn interactive_token(
    issuer: &str,
    client_id: &str,
    timeout: Duration,
    show_url: &mut dyn FnMut(&str),
) -> Result<IdentityToken, OidcError> {
    let err = |reason: String| OidcError::Interactive { reason };
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
    let discovery: Discovery = serde_json::from_str(&doc)
        .map_err(|e| err(format!("bad discovery document at {discovery_url}: {e}")))?;

    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| err(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| err(format!("cannot read listener address: {e}")))?
        .port();
    let redirect_uri = format!("http://localhost:{port}/auth/callback");
    let verifier = Zeroizing::new(random_urlsafe(48)?);
    let state = random_urlsafe(16)?;
    let nonce = random_urlsafe(16)?;
    let auth_url = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope={}&code_challenge={}&code_challenge_method=S256&state={}&nonce={}",
        discovery.authorization_endpoint,
        form_encode(client_id),
        form_encode(&redirect_uri),
        form_encode("openid email"),
        pkce_challenge(&verifier),
        state,
        nonce
    );
    show_url(&auth_url);
    let code = Zeroizing::new(wait_for_redirect(&listener, &state, timeout * 10)?);

    let form = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&code_verifier={}",
        form_encode(&code),
        form_encode(&redirect_uri),
        form_encode(client_id),
        form_encode(&verifier)
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
    let answer: TokenAnswer = serde_json::from_str(&body)
        .map_err(|e| err(format!("token endpoint gave no id_token: {e}")))?;
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
    let err = |reason: String| OidcError::Interactive { reason };
    let deadline = Instant::now() + timeout;
    listener
        .set_nonblocking(true)
        .map_err(|e| err(format!("listener: {e}")))?;
    for _ in 0..64 {
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(err(format!(
                            "no browser redirect within {}s",
                            timeout.as_secs()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(err(format!("accepting the redirect: {e}"))),
            }
        };
        if let Some(result) = handle_redirect(stream, state)? {
            return result;
        }
    }
    Err(err("too many requests on the redirect listener".to_owned()))
}

/// One request on the redirect listener: `None` if it was not the callback (favicon, ...).
#[allow(clippy::type_complexity)]
fn handle_redirect(
    mut stream: TcpStream,
    state: &str,
) -> Result<Option<Result<String, OidcError>>, OidcError> {
    let err = |reason: String| OidcError::Interactive { reason };
    stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(10))))
        .map_err(|e| err(format!("redirect connection: {e}")))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .take_line(&mut line)
        .map_err(|e| err(format!("reading the redirect: {e}")))?;
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
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "code" => code = Some(form_decode(v)),
            "state" => got_state = Some(form_decode(v)),
            "error" => error = Some(form_decode(v)),
            _ => {}
        }
    }
    let outcome = match (error, code, got_state) {
        (Some(e), _, _) => Err(err(format!("the provider answered error `{e}`"))),
        (None, Some(c), Some(s)) if s == state => Ok(c),
        (None, Some(_), _) => Err(err("redirect state does not match this login".to_owned())),
        (None, None, _) => Err(err("redirect carries no code".to_owned())),
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
    use super::*;

    fn jwt(claims: &serde_json::Value) -> String {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn good_claims() -> serde_json::Value {
        serde_json::json!({"iss":"https://issuer.example","sub":"https://example.com/me","aud":"sigstore","exp":4_000_000_000_i64})
    }

    #[test]
    fn parses_claims_without_email() -> Result<(), OidcError> {
        let t = IdentityToken::parse(&jwt(&good_claims()), "test")?;
        assert_eq!(t.claims().issuer, "https://issuer.example");
        assert_eq!(t.expected_identity(), "https://example.com/me");
        Ok(())
    }

    #[test]
    fn email_is_the_identity_when_present() -> Result<(), OidcError> {
        let mut c = good_claims();
        c["email"] = "me@example.com".into();
        c["aud"] = serde_json::json!(["other", "sigstore"]);
        let t = IdentityToken::parse(&jwt(&c), "test")?;
        assert_eq!(t.expected_identity(), "me@example.com");
        Ok(())
    }

    #[test]
    fn github_actions_identity_is_the_workflow_uri() -> Result<(), OidcError> {
        let mut c = good_claims();
        c["iss"] = GITHUB_ACTIONS_ISSUER.into();
        c["sub"] = "repo:o/r:ref:refs/heads/main".into();
        c["job_workflow_ref"] = "o/r/.github/workflows/rel.yml@refs/heads/main".into();
        let t = IdentityToken::parse(&jwt(&c), "test")?;
        assert_eq!(
            t.expected_identity(),
            "https://github.com/o/r/.github/workflows/rel.yml@refs/heads/main"
        );
        Ok(())
    }

    #[test]
    fn rejects_wrong_audience_missing_claims_and_expiry() {
        let mut c = good_claims();
        c["aud"] = "not-sigstore".into();
        assert!(matches!(
            IdentityToken::parse(&jwt(&c), "t"),
            Err(OidcError::Audience { .. })
        ));
        for claim in ["iss", "sub", "exp", "aud"] {
            let mut c = good_claims();
            c.as_object_mut().map(|o| o.remove(claim));
            assert!(
                matches!(
                    IdentityToken::parse(&jwt(&c), "t"),
                    Err(OidcError::MissingClaim { .. })
                ),
                "{claim}"
            );
        }
        assert!(matches!(
            IdentityToken::parse("abc", "t"),
            Err(OidcError::Malformed { .. })
        ));
        let mut c = good_claims();
        c["exp"] = 1_000.into();
        let t = IdentityToken::parse(&jwt(&c), "t");
        assert!(matches!(
            t.map(|t| t.check_unexpired(Utc::now())),
            Ok(Err(OidcError::Expired { .. }))
        ));
    }

    #[test]
    fn debug_and_errors_never_show_the_token() -> Result<(), OidcError> {
        let raw = jwt(&good_claims());
        let mut opts = TokenOptions::new();
        opts.explicit = Some(Zeroizing::new(raw.clone()));
        assert!(!format!("{opts:?}").contains(&raw));
        let t = IdentityToken::parse(&raw, "test")?;
        let shown = format!("{t:?}");
        assert!(!shown.contains(&raw));
        assert!(!shown.contains(raw.split('.').nth(1).unwrap_or("x")));
        Ok(())
    }

    #[test]
    fn sources_in_order_explicit_then_env() -> Result<(), OidcError> {
        let explicit = jwt(&good_claims());
        let mut c = good_claims();
        c["sub"] = "env-subject".into();
        let from_env = jwt(&c);
        let env = |k: &str| (k == "SIGSTORE_ID_TOKEN").then(|| from_env.clone());
        let mut opts = TokenOptions::new();
        opts.allow_interactive = false;
        assert_eq!(
            obtain_token_with_env(&opts, &env)?.claims().subject,
            "env-subject"
        );
        opts.explicit = Some(Zeroizing::new(explicit));
        assert_eq!(
            obtain_token_with_env(&opts, &env)?.claims().subject,
            "https://example.com/me"
        );
        opts.explicit = None;
        assert!(matches!(
            obtain_token_with_env(&opts, &|_| None),
            Err(OidcError::NoSource)
        ));
        Ok(())
    }

    #[test]
    fn token_files_are_trimmed_bounded_and_never_empty() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let raw = jwt(&good_claims());
        let path = dir.path().join("token");
        std::fs::write(&path, format!("  {raw}\n\n"))?;
        assert_eq!(read_token_file(&path)?.as_str(), raw);

        std::fs::write(&path, " \n")?;
        assert!(matches!(
            read_token_file(&path),
            Err(OidcError::TokenFileEmpty { .. })
        ));
        std::fs::write(&path, vec![b'a'; MAX_TOKEN_FILE_BYTES as usize + 1])?;
        assert!(matches!(
            read_token_file(&path),
            Err(OidcError::TokenFileTooLarge { .. })
        ));
        std::fs::write(&path, [0xff, 0xfe])?;
        assert!(matches!(
            read_token_file(&path),
            Err(OidcError::Malformed { .. })
        ));
        let missing = dir.path().join("missing");
        let err = read_token_file(&missing)
            .err()
            .ok_or("read a missing file")?;
        assert_eq!(err.reason_code(), "token-file-unreadable");
        assert!(err.to_string().contains("missing"), "{err}");
        Ok(())
    }

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn form_round_trip() {
        let s = "a b&c=d/é";
        assert_eq!(form_decode(&form_encode(s)), s);
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

    /// A one-shot HTTP answer on loopback, returning the request it saw.
    fn serve_once(
        status: &'static str,
        body: String,
    ) -> Result<(String, std::thread::JoinHandle<std::io::Result<String>>), std::io::Error> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!(
            "http://127.0.0.1:{}/token?api-version=2.0",
            listener.local_addr()?.port()
        );
        let handle = std::thread::spawn(move || -> std::io::Result<String> {
            use std::io::Read as _;
            let (mut s, _) = listener.accept()?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf)?;
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            Ok(req)
        });
        Ok((url, handle))
    }

    #[test]
    fn github_actions_ambient_token_is_requested_for_sigstore()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut c = good_claims();
        c["iss"] = GITHUB_ACTIONS_ISSUER.into();
        let (url, server) =
            serve_once("200 OK", serde_json::json!({"value": jwt(&c)}).to_string())?;
        let env = |k: &str| match k {
            "ACTIONS_ID_TOKEN_REQUEST_URL" => Some(url.clone()),
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => Some("request-token".to_owned()),
            _ => None,
        };
        let mut opts = TokenOptions::new();
        opts.allow_interactive = false;
        let t = obtain_token_with_env(&opts, &env)?;
        assert_eq!(t.claims().issuer, GITHUB_ACTIONS_ISSUER);
        assert_eq!(t.source_name(), "github actions");
        let req = server.join().map_err(|_| "server thread panicked")??;
        let first = req.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("GET /token?api-version=2.0&audience=sigstore "),
            "{first}"
        );
        assert!(
            req.to_ascii_lowercase()
                .contains("authorization: bearer request-token"),
            "{req}"
        );
        Ok(())
    }

    #[test]
    fn github_actions_refusal_names_the_url_and_status() -> Result<(), Box<dyn std::error::Error>> {
        let (url, server) = serve_once(
            "403 Forbidden",
            r#"{"message":"no id-token permission"}"#.to_owned(),
        )?;
        let got = github_actions_token(&url, "request-token", Duration::from_secs(10));
        match got {
            Err(OidcError::HttpStatus {
                url: u,
                status,
                body,
            }) => {
                assert_eq!(status, 403);
                assert!(url.starts_with(&u), "{u}");
                assert!(body.contains("no id-token permission"));
            }
            other => return Err(format!("unexpected: {other:?}").into()),
        }
        server.join().map_err(|_| "server thread panicked")??;
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
                    q.split('&')
                        .filter_map(|p| p.split_once('='))
                        .map(|(k, v)| (k.to_owned(), form_decode(v)))
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
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(10)))
                    .max_redirects(0)
                    .http_status_as_error(false)
                    .build()
                    .into();
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
