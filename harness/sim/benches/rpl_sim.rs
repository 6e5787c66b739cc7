//! Simulator speed: simulated seconds per wall second and events per second.
//!
//! `cargo bench -p hilt-sim` first runs the 1,000-node one-hour scenario of
//! `suites/rpl/scenarios/grid-1000.yaml` once and prints its speed, then (unless
//! HILT_SIM_BENCH_10K=0) a 10,000-node grid for ten simulated minutes, then measures with
//! criterion `rpl_sim/grid/{100,1000}` over ten simulated minutes each (throughput in
//! simulator events).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hilt_sim::{Performance, Scenario, Topology, run};

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../suites/rpl/scenarios")
        .join(name);
    Scenario::load(&path).expect("scenario parses").0
}

fn grid(rows: usize, cols: usize, duration_s: f64) -> Scenario {
    let mut s = load("grid-1000.yaml");
    s.topology = Topology::Grid {
        rows,
        cols,
        spacing: 10.0,
        root: None,
    };
    s.duration_s = duration_s;
    s.events.clear();
    s
}

fn once(label: &str, s: &Scenario) {
    let started = Instant::now();
    let out = run(s, None).expect("scenario runs");
    let p = Performance::new(
        s.duration_s,
        out.metrics.events,
        started.elapsed().as_secs_f64(),
    );
    let m = &out.metrics;
    eprintln!(
        "{label}: {} nodes, {:.0} s simulated in {:.2} s wall: {:.0} simulated s per wall s, \
         {:.0} events/s ({} events); all joined at {:?} s, all routes at {:?} s, \
         delivery up {:?} down {:?}",
        m.nodes,
        s.duration_s,
        p.wall_s,
        p.simulated_s_per_wall_s,
        p.events_per_s,
        m.events,
        m.convergence.all_joined_s,
        m.convergence.all_routes_s,
        m.delivery.up_ratio,
        m.delivery.down_ratio
    );
}

fn bench(c: &mut Criterion) {
    once("grid-1000 (one hour)", &load("grid-1000.yaml"));
    if std::env::var("HILT_SIM_BENCH_10K").as_deref() != Ok("0") {
        once("grid 100 x 100 (ten minutes)", &grid(100, 100, 600.0));
    }
    let mut g = c.benchmark_group("rpl_sim/grid");
    g.sample_size(10);
    for (rows, cols) in [(10, 10), (25, 40)] {
        let s = grid(rows, cols, 600.0);
        let events = run(&s, None).expect("scenario runs").metrics.events;
        g.throughput(Throughput::Elements(events));
        g.bench_with_input(BenchmarkId::from_parameter(rows * cols), &s, |b, s| {
            b.iter(|| black_box(run(s, None).expect("scenario runs").metrics.events))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
