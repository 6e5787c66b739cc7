//! The container backend (testcontainers): an image with its ports mapped to ephemeral
//! loopback ports chosen by hilt (so a restart keeps them), files copied in, and a log
//! line that means ready.

#![cfg_attr(
    not(feature = "container"),
    allow(
        dead_code,
        reason = "without the engine only the target-file test plans containers"
    )
)]

use std::collections::BTreeMap;
use std::time::Duration;

use hilt_core::target::ContainerLaunch;

use crate::error::LaunchErrorKind as Kind;
use crate::placeholder::Placeholders;

/// Start-up of a container includes pulling its image, which takes far longer than
/// starting a local program.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(180);
/// `{dir}` inside a container: the folder the image's files and data may use.
pub(crate) const CONTAINER_DIR: &str = "/hilt";

/// Everything a container needs, decided before any engine is involved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub image: String,
    pub tag: String,
    pub name: String,
    pub env: BTreeMap<String, String>,
    pub files: BTreeMap<String, String>,
    /// Port name → (port inside, port on the host).
    pub ports: BTreeMap<String, (u16, u16)>,
    pub ready_log: Option<String>,
}

/// Splits `registry:5000/owner/image:tag` into the image and its tag (`latest` if none).
pub(crate) fn split_image(image: &str) -> Result<(String, String), String> {
    if image.contains('@') {
        return Err(format!(
            "image `{image}`: digests are not supported, use a tag"
        ));
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            Ok((image[..at].to_owned(), image[at + 1..].to_owned()))
        }
        None => Ok((image.to_owned(), "latest".to_owned())),
    }
}

pub(crate) fn plan(
    c: &ContainerLaunch,
    instance: &str,
    host_ports: &BTreeMap<String, u16>,
) -> Result<Plan, Kind> {
    let (image, tag) = split_image(&c.image).map_err(|detail| Kind::Container { detail })?;
    // Inside the container the program must listen on every interface for the
    // engine's port mapping to reach it, and on the image's own port numbers.
    let ph = Placeholders {
        dir: CONTAINER_DIR.into(),
        host: "0.0.0.0".into(),
        name: instance.to_owned(),
        ports: c.ports.iter().map(|(k, v)| (k.clone(), *v)).collect(),
    };
    let fill = |text: &str, at: String| {
        ph.fill(text).map_err(|u| Kind::BadPlaceholder {
            placeholder: u.placeholder,
            location: at,
            reason: u.reason,
        })
    };
    let mut env = BTreeMap::new();
    for (k, v) in &c.env {
        env.insert(k.clone(), fill(v, format!("launch.container.env.{k}"))?);
    }
    let mut files = BTreeMap::new();
    for (path, text) in &c.files {
        let path = fill(path, "launch.container.files (a path)".into())?;
        if !path.starts_with('/') {
            return Err(Kind::Container {
                detail: format!("launch.container.files `{path}`: paths inside must be absolute"),
            });
        }
        let text = fill(text, format!("launch.container.files.{path}"))?;
        files.insert(path, text);
    }
    let mut ports = BTreeMap::new();
    for (name, inside) in &c.ports {
        let host = host_ports.get(name).ok_or_else(|| Kind::Container {
            detail: format!("no host port allocated for `{name}`"),
        })?;
        ports.insert(name.clone(), (*inside, *host));
    }
    Ok(Plan {
        image,
        tag,
        name: format!("hilt-{instance}"),
        env,
        files,
        ports,
        ready_log: c.ready_log.clone(),
    })
}

#[cfg(feature = "container")]
pub(crate) use engine_backed::*;

#[cfg(feature = "container")]
mod engine_backed {
    use super::*;
    use crate::options::LaunchOptions;
    use crate::ports::PortLease;
    use hilt_core::target::TargetFile;
    use std::io::Write;
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Instant;
    use testcontainers::core::{ContainerPort, WaitFor};
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{ContainerAsync, GenericImage, ImageExt};
    use tokio::io::AsyncBufReadExt;

    #[derive(Debug)]
    pub(crate) struct ContainerTarget {
        container: Option<ContainerAsync<GenericImage>>,
        pub ports: BTreeMap<String, SocketAddr>,
        ready_log: Option<String>,
        log: Arc<Mutex<std::fs::File>>,
        /// Bytes of stdout and stderr already copied to the log: a follower started
        /// after a restart replays the container's whole log and skips these.
        copied: Arc<Mutex<[usize; 2]>>,
        followers: Vec<tokio::task::JoinHandle<()>>,
        _lease: PortLease,
        pub alive: bool,
        pub ready_ms: u64,
        pub log_rel: String,
        timeout: Duration,
    }

