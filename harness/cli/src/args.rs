//! Every flag of the `hilt` command, declared once: help text, completions and docs all
//! come from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0    nothing failed beyond the targets' listed deviations
  1    a test failed (a system under test broke a rule; in a --controls run, a
       negative control did not make its test fail)
  2    usage: the command line, a plan file or a target file is wrong
  3    no test failed, but some could not run (a target did not start, a test
       errored or was inconclusive)
  4    the selection matched no test
  130  interrupted by Ctrl-C; partial results were written

Environment: HILT_LOG=debug (or info, trace) for diagnostics on stderr;
NO_COLOR to disable colour.";

/// hilt — hardware-in-the-loop conformance tests and benchmarks for IoT protocols.
///
/// hilt starts the systems it tests (brokers as local processes on ephemeral loopback
/// ports, or containers, or an address you give), runs conformance suites against them
/// with the packets behind every verdict, and writes a run folder: an event log,
/// results JSON, JUnit XML, a pcapng trace per test, the peers' logs and an HTML report.
///
/// Start with:
///   hilt list tests --suite mqtt
///   hilt run --suite mqtt --target mosquitto
///   hilt run --plan suites/plans/mqtt-broker.yaml --target mosquitto --target rabbitmq -j 4
#[derive(Debug, Parser)]
#[command(name = "hilt", version, after_long_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run conformance tests against one or more targets.
    #[command(after_long_help = EXIT_CODES)]
    Run(RunArgs),
    /// List tests, suites or targets.
    List(ListArgs),
    /// Re-render the HTML report of one or more run folders from their results JSON, or
    /// compare several bench runs in one page.
    Report(ReportArgs),
    /// Decode frames from hex, a binary file or a pcapng trace, naming every rule each
    /// frame breaks. Exits 1 if any frame is malformed.
    Decode(DecodeArgs),
    /// Relay connections (TCP) or datagrams (UDP, for CoAP) through the interposer,
    /// printing a live decoded log of both directions and applying faults from a script.
    Proxy(ProxyArgs),
    /// Benchmark targets with an open-loop workload: latency corrected for coordinated
    /// omission and raw, throughput, loss, client and broker CPU; writes bench.json,
    /// HdrHistogram interval logs and bench.html.
    Bench(BenchArgs),
    /// Certify a device against a profile: run the profile's tests with the device as the
    /// system under test, and write a certification report (certificate.json with its
    /// digest, certificate.html) beside the run's results, JUnit XML, pcapng traces and
    /// HTML report. With --verify, check a certificate instead.
    ///
    /// Examples:
    ///   hilt certify --profile suites/cert/mqtt-client-v5.yaml --device targets/devices/paho-mqtt.yaml
    ///   hilt certify --profile mqtt-client-v311 --device-cmd 'mosquitto_sub -h {host} -p {port} -t x -q 1 -V 311'
    ///   hilt certify --verify hilt-out/cert-…/certificate.json
    ///
    /// Exit codes: 0 certified (with listed deviations, if any), 1 not certified (or a
    /// certificate that does not verify), 3 incomplete (a test could not judge).
    #[command(verbatim_doc_comment)]
    Certify(CertifyArgs),
    /// RPL tools: `hilt rpl sim` simulates a network of RPL nodes in virtual time.
    #[command(subcommand)]
    Rpl(RplCommand),
    /// Rigs, where devices live (targets/rigs/*.yaml): list them, check one is usable,
    /// discover attached probes and serial ports, load firmware, talk to a console.
    #[command(subcommand)]
    Rig(RigCommand),
}

#[derive(Debug, Subcommand)]
pub enum RigCommand {
    /// List the rig files with their backend, console, network attachment and whether
    /// each is usable on this machine (and why not).
    List,
    /// Check that a rig is usable: programs, ports, probe, firmware, TUN. With --boot,
    /// also build and load the firmware and wait for the boot banner. Exits 3 when the
    /// rig is unusable.
    Check(RigCheckArgs),
    /// List serial ports (and the first line each prints within --listen) and debug
    /// probes, then print a starter rig file for what was found.
    ///
    /// Ports the system does not enumerate (a pty, a socat link) are given with --port.
    #[command(verbatim_doc_comment)]
    Discover(RigDiscoverArgs),
    /// Build the rig's firmware, load it (flash, or QEMU's kernel), run it and wait
    /// for its boot banner; prints each stage's time.
    Flash(RigBootArgs),
    /// Boot the rig and attach to its console: what it prints goes to stdout, lines of
    /// stdin go to it. With --send, send those commands instead and exit after --wait.
    Console(RigConsoleArgs),
    /// Boot the rig and put it on the network: its SLIP link bridged to a TUN interface
    /// (root needed) with hilt's RPL root on the link; waits until the device joined the
    /// DODAG, prints its address and the time each stage took, and keeps the bridge up
    /// for --for seconds (or until Ctrl-C), so suites can run against the device.
    /// Writes every bridged packet to DIR/slip.pcapng.
    Up(RigUpArgs),
}

