//! The guard: a stdio JSON-RPC proxy between an MCP client and a server child that keeps the
//! running server to its signed tool pins (spec/guard.md). Every line passes byte for byte,
//! except list results (entries that do not match their pins removed), calls to anything
//! unpinned or changed (answered with an error, never forwarded), and what breaks the protocol.
//!
//! The library never prints: what the guard hides or refuses goes to an event callback and,
//! when asked, to an append-only JSON-lines audit log.

pub(crate) mod core;
mod event;
pub(crate) mod wire;

use std::io::{BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

pub use event::{ClientProblem, CutOffProblem, GuardEvent, HideReason, RefuseReason};
pub use wire::{Id, LineProblem, OWN_ID_PREFIX};

use crate::manifest::pins::{PinsError, ToolPins};
use crate::mcp::{LaunchProblem, McpError, StdioLaunch};
use event::AuditLog;
pub(crate) use event::AuditLog as AuditLogHandle;
use wire::LineRead;

/// How often deadlines (re-checks, request timeouts) are looked at.
const TICK: Duration = Duration::from_millis(50);
/// Line buffers start at this size and grow with the longest line seen.
const LINE_CAPACITY: usize = 8 * 1024;
const READ_BUFFER: usize = 64 * 1024;

/// Bounds and timeouts.
#[derive(Debug, Clone)]
pub struct GuardLimits {
    /// The longest line taken from either side. A longer client line is answered with an error
    /// and skipped; a longer server line cuts the server off.
    pub max_message_bytes: usize,
    /// Client requests waiting for an answer (held calls included); past it, requests are
    /// answered with an error.
    pub max_pending: usize,
    /// Pages the guard follows in its own list requests.
    pub max_pages: usize,
    /// How long a call may be held while the guard lists the definitions itself.
    pub recheck_timeout: Duration,
    /// When set, a client request the server has not answered by then gets an error (and the
    /// late answer is dropped). Unset by default: tool calls may legitimately take long.
    pub request_timeout: Option<Duration>,
    /// How long the server has to exit once its input is closed (or once it closed its
    /// output), before it is sent SIGTERM, and then as long again before SIGKILL.
    pub shutdown_grace: Duration,
}

impl Default for GuardLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: crate::mcp::DEFAULT_MAX_MESSAGE_BYTES,
            max_pending: 4096,
            max_pages: crate::mcp::DEFAULT_MAX_PAGES,
            recheck_timeout: crate::mcp::DEFAULT_TIMEOUT,
            request_timeout: None,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// What to guard and how.
#[derive(Debug, Clone)]
pub struct GuardRequest {
    /// The server to start: command, arguments, working directory and its own variables (the
    /// clean base environment is added by the launcher, as for every server mcpsig starts).
    pub server: StdioLaunch,
    /// The pins of the verified manifest.
    pub pins: ToolPins,
    /// Append what was hidden or refused here, as JSON lines (created 0600).
    pub audit_log: Option<PathBuf>,
    pub limits: GuardLimits,
}

/// A signal the caller may pass on to the server (its whole process group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardSignal {
    Interrupt,
    Terminate,
    Hangup,
}

impl ForwardSignal {
    fn rustix(self) -> rustix::process::Signal {
        match self {
            ForwardSignal::Interrupt => rustix::process::Signal::INT,
            ForwardSignal::Terminate => rustix::process::Signal::TERM,
            ForwardSignal::Hangup => rustix::process::Signal::HUP,
        }
    }
}

/// The server process; `status` is set once it is reaped (its process group id is then free
/// for reuse, so nothing is sent to it any more).
struct ChildSlot {
    child: Child,
    status: Option<ExitStatus>,
}

/// A handle on the running server, for passing signals on from another thread.
#[derive(Clone)]
pub struct ServerHandle {
    pid: u32,
    slot: Arc<Mutex<ChildSlot>>,
}

