//! What a test is: an id, the statements it covers, what it needs, how long it may take,
//! its body — and the negative control that proves it can fail.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use hilt_core::{SpecRef, TestId};
pub use hilt_net::Transport;
use hilt_net::interposer::Rule;
use hilt_wire::FramerFactory;

use crate::ctx::Ctx;

/// Why a test did not pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The system under test broke `rule`.
    Fail { rule: SpecRef, message: String },
    /// The test could not judge (infrastructure, or hilt itself).
    Error { message: String },
    /// Ran, but what was observed does not decide.
    Inconclusive { message: String },
    /// Decided at run time that the test does not apply.
    Skip { reason: String },
}

impl Failure {
    pub fn fail(rule: SpecRef, message: impl Into<String>) -> Self {
        Failure::Fail {
            rule,
            message: message.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Failure::Error {
            message: message.into(),
        }
    }

    pub fn inconclusive(message: impl Into<String>) -> Self {
        Failure::Inconclusive {
            message: message.into(),
        }
    }

    pub fn skip(reason: impl Into<String>) -> Self {
        Failure::Skip {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Fail { rule, message } => write!(f, "{rule}: {message}"),
            Failure::Error { message } => write!(f, "error: {message}"),
            Failure::Inconclusive { message } => write!(f, "inconclusive: {message}"),
            Failure::Skip { reason } => write!(f, "skipped: {reason}"),
        }
    }
}

pub type Outcome = Result<(), Failure>;

/// A test body: given its context, runs to an outcome.
pub type TestBody = Arc<dyn Fn(Ctx) -> BoxFuture<'static, Outcome> + Send + Sync>;

/// How a test shares its target with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Runs beside other tests; it keeps to its own client ids and topics.
    #[default]
    Shared,
    /// Runs alone on the target: it restarts or kills it, or observes global state.
    Exclusive,
}

/// A negative control: interposer rules that, put in front of a well-behaved target,
/// make it break exactly the rule the test checks. The test must then fail.
#[derive(Clone)]
pub struct Control {
    /// What the mutated peer does wrong, in a sentence.
    pub what: String,
    pub rules: Arc<dyn Fn() -> Vec<Rule> + Send + Sync>,
    /// The service the interposer stands in front of, where a test uses several
    /// ([`TestCase::over`]); `None` for the test's first (or the suite's protocol).
    pub service: Option<&'static str>,
}

impl Control {
    pub fn new(
        what: impl Into<String>,
        rules: impl Fn() -> Vec<Rule> + Send + Sync + 'static,
    ) -> Self {
        Control {
            what: what.into(),
            rules: Arc::new(rules),
            service: None,
        }
    }

    /// Puts the interposer in front of `service` (a protocol the target serves).
    pub fn on(mut self, service: &'static str) -> Self {
        self.service = Some(service);
        self
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("what", &self.what)
            .field("service", &self.service)
            .finish()
    }
}

/// One registered test.
#[derive(Clone)]
pub struct TestCase {
    pub id: TestId,
    /// The suite (`mqtt`) it belongs to.
    pub suite: &'static str,
    /// One sentence: what is checked.
    pub title: String,
    /// Normative statements the test checks.
    pub covers: Vec<SpecRef>,
    /// Capabilities the target must declare, else the test is skipped.
    pub needs: Vec<&'static str>,
    /// The services (protocols the target serves) the test connects to, when they are
    /// not just its suite's protocol: a test across protocols is skipped on a target
    /// that lacks one of them.
    pub services: Vec<&'static str>,
    pub tags: Vec<&'static str>,
    /// An upper bound derived from the protocol's own constants; the runner turns an
    /// overrun into an error (the test itself decides fail vs pass on protocol deadlines).
    pub timeout: Duration,
    pub isolation: Isolation,
    pub control: Option<Control>,
    pub body: TestBody,
}

impl fmt::Debug for TestCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCase")
            .field("id", &self.id)
            .field("covers", &self.covers)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

impl TestCase {
    pub fn new<F, Fut>(
        suite: &'static str,
        id: impl Into<String>,
        title: impl Into<String>,
        body: F,
    ) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Outcome> + Send + 'static,
    {
        TestCase {
            id: TestId::new(id),
            suite,
            title: title.into(),
            covers: Vec::new(),
            needs: Vec::new(),
            services: Vec::new(),
            tags: Vec::new(),
            timeout: Duration::from_secs(10),
            isolation: Isolation::Shared,
            control: None,
            body: Arc::new(move |ctx| Box::pin(body(ctx))),
        }
    }

    pub fn covers(mut self, refs: &[SpecRef]) -> Self {
        self.covers.extend_from_slice(refs);
        self
    }

    pub fn needs(mut self, caps: &[&'static str]) -> Self {
        self.needs.extend_from_slice(caps);
        self
    }

    /// The test connects to these services instead of its suite's protocol.
    pub fn over(mut self, services: &[&'static str]) -> Self {
        self.services.extend_from_slice(services);
        self
    }

    /// The services the test connects to: its own list, else its suite's protocol.
    pub fn services_or<'a>(&'a self, suite_protocol: &'a str) -> Vec<&'a str> {
        if self.services.is_empty() {
            vec![suite_protocol]
        } else {
            self.services.clone()
        }
    }

    /// The service a control run puts the interposer in front of.
    pub fn interposed_service<'a>(&'a self, suite_protocol: &'a str) -> &'a str {
        self.control
            .as_ref()
            .and_then(|c| c.service)
            .or_else(|| self.services.first().copied())
            .unwrap_or(suite_protocol)
    }

    pub fn tags(mut self, tags: &[&'static str]) -> Self {
        self.tags.extend_from_slice(tags);
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn exclusive(mut self) -> Self {
        self.isolation = Isolation::Exclusive;
        self
    }

    pub fn control(mut self, c: Control) -> Self {
        self.control = Some(c);
        self
    }
}

/// Which side of a protocol a suite judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnderTest {
    /// The target serves the protocol (a broker, a server); tests reach its endpoint,
    /// and a control run puts the interposer in front of it.
    #[default]
    Server,
    /// The target is a device speaking the protocol as a client (its file's `device`
    /// section); tests run the server side themselves, make the device act through its
    /// commands ([`Ctx::start_device`](crate::Ctx::start_device)), and put the
    /// interposer between the two with the control's rules
    /// ([`Ctx::control_rules`](crate::Ctx::control_rules)).
    Client,
}

/// A protocol's suite: its tests and what the runner needs to record them.
#[derive(Clone)]
pub struct Suite {
    pub name: &'static str,
    /// The protocol name targets list under `serves` (or a device under `speaks`).
    pub protocol: &'static str,
    pub under_test: UnderTest,
    /// The IANA port, written into pcapng so Wireshark dissects the stream.
    pub well_known_port: Option<u16>,
    /// What the protocol runs over: it picks the interposer of control runs (a TCP
    /// relay, or a datagram relay for UDP protocols such as CoAP).
    pub transport: Transport,
    pub framer: FramerFactory,
    pub cases: Vec<TestCase>,
}

impl fmt::Debug for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suite")
            .field("name", &self.name)
            .field("cases", &self.cases.len())
            .finish_non_exhaustive()
    }
}
