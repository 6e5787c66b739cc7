//! `hilt proxy`: the interposer by hand.

use std::sync::Arc;

use hilt_net::interposer::{parse_fault_script, run_proxy};

use crate::args::ProxyArgs;
use crate::exit::{usage, ExitCode};

pub async fn proxy(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    if args.help_faults {
        println!("{}", FAULT_SCRIPT_HELP);
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
            let text = std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
            parse_fault_script(&text).map_err(|e| usage(format!("{}:{e}", path.display())))?
        }
        None => Vec::new(),
    };
    let stats = run_proxy(listen, upstream, Arc::clone(&suite.framer), rules, |line| println!("{line}")).await?;
    let _ = stats;
    Ok(ExitCode::Ok)
}

const FAULT_SCRIPT_HELP: &str = "\
One rule per line; # starts a comment.
  rule    = dir match action [arg...] [option...]
  dir     = to-server | to-client | both
  match   = * | KIND[|KIND...] (a frame kind such as PUBLISH; !KIND negates)
  action  = drop | delay DURATION | duplicate | corrupt OFFSET [XOR] | patch OFFSET BYTES
          | replace BYTES | split OFFSET,OFFSET,... | reorder | stall
          | inject-before BYTES | inject-after BYTES | close fin|rst|blackhole
  option  = nth=N | count=N | after=N
Example:
  to-client CONNACK patch 3 0x05        # CONNACK return code 5: not authorised
  to-server PUBLISH drop nth=2          # the second PUBLISH never arrives
  to-client PUBACK delay 500ms";
