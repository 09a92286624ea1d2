//! The stdio transport: a child process in its own process group, one JSON-RPC
//! message per line on stdin/stdout, stderr kept in a bounded ring buffer.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::error::{GarbageProblem, LaunchProblem, McpError};
use super::{Received, StdioLaunch, Transport};

/// How much of the server's stderr is kept (the newest bytes win).
const STDERR_RING_BYTES: usize = 16 * 1024;
/// How much of that ring goes into an error message.
const STDERR_TAIL_BYTES: usize = 2 * 1024;
/// How long to wait for a closing server's exit status and last stderr bytes.
const EXIT_GRACE: Duration = Duration::from_millis(300);
/// Parsed messages buffered ahead of the client. One: a parsed message can be
/// many times its line's size, so the reader holds at most this one plus the one
/// it waits to hand over, however fast the server writes.
const INCOMING_QUEUE: usize = 1;
/// Lines queued for a server that is not reading its input; past this, it is an error
/// rather than a write that blocks forever.
const OUTGOING_QUEUE: usize = 256;

enum Incoming {
    /// A message and the length of its line.
    Message(Value, usize),
    Garbage {
        problem: GarbageProblem,
        excerpt: String,
    },
    TooLarge,
    Eof,
    ReadError(io::Error),
}

/// A running server process. Dropping it kills the whole process group and
/// reaps the child, whatever state the server is in.
pub(crate) struct StdioTransport {
    server: String,
    child: Child,
    /// Lines for the writer thread; `None` once closed.
    outgoing: Option<SyncSender<Vec<u8>>>,
    /// Why the writer thread stopped, if it did.
    write_error: Arc<Mutex<Option<io::Error>>>,
    incoming: Receiver<Incoming>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    stderr_done: Receiver<()>,
    max_message_bytes: usize,
    /// The launch's private interpreter-cache directory, removed when the transport is dropped
    /// (after the server's process group is killed).
    _cache_dir: Option<tempfile::TempDir>,
}

impl StdioTransport {
    pub(crate) fn spawn(launch: &StdioLaunch, max_message_bytes: usize) -> Result<Self, McpError> {
        let server = format!("`{}`", launch.display());
        let (mut child, cache_dir) = spawn_child(launch, Stdio::piped())?;
        let (stdin, stdout, child_stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    kill_and_reap(&mut child);
                    return Err(McpError::InvalidLaunch {
                        problem: LaunchProblem::NoPipes,
                    });
                }
            };

        let (tx, incoming) = mpsc::sync_channel(INCOMING_QUEUE);
        thread::spawn(move || read_messages(stdout, tx, max_message_bytes));

        // Writes happen on their own thread so that a server that stops reading
        // its input can never block the client past its timeouts.
        let (out_tx, out_rx) = mpsc::sync_channel::<Vec<u8>>(OUTGOING_QUEUE);
        let write_error = Arc::new(Mutex::new(None));
        let write_error_slot = Arc::clone(&write_error);
        thread::spawn(move || write_messages(stdin, out_rx, &write_error_slot));

        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(1024)));
        let ring = Arc::clone(&stderr);
        let (done_tx, stderr_done) = mpsc::channel::<()>();
        thread::spawn(move || {
            collect_stderr(child_stderr, &ring);
            drop(done_tx);
        });

        Ok(Self {
            server,
            child,
            outgoing: Some(out_tx),
            write_error,
            incoming,
            stderr,
            stderr_done,
            max_message_bytes,
            _cache_dir: cache_dir,
        })
    }

    /// Waits a little for the process to exit and stderr to drain, for the error message.
    fn exit_status(&mut self) -> Option<String> {
        let _ = self.stderr_done.recv_timeout(EXIT_GRACE);
        let until = Instant::now() + EXIT_GRACE;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status.to_string()),
                Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(10)),
                _ => return None,
            }
        }
    }
}

impl Transport for StdioTransport {
    fn server(&self) -> &str {
        &self.server
    }

