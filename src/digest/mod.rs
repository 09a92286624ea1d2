//! Digests: the `Digest` newtype (`sha256:<hex>`, `sha512:<hex>`), streaming hashing of readers
//! and files, and directory-tree digests (see [`tree`]).

pub mod excluded;
pub mod glob;
pub mod links;
mod pairs;
pub mod stat_print;
pub mod tree;
mod tree_diff;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

/// Read buffer for streaming hashes: large enough to amortize syscalls, small enough for caches.
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
    pub(crate) fn len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

/// A content digest. Built only by hashing or by parsing `ALG:<lowercase hex>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    alg: Algorithm,
    bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestParseError {
    #[error("digest `{0}` has no `ALGORITHM:` prefix")]
    NoAlgorithm(String),
    #[error("digest algorithm `{0}` is not supported (use sha256 or sha512)")]
    UnknownAlgorithm(String),
    #[error("digest `{0}` is not {1} lowercase hex characters")]
    BadHex(String, usize),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    #[error("cannot read `{path}`")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a regular file")]
    NotAFile { path: String },
}

impl Digest {
    pub fn from_bytes(alg: Algorithm, bytes: &[u8]) -> Option<Digest> {
        (bytes.len() == alg.len()).then(|| Digest {
            alg,
            bytes: bytes.to_vec(),
        })
    }
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest {
            alg: Algorithm::Sha256,
            bytes: sha2::Sha256::digest(data).to_vec(),
        }
    }
    pub fn sha512_of(data: &[u8]) -> Digest {
        Digest {
            alg: Algorithm::Sha512,
            bytes: sha2::Sha512::digest(data).to_vec(),
        }
    }
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn hex(&self) -> String {
        hex::encode(&self.bytes)
    }
    /// Short form for human messages: `sha256:ab12cd34ef56...`.
    pub fn short(&self) -> String {
        let h = self.hex();
        format!("{}:{}...", self.alg.name(), &h[..12.min(h.len())])
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written without allocating: trees print (and serialize) one digest per entry.
        let mut buf = [0u8; 2 * 64];
        let hex = buf.get_mut(..2 * self.bytes.len()).ok_or(fmt::Error)?;
        hex::encode_to_slice(&self.bytes, hex).map_err(|_| fmt::Error)?;
        f.write_str(self.alg.name())?;
        f.write_str(":")?;
        f.write_str(std::str::from_utf8(hex).map_err(|_| fmt::Error)?)
    }
}

impl Digest {
    /// Appends `ALGORITHM:HEX` (the `Display` form) to `out`.
    pub(crate) fn write_text(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.alg.name().as_bytes());
        out.push(b':');
        // Through a stack buffer: a push per nibble costs more than the rest of an entry.
        let mut buf = [0u8; 2 * 64];
        let n = 2 * self.bytes.len();
        let encoded = buf
            .get_mut(..n)
            .is_some_and(|hex| hex::encode_to_slice(&self.bytes, hex).is_ok());
        match buf.get(..n) {
            Some(hex) if encoded => out.extend_from_slice(hex),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for b in &self.bytes {
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xf)]);
                }
            }
        }
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An algorithm by its name in digests and on the command line: `sha256` or `sha512`.
impl FromStr for Algorithm {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Algorithm, DigestParseError> {
        match s {
            "sha256" => Ok(Algorithm::Sha256),
            "sha512" => Ok(Algorithm::Sha512),
            other => Err(DigestParseError::UnknownAlgorithm(other.to_owned())),
        }
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Digest, DigestParseError> {
        let (alg, hex_part) = s
            .split_once(':')
            .ok_or_else(|| DigestParseError::NoAlgorithm(s.to_owned()))?;
        let alg: Algorithm = alg.parse()?;
        let want = alg.len() * 2;
        // Uppercase hex is refused so that one digest has exactly one spelling.
        let valid = hex_part.len() == want
            && hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(DigestParseError::BadHex(s.to_owned(), want));
        }
        let bytes =
            hex::decode(hex_part).map_err(|_| DigestParseError::BadHex(s.to_owned(), want))?;
        Ok(Digest { alg, bytes })
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental hasher for either algorithm.
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(alg: Algorithm) -> Hasher {
        match alg {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                alg: Algorithm::Sha256,
                bytes: h.finalize().to_vec(),
            },
            Hasher::Sha512(h) => Digest {
                alg: Algorithm::Sha512,
                bytes: h.finalize().to_vec(),
            },
        }
    }
}

thread_local! {
    // One read buffer per thread: allocating (and zeroing) a fresh one per file would cost more
    // than hashing a small file.
    static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hashes everything `reader` yields, in constant memory. Returns the digest and the byte count.
pub fn hash_reader(alg: Algorithm, reader: impl Read) -> std::io::Result<(Digest, u64)> {
    hash_pooled(alg, reader, None)
}

fn hash_pooled(
    alg: Algorithm,
    reader: impl Read,
    regular_size: Option<u64>,
) -> std::io::Result<(Digest, u64)> {
    hash_tee(alg, reader, regular_size, None).map_err(|e| match e {
        TeeError::Read(e) | TeeError::Write(e) => e,
    })
}

/// Which side of a [`hash_tee`] failed.
#[derive(Debug)]
pub(crate) enum TeeError {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Hashes what `reader` yields and, with `tee`, writes every chunk to it as it is hashed: the
/// copy is made of exactly the bytes the digest covers, read once.
pub(crate) fn hash_tee(
    alg: Algorithm,
    reader: impl Read,
    regular_size: Option<u64>,
    tee: Option<&mut dyn std::io::Write>,
) -> Result<(Digest, u64), TeeError> {
    hash_tee_after(Hasher::new(alg), 0, reader, regular_size, tee)
}

/// [`hash_tee`] of the rest of a stream, `hasher` having been fed its first `total` bytes.
pub(crate) fn hash_tee_after(
    hasher: Hasher,
    total: u64,
    reader: impl Read,
    regular_size: Option<u64>,
    tee: Option<&mut dyn std::io::Write>,
) -> Result<(Digest, u64), TeeError> {
    BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < CHUNK {
                buf.resize(CHUNK, 0);
            }
            hash_with_buffer(hasher, total, reader, &mut buf, regular_size, tee)
        }
        // Re-entered on this thread (cannot happen today): fall back to a private buffer.
        Err(_) => hash_with_buffer(
            hasher,
            total,
            reader,
            &mut vec![0u8; CHUNK],
            regular_size,
            tee,
        ),
    })
}

