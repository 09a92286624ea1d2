//! DSSE (Dead Simple Signing Envelope) v1: the envelope's JSON form and the pre-authentication
//! encoding (PAE) that signatures cover.

use serde::{Deserialize, Serialize};

use super::serde_pb::b64;

/// The payload type of an in-toto statement, the only payload mcpsig signs and verifies.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope. `payload` holds the decoded bytes; JSON carries them as base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

/// One signature over the envelope's PAE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    #[serde(with = "b64")]
    pub sig: Vec<u8>,
    /// Optional hint; always written (possibly empty) since some readers require the field.
    #[serde(default)]
    pub keyid: String,
}

impl Envelope {
    /// The bytes a signature over this envelope covers.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// DSSEv1 pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, lengths as ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let type_len = payload_type.len().to_string();
    let payload_len = payload.len().to_string();
    let mut out = Vec::with_capacity(
        16 + type_len.len() + payload_type.len() + payload_len.len() + payload.len(),
    );
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(type_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the DSSE protocol specification (protocol.md, "Test Vectors").
    #[test]
    fn pae_matches_spec_example() {
        let got = pae("http://example.com/HelloWorld", b"hello world");
        assert_eq!(
            got,
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn pae_empty() {
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn envelope_json_round_trip() -> Result<(), serde_json::Error> {
        let json = r#"{"payload":"aGVsbG8gd29ybGQ=","payloadType":"http://example.com/HelloWorld","signatures":[{"sig":"AQID","keyid":""}]}"#;
        let env: Envelope = serde_json::from_str(json)?;
        assert_eq!(env.payload, b"hello world");
        assert_eq!(env.signatures[0].sig, vec![1, 2, 3]);
        assert_eq!(serde_json::to_string(&env)?, json);
        Ok(())
    }
}