    fn send(&mut self, message: &Value) -> Result<(), McpError> {
        let mut line = serde_json::to_vec(message).map_err(|source| McpError::Encode {
            server: self.server.clone(),
            source,
        })?;
        line.push(b'\n');
        let failure = match self.outgoing.as_ref() {
            None => Some(io::Error::new(io::ErrorKind::BrokenPipe, "stdin closed")),
            Some(tx) => match tx.try_send(line) {
                Ok(()) => None,
                Err(TrySendError::Full(_)) => Some(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("the server has not read its last {OUTGOING_QUEUE} messages"),
                )),
                Err(TrySendError::Disconnected(_)) => {
                    let mut slot = self.write_error.lock().unwrap_or_else(|p| p.into_inner());
                    Some(slot.take().unwrap_or_else(|| {
                        io::Error::new(io::ErrorKind::BrokenPipe, "stdin closed")
                    }))
                }
            },
        };
        match failure {
            None => Ok(()),
            Some(source) => {
                self.outgoing = None;
                let _ = self.exit_status();
                Err(McpError::Write {
                    server: self.server.clone(),
                    stderr_tail: self.stderr_tail(),
                    source,
                })
            }
        }
    }

    fn recv(
        &mut self,
        deadline: Instant,
        method: &str,
        timeout: Duration,
    ) -> Result<Received, McpError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let event = match self.incoming.recv_timeout(wait) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                return Err(McpError::Timeout {
                    server: self.server.clone(),
                    method: method.to_owned(),
                    timeout,
                    stderr_tail: self.stderr_tail(),
                });
            }
            Err(RecvTimeoutError::Disconnected) => Incoming::Eof,
        };
        match event {
            Incoming::Message(message, bytes) => Ok(Received { message, bytes }),
            Incoming::Garbage { problem, excerpt } => Err(McpError::Garbage {
                server: self.server.clone(),
                problem,
                excerpt,
                stderr_tail: self.stderr_tail(),
            }),
            Incoming::TooLarge => Err(McpError::MessageTooLarge {
                server: self.server.clone(),
                limit: self.max_message_bytes,
            }),
            Incoming::Eof | Incoming::ReadError(_) => {
                let status = match event {
                    Incoming::ReadError(e) => Some(format!("reading its output failed: {e}")),
                    _ => self.exit_status(),
                };
                Err(McpError::Closed {
                    server: self.server.clone(),
                    method: method.to_owned(),
                    status,
                    stderr_tail: self.stderr_tail(),
                })
            }
        }
    }

    fn stderr_tail(&self) -> String {
        let ring = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let skip = ring.len().saturating_sub(STDERR_TAIL_BYTES);
        let bytes: Vec<u8> = ring.iter().skip(skip).copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for StdioTransport {
    fn drop(&mut self) {
        // Closing stdin first costs nothing and lets a well-behaved server see EOF.
        self.outgoing.take();
        kill_and_reap(&mut self.child);
    }
}

/// Starts a server process with the clean launch environment (the base of
/// [`super::env::BASE_VARS`], the launch's own variables, private interpreter caches), stdin and
/// stdout piped, `stderr` as given, in its own process group. The returned directory holds the
/// launch's interpreter caches: keep it until the process is gone. The one place a server
/// process is built, for the client here and for the guard.
pub(crate) fn spawn_child(
    launch: &StdioLaunch,
    stderr: Stdio,
) -> Result<(Child, Option<tempfile::TempDir>), McpError> {
    if launch.program.is_empty() {
        return Err(McpError::InvalidLaunch {
            problem: LaunchProblem::EmptyCommand,
        });
    }
    for (name, _) in &launch.env {
        super::env::check_name(name).map_err(McpError::Env)?;
    }
    // Interpreter caches go to a private, empty directory of this launch: nothing
    // compiled that sits in (or is planted in) the server's tree is ever loaded. A verified
    // snapshot holds only hashed files, so there Python may use its own caches.
    let cache_dir = match launch.bytecode {
        super::BytecodeCache::Private => Some(
            tempfile::Builder::new()
                .prefix("mcpsig-cache-")
                .tempdir()
                .map_err(|source| McpError::Spawn {
                    program: launch.program.clone(),
                    source,
                })?,
        ),
        super::BytecodeCache::Interpreter => None,
    };
    let mut cmd = Command::new(&launch.program);
    cmd.args(&launch.args)
        .env_clear()
        .envs(super::env::base_from_current())
        .envs(launch.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &cache_dir {
        cmd.env("PYTHONPYCACHEPREFIX", dir.path());
    }
    cmd.env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NODE_DISABLE_COMPILE_CACHE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        // Own process group, so that killing it also ends whatever the
        // server started (npx -> node, a shell wrapper -> python, ...).
        .process_group(0);
    if let Some(cwd) = &launch.cwd {
        cmd.current_dir(cwd);
    }
    let child = cmd.spawn().map_err(|source| McpError::Spawn {
        program: launch.program.clone(),
        source,
    })?;
    Ok((child, cache_dir))
}

/// Kills the child's process group (then the child itself, in case the group is
/// gone) and waits for it, so no zombie or orphaned server outlives the client.
pub(crate) fn kill_and_reap(child: &mut Child) {
    // The group id is the child's pid (process_group(0)); it stays reserved
    // until the child is reaped below, so this cannot hit an unrelated group.
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn write_messages(
    mut stdin: ChildStdin,
    lines: Receiver<Vec<u8>>,
    error: &Mutex<Option<io::Error>>,
) {
    for line in lines {
        if let Err(e) = stdin.write_all(&line).and_then(|()| stdin.flush()) {
            *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            return;
        }
    }
}

fn read_messages(stdout: impl Read, tx: SyncSender<Incoming>, limit: usize) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    loop {
        let event = match read_line_bounded(&mut reader, &mut line, limit) {
            Ok(LineRead::Eof) => Incoming::Eof,
            Ok(LineRead::TooLarge) => Incoming::TooLarge,
            Ok(LineRead::Line) => match decode_line(&line) {
                Some(event) => event,
                None => continue,
            },
            Err(e) => Incoming::ReadError(e),
        };
        let last = !matches!(event, Incoming::Message(..));
        // A send error means the client is gone; nothing is left to do.
        if tx.send(event).is_err() || last {
            return;
        }
    }
}

/// One line of server output as the client takes it: `None` for a blank line
/// (skipped), else a message (a JSON object, parsed strictly) or garbage.
fn decode_line(line: &[u8]) -> Option<Incoming> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(match crate::json::parse_value(line) {
        Ok(v) if v.is_object() => Incoming::Message(v, line.len()),
        Ok(_) => Incoming::Garbage {
            problem: GarbageProblem::NotAnObject,
            excerpt: excerpt(line),
        },
        Err(e) => Incoming::Garbage {
            problem: GarbageProblem::Json(e),
            excerpt: excerpt(line),
        },
    })
}

/// What the client makes of one line: `blank`, `garbage`, or the message's
/// [`super::session::classify`] kind. For the fuzz targets.
pub(crate) fn describe_line(line: &[u8]) -> &'static str {
    match decode_line(line) {
        None => "blank",
        Some(Incoming::Message(message, _)) => super::session::classify(&message).as_str(),
        Some(_) => "garbage",
    }
}

