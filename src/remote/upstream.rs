//! The proxy's client for the pinned endpoint: HTTP/1.1 connections of its own to the one origin
//! it may talk to (TCP, and TLS held to the pinned identity), kept for the next request once an
//! answer has been read to its end.
//!
//! Why not a general HTTP client: the proxy only ever talks to one origin and never follows a
//! redirect, and a general client parses the URL, runs its redirect and retry layers and
//! formats the URI again for every request; through the proxy that was a third of the
//! instructions a call costs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use rustls::pki_types::ServerName;

use super::proxy::lock;

/// A request body: the client's message, or nothing.
pub(super) type RequestBody = Full<Bytes>;

/// How long a kept connection may take to finish the previous answer before a new one is used
/// instead (it has the whole answer already; this only waits for its task to run).
const READY_WAIT: Duration = Duration::from_millis(200);
/// Connections kept open between requests, at most.
const MAX_IDLE_CONNECTIONS: usize = 64;

/// Why a request did not get an answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// No connection within the connect timeout (TCP and TLS together).
    ConnectTimeout,
    /// The host name did not resolve, or no address accepted the connection.
    Connect(String),
    /// The TLS handshake failed on what the endpoint presented (a rustls error: its
    /// certificate, key or protocol).
    Tls(std::io::Error),
    /// The connection broke during the TLS handshake (reset, closed): not the identity's fault.
    TlsBroken(std::io::Error),
    /// The connection broke before the answer began.
    Http(hyper::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::ConnectTimeout => write!(f, "no connection within the connect timeout"),
            Failure::Connect(why) => write!(f, "cannot connect: {why}"),
            Failure::Tls(e) => write!(f, "the TLS handshake failed: {e}"),
            Failure::TlsBroken(e) => {
                write!(f, "the connection broke during the TLS handshake: {e}")
            }
            Failure::Http(e) => write!(f, "{}", crate::error_chain(e)),
        }
    }
}

/// Kept connections, each with the time it was put back.
type Idle = Arc<Mutex<Vec<(SendRequest<RequestBody>, Instant)>>>;

/// A kept connection idle longer is closed rather than used: one a NAT or the endpoint dropped
/// without a word would take the request down with it.
const MAX_IDLE_TIME: Duration = Duration::from_secs(60);
/// TCP keepalive on the endpoint's connections: first probe after this much silence, then one
/// every `KEEPALIVE_INTERVAL` (the system's count of probes before giving up).
const KEEPALIVE_TIME: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// The pinned endpoint and the connections kept to it.
pub(super) struct Upstream {
    host: url::Host<String>,
    port: u16,
    /// `Host` of every request: the URL's host, and its port when not the scheme's default.
    authority: HeaderValue,
    /// The URL's path and query: every request's target.
    target: Uri,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    connect_timeout: Duration,
    idle: Idle,
}

/// The endpoint's answer, its body still to read. Read to its end, its connection is kept for
/// the next request; dropped before, the connection is closed.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: Incoming,
    conn: Option<SendRequest<RequestBody>>,
    idle: Idle,
}

