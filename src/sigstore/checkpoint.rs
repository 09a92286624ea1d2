//! Checkpoints: the signed notes (C2SP signed-note / tlog-checkpoint) in which a log signs its
//! tree size and root hash. Only the log's own signature is verified; cosignature lines from
//! witnesses with unknown keys are ignored.

use super::error::{CheckpointProblem, SigstoreError};
use super::keys::PublicKey;
use super::serde_pb::decode_b64;

/// A parsed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root_hash: [u8; 32],
    /// Extension lines after the root hash (e.g. `Timestamp: ...`).
    pub other: Vec<String>,
    /// The exact signed text: the note body up to and including its last newline.
    pub body: String,
    pub signatures: Vec<NoteSignature>,
}

/// One signature line: `— <name> <base64(key hint || signature)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hint: [u8; 4],
    pub signature: Vec<u8>,
}

fn bad(problem: CheckpointProblem) -> SigstoreError {
    SigstoreError::BadCheckpoint { problem }
}

impl Checkpoint {
    /// Parses a signed note holding a checkpoint body.
    pub fn parse(note: &str) -> Result<Self, SigstoreError> {
        let split = note
            .find("\n\n")
            .ok_or_else(|| bad(CheckpointProblem::NoBlankLine))?;
        let body = &note[..split + 1];
        let sigs = &note[split + 2..];
        let mut lines = body[..body.len() - 1].split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad(CheckpointProblem::EmptyOrigin));
        }
        let size_line = lines
            .next()
            .ok_or_else(|| bad(CheckpointProblem::MissingSize))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(bad(CheckpointProblem::SizeNotDecimal {
                line: size_line.to_owned(),
            }));
        }
        let size: u64 = size_line.parse().map_err(|_| {
            bad(CheckpointProblem::SizeOutOfRange {
                line: size_line.to_owned(),
            })
        })?;
        let root_line = lines
            .next()
            .ok_or_else(|| bad(CheckpointProblem::MissingRootHash))?;
        let root = decode_b64(root_line).map_err(|_| {
            bad(CheckpointProblem::RootHashNotBase64 {
                line: root_line.to_owned(),
            })
        })?;
        let root_hash: [u8; 32] = root
            .as_slice()
            .try_into()
            .map_err(|_| bad(CheckpointProblem::RootHashLength { len: root.len() }))?;
        let other: Vec<String> = lines.map(str::to_owned).collect();
        if other.iter().any(String::is_empty) {
            return Err(bad(CheckpointProblem::EmptyBodyLine));
        }
        if !sigs.ends_with('\n') {
            return Err(bad(CheckpointProblem::NoFinalNewline));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            let rest = line.strip_prefix("\u{2014} ").ok_or_else(|| {
                bad(CheckpointProblem::SignatureLinePrefix {
                    line: line.to_owned(),
                })
            })?;
            let (name, b64) = rest.rsplit_once(' ').ok_or_else(|| {
                bad(CheckpointProblem::SignatureLineNoSignature {
                    line: line.to_owned(),
                })
            })?;
            if name.is_empty() || name.contains(' ') {
                return Err(bad(CheckpointProblem::SignatureLineKeyName {
                    line: line.to_owned(),
                }));
            }
            let raw = decode_b64(b64).map_err(|_| bad(CheckpointProblem::SignatureNotBase64))?;
            if raw.len() < 5 {
                return Err(bad(CheckpointProblem::SignatureTooShort));
            }
            let mut key_hint = [0u8; 4];
            key_hint.copy_from_slice(&raw[..4]);
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_hint,
                signature: raw[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(bad(CheckpointProblem::Unsigned));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            other,
            body: body.to_owned(),
            signatures,
        })
    }

    /// Verifies that the log whose key hint is `key_hint` signed this checkpoint with `key`.
    /// Lines with other hints (witness cosignatures) are ignored; at least one line with the
    /// log's hint must verify.
    pub fn verify(&self, key_hint: [u8; 4], key: &PublicKey) -> Result<(), SigstoreError> {
        let mut candidates = self
            .signatures
            .iter()
            .filter(|s| s.key_hint == key_hint)
            .peekable();
        if candidates.peek().is_none() {
            return Err(bad(CheckpointProblem::NoLineForKeyHint { key_hint }));
        }
        if candidates.any(|s| key.verify(self.body.as_bytes(), &s.signature).is_ok()) {
            Ok(())
        } else {
            Err(bad(CheckpointProblem::SignatureDoesNotVerify))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer as _;

    fn note(body: &str, sk: &ed25519_dalek::SigningKey, hint: [u8; 4]) -> String {
        let sig = sk.sign(body.as_bytes());
        let mut raw = hint.to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        format!(
            "{body}\n\u{2014} log.example {}\n",
            super::super::serde_pb::encode_b64(&raw)
        )
    }

    #[test]
    fn parse_and_verify_with_cosignature() -> Result<(), SigstoreError> {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
        let pk = PublicKey::from(sk.verifying_key());
        let root = super::super::serde_pb::encode_b64(&[5u8; 32]);
        let body = format!("log.example\n12\n{root}\n");
        let signed = note(&body, &sk, [1, 2, 3, 4]);
        let cosigned = format!("{signed}\u{2014} witness AAAAAAAAAAAAAAAA\n");
        for n in [signed.clone(), cosigned] {
            let cp = Checkpoint::parse(&n)?;
            assert_eq!(
                (cp.origin.as_str(), cp.size, cp.root_hash),
                ("log.example", 12, [5u8; 32])
            );
            cp.verify([1, 2, 3, 4], &pk)?;
            assert!(cp.verify([9, 9, 9, 9], &pk).is_err());
        }
        let tampered = signed.replace("\n12\n", "\n13\n");
        assert!(
            Checkpoint::parse(&tampered)?
                .verify([1, 2, 3, 4], &pk)
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn rejects_missing_lines() {
        let root = super::super::serde_pb::encode_b64(&[5u8; 32]);
        for n in [
            format!("12\n{root}\n\n\u{2014} a AAAAAAAA\n"),
            format!("origin\n{root}\n\n\u{2014} a AAAAAAAA\n"),
            format!("origin\n12\n{root}\n\n"),
            format!("origin\n012\n{root}\n\n\u{2014} a AAAAAAAA\n"),
        ] {
            assert!(Checkpoint::parse(&n).is_err(), "{n:?}");
        }
    }
}
