//! What the guard reports while it runs: the events handed to the caller, and the audit log
//! they are appended to as JSON lines (spec/guard.md, "Audit log").

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::wire::{Id, LineProblem};
use crate::digest::Digest;
use crate::manifest::pins::ItemKind;

/// Why an entry of a list result was withheld from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HideReason {
    /// No definition of that name is pinned.
    Unpinned,
    /// The live definition's digest is not the pinned one.
    Changed,
    /// Not an object with a string `name`.
    Malformed,
    /// The name appears more than once in the same result.
    Duplicate,
}

/// Why a `tools/call` or `prompts/get` was answered by the guard instead of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RefuseReason {
    /// No definition of that name is pinned.
    Unpinned,
    /// The server's live definition is not the pinned one.
    Changed,
    /// Pinned, but the server's current list does not offer it.
    NotListed,
    /// The guard's own list request to re-check the definitions failed (an error answer, a
    /// malformed or endless listing, the server gone).
    RecheckFailed,
    /// The guard's own list request was not answered in time.
    RecheckTimedOut,
    /// The request has no string `name` parameter.
    NoName,
}

impl RefuseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefuseReason::Unpinned => "unpinned",
            RefuseReason::Changed => "changed",
            RefuseReason::NotListed => "not-listed",
            RefuseReason::RecheckFailed => "recheck-failed",
            RefuseReason::RecheckTimedOut => "recheck-timed-out",
            RefuseReason::NoName => "no-name",
        }
    }

    /// The sentence of the error message sent to the client.
    pub fn explain(self) -> &'static str {
        match self {
            RefuseReason::Unpinned => "it is not pinned in the signed manifest",
            RefuseReason::Changed => "its live definition differs from the signed one",
            RefuseReason::NotListed => "the server does not list it any more",
            RefuseReason::RecheckFailed => "its live definition could not be re-checked",
            RefuseReason::RecheckTimedOut => "the server did not list its definitions in time",
            RefuseReason::NoName => "the request names nothing",
        }
    }
}

/// Why a client message was answered by the guard and not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientProblem {
    Line(LineProblem),
    /// A request id already waiting for its answer.
    DuplicateId,
    /// A request id in the guard's own namespace (`mcpsig-guard/...`).
    ReservedId,
    /// More requests in flight than the limit.
    TooManyPending,
    /// A JSON-RPC object that is neither a request, a notification nor a response.
    NotAMessage,
    /// A `tools/call` or `prompts/get` sent as a notification (no id).
    CallWithoutId,
}

impl ClientProblem {
    /// The kebab-case code in events, the audit log and the error's `data.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientProblem::Line(p) => p.as_str(),
            ClientProblem::DuplicateId => "duplicate-id",
            ClientProblem::ReservedId => "reserved-id",
            ClientProblem::TooManyPending => "too-many-pending",
            ClientProblem::NotAMessage => "not-a-message",
            ClientProblem::CallWithoutId => "call-without-id",
        }
    }
}

impl Serialize for ClientProblem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why the server was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CutOffProblem {
    Line(LineProblem),
    /// A JSON-RPC object that is neither a request, a notification nor a response.
    NotAMessage,
    /// Reading its output failed.
    ReadError,
}

impl CutOffProblem {
    /// The kebab-case code in events and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            CutOffProblem::Line(p) => p.as_str(),
            CutOffProblem::NotAMessage => "not-a-message",
            CutOffProblem::ReadError => "read-error",
        }
    }
}

impl Serialize for CutOffProblem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for CutOffProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CutOffProblem::Line(p) => write!(f, "it wrote a line that is {p}"),
            CutOffProblem::NotAMessage => f.write_str("it wrote an object that is no message"),
            CutOffProblem::ReadError => f.write_str("reading its output failed"),
        }
    }
}

/// One thing the guard did or saw. Names and other text come from the server or the client:
/// escape them before printing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GuardEvent {
    /// The server process started.
    Started { pid: u32 },
    /// A list entry withheld from the client.
    #[serde(rename_all = "camelCase")]
    Hidden {
        kind: ItemKind,
        name: String,
        reason: HideReason,
        #[serde(skip_serializing_if = "Option::is_none")]
        pinned: Option<Digest>,
        #[serde(skip_serializing_if = "Option::is_none")]
        live: Option<Digest>,
    },
    /// More entries of one result were hidden than are reported one by one.
    HiddenMore { kind: ItemKind, count: usize },
    /// A list result that could not be read (no array of entries, a key given twice): the
    /// client gets an error instead.
    ResultWithheld { kind: ItemKind, id: Id },
    /// A call answered by the guard with an error; the server never saw it.
    Refused {
        kind: ItemKind,
        name: String,
        id: Id,
        reason: RefuseReason,
    },
    /// The guard asks the server for its list itself, holding a call until it knows.
    Rechecking { kind: ItemKind },
    /// The server announced a changed list: what the guard knew of it is forgotten.
    ListChanged { kind: ItemKind },
    /// A client line answered with an error, not forwarded.
    ClientRefused {
        problem: ClientProblem,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Id>,
    },
    /// A server response to no request in flight, dropped.
    ResponseDropped { id: Id },
    /// A remote server's response to request `id` sent on the answer to request `answering`,
    /// dropped (a client would take it for `answering`'s answer).
    ForeignAnswer { id: Id, answering: Id },
    /// A request the server did not answer within the request timeout, answered with an error.
    RequestTimedOut { id: Id },
    /// The server broke the protocol and was stopped.
    ServerCutOff { problem: CutOffProblem },
    /// The server exited (`status` as the system describes it).
    ServerExited { status: String },
    /// A remote endpoint's answer refused or cut short by the proxy (`reason`: spec/cli.md).
    UpstreamRefused {
        reason: &'static str,
        detail: String,
    },
    /// `proxy --stdio`: the endpoint answered 404 for the session (it expired, or the server
    /// was restarted); a new one was started with the client's own `initialize`.
    SessionRestarted,
    /// The audit log could not be written; events still reach the caller.
    AuditLogFailed {
        #[serde(skip)]
        path: PathBuf,
        #[serde(skip)]
        kind: std::io::ErrorKind,
    },
}

