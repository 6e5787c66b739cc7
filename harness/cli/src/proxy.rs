//! `hilt proxy`: the interposer by hand.

use std::sync::Arc;

use hilt_net::interposer::{parse_fault_script, run_proxy};

use crate::args::ProxyArgs;
use crate::exit::{ExitCode, usage};

pub async fn proxy(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    if args.help_faults {
        println!("{}", hilt_net::interposer::SCRIPT_HELP);
        return Ok(ExitCode::Ok);
    }
    let (Some(listen), Some(upstream)) = (args.listen, args.upstream) else {
        return Err(usage("give --listen ADDR and --upstream ADDR"));
    };
    let registry = hilt_suites::registry();
    let Some(suite) = registry.suites.iter().find(|s| s.protocol == args.protocol) else {
        return Err(usage(format!("no framer for protocol `{}`", args.protocol)));
    };
    let rules = match &args.faults {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("{}: {e}", path.display())))?;
            parse_fault_script(&text).map_err(|e| usage(format!("{}:{e}", path.display())))?
        }
        None => Vec::new(),
    };
    // The final counts are printed as the proxy's last log line.
    // The suite says whether the protocol runs over TCP or UDP.
    run_proxy(
        suite.transport,
        listen,
        upstream,
        Arc::clone(&suite.framer),
        rules,
        |line| println!("{line}"),
    )
    .await?;
    Ok(ExitCode::Ok)
}
