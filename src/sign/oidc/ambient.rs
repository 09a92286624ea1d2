//! Ambient credentials: the identity token a CI platform hands a job. GitHub Actions gives one
//! to workflows with `id-token: write` through a request URL and a bearer request token.

use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use super::claims::IdentityToken;
use super::{OidcError, SIGSTORE_AUDIENCE, agent, read_reply};

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
        problem: super::TokenProblem::NoValue(e),
    })?;
    // Moving the String into Zeroizing keeps its one allocation, which is wiped on drop.
    let value = Zeroizing::new(answer.value);
    IdentityToken::parse(&value, "github actions")
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::net::TcpListener;

    use super::super::test_tokens::{good_claims, jwt};
    use super::super::{GITHUB_ACTIONS_ISSUER, TokenOptions, obtain_token_with_env};
    use super::*;

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
        let opts = TokenOptions::new();
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
}
