//! The one error type of the MCP client boundary.

use std::time::Duration;

/// The reason code (a rejection) for a server that crosses one of the client's
/// bounds: an oversized message, endless pagination, or a listing too large.
pub const REASON_SERVER_MISBEHAVED: crate::reason::Reason = crate::reason::Reason::ServerMisbehaved;

/// Everything that can go wrong while talking to an MCP server.
///
/// Messages name the server (its command line or URL) and, for a local process,
/// end with the tail of what it wrote on stderr, so a failure can be diagnosed
/// without rerunning it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    #[error("invalid launch configuration: {problem}")]
    InvalidLaunch { problem: LaunchProblem },
    #[error("invalid launch configuration: the server's environment")]
    Env(#[source] super::env::EnvError),
    #[error("could not encode a request for MCP server {server}")]
    Encode {
        server: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("could not start MCP server `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("timed out after {}s waiting for the answer to `{method}` from {server}{}", timeout.as_secs_f64(), stderr_suffix(stderr_tail))]
    Timeout {
        server: String,
        method: String,
        timeout: Duration,
        stderr_tail: String,
    },

    #[error(
        "MCP server {server} closed its output while we waited for the answer to `{method}`{}{}",
        exit_suffix(status),
        stderr_suffix(stderr_tail)
    )]
    Closed {
        server: String,
        method: String,
        status: Option<String>,
        stderr_tail: String,
    },

    #[error(
        "MCP server {server} wrote a message that is not valid JSON-RPC ({problem}): `{excerpt}`{}",
        stderr_suffix(stderr_tail)
    )]
    Garbage {
        server: String,
        problem: GarbageProblem,
        excerpt: String,
        stderr_tail: String,
    },

    #[error("MCP server {server} wrote a message longer than the limit of {limit} bytes")]
    MessageTooLarge { server: String, limit: usize },

    #[error("could not write to MCP server {server}{}", stderr_suffix(stderr_tail))]
    Write {
        server: String,
        stderr_tail: String,
        #[source]
        source: std::io::Error,
    },

    #[error("MCP server {server} answered `{method}` with error {code}: {message}")]
    Rpc {
        server: String,
        method: String,
        code: i64,
        message: String,
    },

    #[error("MCP server {server} sent an invalid `{method}` result: {problem}")]
    BadResult {
        server: String,
        method: String,
        problem: ResultProblem,
    },

    #[error(
        "MCP server {server} chose protocol version `{version}`, which this client does not speak"
    )]
    UnsupportedProtocol { server: String, version: String },

    #[error("MCP server {server} lists {kind} `{name}` twice")]
    DuplicateName {
        server: String,
        kind: &'static str,
        name: String,
    },

    #[error(
        "MCP server {server} paginated `{method}` past the limit of {limit} pages or repeated a cursor"
    )]
    Pagination {
        server: String,
        method: String,
        limit: usize,
    },

    #[error(
        "MCP server {server} sent more than the limit of {limit} bytes while answering `{method}` (all pages together); refusing the listing"
    )]
    ListingTooLarge {
        server: String,
        method: String,
        limit: usize,
    },

    #[error(
        "MCP server {server} listed more than the limit of {limit} entries for `{method}` (all pages together); refusing the listing"
    )]
    TooManyEntries {
        server: String,
        method: String,
        limit: usize,
    },

    #[error("HTTP request to {url} failed: {problem}")]
    Http { url: String, problem: HttpProblem },
}

impl McpError {
    /// The reason code when this error means "reject" rather than "could not
    /// decide": the server crossed a bound no honest server needs to cross.
    /// Timeouts, crashes, garbage and transport failures can be transient or a
    /// wrong command line, and stay undecided.
    pub fn reason(&self) -> Option<crate::reason::Reason> {
        match self {
            McpError::MessageTooLarge { .. }
            | McpError::Pagination { .. }
            | McpError::ListingTooLarge { .. }
            | McpError::TooManyEntries { .. } => Some(REASON_SERVER_MISBEHAVED),
            McpError::InvalidLaunch { .. }
            | McpError::Env(_)
            | McpError::Encode { .. }
            | McpError::Spawn { .. }
            | McpError::Timeout { .. }
            | McpError::Closed { .. }
            | McpError::Garbage { .. }
            | McpError::Write { .. }
            | McpError::Rpc { .. }
            | McpError::BadResult { .. }
            | McpError::UnsupportedProtocol { .. }
            | McpError::DuplicateName { .. }
            | McpError::Http { .. } => None,
        }
    }
}

fn stderr_suffix(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!("; server stderr (last lines):\n{}", tail.trim_end())
    }
}

fn exit_suffix(status: &Option<String>) -> String {
    match status {
        Some(s) => format!(" ({s})"),
        None => String::new(),
    }
}

/// What is wrong with a launch before anything starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LaunchProblem {
    /// The stdio command is empty.
    EmptyCommand,
    /// The child's stdin, stdout or stderr pipe was not created.
    NoPipes,
    /// The HTTP endpoint is not an `http://` or `https://` URL.
    NotHttpUrl { url: String },
    /// The endpoint's TLS identity cannot be used (a CA certificate that does not parse).
    BadTlsIdentity { why: String },
    /// The endpoint pins its key (`spkiDigests`), which this client cannot check.
    KeyPinned,
}

