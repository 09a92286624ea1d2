//! Finding the signature block at the end of an `.mcpb` file (spec/mcpb.md, "Layout"):
//! `MCPB_SIG_V1`, a 4-byte little-endian length N, N bytes of DER PKCS#7, zero bytes of padding,
//! `MCPB_SIG_END`, and nothing after. Pure functions over the file's last bytes.

use std::ops::Range;

pub const HEADER: &[u8] = b"MCPB_SIG_V1";
pub const FOOTER: &[u8] = b"MCPB_SIG_END";
/// The largest block accepted, markers and padding included.
pub const MAX_BLOCK: usize = 4 * 1024 * 1024;
/// How much of the file's end is read to find the block: the largest block, plus room for the
/// zip's end-of-central-directory record and its longest comment before it.
pub const TAIL: usize = MAX_BLOCK + EOCD_LEN + u16::MAX as usize + 64;
/// The zip end-of-central-directory record: its signature and fixed length (without comment).
const EOCD_SIG: &[u8] = b"PK\x05\x06";
const EOCD_LEN: usize = 22;

/// Why a signature block cannot be read.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockProblem {
    #[error(
        "the file ends with MCPB_SIG_END but no MCPB_SIG_V1 precedes it within the last {searched} bytes"
    )]
    NoHeader { searched: usize },
    #[error("the signature block is {len} bytes long: at most {MAX_BLOCK} are accepted")]
    TooLarge { len: usize },
    #[error("the signature block is cut short: no room for its 4-byte length")]
    NoLength,
    #[error("the signature block declares an empty signature")]
    EmptySignature,
    #[error(
        "the signature block declares {declared} bytes of signature, but only {room} fit before MCPB_SIG_END"
    )]
    LengthDoesNotFit { declared: u64, room: usize },
    #[error("the {count} bytes between the signature and MCPB_SIG_END are not all zero padding")]
    BytesAfterSignature { count: usize },
    #[error("a signature block that does not end the file (truncated, or followed by other bytes)")]
    NotAtEnd,
}

/// Where the block is, in file offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Offset of `MCPB_SIG_V1`: the signed content is everything before it.
    pub start: u64,
    /// The DER signature.
    pub der: Range<u64>,
    /// Zero bytes between the signature and `MCPB_SIG_END` (upstream's prepare-for-signing flow
    /// pads the block to a fixed size).
    pub padding: u64,
}

impl Block {
    /// The block's whole length, markers included.
    pub fn len(&self, file_len: u64) -> u64 {
        file_len - self.start
    }
}

/// What the end of a file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// No signature block.
    Absent,
    Block(Block),
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// Finds the signature block in `tail`, the last bytes of a file of `file_len` bytes.
///
/// A file that ends with `MCPB_SIG_END` must hold a whole block there; its `MCPB_SIG_V1` is the
/// last one before the footer (as upstream's `extractSignatureBlock` picks it). A file that
/// does not is unsigned, unless a marker lies after the zip's last end-of-central-directory
/// record: then a block was cut short or had bytes appended.
pub fn locate(tail: &[u8], file_len: u64) -> Result<Located, BlockProblem> {
    let tail_offset = file_len.saturating_sub(tail.len() as u64);
    let Some(footer_at) = tail.len().checked_sub(FOOTER.len()) else {
        return Ok(Located::Absent);
    };
    if &tail[footer_at..] != FOOTER {
        let eocd = rfind(tail, EOCD_SIG);
        let marker = rfind(tail, HEADER).max(rfind(tail, FOOTER));
        return match marker {
            Some(m) if eocd.is_none_or(|e| e < m) => Err(BlockProblem::NotAtEnd),
            _ => Ok(Located::Absent),
        };
    }
    let h = rfind(&tail[..footer_at], HEADER).ok_or(BlockProblem::NoHeader {
        searched: tail.len(),
    })?;
    if tail.len() - h > MAX_BLOCK {
        return Err(BlockProblem::TooLarge {
            len: tail.len() - h,
        });
    }
    let len_at = h + HEADER.len();
    let der_at = len_at + 4;
    if der_at > footer_at {
        return Err(BlockProblem::NoLength);
    }
    let mut n = [0u8; 4];
    n.copy_from_slice(&tail[len_at..der_at]);
    let declared = u64::from(u32::from_le_bytes(n));
    if declared == 0 {
        return Err(BlockProblem::EmptySignature);
    }
    let room = footer_at - der_at;
    let der_len = usize::try_from(declared)
        .ok()
        .filter(|d| *d <= room)
        .ok_or(BlockProblem::LengthDoesNotFit { declared, room })?;
    let padding = &tail[der_at + der_len..footer_at];
    if padding.iter().any(|b| *b != 0) {
        return Err(BlockProblem::BytesAfterSignature {
            count: padding.len(),
        });
    }
    let at = |i: usize| tail_offset + i as u64;
    Ok(Located::Block(Block {
        start: at(h),
        der: at(der_at)..at(der_at + der_len),
        padding: padding.len() as u64,
    }))
}

