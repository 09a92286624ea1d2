//! The proxy's client for the pinned endpoint: HTTP/1.1 connections of its own to the one origin
//! it may talk to (TCP, and TLS held to the pinned identity), kept for the next request once an
//! answer has been read to its end.
//!
//! Why not a general HTTP client: the proxy only ever talks to one origin and never follows a
//! redirect, and a general client parses the URL, runs its redirect and retry layers and
//! formats the URI again for every request; through the proxy that was a third of the
//! instructions a call costs. Why not hyper's connection either: it drives each connection from
//! a task of its own and hands every request and answer across channels to it, which was most
//! of what the proxy added to a call beyond the sockets themselves. Here the request is written
//! and the answer read by the task that forwards it: one write, and reads straight into the
//! connection's buffer. The answer's head is parsed by `httparse` (hyper's own parser) and its
//! body framed as RFC 9112 section 6.3 says, strictly: a chunked body's framing errors, a
//! length given twice differently, a length beside a transfer coding or a coding other than
//! chunked are refused, never guessed around.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf as _, Bytes, BytesMut};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

use super::proxy::lock;

/// Connections kept open between requests, at most.
const MAX_IDLE_CONNECTIONS: usize = 64;
/// An answer's head (status line and headers) is at most this long...
const MAX_HEAD: usize = 64 * 1024;
/// ...with at most this many headers.
const MAX_HEADERS: usize = 128;
/// Interim answers (1xx) skipped before the final one, at most.
const MAX_INTERIM: usize = 8;
/// A chunk's size line, extensions included, is at most this long.
const MAX_CHUNK_LINE: usize = 1024;
/// The trailer section of a chunked body (read and dropped) is at most this long.
const MAX_TRAILERS: usize = 16 * 1024;
/// Room made in the read buffer before each read.
const READ_SIZE: usize = 16 * 1024;

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
    /// The connection broke before the answer's head had come.
    Broken(String),
    /// The answer's head is not HTTP/1.1 as RFC 9112 has it, or frames its body ambiguously.
    Protocol(String),
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
            Failure::Broken(why) => write!(f, "the connection broke before the answer: {why}"),
            Failure::Protocol(why) => write!(f, "the answer is not valid HTTP/1.1: {why}"),
        }
    }
}

