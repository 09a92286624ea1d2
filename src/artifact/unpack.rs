//! Writing an install from archives (npm tarballs, wheels, MCP bundles): every file created new
//! inside a fresh private folder, at a path checked by `RelPath` (never absolute, never `..`),
//! never through a symlink (none is ever created), hashed as it is written, with bounds on
//! sizes and counts. What was written is returned as tree entries, for the tree digest.

use crate::digest::tree::{Entry, EntryKind};
use crate::digest::{Algorithm, Hasher};
use crate::relpath::RelPath;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Bound on one file of an archive.
const MAX_FILE: u64 = 1024 * 1024 * 1024;
/// Bound on everything one install writes.
const MAX_TOTAL: u64 = 8 * 1024 * 1024 * 1024;
/// Bound on the files of one install (the tree walk's own limit).
const MAX_FILES: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError {
    #[error("{archive}: entry `{path}` has an unsafe path")]
    UnsafePath { archive: String, path: String },
    #[error("{archive}: entry `{path}` is written twice")]
    Duplicate { archive: String, path: String },
    #[error("{archive}: `{path}` is both a file and a folder")]
    FileAndFolder { archive: String, path: String },
    #[error("{archive}: entry `{path}` is a {kind}, which an archive may not hold here")]
    Kind {
        archive: String,
        path: String,
        kind: &'static str,
    },
    #[error("{archive}: entry `{path}` is larger than {limit} bytes")]
    TooLarge {
        archive: String,
        path: String,
        limit: u64,
    },
    #[error("the install would hold more than {MAX_FILES} files or {MAX_TOTAL} bytes")]
    TooMuch,
    #[error("{archive} is not a readable archive")]
    Archive {
        archive: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{archive}: file `{path}` is not what the wheel's RECORD says")]
    RecordMismatch { archive: String, path: String },
    #[error("{archive}: file `{path}` is not listed in the wheel's RECORD")]
    NotInRecord { archive: String, path: String },
    #[error("{archive}: the wheel's RECORD lists `{path}`, which the wheel does not hold")]
    MissingFromWheel { archive: String, path: String },
    #[error("{archive}: {what}")]
    Wheel { archive: String, what: &'static str },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl UnpackError {
    /// True when the archive itself is at fault (a reason to reject it), not the local disk.
    pub fn is_archive_fault(&self) -> bool {
        !matches!(self, UnpackError::Write { .. })
    }
}

/// Writes files under `root`, remembering what it wrote.
pub struct Writer {
    root: PathBuf,
    entries: Vec<Entry>,
    files: HashSet<String>,
    dirs: HashSet<String>,
    total: u64,
}

impl Writer {
    pub fn new(root: &Path) -> Writer {
        Writer {
            root: root.to_path_buf(),
            entries: Vec::new(),
            files: HashSet::new(),
            dirs: HashSet::new(),
            total: 0,
        }
    }

    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    /// Whether a file was written at `path`.
    pub fn has(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    /// Writes `reader` (at most [`MAX_FILE`] bytes) as the new file `path`.
    pub fn file(
        &mut self,
        archive: &str,
        path: &RelPath,
        executable: bool,
        reader: &mut dyn Read,
    ) -> Result<crate::digest::Digest, UnpackError> {
        let shown = || path.as_str().to_owned();
        if self.files.contains(path.as_str()) {
            return Err(UnpackError::Duplicate {
                archive: archive.to_owned(),
                path: shown(),
            });
        }
        if self.dirs.contains(path.as_str()) {
            return Err(UnpackError::FileAndFolder {
                archive: archive.to_owned(),
                path: shown(),
            });
        }
        if self.entries.len() >= MAX_FILES {
            return Err(UnpackError::TooMuch);
        }
        self.make_parents(archive, path)?;
        let full = self.root.join(path.as_str());
        let write_err = |source| UnpackError::Write {
            path: full.clone(),
            source,
        };
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&full)
            .map_err(write_err)?;
        let mut hasher = Hasher::new(Algorithm::Sha256);
        let mut limited = reader.take(MAX_FILE + 1);
        let mut buf = vec![0u8; 128 * 1024];
        let mut size = 0u64;
        loop {
            let n = limited
                .read(&mut buf)
                .map_err(|source| UnpackError::Archive {
                    archive: archive.to_owned(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > MAX_FILE {
                return Err(UnpackError::TooLarge {
                    archive: archive.to_owned(),
                    path: shown(),
                    limit: MAX_FILE,
                });
            }
            self.total += n as u64;
            if self.total > MAX_TOTAL {
                return Err(UnpackError::TooMuch);
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(write_err)?;
        }
        out.flush().map_err(write_err)?;
        let mode = if executable { 0o555 } else { 0o444 };
        out.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(write_err)?;
        let digest = hasher.finish();
        self.files.insert(path.as_str().to_owned());
        self.entries.push(Entry {
            path: path.clone(),
            kind: EntryKind::File {
                digest: digest.clone(),
                size,
                executable,
            },
        });
        Ok(digest)
    }

    /// Creates the folders above `path` (each a real folder made here: nothing else is ever
    /// created in the install, so none can be a symlink).
    fn make_parents(&mut self, archive: &str, path: &RelPath) -> Result<(), UnpackError> {
        let comps: Vec<&str> = path.components().collect();
        let mut cur = String::new();
        for c in &comps[..comps.len() - 1] {
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(c);
            if self.dirs.contains(&cur) {
                continue;
            }
            if self.files.contains(&cur) {
                return Err(UnpackError::FileAndFolder {
                    archive: archive.to_owned(),
                    path: cur,
                });
            }
            let full = self.root.join(&cur);
            match std::fs::create_dir(&full) {
                Ok(()) => {}
                Err(source) => return Err(UnpackError::Write { path: full, source }),
            }
            self.dirs.insert(cur.clone());
        }
        Ok(())
    }
}

/// `prefix/rest` as a checked relative path.
pub fn join(archive: &str, prefix: &str, rest: &str) -> Result<RelPath, UnpackError> {
    let joined = if prefix.is_empty() {
        rest.to_owned()
    } else {
        format!("{prefix}/{rest}")
    };
    RelPath::parse(&joined).map_err(|_| UnpackError::UnsafePath {
        archive: archive.to_owned(),
        path: crate::text::one_line(rest, 300),
    })
}

/// Unpacks an npm tarball (gzip'd tar) under `prefix`, as npm does: the first path component
/// of every entry (`package/`) is dropped, folders are implied, regular files written; link
/// entries are skipped as npm skips them (nothing is created for them); anything else is
/// refused. Returns the bytes of the tarball's `package.json`, if it has one.
pub fn npm_tarball(
    w: &mut Writer,
    archive: &str,
    prefix: &str,
    tgz: &mut dyn Read,
) -> Result<Option<Vec<u8>>, UnpackError> {
    let arch_err = |source| UnpackError::Archive {
        archive: archive.to_owned(),
        source,
    };
    // Every gzip member, as node's zlib reads them (a second member must not hide files).
    let gz = flate2::read::MultiGzDecoder::new(tgz);
    let mut tar = tar::Archive::new(gz);
    let mut package_json = None;
    for entry in tar.entries().map_err(arch_err)? {
        let mut entry = entry.map_err(arch_err)?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8(raw).map_err(|e| UnpackError::UnsafePath {
            archive: archive.to_owned(),
            path: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })?;
        let kind = entry.header().entry_type();
        use tar::EntryType as T;
        match kind {
            T::Directory => continue,
            T::Symlink | T::Link => continue,
            T::Regular | T::Continuous => {}
            _ => {
                return Err(UnpackError::Kind {
                    archive: archive.to_owned(),
                    path: crate::text::one_line(&name, 300),
                    kind: "special entry",
                });
            }
        }
        let trimmed = name.trim_start_matches("./");
        let Some((_, rest)) = trimmed.split_once('/') else {
            return Err(UnpackError::UnsafePath {
                archive: archive.to_owned(),
                path: crate::text::one_line(&name, 300),
            });
        };
        let path = join(archive, prefix, rest)?;
        let executable = entry
            .header()
            .mode()
            .map(|m| m & 0o111 != 0)
            .unwrap_or(false);
        if rest == "package.json" {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(16 * 1024 * 1024)
                .read_to_end(&mut bytes)
                .map_err(arch_err)?;
            w.file(archive, &path, executable, &mut bytes.as_slice())?;
            package_json = Some(bytes);
        } else {
            w.file(archive, &path, executable, &mut entry)?;
        }
    }
    Ok(package_json)
}

/// What an installed wheel declares.
#[derive(Debug, Default)]
pub struct WheelInfo {
    /// `[console_scripts]` of its `entry_points.txt`: (script name, `module:attr`).
    pub console_scripts: Vec<(String, String)>,
}

/// Bound on a wheel's RECORD and entry_points.txt.
const MAX_META: u64 = 16 * 1024 * 1024;

/// Installs a wheel under `prefix` (the install's `site` folder) as pip would into
/// site-packages: every file written where its zip name says (`NAME.data/purelib` and
/// `platlib` merged into the root; other `.data` folders, scripts included, are not installed:
/// launchers are generated from entry points instead), each one hashed as written and compared
/// with the sha256 and size the wheel's `dist-info/RECORD` lists, and every file RECORD lists
/// found. Symlinks and paths breaking the `RelPath` rules are refused.
pub fn wheel(
    w: &mut Writer,
    archive: &str,
    prefix: &str,
    file: std::fs::File,
) -> Result<WheelInfo, UnpackError> {
    use base64::Engine as _;
    let zerr = |e: zip::result::ZipError| UnpackError::Archive {
        archive: archive.to_owned(),
        source: std::io::Error::other(e),
    };
    let bad = |what| UnpackError::Wheel {
        archive: archive.to_owned(),
        what,
    };
    let mut zip = zip::ZipArchive::new(file).map_err(zerr)?;
    // The one `*.dist-info/RECORD` at the top.
    let mut record_name = None;
    for i in 0..zip.len() {
        let name = zip.name_for_index(i).unwrap_or_default();
        if let Some((dir, rest)) = name.split_once('/')
            && dir.ends_with(".dist-info")
            && rest == "RECORD"
        {
            if record_name.is_some() {
                return Err(bad("it has more than one dist-info/RECORD"));
            }
            record_name = Some(name.to_owned());
        }
    }
    let record_name = record_name.ok_or_else(|| bad("it has no dist-info/RECORD"))?;
    let dist_info = record_name.trim_end_matches("/RECORD").to_owned();
    let read_small = |zip: &mut zip::ZipArchive<std::fs::File>, name: &str| {
        let mut f = zip.by_name(name).map_err(zerr)?;
        let mut out = Vec::new();
        (&mut f)
            .take(MAX_META)
            .read_to_end(&mut out)
            .map_err(|source| UnpackError::Archive {
                archive: archive.to_owned(),
                source,
            })?;
        Ok::<_, UnpackError>(out)
    };
    let record = read_small(&mut zip, &record_name)?;
    let record = String::from_utf8(record).map_err(|_| bad("its RECORD is not UTF-8"))?;
    // path -> (sha256 bytes, size); RECORD itself (and its signatures) list no hash.
    let mut listed: std::collections::BTreeMap<String, Option<(Vec<u8>, u64)>> =
        std::collections::BTreeMap::new();
    for line in record.lines().filter(|l| !l.trim().is_empty()) {
        let fields = csv_fields(line).ok_or_else(|| bad("its RECORD has a malformed line"))?;
        let [path, hash, size] = fields.as_slice() else {
            return Err(bad("its RECORD has a line without three fields"));
        };
        let pin = if hash.is_empty() {
            None
        } else {
            let b64 = hash
                .strip_prefix("sha256=")
                .ok_or_else(|| bad("its RECORD names a hash other than sha256"))?;
            let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64.trim_end_matches('='))
                .map_err(|_| bad("its RECORD has a malformed hash"))?;
            let size: u64 = size
                .parse()
                .map_err(|_| bad("its RECORD has a malformed size"))?;
            Some((digest, size))
        };
        if listed.insert(path.clone(), pin).is_some() {
            return Err(bad("its RECORD lists a file twice"));
        }
    }
    let data_prefix = format!("{}.data/", dist_info.trim_end_matches(".dist-info"));
    let mut seen = HashSet::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(zerr)?;
        let name = f.name().to_owned();
        if name.ends_with('/') {
            continue;
        }
        if f.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(UnpackError::Kind {
                archive: archive.to_owned(),
                path: crate::text::one_line(&name, 300),
                kind: "symlink",
            });
        }
        let Some(pin) = listed.get(&name) else {
            return Err(UnpackError::NotInRecord {
                archive: archive.to_owned(),
                path: crate::text::one_line(&name, 300),
            });
        };
        seen.insert(name.clone());
        let target = match name.strip_prefix(&data_prefix) {
            None => Some(name.as_str()),
            Some(rest) => rest
                .strip_prefix("purelib/")
                .or_else(|| rest.strip_prefix("platlib/")),
        };
        let executable = f.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let Some(target) = target else {
            // Scripts, data and headers: checked against RECORD, not installed.
            let mut h = Hasher::new(Algorithm::Sha256);
            let mut size = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            let mut lim = (&mut f).take(MAX_FILE);
            loop {
                let n = lim.read(&mut buf).map_err(|source| UnpackError::Archive {
                    archive: archive.to_owned(),
                    source,
                })?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                h.update(&buf[..n]);
            }
            if let Some((want, want_size)) = pin
                && (h.finish().as_bytes() != want.as_slice() || size != *want_size)
            {
                return Err(UnpackError::RecordMismatch {
                    archive: archive.to_owned(),
                    path: name,
                });
            }
            continue;
        };
        let path = join(archive, prefix, target)?;
        let digest = w.file(archive, &path, executable, &mut f)?;
        let size = w.entries.last().map_or(0, |e| match &e.kind {
            EntryKind::File { size, .. } => *size,
            EntryKind::Symlink { .. } => 0,
        });
        if let Some((want, want_size)) = pin
            && (digest.as_bytes() != want.as_slice() || size != *want_size)
        {
            return Err(UnpackError::RecordMismatch {
                archive: archive.to_owned(),
                path: name,
            });
        }
    }
    for (path, pin) in &listed {
        if pin.is_some() && !seen.contains(path) {
            return Err(UnpackError::MissingFromWheel {
                archive: archive.to_owned(),
                path: crate::text::one_line(path, 300),
            });
        }
    }
    let mut info = WheelInfo::default();
    let ep_name = format!("{dist_info}/entry_points.txt");
    if zip.by_name(&ep_name).is_ok() {
        let text = read_small(&mut zip, &ep_name)?;
        let text = String::from_utf8(text).map_err(|_| bad("its entry_points.txt is not UTF-8"))?;
        let mut section = String::new();
        for line in text.lines().map(str::trim) {
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.trim().to_owned();
            } else if section == "console_scripts"
                && let Some((k, v)) = line.split_once('=')
            {
                info.console_scripts
                    .push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
    }
    Ok(info)
}

/// One CSV line (RFC 4180 quoting), as RECORD files are written.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, data, kind) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // Written raw, so hostile names reach the reader as they are.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn tarballs_unpack_under_their_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::new(dir.path());
        let t = tgz(&[
            ("package/package.json", b"{}", tar::EntryType::Regular),
            ("package/lib/a.js", b"a", tar::EntryType::Regular),
            ("package/lib/link", b"", tar::EntryType::Symlink),
        ]);
        let pj = npm_tarball(&mut w, "t", "node_modules/x", &mut t.as_slice()).unwrap();
        assert_eq!(pj.as_deref(), Some(&b"{}"[..]));
        let e = w.into_entries();
        assert_eq!(e.len(), 2);
        assert_eq!(
            std::fs::read(dir.path().join("node_modules/x/lib/a.js")).unwrap(),
            b"a"
        );
        assert!(!dir.path().join("node_modules/x/lib/link").exists());
    }

    #[test]
    fn hostile_tarballs_are_refused() {
        for (name, kind) in [
            ("package/../../escape", tar::EntryType::Regular),
            ("package//etc", tar::EntryType::Regular),
            ("toplevel", tar::EntryType::Regular),
            ("package/dev", tar::EntryType::Char),
            ("package/fifo", tar::EntryType::Fifo),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut w = Writer::new(dir.path());
            let t = tgz(&[(name, b"x", kind)]);
            let r = npm_tarball(&mut w, "t", "node_modules/x", &mut t.as_slice());
            assert!(r.is_err(), "{name}");
            assert!(r.unwrap_err().is_archive_fault(), "{name}");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::new(dir.path());
        let t = tgz(&[
            ("package/a", b"1", tar::EntryType::Regular),
            ("package/a", b"2", tar::EntryType::Regular),
        ]);
        assert!(matches!(
            npm_tarball(&mut w, "t", "p", &mut t.as_slice()),
            Err(UnpackError::Duplicate { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::new(dir.path());
        let t = tgz(&[
            ("package/a", b"1", tar::EntryType::Regular),
            ("package/a/b", b"2", tar::EntryType::Regular),
        ]);
        assert!(matches!(
            npm_tarball(&mut w, "t", "p", &mut t.as_slice()),
            Err(UnpackError::FileAndFolder { .. })
        ));
    }
}
