//! The guard for a remote server: a local Streamable HTTP endpoint that forwards to the pinned
//! URL and holds what comes back to the signed pins, with the same decisions as the stdio guard
//! (`guard::core`): unpinned or changed entries hidden from lists, calls to them refused without
//! reaching the server, a call to something not yet seen held while the guard lists it itself,
//! `list_changed` forgetting what was known. JSON and `text/event-stream` answers both pass
//! through it, message by message.
//!
//! Sessions: each `Mcp-Session-Id` the server hands out gets its own guard state (what one
//! session was shown says nothing of another); requests without one (the stateless revision,
//! or a server without sessions) share one. Headers pass to the pinned origin only (redirects
//! are never followed), and nothing that holds a header value is ever logged.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::tls::PinnedVerifier;
use super::upstream::{Answer, BodyError, Failure, Upstream};
use crate::guard::core::{Core, Outcome};
use crate::guard::{CutOffProblem, GuardEvent, GuardLimits, Id};
use crate::manifest::pins::ToolPins;
use crate::manifest::remote::TlsIdentity;
pub(super) use crate::mcp::sse::SseParser;

type Body = BoxBody<Bytes, std::io::Error>;

pub(super) const SESSION_HEADER: &str = "mcp-session-id";
pub(super) const JSON: &str = "application/json";
pub(super) const EVENT_STREAM: &str = "text/event-stream";
/// How often a call held for a re-check looks at the guard's deadlines.
const HELD_TICK: Duration = Duration::from_millis(100);
/// Frames of an event stream waiting for the client, at most.
const STREAM_FRAMES: usize = 4;
/// Event ids remembered per session for streams a client may resume.
const MAX_EVENT_IDS: usize = 1024;

/// Bounds and timeouts of the proxy.
#[derive(Debug, Clone)]
pub struct ProxyLimits {
    /// The guard's own bounds (message size, pending requests, re-check timeout).
    pub guard: GuardLimits,
    /// To connect to the pinned endpoint (TCP and TLS).
    pub connect_timeout: Duration,
    /// From sending a request until the endpoint's answer begins (its status line).
    pub response_timeout: Duration,
    /// The longest silence inside an answer: between two chunks of a JSON body or an event
    /// stream (servers keep streams alive with comments).
    pub idle_timeout: Duration,
    /// Sessions held at once; the oldest is forgotten past it.
    pub max_sessions: usize,
}

impl Default for ProxyLimits {
    fn default() -> Self {
        Self {
            guard: GuardLimits::default(),
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(300),
            max_sessions: 256,
        }
    }
}

/// What the proxy is started with.
pub struct ProxyConfig {
    /// The pinned endpoint (checked by `manifest::remote::check_url`).
    pub upstream: url::Url,
    pub tls: Option<TlsIdentity>,
    pub pins: ToolPins,
    pub limits: ProxyLimits,
    /// Append-only JSON-lines record of what was hidden or refused, and why.
    pub audit_log: Option<PathBuf>,
}

/// Why the endpoint's answer could not be used: the reason codes of spec/cli.md.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamProblem {
    /// The TLS handshake failed: a certificate or key other than the pinned ones.
    TlsIdentity,
    /// The endpoint answered with a redirect; it is never followed.
    RedirectRefused,
    /// No answer began within the response timeout, or an answer stalled.
    UpstreamTimeout,
    /// One message was larger than the limit.
    UpstreamTooLarge,
    /// Connecting failed.
    UpstreamUnreachable,
    /// The answer broke the protocol (not JSON-RPC, an event stream that is no stream).
    UpstreamProtocol,
}

impl UpstreamProblem {
    pub fn as_str(&self) -> &'static str {
        match self {
            UpstreamProblem::TlsIdentity => "tls-identity",
            UpstreamProblem::RedirectRefused => "redirect-refused",
            UpstreamProblem::UpstreamTimeout => "upstream-timeout",
            UpstreamProblem::UpstreamTooLarge => "upstream-too-large",
            UpstreamProblem::UpstreamUnreachable => "upstream-unreachable",
            UpstreamProblem::UpstreamProtocol => "upstream-protocol",
        }
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{addr} is not a loopback address: pass --allow-remote-clients to listen there")]
    NotLoopback { addr: SocketAddr },
    #[error("the pinned endpoint cannot be used")]
    Endpoint(#[from] crate::manifest::remote::RemoteProblem),
    #[error("cannot build the client for the pinned endpoint: {0}")]
    Client(String),
    #[error("cannot start the proxy's runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot open the audit log `{}`", path.display())]
    AuditLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "header `{}` cannot be sent: not a valid header name and value, or one the proxy sets itself",
        crate::text::one_line(name, 80)
    )]
    Header { name: String },
}

/// A bound proxy, ready to serve.
pub struct Proxy {
    listener: std::net::TcpListener,
    state: Arc<State>,
}

pub(super) type EventSink = Box<dyn Fn(&GuardEvent) + Send + Sync>;

pub(super) struct State {
    client: super::upstream::Upstream,
    verifier: Option<Arc<PinnedVerifier>>,
    pins: ToolPins,
    limits: ProxyLimits,
    sessions: Mutex<Sessions>,
    audit: Option<Mutex<crate::guard::AuditLogHandle>>,
    events: Mutex<Option<EventSink>>,
}

#[derive(Default)]
struct Sessions {
    by_id: HashMap<String, Arc<Session>>,
    order: VecDeque<String>,
    /// Requests that carry no session id.
    none: Option<Arc<Session>>,
}

struct Session {
    core: Mutex<Core>,
    /// The headers of the latest client request, for the guard's own requests (they speak with
    /// the client's authorization and protocol version). Held in memory only.
    headers: Mutex<HeaderMap>,
    /// Held calls waiting for the re-check that decides them.
    waiters: Mutex<HashMap<Id, oneshot::Sender<Vec<u8>>>>,
    /// The tasks reading what the endpoint sends on the guard's latest re-check streams after
    /// their answers: one per list method (tools, prompts, resources: the only requests the
    /// guard makes), so that a re-check of one list does not stop the reading of another's
    /// stream; stopped with the session.
    drains: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Event ids the endpoint gave on the answer to a client's request, newest last (at most
    /// `MAX_EVENT_IDS`): a GET resuming after one answers that request.
    events: Mutex<VecDeque<(String, Id)>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for (_, task) in lock(&self.drains).drain() {
            task.abort();
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Checks the endpoint, builds its TLS configuration and binds `listen` (loopback only,
    /// unless `allow_remote_clients`).
    pub fn bind(
        config: ProxyConfig,
        listen: SocketAddr,
        allow_remote_clients: bool,
    ) -> Result<Proxy, ProxyError> {
        if !reached_over_loopback(listen) && !allow_remote_clients {
            return Err(ProxyError::NotLoopback { addr: listen });
        }
        let state = State::new(config)?;
        let listener =
            std::net::TcpListener::bind(listen).map_err(|source| ProxyError::Listen {
                addr: listen,
                source,
            })?;
        Ok(Proxy { listener, state })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends; `on_event` sees what the guard hid or refused.
    pub fn serve(
        self,
        on_event: impl Fn(&GuardEvent) + Send + Sync + 'static,
    ) -> Result<(), ProxyError> {
        *lock(&self.state.events) = Some(Box::new(on_event));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ProxyError::Runtime)?;
        runtime.block_on(async move {
            self.listener
                .set_nonblocking(true)
                .map_err(ProxyError::Runtime)?;
            let listener =
                tokio::net::TcpListener::from_std(self.listener).map_err(ProxyError::Runtime)?;
            keep_a_timer_armed();
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(s) => s,
                    // Out of descriptors and the like: wait a little rather than spin.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                // A connection that reached us over loopback came from this machine, where a
                // browser's page may have rebound its name: its `Host` must name loopback,
                // even when the proxy also listens beyond (`--allow-remote-clients`).
                let check_host = stream.local_addr().is_ok_and(reached_over_loopback);
                tokio::spawn(serve_connection(
                    Arc::clone(&self.state),
                    stream,
                    check_host,
                ));
            }
        })
    }
}

/// Keeps a timer armed within the next second, on the current runtime, for as long as it runs.
///
/// Every request to the endpoint arms its response timeout. When the I/O driver is parked with
/// no timer due sooner, tokio wakes it to re-plan (a write to its eventfd, and one more event
/// to read back): a syscall pair per request for nothing. A timer that is always due within a
/// second means a new timeout (longer) never needs that; the cost is one wake-up a second.
pub(super) fn keep_a_timer_armed() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
        }
    });
}