/// Why an answer's body could not be read to its end.
#[derive(Debug)]
pub(super) enum BodyError {
    /// The connection failed or closed before the body's end.
    Broken(String),
    /// The body's framing is broken (a chunk's size line, its end, the trailers).
    Framing(&'static str),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Broken(why) => write!(f, "the answer broke off: {why}"),
            BodyError::Framing(why) => write!(f, "the answer's body is malformed: {why}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// TCP, or TLS over it.
enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A connection to the endpoint and what has been read from it and not yet used.
struct Conn {
    io: Stream,
    buf: BytesMut,
}

impl Conn {
    /// Reads more into the buffer; `Ok(0)` at the connection's end. Cancel-safe: what a read
    /// returns is in the buffer at once.
    async fn fill(&mut self) -> std::io::Result<usize> {
        self.buf.reserve(READ_SIZE);
        self.io.read_buf(&mut self.buf).await
    }

    /// Whether a kept connection can take a request: the endpoint has not closed it, and sent
    /// nothing unasked (both would be in the socket by now; neither waits). Asked of the socket
    /// itself (a peek), not of the runtime's readiness, which may not have seen the close yet.
    /// Over TLS any record waiting (a close_notify, or a late session ticket) counts as
    /// something sent: the connection is not used, which costs a new one and nothing else.
    fn still_open(&mut self) -> bool {
        let tcp = match &mut self.io {
            Stream::Tcp(s) => &*s,
            Stream::Tls(s) => {
                let (tcp, tls) = s.get_mut();
                // Plaintext rustls already holds (read with the last answer) is not in the socket.
                let mut one = [0u8; 1];
                if !matches!(
                    std::io::Read::read(&mut tls.reader(), &mut one),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                ) {
                    return false;
                }
                &*tcp
            }
        };
        let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        matches!(
            socket2::SockRef::from(tcp).peek(&mut probe),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        )
    }

    /// Reads the answer's head: the final answer's status, headers and HTTP minor version
    /// (interim 1xx answers are skipped).
    async fn read_head(&mut self) -> Result<(StatusCode, HeaderMap, u8), Failure> {
        let mut interim = 0;
        loop {
            if let Some(head) = take_head(&mut self.buf, &mut interim)? {
                return Ok(head);
            }
            match self.fill().await {
                Ok(0) if self.buf.is_empty() => {
                    return Err(Failure::Broken("closed without an answer".into()));
                }
                Ok(0) => return Err(Failure::Broken("closed in the answer's head".into())),
                Ok(_) => {}
                Err(e) => return Err(Failure::Broken(e.to_string())),
            }
        }
    }
}

/// The final answer's head at the start of `buf` if it is all there, taken from it: status,
/// headers, HTTP minor version. Interim answers (1xx) before it are taken too, and counted in
/// `interim`.
fn take_head(
    buf: &mut BytesMut,
    interim: &mut usize,
) -> Result<Option<(StatusCode, HeaderMap, u8)>, Failure> {
    loop {
        let Some((used, status, headers, minor)) = parse_head(buf)? else {
            if buf.len() >= MAX_HEAD {
                return Err(Failure::Protocol(format!("a head over {MAX_HEAD} bytes")));
            }
            return Ok(None);
        };
        if used > MAX_HEAD {
            return Err(Failure::Protocol(format!("a head over {MAX_HEAD} bytes")));
        }
        buf.advance(used);
        if !status.is_informational() {
            return Ok(Some((status, headers, minor)));
        }
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(Failure::Protocol(
                "101 Switching Protocols to a request that asked for no upgrade".into(),
            ));
        }
        *interim += 1;
        if *interim > MAX_INTERIM {
            return Err(Failure::Protocol(format!(
                "more than {MAX_INTERIM} interim (1xx) answers"
            )));
        }
    }
}

/// An answer read from `wire` as from a connection whose reads end at `cuts` (and at its end,
/// where the endpoint closes it): the final status, the body and whether the connection could
/// carry another request; or why it was refused. For the fuzz target `http_answer`.
pub(crate) fn answer_from(wire: &[u8], cuts: &[usize]) -> Result<(u16, Vec<u8>, bool), String> {
    let mut ends: Vec<usize> = cuts.iter().map(|c| (*c).min(wire.len())).collect();
    ends.push(wire.len());
    ends.sort_unstable();
    let mut reads = ends.iter().scan(0, |start, end| {
        let piece = &wire[(*start).min(*end)..*end];
        *start = (*start).max(*end);
        Some(piece)
    });
    let mut buf = BytesMut::new();
    let mut interim = 0;
    let (status, headers, minor) = loop {
        if let Some(head) = take_head(&mut buf, &mut interim).map_err(|e| e.to_string())? {
            break head;
        }
        match reads.next() {
            Some(piece) => buf.extend_from_slice(piece),
            None => return Err("closed in the answer's head".into()),
        }
    };
    let (mut framing, reusable) = framing(status, &headers, minor).map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    loop {
        match framing.next(&mut buf).map_err(|e| e.to_string())? {
            Step::Data(d) => body.extend_from_slice(&d),
            Step::End => return Ok((status.as_u16(), body, reusable && buf.is_empty())),
            Step::More => match reads.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None if framing == Framing::UntilClose => {
                    return Ok((status.as_u16(), body, false));
                }
                None => return Err("closed before the body's end".into()),
            },
        }
    }
}

/// The head at the start of `buf`, if it is all there: the bytes it takes, the status, the
/// headers and the HTTP minor version.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, StatusCode, HeaderMap, u8)>, Failure> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Response::new(&mut slots);
    let used = match head.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Failure::Protocol(format!(
                "more than {MAX_HEADERS} headers"
            )));
        }
        Err(e) => return Err(Failure::Protocol(format!("its head: {e}"))),
    };
    let code = head.code.unwrap_or(0);
    let status =
        StatusCode::from_u16(code).map_err(|_| Failure::Protocol(format!("status {code}")))?;
    let mut headers = HeaderMap::with_capacity(head.headers.len());
    for h in head.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
            Failure::Protocol(format!(
                "header name `{}`",
                crate::text::one_line(h.name, 80)
            ))
        })?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| Failure::Protocol(format!("the value of header `{name}`")))?;
        headers.append(name, value);
    }
    Ok(Some((used, status, headers, head.version.unwrap_or(1))))
}