/// The append-only audit log: one JSON object per line, each written with one `write` and
/// flushed.
pub(crate) struct AuditLog {
    file: File,
    path: PathBuf,
    failed: bool,
}

impl AuditLog {
    /// Opens (or creates, mode 0600) `path` for appending; a symlink there is refused.
    pub(crate) fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        Ok(AuditLog {
            file,
            path: path.to_path_buf(),
            failed: false,
        })
    }

    /// Appends the event; returns an `AuditLogFailed` event the first time writing fails.
    pub(crate) fn write(&mut self, event: &GuardEvent) -> Option<GuardEvent> {
        #[derive(Serialize)]
        struct Line<'a> {
            time: String,
            #[serde(flatten)]
            event: &'a GuardEvent,
        }
        let line = Line {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            event,
        };
        let result = serde_json::to_vec(&line)
            .map_err(std::io::Error::other)
            .and_then(|mut bytes| {
                bytes.push(b'\n');
                self.file.write_all(&bytes)?;
                self.file.flush()
            });
        match result {
            Ok(()) => None,
            Err(e) if !self.failed => {
                self.failed = true;
                Some(GuardEvent::AuditLogFailed {
                    path: self.path.clone(),
                    kind: e.kind(),
                })
            }
            Err(_) => None,
        }
    }
}

impl HideReason {
    fn explain(self) -> &'static str {
        match self {
            HideReason::Unpinned => "not pinned in the signed manifest",
            HideReason::Changed => "its live definition differs from the signed one",
            HideReason::Malformed => "not an object with a string `name`",
            HideReason::Duplicate => "listed more than once",
        }
    }
}

/// One line for a terminal (the caller escapes it: names come from the server or the client).
impl std::fmt::Display for GuardEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuardEvent::Started { pid } => write!(f, "guard: server started (pid {pid})"),
            GuardEvent::Hidden {
                kind, name, reason, ..
            } => write!(f, "guard: hid {kind} `{name}`: {}", reason.explain()),
            GuardEvent::HiddenMore { kind, count } => {
                write!(f, "guard: hid {count} more {kind} entries of the same list")
            }
            GuardEvent::ResultWithheld { kind, id } => write!(
                f,
                "guard: withheld a malformed {kind} list (request {id}); the client got an error"
            ),
            GuardEvent::Refused {
                kind,
                name,
                id,
                reason,
            } => write!(
                f,
                "guard: refused {kind} `{name}` (request {id}): {}",
                reason.explain()
            ),
            GuardEvent::Rechecking { kind } => {
                write!(f, "guard: holding a call while re-checking the {kind} list")
            }
            GuardEvent::ListChanged { kind } => {
                write!(f, "guard: the server says its {kind} list changed")
            }
            GuardEvent::ClientRefused { problem, id } => match id {
                Some(id) => write!(
                    f,
                    "guard: refused client request {id}: {}",
                    problem.as_str()
                ),
                None => write!(f, "guard: refused a client message: {}", problem.as_str()),
            },
            GuardEvent::ForeignAnswer { id, answering } => {
                write!(
                    f,
                    "guard: dropped a server answer to request {id} sent on the answer to request {answering}"
                )
            }
            GuardEvent::ResponseDropped { id } => {
                write!(
                    f,
                    "guard: dropped a server answer to no request in flight ({id})"
                )
            }
            GuardEvent::RequestTimedOut { id } => {
                write!(f, "guard: request {id} timed out; the client got an error")
            }
            GuardEvent::ServerCutOff { problem } => {
                write!(f, "guard: stopped the server: {problem}")
            }
            GuardEvent::ServerExited { status } => write!(f, "guard: the server exited ({status})"),
            GuardEvent::UpstreamRefused { reason, detail } => {
                write!(f, "proxy: [{reason}] {detail}")
            }
            GuardEvent::SessionRestarted => write!(
                f,
                "proxy: the endpoint no longer knew the session (HTTP 404); a new one was started \
                 with the client's initialize, and the request sent again"
            ),
            GuardEvent::AuditLogFailed { path, kind } => write!(
                f,
                "guard: cannot write the audit log `{}` ({kind}); events are no longer recorded there",
                path.display()
            ),
        }
    }
}
