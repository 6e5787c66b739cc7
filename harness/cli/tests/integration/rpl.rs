//! `hilt rpl sim`: the small scenario end to end, its files, and determinism.

use crate::support::{hilt, stderr};

const SMALL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../suites/rpl/scenarios/grid-small.yaml"
);

#[test]
fn rpl_sim_writes_metrics_report_and_trace_and_repeats_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let run = |out: &std::path::Path| {
        let o = hilt(&[
            "rpl",
            "sim",
            SMALL,
            "--out",
            out.to_str().unwrap(),
            "--pcap",
            "5000",
            "--quiet",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let stdout = run(&a);
    assert!(stdout.contains("converged: all joined at"), "{stdout}");
    assert!(stdout.contains("report:"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], "hilt-rpl-sim/1");
    let m = &json["metrics"];
    assert_eq!(m["nodes"], 25);
    assert_eq!(m["end"]["joined"], 24, "{m:#}");
    assert_eq!(m["violations"], 0, "{m:#}");
    assert!(m["convergence"]["all_routes_s"].as_f64().is_some());
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("root: node 12"));
    // The trace: pcapng with LINKTYPE_IPV6 (229) in its Interface Description Block.
    let pcap = std::fs::read(a.join("rpl.pcapng")).unwrap();
    assert_eq!(&pcap[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
    let idb = u32::from_le_bytes(pcap[4..8].try_into().unwrap()) as usize;
    assert_eq!(u16::from_le_bytes([pcap[idb + 8], pcap[idb + 9]]), 229);

    run(&b);
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(json["metrics"], again["metrics"], "same seed, same metrics");
    assert_eq!(json["nodes"], again["nodes"]);
}

#[test]
fn rpl_sim_rejects_a_bad_scenario_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: x\nseed: 1\nduration_s: ten\n").unwrap();
    let o = hilt(&["rpl", "sim", bad.to_str().unwrap(), "--out", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.yaml:3"), "{}", stderr(&o));
}