fn excerpt(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        out.push_str("...");
    }
    out
}

/// How a bounded line read ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// A line is in the buffer.
    Line,
    Eof,
    /// The line passed the limit; the buffer holds its start, the rest is still unread.
    TooLarge,
}

/// Reads one `\n`-terminated line into `buf` without ever holding more than
/// `limit` bytes, so a server that never writes a newline cannot exhaust memory.
/// The line is stored without its `\n` and without a `\r` before it.
pub(crate) fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<LineRead> {
    let (read, terminated) = read_line_content(r, buf, limit)?;
    if read == LineRead::Line && terminated && buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(read)
}

/// As [`read_line_bounded`], but the line is kept exactly as sent, with its `\n` (added when
/// the input ended without one): what a proxy forwards byte for byte.
pub fn read_raw_line(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<LineRead> {
    let (read, _) = read_line_content(r, buf, limit)?;
    if read == LineRead::Line {
        buf.push(b'\n');
    }
    Ok(read)
}

/// The bytes of one line before its `\n` (consumed, not stored), at most `limit` of them, and
/// whether the `\n` was there (false for a last line the input ended without one).
fn read_line_content(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<(LineRead, bool)> {
    buf.clear();
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            let read = if buf.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Line
            };
            return Ok((read, false));
        }
        let (take, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (available.len(), false),
        };
        if buf.len() + take > limit {
            return Ok((LineRead::TooLarge, false));
        }
        buf.extend_from_slice(&available[..take]);
        r.consume(if found { take + 1 } else { take });
        if found {
            return Ok((LineRead::Line, true));
        }
    }
}

fn collect_stderr(mut stderr: impl Read, ring: &Mutex<VecDeque<u8>>) {
    let mut chunk = [0u8; 4096];
    loop {
        let n = match stderr.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let mut ring = ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.extend(&chunk[..n]);
        let excess = ring.len().saturating_sub(STDERR_RING_BYTES);
        ring.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let mut r = BufReader::with_capacity(4, &b"ab\r\ncdef\nxyz"[..]);
        let mut buf = Vec::new();
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 10).ok(),
            Some(LineRead::Line)
        );
        assert_eq!(buf, b"ab");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 10).ok(),
            Some(LineRead::Line)
        );
        assert_eq!(buf, b"cdef");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 10).ok(),
            Some(LineRead::Line)
        );
        assert_eq!(buf, b"xyz");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 10).ok(),
            Some(LineRead::Eof)
        );
    }

    #[test]
    fn overlong_line_is_refused() {
        let long = [b'a'; 100];
        let mut r = BufReader::with_capacity(8, &long[..]);
        let mut buf = Vec::new();
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 50).ok(),
            Some(LineRead::TooLarge)
        );
        assert!(buf.len() <= 50);
    }
}
