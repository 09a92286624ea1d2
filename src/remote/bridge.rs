//! The guard proxy for a client that can only start stdio servers: `mcp-verify proxy --stdio`
//! reads the client's JSON-RPC messages one per line, hands each to the same guard proxy as the
//! HTTP endpoint does (through an in-memory pipe: nothing listens on any socket), and writes
//! what comes back (JSON or event-stream answers, and the server's own messages from the
//! session's GET stream) one message per line.
//!
//! Headers the remote server needs (a bearer token) are given by the caller and sent with every
//! request; they are never logged. The client's requests run concurrently (a long call does not
//! hold up a ping), a bounded number at once, the rest waiting while the input is still read
//! (the client's answer to an elicitation must not queue behind them); `initialize` is answered
//! before anything else is read, and notifications and responses are sent in order. A session
//! the endpoint no longer knows (404) is started anew with the client's own `initialize`.

use std::io::{BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::proxy::{
    EVENT_STREAM, JSON, SESSION_HEADER, SseParser, State, content_type, hop_by_hop, lock,
    serve_connection,
};
use super::{ProxyConfig, ProxyError};
use crate::guard::wire::{self, Id, Shape};
use crate::guard::{GuardEvent, LineProblem};
use crate::mcp::stdio::LineRead;

/// How long in-flight requests may still finish once the client's input has ended.
const DRAIN: Duration = Duration::from_secs(10);
/// At most this many bytes of waiting messages are joined into one write to the client.
const MAX_BATCH: usize = 1 << 20;
/// Requests of the client under way at once.
const MAX_IN_FLIGHT: usize = 64;
/// Requests waiting for one of those places, in count and in bytes. The client's input is read
/// on while they wait (an answer to the server's own request must not queue behind them); past
/// either bound a request is answered at once with an error (`too-many-pending`).
const MAX_WAITING: usize = 1024;
const MAX_WAITING_BYTES: usize = 32 << 20;
/// The id of the bridge's own `initialize` when it starts a new session (not one the guard
/// reserves for itself).
const RESTART_ID: &str = "mcpsig-bridge/restart";
/// Bytes of answers waiting for the client at once. Past it the next answer waits, and with it
/// the reading of the endpoint: a client that stops reading holds the server back, not memory
/// (without it, 256 queued answers of up to 16 MiB each could be held).
const MAX_PENDING_OUT: usize = 32 << 20;
/// Consecutive failed attempts at the session's GET stream before the bridge stops trying.
const GET_ATTEMPTS: u32 = 3;
const PROTOCOL_HEADER: &str = "mcp-protocol-version";
const METHOD_HEADER: &str = "mcp-method";

/// A guard proxy for one stdio client.
pub struct StdioBridge {
    state: Arc<State>,
    headers: HeaderMap,
}

enum Input {
    Line(Vec<u8>),
    TooLarge,
}

struct Ctx {
    state: Arc<State>,
    headers: HeaderMap,
    session: Mutex<Option<HeaderValue>>,
    protocol: Mutex<Option<HeaderValue>>,
    out: OutQueue,
    /// The client's `initialize`, once the endpoint accepted it with a session: sent again when
    /// the endpoint no longer knows the session.
    init_line: Mutex<Option<Bytes>>,
    /// One restart at a time.
    restarting: tokio::sync::Mutex<()>,
    /// The session's GET stream, once opened.
    listening: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Client requests waiting for a place among those under way.
#[derive(Default)]
struct Waiting {
    lines: std::collections::VecDeque<(Vec<u8>, Kind)>,
    bytes: usize,
}

impl Waiting {
    fn push(&mut self, line: Vec<u8>, kind: Kind) -> Result<(), (Vec<u8>, Kind)> {
        if self.lines.len() >= MAX_WAITING
            || self.bytes.saturating_add(line.len()) > MAX_WAITING_BYTES
        {
            return Err((line, kind));
        }
        self.bytes += line.len();
        self.lines.push_back((line, kind));
        Ok(())
    }

    fn pop(&mut self) -> Option<(Vec<u8>, Kind)> {
        let (line, kind) = self.lines.pop_front()?;
        self.bytes -= line.len();
        Some((line, kind))
    }

    /// Drops the waiting request `id` (the client cancelled it before it was sent); whether
    /// there was one.
    fn cancel(&mut self, id: &Id) -> bool {
        let Some(i) = self
            .lines
            .iter()
            .position(|(_, k)| k.id.as_ref() == Some(id))
        else {
            return false;
        };
        if let Some((line, _)) = self.lines.remove(i) {
            self.bytes -= line.len();
        }
        true
    }
}

impl StdioBridge {
    /// Checks the endpoint and builds its client, as [`super::Proxy::bind`] does, without
    /// listening anywhere. `headers` (name, value) go with every request to the endpoint.
    pub fn new(
        config: ProxyConfig,
        headers: &[(String, String)],
    ) -> Result<StdioBridge, ProxyError> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let (name, value) =
                header(name, value).ok_or_else(|| ProxyError::Header { name: name.clone() })?;
            map.append(name, value);
        }
        let headers = map;
        Ok(StdioBridge {
            state: State::new(config)?,
            headers,
        })
    }

    /// Serves the client on `input` / `output` until its input ends (then returns); `on_event`
    /// sees what the guard hid or refused.
    pub fn serve(
        self,
        input: impl Read + Send + 'static,
        output: impl Write + Send + 'static,
        on_event: impl Fn(&GuardEvent) + Send + Sync + 'static,
    ) -> Result<(), ProxyError> {
        self.state.set_events(Box::new(on_event));
        let max = self.state.max_message_bytes();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ProxyError::Runtime)?;
        let (in_tx, mut in_rx) = mpsc::channel::<Input>(64);
        let (out_tx, out_rx) = OutQueue::new(256, MAX_PENDING_OUT);
        std::thread::Builder::new()
            .name("mcpsig-bridge-in".into())
            .spawn(move || read_input(input, max, &in_tx))
            .map_err(ProxyError::Runtime)?;
        let writer = std::thread::Builder::new()
            .name("mcpsig-bridge-out".into())
            .spawn(move || write_output(output, out_rx))
            .map_err(ProxyError::Runtime)?;
        let ctx = Arc::new(Ctx {
            state: self.state,
            headers: self.headers,
            session: Mutex::new(None),
            protocol: Mutex::new(None),
            out: out_tx,
            init_line: Mutex::new(None),
            restarting: tokio::sync::Mutex::new(()),
            listening: Mutex::new(None),
        });
        runtime.block_on(async {
            super::proxy::keep_a_timer_armed();
            let mut inflight = JoinSet::new();
            let mut waiting = Waiting::default();
            loop {
                let input = tokio::select! {
                    // A request ended: the longest-waiting one takes its place.
                    Some(_) = inflight.join_next(), if !inflight.is_empty() => {
                        while inflight.len() < MAX_IN_FLIGHT
                            && let Some((line, kind)) = waiting.pop()
                        {
                            inflight.spawn(Arc::clone(&ctx).exchange(line, kind, false));
                        }
                        continue;
                    }
                    input = in_rx.recv() => match input {
                        Some(i) => i,
                        None => break,
                    },
                };
                let line = match input {
                    Input::Line(l) => l,
                    // The guard's own refusal, as on stdio.
                    Input::TooLarge => {
                        ctx.refuse(crate::guard::core::Core::too_large_refusal())
                            .await;
                        continue;
                    }
                };
                match classify(&line) {
                    Ok(kind)
                        if kind.id.is_some() && kind.method.as_deref() == Some("initialize") =>
                    {
                        Arc::clone(&ctx).exchange(line, kind, true).await;
                    }
                    Ok(kind) if kind.id.is_some() => {
                        if inflight.len() < MAX_IN_FLIGHT && waiting.lines.is_empty() {
                            inflight.spawn(Arc::clone(&ctx).exchange(line, kind, false));
                        } else if let Err((_, kind)) = waiting.push(line, kind)
                            && let Some(id) = &kind.id
                        {
                            ctx.refuse(crate::guard::core::Core::busy_refusal(id)).await;
                        }
                    }
                    Ok(kind) => {
                        // A cancellation of a request still waiting: it is never sent.
                        if kind.method.as_deref() == Some("notifications/cancelled")
                            && let Some(id) = cancelled_id(&line)
                            && waiting.cancel(&id)
                        {
                            continue;
                        }
                        let initialized =
                            kind.method.as_deref() == Some("notifications/initialized");
                        Arc::clone(&ctx).exchange(line, kind, false).await;
                        if initialized {
                            ctx.start_listening(false);
                        }
                    }
                    // Not a message the guard can read: the guard answers it, as on stdio.
                    Err(_) => {
                        let kind = Kind {
                            id: None,
                            method: None,
                        };
                        Arc::clone(&ctx).exchange(line, kind, false).await;
                    }
                }
            }
            // The client's input ended: what waits is still sent, within the same grace.
            let _ = tokio::time::timeout(DRAIN, async {
                loop {
                    while inflight.len() < MAX_IN_FLIGHT
                        && let Some((line, kind)) = waiting.pop()
                    {
                        inflight.spawn(Arc::clone(&ctx).exchange(line, kind, false));
                    }
                    if inflight.join_next().await.is_none() {
                        break;
                    }
                }
            })
            .await;
            inflight.abort_all();
            if let Some(l) = lock(&ctx.listening).take() {
                l.abort();
            }
            ctx.end_session().await;
        });
        drop(runtime);
        drop(ctx);
        let _ = writer.join();
        Ok(())
    }
}