/// The body's next chunk if it is there without waiting: polled once (what the last read brought
/// is decoded at once, the end of a chunked body that came with the last data included). No
/// timer is used: a zero timeout would register one.
async fn chunk_if_ready(resp: &mut Answer) -> Option<Result<Option<Bytes>, BodyError>> {
    use std::task::Poll;
    let mut next = std::pin::pin!(resp.chunk());
    std::future::poll_fn(move |cx| match next.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(Some(r)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// Whether a connection whose own end is `local` came over loopback. A dual-stack socket
/// (`[::]`) sees IPv4 loopback as `::ffff:127.0.0.1`, which `Ipv6Addr::is_loopback` denies.
fn reached_over_loopback(local: SocketAddr) -> bool {
    local.ip().to_canonical().is_loopback()
}

/// Serves one client connection (a socket, or the stdio bridge's in-memory pipe);
/// `check_host`: its requests' `Host` must name loopback.
pub(super) async fn serve_connection<I>(state: Arc<State>, io: I, check_host: bool)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let state = Arc::clone(&state);
        async move { Ok::<_, std::convert::Infallible>(state.handle(req, check_host).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
}

/// A body of `bytes`.
fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn without_newline(mut line: Vec<u8>) -> Vec<u8> {
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    line
}

/// The id of a response line, if it is one.
fn response_id(line: &[u8]) -> Option<Id> {
    match crate::guard::wire::envelope(line).ok()?.shape() {
        crate::guard::wire::Shape::Response(id) => Some(id.clone()),
        _ => None,
    }
}

/// The id and method of a request line, if it is one.
fn request_of(line: &[u8]) -> Option<(Id, String)> {
    match crate::guard::wire::envelope(line).ok()?.shape() {
        crate::guard::wire::Shape::Request(id, m) => Some((id.clone(), m.to_owned())),
        _ => None,
    }
}

/// Headers that belong to one hop, never forwarded either way.
pub(super) fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "accept-encoding"
            | "content-encoding"
    )
}

/// Whether two header maps hold the same headers in the same order: a client sends the same
/// headers in the same order request after request, and this costs no hashing (`==` looks each
/// name up). A false "different" only costs a copy.
fn same_headers(a: &HeaderMap, b: &HeaderMap) -> bool {
    a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x == y)
}

/// The hop-by-hop headers of `hop_by_hop`, removed in place.
fn forwardable(mut headers: HeaderMap) -> HeaderMap {
    let hop: Vec<HeaderName> = headers.keys().filter(|n| hop_by_hop(n)).cloned().collect();
    for name in hop {
        headers.remove(name);
    }
    headers
}

/// Appends a passed message's bytes, with U+0085, U+2028 and U+2029 written as JSON escapes:
/// Python clients (httpx-sse 0.4) end lines at them too, so a raw one would let the endpoint
/// start lines the guard never read. In a message the guard passed (valid JSON) they can only
/// stand inside strings, where the escape is the same text.
fn push_escaping_other_line_ends(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut rest = bytes;
    // Each separator starts with C2 or E2, which begin nothing else they could be part of.
    while let Some(i) = memchr::memchr2(0xc2, 0xe2, rest) {
        let (len, escaped) = match crate::mcp::sse::unicode_line_end(&rest[i..]) {
            Some((len, escape)) => (len, escape),
            None => (1, &rest[i..=i]),
        };
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(escaped);
        rest = &rest[i + len..];
    }
    out.extend_from_slice(rest);
}

/// An error answer of ours: JSON-RPC error for `id`, with our reason code.
fn error_response(
    status: StatusCode,
    id: Option<&Id>,
    reason: &str,
    message: &str,
) -> Response<Body> {
    let line = without_newline(crate::guard::wire::error_line(
        id,
        crate::guard::wire::INTERNAL_ERROR,
        message,
        json!({ "reason": reason }),
    ));
    let mut r = Response::new(full(line));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    r
}

/// Whether a request could come from a web page of another site (DNS rebinding): its `Origin`
/// must be a loopback name when present, and so must its `Host` when `check_host` (the client
/// reached the proxy over loopback). A page that rebinds its own name to 127.0.0.1 sends no `Origin` on a
/// same-origin GET, but its `Host` is still its own name.
fn foreign_origin(headers: &HeaderMap, check_host: bool) -> Option<&'static str> {
    let loopback_authority = |a: &str| {
        let host = a
            .strip_prefix("http://")
            .or_else(|| a.strip_prefix("https://"))
            .unwrap_or(a);
        let host = host.split('/').next().unwrap_or(host);
        // A port, when there is one, is digits: `127.0.0.1:1@evil.example` or `localhost:evil`
        // is not a loopback authority (no browser sends one, but no reading of it is one either).
        let port_ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        let host = if let Some(rest) = host.strip_prefix('[') {
            match rest.split_once(']') {
                Some((h, "")) => h,
                Some((h, after)) if after.strip_prefix(':').is_some_and(port_ok) => h,
                _ => return false,
            }
        } else {
            match host.rsplit_once(':') {
                None => host,
                Some((h, p)) if port_ok(p) => h,
                Some(_) => return false,
            }
        };
        // The usual names first: parsing an address costs more than the request's other checks.
        host == "127.0.0.1"
            || host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback())
    };
    // An opaque `Origin` ("null": a sandboxed frame, a data: or file: page) is refused too: any
    // site can make one.
    let bad = |name| {
        headers.get_all(name).iter().any(|v| match v.to_str() {
            Ok(v) => !loopback_authority(v),
            Err(_) => true,
        })
    };
    // A browser says where a request comes from even where it sends no `Origin` (an `<img>`,
    // a no-cors GET): anything but the proxy's own origin or the user's own navigation is
    // another site's page, which must not open streams or send the browser's cookies on.
    let cross_site = headers
        .get_all("sec-fetch-site")
        .iter()
        .any(|v| !matches!(v.as_bytes(), b"none" | b"same-origin"));
    if bad(header::ORIGIN) {
        Some("an `Origin` of another site")
    } else if cross_site {
        Some("`Sec-Fetch-Site` naming another site")
    } else if check_host && bad(header::HOST) {
        Some("a `Host` that is not a loopback name")
    } else {
        None
    }
}

enum SendError {
    Problem(UpstreamProblem, String),
}