impl std::fmt::Display for LaunchProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchProblem::EmptyCommand => f.write_str("the server command is empty"),
            LaunchProblem::NoPipes => f.write_str("the server's stdio pipes were not created"),
            LaunchProblem::NotHttpUrl { url } => {
                write!(f, "`{url}` is not an http:// or https:// URL")
            }
            LaunchProblem::BadTlsIdentity { why } => {
                write!(
                    f,
                    "the endpoint's pinned TLS identity cannot be used: {why}"
                )
            }
            LaunchProblem::KeyPinned => f.write_str(
                "the endpoint pins its key (tls.spkiDigests), which reading its tools over HTTP \
                 (`mcp-sign tools`, drift checks) cannot verify yet: do that with the manifest \
                 pinning the endpoint's CA (tls.caCertificates), then add the key pin before \
                 signing (`mcp-verify proxy` enforces key pins)",
            ),
        }
    }
}

/// Why a message from the server is not JSON-RPC.
#[derive(Debug)]
#[non_exhaustive]
pub enum GarbageProblem {
    /// Not JSON (or JSON that breaks the strict reader: duplicate keys, depth, size).
    Json(crate::json::JsonError),
    NotAnObject,
    /// A JSON-RPC batch: TypeScript clients read one in a JSON body, Python clients and every
    /// client in an event stream refuse it, so what it holds is not read.
    Batch,
    /// An object that is neither a request, a notification nor a response.
    NotJsonRpc,
    /// No `"jsonrpc": "2.0"` member: clients drop such a message, so it is not read either.
    NoJsonRpcVersion,
    /// A response whose id is not one of ours (an integer) but which a client could take for
    /// ours (TypeScript clients match ids by `Number(id)`: `"2"` and `2.0` answer request 2).
    ForeignId,
}

impl std::fmt::Display for GarbageProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GarbageProblem::Json(e) => match std::error::Error::source(e) {
                Some(detail) => write!(f, "{e}: {detail}"),
                None => write!(f, "{e}"),
            },
            GarbageProblem::NotAnObject => f.write_str("not a JSON object"),
            GarbageProblem::Batch => f.write_str(
                "a JSON-RPC batch, which clients read differently (TypeScript reads one in a \
                 JSON body, Python never)",
            ),
            GarbageProblem::NoJsonRpcVersion => {
                f.write_str("a message without `\"jsonrpc\": \"2.0\"`, which clients drop")
            }
            GarbageProblem::ForeignId => f.write_str(
                "a response whose id is not an integer the client sent, though a client may \
                 take it for its own (TypeScript matches `\"2\"` and `2.0` to request 2)",
            ),
            GarbageProblem::NotJsonRpc => {
                f.write_str("neither a request, a notification nor a response")
            }
        }
    }
}

/// What is wrong with a result the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultProblem {
    NoProtocolVersion,
    NotAnObject,
    NeitherResultNorError,
    NotComplete,
    NoArray { key: String },
    EntryNotAnObject { key: String },
    EntryWithoutName { key: String },
    TooManyServerRequests { limit: usize },
    CursorNotAString,
}

impl std::fmt::Display for ResultProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResultProblem::NoProtocolVersion => f.write_str("no `protocolVersion` string"),
            ResultProblem::NotAnObject => f.write_str("`result` is not an object"),
            ResultProblem::NeitherResultNorError => f.write_str("neither `result` nor `error`"),
            ResultProblem::NotComplete => {
                f.write_str("the result is not `complete` (input required?)")
            }
            ResultProblem::NoArray { key } => write!(f, "no `{key}` array"),
            ResultProblem::EntryNotAnObject { key } => {
                write!(f, "an entry of `{key}` is not an object")
            }
            ResultProblem::EntryWithoutName { key } => {
                write!(f, "an entry of `{key}` has no `name` string")
            }
            ResultProblem::CursorNotAString => f.write_str("`nextCursor` is not a string"),
            ResultProblem::TooManyServerRequests { limit } => {
                write!(
                    f,
                    "the server sent more than {limit} requests before answering"
                )
            }
        }
    }
}

/// What went wrong with an HTTP exchange with a remote server.
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpProblem {
    /// An error status, with the start of the body.
    Status {
        status: u16,
        body: String,
    },
    ContentType {
        content_type: String,
    },
    /// A redirect: never followed for an MCP endpoint (the pins are the pinned URL's).
    Redirect {
        status: u16,
        location: String,
    },
    ReadBody(ureq::Error),
    ReadStream(std::io::Error),
    StreamTimeout,
    /// An event stream clients read differently from each other (`mcp::sse`, strict reading).
    AmbiguousStream {
        why: &'static str,
    },
    Encode(serde_json::Error),
    Timeout,
    Transport(ureq::Error),
}

impl std::fmt::Display for HttpProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpProblem::Status { status, body } => write!(f, "status {status}: {body}"),
            HttpProblem::Redirect { status, location } => write!(
                f,
                "status {status}: redirected to {location}; redirects are never followed"
            ),
            HttpProblem::ContentType { content_type } => {
                write!(f, "unexpected content type `{content_type}`")
            }
            HttpProblem::ReadBody(e) => write!(f, "reading the response body: {e}"),
            HttpProblem::ReadStream(e) => write!(f, "reading the event stream: {e}"),
            HttpProblem::StreamTimeout => f.write_str("timed out reading the event stream"),
            HttpProblem::AmbiguousStream { why } => write!(
                f,
                "the event stream {why}, which clients read differently: nothing is taken from it"
            ),
            HttpProblem::Encode(e) => write!(f, "encoding a request: {e}"),
            HttpProblem::Timeout => f.write_str("timed out"),
            HttpProblem::Transport(e) => write!(f, "{e}"),
        }
    }
}