/// A header the bridge may send with every request: a valid name and value, not one the bridge
/// or a hop sets itself. The value is marked sensitive (never shown in debug output).
pub fn header(name: &str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
    if hop_by_hop(&name)
        || [SESSION_HEADER, PROTOCOL_HEADER, METHOD_HEADER].contains(&name.as_str())
        || name == header::CONTENT_TYPE
        || name == header::ACCEPT
    {
        return None;
    }
    let mut value = HeaderValue::from_str(value).ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

/// What the bridge needs of a client message: its id when it is a request, its method when it
/// has one.
struct Kind {
    id: Option<Id>,
    method: Option<String>,
}

fn classify(line: &[u8]) -> Result<Kind, LineProblem> {
    Ok(match wire::envelope(line)?.shape() {
        Shape::Request(id, m) => Kind {
            id: Some(id.clone()),
            method: Some(m.to_owned()),
        },
        Shape::Notification(m) => Kind {
            id: None,
            method: Some(m.to_owned()),
        },
        _ => Kind {
            id: None,
            method: None,
        },
    })
}

/// The `requestId` of a `notifications/cancelled`.
fn cancelled_id(line: &[u8]) -> Option<Id> {
    #[derive(serde::Deserialize)]
    struct Params {
        #[serde(rename = "requestId")]
        request_id: Id,
    }
    #[derive(serde::Deserialize)]
    struct Message {
        params: Params,
    }
    serde_json::from_slice::<Message>(line)
        .ok()
        .map(|m| m.params.request_id)
}

fn read_input(input: impl Read, max: usize, tx: &mpsc::Sender<Input>) {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut line = Vec::new();
    loop {
        let item = match wire::read_line(&mut reader, &mut line, max) {
            Ok(LineRead::Line) => {
                let text = line.trim_ascii();
                if text.is_empty() {
                    continue;
                }
                Input::Line(text.to_vec())
            }
            Ok(LineRead::TooLarge) => {
                if !matches!(wire::skip_line(&mut reader), Ok(true)) {
                    let _ = tx.blocking_send(Input::TooLarge);
                    return;
                }
                Input::TooLarge
            }
            Ok(LineRead::Eof) | Err(_) => return,
        };
        if tx.blocking_send(item).is_err() {
            return;
        }
    }
}

/// The answers' way to the writer thread, bounded in count and in bytes: each line holds its
/// share of the byte budget until it has been written.
struct OutQueue {
    tx: mpsc::Sender<Queued>,
    budget: Arc<Semaphore>,
    bytes: usize,
}

struct Queued {
    line: Vec<u8>,
    /// Its share of the budget, given back once the line is written.
    held: OwnedSemaphorePermit,
}

impl OutQueue {
    fn new(count: usize, bytes: usize) -> (OutQueue, mpsc::Receiver<Queued>) {
        let (tx, rx) = mpsc::channel(count);
        let bytes = bytes.clamp(1, u32::MAX as usize);
        let budget = Arc::new(Semaphore::new(bytes));
        (OutQueue { tx, budget, bytes }, rx)
    }

    /// Queues `line`, waiting while the budget is spent (a line larger than the whole budget
    /// waits for all of it). False when the writer is gone.
    async fn send(&self, line: Vec<u8>) -> bool {
        let share = u32::try_from(line.len().min(self.bytes)).unwrap_or(u32::MAX);
        let Ok(held) = Arc::clone(&self.budget).acquire_many_owned(share).await else {
            return false;
        };
        self.tx.send(Queued { line, held }).await.is_ok()
    }
}

fn write_output(output: impl Write, mut rx: mpsc::Receiver<Queued>) {
    let mut output = output;
    while let Some(first) = rx.blocking_recv() {
        let mut batch = first.line;
        let mut held = vec![first.held];
        // What else is already waiting goes out in the same write, up to a bound.
        while batch.len() < MAX_BATCH
            && let Ok(more) = rx.try_recv()
        {
            batch.extend_from_slice(&more.line);
            held.push(more.held);
        }
        if output
            .write_all(&batch)
            .and_then(|()| output.flush())
            .is_err()
        {
            return;
        }
        // Written: their bytes no longer count against the budget.
        drop(held);
    }
}

/// A body, up to twice `max` bytes (what is over is the guard proxy's to refuse; `0` reads
/// and drops it all).
async fn read_body(body: &mut hyper::body::Incoming, max: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data()
            && max > 0
        {
            bytes.extend_from_slice(&data);
            if bytes.len() > max.saturating_mul(2) {
                break;
            }
        }
    }
    bytes
}

