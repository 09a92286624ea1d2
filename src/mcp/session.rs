//! Protocol logic over any transport: version negotiation (stateless
//! `server/discover` first, then `initialize`), requests with timeouts,
//! answering the server's own requests, and paginated listing.

use std::collections::HashSet;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::error::{GarbageProblem, McpError, ResultProblem};
use super::http::HttpTransport;
use super::stdio::StdioTransport;
use super::{
    ClientOptions, HANDSHAKE_PROTOCOLS, Launch, Listing, ProtocolChoice, STATELESS_PROTOCOL,
    Transport, capabilities_object,
};

const META_PROTOCOL: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

const METHOD_NOT_FOUND: i64 = -32601;
/// Server requests answered while waiting for one answer; a server asking
/// more is flooding, not negotiating.
const MAX_SERVER_REQUESTS: usize = 1000;

/// An open conversation with one server. Dropping it ends the server process
/// (stdio) or simply forgets the session (HTTP).
pub struct Session {
    transport: Box<dyn Transport>,
    options: ClientOptions,
    next_id: u64,
    protocol_version: String,
    stateless: bool,
    server_info: Option<Value>,
    server_capabilities: Value,
    instructions: Option<String>,
}

impl Session {
    /// Starts or contacts the server and negotiates a protocol version.
    pub fn connect(launch: &Launch, options: &ClientOptions) -> Result<Self, McpError> {
        let transport: Box<dyn Transport> = match launch {
            Launch::Stdio(s) => Box::new(StdioTransport::spawn(s, options.max_message_bytes)?),
            Launch::Http(h) => Box::new(HttpTransport::new(h, options)?),
        };
        let mut session = Session {
            transport,
            options: options.clone(),
            next_id: 1,
            protocol_version: String::new(),
            stateless: false,
            server_info: None,
            server_capabilities: Value::Object(Map::new()),
            instructions: None,
        };
        session.negotiate()?;
        Ok(session)
    }

    /// The protocol version in use.
    pub fn protocol_version(&self) -> &str {
        &self.protocol_version
    }

    /// True when the server was reached through the stateless `server/discover` path.
    pub fn is_stateless(&self) -> bool {
        self.stateless
    }

    fn negotiate(&mut self) -> Result<(), McpError> {
        let (try_stateless, handshake_version) = match &self.options.protocol {
            ProtocolChoice::Negotiate => (true, HANDSHAKE_PROTOCOLS[0].to_owned()),
            ProtocolChoice::Prefer(v) if v == STATELESS_PROTOCOL => {
                (true, HANDSHAKE_PROTOCOLS[0].to_owned())
            }
            ProtocolChoice::Prefer(v) => (false, v.clone()),
        };
        if try_stateless && self.discover()? {
            return Ok(());
        }
        self.initialize(&handshake_version)
    }