impl State {
    /// Checks the endpoint and builds its client, with the pinned TLS identity.
    pub(super) fn new(config: ProxyConfig) -> Result<Arc<State>, ProxyError> {
        crate::manifest::remote::check_url(config.upstream.as_str())?;
        let (tls, verifier) = super::tls::client_config(config.tls.as_ref())?;
        let client = Upstream::new(&config.upstream, tls, config.limits.connect_timeout)
            .map_err(ProxyError::Client)?;
        let audit = match &config.audit_log {
            Some(path) => Some(Mutex::new(
                crate::guard::AuditLogHandle::open(path).map_err(|source| {
                    ProxyError::AuditLog {
                        path: path.clone(),
                        source,
                    }
                })?,
            )),
            None => None,
        };
        Ok(Arc::new(State {
            client,
            verifier,
            pins: config.pins,
            limits: config.limits,
            sessions: Mutex::new(Sessions::default()),
            audit,
            events: Mutex::new(None),
        }))
    }

    pub(super) fn max_message_bytes(&self) -> usize {
        self.limits.guard.max_message_bytes
    }

    pub(super) fn set_events(&self, on_event: EventSink) {
        *lock(&self.events) = Some(on_event);
    }

    pub(super) fn emit(&self, events: &[GuardEvent]) {
        if events.is_empty() {
            return;
        }
        let sink = lock(&self.events);
        for e in events {
            if let Some(audit) = &self.audit
                && let Some(failed) = lock(audit).write(e)
                && let Some(f) = sink.as_ref()
            {
                f(&failed);
            }
            if let Some(f) = sink.as_ref() {
                f(e);
            }
        }
    }

    fn upstream_refused(&self, problem: &UpstreamProblem, detail: &str) {
        self.emit(&[GuardEvent::UpstreamRefused {
            reason: problem.as_str(),
            detail: crate::text::one_line(detail, 300),
        }]);
    }

    fn new_session(&self) -> Arc<Session> {
        Arc::new(Session {
            core: Mutex::new(Core::new(&self.pins, self.limits.guard.clone())),
            headers: Mutex::new(HeaderMap::new()),
            waiters: Mutex::new(HashMap::new()),
            drains: Mutex::new(HashMap::new()),
            events: Mutex::new(VecDeque::new()),
        })
    }

    /// The session a request belongs to; `initialize` always starts a new one.
    fn session_for(&self, id: Option<&str>, initialize: bool) -> Arc<Session> {
        if initialize {
            return self.new_session();
        }
        let mut s = lock(&self.sessions);
        match id {
            None => {
                // Without session ids (an endpoint that hands out none, or the stateless
                // revision, where no request starts a new session) a guard closed because the
                // endpoint broke the protocol is replaced on the next request, which starts
                // from nothing (its lists re-checked before any call passes): otherwise every
                // later request of every client would be refused until the proxy restarts.
                if s.none.as_ref().is_some_and(|n| lock(&n.core).closed) {
                    s.none = None;
                }
                s.none.get_or_insert_with(|| self.new_session()).clone()
            }
            Some(id) => {
                if let Some(found) = s.by_id.get(id) {
                    return found.clone();
                }
                // A session id we never saw handed out: the server decides (it answers 404 for
                // one it does not know); the guard starts from nothing for it.
                let fresh = self.new_session();
                self.remember(&mut s, id.to_owned(), fresh.clone());
                fresh
            }
        }
    }

    fn remember(&self, s: &mut Sessions, id: String, session: Arc<Session>) {
        if s.by_id.insert(id.clone(), session).is_none() {
            s.order.push_back(id);
        }
        while s.by_id.len() > self.limits.max_sessions {
            match s.order.pop_front() {
                Some(old) => {
                    s.by_id.remove(&old);
                }
                None => break,
            }
        }
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>, check_host: bool) -> Response<Body> {
        if let Some(what) = foreign_origin(req.headers(), check_host) {
            return error_response(
                StatusCode::FORBIDDEN,
                None,
                "foreign-origin",
                &format!(
                    "mcp-verify proxy: a request with {what} is refused (a web page of another \
                     site reaching the proxy)"
                ),
            );
        }
        match *req.method() {
            Method::POST => self.post(req).await,
            Method::GET => self.get(req).await,
            Method::DELETE => self.delete(req).await,
            _ => {
                let mut r = Response::new(full(Bytes::new()));
                *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
                r
            }
        }
    }

