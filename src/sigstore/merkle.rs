//! RFC 6962 / RFC 9162 Merkle tree hashing and inclusion proof verification.

use crate::crypto::Sha256;

use super::error::{InclusionProofProblem, SigstoreError};

/// Hash of a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&[0]);
    h.update(data);
    h.finalize()
}

/// Hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&[1]);
    h.update(left);
    h.update(right);
    h.finalize()
}

fn bad(problem: InclusionProofProblem) -> SigstoreError {
    SigstoreError::BadInclusionProof { problem }
}

/// Verifies that `leaf` sits at `index` in a tree of `size` leaves with root `root`
/// (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &[u8; 32],
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), SigstoreError> {
    if index >= size {
        return Err(bad(InclusionProofProblem::IndexOutOfRange { index, size }));
    }
    // Path length below the split point where the leaf's path and the right border meet.
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    // `inner` can reach 64 only for sizes above 2^63; checked_shr keeps that from panicking.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    if proof.len() != inner + border {
        return Err(bad(InclusionProofProblem::WrongLength {
            hashes: proof.len(),
            index,
            size,
            needed: inner + border,
        }));
    }
    let mut acc = *leaf;
    for (i, h) in proof.iter().enumerate() {
        if h.len() != 32 {
            return Err(bad(InclusionProofProblem::HashLength {
                position: i,
                len: h.len(),
            }));
        }
        acc = if i < inner && (index >> i) & 1 == 0 {
            node_hash(&acc, h)
        } else {
            node_hash(h, &acc)
        };
    }
    if acc.as_slice() != root {
        return Err(bad(InclusionProofProblem::RootMismatch {
            computed: acc,
            claimed: root.to_vec(),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds the RFC 6962 tree root of `leaves` (MTH) for cross-checking proofs.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = leaves.len().next_power_of_two() / 2;
        node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
    }

    fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<Vec<u8>> {
        if leaves.len() == 1 {
            return vec![];
        }
        let k = leaves.len().next_power_of_two() / 2;
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]).to_vec());
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]).to_vec());
            p
        }
    }

    #[test]
    fn every_leaf_of_every_small_tree_verifies_and_tampering_fails() {
        for n in 1..=17usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
            let root = mth(&leaves);
            for m in 0..n {
                let p = path(m, &leaves);
                assert!(verify_inclusion(m as u64, n as u64, &leaves[m], &p, &root).is_ok());
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = first.iter().map(|b| b ^ 1).collect();
                    assert!(verify_inclusion(m as u64, n as u64, &leaves[m], &bad, &root).is_err());
                }
                assert!(matches!(
                    verify_inclusion(n as u64, n as u64, &leaves[m], &p, &root),
                    Err(SigstoreError::BadInclusionProof {
                        problem: InclusionProofProblem::IndexOutOfRange { index, size }
                    }) if index == n as u64 && size == n as u64
                ));
            }
        }
    }
}