    /// Tries `server/discover`; true when the server speaks the stateless revision.
    fn discover(&mut self) -> Result<bool, McpError> {
        self.stateless = true;
        self.protocol_version = STATELESS_PROTOCOL.to_owned();
        let answer = self.request("server/discover", None);
        self.stateless = false;
        self.protocol_version.clear();
        let result = match answer {
            Ok(result) => result,
            // Any JSON-RPC error (method not found, unsupported version) means
            // "not this era": fall back to the handshake.
            Err(McpError::Rpc { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let speaks = result
            .get("supportedVersions")
            .and_then(Value::as_array)
            .is_some_and(|vs| vs.iter().any(|v| v.as_str() == Some(STATELESS_PROTOCOL)));
        if !speaks {
            return Ok(false);
        }
        self.stateless = true;
        self.protocol_version = STATELESS_PROTOCOL.to_owned();
        self.transport.set_protocol_version(STATELESS_PROTOCOL);
        self.server_capabilities = result
            .get("capabilities")
            .cloned()
            .unwrap_or_else(|| json!({}));
        self.server_info = result
            .get("_meta")
            .and_then(|m| m.get(META_SERVER_INFO))
            .or_else(|| result.get("serverInfo"))
            .cloned();
        self.instructions = result
            .get("instructions")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(true)
    }

    fn initialize(&mut self, version: &str) -> Result<(), McpError> {
        let params = json!({
            "protocolVersion": version,
            "capabilities": capabilities_object(&self.options.capabilities),
            "clientInfo": client_info(),
        });
        let result = self.request("initialize", Some(params))?;
        let chosen = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad_result("initialize", ResultProblem::NoProtocolVersion))?;
        if !HANDSHAKE_PROTOCOLS.contains(&chosen) {
            return Err(McpError::UnsupportedProtocol {
                server: self.transport.server().to_owned(),
                version: chosen.to_owned(),
            });
        }
        self.protocol_version = chosen.to_owned();
        self.transport.set_protocol_version(chosen);
        self.server_capabilities = result
            .get("capabilities")
            .cloned()
            .unwrap_or_else(|| json!({}));
        self.server_info = result.get("serverInfo").cloned();
        self.instructions = result
            .get("instructions")
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.notify("notifications/initialized")
    }

    fn notify(&mut self, method: &str) -> Result<(), McpError> {
        self.transport
            .send(&json!({"jsonrpc": "2.0", "method": method}))
    }

    /// Sends a request and waits for its answer, serving whatever the server
    /// asks in between. Returns the `result` member.
    pub fn request(&mut self, method: &str, params: Option<Value>) -> Result<Value, McpError> {
        self.exchange(method, params, None)
    }

    /// [`Session::request`], counting every byte received until the answer
    /// into `listed` when given: past the listing bound it stops reading at
    /// once, whatever the message was.
    fn exchange(
        &mut self,
        method: &str,
        params: Option<Value>,
        mut listed: Option<&mut usize>,
    ) -> Result<Value, McpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = Map::new();
        message.insert("jsonrpc".into(), json!("2.0"));
        message.insert("id".into(), json!(id));
        message.insert("method".into(), json!(method));
        let params = self.with_meta(params);
        if let Some(p) = params {
            message.insert("params".into(), p);
        }
        self.transport.send(&Value::Object(message))?;

        let timeout = self.options.timeout;
        let deadline = Instant::now() + timeout;
        let mut served = 0usize;
        // Bounded by the deadline: every iteration waits at most until then.
        loop {
            let received = self.transport.recv(deadline, method, timeout)?;
            if let Some(total) = listed.as_deref_mut() {
                *total = total.saturating_add(received.bytes);
                if *total > self.options.max_listing_bytes {
                    return Err(McpError::ListingTooLarge {
                        server: self.transport.server().to_owned(),
                        method: method.to_owned(),
                        limit: self.options.max_listing_bytes,
                    });
                }
            }
            let incoming = received.message;
            let garbage = |problem| McpError::Garbage {
                server: self.transport.server().to_owned(),
                problem,
                excerpt: incoming.to_string().chars().take(120).collect(),
                stderr_tail: self.transport.stderr_tail(),
            };
            // Clients drop a message without the version, so it is not read here either.
            if incoming.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
                return Err(garbage(GarbageProblem::NoJsonRpcVersion));
            }
            match classify(&incoming) {
                // A request from the server: answer it and keep waiting.
                Kind::Request(req_id) => {
                    served += 1;
                    if served > MAX_SERVER_REQUESTS {
                        return Err(self.bad_result(
                            method,
                            ResultProblem::TooManyServerRequests {
                                limit: MAX_SERVER_REQUESTS,
                            },
                        ));
                    }
                    let answer = self.answer(req_id.clone(), &incoming);
                    self.transport.send(&answer)?;
                }
                // A notification (progress, logging, list_changed): nothing to do.
                Kind::Notification => {}
                Kind::Response(resp_id) if resp_id.as_u64() == Some(id) => {
                    return self.take_result(method, incoming);
                }
                // An answer to an earlier request of ours (stale): ignore it.
                Kind::Response(resp_id) if resp_id.is_u64() => {}
                // An id we never send, which a client could still take for its own.
                Kind::Response(_) => return Err(garbage(GarbageProblem::ForeignId)),
                // An error without id: the server could not take our request.
                Kind::UnidentifiedError => return self.take_result(method, incoming),
                Kind::Neither => return Err(garbage(GarbageProblem::NotJsonRpc)),
            }
        }
    }

