//! The exit codes CI relies on; `hilt --help` documents them.

/// Documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Nothing failed beyond listed deviations (pass, skip, xfail, flaky only).
    Ok = 0,
    /// At least one test failed: a system under test broke a rule (or, in a
    /// negative-control run, a control did not make its test fail).
    TestsFailed = 1,
    /// The command line, a plan or a target file is wrong.
    Usage = 2,
    /// No test failed, but some could not run: a target did not start, a test errored,
    /// a result was inconclusive.
    Infrastructure = 3,
    /// The selection matched no test.
    NothingSelected = 4,
    /// Interrupted (Ctrl-C): partial results were written.
    Interrupted = 130,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}

/// An error the user can fix by changing what they typed or wrote.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

pub fn code_of_error(e: &anyhow::Error) -> ExitCode {
    if e.chain()
        .any(|c| c.is::<UsageError>() || c.is::<hilt_core::datafile::DataFileError>())
    {
        ExitCode::Usage
    } else {
        ExitCode::Infrastructure
    }
}
