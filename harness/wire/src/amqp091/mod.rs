//! AMQP 0-9-1 as RabbitMQ speaks it: codec, dissector, raw frames and a sans-IO client
//! core.
//!
//! [`spec`] holds the method table (every method of connection, channel, exchange,
//! queue, basic, tx and confirm) as Rust data. One [`Method`] type carries any method,
//! its arguments by the specification's names. [`decode`] reads a frame strictly and
//! names the first rule it breaks ([`Violation`], with its offset); [`frame_len`]
//! delimits frames in a stream and says "need more" as a value; [`dissect`] describes
//! any frame for traces; [`RawFrame`] writes anything. [`Client`] is the quinn-style
//! client state machine.

mod client;
mod content;
mod dissector;
mod frame;
mod method;
mod rules;
pub mod spec;
mod value;

pub use client::{Client, ClientConfig, ClientEvent, Message, Tuning};
pub use content::{ContentHeader, Properties};
pub use dissector::{Amqp091Framer, ContentTracker, Dissection, dissect, summarize};
pub use frame::{Frame, Payload, ProtocolHeader, RawFrame, content_frames, decode, frame_len};
pub use method::Method;
pub use rules::{DOC, Rule, Violation};
pub use spec::{AMQP_PORT, ArgType, MethodId, MethodSpec, reply};
pub use value::{FieldTable, FieldValue, Value};
