//! Launching, watching and stopping the systems hilt tests.
//!
//! hilt starts what it tests: [`launch`] brings a target up from its target file — a
//! local program on ephemeral loopback ports (the process backend), a container image
//! (the container backend, feature `container`), or an address that already serves
//! (the external backend) — and waits until it is ready. The returned [`Running`]
//! captures its logs, samples its CPU and memory, can kill, restart, pause and resume
//! it for fault tests, and stops it at the end. Targets die with hilt even when hilt
//! crashes: see [`install_cleanup_handlers`].
//!
//! A device under test (a client program) is not launched once but run per stimulus:
//! [`start_command`] runs one of its commands against the address hilt gives it and
//! [`CommandRun::finish`] collects its output and exit status, killing it at the
//! deadline.

mod choose;
mod cleanup;
mod command;
mod container;
mod engine;
mod error;
mod external;
mod options;
mod placeholder;
mod places;
mod ports;
mod process;
pub mod procfs;
mod programs;
mod rig;
mod running;
mod spawn;
mod version;

#[cfg(test)]
mod targets_check;

use hilt_core::target::TargetFile;

pub use cleanup::{install_cleanup_handlers, kill_all_launched};
pub use command::{CommandOutcome, CommandRun, start_command};
pub use error::{LaunchError, LaunchErrorKind};
pub use options::{Backend, LaunchOptions};
pub use places::{project_root, python_venv};
pub use running::Running;

use choose::Chosen;
use error::LaunchErrorKind as Kind;
use running::Inner;

/// Launches `target` as `opts` say and returns once it is ready.
pub async fn launch(target: &TargetFile, opts: &LaunchOptions) -> Result<Running, LaunchError> {
    let err = |kind| LaunchError::new("launch", &target.name, &opts.instance, kind);
    target.check().map_err(|m| {
        err(Kind::Unsupported {
            what: format!("use its target file: {m}"),
        })
    })?;
    if let Some(r) = &target.launch.rig
        && opts.external.is_none()
    {
        let t = rig::launch(r, opts).await.map_err(err)?;
        tracing::info!(
            "{} ({}) ready on rig {} at {}",
            target.name,
            opts.instance,
            r.name,
            t.device
        );
        return Ok(Running {
            target: target.clone(),
            instance: opts.instance.clone(),
            version: Some(t.banner.clone()),
            inner: Inner::Rig(Box::new(t)),
        });
    }
    let program = |p: &str| process::find_program(p).map(|_| ());
    let chosen = choose::choose(target, opts, program, engine::engine_answers())
        .await
        .map_err(err)?;
    let mut version = None;
    let inner = match chosen {
        Chosen::Process => {
            let p = target
                .launch
                .process
                .as_ref()
                .ok_or_else(|| err(Kind::NotConfigured { backend: "process" }))?;
            let probe = async {
                match &p.version {
                    Some(v) => version::probe(v).await,
                    None => None,
                }
            };
            let (launched, v) = tokio::join!(process::launch(target, p, opts), probe);
            version = v;
            Inner::Process(Box::new(launched.map_err(err)?))
        }
        Chosen::Container => launch_container(target, opts).await.map_err(err)?,
        Chosen::External(urls) => Inner::External(external::connect(&urls).await.map_err(err)?),
    };
    let running = Running {
        target: target.clone(),
        instance: opts.instance.clone(),
        version,
        inner,
    };
    tracing::info!(
        "{} ({}) ready via the {} backend",
        target.name,
        opts.instance,
        running.backend()
    );
    Ok(running)
}

/// The version `probe` prints, or `None` when it cannot tell (logged, never an error).
pub async fn probe_version(probe: &hilt_core::target::VersionProbe) -> Option<String> {
    version::probe(probe).await
}

#[cfg(feature = "container")]
async fn launch_container(target: &TargetFile, opts: &LaunchOptions) -> Result<Inner, Kind> {
    let c = target
        .launch
        .container
        .as_ref()
        .ok_or(Kind::NotConfigured {
            backend: "container",
        })?;
    Ok(Inner::Container(Box::new(
        container::launch(target, c, opts).await?,
    )))
}

#[cfg(not(feature = "container"))]
async fn launch_container(_: &TargetFile, _: &LaunchOptions) -> Result<Inner, Kind> {
    Err(Kind::Container {
        detail: "this hilt was built without the `container` feature".into(),
    })
}
