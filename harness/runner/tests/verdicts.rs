//! The runner's verdict logic, against an external target that is only a listening
//! socket: skips, retries and flaky, deviations and xfail, panics, overruns.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hilt_core::target::{Deviation, Launch, Service, TargetFile};
use hilt_core::{Event, SpecRef, Verdict};
use hilt_runner::{Failure, RunConfig, Suite, TargetRequest, TestCase};
use tokio_util::sync::CancellationToken;

const RULE: SpecRef = SpecRef::new("doc", "RULE-1");

fn case<F, Fut>(id: &str, body: F) -> TestCase
where
    F: Fn(hilt_runner::Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = hilt_runner::Outcome> + Send + 'static,
{
    TestCase::new("t", id, "a test", body).covers(&[RULE])
}

async fn run(cases: Vec<TestCase>, retries: u32) -> (Vec<hilt_core::TestResult>, Vec<Event>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { while listener.accept().await.is_ok() {} });
    let target = TargetFile {
        name: "sink".into(),
        description: String::new(),
        serves: BTreeMap::from([(
            "t".to_owned(),
            Service {
                port: "t".into(),
                versions: vec![],
            },
        )]),
        capabilities: ["cap.present"].into_iter().collect(),
        launch: Launch {
            external: Some(BTreeMap::from([("t".to_owned(), format!("tcp://{addr}"))])),
            ..Launch::default()
        },
        device: None,
        timing: Default::default(),
        deviations: vec![Deviation {
            tests: vec!["t.known-*".into()],
            reason: "documented".into(),
        }],
    };
    let suite = Arc::new(Suite {
        name: "t",
        protocol: "t",
        under_test: hilt_runner::UnderTest::Server,
        well_known_port: None,
        transport: hilt_runner::Transport::Tcp,
        framer: Arc::new(|| Box::new(Opaque)),
        cases: cases.clone(),
    });
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink_events = Arc::clone(&events);
    let out = hilt_runner::run(
        cases.into_iter().map(|c| (Arc::clone(&suite), c)).collect(),
        vec![TargetRequest { file: target }],
        RunConfig {
            run_id: "test".into(),
            run_dir: dir.path().to_owned(),
            jobs: 4,
            retries,
            controls: false,
            backend: hilt_peers::Backend::External,
            invocation: "test".into(),
            cancel: CancellationToken::new(),
        },
        Arc::new(move |e: &Event| sink_events.lock().unwrap().push(e.clone())),
    )
    .await;
    let events = events.lock().unwrap().clone();
    (out.results, events)
}

struct Opaque;
impl hilt_wire::Framer for Opaque {
    fn frame_len(&mut self, buf: &[u8]) -> Result<hilt_wire::Decoded<usize>, String> {
        Ok(hilt_wire::Decoded::Done(buf.len(), buf.len()))
    }
    fn describe(&mut self, frame: &[u8]) -> hilt_wire::FrameMeta {
        hilt_wire::FrameMeta {
            kind: "BYTES",
            summary: format!("{} bytes", frame.len()),
            problems: vec![],
        }
    }
}

fn verdict_of(results: &[hilt_core::TestResult], id: &str) -> Verdict {
    results
        .iter()
        .find(|r| r.test.as_str() == id)
        .map(|r| r.verdict)
        .unwrap()
}

#[tokio::test]
async fn verdicts_follow_outcomes_capabilities_and_deviations() {
    let (results, events) = run(
        vec![
            case("t.pass", |_| async { Ok(()) }),
            case("t.fail", |_| async { Err(Failure::fail(RULE, "broke it")) }),
            case("t.error", |_| async {
                Err(Failure::error("could not judge"))
            }),
            case("t.skip-capability", |_| async { Ok(()) }).needs(&["cap.absent"]),
            case("t.known-deviation", |_| async {
                Err(Failure::fail(RULE, "as documented"))
            }),
            case("t.known-but-passes", |_| async { Ok(()) }),
            case("t.panics", |_| async { panic!("boom") }),
            case("t.overruns", |_| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            })
            .timeout(Duration::from_millis(200)),
            case("t.records", |ctx| async move {
                let mut c = ctx.connect("t").await?;
                c.send(b"hello")
                    .await
                    .map_err(|e| Failure::error(e.to_string()))?;
                Err(Failure::fail(RULE, "with evidence"))
            }),
        ],
        0,
    )
    .await;
    assert_eq!(verdict_of(&results, "t.pass"), Verdict::Pass);
    assert_eq!(verdict_of(&results, "t.fail"), Verdict::Fail);
    assert_eq!(verdict_of(&results, "t.error"), Verdict::Error);
    assert_eq!(verdict_of(&results, "t.skip-capability"), Verdict::Skip);
    assert_eq!(verdict_of(&results, "t.known-deviation"), Verdict::Xfail);
    assert_eq!(verdict_of(&results, "t.known-but-passes"), Verdict::Pass);
    assert_eq!(verdict_of(&results, "t.panics"), Verdict::Error);
    assert_eq!(verdict_of(&results, "t.overruns"), Verdict::Error);
    let fail = results
        .iter()
        .find(|r| r.test.as_str() == "t.records")
        .unwrap();
    assert_eq!(fail.rule.as_ref().map(|r| r.id.as_str()), Some("RULE-1"));
    assert_eq!(fail.trace.len(), 1, "the bytes sent are the evidence");
    assert!(fail.pcap.is_some());
    let xfail = results
        .iter()
        .find(|r| r.test.as_str() == "t.known-deviation")
        .unwrap();
    assert_eq!(xfail.deviation.as_deref(), Some("documented"));
    let finished = events
        .iter()
        .filter(|e| matches!(e, Event::TestFinished { .. }))
        .count();
    assert_eq!(finished, results.len(), "one event per result");
    assert!(matches!(events.last(), Some(Event::RunFinished { .. })));
}

#[tokio::test]
async fn a_test_that_passes_on_retry_is_flaky() {
    let tries = Arc::new(AtomicU32::new(0));
    let t = Arc::clone(&tries);
    let (results, _) = run(
        vec![case("t.second-time", move |_| {
            let n = t.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(Failure::fail(RULE, "first"))
                } else {
                    Ok(())
                }
            }
        })],
        1,
    )
    .await;
    assert_eq!(results[0].verdict, Verdict::Flaky);
    assert_eq!(results[0].attempts, 2);
}