impl Answer {
    /// The body's next chunk of data; `None` at its end.
    pub(super) async fn chunk(&mut self) -> Result<Option<Bytes>, hyper::Error> {
        loop {
            match self.body.frame().await {
                None => {
                    if let Some(conn) = self.conn.take() {
                        let mut idle = lock(&self.idle);
                        if idle.len() < MAX_IDLE_CONNECTIONS {
                            idle.push((conn, Instant::now()));
                        }
                    }
                    return Ok(None);
                }
                Some(Err(e)) => {
                    self.conn = None;
                    return Err(e);
                }
                Some(Ok(frame)) => {
                    // Trailers are not passed on.
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

impl Upstream {
    /// The client for `url` (checked by `manifest::remote::check_url`) with `tls` (used for
    /// https only).
    pub(super) fn new(
        url: &url::Url,
        tls: rustls::ClientConfig,
        connect_timeout: Duration,
    ) -> Result<Upstream, String> {
        let host = url
            .host()
            .ok_or_else(|| "the URL has no host".to_owned())?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "the URL has no port".to_owned())?;
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", host),
            None => host.to_string(),
        };
        let authority = HeaderValue::from_str(&authority).map_err(|e| e.to_string())?;
        let target = Uri::try_from(&url[url::Position::BeforePath..url::Position::AfterQuery])
            .map_err(|e| e.to_string())?;
        let tls = if url.scheme() == "https" {
            let name = match &host {
                url::Host::Domain(d) => {
                    ServerName::try_from(d.clone()).map_err(|e| e.to_string())?
                }
                url::Host::Ipv4(ip) => ServerName::IpAddress((*ip).into()),
                url::Host::Ipv6(ip) => ServerName::IpAddress((*ip).into()),
            };
            let mut tls = tls;
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some((tokio_rustls::TlsConnector::from(Arc::new(tls)), name))
        } else {
            None
        };
        Ok(Upstream {
            host,
            port,
            authority,
            target,
            tls,
            connect_timeout,
            idle: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Sends one request; returns when the answer's head has come.
    pub(super) async fn send(
        &self,
        method: Method,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Answer, Failure> {
        let mut req = Request::new(Full::new(body.unwrap_or_default()));
        *req.method_mut() = method;
        *req.uri_mut() = self.target.clone();
        *req.headers_mut() = headers;
        req.headers_mut()
            .insert(header::HOST, self.authority.clone());
        loop {
            let (mut conn, kept) = match self.kept().await {
                Some(c) => (c, true),
                None => (self.connect().await?, false),
            };
            match conn.try_send_request(req).await {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    return Ok(Answer {
                        status: parts.status,
                        headers: parts.headers,
                        body,
                        conn: Some(conn),
                        idle: Arc::clone(&self.idle),
                    });
                }
                Err(mut e) => match e.take_message() {
                    // A kept connection the endpoint closed before the request went out: on
                    // another one. Each turn takes a kept connection away, so this ends.
                    Some(back) if kept => req = back,
                    _ => return Err(Failure::Http(e.into_error())),
                },
            }
        }
    }

    /// A kept connection ready for a request, if there is one.
    async fn kept(&self) -> Option<SendRequest<RequestBody>> {
        loop {
            let (mut conn, since) = lock(&self.idle).pop()?;
            if conn.is_closed() || since.elapsed() > MAX_IDLE_TIME {
                continue;
            }
            if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, conn.ready()).await {
                return Some(conn);
            }
        }
    }

    /// A new connection (TCP, then TLS for https), within the connect timeout.
    async fn connect(&self) -> Result<SendRequest<RequestBody>, Failure> {
        let attempt = async {
            let tcp = self.tcp().await?;
            let _ = tcp.set_nodelay(true);
            // An endpoint that vanished (host down, NAT state dropped) is noticed on a stream
            // the client keeps open, not only when the idle limit runs out.
            let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(
                &socket2::TcpKeepalive::new()
                    .with_time(KEEPALIVE_TIME)
                    .with_interval(KEEPALIVE_INTERVAL),
            );
            match &self.tls {
                None => handshake(tcp).await,
                Some((connector, name)) => {
                    let tls = connector.connect(name.clone(), tcp).await.map_err(|e| {
                        if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
                            Failure::Tls(e)
                        } else {
                            Failure::TlsBroken(e)
                        }
                    })?;
                    handshake(tls).await
                }
            }
        };
        tokio::time::timeout(self.connect_timeout, attempt)
            .await
            .map_err(|_| Failure::ConnectTimeout)?
    }

    async fn tcp(&self) -> Result<tokio::net::TcpStream, Failure> {
        let addrs: Vec<SocketAddr> = match &self.host {
            url::Host::Ipv4(ip) => vec![SocketAddr::new((*ip).into(), self.port)],
            url::Host::Ipv6(ip) => vec![SocketAddr::new((*ip).into(), self.port)],
            url::Host::Domain(d) => tokio::net::lookup_host((d.as_str(), self.port))
                .await
                .map_err(|e| Failure::Connect(format!("cannot resolve `{d}`: {e}")))?
                .collect(),
        };
        // Each address gets its share of the connect timeout, so that one that drops packets
        // (a broken IPv6 route, say) leaves time for the others.
        let share = self.connect_timeout / u32::try_from(addrs.len().max(1)).unwrap_or(u32::MAX);
        let mut failed = Vec::new();
        for addr in addrs {
            match tokio::time::timeout(share, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(s)) => return Ok(s),
                Ok(Err(e)) => failed.push(format!("{addr}: {e}")),
                Err(_) => failed.push(format!("{addr}: no answer within {share:?}")),
            }
        }
        if failed.is_empty() {
            return Err(Failure::Connect(format!(
                "`{}` resolved to no address",
                self.host
            )));
        }
        Err(Failure::Connect(failed.join("; ")))
    }
}

/// HTTP/1.1 over `io`, its connection driven by a task of its own.
async fn handshake<I>(io: I) -> Result<SendRequest<RequestBody>, Failure>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .map_err(Failure::Http)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