#[derive(Debug, Args)]
pub struct RigUpArgs {
    /// The rig: a name under targets/rigs/ or a path to a rig file.
    pub rig: String,
    /// The TUN interface to create.
    #[arg(long, value_name = "NAME", default_value = "hilt-slip0")]
    pub iface: String,
    /// Keep the bridge up this long after the join (default: until Ctrl-C).
    #[arg(long = "for", value_name = "SECONDS")]
    pub hold: Option<u64>,
    /// Where to write slip.pcapng (default: hilt-out/rig-NAME; with --link-only, none
    /// unless given).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A plain SLIP-TUN relay, no RPL root in hilt: every packet crosses as it is and
    /// the TUN interface gets no address, so a root on it (the rpl suite's) talks to the
    /// device itself. The firmware is built only when stale. Runs until killed (or
    /// --for).
    #[arg(long)]
    pub link_only: bool,
    /// With --link-only: boot the device only once a packet socket listens on the
    /// interface, so the test that opened it hears the device's first packet.
    #[arg(long, requires = "link_only")]
    pub wait_listener: bool,
    /// With --link-only: a fault the relay commits on the device's behalf, on what it
    /// sends and hears (as `hilt rpl node --mutate`; `none` for none), for negative
    /// controls. Repeatable.
    #[arg(long = "mutate", value_name = "FAULT", requires = "link_only")]
    pub mutate: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RigCheckArgs {
    /// The rig: a name under targets/rigs/ or a path to a rig file.
    pub rig: String,
    /// Also build, load and boot it.
    #[arg(long)]
    pub boot: bool,
}

#[derive(Debug, Args)]
pub struct RigDiscoverArgs {
    /// Also probe this port (repeatable).
    #[arg(long, value_name = "PATH")]
    pub port: Vec<String>,
    /// How long to listen on each port for a first line, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub listen: u64,
}

#[derive(Debug, Args)]
pub struct RigBootArgs {
    /// The rig: a name under targets/rigs/ or a path to a rig file.
    pub rig: String,
}

#[derive(Debug, Args)]
pub struct RigConsoleArgs {
    /// The rig: a name under targets/rigs/ or a path to a rig file.
    pub rig: String,
    /// Send this command line after boot (repeatable), then exit once --expect matched
    /// or --wait passed.
    #[arg(long, value_name = "LINE")]
    pub send: Vec<String>,
    /// With --send: exit 0 once a line matches this regex, 3 if none did within --wait.
    #[arg(long, value_name = "REGEX")]
    pub expect: Option<String>,
    /// With --send: how long to keep printing the console, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub wait: u64,
}

#[derive(Debug, Subcommand)]
pub enum RplCommand {
    /// Simulate an RPL network from a scenario file, deterministically, in virtual time.
    ///
    /// Each node runs hilt's own RPL node or root state machine, unchanged, over a
    /// simulated radio (unit disk with distance-based loss, or an explicit link graph),
    /// with the scenario's traffic (up to the root, down from it) and events (kill or
    /// restart the root or a node, move a node, degrade a link, global repair). The
    /// same scenario and seed always give the same metrics.
    ///
    /// Prints progress and the convergence metrics; writes into DIR:
    ///   metrics.json   every metric (schema hilt-rpl-sim/1), the curves over time, the
    ///                  final DODAG and the run's speed
    ///   report.html    the DODAG drawn where the nodes stand, coloured by Rank, and
    ///                  charts of joined nodes and control messages over time
    ///   rpl.pcapng     with --pcap: the simulated ICMPv6 as Wireshark reads it
    ///
    /// Examples:
    ///   hilt rpl sim suites/rpl/scenarios/grid-small.yaml --out /tmp/sim
    ///   hilt rpl sim suites/rpl/scenarios/grid-1000.yaml --out /tmp/sim1000
    ///   hilt rpl sim suites/rpl/scenarios/grid-1000.yaml --bench
    #[command(verbatim_doc_comment)]
    Sim(RplSimArgs),
    /// Run hilt's RPL root (a border router) on a real interface.
    ///
    /// Forms a DODAG on IFACE (a veth, TAP or TUN interface, e.g. a TUN bridged to a
    /// microcontroller's SLIP line): DIOs to ff02::1a on Trickle, answers to DISes,
    /// DAOs taken into a source-route table (Non-Storing) or a routing table (Storing),
    /// DAO-ACKs, and a /64 prefix in Prefix Information for autoconfiguration. Talks
    /// through a packet socket, so it needs root; the kernel's own IPv6 is not used.
    /// Prints one line per event (joined, route-added, violation, …). SIGUSR1 starts a
    /// global repair (new DODAG Version), SIGUSR2 increments the DTSN.
    ///
    /// Examples:
    ///   hilt rpl root --iface tun0
    ///   hilt rpl root --iface veth0 --mode storing --of mrhof --prefix 2001:db8:1::/64
    #[command(verbatim_doc_comment)]
    Root(RplRootArgs),
    /// Run hilt's RPL node (a router) on a real interface.
    ///
    /// Joins a DODAG heard on IFACE, sends DAOs (with DAO-ACK requested), forwards for
    /// its sub-DODAG and advertises DIOs on Trickle. Needs root (packet socket). Prints
    /// one line per event.
    ///
    /// Examples:
    ///   hilt rpl node --iface veth1
    ///   hilt rpl node --iface rpl0 --hear fe80::1 --loss 0.1 --mutate no-dis
    #[command(verbatim_doc_comment)]
    Node(RplNodeArgs),
    /// List the faults `--mutate` can commit, for negative controls.
    Faults,
}

/// What `hilt rpl root` and `hilt rpl node` share.
#[derive(Debug, Args)]
pub struct RplLiveArgs {
    /// The interface to run on.
    #[arg(long, value_name = "IFACE")]
    pub iface: String,

