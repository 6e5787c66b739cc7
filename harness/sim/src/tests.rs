use std::path::{Path, PathBuf};

use crate::*;

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../suites/rpl/scenarios")
}

fn small(rows: usize, cols: usize, duration_s: f64) -> Scenario {
    Scenario {
        name: "test".into(),
        description: String::new(),
        seed: 3,
        duration_s,
        topology: Topology::Grid {
            rows,
            cols,
            spacing: 10.0,
            root: Some(0),
        },
        radio: Radio::UnitDisk {
            range: 15.0,
            loss_at_edge: 0.2,
            link: LinkLayer::default(),
        },
        rpl: RplSettings::default(),
        traffic: Traffic {
            start_s: 60.0,
            up_interval_s: 20.0,
            down_interval_s: 20.0,
        },
        events: Vec::new(),
        sample_interval_s: Some(10.0),
    }
}

#[test]
fn every_scenario_file_parses_and_sets_up() {
    let mut n = 0;
    for entry in std::fs::read_dir(scenarios()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let (s, file) = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            Simulation::new(&s, file.as_ref()).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 3);
}

#[test]
fn a_bad_scenario_names_file_and_line() {
    let dir = std::env::temp_dir().join(format!("hilt-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bad.yaml");
    std::fs::write(
        &p,
        "name: x\nseed: 1\nduration_s: 10\ntopology: { kind: hexagon }\nradio: { kind: unit_disk, range: 1 }\n",
    )
    .unwrap();
    let e = Scenario::load(&p).unwrap_err().to_string();
    assert!(e.contains("bad.yaml:4"), "{e}");
    let mut s = small(2, 2, 10.0);
    s.events.push(ScenarioEvent {
        at_s: 1.0,
        action: Action::KillNode { node: 9 },
    });
    assert!(Simulation::new(&s, None).is_err());
}

#[test]
fn same_seed_same_metrics_other_seed_other_run() {
    let s = small(4, 4, 300.0);
    let a = run(&s, None).unwrap();
    let b = run(&s, None).unwrap();
    assert_eq!(a.metrics, b.metrics);
    assert_eq!(a.samples, b.samples);
    assert_eq!(a.nodes, b.nodes);
    let c = run(
        &Scenario {
            seed: 4,
            ..s.clone()
        },
        None,
    )
    .unwrap();
    assert_ne!(a.metrics.messages, c.metrics.messages);
}

#[test]
fn a_small_grid_converges_without_loops_ranks_growing_away_from_the_root() {
    let out = run(&small(5, 5, 600.0), None).unwrap();
    let m = &out.metrics;
    assert_eq!(m.end.joined, 24, "{m:#?}");
    assert!(m.convergence.all_joined_s.unwrap() < 5.0, "{m:#?}");
    assert!(m.convergence.all_routes_s.is_some(), "{m:#?}");
    assert_eq!(m.end.nodes_in_loops, 0);
    assert_eq!(m.violations, 0, "{:?}", m.violation_examples);
    // Every node ranks above its parent; the farthest corner is the deepest.
    for n in out.nodes.iter().filter(|n| !n.root) {
        let p = &out.nodes[n.parent.unwrap()];
        assert!(n.rank > p.rank, "{n:?} under {p:?}");
    }
    let corner = &out.nodes[24];
    assert!(out.nodes.iter().all(|n| n.rank <= corner.rank));
    assert!(m.delivery.up_ratio.unwrap() > 0.95, "{:?}", m.delivery);
    assert!(m.delivery.down_ratio.unwrap() > 0.95, "{:?}", m.delivery);
    assert!(m.messages.dio > 0 && m.messages.dao > 0 && m.messages.dao_ack > 0);
}

#[test]
fn a_lossless_line_delivers_everything_both_ways() {
    let mut s = small(1, 6, 600.0);
    s.radio = Radio::UnitDisk {
        range: 10.0,
        loss_at_edge: 0.0,
        link: LinkLayer::default(),
    };
    let m = run(&s, None).unwrap().metrics;
    assert!(m.delivery.up_sent > 100 && m.delivery.down_sent > 100);
    assert_eq!(m.delivery.up_ratio, Some(1.0), "{:?}", m.delivery);
    assert_eq!(m.delivery.down_ratio, Some(1.0), "{:?}", m.delivery);
    assert_eq!((m.delivery.up_hops_max, m.delivery.down_hops_max), (5, 5));
    assert_eq!(m.end.max_depth, 5);
}

#[test]
fn killing_the_root_detaches_everyone_and_a_restart_brings_them_back() {
    let mut s = small(4, 4, 900.0);
    s.events = vec![
        ScenarioEvent {
            at_s: 300.0,
            action: Action::KillRoot,
        },
        ScenarioEvent {
            at_s: 600.0,
            action: Action::RestartRoot,
        },
    ];
    let m = run(&s, None).unwrap().metrics;
    let kill = &m.repairs[0];
    assert!(
        kill.all_detached_after_s.is_some_and(|t| t < 250.0),
        "{m:#?}"
    );
    assert!(m.local_repairs >= 15);
    let back = &m.repairs[1];
    assert!(back.recovered_after_s.is_some_and(|t| t < 60.0), "{m:#?}");
    assert_eq!(m.end.joined, 15);
    assert_eq!(m.end.nodes_in_loops, 0);
}

#[test]
fn a_global_repair_moves_every_node_to_the_new_version() {
    let mut s = small(4, 4, 600.0);
    s.events = vec![ScenarioEvent {
        at_s: 300.0,
        action: Action::GlobalRepair,
    }];
    let m = run(&s, None).unwrap().metrics;
    let r = &m.repairs[0];
    assert!(r.recovered_after_s.is_some_and(|t| t < 30.0), "{m:#?}");
    assert_eq!(m.end.joined, 15);
}

#[test]
fn storing_mode_with_mrhof_on_a_link_graph_routes_down_hop_by_hop() {
    let mut s = small(1, 1, 600.0);
    s.topology = Topology::Line {
        nodes: 5,
        spacing: 1.0,
    };
    // 0-1-2-3-4 plus a shortcut 0-3 that loses 90% of frames: once the ETX estimate
    // passes MAX_LINK_METRIC (RFC 6719 §5), MRHOF leaves it for three good hops.
    let link = |a, b, prr| LinkQuality { a, b, prr };
    s.radio = Radio::Links {
        links: vec![
            link(0, 1, 1.0),
            link(1, 2, 1.0),
            link(2, 3, 1.0),
            link(3, 4, 1.0),
            link(0, 3, 0.1),
        ],
        link: LinkLayer::default(),
    };
    s.rpl.mode = Mode::Storing;
    s.rpl.objective = Objective::Mrhof;
    let out = run(&s, None).unwrap();
    let m = &out.metrics;
    assert_eq!(m.end.joined, 4, "{m:#?}");
    assert!(m.delivery.down_ratio.unwrap() > 0.9, "{:?}", m.delivery);
    assert!(m.convergence.all_routes_s.is_some());
    assert_eq!(m.delivery.down_hops_max, 4);
    assert_eq!(out.nodes[3].parent, Some(2), "{:?}", out.nodes);
}

#[test]
fn a_dead_node_s_children_find_other_parents() {
    let mut s = small(4, 4, 600.0);
    // Node 5 (diagonal to the root at 0) carries traffic; it dies at 300 s.
    s.events = vec![ScenarioEvent {
        at_s: 300.0,
        action: Action::KillNode { node: 5 },
    }];
    let out = run(&s, None).unwrap();
    let r = &out.metrics.repairs[0];
    assert!(r.recovered_after_s.is_some_and(|t| t < 60.0), "{r:?}");
    assert!(out.nodes.iter().all(|n| n.parent != Some(5)));
    assert_eq!(out.metrics.end.joined, 14);
}

#[test]
fn a_moved_node_finds_a_parent_in_its_new_neighbourhood() {
    let mut s = small(4, 4, 600.0);
    // Node 15 (far corner) moves next to the root.
    s.events = vec![ScenarioEvent {
        at_s: 300.0,
        action: Action::MoveNode {
            node: 15,
            x: 5.0,
            y: 5.0,
        },
    }];
    let out = run(&s, None).unwrap();
    let r = &out.metrics.repairs[0];
    assert!(
        r.recovered_after_s.is_some_and(|t| t > 0.0 && t < 120.0),
        "{r:?}"
    );
    assert_eq!(out.nodes[15].parent, Some(0), "{:?}", out.nodes[15]);
}