    fn take_result(&self, method: &str, mut response: Value) -> Result<Value, McpError> {
        if let Some(err) = response.get("error") {
            return Err(McpError::Rpc {
                server: self.transport.server().to_owned(),
                method: method.to_owned(),
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)")
                    .chars()
                    .take(500)
                    .collect(),
            });
        }
        match response.get_mut("result").map(Value::take) {
            Some(result @ Value::Object(_)) => Ok(result),
            Some(_) => Err(self.bad_result(method, ResultProblem::NotAnObject)),
            None => Err(self.bad_result(method, ResultProblem::NeitherResultNorError)),
        }
    }

    /// The stateless revision carries protocol version and capabilities in
    /// every request's `_meta`.
    fn with_meta(&self, params: Option<Value>) -> Option<Value> {
        if !self.stateless {
            return params;
        }
        let mut params = match params {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let meta = params.entry("_meta").or_insert_with(|| json!({}));
        if let Value::Object(meta) = meta {
            meta.insert(META_PROTOCOL.into(), json!(STATELESS_PROTOCOL));
            meta.insert(
                META_CAPABILITIES.into(),
                capabilities_object(&self.options.capabilities),
            );
            meta.insert(META_CLIENT_INFO.into(), client_info());
        }
        Some(Value::Object(params))
    }

    fn answer(&self, id: Value, request: &Value) -> Value {
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        match method {
            "ping" => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
            "roots/list"
                if self
                    .options
                    .capabilities
                    .contains(&super::Capability::Roots) =>
            {
                let roots: Vec<Value> = self
                    .options
                    .roots
                    .iter()
                    .map(|r| match &r.name {
                        Some(name) => json!({"uri": r.uri, "name": name}),
                        None => json!({"uri": r.uri}),
                    })
                    .collect();
                json!({"jsonrpc": "2.0", "id": id, "result": {"roots": roots}})
            }
            _ => json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": {"code": METHOD_NOT_FOUND, "message": "method not supported by this client"}
            }),
        }
    }

    fn bad_result(&self, method: &str, problem: ResultProblem) -> McpError {
        McpError::BadResult {
            server: self.transport.server().to_owned(),
            method: method.to_owned(),
            problem,
        }
    }

    /// Follows `nextCursor` through every page of a list method, within the
    /// bounds of [`ClientOptions`] on pages, bytes and entries.
    pub fn list_all(
        &mut self,
        method: &str,
        key: &str,
    ) -> Result<Vec<Map<String, Value>>, McpError> {
        let mut items = Vec::new();
        let mut names = HashSet::new();
        let mut cursors = HashSet::new();
        let mut cursor: Option<String> = None;
        let mut listed_bytes = 0usize;
        for _page in 0..self.options.max_pages {
            let params = cursor.as_ref().map(|c| json!({"cursor": c}));
            let mut result = self.exchange(method, params, Some(&mut listed_bytes))?;
            if result
                .get("resultType")
                .and_then(Value::as_str)
                .is_some_and(|t| t != "complete")
            {
                return Err(self.bad_result(method, ResultProblem::NotComplete));
            }
            let page = match result.get_mut(key).map(Value::take) {
                Some(Value::Array(page)) => page,
                _ => {
                    return Err(self.bad_result(method, ResultProblem::NoArray { key: key.into() }));
                }
            };
            if page.len() > self.options.max_listing_entries.saturating_sub(items.len()) {
                return Err(McpError::TooManyEntries {
                    server: self.transport.server().to_owned(),
                    method: method.to_owned(),
                    limit: self.options.max_listing_entries,
                });
            }
            for item in page {
                let Value::Object(item) = item else {
                    return Err(self
                        .bad_result(method, ResultProblem::EntryNotAnObject { key: key.into() }));
                };
                let Some(name) = item.get("name").and_then(Value::as_str) else {
                    return Err(self
                        .bad_result(method, ResultProblem::EntryWithoutName { key: key.into() }));
                };
                if !names.insert(name.to_owned()) {
                    return Err(McpError::DuplicateName {
                        server: self.transport.server().to_owned(),
                        kind: kind_of(key),
                        name: name.to_owned(),
                    });
                }
                items.push(item);
            }
            match result.get("nextCursor") {
                None | Some(Value::Null) => return Ok(items),
                Some(Value::String(next)) => {
                    if !cursors.insert(next.clone()) {
                        break;
                    }
                    cursor = Some(next.clone());
                }
                Some(_) => return Err(self.bad_result(method, ResultProblem::CursorNotAString)),
            }
        }
        Err(McpError::Pagination {
            server: self.transport.server().to_owned(),
            method: method.to_owned(),
            limit: self.options.max_pages,
        })
    }

    /// Lists tools, prompts and resource templates (each only when the
    /// server declares the capability, as the specification requires).
    pub fn list_everything(&mut self) -> Result<Listing, McpError> {
        let declares = |cap: &str| {
            self.server_capabilities
                .get(cap)
                .is_some_and(|v| !v.is_null())
        };
        let (has_tools, has_prompts, has_resources) = (
            declares("tools"),
            declares("prompts"),
            declares("resources"),
        );
        let tools = if has_tools {
            self.list_all("tools/list", "tools")?
        } else {
            Vec::new()
        };
        let prompts = if has_prompts {
            self.list_all("prompts/list", "prompts")?
        } else {
            Vec::new()
        };
        let resource_templates = if has_resources {
            self.list_all("resources/templates/list", "resourceTemplates")?
        } else {
            Vec::new()
        };
        Ok(Listing {
            protocol_version: self.protocol_version.clone(),
            stateless: self.stateless,
            server_info: self.server_info.clone(),
            server_capabilities: self.server_capabilities.clone(),
            instructions: self.instructions.clone(),
            tools,
            prompts,
            resource_templates,
        })
    }
}

