//! PUBLISH encode and decode: hilt's owned representation, hilt's zero-copy view and
//! borrowing encoder, and mqttbytes 0.6, side by side in one group per case so the
//! report reads as a ratio.
//!
//! Groups are `mqtt_publish/{encode,decode}/{v311,v5}-qos{0,1}-{16B,1KiB}`, functions
//! `hilt_owned`, `hilt_view` and `mqttbytes`.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hilt_wire::Decoded;
use hilt_wire::mqtt::{Packet, Properties, Publish, PublishView, QoS, Version, decode};
use mqttbytes::{v4, v5};

struct Case {
    version: Version,
    qos: QoS,
    payload: Vec<u8>,
}

impl Case {
    fn label(&self) -> String {
        let v = match self.version {
            Version::V311 => "v311",
            Version::V5 => "v5",
        };
        let size = if self.payload.len() >= 1024 {
            "1KiB".to_string()
        } else {
            format!("{}B", self.payload.len())
        };
        format!("{v}-qos{}-{size}", self.qos.as_u8())
    }

    fn ours(&self) -> Publish {
        Publish {
            qos: self.qos,
            topic: "bench/device/42/telemetry".into(),
            packet_id: (self.qos != QoS::AtMostOnce).then_some(7),
            payload: self.payload.clone(),
            ..Publish::default()
        }
    }

    fn theirs_qos(&self) -> mqttbytes::QoS {
        match self.qos {
            QoS::AtMostOnce => mqttbytes::QoS::AtMostOnce,
            QoS::AtLeastOnce => mqttbytes::QoS::AtLeastOnce,
            QoS::ExactlyOnce => mqttbytes::QoS::ExactlyOnce,
        }
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for version in [Version::V311, Version::V5] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            for size in [16, 1024] {
                out.push(Case {
                    version,
                    qos,
                    payload: (0..size).map(|i| i as u8).collect(),
                });
            }
        }
    }
    out
}

fn encode(c: &mut Criterion) {
    for case in cases() {
        let mut group = c.benchmark_group("mqtt_publish/encode");
        let publish = case.ours();
        let packet = Packet::Publish(publish.clone());
        let len = packet.encoded_len(case.version);
        group.throughput(Throughput::Bytes(len as u64));
        let label = case.label();
        let mut out = Vec::with_capacity(len);
        group.bench_function(BenchmarkId::new("hilt_owned", &label), |b| {
            b.iter(|| {
                out.clear();
                black_box(&packet).emit(case.version, &mut out);
                black_box(out.len())
            })
        });
        let empty = Properties::new();
        group.bench_function(BenchmarkId::new("hilt_view", &label), |b| {
            b.iter(|| {
                out.clear();
                let r = hilt_wire::mqtt::PublishRef {
                    dup: false,
                    qos: case.qos,
                    retain: false,
                    topic: black_box("bench/device/42/telemetry"),
                    packet_id: publish.packet_id,
                    properties: &empty,
                    payload: black_box(&case.payload),
                };
                r.emit(case.version, &mut out);
                black_box(out.len())
            })
        });
        let payload = Bytes::from(case.payload.clone());
        let mut buf = BytesMut::with_capacity(len);
        match case.version {
            Version::V311 => {
                let mut p = v4::Publish::from_bytes(
                    "bench/device/42/telemetry",
                    case.theirs_qos(),
                    payload,
                );
                p.pkid = publish.packet_id.unwrap_or(0);
                group.bench_function(BenchmarkId::new("mqttbytes", &label), |b| {
                    b.iter(|| {
                        buf.clear();
                        black_box(&p).write(&mut buf).ok();
                        black_box(buf.len())
                    })
                });
            }
            Version::V5 => {
                let mut p = v5::Publish::from_bytes(
                    "bench/device/42/telemetry",
                    case.theirs_qos(),
                    payload,
                );
                p.pkid = publish.packet_id.unwrap_or(0);
                group.bench_function(BenchmarkId::new("mqttbytes", &label), |b| {
                    b.iter(|| {
                        buf.clear();
                        black_box(&p).write(&mut buf).ok();
                        black_box(buf.len())
                    })
                });
            }
        }
        group.finish();
    }
}

fn decode_bench(c: &mut Criterion) {
    for case in cases() {
        let mut group = c.benchmark_group("mqtt_publish/decode");
        let frame = Packet::Publish(case.ours()).to_bytes(case.version);
        group.throughput(Throughput::Bytes(frame.len() as u64));
        let label = case.label();
        group.bench_function(BenchmarkId::new("hilt_owned", &label), |b| {
            b.iter(|| match decode(black_box(&frame), case.version) {
                Ok(Decoded::Done(Packet::Publish(p), _)) => black_box(p.payload.len()),
                _ => 0,
            })
        });
        group.bench_function(BenchmarkId::new("hilt_view", &label), |b| {
            b.iter(
                || match PublishView::parse(black_box(&frame), case.version) {
                    Ok(Decoded::Done(Some(v), _)) => black_box(v.topic().len() + v.payload().len()),
                    _ => 0,
                },
            )
        });
        // mqttbytes reads from `Bytes`; cloning one is a reference-count bump, so the
        // comparison is parse work against parse work.
        let bytes = Bytes::from(frame.clone());
        group.bench_function(BenchmarkId::new("mqttbytes", &label), |b| {
            b.iter(|| {
                let Ok(header) = mqttbytes::check(black_box(&bytes).iter(), 1 << 20) else {
                    return 0;
                };
                match case.version {
                    Version::V311 => v4::Publish::read(header, bytes.clone())
                        .map_or(0, |p| black_box(p.payload.len())),
                    Version::V5 => v5::Publish::read(header, bytes.clone())
                        .map_or(0, |p| black_box(p.payload.len())),
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, encode, decode_bench);
criterion_main!(benches);
