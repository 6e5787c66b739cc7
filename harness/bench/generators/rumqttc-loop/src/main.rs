//! `rumqttc-loop HOST PORT SECONDS PAYLOAD_BYTES`: connects (printing `connected` once
//! the CONNACK is in), publishes QoS 0 messages of PAYLOAD_BYTES to one topic as fast as
//! rumqttc's client and event loop allow for SECONDS, then disconnects and prints the
//! number of PUBLISHes the event loop wrote.
//! One thread (a current-thread runtime), so its CPU time is one core's work.

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, host, port, seconds, payload] = args.as_slice() else {
        eprintln!("usage: rumqttc-loop HOST PORT SECONDS PAYLOAD_BYTES");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("PORT is a number");
    let seconds: f64 = seconds.parse().expect("SECONDS is a number");
    let payload = vec![0x5au8; payload.parse().expect("PAYLOAD_BYTES is a number")];

    let mut options = MqttOptions::new("rumqttc-loop", host.as_str(), port);
    options.set_keep_alive(Duration::from_secs(60));
    options.set_request_channel_capacity(1024);
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let mut network = eventloop.network_options();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);

    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("rumqttc-loop: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("connected");
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let publisher = tokio::spawn(async move {
        while Instant::now() < deadline {
            if client
                .publish("hilt/eff", QoS::AtMostOnce, false, payload.clone())
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = client.disconnect().await;
    });

    let mut published = 0u64;
    loop {
        match eventloop.poll().await {
            Ok(Event::Outgoing(Outgoing::Publish(_))) => published += 1,
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("rumqttc-loop: {e}");
                break;
            }
        }
    }
    let _ = publisher.await;
    println!("{published}");
}
