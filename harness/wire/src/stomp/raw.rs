//! An unvalidated builder for negative tests: any command, header lines written exactly
//! as given (no escaping unless asked), a content-length that may lie, CRLF or LF, a
//! missing blank line or NUL, and bytes after the frame.
//!
//! ```
//! use hilt_wire::stomp::{RawFrame, decode};
//! // an undefined escape in a SEND header
//! let frame = RawFrame::new("SEND")
//!     .header("destination", "/queue/a")
//!     .header("x", "a\\tb")
//!     .build();
//! let err = decode(&frame).unwrap_err();
//! assert_eq!(err.rule.id, "STOMP-1.2-value-encoding-3");
//! ```

use super::frame::{NUL, escape};

/// A frame under construction; nothing is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    command: Vec<u8>,
    lines: Vec<Vec<u8>>,
    body: Vec<u8>,
    crlf: bool,
    blank_line: bool,
    nul: bool,
    after: Vec<u8>,
}

impl RawFrame {
    pub fn new(command: impl AsRef<[u8]>) -> Self {
        RawFrame {
            command: command.as_ref().to_vec(),
            lines: Vec::new(),
            body: Vec::new(),
            crlf: false,
            blank_line: true,
            nul: true,
            after: Vec::new(),
        }
    }

    /// `name:value` as given: no escaping.
    pub fn header(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        let mut line = name.as_ref().to_vec();
        line.push(b':');
        line.extend_from_slice(value.as_ref());
        self.line(line)
    }

    /// `name:value` escaped as frames other than CONNECT and CONNECTED are.
    pub fn header_escaped(self, name: &str, value: &str) -> Self {
        self.header(escape(name), escape(value))
    }

    /// Any bytes as a header line (its EOL is added).
    pub fn line(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.lines.push(bytes.as_ref().to_vec());
        self
    }

    /// A content-length header with any number, true or not.
    pub fn content_length(self, n: usize) -> Self {
        self.header("content-length", n.to_string())
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        self
    }

    /// Ends lines with CR LF instead of LF.
    pub fn crlf(mut self) -> Self {
        self.crlf = true;
        self
    }

    /// Leaves out the blank line between the headers and the body.
    pub fn no_blank_line(mut self) -> Self {
        self.blank_line = false;
        self
    }

    /// Leaves out the NUL that ends the frame.
    pub fn no_nul(mut self) -> Self {
        self.nul = false;
        self
    }

    /// Bytes written after the frame (EOLs, another frame).
    pub fn then(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.after.extend_from_slice(bytes.as_ref());
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let eol: &[u8] = if self.crlf { b"\r\n" } else { b"\n" };
        let mut out = self.command.clone();
        out.extend_from_slice(eol);
        for l in &self.lines {
            out.extend_from_slice(l);
            out.extend_from_slice(eol);
        }
        if self.blank_line {
            out.extend_from_slice(eol);
        }
        out.extend_from_slice(&self.body);
        if self.nul {
            out.push(NUL);
        }
        out.extend_from_slice(&self.after);
        out
    }
}
