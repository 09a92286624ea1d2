//! Hashing files two at a time: one SHA-256 stream leaves the CPU's SHA unit idle between
//! dependent rounds, and a second stream's rounds fill the gaps (`mcpsig-sha256x2`, about 1.65x
//! the bytes per second on one core here). A worker keeps two files open, reads a chunk of each
//! and hashes the two chunks side by side; when one file ends, the next one takes its place.
//! The digests are the same as one file at a time: only the order of the work changes.

use super::{Algorithm, Digest};
use mcpsig_sha256x2::{Sha256, update_pair};
use std::io::Read;

/// Bytes read from each of the two files at a time: both buffers together stay in a core's
/// cache.
const CHUNK: usize = 128 * 1024;

thread_local! {
    // One pair of read buffers per thread, like the single-file hash's buffer.
    static BUFS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A file to hash: `tag` names it to the caller, `size` is what fstat reported (a short read
/// that brings the total to exactly that is the end of the file; anything else reads on until
/// read returns 0).
pub(crate) struct PairFile<T> {
    pub tag: T,
    pub file: std::fs::File,
    pub size: Option<u64>,
}

struct Stream<T> {
    file: PairFile<T>,
    hasher: Sha256,
    read: u64,
    ended: bool,
    /// The bytes read and not yet hashed: `start..end` of this stream's buffer.
    start: usize,
    end: usize,
}

impl<T> Stream<T> {
    fn new(file: PairFile<T>) -> Stream<T> {
        Stream {
            file,
            hasher: Sha256::new(),
            read: 0,
            ended: false,
            start: 0,
            end: 0,
        }
    }

    /// Reads the next chunk into `buf` (everything before was hashed).
    fn refill(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        loop {
            match self.file.file.read(buf) {
                Ok(0) => {
                    self.ended = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.read += n as u64;
                    if n < buf.len() && self.file.size == Some(self.read) {
                        self.ended = true;
                    }
                    (self.start, self.end) = (0, n);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn waiting(&self) -> usize {
        self.end - self.start
    }
}

/// Hashes (SHA-256) the files `next` hands out, two at a time, until it has no more or `stop`
/// says so. Each file's result goes to `done` as soon as it is known (read errors included);
/// `done` returning false stops the work. Memory: two buffers per thread, two files open.
pub(crate) fn hash_in_pairs<T>(
    next: impl FnMut() -> Option<PairFile<T>>,
    done: impl FnMut(T, std::io::Result<(Digest, u64)>) -> bool,
    stop: impl Fn() -> bool,
) {
    BUFS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < 2 * CHUNK {
                buf.resize(2 * CHUNK, 0);
            }
            run(next, done, stop, &mut buf)
        }
        // Re-entered on this thread (cannot happen today): private buffers.
        Err(_) => run(next, done, stop, &mut vec![0u8; 2 * CHUNK]),
    })
}

fn run<T>(
    mut next: impl FnMut() -> Option<PairFile<T>>,
    mut done: impl FnMut(T, std::io::Result<(Digest, u64)>) -> bool,
    stop: impl Fn() -> bool,
    buf: &mut [u8],
) {
    let (buf_a, buf_b) = buf.split_at_mut(CHUNK);
    let mut bufs = [buf_a, &mut buf_b[..CHUNK]];
    let mut slots: [Option<Stream<T>>; 2] = [None, None];
    while !stop() {
        // Every free slot takes the next file; every stream whose bytes were all hashed reads
        // on; a stream at its end is finished (and its slot taken again).
        let mut finished = false;
        for (slot, buf) in slots.iter_mut().zip(&mut bufs) {
            if slot.is_none() {
                *slot = next().map(Stream::new);
            }
            let Some(stream) = slot else { continue };
            if stream.waiting() == 0
                && !stream.ended
                && let Err(e) = stream.refill(buf)
            {
                if let Some(s) = slot.take()
                    && !done(s.file.tag, Err(e))
                {
                    return;
                }
                finished = true;
                continue;
            }
            if stream.waiting() == 0
                && stream.ended
                && let Some(s) = slot.take()
            {
                let size = s.hasher.len();
                let digest = Digest {
                    alg: Algorithm::Sha256,
                    bytes: s.hasher.finalize().to_vec(),
                };
                if !done(s.file.tag, Ok((digest, size))) {
                    return;
                }
                finished = true;
            }
        }
        if finished {
            continue;
        }
        // Now every stream in a slot has bytes waiting. Two: as many of each side by side (the
        // longer one's rest waits for the next round, beside the next chunk or file of the
        // other). One (no other file left): all of it.
        let [buf_a, buf_b] = &bufs;
        match &mut slots {
            [Some(a), Some(b)] => {
                let n = a.waiting().min(b.waiting());
                update_pair(
                    &mut a.hasher,
                    &buf_a[a.start..a.start + n],
                    &mut b.hasher,
                    &buf_b[b.start..b.start + n],
                );
                a.start += n;
                b.start += n;
            }
            [Some(a), None] => {
                a.hasher.update(&buf_a[a.start..a.end]);
                a.start = a.end;
            }
            [None, Some(b)] => {
                b.hasher.update(&buf_b[b.start..b.end]);
                b.start = b.end;
            }
            [None, None] => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Write;

    #[test]
    fn every_file_gets_its_own_digest_whatever_it_is_paired_with() {
        // Sizes around the chunk and block edges, paired in every order the queue gives.
        let dir = tempfile::tempdir().unwrap();
        let sizes = [
            0,
            1,
            63,
            64,
            65,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 17,
            1000,
            5 * CHUNK,
        ];
        let mut files = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let path = dir.path().join(format!("f{i}"));
            let data: Vec<u8> = (0..n).map(|j| (j * 31 + i * 7) as u8).collect();
            std::fs::File::create(&path)
                .unwrap()
                .write_all(&data)
                .unwrap();
            files.push((path, data));
        }
        let mut queue: Vec<usize> = (0..files.len()).collect();
        let mut results = BTreeMap::new();
        hash_in_pairs(
            || {
                let i = queue.pop()?;
                let size = files[i].1.len() as u64;
                Some(PairFile {
                    tag: i,
                    file: std::fs::File::open(&files[i].0).unwrap(),
                    // Even entries: no size known, read to the end.
                    size: (i % 2 == 1).then_some(size),
                })
            },
            |i, r| {
                results.insert(i, r.unwrap());
                true
            },
            || false,
        );
        assert_eq!(results.len(), files.len());
        for (i, (_, data)) in files.iter().enumerate() {
            let (digest, size) = &results[&i];
            assert_eq!(*size, data.len() as u64);
            assert_eq!(
                *digest,
                super::super::hash_reader(Algorithm::Sha256, &data[..])
                    .unwrap()
                    .0,
                "file of {} bytes",
                data.len()
            );
        }
    }

    #[test]
    fn a_read_error_is_reported_for_its_file_and_can_stop_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ok"), b"fine").unwrap();
        let mut handed = 0;
        let mut errors = Vec::new();
        let mut oks = 0;
        hash_in_pairs(
            || {
                handed += 1;
                match handed {
                    // A directory opens, and reading it fails (EISDIR).
                    1 => Some(PairFile {
                        tag: "dir",
                        file: std::fs::File::open(dir.path()).unwrap(),
                        size: None,
                    }),
                    2..=4 => Some(PairFile {
                        tag: "ok",
                        file: std::fs::File::open(dir.path().join("ok")).unwrap(),
                        size: Some(4),
                    }),
                    _ => None,
                }
            },
            |tag, r| match r {
                Ok(_) => {
                    oks += 1;
                    true
                }
                Err(e) => {
                    errors.push((tag, e.kind()));
                    false
                }
            },
            || false,
        );
        assert_eq!(errors, [("dir", std::io::ErrorKind::IsADirectory)]);
        // Stopped at the error: not every file was hashed.
        assert!(oks < 3, "{oks}");
    }
}
