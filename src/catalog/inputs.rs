//! Where a catalog's bundles come from, streamed one at a time: a bundle file named on the
//! command line, a directory walked through directory descriptors (never following a symbolic
//! link, so nothing outside it is read), or a JSON-lines list. Nothing is collected: bundles
//! are queued for the workers as they are found, a small batch at a time.

use super::{BATCH, CatalogError, Entry, Input, Job, Outcome};
use crate::fsutil::ReadError;
use crate::reason::Reason;
use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, fstat, openat, statat};
use rustix::io::Errno;
use std::ffi::{CStr, CString, OsStr};
use std::io::{BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError};

/// The bundle file name suffix a directory walk picks (spec/bundle.md).
pub const BUNDLE_SUFFIX: &str = ".sigstore.json";

/// A command-line PATH with this suffix is a JSON-lines list of bundles.
pub const LIST_SUFFIX: &str = ".jsonl";

/// How many directory levels below a PATH are walked; a deeper directory is reported, not
/// walked.
pub const MAX_DEPTH: usize = 32;

/// The longest line a list may hold.
pub const MAX_LIST_LINE_BYTES: usize = 64 * 1024;

/// How a worker opens a bundle it was handed.
pub(super) enum Open {
    /// Named on the command line or in a list: symbolic links are followed (the user named it).
    Path(PathBuf),
    /// Found by a walk: opened through its directory's descriptor, never following a link.
    At { dir: Arc<OwnedFd>, name: CString },
}

impl Open {
    /// The bundle's bytes, bounded as `verify::read_bundle_file` bounds them; a fifo or device
    /// is refused without blocking on it. `shown` names it in errors.
    pub(super) fn read(&self, shown: &str) -> Result<Vec<u8>, ReadError> {
        let path = Path::new(shown);
        let io = |source: std::io::Error| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match self {
            Open::Path(p) => openat(CWD, p, flags, Mode::empty()).map_err(|e| io(e.into()))?,
            Open::At { dir, name } => {
                openat(
                    &**dir,
                    name.as_c_str(),
                    flags | OFlags::NOFOLLOW,
                    Mode::empty(),
                )
                .map_err(|e| match e {
                    // Listed as a regular file, now a symbolic link: swapped during the walk.
                    Errno::LOOP => io(std::io::Error::other(
                        "is now a symbolic link (not followed)",
                    )),
                    e => io(e.into()),
                })?
            }
        };
        let stat = fstat(&fd).map_err(|e| io(e.into()))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(io(std::io::Error::other("not a regular file")));
        }
        crate::verify::read_bundle(std::fs::File::from(fd), path)
    }
}

/// Every input named on the command line must exist (and a list be readable) before any
/// bundle is verified: a typo is a usage error, not an entry of the report.
pub(super) fn check(inputs: &[Input]) -> Result<(), CatalogError> {
    let mut stdin = false;
    for input in inputs {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CatalogError::Input { path, source }
        };
        match input {
            Input::Stdin if stdin => return Err(CatalogError::StdinTwice),
            Input::Stdin => stdin = true,
            Input::Path(p) => {
                std::fs::metadata(p).map_err(err(p))?;
            }
            Input::List(p) => {
                std::fs::File::open(p).map_err(err(p))?;
            }
        }
    }
    Ok(())
}

/// The one thread that reads the inputs and numbers what it finds.
pub(super) struct Producer {
    pub jobs: SyncSender<Vec<Job>>,
    /// Entries decided without a worker (skipped, unreadable directories, bad list lines).
    pub direct: Sender<Vec<(u64, Entry)>>,
    /// One token per entry in flight (the reorder window).
    pub tokens: Receiver<()>,
    pub seq: u64,
    /// Jobs not yet sent: at most [`BATCH`], and always sent before this thread waits.
    pub pending: Vec<Job>,
}

/// A directory being walked: its descriptor (which the bundles found in it are opened
/// through), its listing, and how it is shown.
struct Level {
    fd: Arc<OwnedFd>,
    dir: Dir,
    shown: PathBuf,
    depth: usize,
}