    fn session_header(headers: &HeaderMap) -> Option<String> {
        headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    async fn post(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let session_id = Self::session_header(&parts.headers);
        let headers = forwardable(parts.headers);
        let max = self.limits.guard.max_message_bytes;
        let body = match read_limited(body, max).await {
            Ok(b) => b,
            Err(Limited::TooLarge) => {
                let session = self.session_for(session_id.as_deref(), false);
                let out = lock(&session.core).client_too_large();
                self.emit(&out.events);
                let line = out.to_client.into_iter().next().unwrap_or_default();
                let mut r = Response::new(full(without_newline(line)));
                *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
                return r;
            }
            Err(Limited::Failed) => {
                let mut r = Response::new(full(Bytes::new()));
                *r.status_mut() = StatusCode::BAD_REQUEST;
                return r;
            }
        };
        let envelope = crate::guard::wire::envelope(&body);
        let request = match envelope.as_ref().map(|e| e.shape()) {
            Ok(crate::guard::wire::Shape::Request(id, m)) => Some((id.clone(), m == "initialize")),
            _ => None,
        };
        let initialize = request.as_ref().is_some_and(|(_, init)| *init);
        let session = self.session_for(session_id.as_deref(), initialize);
        {
            let mut kept = lock(&session.headers);
            if !same_headers(&kept, &headers) {
                *kept = headers.clone();
            }
        }
        let (out, held) = {
            let mut core = lock(&session.core);
            let out = core.client_message(&body, envelope, Instant::now());
            // Registered under the guard's lock: a re-check that releases it cannot run between.
            let held = match &request {
                Some((id, _)) if !out.forward && out.to_client.is_empty() => {
                    let (tx, rx) = oneshot::channel();
                    lock(&session.waiters).insert(id.clone(), tx);
                    Some((id.clone(), rx))
                }
                _ => None,
            };
            (out, held)
        };
        self.emit(&out.events);
        if !out.to_server.is_empty() {
            tokio::spawn(Arc::clone(&self).drive(Arc::clone(&session), out.to_server));
        }
        if out.forward {
            return self
                .forward(
                    Method::POST,
                    headers,
                    Some(body),
                    request.as_ref().map(|r| r.0.clone()),
                    initialize,
                    Owed::post(&session, request.map(|r| r.0)),
                )
                .await;
        }
        if let Some((id, rx)) = held {
            return match self.wait_held(&session, &id, rx).await {
                Some(line) if request_of(&line).is_some() => {
                    let owed = Owed::post(&session, Some(id.clone()));
                    self.forward(
                        Method::POST,
                        headers,
                        Some(Bytes::from(line)),
                        Some(id),
                        false,
                        owed,
                    )
                    .await
                }
                Some(answer) => json_response(StatusCode::OK, without_newline(answer)),
                None => error_response(
                    StatusCode::GATEWAY_TIMEOUT,
                    Some(&id),
                    "recheck-timed-out",
                    "mcp-verify proxy: the call was held for a re-check that did not finish",
                ),
            };
        }
        match out.to_client.into_iter().next() {
            Some(line) => json_response(StatusCode::OK, without_newline(line)),
            // A notification or response the guard swallowed: accepted, as the server would.
            None => {
                let mut r = Response::new(full(Bytes::new()));
                *r.status_mut() = StatusCode::ACCEPTED;
                r
            }
        }
    }

    /// Waits for a held call's fate: the call itself to send on, or the guard's answer.
    async fn wait_held(
        self: &Arc<Self>,
        session: &Arc<Session>,
        id: &Id,
        mut rx: oneshot::Receiver<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        let give_up = Instant::now() + self.limits.guard.recheck_timeout + Duration::from_secs(5);
        loop {
            match tokio::time::timeout(HELD_TICK, &mut rx).await {
                Ok(Ok(line)) => return Some(line),
                Ok(Err(_)) => return None,
                Err(_) => {
                    let out = lock(&session.core).tick(Instant::now());
                    self.dispatch(session, out, None);
                    if Instant::now() > give_up {
                        lock(&session.waiters).remove(id);
                        return None;
                    }
                }
            }
        }
    }

    /// Routes what the guard decided outside of any one answer: released calls and answers to
    /// held calls to their waiters, its own requests to the server. Returns the lines meant for
    /// the client that no waiter takes.
    fn dispatch(
        self: &Arc<Self>,
        session: &Arc<Session>,
        out: Outcome,
        extra: Option<&mut Vec<Vec<u8>>>,
    ) {
        self.emit(&out.events);
        let mut own = Vec::new();
        for line in out.to_server {
            match request_of(&line) {
                Some((id, _)) if !id.is_reserved() => Self::release_to_waiter(session, &id, line),
                _ => own.push(line),
            }
        }
        let mut rest = Vec::new();
        for line in out.to_client {
            let waiter = response_id(&line).and_then(|id| lock(&session.waiters).remove(&id));
            match waiter {
                Some(tx) => {
                    let _ = tx.send(line);
                }
                None => rest.push(line),
            }
        }
        if let Some(extra) = extra {
            extra.extend(rest);
        }
        if !own.is_empty() {
            tokio::spawn(Arc::clone(self).drive(Arc::clone(session), own));
        }
    }

    /// A held call the guard released, to the client request waiting to send it on. When that
    /// request is gone (the client went away, or it gave up waiting), the call is never sent:
    /// the guard stops waiting for its answer.
    fn release_to_waiter(session: &Session, id: &Id, line: Vec<u8>) {
        let waiter = lock(&session.waiters).remove(id);
        if waiter.is_none_or(|tx| tx.send(line).is_err()) {
            lock(&session.core).forget_request(id);
        }
    }

    /// Sends the guard's own requests (re-check pages) and feeds their answers back to it.
    async fn drive(self: Arc<Self>, session: Arc<Session>, lines: Vec<Vec<u8>>) {
        for line in lines {
            let line = without_newline(line);
            let Some((id, method)) = request_of(&line) else {
                continue;
            };
            if !id.is_reserved() {
                Self::release_to_waiter(session.as_ref(), &id, line);
                continue;
            }
            let mut headers = lock(&session.headers).clone();
            // The client's headers, but naming this request's own method (the revision that
            // mirrors the method in a header checks that they agree).
            headers.remove("mcp-name");
            if let Ok(m) = HeaderValue::from_str(&method) {
                headers.insert("mcp-method", m);
            }
            let mut answered = false;
            // The re-check's own time runs from its request, not from the answer's start.
            let deadline = Instant::now() + self.limits.guard.recheck_timeout;
            let sent = tokio::time::timeout_at(
                deadline.into(),
                self.send(Method::POST, headers, Some(Bytes::from(line))),
            )
            .await;
            match sent {
                Ok(Ok(mut resp)) => {
                    let mut reading = Reading::new(
                        content_type(&resp.headers) == Some(EVENT_STREAM),
                        self.limits.guard.max_message_bytes,
                    );
                    // Read until the answer (a stream may stay open after it), within the
                    // re-check's own time.
                    let messages = self
                        .read_messages(&mut resp, &mut reading, Some((&id, deadline)))
                        .await
                        .unwrap_or_default();
                    for m in messages {
                        if response_id(&m).as_ref() == Some(&id) {
                            answered = true;
                        }
                        if !self.guard_reads(&session, &id, &m) {
                            return;
                        }
                    }
                    if answered && (!reading.ended || !reading.rest.is_empty()) {
                        // What the endpoint sends on this stream after the answer (a
                        // `list_changed`) still counts.
                        let task = tokio::spawn(Arc::clone(&self).drain(
                            Arc::downgrade(&session),
                            id.clone(),
                            resp,
                            reading,
                        ));
                        let older = lock(&session.drains).insert(method, task.abort_handle());
                        if let Some(older) = older {
                            older.abort();
                        }
                    }
                }
                Ok(Err(SendError::Problem(p, detail))) => self.upstream_refused(&p, &detail),
                Err(_) => self.upstream_refused(
                    &UpstreamProblem::UpstreamTimeout,
                    "no answer to the guard's own list request within the re-check timeout",
                ),
            }
            if !answered {
                // The re-check failed: an error answer of our own, so the held calls are refused
                // (`recheck-failed`) rather than left waiting.
                let err = crate::guard::wire::error_line(
                    Some(&id),
                    crate::guard::wire::INTERNAL_ERROR,
                    "the endpoint did not answer the guard's list request",
                    json!({}),
                );
                if let Ok(out) =
                    lock(&session.core).server_line(&without_newline(err), Instant::now())
                {
                    self.dispatch(&session, out, None);
                }
            }
        }
    }

    /// One message of the endpoint's answer to the guard's own request `own`, to the guard (a
    /// response to any other request is dropped). `false` when the endpoint broke the protocol
    /// (the session is cut off).
    fn guard_reads(self: &Arc<Self>, session: &Arc<Session>, own: &Id, message: &[u8]) -> bool {
        let out = lock(&session.core).server_answer_line(message, Some(own), Instant::now());
        match out {
            Ok((out, _)) => {
                self.dispatch(session, out, None);
                true
            }
            Err(problem) => {
                self.cut_off(session, problem);
                false
            }
        }
    }

    /// Reads the rest of a re-check's event stream after its answer, each message to the guard,
    /// as long as the stream lasts within the bounds of any answer (size, silence) and the
    /// session is held.
    async fn drain(
        self: Arc<Self>,
        session: std::sync::Weak<Session>,
        own: Id,
        mut resp: Answer,
        mut reading: Reading,
    ) {
        loop {
            let messages = match self.next_messages(&mut resp, &mut reading, None).await {
                Ok(Some(m)) => m,
                Ok(None) | Err((UpstreamProblem::UpstreamTimeout, _)) => return,
                Err((p, detail)) => {
                    self.upstream_refused(&p, &detail);
                    return;
                }
            };
            let Some(session) = session.upgrade() else {
                return;
            };
            for m in messages {
                if !self.guard_reads(&session, &own, &m) {
                    return;
                }
            }
        }
    }

    /// One request to the pinned endpoint, its answer begun.
    async fn send(
        &self,
        method: Method,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Answer, SendError> {
        let sent = self.client.send(method, headers, body);
        let resp = match tokio::time::timeout(self.limits.response_timeout, sent).await {
            Err(_) => {
                return Err(SendError::Problem(
                    UpstreamProblem::UpstreamTimeout,
                    format!(
                        "no answer within {} s",
                        self.limits.response_timeout.as_secs_f64()
                    ),
                ));
            }
            Ok(Err(failure)) => {
                let problem = match &failure {
                    Failure::Tls(_) => {
                        if let Some(r) = self.verifier.as_ref().and_then(|v| v.last_refusal()) {
                            return Err(SendError::Problem(
                                UpstreamProblem::TlsIdentity,
                                r.to_string(),
                            ));
                        }
                        UpstreamProblem::TlsIdentity
                    }
                    Failure::ConnectTimeout => UpstreamProblem::UpstreamTimeout,
                    Failure::Connect(_) | Failure::TlsBroken(_) | Failure::Broken(_) => {
                        UpstreamProblem::UpstreamUnreachable
                    }
                    Failure::Protocol(_) => UpstreamProblem::UpstreamProtocol,
                };
                return Err(SendError::Problem(problem, failure.to_string()));
            }
            Ok(Ok(r)) => r,
        };
        if resp.status.is_redirection() {
            let location = resp.headers.get(header::LOCATION);
            let to = crate::text::redirect_target(location.map(|l| l.as_bytes()));
            return Err(SendError::Problem(
                UpstreamProblem::RedirectRefused,
                format!("the endpoint redirected to {to}; redirects are never followed"),
            ));
        }
        Ok(resp)
    }

    /// Reads an answer's messages (one JSON body, or the events of a stream). With `until`, a
    /// stream is read only up to the answer to that id, and no longer than the deadline.
    async fn read_messages(
        &self,
        resp: &mut Answer,
        reading: &mut Reading,
        until: Option<(&Id, Instant)>,
    ) -> Result<Vec<Vec<u8>>, (UpstreamProblem, String)> {
        let mut messages = Vec::new();
        while let Some(more) = self
            .next_messages(resp, reading, until.map(|(_, d)| d))
            .await?
        {
            let mut more = more.into_iter();
            while let Some(m) = more.next() {
                let done = until.is_some_and(|(id, _)| response_id(&m).as_ref() == Some(id));
                messages.push(m);
                if done {
                    reading.rest.extend(more);
                    return Ok(messages);
                }
            }
        }
        Ok(messages)
    }

    /// The messages the answer's next chunk completes (a JSON body's one message comes at its
    /// end); `None` once it has ended. No longer than the deadline, when one is given.
    async fn next_messages(
        &self,
        resp: &mut Answer,
        reading: &mut Reading,
        deadline: Option<Instant>,
    ) -> Result<Option<Vec<Vec<u8>>>, (UpstreamProblem, String)> {
        if !reading.rest.is_empty() {
            return Ok(Some(reading.rest.drain(..).collect()));
        }
        if reading.ended {
            return Ok(None);
        }
        let max = self.limits.guard.max_message_bytes;
        let wait = match deadline {
            Some(deadline) => self
                .limits
                .idle_timeout
                .min(deadline.saturating_duration_since(Instant::now())),
            None => self.limits.idle_timeout,
        };
        let chunk = match tokio::time::timeout(wait, resp.chunk()).await {
            Err(_) => {
                return Err((
                    UpstreamProblem::UpstreamTimeout,
                    "the answer stalled".into(),
                ));
            }
            Ok(Err(e)) => {
                return Err((UpstreamProblem::UpstreamProtocol, crate::error_chain(&e)));
            }
            Ok(Ok(None)) => {
                reading.ended = true;
                let body = std::mem::take(&mut reading.body);
                return Ok(Some(if reading.stream || body.is_empty() {
                    Vec::new()
                } else {
                    vec![body]
                }));
            }
            Ok(Ok(Some(c))) => c,
        };
        if !reading.stream {
            if reading.body.len() + chunk.len() > max {
                return Err((
                    UpstreamProblem::UpstreamTooLarge,
                    format!("an answer over {max} bytes"),
                ));
            }
            reading.body.extend_from_slice(&chunk);
            return Ok(Some(Vec::new()));
        }
        // Bounded as a whole, comments and blank lines included: a stream that never ends must
        // not grow without limit.
        reading.total += chunk.len();
        if reading.total > 2 * max {
            return Err((
                UpstreamProblem::UpstreamTooLarge,
                format!("an answer's event stream over {} bytes", 2 * max),
            ));
        }
        let events = reading.sse.push(&chunk).map_err(|_| {
            (
                UpstreamProblem::UpstreamTooLarge,
                "an event too large".to_owned(),
            )
        })?;
        Ok(Some(events.into_iter().map(|ev| ev.data).collect()))
    }

    /// Forwards a client request and streams the endpoint's answer back through the guard.
    /// The exchange's session is `owed`'s.
    async fn forward(
        self: Arc<Self>,
        method: Method,
        headers: HeaderMap,
        body: Option<Bytes>,
        id: Option<Id>,
        initialize: bool,
        mut owed: Owed,
    ) -> Response<Body> {
        let session = Arc::clone(&owed.session);
        let mut resp = match self.send(method, headers, body).await {
            Ok(r) => r,
            Err(SendError::Problem(p, detail)) => {
                self.upstream_refused(&p, &detail);
                let status = match p {
                    UpstreamProblem::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
                    _ => StatusCode::BAD_GATEWAY,
                };
                return error_response(
                    status,
                    id.as_ref(),
                    p.as_str(),
                    &format!("mcp-verify proxy: {}", crate::text::one_line(&detail, 300)),
                );
            }
        };
        let status = resp.status;
        if initialize {
            let mut s = lock(&self.sessions);
            match Self::session_header(&resp.headers) {
                Some(sid) => self.remember(&mut s, sid, Arc::clone(&session)),
                None => s.none = Some(Arc::clone(&session)),
            }
        }
        let kind = content_type(&resp.headers);
        let mut out_headers = forwardable(std::mem::take(&mut resp.headers));
        if let Some(kind) = kind {
            // The one type the guard read the body as, and nothing else: a second value, or a
            // parameter naming the other type, could make a client read it as that one.
            out_headers.remove(header::CONTENT_TYPE);
            out_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        }
        if kind == Some(EVENT_STREAM) {
            let mut pump = Pump::new(self.limits.guard.max_message_bytes, owed);
            // The answer to a request starts with its first events, so that the status line and
            // they reach the client in one write; when the stream has ended with them (the
            // usual answer: the response, then the end), that is the whole body and no task is
            // needed. A GET stream starts at once (it may stay silent for long).
            let mut first = None;
            if id.is_some() {
                loop {
                    match self.pump_step(&session, &mut resp, &mut pump).await {
                        None => break,
                        Some((frame, true)) => {
                            let mut r = Response::new(full(frame));
                            *r.status_mut() = status;
                            *r.headers_mut() = out_headers;
                            return r;
                        }
                        Some((frame, false)) if frame.is_empty() => {}
                        Some((frame, false)) => {
                            first = Some(Ok(Frame::data(Bytes::from(frame))));
                            break;
                        }
                    }
                }
            }
            // A frame holds every event of one upstream chunk (each up to the message limit), so
            // the queue is short: a client that reads slowly holds the endpoint back.
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(STREAM_FRAMES);
            if first.is_some() || id.is_none() {
                let state = Arc::clone(&self);
                tokio::spawn(async move {
                    state.pump_stream(session, resp, pump, tx).await;
                });
            }
            let body = ChannelBody { first, rx }.boxed();
            let mut r = Response::new(body);
            *r.status_mut() = status;
            *r.headers_mut() = out_headers;
            return r;
        }
        let is_json = kind == Some(JSON);
        let mut reading = Reading::new(false, self.limits.guard.max_message_bytes);
        let messages = match self.read_messages(&mut resp, &mut reading, None).await {
            Ok(m) => m,
            Err((p, detail)) => {
                self.upstream_refused(&p, &detail);
                return error_response(
                    StatusCode::BAD_GATEWAY,
                    id.as_ref(),
                    p.as_str(),
                    &format!("mcp-verify proxy: {detail}"),
                );
            }
        };
        if !is_json || !status.is_success() {
            // 202 for notifications, and the endpoint's own errors (401 with its challenge,
            // 404 for an expired session): passed on as they are (the request, if any, is then
            // answered without the guard, which stops waiting for it). Not when the body could
            // carry what only the guard may pass: a request's successful answer must be JSON or
            // an event stream (clients read `application/json-x` as JSON, for one), and an
            // error's body must not read as messages to any client.
            let body = messages.into_iter().next().unwrap_or_default();
            let reads = body_reads(&body);
            let refusal = if status.is_success() && id.is_some() && body.is_empty() {
                // No answer at all: the client would wait for the response for ever (an empty
                // JSON body is refused below, as a JSON answer without the response).
                Some(format!(
                    "the endpoint answered a request with HTTP {} and no body",
                    status.as_u16()
                ))
            } else if status.is_success() && id.is_some() {
                Some(format!(
                    "the endpoint answered a request with HTTP {} and a body of type `{}`, \
                     neither JSON nor an event stream",
                    status.as_u16(),
                    crate::text::one_line(declared_type(&out_headers), 100)
                ))
            } else if !status.is_success() && reads == BodyReads::Messages {
                Some(format!(
                    "the endpoint answered HTTP {} ({}) with a body that reads as JSON-RPC \
                     messages",
                    status.as_u16(),
                    if is_json {
                        "JSON"
                    } else {
                        "not declared as JSON"
                    }
                ))
            } else {
                None
            };
            if let Some(detail) = refusal {
                self.upstream_refused(&UpstreamProblem::UpstreamProtocol, &detail);
                return error_response(
                    StatusCode::BAD_GATEWAY,
                    id.as_ref(),
                    UpstreamProblem::UpstreamProtocol.as_str(),
                    &format!("mcp-verify proxy: {detail}"),
                );
            }
            let body = if status.is_success() || reads == BodyReads::Unreadable {
                // Nothing a client reads (the answer to a notification or a response); or an
                // error whose body only a lenient parser reads, passed without it so that its
                // status and headers (a 401's challenge) still reach the client.
                if reads == BodyReads::Unreadable && !status.is_success() {
                    self.upstream_refused(
                        &UpstreamProblem::UpstreamProtocol,
                        &format!(
                            "the body of an HTTP {} answer was dropped: it starts as JSON does \
                             but is not strict JSON (or is JSON in UTF-16 or UTF-32)",
                            status.as_u16()
                        ),
                    );
                }
                out_headers.remove(header::CONTENT_TYPE);
                Vec::new()
            } else {
                body
            };
            let mut r = Response::new(full(body));
            *r.status_mut() = status;
            *r.headers_mut() = out_headers;
            return r;
        }
        let mut lines = Vec::new();
        for m in messages {
            match self.through_guard(&session, m, Some(&mut owed)) {
                Ok(mut l) => lines.append(&mut l),
                Err(()) => {
                    return error_response(
                        StatusCode::BAD_GATEWAY,
                        id.as_ref(),
                        UpstreamProblem::UpstreamProtocol.as_str(),
                        "mcp-verify proxy: the endpoint broke the protocol; the session is cut off",
                    );
                }
            }
        }
        if id.is_some() && (lines.is_empty() || !owed.answered) {
            // The body was no answer to the request: a response to another one (dropped), or
            // a notification or request of the endpoint's (a JSON answer carries one message, so
            // the client would wait for the response for ever).
            let detail = "the endpoint's answer to a request held no answer to it";
            self.upstream_refused(&UpstreamProblem::UpstreamProtocol, detail);
            return error_response(
                StatusCode::BAD_GATEWAY,
                id.as_ref(),
                UpstreamProblem::UpstreamProtocol.as_str(),
                &format!("mcp-verify proxy: {detail}"),
            );
        }
        // One answer: the response (a JSON body carries exactly one message).
        let body = lines.into_iter().next().unwrap_or_default();
        out_headers.remove(header::CONTENT_LENGTH);
        let mut r = Response::new(full(body));
        *r.status_mut() = status;
        *r.headers_mut() = out_headers;
        r
    }

    /// One message from the endpoint through the guard: the lines to pass on. `Err` when the
    /// endpoint broke the protocol (the session's guard is closed).
    /// On the answer to a client's request (`owed`), a response to another request is dropped,
    /// and the request's own answer settles what is owed.
    fn through_guard(
        self: &Arc<Self>,
        session: &Arc<Session>,
        message: Vec<u8>,
        owed: Option<&mut Owed>,
    ) -> Result<Vec<Vec<u8>>, ()> {
        let answering = owed.as_ref().and_then(|o| o.answering.as_ref());
        let out = lock(&session.core).server_answer_line(&message, answering, Instant::now());
        match out {
            Ok((mut out, answered)) => {
                if answered && let Some(owed) = owed {
                    owed.answered = true;
                }
                let mut lines = Vec::new();
                if out.forward {
                    lines.push(message);
                }
                let to_client = std::mem::take(&mut out.to_client);
                let mut extra = Vec::new();
                let out = Outcome { to_client, ..out };
                self.dispatch(session, out, Some(&mut extra));
                lines.extend(extra.into_iter().map(without_newline));
                Ok(lines)
            }
            Err(problem) => {
                self.cut_off(session, problem);
                Err(())
            }
        }
    }

    /// The endpoint broke the protocol: the session's guard is closed, as the stdio guard
    /// stops the server. Held calls are refused at once, and so is every request after this
    /// one (`server-gone`) until the client starts a new session.
    fn cut_off(self: &Arc<Self>, session: &Arc<Session>, problem: CutOffProblem) {
        self.emit(&[GuardEvent::ServerCutOff { problem }]);
        let gone = lock(&session.core).server_gone();
        self.dispatch(session, gone, None);
    }

    /// An event stream that broke off or was framed wrongly: said so (the client's stream ends
    /// there, and a request it answers is answered around the guard).
    fn stream_cut(&self, e: &BodyError) {
        self.upstream_refused(
            &UpstreamProblem::UpstreamProtocol,
            &format!("an event stream was cut: {e}"),
        );
    }

    /// Passes the rest of an event stream through the guard, event by event.
    async fn pump_stream(
        self: Arc<Self>,
        session: Arc<Session>,
        mut resp: Answer,
        mut pump: Pump,
        tx: mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>,
    ) {
        loop {
            // A client that went away is noticed while the endpoint's stream is read, not only
            // when there is something to send it: a stream of comments or other events sends
            // nothing, and would otherwise hold the endpoint's connection, this task and the
            // request (in flight, its id taken) for as long as the endpoint keeps it up.
            let step = tokio::select! {
                biased;
                () = tx.closed() => return,
                step = self.pump_step(&session, &mut resp, &mut pump) => step,
            };
            let Some((out, ended)) = step else {
                return;
            };
            if !out.is_empty() && tx.send(Ok(Frame::data(Bytes::from(out)))).await.is_err() {
                return;
            }
            if ended {
                return;
            }
        }
    }

    /// The next chunk of an event stream through the guard: every event of the chunk in one
    /// frame (one write to the client, not one per event; it may be empty), and whether the
    /// stream ended with it. `None` when the stream ended or was cut.
    async fn pump_step(
        self: &Arc<Self>,
        session: &Arc<Session>,
        resp: &mut Answer,
        pump: &mut Pump,
    ) -> Option<(Vec<u8>, bool)> {
        let max = self.limits.guard.max_message_bytes;
        let chunk = match pump.ready.take() {
            Some(c) => c,
            None => match tokio::time::timeout(self.limits.idle_timeout, resp.chunk()).await {
                Err(_) => {
                    self.upstream_refused(
                        &UpstreamProblem::UpstreamTimeout,
                        "an event stream went silent",
                    );
                    return None;
                }
                Ok(Err(e)) => {
                    self.stream_cut(&e);
                    return None;
                }
                Ok(Ok(None)) => return None,
                Ok(Ok(Some(c))) => c,
            },
        };
        let events = match pump.sse.push(&chunk) {
            Ok(e) => e,
            Err(_) => {
                self.upstream_refused(
                    &UpstreamProblem::UpstreamTooLarge,
                    &format!("an event over {max} bytes; the stream was cut"),
                );
                return None;
            }
        };
        let mut out = Vec::new();
        for ev in events {
            if let Some(event) = &ev.id {
                // The stream can be resumed after this event, on a GET that then answers the
                // same request: it stays in flight when this stream ends without its answer.
                if let Some(request) = &pump.owed.forget {
                    pump.owed.resumable = true;
                    let mut events = lock(&session.events);
                    if events.len() == MAX_EVENT_IDS {
                        events.pop_front();
                    }
                    events.push_back((event.clone(), request.0.clone()));
                }
                if ev.data.is_empty() {
                    // An event that only sets the id to resume from (a priming event).
                    out.extend_from_slice(b"id: ");
                    out.extend_from_slice(event.as_bytes());
                    out.extend_from_slice(b"\n\n");
                    continue;
                }
            }
            let lines = if ev.data.is_empty() {
                Vec::new()
            } else {
                self.through_guard(session, ev.data, Some(&mut pump.owed))
                    .ok()?
            };
            for (i, line) in lines.into_iter().enumerate() {
                if i == 0
                    && let Some(id) = &ev.id
                {
                    out.extend_from_slice(b"id: ");
                    out.extend_from_slice(id.as_bytes());
                    out.push(b'\n');
                }
                out.extend_from_slice(b"event: message\n");
                // A message's line breaks (JSON whitespace) as `data` lines: CR as well as LF,
                // so that none reaches the client inside a line.
                let mut rest = &line[..];
                loop {
                    let end = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
                    out.extend_from_slice(b"data: ");
                    push_escaping_other_line_ends(&mut out, &rest[..end]);
                    out.push(b'\n');
                    if end == rest.len() {
                        break;
                    }
                    rest = &rest[end + 1..];
                }
                out.push(b'\n');
            }
        }
        // If the stream has already ended, the last events and the end go out together.
        let ended = match chunk_if_ready(resp).await {
            Some(Ok(Some(next))) => {
                pump.ready = Some(next);
                false
            }
            Some(Ok(None)) => true,
            Some(Err(e)) => {
                self.stream_cut(&e);
                true
            }
            None => false,
        };
        Some((out, ended))
    }

    async fn get(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let session = self.session_for(Self::session_header(req.headers()).as_deref(), false);
        // A stream resumed after its event (SEP-1699): the request whose stream it was.
        let resumes = req.headers().get("last-event-id").map(|v| {
            let v = v.as_bytes();
            lock(&session.events)
                .iter()
                .find(|(event, _)| event.as_bytes() == v)
                .map(|(_, request)| request.clone())
        });
        let owed = Owed::get(&session, resumes);
        let headers = forwardable(req.into_parts().0.headers);
        self.forward(Method::GET, headers, None, None, false, owed)
            .await
    }

    async fn delete(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let sid = Self::session_header(req.headers());
        let headers = forwardable(req.into_parts().0.headers);
        let session = self.session_for(sid.as_deref(), false);
        let owed = Owed::post(&session, None);
        let r = self
            .clone()
            .forward(Method::DELETE, headers, None, None, false, owed)
            .await;
        if let Some(sid) = sid {
            let mut s = lock(&self.sessions);
            s.by_id.remove(&sid);
            s.order.retain(|o| o != &sid);
        }
        r
    }
}

/// What a body passed on as it is could be to a client.
#[derive(Debug, PartialEq, Eq)]
enum BodyReads {
    /// Nothing a client reads as JSON-RPC: empty, text, strict JSON without a message.
    Plain,
    /// Strict JSON holding a result, request or notification.
    Messages,
    /// Starts as JSON does (after a byte order mark and whitespace) but does not parse
    /// strictly: lenient parsers may read messages in it (`NaN`, a trailing comma); or is
    /// UTF-16 or UTF-32 (a byte order mark, NUL bytes), which some parsers read as JSON.
    Unreadable,
}

fn body_reads(body: &[u8]) -> BodyReads {
    // JSON in UTF-16 or UTF-32, which Python's `json.loads` reads from bytes (it tells them by
    // a byte order mark or by NUL bytes): never strict JSON here, and no text a client needs.
    if body.starts_with(b"\xFF\xFE") || body.starts_with(b"\xFE\xFF") || body.contains(&0) {
        return BodyReads::Unreadable;
    }
    let text = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if !matches!(
        text.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    ) {
        return BodyReads::Plain;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return BodyReads::Unreadable;
    };
    let one = |m: &serde_json::Value| {
        m.get("result").is_some() || m.get("method").is_some() || m.get("params").is_some()
    };
    let carries = match &v {
        serde_json::Value::Array(items) => items.iter().any(one),
        other => one(other),
    };
    if carries {
        BodyReads::Messages
    } else {
        BodyReads::Plain
    }
}

/// The `Content-Type` an answer declared, as it is (for messages).
fn declared_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .map_or("none", |v| v.to_str().unwrap_or("not text"))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    r
}

pub(super) fn content_type(headers: &HeaderMap) -> Option<&'static str> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = v.split(';').next()?.trim();
    if essence.eq_ignore_ascii_case(JSON) {
        Some(JSON)
    } else if essence.eq_ignore_ascii_case(EVENT_STREAM) {
        Some(EVENT_STREAM)
    } else {
        None
    }
}

