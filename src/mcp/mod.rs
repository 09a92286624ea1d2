//! A minimal MCP client: launches (stdio) or contacts (Streamable HTTP) a server,
//! negotiates a protocol version and lists its tools, prompts and resource
//! templates as the raw JSON objects the server sent.
//!
//! Definitions stay `serde_json::Value`: a typed model would silently drop the
//! fields it does not know, and a server could hide a change in exactly those.

/// The environment a launched server gets (a leaf module; re-exported where it was).
pub use crate::server_env as env;
mod error;
mod http;
mod session;
pub(crate) mod sse;
pub(crate) mod stdio;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

pub use error::{
    GarbageProblem, HttpProblem, LaunchProblem, McpError, REASON_SERVER_MISBEHAVED, ResultProblem,
};
pub use session::Session;

/// The stateless protocol revision, discovered with `server/discover`.
pub const STATELESS_PROTOCOL: &str = "2026-07-28";
/// Versions of the `initialize` era this client speaks, newest first.
pub const HANDSHAKE_PROTOCOLS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The default wait for any single answer from a server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default bound on one message (a stdio line or an HTTP body).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// The default bound on pages followed for one list method.
pub const DEFAULT_MAX_PAGES: usize = 64;
/// The default bound on the bytes received for one list method, across all its pages
/// (and whatever the server sends in between).
pub const DEFAULT_MAX_LISTING_BYTES: usize = 32 * 1024 * 1024;
/// The default bound on the entries of one list method, across all its pages.
pub const DEFAULT_MAX_LISTING_ENTRIES: usize = 10_000;

/// How to reach a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    Stdio(StdioLaunch),
    Http(HttpLaunch),
}

impl Launch {
    /// A human-readable name for messages: the command line or the URL.
    pub fn display(&self) -> String {
        match self {
            Launch::Stdio(s) => s.display(),
            Launch::Http(h) => h.url.clone(),
        }
    }
}

/// A local server started as a child process speaking JSON-RPC on stdio.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StdioLaunch {
    pub program: String,
    pub args: Vec<String>,
    /// Variables set for the server on top of the base of [`env::BASE_VARS`] (the server never
    /// inherits the caller's whole environment); their names are recorded in a capture profile.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// Where Python may read compiled bytecode from. [`BytecodeCache::Private`] (the default)
    /// points it at an empty folder of this launch, so nothing compiled that sits in (or was
    /// planted in) the server's tree is ever loaded, at the price of compiling the standard
    /// library at every start. A launch from a verified, read-only store snapshot holds only
    /// hashed files, so it may use [`BytecodeCache::Interpreter`]'s.
    pub bytecode: BytecodeCache,
}

/// See [`StdioLaunch::bytecode`]. Bytecode is never written either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BytecodeCache {
    /// `PYTHONPYCACHEPREFIX` is an empty private folder.
    #[default]
    Private,
    /// Python's own `__pycache__` folders: only for a working tree whose every file was hashed
    /// and that nobody can write (a launch store snapshot).
    Interpreter,
}

impl StdioLaunch {
    pub fn new(
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: None,
            bytecode: BytecodeCache::Private,
        }
    }

    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A remote server reached through the Streamable HTTP transport.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpLaunch {
    pub url: String,
    /// Extra request headers (e.g. `Authorization`).
    pub headers: Vec<(String, String)>,
    /// The TLS identity the endpoint must present (a manifest's `tls`): its CA certificates
    /// replace the system's roots. A pinned key cannot be checked by this client: such an
    /// endpoint is refused (`LaunchProblem::KeyPinned`).
    pub tls: Option<crate::manifest::remote::TlsIdentity>,
}

pub use crate::manifest::pins::Capability;

/// The `capabilities` object sent for a set of declared capabilities.
pub fn capabilities_object(caps: &[Capability]) -> Value {
    let mut map = Map::new();
    for c in caps {
        map.insert(c.as_str().to_owned(), Value::Object(Map::new()));
    }
    Value::Object(map)
}

/// A root announced to the server when it asks `roots/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub uri: String,
    pub name: Option<String>,
}

/// Which protocol version to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProtocolChoice {
    /// Try `server/discover` (stateless), then `initialize` with the newest version.
    #[default]
    Negotiate,
    /// Ask for this version first (as pinned); the server may still answer with
    /// another, which the caller sees in [`Listing::protocol_version`].
    Prefer(String),
}

/// Client behaviour: timeouts, bounds and what the client declares.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub timeout: Duration,
    pub capabilities: Vec<Capability>,
    pub roots: Vec<Root>,
    pub protocol: ProtocolChoice,
    pub max_message_bytes: usize,
    pub max_pages: usize,
    pub max_listing_bytes: usize,
    pub max_listing_entries: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            capabilities: Vec::new(),
            roots: Vec::new(),
            protocol: ProtocolChoice::Negotiate,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_pages: DEFAULT_MAX_PAGES,
            max_listing_bytes: DEFAULT_MAX_LISTING_BYTES,
            max_listing_entries: DEFAULT_MAX_LISTING_ENTRIES,
        }
    }
}

/// What a server lists, exactly as it sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// The protocol version in use (the negotiated one, or `2026-07-28`).
    pub protocol_version: String,
    /// True when the stateless `server/discover` path was used.
    pub stateless: bool,
    pub server_info: Option<Value>,
    pub server_capabilities: Value,
    pub instructions: Option<String>,
    pub tools: Vec<Map<String, Value>>,
    pub prompts: Vec<Map<String, Value>>,
    pub resource_templates: Vec<Map<String, Value>>,
}

/// Connects to the server, lists everything it offers, and shuts it down.
pub fn list_server(launch: &Launch, options: &ClientOptions) -> Result<Listing, McpError> {
    let mut session = Session::connect(launch, options)?;
    session.list_everything()
}

/// One message from the server and how many bytes it took on the wire (what
/// listing budgets count).
pub(crate) struct Received {
    pub(crate) message: Value,
    pub(crate) bytes: usize,
}

/// One way of moving JSON-RPC messages; the session logic is the same for all.
pub(crate) trait Transport {
    /// The server's name in error messages.
    fn server(&self) -> &str;
    fn send(&mut self, message: &Value) -> Result<(), McpError>;
    /// The next message from the server, waiting at most until `deadline`.
    fn recv(
        &mut self,
        deadline: Instant,
        method: &str,
        timeout: Duration,
    ) -> Result<Received, McpError>;
    fn stderr_tail(&self) -> String {
        String::new()
    }
    /// Called once the version is known (HTTP sends it as a header).
    fn set_protocol_version(&mut self, _version: &str) {}
}
