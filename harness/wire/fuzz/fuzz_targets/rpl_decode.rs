//! No RPL or IPv6 input makes a parser or view panic, and whatever decodes re-encodes
//! to bytes that decode equal.
#![no_main]

use std::net::Ipv6Addr;

use hilt_wire::rpl::{
    Datagram, HopByHop, Ipv6Packet, RplMessage, RplOption, RplView, SourceRoute, metric_objects,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As an ICMPv6 RPL control message.
    if let Ok(m) = RplMessage::parse(data) {
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        assert_eq!(RplMessage::parse(&buf).as_ref(), Ok(&m));
        for o in m.options() {
            if let RplOption::DagMetricContainer(body) = o {
                for obj in metric_objects(body, 0).flatten() {
                    let _ = (obj.etx(), obj.hop_count());
                }
            }
        }
    }
    if let Ok(v) = RplView::new_checked(data) {
        let _ = (
            v.instance_id(),
            v.dio_rank(),
            v.dio_dodag_id(),
            v.options().count(),
        );
    }
    // As a whole IPv6 datagram.
    let p = Ipv6Packet::new_unchecked(data);
    let _ = (p.payload().len(), p.src_addr(), p.flow_label());
    if let Ok(d) = Datagram::parse(data) {
        let again = d.to_bytes();
        assert_eq!(Datagram::parse(&again).as_ref(), Ok(&d));
    }
    // As bare extension headers and options.
    let _ = HopByHop::parse(data);
    let _ = SourceRoute::parse(data, &Ipv6Addr::LOCALHOST);
    let _ = RplOption::parse_all(data, 0);
});
