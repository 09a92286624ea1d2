//! The Streamable HTTP transport: every client message is a POST; the answer
//! is either one JSON body or a `text/event-stream` whose events carry the
//! server's messages (its requests, notifications and finally the response).

use std::collections::VecDeque;
use std::io::{self, BufRead as _, BufReader};
use std::time::{Duration, Instant};

use serde_json::Value;
use ureq::Agent;
use ureq::http::Response;

use super::error::{GarbageProblem, HttpProblem, LaunchProblem, McpError};
use super::sse::{SseParser, SseRefusal};
use super::{ClientOptions, HttpLaunch, Received, Transport};

const SESSION_HEADER: &str = "mcp-session-id";

pub(crate) struct HttpTransport {
    url: String,
    server: String,
    agent: Agent,
    headers: Vec<(String, String)>,
    session_id: Option<String>,
    protocol_version: Option<String>,
    /// Messages received and not yet taken, with their share of the bytes read.
    queue: VecDeque<Received>,
    stream: Option<BufReader<ureq::BodyReader<'static>>>,
    /// The event stream's parser, state kept between reads.
    sse: SseParser,
    max_message_bytes: usize,
}

impl HttpTransport {
    pub(crate) fn new(launch: &HttpLaunch, options: &ClientOptions) -> Result<Self, McpError> {
        if !(launch.url.starts_with("http://") || launch.url.starts_with("https://")) {
            return Err(McpError::InvalidLaunch {
                problem: LaunchProblem::NotHttpUrl {
                    url: launch.url.clone(),
                },
            });
        }
        // One bound for connecting, sending and reading the whole answer; no redirects; the
        // pinned CAs when there are some.
        let cas = match &launch.tls {
            None => Vec::new(),
            Some(t) if !t.spki_digests.is_empty() => {
                return Err(McpError::InvalidLaunch {
                    problem: LaunchProblem::KeyPinned,
                });
            }
            Some(t) => t.check().map_err(|e| McpError::InvalidLaunch {
                problem: LaunchProblem::BadTlsIdentity { why: e.to_string() },
            })?,
        };
        let agent = crate::http::endpoint_agent(options.timeout, &cas);
        Ok(Self {
            url: launch.url.clone(),
            server: format!("`{}`", launch.url),
            agent,
            headers: launch.headers.clone(),
            session_id: None,
            protocol_version: None,
            queue: VecDeque::new(),
            stream: None,
            sse: SseParser::strict(options.max_message_bytes),
            max_message_bytes: options.max_message_bytes,
        })
    }

    fn http_error(&self, problem: HttpProblem) -> McpError {
        McpError::Http {
            url: self.url.clone(),
            problem,
        }
    }

    fn take_response(
        &mut self,
        response: Response<ureq::Body>,
        is_request: bool,
    ) -> Result<(), McpError> {
        let status = response.status().as_u16();
        if let Some(id) = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            self.session_id = Some(id.to_owned());
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let limit = self.max_message_bytes as u64;
        if (300..400).contains(&status) {
            let location = response.headers().get("location");
            let location = crate::text::redirect_target(location.map(|v| v.as_bytes()));
            return Err(self.http_error(HttpProblem::Redirect { status, location }));
        }
        if !(200..300).contains(&status) {
            let body = response
                .into_body()
                .into_with_config()
                .limit(64 * 1024)
                .read_to_vec()
                .unwrap_or_default();
            // A JSON-RPC error in an error status (e.g. 400 "Server not initialized"
            // for `server/discover` on a handshake-era server) is still an answer.
            if is_request
                && let Ok(v) = crate::json::parse_value(&body)
                && v.get("error").is_some_and(Value::is_object)
                && v.get("jsonrpc").is_some()
            {
                self.queue.push_back(Received {
                    message: v,
                    bytes: body.len(),
                });
                return Ok(());
            }
            let text: String = String::from_utf8_lossy(&body).chars().take(500).collect();
            return Err(self.http_error(HttpProblem::Status {
                status,
                body: text.trim().to_owned(),
            }));
        }
        if status == 202 || !is_request {
            return Ok(());
        }
        if content_type.starts_with("text/event-stream") {
            let reader = response.into_body().into_with_config().reader();
            self.stream = Some(BufReader::with_capacity(64 * 1024, reader));
            self.sse = SseParser::strict(self.max_message_bytes);
            Ok(())
        } else if content_type.starts_with("application/json") {
            let bytes = response
                .into_body()
                .into_with_config()
                .limit(limit)
                .read_to_vec()
                .map_err(|e| self.http_error(HttpProblem::ReadBody(e)))?;
            self.enqueue(&bytes)
        } else {
            Err(self.http_error(HttpProblem::ContentType {
                content_type: content_type.to_owned(),
            }))
        }
    }