    fn tc(e: testcontainers::TestcontainersError) -> Kind {
        Kind::Container {
            detail: e.to_string(),
        }
    }

    pub(crate) async fn launch(
        target: &TargetFile,
        c: &ContainerLaunch,
        opts: &LaunchOptions,
    ) -> Result<ContainerTarget, Kind> {
        let started = Instant::now();
        let instance = opts.safe_instance();
        let names: Vec<String> = c.ports.keys().cloned().collect();
        let lease =
            PortLease::allocate(&names).map_err(|source| Kind::PortAllocation { source })?;
        let plan = plan(c, &instance, &lease.ports)?;
        let timeout = target
            .launch
            .process
            .as_ref()
            .map(|p| Duration::from_secs(p.ready_timeout_s))
            .unwrap_or_default()
            .max(DEFAULT_START_TIMEOUT);

        let run_dir = std::path::absolute(&opts.run_dir)
            .map_err(|e| Kind::io(format!("resolve {}", opts.run_dir.display()), e))?;
        let logs: PathBuf = run_dir.join("logs");
        std::fs::create_dir_all(&logs)
            .map_err(|e| Kind::io(format!("create {}", logs.display()), e))?;
        let log_path = logs.join(format!("{instance}.log"));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| Kind::io(format!("create {}", log_path.display()), e))?;