/// How an answer's body ends (RFC 9112 section 6.3).
#[derive(Debug, PartialEq)]
enum Framing {
    /// This many bytes more.
    Length(u64),
    /// Chunks, in this state.
    Chunked(Chunk),
    /// Whatever comes until the endpoint closes the connection.
    UntilClose,
    /// Read to its end.
    Ended,
}

#[derive(Debug, PartialEq)]
enum Chunk {
    /// A size line next.
    Size,
    /// This many bytes of the chunk's data more.
    Data(u64),
    /// The CRLF after a chunk's data next.
    DataEnd,
    /// Trailer lines next (after the last chunk), this many bytes of them read.
    Trailers(usize),
}

/// What the buffer gives next.
#[derive(Debug, PartialEq)]
enum Step {
    Data(Bytes),
    /// More bytes are needed.
    More,
    End,
}

/// How the body of an answer with `status` and `headers` is framed, and whether the connection
/// may carry another request after it (`minor`: the answer's HTTP minor version).
fn framing(status: StatusCode, headers: &HeaderMap, minor: u8) -> Result<(Framing, bool), Failure> {
    // An unreadable value may say `close` among its tokens: taken as saying it.
    let close = minor == 0
        || headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|v| v.to_str().is_err() || tokens(v).any(|t| t.eq_ignore_ascii_case("close")));
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok((Framing::Ended, !close));
    }
    let lengths = headers.get_all(header::CONTENT_LENGTH);
    if headers.contains_key(header::TRANSFER_ENCODING) {
        if lengths.iter().next().is_some() {
            return Err(Failure::Protocol(
                "both a transfer-encoding and a content-length".into(),
            ));
        }
        if minor == 0 {
            // RFC 9112 section 6.1: faulty framing in HTTP/1.0.
            return Err(Failure::Protocol("a transfer-encoding in HTTP/1.0".into()));
        }
        let codings: Vec<&str> = headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .flat_map(tokens)
            .collect();
        if codings.len() != 1 || !codings[0].eq_ignore_ascii_case("chunked") {
            return Err(Failure::Protocol(format!(
                "transfer-encoding `{}` (only `chunked` is read)",
                crate::text::one_line(&codings.join(", "), 80)
            )));
        }
        return Ok((Framing::Chunked(Chunk::Size), !close));
    }
    let mut length = None;
    for value in lengths.iter() {
        for part in tokens(value) {
            let n =
                (!part.is_empty() && part.len() <= 19 && part.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| part.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| {
                        Failure::Protocol(format!(
                            "content-length `{}`",
                            crate::text::one_line(part, 40)
                        ))
                    })?;
            if length.is_some_and(|l| l != n) {
                return Err(Failure::Protocol("two different content-lengths".into()));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => (Framing::Ended, !close),
        Some(n) => (Framing::Length(n), !close),
        None => (Framing::UntilClose, false),
    })
}

/// The comma-separated tokens of a header value, trimmed (an unreadable value has one token
/// that matches nothing).
fn tokens(value: &HeaderValue) -> impl Iterator<Item = &str> {
    value
        .to_str()
        .unwrap_or("\u{fffd}")
        .split(',')
        .map(|t| t.trim_matches([' ', '\t']))
}