/// Whether `message` is the response to `id`.
fn response_to(message: &[u8], id: &Id) -> bool {
    matches!(
        wire::envelope(message).as_ref().map(wire::Envelope::shape),
        Ok(Shape::Response(r)) if r == id
    )
}

/// `message` (a JSON object) with its `id` replaced.
fn with_id(message: &[u8], id: &str) -> Option<Bytes> {
    let mut m: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(message).ok()?;
    m.insert("id".to_owned(), json!(id));
    serde_json::to_vec(&m).ok().map(Bytes::from)
}

/// One JSON-RPC message per line: a JSON text holds line breaks only as white space (inside a
/// string they are escaped), so they become spaces.
fn one_line(mut message: Vec<u8>) -> Vec<u8> {
    for b in &mut message {
        if *b == b'\n' || *b == b'\r' {
            *b = b' ';
        }
    }
    let len = message.trim_ascii_end().len();
    message.truncate(len);
    message.push(b'\n');
    message
}

impl Ctx {
    async fn emit(&self, line: Vec<u8>) {
        let _ = self.out.send(line).await;
    }

    /// Writes one message of an answer when it is a JSON-RPC message (anything else, such as
    /// the JSON body of an HTTP error, is not the client's to read); whether it answers `id`.
    async fn emit_message(&self, body: &[u8], id: Option<&Id>, initialize: bool) -> bool {
        let answers = match wire::envelope(body).as_ref().map(wire::Envelope::shape) {
            Ok(Shape::Neither) | Err(_) => return false,
            Ok(Shape::Response(r)) => id == Some(r),
            Ok(_) => false,
        };
        if initialize
            && answers
            && let Ok(m) = serde_json::from_slice::<serde_json::Value>(body)
        {
            self.note_protocol(&m);
        }
        self.emit(one_line(body.to_vec())).await;
        answers
    }

