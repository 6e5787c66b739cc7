//! `hilt`: conformance suites and benchmarks for IoT protocols against real brokers,
//! servers and devices.

mod args;
mod bench;
mod certify;
mod decode;
mod efficiency;
mod exit;
mod list;
mod locate;
mod proxy;
mod report;
mod rig;
mod rpl;
mod rpl_live;
mod run;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::exit::ExitCode;

/// `hilt list … | head` must end quietly when the pipe closes, as Unix tools do, instead
/// of panicking on the failed write: restore the default SIGPIPE action Rust ignores.
#[expect(
    unsafe_code,
    reason = "setting a signal disposition has no safe wrapper in std"
)]
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HILT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hilt: failed to start the async runtime: {e}");
            return ExitCode::Infrastructure.into();
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Run(a) => run::run(a).await,
            Command::List(a) => list::list(a),
            Command::Report(a) => report::report(a),
            Command::Decode(a) => decode::decode(a),
            Command::Proxy(a) => proxy::proxy(a).await,
            Command::Bench(a) => bench::bench(a).await,
            Command::Certify(a) => certify::certify(a).await,
            Command::Rpl(a) => rpl::rpl(a).await,
            Command::Rig(a) => rig::rig(a).await,
        }
    });
    // Whatever happened, nothing hilt launched may outlive it.
    hilt_peers::kill_all_launched();
    match outcome {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("hilt: error: {e:#}");
            exit::code_of_error(&e).into()
        }
    }
}
