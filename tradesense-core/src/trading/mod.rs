//! The trading domain: trades, portfolios, positions.
