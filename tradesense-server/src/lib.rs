//! The TradeSense server: composes `tradesense-core`'s pieces into the
//! TradeSense API ([`App`]), binds a listener and serves it over hyper, with graceful shutdown, a connection limit and a
//! header-read timeout. The binary (`main.rs`) only parses the command line,
//! loads settings and sets up telemetry; tests drive [`Server`] directly.

#![deny(unsafe_code, unreachable_pub)]
#![warn(missing_docs)]

mod app;
mod mfa_bridge;
mod serve;
pub mod settings;

pub use app::{AUTH_PATHS, App, EXEMPT_PATHS, StartupError};
pub use settings::{ConfigError, Environment, LogFormat, RedactedUrl, Settings};

pub use serve::{Server, ShutdownHandle};
