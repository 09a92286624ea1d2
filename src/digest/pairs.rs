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

/// A file to hash: `tag` names it to the caller; `size` is what fstat reported. A short read
/// that brings the total to exactly that size is the end of the file; otherwise reading goes on
/// until read returns 0, or until more than `size` bytes were read (a file growing while it is
/// hashed ends there, so the walk is bounded; the caller sees a size that is not `size`).
pub(crate) struct PairFile<T, R = std::fs::File> {
    pub tag: T,
    pub file: R,
    pub size: Option<u64>,
}

struct Stream<T, R> {
    file: PairFile<T, R>,
    /// Everything read is hashed before the next read, so its length is the bytes read.
    hasher: Sha256,
    ended: bool,
    /// The bytes read and not yet hashed: `start..end` of this stream's buffer.
    start: usize,
    end: usize,
}

impl<T, R: Read> Stream<T, R> {
    fn new(file: PairFile<T, R>) -> Stream<T, R> {
        Stream {
            file,
            hasher: Sha256::new(),
            ended: false,
            start: 0,
            end: 0,
        }
    }

    /// Reads the next chunk into `buf` (everything before was hashed).
    fn refill(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        let before = self.hasher.len();
        let (n, ended) = super::read_chunk(&mut self.file.file, buf, before, self.file.size)?;
        // A file growing while it is hashed ends at the first read past its size.
        let grew = self.file.size.is_some_and(|size| before + n as u64 > size);
        self.ended = ended || grew;
        (self.start, self.end) = (0, n);
        Ok(())
    }

    fn waiting(&self) -> usize {
        self.end - self.start
    }
}

/// Hashes (SHA-256) the files `next` hands out, two at a time, until it has no more or `stop`
/// says so. Each file's result goes to `done` as soon as it is known (read errors included);
/// `done` returning false stops the work. Stopping either way drops the (at most two) files
/// taken and not yet done without a word: for callers that fail as a whole when they stop.
/// Memory: two buffers per thread, two files open.
pub(crate) fn hash_in_pairs<T, R: Read>(
    next: impl FnMut() -> Option<PairFile<T, R>>,
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

fn run<T, R: Read>(
    mut next: impl FnMut() -> Option<PairFile<T, R>>,
    mut done: impl FnMut(T, std::io::Result<(Digest, u64)>) -> bool,
    stop: impl Fn() -> bool,
    buf: &mut [u8],
) {
    let (buf_a, buf_b) = buf.split_at_mut(CHUNK);
    let mut bufs = [buf_a, &mut buf_b[..CHUNK]];
    let mut slots: [Option<Stream<T, R>>; 2] = [None, None];
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

    /// A reader that hands out its bytes in the given read sizes (cycled), with an interrupted
    /// read before each, and optionally fails once its bytes are out.
    struct Scripted {
        data: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
        reads: usize,
        interrupt: bool,
        fail_at_end: bool,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            if self.at == self.data.len() && self.fail_at_end {
                return Err(std::io::Error::other("device gone"));
            }
            let want = self.sizes[self.reads % self.sizes.len()];
            self.reads += 1;
            let n = want.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn short_reads_interruptions_and_wrong_sizes_are_read_as_they_come() {
        // Files read in odd pieces (short reads in the middle, single bytes), with a size hint
        // that is right, missing, too large (the file shrank) or too small (it grew): each is
        // hashed from every byte read, in order; one that grew past its hint ends there.
        let sizes: [&[usize]; 4] = [&[CHUNK], &[1], &[1000, 7, CHUNK], &[65, 64, 63]];
        let mut files = Vec::new();
        for i in 0..24usize {
            let len = [0, 1, 64, 5000, CHUNK + 3, 2 * CHUNK][i % 6];
            let data: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
            let hint = match i % 4 {
                0 => Some(len as u64),
                1 => None,
                2 => Some(len as u64 + 10),
                _ => Some((len as u64).saturating_sub(100)),
            };
            files.push((data, hint, sizes[i % 4]));
        }
        let mut queue: Vec<usize> = (0..files.len()).collect();
        let mut results = BTreeMap::new();
        hash_in_pairs(
            || {
                let i = queue.pop()?;
                let (data, hint, sizes) = &files[i];
                Some(PairFile {
                    tag: i,
                    file: Scripted {
                        data: data.clone(),
                        at: 0,
                        sizes: sizes.to_vec(),
                        reads: 0,
                        interrupt: false,
                        fail_at_end: false,
                    },
                    size: *hint,
                })
            },
            |i, r| {
                assert!(results.insert(i, r.unwrap()).is_none(), "{i} twice");
                true
            },
            || false,
        );
        assert_eq!(results.len(), files.len());
        for (i, (data, hint, sizes)) in files.iter().enumerate() {
            let (digest, size) = &results[&i];
            // Where reading ends: at a short read reaching the hint, at the first read past
            // the hint (the file grew), or at the end of its bytes.
            let mut expect = data.len();
            if let Some(h) = hint {
                let (mut at, mut k) = (0usize, 0usize);
                loop {
                    let n = sizes[k % sizes.len()].min(CHUNK).min(data.len() - at);
                    at += n;
                    k += 1;
                    if n == 0 || (n < CHUNK && at as u64 == *h) || at as u64 > *h {
                        break;
                    }
                }
                expect = at;
            }
            assert_eq!(*size, expect as u64, "file {i}");
            assert_eq!(
                *digest,
                super::super::hash_reader(Algorithm::Sha256, &data[..expect])
                    .unwrap()
                    .0,
                "file {i}"
            );
        }
    }

    #[test]
    fn a_failing_read_mid_file_is_reported_once() {
        let mut handed = false;
        let mut seen = Vec::new();
        hash_in_pairs(
            || {
                if handed {
                    return None;
                }
                handed = true;
                Some(PairFile {
                    tag: "gone",
                    file: Scripted {
                        data: vec![1; 3 * CHUNK],
                        at: 0,
                        sizes: vec![CHUNK],
                        reads: 0,
                        interrupt: false,
                        fail_at_end: true,
                    },
                    size: None,
                })
            },
            |tag, r| {
                seen.push((tag, r.map_err(|e| e.to_string())));
                true
            },
            || false,
        );
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].1, Err("device gone".to_string()));
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