    /// Interface identifier (hex) of the node's addresses, fe80::IID and PREFIX::IID
    /// (default: the interface's EUI-64; on a device without a MAC, 1 for the root
    /// and a random one for a node).
    #[arg(long, value_name = "HEX")]
    pub iid: Option<String>,

    /// Commit a fault (repeatable), for negative controls; `hilt rpl faults` lists
    /// them, `none` commits none.
    #[arg(long = "mutate", value_name = "FAULT")]
    pub mutate: Vec<String>,

    /// Hear only these neighbours (link-local addresses, repeatable): turns a shared
    /// segment into any topology.
    #[arg(long = "hear", value_name = "ADDR")]
    pub hear: Vec<std::net::Ipv6Addr>,

    /// Drop this fraction of what is heard (0..1), seeded by --seed.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub loss: f64,

    /// Seeds Trickle, jitter and loss.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Between DISes while without a parent, in ms (default 10000).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub dis_interval_ms: u64,

    /// DelayDAO in ms (RFC 6550 default 1000).
    #[arg(long, value_name = "MS", default_value_t = 1_000)]
    pub dao_delay_ms: u64,

    /// How long to wait for a DAO-ACK before sending the DAO again, in ms.
    #[arg(long, value_name = "MS", default_value_t = 2_000)]
    pub dao_ack_timeout_ms: u64,

    /// Retransmissions of an unacknowledged DAO.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub dao_retries: u8,

    /// Do not ask for DAO-ACKs (K flag clear).
    #[arg(long)]
    pub no_dao_ack: bool,

    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
}

#[derive(Debug, Args)]
pub struct RplRootArgs {
    #[command(flatten)]
    pub live: RplLiveArgs,

    /// The /64 the nodes autoconfigure from; the DODAGID is PREFIX::IID.
    #[arg(long, value_name = "PREFIX/64", default_value = "2001:db8::/64")]
    pub prefix: String,

    /// Mode of Operation.
    #[arg(long, value_enum, default_value = "non-storing")]
    pub mode: RplMode,

    /// Objective function.
    #[arg(long, value_enum, default_value = "of0")]
    pub of: RplObjective,

    /// RPLInstanceID.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub instance: u8,

    /// DIOIntervalMin: Imin = 2^N ms (RFC 6550 default 3).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub dio_interval_min: u8,

    /// DIOIntervalDoublings (RFC 6550 default 20).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub dio_doublings: u8,

    /// DIORedundancyConstant k (RFC 6550 default 10; 0 never suppresses).
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub dio_redundancy: u8,

    /// MinHopRankIncrease (RFC 6550 default 256).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub min_hop_rank_increase: u16,

    /// Default route lifetime, in lifetime units.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub default_lifetime: u8,

