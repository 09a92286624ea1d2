//! mcpsig

pub mod mcp;
pub mod tools;