enum Limited {
    TooLarge,
    Failed,
}

async fn read_limited(mut body: Incoming, max: usize) -> Result<Bytes, Limited> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Limited::Failed)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(Limited::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}

/// How far an answer has been read: a JSON body so far, or an event stream's parser and size.
struct Reading {
    stream: bool,
    sse: SseParser,
    body: Vec<u8>,
    total: usize,
    ended: bool,
    /// Messages read after the one `read_messages` stopped at (the same chunk held them).
    rest: VecDeque<Vec<u8>>,
}

impl Reading {
    fn new(stream: bool, max: usize) -> Reading {
        Reading {
            stream,
            sse: SseParser::new(max),
            body: Vec::new(),
            total: 0,
            ended: false,
            rest: VecDeque::new(),
        }
    }
}

/// Where an event stream is: its parser, and the next chunk when one was already read to see
/// whether the stream ended.
struct Pump {
    sse: SseParser,
    ready: Option<Bytes>,
    owed: Owed,
}

impl Pump {
    fn new(max: usize, owed: Owed) -> Pump {
        Pump {
            sse: SseParser::new(max),
            ready: None,
            owed,
        }
    }
}

/// What one exchange with the endpoint may answer, and the client's request it owes an answer
/// to until that answer has passed the guard. When the exchange ends without it (an HTTP error
/// or a body passed on as it is, a failure, a stream that ended first, a client that went away),
/// the guard stops waiting for it: its id is free again and it no longer counts against the
/// bound of requests in flight. Unless the stream gave event ids: a client may then resume it
/// (a GET with `Last-Event-ID`) and get the answer there.
struct Owed {
    session: Arc<Session>,
    /// The request whose answer the exchange may carry: a response to any other is dropped
    /// (clients take any response on a request's answer, or on a stream resuming it, for that
    /// request's own). `None` on a plain GET stream, where responses pass under their own ids.
    answering: Option<Id>,
    /// The client's request to forget if the exchange ends without its answer, with its serial
    /// in the guard (the id may be another request's by then).
    forget: Option<(Id, u64)>,
    answered: bool,
    resumable: bool,
}

