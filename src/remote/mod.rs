//! Remote MCP servers (Streamable HTTP): the TLS configuration that holds an endpoint to the
//! identity its manifest pins (`tls`), and the guard proxy that holds it to its signed tool pins
//! while a client talks to it (`proxy`). What a manifest may pin is `manifest::remote`.

pub mod bridge;
pub mod proxy;
pub mod tls;
pub(crate) mod upstream;

pub use bridge::StdioBridge;
pub use proxy::{Proxy, ProxyConfig, ProxyError, ProxyLimits, UpstreamProblem};