    /// Lifetime unit in seconds.
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub lifetime_unit: u16,
}

#[derive(Debug, Args)]
pub struct RplNodeArgs {
    #[command(flatten)]
    pub live: RplLiveArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RplMode {
    NonStoring,
    Storing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RplObjective {
    Of0,
    Mrhof,
}

#[derive(Debug, Args)]
pub struct RplSimArgs {
    /// The scenario, e.g. suites/rpl/scenarios/grid-1000.yaml.
    #[arg(value_name = "SCENARIO.yaml")]
    pub scenario: PathBuf,

    /// Where to write metrics.json and report.html (default: hilt-out/rpl-sim-NAME).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Run with this seed instead of the scenario's.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Simulate this many seconds instead of the scenario's duration.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,

    /// Also write rpl.pcapng with up to N frames (LINKTYPE_IPV6), from the start.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "200000")]
    pub pcap: Option<usize>,

    /// Measure speed: run the scenario three times, print simulated seconds per wall
    /// second and events per second of the fastest run, write nothing. Build with
    /// --release for meaningful numbers.
    #[arg(long)]
    pub bench: bool,

    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A suite to run (repeatable): `mqtt`. `hilt list suites` shows them.
    #[arg(long = "suite", value_name = "NAME")]
    pub suites: Vec<String>,

    /// A plan file: which tests, retries, parallelism, default targets.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// Only tests whose id matches this glob (repeatable), e.g. `mqtt.v5.connect.*`.
    #[arg(long = "select", short = 's', value_name = "GLOB")]
    pub select: Vec<String>,

    /// A target by name (`mosquitto`, `rabbitmq`: files under targets/) or by path to a
    /// target file, or `external` with --url. Repeatable: tests run against each.
    #[arg(long = "target", short = 't', value_name = "NAME|FILE")]
    pub targets: Vec<String>,

    /// For `--target external`: where it serves, e.g. `mqtt://127.0.0.1:1883`.
    #[arg(long, value_name = "URL")]
    pub url: Vec<String>,

    /// For `--target external`: capabilities it declares (comma-separated); by default
    /// every capability the selected suites know, so nothing is skipped.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub capabilities: Option<Vec<String>>,

    /// Tests run concurrently per target (default: from the plan, else 8).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Extra attempts for a failing test; a later pass is reported as flaky.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// The run folder (default: hilt-out/RUN_ID).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// How to start targets.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,

    /// Judge the negative controls instead: each test runs through the interposer, which
    /// makes the target break the rule the test checks; every test must then fail.
    #[arg(long)]
    pub controls: bool,

    /// Disable colour in the terminal output.
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, Args)]
pub struct CertifyArgs {
    /// The profile: a file (suites/cert/mqtt-client-v5.yaml) or its name (mqtt-client-v5).
    #[arg(long, value_name = "FILE|NAME", required_unless_present = "verify")]
    pub profile: Option<String>,

    /// The device under test: a device file (targets/devices/*.yaml) or its name.
    #[arg(
        long,
        value_name = "FILE|NAME",
        required_unless_present_any = ["verify", "device_cmd"],
        conflicts_with = "device_cmd"
    )]
    pub device: Option<String>,

    /// Or a command that makes the device connect, run by `sh -c` with {host} and {port}
    /// (the address to connect to) filled in, and any of the suite's other placeholders
    /// ({topic}, {qos}, {keepalive}, {client_id}, …). It serves the tests that only need
    /// the device to connect and act on its own; the others are skipped.
    #[arg(long, value_name = "TEMPLATE")]
    pub device_cmd: Option<String>,

