//! The workspace's integration tests, as one test binary: the black-box
//! tests of the real server over HTTP, the in-process trading scenarios, the
//! cache against real Redis servers, and the support they share. One binary
//! links once, and lets the compiler see every use of the support modules
//! (each used by several test modules), so an unused helper is an error
//! rather than something to `allow`.
//!
//! `cargo test --test it` runs them all; a module path filters, e.g.
//! `cargo test --test it mfa_flow::`. Tests that need a service they were
//! not given (Redis) are `#[ignore]`d with the reason; `.ci/run` runs them.

// Support.
mod common;
mod hardening_support;
mod mfa_support;
mod passkeys_support;
mod redis_support;
mod trading_model;
mod trading_scenarios;

// Tests.
mod architecture;
mod auth_flow;
mod auth_security;
mod cache_redis;
mod cache_two_instances;
mod foundation;
mod h12_client_address;
mod h12_redis_outage;
mod h12_request_rules;
mod h12_security_events;
mod hardening_recovery;
mod hardening_sessions;
mod hardening_throttles;
mod journal;
mod mfa_flow;
mod mfa_guards;
mod mfa_pending_tokens;
mod openapi;
mod ops_metrics;
mod ops_ratelimit;
mod passkeys_failures;
mod passkeys_flow;
mod passkeys_instances;
mod store_pool;
mod trading_fold;
mod trading_http;
mod trading_inprocess;