/// What an incoming JSON-RPC message is, by the members it carries.
pub(crate) enum Kind<'a> {
    /// A request from the server, with its id.
    Request(&'a Value),
    Notification,
    /// A response, with the id it answers.
    Response(&'a Value),
    /// An error without id (`"id": null` or none): the server could not take a request.
    UnidentifiedError,
    /// Neither a request, a notification nor a response.
    Neither,
}

impl Kind<'_> {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Kind::Request(_) => "request",
            Kind::Notification => "notification",
            Kind::Response(_) => "response",
            Kind::UnidentifiedError => "unidentified-error",
            Kind::Neither => "neither",
        }
    }
}

pub(crate) fn classify(message: &Value) -> Kind<'_> {
    let has_method = message.get("method").is_some();
    // `"id": null` is how a server answers a request it could not identify.
    match (message.get("id").filter(|v| !v.is_null()), has_method) {
        (Some(id), true) => Kind::Request(id),
        (None, true) => Kind::Notification,
        (Some(id), false) => Kind::Response(id),
        (None, false) if message.get("error").is_some() => Kind::UnidentifiedError,
        (None, false) => Kind::Neither,
    }
}

fn kind_of(key: &str) -> &'static str {
    match key {
        "tools" => "tool",
        "prompts" => "prompt",
        _ => "resource template",
    }
}

fn client_info() -> Value {
    json!({"name": "mcpsig", "version": env!("CARGO_PKG_VERSION")})
}
