//! The TradeSense server: binds a listener and serves `tradesense-core`'s
//! [`App`] over hyper, with graceful shutdown, a connection limit and a
//! header-read timeout. The binary (`main.rs`) only parses the command line,
//! loads settings and sets up telemetry; tests drive [`Server`] directly.

#![deny(unsafe_code, unreachable_pub)]
#![warn(missing_docs)]

mod serve;

pub use serve::{Server, ShutdownHandle};
pub use tradesense_core::app::App;