impl Owed {
    /// The exchange of a POST: the answer to its request, or to nothing (a notification or a
    /// response, whose answer carries no response a client may take).
    fn post(session: &Arc<Session>, id: Option<Id>) -> Owed {
        Owed {
            session: Arc::clone(session),
            answering: Some(id.clone().unwrap_or_else(no_request)),
            forget: Self::serial_of(session, id),
            answered: false,
            resumable: false,
        }
    }

    /// `id` with the serial of the request the guard waits for under it (none: nothing to
    /// forget).
    fn serial_of(session: &Session, id: Option<Id>) -> Option<(Id, u64)> {
        let id = id?;
        let serial = lock(&session.core).pending_serial(&id)?;
        Some((id, serial))
    }

    /// The exchange of a GET: a plain stream (`None`), or one resuming the stream of a request
    /// (`Some(None)`: of one the proxy does not know, so that no response may pass on it).
    fn get(session: &Arc<Session>, resumes: Option<Option<Id>>) -> Owed {
        Owed {
            session: Arc::clone(session),
            answering: resumes.clone().map(|r| r.unwrap_or_else(no_request)),
            forget: Self::serial_of(session, resumes.flatten()),
            answered: false,
            resumable: false,
        }
    }
}

/// An id no client request can have (the guard's own prefix): the exchange answers nothing.
fn no_request() -> Id {
    Id::Str(format!("{}no-request", crate::guard::wire::OWN_ID_PREFIX))
}