/// Upstream's newer `sign` signs the zip and only then raises its end-of-central-directory
/// comment length by the block's length, so that strict zip readers accept the signed file.
/// When the last EOCD record before the block has a comment that runs exactly to the end of the
/// file and covers the whole block, returns the file offset of its comment-length field and the
/// value it had before the block was added. `tail` is the file's last bytes, as for [`locate`].
pub fn eocd_before_block(tail: &[u8], file_len: u64, block: &Block) -> Option<(u64, [u8; 2])> {
    let tail_offset = file_len.saturating_sub(tail.len() as u64);
    let prefix_end = usize::try_from(block.start.checked_sub(tail_offset)?).ok()?;
    let prefix = &tail[..prefix_end];
    let e = rfind(
        prefix.get(..prefix.len().checked_sub(EOCD_LEN)? + EOCD_SIG.len())?,
        EOCD_SIG,
    )?;
    let comment = u16::from_le_bytes([prefix[e + 20], prefix[e + 21]]);
    let block_len = block.len(file_len);
    let eocd_end = tail_offset + (e + EOCD_LEN) as u64;
    if eocd_end + u64::from(comment) != file_len {
        return None;
    }
    let before = u16::try_from(u64::from(comment).checked_sub(block_len)?).ok()?;
    Some((tail_offset + (e + 20) as u64, before.to_le_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(der: &[u8], padding: usize) -> Vec<u8> {
        let mut b = HEADER.to_vec();
        b.extend_from_slice(&(der.len() as u32).to_le_bytes());
        b.extend_from_slice(der);
        b.extend(std::iter::repeat_n(0u8, padding));
        b.extend_from_slice(FOOTER);
        b
    }

    fn file(zip: &[u8], block: &[u8]) -> Vec<u8> {
        [zip, block].concat()
    }

    const ZIP: &[u8] =
        b"PK\x03\x04 entries PK\x01\x02 directory PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

    #[test]
    fn a_block_is_found_with_and_without_padding() {
        for pad in [0, 7] {
            let f = file(ZIP, &block(b"\x30\x03\x02\x01\x01", pad));
            let Ok(Located::Block(b)) = locate(&f, f.len() as u64) else {
                panic!("no block with padding {pad}");
            };
            assert_eq!(b.start, ZIP.len() as u64);
            assert_eq!(
                &f[b.der.start as usize..b.der.end as usize],
                b"\x30\x03\x02\x01\x01"
            );
            assert_eq!(b.padding, pad as u64);
        }
    }

    #[test]
    fn a_partial_tail_gives_file_offsets() {
        let f = file(ZIP, &block(b"\x30\x00", 0));
        let tail = &f[10..];
        let Ok(Located::Block(b)) = locate(tail, f.len() as u64) else {
            panic!("no block");
        };
        assert_eq!(b.start, ZIP.len() as u64);
        assert_eq!(b.der, ZIP.len() as u64 + 15..ZIP.len() as u64 + 17);
    }

    #[test]
    fn a_block_over_the_bound_is_malformed() {
        let big = file(ZIP, &block(&vec![0x30; MAX_BLOCK], 0));
        assert_eq!(
            locate(&big, big.len() as u64),
            Err(BlockProblem::TooLarge {
                len: MAX_BLOCK + 27
            })
        );
        let fits = file(ZIP, &block(&vec![0x30; MAX_BLOCK - 27], 0));
        assert!(matches!(
            locate(&fits, fits.len() as u64),
            Ok(Located::Block(_))
        ));
    }

    #[test]
    fn unsigned_files_are_absent() {
        assert_eq!(locate(ZIP, ZIP.len() as u64), Ok(Located::Absent));
        assert_eq!(locate(b"", 0), Ok(Located::Absent));
        // Markers inside the archive (a stored file that mentions them) do not make a block.
        let inside = [
            b"PK\x03\x04 MCPB_SIG_V1 x MCPB_SIG_END ".as_slice(),
            &ZIP[4..],
        ]
        .concat();
        assert_eq!(locate(&inside, inside.len() as u64), Ok(Located::Absent));
    }

    #[test]
    fn every_broken_block_is_malformed() {
        let good = file(ZIP, &block(b"\x30\x03\x02\x01\x01", 0));
        let n = good.len();
        let cases: Vec<(Vec<u8>, BlockProblem)> = vec![
            (good[..n - 1].to_vec(), BlockProblem::NotAtEnd),
            (good[..n - 20].to_vec(), BlockProblem::NotAtEnd),
            ([good.as_slice(), b"x"].concat(), BlockProblem::NotAtEnd),
            (
                file(ZIP, FOOTER),
                BlockProblem::NoHeader {
                    searched: ZIP.len() + 12,
                },
            ),
            (
                file(ZIP, b"MCPB_SIG_V1\x01\x00MCPB_SIG_END"),
                BlockProblem::NoLength,
            ),
            (file(ZIP, &block(b"", 0)), BlockProblem::EmptySignature),
            (
                file(ZIP, b"MCPB_SIG_V1\x09\x00\x00\x00\x30\x00MCPB_SIG_END"),
                BlockProblem::LengthDoesNotFit {
                    declared: 9,
                    room: 2,
                },
            ),
            (
                file(ZIP, b"MCPB_SIG_V1\xff\xff\xff\xff\x30\x00MCPB_SIG_END"),
                BlockProblem::LengthDoesNotFit {
                    declared: u64::from(u32::MAX),
                    room: 2,
                },
            ),
            (
                file(
                    ZIP,
                    b"MCPB_SIG_V1\x02\x00\x00\x00\x30\x00\x00\x01MCPB_SIG_END",
                ),
                BlockProblem::BytesAfterSignature { count: 2 },
            ),
        ];
        for (f, want) in cases {
            assert_eq!(locate(&f, f.len() as u64), Err(want.clone()), "{want}");
        }
    }

    fn zip_with_comment(comment: &[u8]) -> Vec<u8> {
        let mut z = ZIP.to_vec();
        let n = z.len();
        z[n - 2..].copy_from_slice(&(comment.len() as u16).to_le_bytes());
        z.extend_from_slice(comment);
        z
    }

    #[test]
    fn the_eocd_comment_covering_the_block_is_recognised() {
        let sig = block(b"\x30\x00", 3);
        // Signed with a comment "hi", then the comment length raised over the block.
        let signed = zip_with_comment(b"hi");
        let mut raised = signed.clone();
        let at = ZIP.len() - 2;
        raised[at..at + 2].copy_from_slice(&((2 + sig.len()) as u16).to_le_bytes());
        let f = file(&raised, &sig);
        let Ok(Located::Block(b)) = locate(&f, f.len() as u64) else {
            panic!("no block");
        };
        assert_eq!(
            eocd_before_block(&f, f.len() as u64, &b),
            Some((at as u64, [2, 0]))
        );
        // A comment that stops before the block does not cover it.
        let f = file(&signed, &sig);
        let Ok(Located::Block(b)) = locate(&f, f.len() as u64) else {
            panic!("no block");
        };
        assert_eq!(eocd_before_block(&f, f.len() as u64, &b), None);
        // No EOCD at all.
        let f = file(b"not a zip", &sig);
        let Ok(Located::Block(b)) = locate(&f, f.len() as u64) else {
            panic!("no block");
        };
        assert_eq!(eocd_before_block(&f, f.len() as u64, &b), None);
    }
}