impl Producer {
    /// Walks the inputs in order. Stops early only when the printer or the workers are gone.
    pub(super) fn run(mut self, inputs: &[Input]) {
        for input in inputs {
            let go_on = match input {
                Input::Path(p) => self.path(p),
                Input::List(p) => match std::fs::File::open(p) {
                    Ok(f) => {
                        let base = p.parent().map(Path::to_path_buf);
                        self.list(BufReader::new(f), p, base.as_deref())
                    }
                    Err(e) => self.undecided(
                        p,
                        Reason::Io,
                        &ReadError::Io {
                            path: p.clone(),
                            source: e,
                        },
                    ),
                },
                Input::Stdin => self.list(BufReader::new(std::io::stdin()), Path::new("-"), None),
            };
            if !go_on {
                return;
            }
        }
        self.flush();
    }

    /// The next sequence number, once the window has room; `None` when the printer is gone.
    /// Before waiting, the pending jobs are sent: the entry the printer waits for may be one.
    fn next_seq(&mut self) -> Option<u64> {
        match self.tokens.try_recv() {
            Ok(()) => {}
            Err(TryRecvError::Empty) => {
                if !self.flush() {
                    return None;
                }
                self.tokens.recv().ok()?;
            }
            Err(TryRecvError::Disconnected) => return None,
        }
        let seq = self.seq;
        self.seq += 1;
        Some(seq)
    }