    fn note_protocol(&self, message: &serde_json::Value) {
        if let Some(v) = message["result"]["protocolVersion"].as_str()
            && let Ok(h) = HeaderValue::from_str(v)
        {
            *lock(&self.protocol) = Some(h);
        }
    }

    fn request(&self, method: Method, body: Bytes) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = hyper::Uri::from_static("/mcp");
        let h = req.headers_mut();
        for (name, value) in &self.headers {
            h.append(name.clone(), value.clone());
        }
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        if let Some(s) = lock(&self.session).clone() {
            h.insert(SESSION_HEADER, s);
        }
        if let Some(p) = lock(&self.protocol).clone() {
            h.insert(PROTOCOL_HEADER, p);
        }
        req
    }

    /// Sends one request to the guard proxy through an in-memory pipe.
    async fn send(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        let (ours, theirs) = tokio::io::duplex(256 * 1024);
        tokio::spawn(serve_connection(Arc::clone(&self.state), theirs, false));
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(ours))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender.send_request(req).await.map_err(|e| e.to_string())
    }

    /// Writes the guard's own refusal.
    async fn refuse(&self, out: crate::guard::core::Outcome) {
        self.state.emit(&out.events);
        for line in out.to_client {
            self.emit(line).await;
        }
    }

    /// A POST of one client message, with the method in a header as well (the 2026 revision
    /// routes on it).
    fn post(&self, body: Bytes, method: Option<&str>) -> Request<Full<Bytes>> {
        let mut req = self.request(Method::POST, body);
        if let Some(m) = method.and_then(|m| HeaderValue::from_str(m).ok()) {
            req.headers_mut().insert(METHOD_HEADER, m);
        }
        req
    }

    /// Sends one client message and writes every message of the answer. A request or
    /// notification the endpoint answers 404 for its session (expired, or the server restarted)
    /// is sent once more in a new session.
    async fn exchange(self: Arc<Self>, line: Vec<u8>, kind: Kind, initialize: bool) {
        let body = Bytes::from(line);
        let mut again = !initialize && kind.method.is_some();
        loop {
            let sent = lock(&self.session).clone();
            let req = self.post(body.clone(), kind.method.as_deref());
            let resp = match self.send(req).await {
                Ok(r) => r,
                Err(e) => {
                    if let Some(id) = &kind.id {
                        self.fail(id, &format!("the guard proxy failed: {e}")).await;
                    }
                    return;
                }
            };
            if resp.status() == StatusCode::NOT_FOUND
                && again
                && let Some(stale) = sent
            {
                drop(resp);
                again = false;
                if self.restart(&stale).await {
                    continue;
                }
                if let Some(id) = &kind.id {
                    let message = "the server no longer knows the session (404), \
                                   and a new one could not be started";
                    self.fail(id, message).await;
                }
                return;
            }
            if initialize
                && resp.status().is_success()
                && let Some(s) = resp.headers().get(SESSION_HEADER)
            {
                *lock(&self.session) = Some(s.clone());
                *lock(&self.init_line) = Some(body.clone());
            }
            return self.answer(resp, kind.id, initialize).await;
        }
    }

    /// Writes every message of one answer; a request left without its response gets an error.
    async fn answer(
        self: Arc<Self>,
        resp: hyper::Response<hyper::body::Incoming>,
        id: Option<Id>,
        initialize: bool,
    ) {
        let status = resp.status();
        let streamed = content_type(resp.headers()) == Some(EVENT_STREAM);
        let max = self.state.max_message_bytes();
        let mut body = resp.into_body();
        if streamed {
            let Some(awaited) = &id else {
                // A stream for a notification or a response (unusual): read in the background,
                // so that the next line is read now.
                tokio::spawn(async move {
                    let mut body = body;
                    self.pump(&mut body, None, false).await;
                });
                return;
            };
            let answered = self.pump(&mut body, Some(awaited), initialize).await;
            if !answered && let Some(id) = &id {
                let message = if status.is_success() {
                    "the server's event stream ended without an answer".to_owned()
                } else {
                    format!("the server answered {status}")
                };
                self.fail(id, &message).await;
            }
            return;
        }
        let bytes = read_body(&mut body, max).await;
        let answered = !bytes.trim_ascii().is_empty()
            && self.emit_message(&bytes, id.as_ref(), initialize).await;
        if !answered && let Some(id) = &id {
            let message = if status.is_success() {
                format!("the server answered {status} without a JSON-RPC answer")
            } else {
                format!("the server answered {status}")
            };
            self.fail(id, &message).await;
        }
    }

    /// Starts a new session after the endpoint answered 404 for `stale`: the client's
    /// `initialize` again (under the bridge's own id; its answer is the bridge's, not the
    /// client's), `notifications/initialized`, and the GET stream again. True when the session
    /// in use is a live one (started here, or by another request meanwhile). On failure the
    /// stale session stays, so the next request tries again.
    async fn restart(self: &Arc<Self>, stale: &HeaderValue) -> bool {
        let _one = self.restarting.lock().await;
        if lock(&self.session).as_ref().is_some_and(|now| now != stale) {
            return true;
        }
        let Some(init) = lock(&self.init_line).clone() else {
            return false;
        };
        let Some(body) = with_id(&init, RESTART_ID) else {
            return false;
        };
        // Requests sent meanwhile still carry the stale session: they meet the same 404 and wait
        // here for the new one.
        let Some(session) = self.initialize(body).await else {
            return false;
        };
        *lock(&self.session) = Some(session);
        let initialized =
            Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        let req = self.post(initialized, Some("notifications/initialized"));
        if let Ok(resp) = self.send(req).await {
            let _ = read_body(&mut resp.into_body(), 0).await;
        }
        self.start_listening(true);
        self.state.emit(&[GuardEvent::SessionRestarted]);
        true
    }

    /// The bridge's own `initialize`: the new session's id when the endpoint accepted it.
    async fn initialize(&self, body: Bytes) -> Option<HeaderValue> {
        let mut req = self.post(body, Some("initialize"));
        // As the first time: no session yet, no protocol version agreed.
        req.headers_mut().remove(SESSION_HEADER);
        req.headers_mut().remove(PROTOCOL_HEADER);
        let resp = self.send(req).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let session = resp.headers().get(SESSION_HEADER).cloned()?;
        let streamed = content_type(resp.headers()) == Some(EVENT_STREAM);
        let max = self.state.max_message_bytes();
        let mut body = resp.into_body();
        let own = Id::Str(RESTART_ID.to_owned());
        let answer = if streamed {
            // Other messages before the answer (the server's log, say) are the client's.
            let mut parser = SseParser::new(max);
            let mut found = None;
            'read: while let Some(Ok(frame)) = body.frame().await {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                for e in parser.push(&data).ok()? {
                    if response_to(&e.data, &own) {
                        found = Some(e.data);
                        break 'read;
                    }
                    if !e.data.trim_ascii().is_empty() {
                        self.emit_message(&e.data, None, false).await;
                    }
                }
            }
            found?
        } else {
            read_body(&mut body, max).await
        };
        let m: serde_json::Value = serde_json::from_slice(&answer).ok()?;
        if m["id"] != RESTART_ID || !m["result"].is_object() {
            return None;
        }
        self.note_protocol(&m);
        Some(session)
    }

    /// Opens the session's GET stream: once, or (`again`) anew when one was opened before.
    fn start_listening(self: &Arc<Self>, again: bool) {
        let mut listening = lock(&self.listening);
        match listening.take() {
            Some(old) if again => old.abort(),
            Some(old) => {
                *listening = Some(old);
                return;
            }
            None if again => return,
            None => {}
        }
        *listening = Some(tokio::spawn(Arc::clone(self).listen()));
    }

    /// Writes every event of a stream; whether one answered `id`.
    async fn pump(
        &self,
        body: &mut hyper::body::Incoming,
        id: Option<&Id>,
        initialize: bool,
    ) -> bool {
        let mut parser = SseParser::new(self.state.max_message_bytes());
        let mut answered = false;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let Ok(events) = parser.push(&data) else {
                break;
            };
            for e in events {
                if e.data.trim_ascii().is_empty() {
                    continue;
                }
                answered |= self.emit_message(&e.data, id, initialize).await;
            }
            // The request's answer is complete: a stream the server keeps open (with
            // keep-alive comments) must not hold up the client.
            if answered {
                return true;
            }
        }
        answered
    }

    async fn fail(&self, id: &Id, message: &str) {
        let line = wire::error_line(
            Some(id),
            wire::INTERNAL_ERROR,
            &format!("{message} (mcpsig guard)"),
            json!({ "guard": "mcpsig", "reason": "upstream-failed" }),
        );
        self.emit(line).await;
    }

    /// The session's GET stream: the server's own requests and notifications (a changed tool
    /// list), through the guard like everything else. A server without one (405) is left be.
    async fn listen(self: Arc<Self>) {
        let mut failures = 0;
        while failures < GET_ATTEMPTS {
            let mut req = self.request(Method::GET, Bytes::new());
            req.headers_mut().remove(header::CONTENT_TYPE);
            req.headers_mut()
                .insert(header::ACCEPT, HeaderValue::from_static(EVENT_STREAM));
            let resp = match self.send(req).await {
                Ok(r) => r,
                Err(_) => {
                    failures += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if resp.status() != StatusCode::OK || content_type(resp.headers()) != Some(EVENT_STREAM)
            {
                return;
            }
            let started = tokio::time::Instant::now();
            let mut body = resp.into_body();
            self.pump(&mut body, None, false).await;
            if started.elapsed() < Duration::from_secs(5) {
                failures += 1;
            } else {
                failures = 0;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Ends the server's session (DELETE), briefly.
    async fn end_session(&self) {
        if lock(&self.session).is_none() {
            return;
        }
        let mut req = self.request(Method::DELETE, Bytes::new());
        req.headers_mut().remove(header::CONTENT_TYPE);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.send(req)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_waiting_for_the_client_are_bounded_in_bytes() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (q, mut rx) = OutQueue::new(16, 10);
            let wait = Duration::from_millis(50);
            assert!(q.send(vec![b'a'; 6]).await);
            // 6 + 6 bytes is over the budget of 10: the second waits, though the count allows it.
            let mut second = std::pin::pin!(q.send(vec![b'b'; 6]));
            assert!(tokio::time::timeout(wait, &mut second).await.is_err());
            // Once the first is written (its share dropped), the second goes.
            let first = rx.recv().await.unwrap();
            assert_eq!(first.line, vec![b'a'; 6]);
            drop(first);
            assert!(tokio::time::timeout(wait, &mut second).await.unwrap());
            // A line over the whole budget waits for all of it, then goes alone.
            let mut big = std::pin::pin!(q.send(vec![b'c'; 25]));
            assert!(tokio::time::timeout(wait, &mut big).await.is_err());
            drop(rx.recv().await.unwrap());
            assert!(tokio::time::timeout(wait, &mut big).await.unwrap());
            assert_eq!(rx.recv().await.unwrap().line.len(), 25);
            // The writer gone: sending fails rather than waits.
            drop(rx);
            assert!(!q.send(b"x".to_vec()).await);
        });
    }

    #[test]
    fn messages_become_single_lines() {
        assert_eq!(
            one_line(b"{\n  \"a\": \"x\\ny\"\r\n}\n\n".to_vec()),
            b"{   \"a\": \"x\\ny\"  }\n"
        );
    }

    #[test]
    fn content_types_are_compared_without_parameters() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Text/Event-Stream; charset=utf-8"),
        );
        assert_eq!(content_type(&h), Some(EVENT_STREAM));
        assert_ne!(content_type(&h), Some(JSON));
    }
}