        let mut image = GenericImage::new(plan.image.clone(), plan.tag.clone());
        for (inside, _) in plan.ports.values() {
            image = image.with_exposed_port(ContainerPort::Tcp(*inside));
        }
        if let Some(line) = &plan.ready_log {
            image = image.with_wait_for(WaitFor::message_on_either_std(line.as_bytes()));
        }
        let mut req = image
            .with_container_name(plan.name.clone())
            .with_startup_timeout(timeout);
        for (inside, host) in plan.ports.values() {
            req = req.with_mapped_port(*host, ContainerPort::Tcp(*inside));
        }
        for (k, v) in &plan.env {
            req = req.with_env_var(k.clone(), v.clone());
        }
        for (path, text) in &plan.files {
            req = req.with_copy_to(path.clone(), text.clone().into_bytes());
        }
        let container = req.start().await.map_err(tc)?;
        let host = container.get_host().await.map_err(tc)?.to_string();
        let mut ports = BTreeMap::new();
        for (name, (_, host_port)) in &plan.ports {
            let addr = tokio::net::lookup_host((host.as_str(), *host_port))
                .await
                .map_err(|e| Kind::io(format!("resolve the engine host `{host}`"), e))?
                .next()
                .ok_or_else(|| Kind::Container {
                    detail: format!("the engine host `{host}` resolves to no address"),
                })?;
            ports.insert(name.clone(), addr);
        }
        let mut t = ContainerTarget {
            container: Some(container),
            ports,
            ready_log: plan.ready_log,
            log: Arc::new(Mutex::new(log)),
            copied: Arc::default(),
            followers: Vec::new(),
            _lease: lease,
            alive: true,
            ready_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            log_rel: format!("logs/{instance}.log"),
            timeout,
        };
        t.follow_logs();
        Ok(t)
    }

    impl ContainerTarget {
        fn follow_logs(&mut self) {
            let Some(c) = &self.container else { return };
            for (i, reader) in [c.stdout(true), c.stderr(true)].into_iter().enumerate() {
                let log = Arc::clone(&self.log);
                let copied = Arc::clone(&self.copied);
                self.followers.push(tokio::spawn(async move {
                    let mut reader = reader;
                    let mut seen = 0usize;
                    let mut line = Vec::new();
                    while let Ok(n) = reader.read_until(b'\n', &mut line).await {
                        if n == 0 {
                            break;
                        }
                        seen += n;
                        let mut done = copied.lock().unwrap_or_else(PoisonError::into_inner);
                        if seen > done[i] {
                            let skip = line.len().saturating_sub(seen - done[i]);
                            let _ = log
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .write_all(&line[skip..]);
                            done[i] = seen;
                        }
                        line.clear();
                    }
                }));
            }
        }

        fn container(&self) -> Result<&ContainerAsync<GenericImage>, Kind> {
            self.container.as_ref().ok_or_else(|| Kind::Unsupported {
                what: "use the container: it was already removed".into(),
            })
        }

        pub async fn kill(&mut self) -> Result<(), Kind> {
            self.container()?
                .stop_with_timeout(Some(0))
                .await
                .map_err(tc)?;
            self.alive = false;
            Ok(())
        }

        async fn ready_lines(&self) -> Result<usize, Kind> {
            let Some(line) = &self.ready_log else {
                return Ok(0);
            };
            let c = self.container()?;
            let out = c.stdout_to_vec().await.map_err(tc)?;
            let err = c.stderr_to_vec().await.map_err(tc)?;
            let count = |b: &[u8]| String::from_utf8_lossy(b).matches(line.as_str()).count();
            Ok(count(&out) + count(&err))
        }

        pub async fn restart(&mut self) -> Result<(), Kind> {
            let before = self.ready_lines().await?;
            self.alive = false;
            let c = self.container()?;
            c.stop_with_timeout(Some(10)).await.map_err(tc)?;
            c.start().await.map_err(tc)?;
            self.alive = true;
            self.follow_logs();
            // The engine's port proxy accepts connections before the program does, so
            // readiness is the ready line appearing once more.
            let deadline = Instant::now() + self.timeout;
            while self.ready_log.is_some() && self.ready_lines().await? <= before {
                if Instant::now() >= deadline {
                    return Err(Kind::NotReady {
                        waited: self.timeout,
                        not_ready: self.ports.keys().cloned().collect(),
                        log_tail: String::new(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(())
        }

        pub async fn stop(&mut self) {
            if let Some(c) = self.container.take() {
                if let Err(e) = c.stop_with_timeout(Some(10)).await {
                    tracing::warn!("stopping container: {e}");
                }
                if let Err(e) = c.rm().await {
                    tracing::warn!("removing container: {e}");
                }
            }
            self.alive = false;
            for f in self.followers.drain(..) {
                f.abort();
            }
        }
    }

    impl Drop for ContainerTarget {
        fn drop(&mut self) {
            for f in self.followers.drain(..) {
                f.abort();
            }
            // ContainerAsync's own Drop removes the container.
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn image_names() {
        assert_eq!(
            split_image("eclipse-mosquitto:2.0").unwrap(),
            ("eclipse-mosquitto".into(), "2.0".into())
        );
        assert_eq!(
            split_image("localhost:5000/rabbitmq").unwrap(),
            ("localhost:5000/rabbitmq".into(), "latest".into())
        );
        assert_eq!(
            split_image("localhost:5000/o/rabbitmq:3.10-management").unwrap(),
            ("localhost:5000/o/rabbitmq".into(), "3.10-management".into())
        );
        assert!(split_image("x@sha256:abc").is_err());
    }

    #[test]
    fn plan_maps_ports_env_and_files() {
        let c = ContainerLaunch {
            image: "eclipse-mosquitto:2.0".into(),
            ports: [("mqtt".to_owned(), 1883)].into(),
            env: [("N".to_owned(), "{name}".to_owned())].into(),
            files: [(
                "/mosquitto/config/mosquitto.conf".to_owned(),
                "listener {port.mqtt} {host}\npersistence_location {dir}/\n".to_owned(),
            )]
            .into(),
            ready_log: Some("running".into()),
            profiles: BTreeMap::new(),
        };
        let p = plan(&c, "t1", &[("mqtt".to_owned(), 40001)].into()).unwrap();
        assert_eq!(p.image, "eclipse-mosquitto");
        assert_eq!(p.ports["mqtt"], (1883, 40001));
        assert_eq!(p.env["N"], "t1");
        assert_eq!(
            p.files["/mosquitto/config/mosquitto.conf"],
            "listener 1883 0.0.0.0\npersistence_location /hilt/\n"
        );
        assert_eq!(p.name, "hilt-t1");
    }

    #[test]
    fn plan_rejects_bad_input() {
        let mut c = ContainerLaunch {
            image: "x:1".into(),
            ports: [("mqtt".to_owned(), 1883)].into(),
            env: [("A".to_owned(), "{port.nope}".to_owned())].into(),
            files: BTreeMap::new(),
            ready_log: None,
            profiles: BTreeMap::new(),
        };
        let hp = [("mqtt".to_owned(), 40001)].into();
        assert!(matches!(
            plan(&c, "t", &hp),
            Err(Kind::BadPlaceholder { .. })
        ));
        c.env.clear();
        c.files.insert("relative.conf".into(), String::new());
        assert!(matches!(plan(&c, "t", &hp), Err(Kind::Container { .. })));
    }
}
