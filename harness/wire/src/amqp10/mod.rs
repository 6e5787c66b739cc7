//! AMQP 1.0 (OASIS): codec, dissector, raw frames and a sans-IO connection core.
//!
//! [`Value`] is the type system of part 1 (every primitive encoding, described types,
//! lists, maps, arrays); [`Composite`] carries any composite of [`COMPOSITES`] (the nine
//! performatives, the five SASL frames, errors, delivery states, termini, message header
//! and properties) with its fields by the specification's names; [`Message`] is the
//! message format of part 3. [`decode`] reads a frame strictly and names the first rule it
//! breaks ([`Violation`], with its offset); [`frame_len`] delimits frames in a stream and
//! says "need more" as a value; [`dissect`] describes any frame for traces; [`RawFrame`]
//! writes anything. [`Connection`] is the quinn-style state machine of a client's
//! connection, sessions and links. [`AmqpFramer`] tells 1.0 from 0-9-1 by the protocol
//! header, for ports where both are served.

mod composite;
mod connection;
mod dissector;
mod frame;
mod message;
mod rules;
mod value;

pub use composite::{
    COMPOSITES, Class, Composite, CompositeSpec, FieldSpec, FieldType, by_code, by_name,
    descriptor, lookup,
};
pub use connection::{
    Config, Connection, Delivery, Event, Link, LinkRole, Sasl, Session, SettleMode, WINDOW,
    condition, split_transfer,
};
pub use dissector::{Amqp10Framer, AmqpFramer, Dissection, dissect};
pub use frame::{
    AMQP_PORT, Body, FRAME_HEADER_LEN, Frame, MIN_MAX_FRAME_SIZE, ProtocolHeader, RawFrame, decode,
    frame_len, frame_type,
};
pub use message::{Message, MessageBody, section_name};
pub use rules::{DOC, Rule, Violation};
pub use value::{Array, EncodeError, MAX_DEPTH, Value, code};