    /// Queues one JSON-RPC message; a batch is refused (clients read one differently).
    fn enqueue(&mut self, bytes: &[u8]) -> Result<(), McpError> {
        let garbage = |problem: GarbageProblem| McpError::Garbage {
            server: self.server.clone(),
            problem,
            excerpt: String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned(),
            stderr_tail: String::new(),
        };
        match crate::json::parse_value(bytes) {
            Ok(Value::Array(_)) => Err(garbage(GarbageProblem::Batch)),
            Ok(message @ Value::Object(_)) => {
                self.queue.push_back(Received {
                    message,
                    bytes: bytes.len(),
                });
                Ok(())
            }
            Ok(_) => Err(garbage(GarbageProblem::NotAnObject)),
            Err(e) => Err(garbage(GarbageProblem::Json(e))),
        }
    }

    /// Reads SSE events until one carries a message; false at the end of the stream.
    ///
    /// Read as clients read it (`mcp::sse`): a server must not show this capture other events
    /// than a client would see.
    fn read_event(&mut self) -> Result<bool, McpError> {
        let limit = self.max_message_bytes;
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return Ok(false);
            };
            let chunk = match stream.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.stream = None;
                    if e.kind() == io::ErrorKind::TimedOut {
                        return Err(self.http_error(HttpProblem::StreamTimeout));
                    }
                    return Err(self.http_error(HttpProblem::ReadStream(e)));
                }
            };
            if chunk.is_empty() {
                // An event the stream did not end with a blank line is discarded, as clients
                // discard it.
                self.stream = None;
                return Ok(false);
            }
            let n = chunk.len();
            let events = self.sse.push(chunk);
            stream.consume(n);
            let events =
                match events {
                    Ok(events) => events,
                    Err(refusal) => {
                        self.stream = None;
                        return Err(match refusal {
                        SseRefusal::TooLarge => McpError::MessageTooLarge {
                            server: self.server.clone(),
                            limit,
                        },
                        SseRefusal::ByteOrderMark => self.http_error(HttpProblem::AmbiguousStream {
                            why: "starts with a byte-order mark",
                        }),
                        SseRefusal::OtherLineEnd => self.http_error(HttpProblem::AmbiguousStream {
                            why: "holds a line separator other than CR and LF (VT, FF, FS, GS, \
                                  RS, U+0085, U+2028 or U+2029)",
                        }),
                    });
                    }
                };
            let mut any = false;
            for event in events.into_iter().filter(|e| !e.data.is_empty()) {
                self.enqueue(&event.data)?;
                any = true;
            }
            if any {
                return Ok(true);
            }
        }
    }
}

impl Transport for HttpTransport {
    fn server(&self) -> &str {
        &self.server
    }

    fn set_protocol_version(&mut self, version: &str) {
        self.protocol_version = Some(version.to_owned());
    }

    fn send(&mut self, message: &Value) -> Result<(), McpError> {
        let is_request = message.get("method").is_some() && message.get("id").is_some();
        if is_request {
            // A new request: whatever the previous answer stream still holds is stale.
            self.stream = None;
            self.queue.clear();
        }
        let body =
            serde_json::to_vec(message).map_err(|e| self.http_error(HttpProblem::Encode(e)))?;
        let mut request = self
            .agent
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json");
        for (k, v) in &self.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        if let Some(id) = &self.session_id {
            request = request.header(SESSION_HEADER, id.as_str());
        }
        // Stateless requests carry their version in `_meta`; mirror it (SEP-2243).
        let meta_version = message
            .pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")
            .and_then(Value::as_str);
        if let Some(v) = meta_version.or(self.protocol_version.as_deref()) {
            request = request.header("mcp-protocol-version", v);
        }
        // Routing headers mirrored from the body, for intermediaries (SEP-2243).
        if let Some(method) = message.get("method").and_then(Value::as_str) {
            request = request.header("mcp-method", method);
            let params = message.get("params");
            let name = params
                .and_then(|p| p.get("name"))
                .or_else(|| params.and_then(|p| p.get("uri")))
                .and_then(Value::as_str);
            if let Some(name) = name.filter(|n| n.bytes().all(|b| (0x20..0x7f).contains(&b))) {
                request = request.header("mcp-name", name);
            }
        }
        let response = request.send(&body[..]).map_err(|e| match e {
            ureq::Error::Timeout(_) => self.http_error(HttpProblem::Timeout),
            other => self.http_error(HttpProblem::Transport(other)),
        })?;
        self.take_response(response, is_request)
    }

    fn recv(
        &mut self,
        deadline: Instant,
        method: &str,
        timeout: Duration,
    ) -> Result<Received, McpError> {
        // Each event read is bounded by the agent's global timeout; this loop
        // only adds the client-wide deadline on top.
        loop {
            if let Some(m) = self.queue.pop_front() {
                return Ok(m);
            }
            if Instant::now() >= deadline {
                return Err(McpError::Timeout {
                    server: self.server.clone(),
                    method: method.to_owned(),
                    timeout,
                    stderr_tail: String::new(),
                });
            }
            if !self.read_event()? {
                return Err(McpError::Closed {
                    server: self.server.clone(),
                    method: method.to_owned(),
                    status: Some("the HTTP response ended without an answer".into()),
                    stderr_tail: String::new(),
                });
            }
        }
    }
}
