//! Launching and stopping targets.
