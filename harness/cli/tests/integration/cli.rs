//! The command line's contract: exit codes, errors that say what to do, decode.

use crate::support::{hilt, stderr};

#[test]
fn usage_errors_exit_2_and_say_what_to_do() {
    let o = hilt(&["run", "--suite", "mqtt", "--target", "no-such-broker"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no target named `no-such-broker`"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("mosquitto"),
        "lists the known targets: {}",
        stderr(&o)
    );

    let o = hilt(&["run", "--target", "mosquitto"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--suite"), "{}", stderr(&o));
}

#[test]
fn a_selection_matching_nothing_exits_4() {
    let o = hilt(&[
        "run",
        "--select",
        "nothing.matches.this",
        "--target",
        "mosquitto",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn a_bad_plan_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("bad.yaml");
    std::fs::write(&plan, "name: bad\nretries: many\n").unwrap();
    let o = hilt(&[
        "run",
        "--plan",
        plan.to_str().unwrap(),
        "--target",
        "mosquitto",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.yaml:2"), "{}", stderr(&o));
}

#[test]
fn decode_names_the_broken_rule_and_exits_1() {
    // A valid 3.1.1 CONNECT: exit 0.
    let o = hilt(&["decode", "10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("CONNECT"), "{out}");

    // The CONNECT's reserved flag set: [MQTT-3.1.2-3].
    let o = hilt(&["decode", "10 0c 00 04 4d 51 54 54 04 03 00 3c 00 00"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("MQTT-3.1.2-3"), "{out}");
}

#[test]
fn decode_tells_amqp_1_0_from_0_9_1_by_the_protocol_header() {
    // The 1.0 header, then an open with container-id "c".
    let v10 = "41 4d 51 50 00 01 00 00  00 00 00 11 02 00 00 00 00 53 10 c0 04 01 a1 01 63";
    let o = hilt(&["decode", "--protocol", "amqp", v10]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("1.0.0") && out.contains("open container-id=\"c\""),
        "{out}"
    );
    // The 0-9-1 header, then channel.open.
    let v091 = "41 4d 51 50 00 00 09 01  01 00 01 00 00 00 05 00 14 00 0a 00 ce";
    let o = hilt(&["decode", "--protocol", "amqp", v091]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("channel.open"), "{out}");
    // A 1.0 open whose mandatory container-id is missing: [AMQP10-1.4-mandatory].
    let o = hilt(&[
        "decode",
        "--protocol",
        "amqp10",
        "00 00 00 0c 02 00 00 00 00 53 10 45",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("AMQP10-1.4-mandatory"), "{out}");
}

#[test]
fn list_shows_tests_with_their_statements() {
    let o = hilt(&["list", "tests", "--suite", "mqtt"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("mqtt.v5.connect.clean-start-no-session-present"),
        "{out}"
    );
    assert!(out.contains("MQTT-3.2.2-2"), "{out}");
}

#[test]
fn a_target_that_cannot_start_makes_errors_not_failures() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ghost.yaml");
    std::fs::write(
        &target,
        "name: ghost\nserves:\n  mqtt: { port: mqtt, versions: ['3.1.1', '5.0'] }\n\
         capabilities: [mqtt.v5, mqtt.v3.1.1]\n\
         launch:\n  process:\n    program: hilt-no-such-broker\n    ports: [mqtt]\n    ready_ports: [mqtt]\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = hilt(&[
        "run",
        "--suite",
        "mqtt",
        "--select",
        "mqtt.*.connect.*",
        "--target",
        target.to_str().unwrap(),
        "--backend",
        "process",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("hilt-no-such-broker"),
        "says which program is missing: {}",
        stderr(&o)
    );
    let r = crate::support::results(&out);
    assert!(!r.results.is_empty());
    assert!(
        r.results
            .iter()
            .all(|t| t.verdict == hilt_core::Verdict::Error),
        "every test is an error"
    );
}