    /// Capabilities the --device-cmd device declares beside the profile's own, e.g.
    /// `mqtt.client.reconnect`.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        requires = "device_cmd"
    )]
    pub capabilities: Vec<String>,

    /// The firmware image the device runs: its SHA-256 goes into the certificate.
    #[arg(long, value_name = "FILE")]
    pub firmware: Option<PathBuf>,

    /// Tests run concurrently.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 8)]
    pub jobs: usize,

    /// Extra attempts for a failing test; a later pass is reported as flaky.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,

    /// The run folder (default: hilt-out/cert-PROFILE-DEVICE-RUN_ID).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Check a certificate: its digest against its content, and the SHA-256 of every
    /// pcapng trace beside it. Exits 0 when everything matches, 1 otherwise.
    #[arg(long, value_name = "CERTIFICATE.json", conflicts_with_all = ["profile", "device", "device_cmd"])]
    pub verify: Option<PathBuf>,

    /// Disable colour in the terminal output.
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// A local process if its program is installed, else a container if Docker runs.
    Auto,
    Process,
    Container,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(value_enum)]
    pub what: ListWhat,
    /// Only this protocol's tests.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Only this suite's tests.
    #[arg(long)]
    pub suite: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListWhat {
    Tests,
    Suites,
    Targets,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run folders (or results.json / bench.json files) to render. Several are merged
    /// into one report, their targets side by side: conformance runs into a verdict
    /// matrix, bench runs (`hilt bench` folders) into one comparison of their targets.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// Where to write the HTML (default: report.html, or compare.html for bench runs, in
    /// the first run folder).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The protocol of the bytes: mqtt when not given for hex or a binary file; in a
    /// pcapng trace, guessed for each flow from its ports (1883 mqtt, 5683 coap).
    #[arg(long, short = 'p')]
    pub protocol: Option<String>,
    /// MQTT version when the bytes hold no CONNECT to learn it from: `3.1.1` or `5`.
    #[arg(long = "mqtt-version", value_name = "V")]
    pub mqtt_version: Option<String>,
    /// Hex (spaces allowed), or a path to a binary file or a .pcapng trace.
    #[arg(value_name = "HEX|FILE")]
    pub input: String,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Where to listen, e.g. 127.0.0.1:1884.
    #[arg(long, value_name = "ADDR", required_unless_present = "help_faults")]
    pub listen: Option<std::net::SocketAddr>,
    /// The real server, e.g. 127.0.0.1:1883.
    #[arg(long, value_name = "ADDR", required_unless_present = "help_faults")]
    pub upstream: Option<std::net::SocketAddr>,
    #[arg(long, short = 'p', default_value = "mqtt")]
    pub protocol: String,
    /// A fault script (one rule per line; see `hilt proxy --help-faults`).
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Print the fault-script grammar and exit.
    #[arg(long)]
    pub help_faults: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The workload file, e.g. suites/bench/mqtt-p2p.yaml.
    #[arg(
        value_name = "WORKLOAD.yaml",
        required_unless_present_any = ["generator_efficiency", "generate"]
    )]
    pub workload: Option<PathBuf>,

    /// A target by name or target file (repeatable); each is started alone, in turn, so
    /// targets never compete for the cores.
    #[arg(
        long = "target",
        short = 't',
        value_name = "NAME|FILE",
        required_unless_present_any = ["generator_efficiency", "generate"]
    )]
    pub targets: Vec<String>,

    /// Instead of a workload: measure QoS 0 publishes per second per CPU core of hilt's
    /// generator and of each --generator, against hilt's sink (reads and discards) and
    /// each --target. `ci/bench-generators` builds the independent generators and runs
    /// this.
    #[arg(long, conflicts_with = "workload")]
    pub generator_efficiency: bool,

    /// An independent generator for --generator-efficiency (repeatable): a name and a
    /// command to which HOST PORT SECONDS PAYLOAD_BYTES are appended; it must publish for
    /// SECONDS, disconnect and print how many PUBLISHes it wrote.
    #[arg(
        long = "generator",
        value_name = "NAME=COMMAND",
        requires = "generator_efficiency"
    )]
    pub generators: Vec<String>,

    /// Payload size for --generator-efficiency.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 16,
        requires = "generator_efficiency"
    )]
    pub payload: usize,

    /// hilt's generator as --generator-efficiency runs it, in a process of its own.
    #[arg(
        long,
        hide = true,
        num_args = 4,
        value_names = ["HOST", "PORT", "SECONDS", "PAYLOAD_BYTES"]
    )]
    pub generate: Option<Vec<String>>,

    /// Messages per second per publisher, overriding the workload; a comma-separated
    /// list is a sweep: `--rate 5000,10000`. `max` searches for the highest rate whose
    /// backlog and p99 stay bounded (the workload's `search` settings): `--rate 5000,max`.
    #[arg(long, value_name = "N|max[,…]", value_delimiter = ',')]
    pub rate: Option<Vec<String>>,

    /// Length of the measured phase, overriding the workload (`5s`, `500ms`).
    #[arg(long, value_name = "DUR")]
    pub duration: Option<String>,

    /// Length of the warm-up, overriding the workload.
    #[arg(long, value_name = "DUR")]
    pub warmup: Option<String>,

    /// Freeze the target (SIGSTOP) for FOR, AT into the measured phase, then continue
    /// it: `--pause 1s@2s`.
    #[arg(long, value_name = "FOR@AT")]
    pub pause: Option<String>,

    /// The run folder (default: hilt-out/bench-RUN_ID).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// How to start targets.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
}