impl Framing {
    /// The next step of the body from `buf` (what it uses is taken from it).
    fn next(&mut self, buf: &mut BytesMut) -> Result<Step, BodyError> {
        loop {
            match self {
                Framing::Ended => return Ok(Step::End),
                Framing::UntilClose => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    return Ok(Step::Data(buf.split().freeze()));
                }
                Framing::Length(left) => {
                    let Some(data) = take_counted(buf, left) else {
                        return Ok(Step::More);
                    };
                    if *left == 0 {
                        *self = Framing::Ended;
                    }
                    return Ok(Step::Data(data));
                }
                Framing::Chunked(Chunk::Data(left)) => {
                    let Some(data) = take_counted(buf, left) else {
                        return Ok(Step::More);
                    };
                    if *left == 0 {
                        *self = Framing::Chunked(Chunk::DataEnd);
                    }
                    return Ok(Step::Data(data));
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    if buf.len() < 2 {
                        return Ok(Step::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(BodyError::Framing("a chunk's data does not end with CRLF"));
                    }
                    buf.advance(2);
                    *self = Framing::Chunked(Chunk::Size);
                }
                Framing::Chunked(Chunk::Size) => {
                    let Some(line) = take_line(
                        buf,
                        MAX_CHUNK_LINE,
                        "a chunk's size line is too long",
                        "a chunk's size line does not end with CRLF",
                    )?
                    else {
                        return Ok(Step::More);
                    };
                    let size = chunk_size(&line)?;
                    *self = Framing::Chunked(if size == 0 {
                        Chunk::Trailers(0)
                    } else {
                        Chunk::Data(size)
                    });
                }
                Framing::Chunked(Chunk::Trailers(read)) => {
                    let room = MAX_TRAILERS.saturating_sub(*read);
                    let Some(line) = take_line(
                        buf,
                        room,
                        "the trailers are too long",
                        "a trailer line does not end with CRLF",
                    )?
                    else {
                        return Ok(Step::More);
                    };
                    if line.len() == 2 {
                        *self = Framing::Ended;
                    } else {
                        *read += line.len();
                    }
                }
            }
        }
    }
}

/// Up to `left` bytes from the start of `buf` (none there: `None`), taken from it and counted
/// off `left`.
fn take_counted(buf: &mut BytesMut, left: &mut u64) -> Option<Bytes> {
    if buf.is_empty() {
        return None;
    }
    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
    *left -= n as u64;
    Some(buf.split_to(n).freeze())
}

/// The line (its CRLF included) at the start of `buf`, taken from it, if it is all there and no
/// longer than `max`; refused with `too_long` or `bad_end`.
fn take_line(
    buf: &mut BytesMut,
    max: usize,
    too_long: &'static str,
    bad_end: &'static str,
) -> Result<Option<BytesMut>, BodyError> {
    let Some(lf) = memchr::memchr(b'\n', &buf[..buf.len().min(max)]) else {
        if buf.len() >= max {
            return Err(BodyError::Framing(too_long));
        }
        return Ok(None);
    };
    if lf == 0 || buf[lf - 1] != b'\r' {
        return Err(BodyError::Framing(bad_end));
    }
    Ok(Some(buf.split_to(lf + 1)))
}

/// The size a chunk's size line (CRLF included) gives: hex digits, then nothing or extensions
/// (dropped).
fn chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let line = &line[..line.len() - 2];
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let zeros = line[..digits].iter().take_while(|b| **b == b'0').count();
    // Leading zeros are allowed (the line itself is bounded); the value is at most 15 digits.
    if digits == 0 || digits - zeros > 15 {
        return Err(BodyError::Framing(
            "a chunk's size is not 1 to 15 hex digits",
        ));
    }
    let rest = &line[digits..];
    let ext = rest
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .map_or(&[][..], |i| &rest[i..]);
    if !(ext.is_empty() || ext[0] == b';')
        || ext.iter().any(|b| b.is_ascii_control() && *b != b'\t')
    {
        return Err(BodyError::Framing(
            "a chunk's size line has more than a size",
        ));
    }
    let text = std::str::from_utf8(&line[zeros.min(digits - 1)..digits]).unwrap_or("");
    u64::from_str_radix(text, 16)
        .map_err(|_| BodyError::Framing("a chunk's size is not 1 to 15 hex digits"))
}

/// Kept connections, each with the time it was put back.
type Idle = Arc<Mutex<Vec<(Conn, Instant)>>>;

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
    authority: String,
    /// The URL's path and query: every request's target.
    target: String,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    connect_timeout: Duration,
    idle: Idle,
}

/// The endpoint's answer, its body still to read. Read to its end, its connection is kept for
/// the next request; dropped before, the connection is closed.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The connection, until the body has ended or broken.
    conn: Option<Conn>,
    framing: Framing,
    /// Whether the connection may carry another request once the body has ended.
    reusable: bool,
    idle: Idle,
}

