//! The root package of the TradeSense workspace. It ships no code of its own:
//! it exists to own the workspace-level `examples/`, `benches/` and `tests/`,
//! which exercise `tradesense-core` and `tradesense-server` from the outside.