impl Drop for Owed {
    fn drop(&mut self) {
        if !self.answered
            && !self.resumable
            && let Some((id, serial)) = &self.forget
        {
            lock(&self.session.core).forget_request_from(id, *serial);
        }
    }
}

/// A response body fed by a channel: the events of a stream, as the guard passes them.
struct ChannelBody {
    first: Option<Result<Frame<Bytes>, std::io::Error>>,
    rx: mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(first) = self.first.take() {
            return std::task::Poll::Ready(Some(first));
        }
        self.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_statuses_may_carry_errors_only() {
        use BodyReads::{Messages, Plain, Unreadable};
        for (body, reads) in [
            (&br#"{"error": "unknown session"}"#[..], Plain),
            (
                br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"x"}}"#,
                Plain,
            ),
            (b"not json", Plain),
            (b"<html>Bad Gateway {}</html>", Plain),
            (b"", Plain),
            (
                br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#,
                Messages,
            ),
            (
                br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
                Messages,
            ),
            (
                br#"[{"jsonrpc":"2.0","id":1,"error":{}},{"jsonrpc":"2.0","id":2,"result":{}}]"#,
                Messages,
            ),
            // What only lenient parsers read: NaN, a byte order mark, a trailing comma.
            (
                br#"{"jsonrpc":"2.0","id":1,"result":{"x":NaN}}"#,
                Unreadable,
            ),
            (
                b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{}}",
                Unreadable,
            ),
            (b" \r\n\t[1,]", Unreadable),
            (b"[error] unauthorized", Unreadable),
        ] {
            assert_eq!(body_reads(body), reads, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn line_ends_python_clients_see_are_escaped_in_passed_messages() {
        let mut out = Vec::new();
        let message = "{\"a\":\"x\u{2028}\u{2029}\u{85}\u{a9}\u{2027}é\u{2028}\"}";
        push_escaping_other_line_ends(&mut out, message.as_bytes());
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"{"a":"x\u2028\u2029\u0085\u{a9}\u{2027}é\u2028"}"#
                .replace("\\u{a9}", "\u{a9}")
                .replace("\\u{2027}", "\u{2027}")
        );
        let a: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let b: serde_json::Value = serde_json::from_str(message).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn ipv4_loopback_on_a_dual_stack_socket_is_loopback() {
        for local in [
            "127.0.0.1:1",
            "[::1]:1",
            "[::ffff:127.0.0.1]:1",
            "[::ffff:127.9.9.9]:1",
        ] {
            assert!(reached_over_loopback(local.parse().unwrap()), "{local}");
        }
        for local in ["10.0.0.1:1", "[::ffff:10.0.0.1]:1", "[::]:1", "0.0.0.0:1"] {
            assert!(!reached_over_loopback(local.parse().unwrap()), "{local}");
        }
    }

    #[test]
    fn only_loopback_origins_pass() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ORIGIN, HeaderValue::from_str(v).unwrap());
            m
        };
        let foreign = |m: &HeaderMap| foreign_origin(m, true).is_some();
        assert!(!foreign(&HeaderMap::new()));
        assert!(!foreign(&h("http://localhost:6274")));
        assert!(!foreign(&h("http://127.0.0.1:3000")));
        assert!(!foreign(&h("http://[::1]:3000")));
        assert!(foreign(&h("null")));
        assert!(foreign(&h("https://evil.example")));
        assert!(foreign(&h("http://127.0.0.1.evil.example")));
        assert!(foreign(&h("http://[::1].evil.example")));
        assert!(foreign(&h("http://127.0.0.1:1@evil.example")));
        let host = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, HeaderValue::from_str(v).unwrap());
            m
        };
        let fetch = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert("sec-fetch-site", HeaderValue::from_str(v).unwrap());
            m
        };
        for site in ["cross-site", "same-site", "other"] {
            assert!(foreign(&fetch(site)), "{site}");
        }
        assert!(!foreign(&fetch("none")));
        assert!(!foreign(&fetch("same-origin")));
        for ok in [
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1:1",
            "127.5.6.7",
            "[::1]:9",
            // IPv4 loopback written as an IPv4-mapped IPv6 address.
            "[::ffff:127.0.0.1]:9",
        ] {
            assert!(!foreign(&host(ok)), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1.nip.io",
            "null",
            "",
            "[::1]x",
            "10.0.0.1",
            "[::ffff:10.0.0.1]",
            // A port that is not digits: not an authority of the loopback host.
            "127.0.0.1:1@evil.example",
            "localhost:evil",
            "[::1]:x",
        ] {
            assert!(foreign(&host(bad)), "{bad}");
            // Listening beyond loopback (`--allow-remote-clients`), any `Host` is the client's.
            assert!(foreign_origin(&host(bad), false).is_none(), "{bad}");
        }
    }
}