impl Answer {
    /// The body's next chunk of data; `None` at its end. Cancel-safe: a call dropped before it
    /// returns loses nothing.
    pub(super) async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(None);
            };
            match self.framing.next(&mut conn.buf) {
                Ok(Step::Data(data)) => return Ok(Some(data)),
                Ok(Step::End) => {
                    let conn = self.conn.take();
                    // Bytes after the end that nobody asked for: the connection is not trusted
                    // with another request.
                    if let Some(conn) = conn.filter(|c| self.reusable && c.buf.is_empty()) {
                        let mut idle = lock(&self.idle);
                        if idle.len() < MAX_IDLE_CONNECTIONS {
                            idle.push((conn, Instant::now()));
                        }
                    }
                    return Ok(None);
                }
                Ok(Step::More) => {}
                Err(e) => {
                    self.conn = None;
                    return Err(e);
                }
            }
            match conn.fill().await {
                Ok(0) if self.framing == Framing::UntilClose => {
                    self.framing = Framing::Ended;
                    self.conn = None;
                    return Ok(None);
                }
                Ok(0) => {
                    self.conn = None;
                    return Err(BodyError::Broken("closed before the body's end".into()));
                }
                Ok(_) => {}
                Err(e) => {
                    self.conn = None;
                    return Err(BodyError::Broken(e.to_string()));
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
        let target = url[url::Position::BeforePath..url::Position::AfterQuery].to_owned();
        // Neither can break the request line or a header: a parsed URL escapes both.
        if format!("{authority}{target}")
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ')
        {
            return Err("the URL has a control character or a space".into());
        }
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

    /// The request's bytes: its line, `Host`, the given headers (hop-by-hop ones already
    /// removed by the caller), the body's length and the body.
    fn request(&self, method: &Method, headers: &HeaderMap, body: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + body.map_or(0, <[u8]>::len));
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(self.authority.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            // The caller's map never holds these (it is `forwardable`); the request frames
            // itself.
            if super::proxy::hop_by_hop(name) {
                continue;
            }
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(body) = body {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(body.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(body);
        } else {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Sends one request; returns when the answer's head has come.
    pub(super) async fn send(
        &self,
        method: Method,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Answer, Failure> {
        let request = self.request(&method, &headers, body.as_deref());
        loop {
            let (mut conn, kept) = match self.kept() {
                Some(c) => (c, true),
                None => (self.connect().await?, false),
            };
            let mut written = 0;
            let sent = async {
                while written < request.len() {
                    match conn.io.write(&request[written..]).await? {
                        0 => return Err(std::io::ErrorKind::WriteZero.into()),
                        n => written += n,
                    }
                }
                conn.io.flush().await
            }
            .await;
            if let Err(e) = sent {
                // A kept connection the endpoint closed before any of the request went out: on
                // another one. Each turn takes a kept connection away, so this ends. Once a byte
                // has gone, never again: the endpoint may act on what it got.
                if kept && written == 0 {
                    continue;
                }
                return Err(Failure::Broken(e.to_string()));
            }
            let (status, headers, minor) = conn.read_head().await?;
            let (framing, reusable) = framing(status, &headers, minor)?;
            return Ok(Answer {
                status,
                headers,
                conn: Some(conn),
                framing,
                reusable,
                idle: Arc::clone(&self.idle),
            });
        }
    }

    /// A kept connection ready for a request, if there is one.
    /// Connections idle too long are closed here too, not only when their turn comes: the pool
    /// hands out its newest first, and after a burst the older ones could wait for ever (each
    /// holding a socket the endpoint may have closed long ago).
    fn kept(&self) -> Option<Conn> {
        let mut idle = lock(&self.idle);
        idle.retain(|(_, since)| since.elapsed() <= MAX_IDLE_TIME);
        while let Some((mut conn, _)) = idle.pop() {
            if conn.still_open() {
                return Some(conn);
            }
        }
        None
    }

    /// A new connection (TCP, then TLS for https), within the connect timeout.
    async fn connect(&self) -> Result<Conn, Failure> {
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
            let io = match &self.tls {
                None => Stream::Tcp(tcp),
                Some((connector, name)) => {
                    let tls = connector.connect(name.clone(), tcp).await.map_err(|e| {
                        if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
                            Failure::Tls(e)
                        } else {
                            Failure::TlsBroken(e)
                        }
                    })?;
                    Stream::Tls(Box::new(tls))
                }
            };
            Ok(Conn {
                io,
                buf: BytesMut::with_capacity(READ_SIZE),
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The body `framing` gives from `wire` fed `step` bytes at a time, or the first error.
    fn body(mut framing: Framing, wire: &[u8], step: usize) -> Result<Vec<u8>, BodyError> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut fed = 0;
        loop {
            match framing.next(&mut buf)? {
                Step::Data(d) => out.extend_from_slice(&d),
                Step::End => return Ok(out),
                Step::More if fed == wire.len() => {
                    return Err(BodyError::Broken("wire ended".into()));
                }
                Step::More => {
                    let n = step.min(wire.len() - fed);
                    buf.extend_from_slice(&wire[fed..fed + n]);
                    fed += n;
                }
            }
        }
    }

    fn chunked(wire: &[u8]) -> Result<Vec<u8>, String> {
        let whole =
            body(Framing::Chunked(Chunk::Size), wire, wire.len()).map_err(|e| e.to_string());
        // Read a byte at a time, the same body or the same error.
        let bytewise = body(Framing::Chunked(Chunk::Size), wire, 1).map_err(|e| e.to_string());
        assert_eq!(whole, bytewise, "{}", String::from_utf8_lossy(wire));
        whole
    }

    #[test]
    fn chunked_bodies_are_read_whole_however_they_are_split() {
        assert_eq!(chunked(b"3\r\nabc\r\n0\r\n\r\n").unwrap(), b"abc");
        assert_eq!(
            chunked(b"1;name=\"v\"\r\na\r\n2 ; x\r\nbc\r\n0\r\n\r\n").unwrap(),
            b"abc"
        );
        assert_eq!(
            chunked(b"A\r\n0123456789\r\n0\r\nx-t: 1\r\n\r\n").unwrap(),
            b"0123456789"
        );
        assert_eq!(chunked(b"0\r\n\r\n").unwrap(), b"");
        // Leading zeros are not digits of the value.
        assert_eq!(
            chunked(b"00000000000000000003\r\nabc\r\n0000\r\n\r\n").unwrap(),
            b"abc"
        );
    }

    #[test]
    fn broken_chunked_framing_is_refused() {
        for (wire, why) in [
            (&b"+3\r\nabc\r\n0\r\n\r\n"[..], "not 1 to 15 hex"),
            (b"\r\nabc\r\n0\r\n\r\n", "not 1 to 15 hex"),
            (b"1000000000000000\r\n", "not 1 to 15 hex"),
            (b"3x\r\nabc\r\n0\r\n\r\n", "more than a size"),
            (b"3;\x01\r\nabc\r\n0\r\n\r\n", "more than a size"),
            (b"3\nabc\r\n0\r\n\r\n", "does not end with CRLF"),
            (b"2\r\nabc\r\n0\r\n\r\n", "data does not end with CRLF"),
            (b"0\r\nx: 1\n\r\n", "trailer line does not end with CRLF"),
        ] {
            let err = chunked(wire).unwrap_err();
            assert!(
                err.contains(why),
                "{}: {err}",
                String::from_utf8_lossy(wire)
            );
        }
        let long_line = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE], b"\r\n"].concat();
        assert!(chunked(&long_line).unwrap_err().contains("too long"));
        let mut trailers = b"0\r\n".to_vec();
        for _ in 0..MAX_TRAILERS / 8 + 1 {
            trailers.extend_from_slice(b"x: 123\r\n");
        }
        trailers.extend_from_slice(b"\r\n");
        assert!(
            chunked(&trailers)
                .unwrap_err()
                .contains("trailers are too long")
        );
        // A body cut off before its last chunk is not a body.
        assert!(chunked(b"3\r\nabc\r\n").is_err());
    }

    /// A head over the limit is refused however the reads are cut: also when it ends in the
    /// read that crosses the limit.
    #[test]
    fn a_head_over_the_limit_is_refused_whole_or_cut() {
        let wire = format!(
            "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        for cuts in [&[][..], &[MAX_HEAD][..], &[100, 5000][..]] {
            let err = answer_from(wire.as_bytes(), cuts).unwrap_err();
            assert!(err.contains("a head over 65536 bytes"), "{cuts:?}: {err}");
        }
        // Just under it: read.
        let wire = format!(
            "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n",
            "a".repeat(MAX_HEAD - 100)
        );
        assert_eq!(answer_from(wire.as_bytes(), &[]).unwrap().0, 200);
    }

    #[test]
    fn a_length_reads_that_many_bytes_and_no_more() {
        let mut buf = BytesMut::from(&b"abcdefXYZ"[..]);
        let mut f = Framing::Length(6);
        assert_eq!(
            f.next(&mut buf).unwrap(),
            Step::Data(Bytes::from_static(b"abcdef"))
        );
        assert_eq!(f.next(&mut buf).unwrap(), Step::End);
        assert_eq!(&buf[..], b"XYZ");
        assert_eq!(
            body(Framing::UntilClose, b"abc", 1)
                .unwrap_err()
                .to_string(),
            "the answer broke off: wire ended"
        );
    }

    fn head(text: &str) -> Result<(Framing, bool), String> {
        let wire = format!("{text}\r\n\r\n");
        let (_, status, headers, minor) = parse_head(wire.as_bytes())
            .map_err(|e| e.to_string())?
            .expect("a whole head");
        framing(status, &headers, minor).map_err(|e| e.to_string())
    }

    #[test]
    fn the_framing_is_the_one_rfc_9112_gives_and_ambiguity_is_refused() {
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: 5").unwrap(),
            (Framing::Length(5), true)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\ncontent-length: 5").unwrap(),
            (Framing::Length(5), true)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: 0").unwrap(),
            (Framing::Ended, true)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked").unwrap(),
            (Framing::Chunked(Chunk::Size), true)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream").unwrap(),
            (Framing::UntilClose, false)
        );
        assert_eq!(
            head("HTTP/1.1 204 No Content\r\ncontent-length: 7").unwrap(),
            (Framing::Ended, true)
        );
        // Not reusable: said so, or HTTP/1.0.
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nconnection: keep-alive, Close\r\ncontent-length: 1").unwrap(),
            (Framing::Length(1), false)
        );
        assert_eq!(
            head("HTTP/1.0 200 OK\r\ncontent-length: 1").unwrap(),
            (Framing::Length(1), false)
        );
        for (text, why) in [
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked",
                "both",
            ),
            ("HTTP/1.1 200 OK\r\ncontent-length: 2, 3", "two different"),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3",
                "two different",
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: +3",
                "content-length `+3`",
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 3 3",
                "content-length `3 3`",
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999",
                "content-length",
            ),
            ("HTTP/1.1 200 OK\r\ncontent-length: ", "content-length"),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip", "`gzip`"),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked",
                "`gzip, chunked`",
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, chunked",
                "`chunked, chunked`",
            ),
            ("HTTP/1.1 200 OK\r\nx: a\r\n b", "its head"),
            ("HTTP/1.1 2000 OK", "its head"),
            ("HTTP/2 200 OK", "its head"),
        ] {
            let err = head(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
        // HTTP/1.0 with a transfer coding is faulty framing (RFC 9112 section 6.1).
        assert!(
            head("HTTP/1.0 200 OK\r\ntransfer-encoding: chunked")
                .unwrap_err()
                .contains("HTTP/1.0")
        );
        // A `Connection` value that is not text may say `close`: taken as saying it.
        let wire = b"HTTP/1.1 200 OK\r\nconnection: close, \x80\r\ncontent-length: 1\r\n\r\n";
        let (_, status, headers, minor) = parse_head(wire).unwrap().unwrap();
        assert_eq!(
            framing(status, &headers, minor).unwrap(),
            (Framing::Length(1), false)
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("\r\nx-{i}: 1")).collect();
        assert!(
            head(&format!("HTTP/1.1 200 OK{many}"))
                .unwrap_err()
                .contains("more than 128 headers")
        );
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-le")
                .unwrap()
                .is_none()
        );
    }
}