    /// Sends the pending jobs; false when the workers are gone.
    fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        self.jobs.send(batch).is_ok()
    }

    fn job(&mut self, shown: &Path, open: Open) -> bool {
        let Some(seq) = self.next_seq() else {
            return false;
        };
        let path = shown_path(shown);
        self.pending.push(Job { seq, path, open });
        self.pending.len() < BATCH || self.flush()
    }

    fn entry(&mut self, shown: &Path, outcome: Outcome) -> bool {
        let Some(seq) = self.next_seq() else {
            return false;
        };
        let path = shown_path(shown);
        self.direct
            .send(vec![(seq, Entry { path, outcome })])
            .is_ok()
    }

    fn undecided(&mut self, shown: &Path, reason: Reason, e: &dyn std::error::Error) -> bool {
        let message = crate::error_chain(e);
        self.entry(shown, Outcome::Undecided { reason, message })
    }

    fn skipped(&mut self, shown: &Path, why: &str) -> bool {
        let why = why.to_owned();
        self.entry(shown, Outcome::Skipped { why })
    }

    /// A PATH: a directory is walked, anything else is a bundle (symbolic links followed).
    fn path(&mut self, p: &Path) -> bool {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => self.walk(p),
            Ok(_) => self.job(p, Open::Path(p.to_path_buf())),
            Err(source) => self.undecided(
                p,
                Reason::Io,
                &ReadError::Io {
                    path: p.to_path_buf(),
                    source,
                },
            ),
        }
    }

    /// Every `*.sigstore.json` regular file under `root`, to [`MAX_DEPTH`] levels, in listing
    /// order. Symbolic links below `root` are never followed; those that could matter (named
    /// like a bundle, or pointing at a directory) are reported as skipped.
    fn walk(&mut self, root: &Path) -> bool {
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        // The root itself was named by the user: a link to it is followed.
        let opened = openat(CWD, root, dir_flags, Mode::empty())
            .and_then(|fd| Ok((Dir::read_from(&fd)?, fd)));
        let mut stack = match opened {
            Ok((dir, fd)) => vec![Level {
                fd: Arc::new(fd),
                dir,
                shown: root.to_path_buf(),
                depth: 0,
            }],
            Err(e) => return self.undecided(root, Reason::Io, &list_error(root, e)),
        };
        while let Some(level) = stack.last_mut() {
            let item = match level.dir.read() {
                None => {
                    stack.pop();
                    continue;
                }
                Some(Err(e)) => {
                    let shown = level.shown.clone();
                    stack.pop();
                    if !self.undecided(&shown, Reason::Io, &list_error(&shown, e)) {
                        return false;
                    }
                    continue;
                }
                Some(Ok(item)) => item,
            };
            let name = item.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            let shown = level.shown.join(OsStr::from_bytes(name.to_bytes()));
            let fd = Arc::clone(&level.fd);
            let depth = level.depth;
            let kind = match item.file_type() {
                FileType::Unknown => statat(&*fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_or(FileType::Unknown, |st| FileType::from_raw_mode(st.st_mode)),
                kind => kind,
            };
            let named_like_a_bundle = name.to_bytes().ends_with(BUNDLE_SUFFIX.as_bytes());
            let go_on = match kind {
                FileType::Directory if depth >= MAX_DEPTH => self.undecided(
                    &shown,
                    Reason::Error,
                    &std::io::Error::other(format!(
                        "directory `{}` is more than {MAX_DEPTH} levels below `{}`: not walked",
                        shown.display(),
                        root.display()
                    )),
                ),
                FileType::Directory => {
                    let opened = openat(&*fd, name, dir_flags | OFlags::NOFOLLOW, Mode::empty())
                        .and_then(|fd| Ok((Dir::read_from(&fd)?, fd)));
                    match opened {
                        Ok((dir, fd)) => {
                            stack.push(Level {
                                fd: Arc::new(fd),
                                dir,
                                shown,
                                depth: depth + 1,
                            });
                            true
                        }
                        // Listed as a directory, now a symbolic link: swapped during the walk.
                        Err(Errno::LOOP | Errno::NOTDIR) => {
                            self.skipped(&shown, "no longer a directory (links are not followed)")
                        }
                        Err(e) => self.undecided(&shown, Reason::Io, &list_error(&shown, e)),
                    }
                }
                FileType::RegularFile if named_like_a_bundle => self.job(
                    &shown,
                    Open::At {
                        dir: fd,
                        name: name.to_owned(),
                    },
                ),
                FileType::Symlink if named_like_a_bundle => {
                    self.skipped(&shown, "symbolic link, not followed")
                }
                FileType::Symlink if points_at_a_directory(&fd, name) => {
                    self.skipped(&shown, "symbolic link to a directory, not followed")
                }
                _ if named_like_a_bundle => self.skipped(&shown, "not a regular file"),
                _ => true,
            };
            if !go_on {
                return false;
            }
        }
        true
    }

    /// A JSON-lines list: each non-blank line is a JSON string or an object whose `bundle`
    /// member is a string, naming a bundle file; relative paths are relative to `base` (the
    /// list's folder), else to the current directory. A line that cannot be used is an
    /// undecided entry named `LIST:LINE`, and the list goes on.
    fn list<R: Read>(
        &mut self,
        mut reader: BufReader<R>,
        shown: &Path,
        base: Option<&Path>,
    ) -> bool {
        let mut buf = Vec::new();
        for number in 1u64.. {
            buf.clear();
            // A read that may block (a slow pipe) first sends what was found so far.
            if reader.buffer().is_empty() && !self.flush() {
                return false;
            }
            let read = (&mut reader)
                .take(MAX_LIST_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf);
            let here = PathBuf::from(format!("{}:{number}", shown.display()));
            match read {
                Ok(0) => return true,
                Ok(_) => {}
                Err(source) => {
                    let e = ReadError::Io {
                        path: shown.to_path_buf(),
                        source,
                    };
                    return self.undecided(&here, Reason::Io, &e);
                }
            }
            if buf.len() > MAX_LIST_LINE_BYTES && buf.last() != Some(&b'\n') {
                if let Err(source) = skip_line(&mut reader) {
                    let e = ReadError::Io {
                        path: shown.to_path_buf(),
                        source,
                    };
                    return self.undecided(&here, Reason::Io, &e);
                }
                let e = std::io::Error::other(format!(
                    "line is longer than {MAX_LIST_LINE_BYTES} bytes"
                ));
                if !self.undecided(&here, Reason::Error, &e) {
                    return false;
                }
                continue;
            }
            if buf.trim_ascii().is_empty() {
                continue;
            }
            let go_on = match list_line(buf.trim_ascii()) {
                Ok(named) => {
                    let path = match base {
                        Some(b) if named.is_relative() => b.join(named),
                        _ => named,
                    };
                    self.job(&path, Open::Path(path.clone()))
                }
                Err(why) => self.undecided(&here, Reason::Error, &std::io::Error::other(why)),
            };
            if !go_on {
                return false;
            }
        }
        true
    }
}

