//! (tests to come)

use hilt_runner::TestCase;

pub fn tests() -> Vec<TestCase> {
    Vec::new()
}
