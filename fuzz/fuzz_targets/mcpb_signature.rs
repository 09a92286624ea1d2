//! The end of an `.mcpb` file: the signature block is located (markers, length, padding) and its
//! PKCS#7 parsed, as `mcp-verify mcpb` does before any digest or key is checked. Input: the
//! whole file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpsig::mcpb_sig::block::{Located, eocd_before_block, locate};
use mcpsig::mcpb_sig::pkcs7;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let Ok(Located::Block(block)) = locate(data, len) else {
        return;
    };
    assert!(block.start < block.der.start && block.der.start < block.der.end);
    assert!(block.der.end + block.padding + 12 == len);
    if let Some((at, _)) = eocd_before_block(data, len, &block) {
        assert!(at + 2 <= block.start);
    }
    let der = &data[block.der.start as usize..block.der.end as usize];
    if let Ok(parsed) = pkcs7::parse(der) {
        assert!(!parsed.signed_attributes.is_empty());
        assert!(parsed.others.len() < pkcs7::MAX_CERTIFICATES);
    }
});