/// `regular_size`: the size fstat reported for a regular file. A short read that brings the
/// total to exactly that size is the end of the file, which saves one read call per small file.
/// Anything else (a pipe, a file still growing) reads on until read returns 0.
fn hash_with_buffer(
    mut hasher: Hasher,
    mut total: u64,
    mut reader: impl Read,
    buf: &mut [u8],
    regular_size: Option<u64>,
    mut tee: Option<&mut dyn std::io::Write>,
) -> Result<(Digest, u64), TeeError> {
    loop {
        let (n, ended) =
            read_chunk(&mut reader, buf, total, regular_size).map_err(TeeError::Read)?;
        hasher.update(&buf[..n]);
        if let Some(out) = tee.as_mut() {
            out.write_all(&buf[..n]).map_err(TeeError::Write)?;
        }
        total += n as u64;
        if ended {
            break;
        }
    }
    Ok((hasher.finish(), total))
}

/// One read of a streaming hash, retried when interrupted, after `before` bytes. Returns the
/// bytes read and whether the stream ended: read returned 0, or a short read brought the total
/// to exactly `regular_size` (see [`hash_with_buffer`]).
fn read_chunk(
    reader: &mut impl Read,
    buf: &mut [u8],
    before: u64,
    regular_size: Option<u64>,
) -> std::io::Result<(usize, bool)> {
    loop {
        match reader.read(buf) {
            Ok(0) => return Ok((0, true)),
            Ok(n) => {
                let ended = n < buf.len() && regular_size == Some(before + n as u64);
                return Ok((n, ended));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Why a path could not be digested by [`digest_path`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathDigestError {
    #[error("cannot read `{}`", path.display())]
    Stat {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Pattern(#[from] glob::PatternError),
    #[error("cannot digest directory `{}`", path.display())]
    Tree {
        path: std::path::PathBuf,
        #[source]
        source: tree::TreeError,
    },
    #[error(transparent)]
    File(#[from] HashError),
}

/// What `mcp-sign digest` prints: a directory's tree digest (under `exclude` globs) or a
/// file's digest, with the bytes hashed. A symlink given as `path` is not followed.
pub fn digest_path(
    path: &Path,
    exclude: &[String],
    alg: Algorithm,
) -> Result<(Digest, u64), PathDigestError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| PathDigestError::Stat {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        let patterns = exclude
            .iter()
            .map(|e| glob::Pattern::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        let entries =
            tree::hash_tree(path, &patterns, alg).map_err(|source| PathDigestError::Tree {
                path: path.to_path_buf(),
                source,
            })?;
        Ok((tree::tree_digest(&entries), tree::total_size(&entries)))
    } else {
        Ok(hash_file(alg, path)?)
    }
}

/// Hashes a regular file without following a final symlink and without blocking on a fifo.
pub fn hash_file(alg: Algorithm, path: &Path) -> Result<(Digest, u64), HashError> {
    hash_file_meta(alg, path).map(|(d, n, _)| (d, n))
}

/// [`hash_file`], also returning the metadata of the file that was hashed (from the open
/// descriptor, so it describes exactly those bytes' file).
pub fn hash_file_meta(
    alg: Algorithm,
    path: &Path,
) -> Result<(Digest, u64, std::fs::Metadata), HashError> {
    let (file, meta) = open_regular_nofollow(path)?;
    let (digest, n) = hash_pooled(alg, file, Some(meta.len())).map_err(|source| HashError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok((digest, n, meta))
}

/// Opens `path` for reading only if it is a regular file, refusing symlinks (O_NOFOLLOW) and
/// never blocking on fifos (O_NONBLOCK), so a file swapped after a directory walk is caught.
/// Returns the open file and what fstat reported for it.
pub(crate) fn open_regular_nofollow(
    path: &Path,
) -> Result<(std::fs::File, std::fs::Metadata), HashError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| HashError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                HashError::NotAFile {
                    path: path.display().to_string(),
                }
            } else {
                io(e)
            }
        })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(HashError::NotAFile {
            path: path.display().to_string(),
        });
    }
    Ok((file, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        let d = Digest::sha256_of(b"abc");
        assert_eq!(
            d.to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "",
            "sha256",
            "md5:00",
            "sha256:ABC",
            "sha256:00",
            "sha512:zz",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
        let upper = Digest::sha256_of(b"x")
            .to_string()
            .to_uppercase()
            .replace("SHA256", "sha256");
        assert!(upper.parse::<Digest>().is_err());
    }

    #[test]
    fn streaming_matches_one_shot() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (d, n) = hash_reader(Algorithm::Sha512, &data[..]).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(d, Digest::sha512_of(&data));
    }
}
