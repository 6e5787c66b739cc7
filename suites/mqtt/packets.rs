//! Short constructors for the packets tests send most.

use hilt_wire::mqtt::{
    Ack, Connect, Disconnect, Packet, Properties, Publish, QoS, ReasonCode, Subscribe,
    Subscription, Unsubscribe,
};

/// A clean-start CONNECT with a 60 s keep-alive.
pub fn connect(client_id: &str) -> Connect {
    Connect {
        clean_start: true,
        keep_alive: 60,
        client_id: client_id.to_owned(),
        ..Connect::default()
    }
}

pub fn publish(topic: &str, payload: &[u8], qos: QoS, packet_id: Option<u16>) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.to_owned(),
        packet_id,
        properties: Properties::default(),
        payload: payload.to_vec(),
    })
}

pub fn retained(topic: &str, payload: &[u8], qos: QoS, packet_id: Option<u16>) -> Packet {
    match publish(topic, payload, qos, packet_id) {
        Packet::Publish(mut p) => {
            p.retain = true;
            Packet::Publish(p)
        }
        other => other,
    }
}

pub fn subscribe(packet_id: u16, filter: &str, qos: QoS) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id,
        properties: Properties::default(),
        filters: vec![Subscription::new(filter, qos)],
    })
}

pub fn unsubscribe(packet_id: u16, filter: &str) -> Packet {
    Packet::Unsubscribe(Unsubscribe {
        packet_id,
        properties: Properties::default(),
        filters: vec![filter.to_owned()],
    })
}

pub fn ack(packet_id: u16) -> Ack {
    Ack {
        packet_id,
        code: ReasonCode::SUCCESS,
        properties: Properties::default(),
    }
}

pub fn disconnect() -> Packet {
    Packet::Disconnect(Disconnect {
        code: ReasonCode::NORMAL_DISCONNECTION,
        properties: Properties::default(),
    })
}
