//! Which backend launches a target.

use std::collections::BTreeMap;
use std::future::Future;

use hilt_core::target::TargetFile;

use crate::error::LaunchErrorKind as Kind;
use crate::options::{Backend, LaunchOptions};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Chosen {
    Process,
    Container,
    External(BTreeMap<String, String>),
}

/// Decides the backend. `program` says whether the process backend's program exists;
/// `engine` pings the container engine and is awaited only when its answer matters.
pub(crate) async fn choose(
    target: &TargetFile,
    opts: &LaunchOptions,
    program: impl Fn(&str) -> Result<(), Kind>,
    engine: impl Future<Output = Result<(), String>>,
) -> Result<Chosen, Kind> {
    let external = || {
        opts.external
            .clone()
            .or_else(|| target.launch.external.clone())
            .map(Chosen::External)
            .ok_or(Kind::NotConfigured {
                backend: "external",
            })
    };
    let container_ready = |engine: Result<(), String>| {
        if !cfg!(feature = "container") {
            return Err(Kind::Container {
                detail: "this hilt was built without the `container` feature".into(),
            });
        }
        engine.map_err(|detail| Kind::ContainerEngineUnavailable { detail })
    };
    match opts.backend {
        Backend::External => external(),
        Backend::Rig => {
            target
                .launch
                .rig
                .as_ref()
                .ok_or(Kind::NotConfigured { backend: "rig" })?;
            Err(Kind::Unsupported {
                what: "a rig target is brought up before a backend is chosen".into(),
            })
        }
        Backend::Process => {
            let p = target
                .launch
                .process
                .as_ref()
                .ok_or(Kind::NotConfigured { backend: "process" })?;
            program(&p.program).map(|()| Chosen::Process)
        }
        Backend::Container => {
            target
                .launch
                .container
                .as_ref()
                .ok_or(Kind::NotConfigured {
                    backend: "container",
                })?;
            container_ready(engine.await).map(|()| Chosen::Container)
        }
        Backend::Auto => {
            if opts.external.is_some() {
                return external();
            }
            let process = match &target.launch.process {
                Some(p) => match program(&p.program) {
                    Ok(()) => return Ok(Chosen::Process),
                    Err(e) => Some(e),
                },
                None => None,
            };
            let container = match &target.launch.container {
                Some(_) => match container_ready(engine.await) {
                    Ok(()) => return Ok(Chosen::Container),
                    Err(e) => Some(e),
                },
                None => None,
            };
            if target.launch.external.is_some() {
                return external();
            }
            match (process, container) {
                (Some(p), Some(c)) => Err(Kind::NoBackend {
                    process: p.to_string(),
                    container: c.to_string(),
                }),
                (Some(e), None) | (None, Some(e)) => Err(e),
                (None, None) => Err(Kind::NotConfigured { backend: "any" }),
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use hilt_core::target::{ContainerLaunch, Launch, ProcessLaunch};

    fn target(process: bool, container: bool, external: bool) -> TargetFile {
        let yaml = "name: t\nserves: {}\nlaunch: {process: {program: x}}\n";
        let mut t: TargetFile =
            hilt_core::datafile::parse_yaml(std::path::Path::new("t.yaml"), yaml).unwrap();
        let p: ProcessLaunch = t.launch.process.take().unwrap();
        t.launch = Launch {
            process: process.then_some(p),
            container: container.then(|| ContainerLaunch {
                image: "i:1".into(),
                ports: BTreeMap::new(),
                env: BTreeMap::new(),
                files: BTreeMap::new(),
                ready_log: None,
                profiles: BTreeMap::new(),
            }),
            external: external.then(|| [("mqtt".into(), "127.0.0.1:1".into())].into()),
            rig: None,
        };
        t
    }

    fn found(_: &str) -> Result<(), Kind> {
        Ok(())
    }

    fn missing(p: &str) -> Result<(), Kind> {
        Err(Kind::ProgramNotFound {
            program: p.into(),
            package: None,
        })
    }

    fn opts(b: Backend) -> LaunchOptions {
        LaunchOptions::new("/tmp", "i").with_backend(b)
    }

    async fn no_engine() -> Result<(), String> {
        Err("no container engine answered at unix:///var/run/docker.sock".into())
    }

    async fn engine() -> Result<(), String> {
        Ok(())
    }

    async fn must_not_ask() -> Result<(), String> {
        panic!("the engine was asked although the process backend fits")
    }

    #[tokio::test]
    async fn auto_prefers_the_process() {
        let t = target(true, true, true);
        let c = choose(&t, &opts(Backend::Auto), found, must_not_ask()).await;
        assert_eq!(c.unwrap(), Chosen::Process);
    }

    #[tokio::test]
    async fn auto_falls_back_to_a_container() {
        let t = target(true, true, false);
        let c = choose(&t, &opts(Backend::Auto), missing, engine()).await;
        if cfg!(feature = "container") {
            assert_eq!(c.unwrap(), Chosen::Container);
        } else {
            assert!(matches!(c, Err(Kind::NoBackend { .. })));
        }
    }

    #[tokio::test]
    async fn auto_says_why_neither_works() {
        let t = target(true, true, false);
        let e = choose(&t, &opts(Backend::Auto), missing, no_engine())
            .await
            .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("program `x` not found"), "{s}");
        assert!(
            s.contains("no container engine answered") || s.contains("feature"),
            "{s}"
        );
    }

    #[tokio::test]
    async fn auto_uses_external_as_last_resort_and_cli_urls_first() {
        let t = target(true, false, true);
        let c = choose(&t, &opts(Backend::Auto), missing, no_engine()).await;
        assert!(matches!(c.unwrap(), Chosen::External(_)));
        let o = opts(Backend::Auto).with_external([("mqtt".into(), "h:1".into())].into());
        let c = choose(&t, &o, found, must_not_ask()).await.unwrap();
        assert_eq!(c, Chosen::External([("mqtt".into(), "h:1".into())].into()));
    }

    #[tokio::test]
    async fn explicit_backends_report_their_own_problem() {
        let t = target(false, true, false);
        let e = choose(&t, &opts(Backend::Process), found, must_not_ask()).await;
        assert!(matches!(e, Err(Kind::NotConfigured { backend: "process" })));
        let e = choose(&t, &opts(Backend::Container), found, no_engine()).await;
        assert!(matches!(
            e,
            Err(Kind::ContainerEngineUnavailable { .. } | Kind::Container { .. })
        ));
        let e = choose(&t, &opts(Backend::External), found, must_not_ask()).await;
        assert!(matches!(
            e,
            Err(Kind::NotConfigured {
                backend: "external"
            })
        ));
    }
}