impl ServerHandle {
    /// The server's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` to the server's process group; false when the server is already gone.
    pub fn signal(&self, signal: ForwardSignal) -> bool {
        let slot = lock(&self.slot);
        if slot.status.is_some() {
            return false;
        }
        signal_group(self.pid, signal.rustix())
    }
}

fn signal_group(pid: u32, signal: rustix::process::Signal) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|p| rustix::process::kill_process_group(p, signal).is_ok())
}

/// Why the guard stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuardEnd {
    /// The client closed its input; the server then exited (or was stopped).
    ClientClosed,
    /// The server exited (or closed its output) on its own.
    ServerExited,
    /// The server broke the protocol and was killed.
    ServerCutOff(CutOffProblem),
}

/// How the session ended: the server's exit status (for the caller to exit with) and why.
#[derive(Debug, Clone, Copy)]
pub struct GuardExit {
    pub status: ExitStatus,
    pub end: GuardEnd,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    #[error(transparent)]
    Launch(McpError),
    #[error("the tool pins cannot be enforced")]
    Pins(#[source] PinsError),
    #[error("cannot open audit log `{}`", path.display())]
    AuditLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the guard's threads")]
    Thread(#[source] std::io::Error),
    #[error("cannot wait for the MCP server to exit")]
    Wait(#[source] std::io::Error),
}

struct Parts {
    slot: Arc<Mutex<ChildSlot>>,
    pid: u32,
    stdin: ChildStdin,
    stdout: ChildStdout,
    core: core::Core,
    audit: Option<AuditLog>,
    limits: GuardLimits,
    _cache_dir: Option<tempfile::TempDir>,
}

/// A started server, ready to be guarded. Dropping it without [`Guard::run`] kills the server.
pub struct Guard {
    parts: Option<Parts>,
    handle: ServerHandle,
}

/// Starts the server and guards it until it exits; see [`Guard::run`].
pub fn run<R, W, E>(
    request: GuardRequest,
    client_in: R,
    client_out: W,
    events: E,
) -> Result<GuardExit, GuardError>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
    E: FnMut(GuardEvent) + Send + 'static,
{
    Guard::start(request)?.run(client_in, client_out, events)
}

impl Guard {
    /// Checks the pins, opens the audit log, and starts the server (clean environment, own
    /// process group, stdin and stdout piped, stderr inherited).
    pub fn start(request: GuardRequest) -> Result<Guard, GuardError> {
        request.pins.validate().map_err(GuardError::Pins)?;
        let audit = match &request.audit_log {
            Some(path) => Some(AuditLog::open(path).map_err(|source| GuardError::AuditLog {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let (mut child, cache_dir) =
            crate::mcp::stdio::spawn_child(&request.server, Stdio::inherit())
                .map_err(GuardError::Launch)?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            crate::mcp::stdio::kill_and_reap(&mut child);
            return Err(GuardError::Launch(McpError::InvalidLaunch {
                problem: LaunchProblem::NoPipes,
            }));
        };
        let pid = child.id();
        let slot = Arc::new(Mutex::new(ChildSlot {
            child,
            status: None,
        }));
        Ok(Guard {
            handle: ServerHandle {
                pid,
                slot: Arc::clone(&slot),
            },
            parts: Some(Parts {
                slot,
                pid,
                stdin,
                stdout,
                core: core::Core::new(&request.pins, request.limits.clone()),
                audit,
                limits: request.limits,
                _cache_dir: cache_dir,
            }),
        })
    }

    /// A handle for passing signals on to the server, usable from another thread while
    /// [`Guard::run`] runs.
    pub fn server(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Proxies between the client (`client_in`, `client_out`) and the server until the server
    /// exits, and returns its exit status. When the client closes its input, the server's
    /// input is closed; a server that does not exit within the grace period is sent SIGTERM,
    /// then SIGKILL. The thread reading `client_in` may outlive this call until that input
    /// ends; it does nothing more once the server is gone.
    pub fn run<R, W, E>(
        mut self,
        client_in: R,
        client_out: W,
        events: E,
    ) -> Result<GuardExit, GuardError>
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
        E: FnMut(GuardEvent) + Send + 'static,
    {
        let Some(parts) = self.parts.take() else {
            return Err(GuardError::Wait(std::io::Error::other(
                "the guard already ran",
            )));
        };
        let Parts {
            slot,
            pid,
            stdin,
            stdout,
            core,
            audit,
            limits,
            _cache_dir,
        } = parts;
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            server_in: Mutex::new(Some(stdin)),
            client_out: Mutex::new(Box::new(client_out)),
            reporter: Mutex::new(Reporter {
                events: Box::new(events),
                audit,
            }),
            finished: AtomicBool::new(false),
            client_gone: AtomicBool::new(false),
            server_writes: AtomicUsize::new(0),
            slot: Arc::clone(&slot),
            pid,
        });
        shared.report(vec![GuardEvent::Started { pid }]);
        let spawned = {
            let s = Arc::clone(&shared);
            let l = limits.clone();
            thread::Builder::new()
                .name("mcpsig-guard-client".into())
                .spawn(move || client_pump(&s, client_in, &l))
        }
        .and_then(|_| {
            let s = Arc::clone(&shared);
            thread::Builder::new()
                .name("mcpsig-guard-tick".into())
                .spawn(move || ticker(&s))
        });
        let end = match spawned {
            Ok(_) => server_pump(&shared, stdout, limits.max_message_bytes),
            Err(e) => {
                shared.finished.store(true, Ordering::SeqCst);
                shared.close_server_input();
                let _ = wait_child(&slot, pid, Duration::ZERO);
                return Err(GuardError::Thread(e));
            }
        };
        if let GuardEnd::ServerCutOff(problem) = end {
            // Whatever else it would say is not to be trusted.
            signal_group(pid, rustix::process::Signal::KILL);
            shared.report(vec![GuardEvent::ServerCutOff { problem }]);
        }
        let gone = shared.decide(core::Core::server_gone, outcome);
        let mut staged = Vec::new();
        shared.apply(gone, &[], Dest::Client, &mut staged);
        shared.flush_staged(Dest::Client, &mut staged);
        shared.finished.store(true, Ordering::SeqCst);
        shared.close_server_input();
        let status = wait_child(&slot, pid, limits.shutdown_grace).map_err(GuardError::Wait)?;
        shared.report(vec![GuardEvent::ServerExited {
            status: status.to_string(),
        }]);
        let end = match end {
            GuardEnd::ServerExited if shared.client_gone.load(Ordering::SeqCst) => {
                GuardEnd::ClientClosed
            }
            e => e,
        };
        Ok(GuardExit { status, end })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(parts) = self.parts.take() {
            let mut slot = lock(&parts.slot);
            crate::mcp::stdio::kill_and_reap(&mut slot.child);
        }
    }
}

struct Reporter {
    events: Box<dyn FnMut(GuardEvent) + Send>,
    audit: Option<AuditLog>,
}

/// What the pumps share. Each lock is held only for one decision or one write.
struct Shared {
    core: Mutex<core::Core>,
    server_in: Mutex<Option<ChildStdin>>,
    client_out: Mutex<Box<dyn Write + Send>>,
    reporter: Mutex<Reporter>,
    finished: AtomicBool,
    client_gone: AtomicBool,
    /// Decisions taken with lines for the server that are not yet written: the client pump
    /// does not close the server's input while one is in flight (a call released from a
    /// re-check after the client's input ended must still reach the server).
    server_writes: AtomicUsize,
    slot: Arc<Mutex<ChildSlot>>,
    pid: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dest {
    Server,
    Client,
}

impl Shared {
    /// Carries out one decision. Lines for `forward_to` (the pump's own direction) are staged
    /// in `staged` and written when the pump has no more input buffered, so that a burst of
    /// messages costs one write, and a lone message is written at once.
    fn apply(&self, out: core::Outcome, line: &[u8], forward_to: Dest, staged: &mut Vec<u8>) {
        let counted = !out.to_server.is_empty();
        self.apply_lines(out, line, forward_to, staged);
        if counted {
            self.server_writes.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Takes one decision under the core's lock. One with lines for the server is counted in
    /// `server_writes` before the lock is let go, and [`Shared::apply`] uncounts it once written.
    fn decide<T>(
        &self,
        f: impl FnOnce(&mut core::Core) -> T,
        outcome: impl Fn(&T) -> Option<&core::Outcome>,
    ) -> T {
        let mut core = lock(&self.core);
        let decided = f(&mut core);
        if outcome(&decided).is_some_and(|o| !o.to_server.is_empty()) {
            self.server_writes.fetch_add(1, Ordering::SeqCst);
        }
        decided
    }

    fn apply_lines(&self, out: core::Outcome, line: &[u8], forward_to: Dest, staged: &mut Vec<u8>) {
        if out.forward {
            staged.extend_from_slice(line);
        }
        for (dest, lines) in [
            (Dest::Server, &out.to_server),
            (Dest::Client, &out.to_client),
        ] {
            for l in lines {
                if dest == forward_to {
                    staged.extend_from_slice(l);
                } else {
                    self.write(dest, l);
                }
            }
        }
        if !out.events.is_empty() {
            self.report(out.events);
        }
    }

    fn write(&self, dest: Dest, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match dest {
            Dest::Server => self.to_server(bytes),
            Dest::Client => self.to_client(bytes),
        }
    }

    fn flush_staged(&self, dest: Dest, staged: &mut Vec<u8>) {
        self.write(dest, staged);
        staged.clear();
    }

    /// Closes the server's stdin unless a write to it is under way: that write is blocked on a
    /// server that does not read, and ends (failing) once the server is stopped.
    fn close_server_input(&self) {
        if let Ok(mut stdin) = self.server_in.try_lock() {
            stdin.take();
        }
    }

    /// A failed write means the server is gone; its pump sees that and ends the session.
    fn to_server(&self, line: &[u8]) {
        if let Some(stdin) = lock(&self.server_in).as_mut() {
            let _ = stdin.write_all(line);
        }
    }

    /// A failed write means the client is gone; its input ends soon after.
    fn to_client(&self, line: &[u8]) {
        let mut out = lock(&self.client_out);
        let _ = out.write_all(line).and_then(|()| out.flush());
    }

    fn report(&self, events: Vec<GuardEvent>) {
        let mut reporter = lock(&self.reporter);
        for event in events {
            let failed = reporter.audit.as_mut().and_then(|a| a.write(&event));
            (reporter.events)(event);
            if let Some(f) = failed {
                (reporter.events)(f);
            }
        }
    }
}

/// For [`Shared::decide`]: a plain decision is its own outcome.
fn outcome(o: &core::Outcome) -> Option<&core::Outcome> {
    Some(o)
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a complete line is already buffered: reading it cannot block, so what is staged can
/// wait (bounded by the read buffer and one line).
fn has_line(buffered: &[u8]) -> bool {
    buffered.contains(&b'\n')
}

fn client_pump(shared: &Shared, input: impl Read, limits: &GuardLimits) {
    let mut reader = BufReader::with_capacity(READ_BUFFER, input);
    let mut line = Vec::with_capacity(LINE_CAPACITY);
    let mut staged = Vec::with_capacity(LINE_CAPACITY);
    loop {
        if !has_line(reader.buffer()) {
            shared.flush_staged(Dest::Server, &mut staged);
        }
        let read = wire::read_line(&mut reader, &mut line, limits.max_message_bytes);
        if shared.finished.load(Ordering::SeqCst) {
            return;
        }
        let out = match read {
            Ok(LineRead::Line) => shared.decide(|c| c.client_line(&line, Instant::now()), outcome),
            Ok(LineRead::TooLarge) => {
                let _ = wire::skip_line(&mut reader);
                shared.decide(core::Core::client_too_large, outcome)
            }
            Ok(LineRead::Eof) | Err(_) => break,
        };
        shared.apply(out, &line, Dest::Server, &mut staged);
    }
    shared.flush_staged(Dest::Server, &mut staged);
    // The client's input ended, but calls it sent may be held for a re-check: they are still
    // forwarded (or refused) before the server's input is closed, within the re-check bound.
    let deadline = Instant::now() + limits.recheck_timeout;
    while (lock(&shared.core).holding() || shared.server_writes.load(Ordering::SeqCst) > 0)
        && !shared.finished.load(Ordering::SeqCst)
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(5));
    }
    // The client is gone: the server sees the end of its input and gets the grace period to
    // exit, then SIGTERM, then SIGKILL.
    shared.client_gone.store(true, Ordering::SeqCst);
    lock(&shared.server_in).take();
    for signal in [rustix::process::Signal::TERM, rustix::process::Signal::KILL] {
        let deadline = Instant::now() + limits.shutdown_grace;
        while Instant::now() < deadline {
            if shared.finished.load(Ordering::SeqCst) {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let slot = lock(&shared.slot);
        if slot.status.is_some() || shared.finished.load(Ordering::SeqCst) {
            return;
        }
        signal_group(shared.pid, signal);
    }
}

fn ticker(shared: &Shared) {
    while !shared.finished.load(Ordering::SeqCst) {
        thread::sleep(TICK);
        let out = shared.decide(|c| c.tick(Instant::now()), outcome);
        let mut staged = Vec::new();
        shared.apply(out, &[], Dest::Client, &mut staged);
        shared.flush_staged(Dest::Client, &mut staged);
    }
}

fn server_pump(shared: &Shared, stdout: ChildStdout, limit: usize) -> GuardEnd {
    let mut reader = BufReader::with_capacity(READ_BUFFER, stdout);
    let mut line = Vec::with_capacity(LINE_CAPACITY);
    let mut staged = Vec::with_capacity(LINE_CAPACITY);
    let end = loop {
        if !has_line(reader.buffer()) {
            shared.flush_staged(Dest::Client, &mut staged);
        }
        match wire::read_line(&mut reader, &mut line, limit) {
            Ok(LineRead::Line) => {
                let decided = shared.decide(
                    |c| c.server_line(&line, Instant::now()),
                    |d| d.as_ref().ok(),
                );
                match decided {
                    Ok(out) => shared.apply(out, &line, Dest::Client, &mut staged),
                    Err(problem) => break GuardEnd::ServerCutOff(problem),
                }
            }
            Ok(LineRead::TooLarge) => {
                break GuardEnd::ServerCutOff(CutOffProblem::Line(LineProblem::TooLarge));
            }
            Ok(LineRead::Eof) => break GuardEnd::ServerExited,
            Err(_) => break GuardEnd::ServerCutOff(CutOffProblem::ReadError),
        }
    };
    // What was decided before the server went wrong still reaches the client.
    shared.flush_staged(Dest::Client, &mut staged);
    end
}

/// Waits for the server to exit, at most `grace` before killing its process group. Whatever
/// the server left running in its group is killed before the server is reaped (while the group
/// id cannot have been reused).
fn wait_child(slot: &Mutex<ChildSlot>, pid: u32, grace: Duration) -> std::io::Result<ExitStatus> {
    use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
    let deadline = Instant::now() + grace;
    loop {
        {
            let mut slot = lock(slot);
            if let Some(status) = slot.status {
                return Ok(status);
            }
            let exited = i32::try_from(pid)
                .ok()
                .and_then(Pid::from_raw)
                .map(|p| {
                    waitid(
                        WaitId::Pid(p),
                        WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
                    )
                })
                .is_some_and(|r| matches!(r, Ok(Some(_))));
            if exited || Instant::now() >= deadline {
                signal_group(pid, rustix::process::Signal::KILL);
                let status = slot.child.wait()?;
                slot.status = Some(status);
                return Ok(status);
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
}
