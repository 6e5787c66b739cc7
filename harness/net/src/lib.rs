//! tokio drivers.
