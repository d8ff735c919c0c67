//! Request metrics and the Prometheus `/metrics` exposition.
