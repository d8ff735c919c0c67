//! Per-client rate limiting.