/// The path one list line names.
fn list_line(line: &[u8]) -> Result<PathBuf, String> {
    let value = crate::json::parse_value(line)
        .map_err(|e| format!("not a JSON value: {}", crate::error_chain(&e)))?;
    let named = match &value {
        serde_json::Value::String(s) => s.as_str(),
        serde_json::Value::Object(o) => match o.get("bundle") {
            Some(serde_json::Value::String(s)) => s.as_str(),
            Some(_) => return Err("`bundle` is not a string".to_owned()),
            None => return Err("the object has no `bundle` member".to_owned()),
        },
        _ => return Err("neither a string nor an object with a `bundle` member".to_owned()),
    };
    if named.is_empty() || named.contains('\0') {
        return Err("the bundle path is empty or holds a NUL".to_owned());
    }
    Ok(PathBuf::from(named))
}

/// Reads past the rest of an over-long line, a bounded chunk at a time.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = chunk.len();
                reader.consume(n);
            }
        }
    }
}

fn points_at_a_directory(dir: &OwnedFd, name: &CStr) -> bool {
    statat(dir, name, AtFlags::empty())
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
}

fn list_error(dir: &Path, e: Errno) -> ReadError {
    ReadError::Io {
        path: dir.to_path_buf(),
        source: e.into(),
    }
}

/// A path as the report names it: as it is when it is UTF-8, else with each byte that is not
/// part of a UTF-8 character written `\xHH`, so that two names that differ print differently
/// and the name can still be found (`$'\xff'` in a shell); a lossy form would print both as
/// U+FFFD.
fn shown_path(path: &Path) -> String {
    use std::fmt::Write as _;
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = path.as_os_str().as_bytes();
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_utf8_are_shown_byte_by_byte() {
        use std::os::unix::ffi::OsStrExt as _;
        let p = |b: &[u8]| shown_path(Path::new(std::ffi::OsStr::from_bytes(b)));
        assert_eq!(p(b"a/b.sigstore.json"), "a/b.sigstore.json");
        assert_eq!(p("é/ü.json".as_bytes()), "é/ü.json");
        assert_eq!(p(b"\xff\xfe.sigstore.json"), "\\xFF\\xFE.sigstore.json");
        assert_ne!(p(b"\xff.json"), p(b"\xfe.json"));
        // A character cut short: its byte, then what follows as it is.
        assert_eq!(p(b"\xc3x\xc3\xa9"), "\\xC3xé");
    }

    #[test]
    fn list_lines_are_strings_or_bundle_objects() {
        assert_eq!(list_line(br#""a/b.json""#), Ok(PathBuf::from("a/b.json")));
        assert_eq!(
            list_line(br#"{"bundle": "x", "name": "io.x/y"}"#),
            Ok(PathBuf::from("x"))
        );
        for bad in [
            &br#"{"bundle": 1}"#[..],
            br#"{"path": "x"}"#,
            br#"{"bundle": "a", "bundle": "b"}"#,
            b"[1]",
            b"not json",
            br#""""#,
        ] {
            assert!(list_line(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn over_long_lines_are_skipped_to_their_end() {
        let mut r = std::io::BufReader::with_capacity(4, &b"abcdefghij\nnext\n"[..]);
        skip_line(&mut r).unwrap();
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "next\n");
    }
}
