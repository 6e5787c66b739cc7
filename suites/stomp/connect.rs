//! Connecting: CONNECT and STOMP frames, version negotiation, virtual hosts, login.

use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::stomp::{Command, Frame, summarize};

use super::controls::{self, Control};
use super::session::{HOST, LOGIN, Next, PASSCODE, Session, connect_frame, describe};
use super::{st, tc};

/// A CONNECT (or STOMP) with `accept-version` set as given (`None`: no header, a 1.0
/// client), logging in as the suite's user.
fn connect_accepting(command: Command, accept: Option<&str>) -> Frame {
    let mut f = Frame::new(command);
    if let Some(v) = accept {
        f = f.header("accept-version", v);
    }
    f.header("host", HOST)
        .header("login", LOGIN)
        .header("passcode", PASSCODE)
}

/// Sends `connect` and judges the answer: a CONNECTED whose version is `want` (`None`:
/// absent or 1.0, as 1.0 servers may omit it).
async fn negotiates(ctx: Ctx, connect: Frame, want: Option<&'static str>) -> Outcome {
    let mut s = Session::open(&ctx).await?;
    s.send(&connect).await?;
    let within = s.response_timeout();
    let connected = match s.next_frame(within).await? {
        Next::Frame(f) if f.command == Command::Connected => f,
        other => {
            return Err(Failure::fail(
                st!("connecting-1"),
                format!(
                    "{} was not accepted: {}",
                    summarize(&connect),
                    describe(&other)
                ),
            ));
        }
    };
    let version = connected.get("version");
    match want {
        Some(v) if version != Some(v) => Err(Failure::fail(
            st!("negotiation-4"),
            format!(
                "accept-version {:?}: CONNECTED version is {version:?}, not {v:?} (the highest in common)",
                connect.get("accept-version").unwrap_or("(none)")
            ),
        )),
        None if version.is_some_and(|v| v != "1.0") => Err(Failure::fail(
            st!("negotiation-3"),
            format!("a CONNECT without accept-version (a 1.0 client) got version {version:?}"),
        )),
        _ => {
            s.disconnect().await;
            Ok(())
        }
    }
}

/// The CONNECTED version becomes `v`, as if the broker chose another version.
fn version_becomes(v: &'static str) -> Control {
    controls::mutate_to_client(
        "CONNECTED",
        &format!("the broker answers CONNECTED version:{v}"),
        move |f| f.set("version", v),
    )
}

/// Sends a CONNECT the broker must refuse and judges ERROR then close.
async fn refused(ctx: Ctx, connect: Frame, error_rule: hilt_core::SpecRef, what: &str) -> Outcome {
    let mut s = Session::open(&ctx).await?;
    s.send(&connect).await?;
    s.error_then_close(error_rule, what).await.map(|_| ())
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(
        tc(
            "connect",
            "connected-version-1-2",
            "CONNECT with accept-version:1.2 is answered with CONNECTED version:1.2",
            |ctx| negotiates(ctx, connect_frame(), Some("1.2")),
        )
        .covers(&[
            st!("connecting-1"),
            st!("connected-1"),
            st!("negotiation-4"),
        ])
        .control(version_becomes("1.1")),
    );
    t.push(
        tc(
            "connect",
            "stomp-frame-like-connect",
            "A STOMP frame is handled like CONNECT: CONNECTED version:1.2",
            |ctx| {
                negotiates(
                    ctx,
                    connect_accepting(Command::Stomp, Some("1.2")),
                    Some("1.2"),
                )
            },
        )
        .covers(&[st!("connect-1"), st!("connecting-1")])
        .control(controls::drop_to_client(
            "CONNECTED",
            "the broker never answers the STOMP frame",
        )),
    );
    for (name, accept, want, cap, cover) in [
        (
            "highest-common-version",
            "1.0,1.1,1.2",
            "1.2",
            "stomp.v1.2",
            st!("negotiation-4"),
        ),
        (
            "unordered-list",
            "1.2,1.0",
            "1.2",
            "stomp.v1.2",
            st!("negotiation-4"),
        ),
        (
            "unknown-versions-ignored",
            "1.1,1.2,2.0",
            "1.2",
            "stomp.v1.2",
            st!("negotiation-4"),
        ),
        ("only-1-1", "1.1", "1.1", "stomp.v1.1", st!("negotiation-4")),
        ("only-1-0", "1.0", "1.0", "stomp.v1.0", st!("negotiation-4")),
    ] {
        let wrong = if want == "1.2" { "1.1" } else { "1.2" };
        t.push(
            tc(
                "negotiation",
                name,
                &format!("accept-version:{accept} is answered with CONNECTED version:{want}"),
                move |ctx| {
                    negotiates(
                        ctx,
                        connect_accepting(Command::Connect, Some(accept)),
                        Some(want),
                    )
                },
            )
            .needs(&[cap])
            .covers(&[cover, st!("connected-1")])
            .control(version_becomes(wrong)),
        );
    }
    t.push(
        tc(
            "negotiation",
            "no-accept-version-means-1-0",
            "A CONNECT without accept-version is a 1.0 client: the session is 1.0",
            |ctx| negotiates(ctx, connect_accepting(Command::Connect, None), None),
        )
        .needs(&["stomp.v1.0"])
        .covers(&[st!("negotiation-3")])
        .control(version_becomes("1.2")),
    );
    t.push(
        tc(
            "negotiation",
            "no-common-version-error-then-close",
            "accept-version naming only versions the broker lacks gets an ERROR, then the close",
            |ctx| {
                refused(
                    ctx,
                    connect_accepting(Command::Connect, Some("2.0,3.1")),
                    st!("negotiation-5"),
                    "accept-version:2.0,3.1",
                )
            },
        )
        .covers(&[st!("negotiation-5"), st!("error-1")])
        .control(controls::patch_to_server(
            b"accept-version:2.0,3.1",
            b"accept-version:1.2",
            "the broker accepts versions it does not speak (it sees 1.2)",
        )),
    );
    t.push(
        tc(
            "connect",
            "unknown-virtual-host",
            "A host naming no virtual host gets a default host (CONNECTED) or an ERROR then the close",
            |ctx: Ctx| async move {
                let host = ctx.unique("nohost");
                let connect = connect_frame();
                let mut connect = connect;
                connect.set("host", host.as_str());
                let mut s = Session::open(&ctx).await?;
                s.send(&connect).await?;
                let within = s.response_timeout();
                match s.next_frame(within).await? {
                    Next::Frame(f) if f.command == Command::Connected => {
                        s.disconnect().await;
                        Ok(())
                    }
                    Next::Frame(f) if f.command == Command::Error => {
                        s.closes(st!("error-1"), "after the ERROR refusing the host").await
                    }
                    other => Err(Failure::fail(
                        st!("connect-4"),
                        format!("host:{host}: neither CONNECTED nor ERROR: {}", describe(&other)),
                    )),
                }
            },
        )
        .covers(&[st!("connect-4"), st!("connecting-2")])
        .control(controls::black_hole_after(
            0,
            "the broker neither accepts nor refuses the connection",
        )),
    );
    for (name, login, passcode, title) in [
        (
            "wrong-passcode-error-then-close",
            LOGIN,
            "not-the-passcode",
            "A wrong passcode gets an ERROR, then the close",
        ),
        (
            "unknown-login-error-then-close",
            "hilt-no-such-user",
            "x",
            "An unknown login gets an ERROR, then the close",
        ),
    ] {
        t.push(
            tc("connect", name, title, move |ctx| {
                let mut f = connect_frame();
                f.set("login", login);
                f.set("passcode", passcode);
                refused(ctx, f, st!("connecting-2"), "bad credentials")
            })
            .needs(&["stomp.auth"])
            .covers(&[st!("connecting-2"), st!("error-1")])
            .control(controls::mutate_to_server(
                "CONNECT",
                "the broker lets anyone in (it sees the right credentials)",
                |f| {
                    f.set("login", LOGIN);
                    f.set("passcode", PASSCODE);
                },
            )),
        );
    }
    t.push(
        tc(
            "connect",
            "no-credentials-error-then-close",
            "A CONNECT without login to a broker requiring one gets an ERROR, then the close",
            |ctx| {
                let mut f = connect_frame();
                f.remove("login");
                f.remove("passcode");
                refused(ctx, f, st!("connecting-2"), "no credentials")
            },
        )
        .needs(&["stomp.auth.required"])
        .covers(&[st!("connecting-2"), st!("error-1")])
        .control(controls::mutate_to_server(
            "CONNECT",
            "the broker lets anonymous clients in (it sees credentials)",
            |f| {
                f.set("login", LOGIN);
                f.set("passcode", PASSCODE);
            },
        )),
    );
    t.push(
        tc(
            "connected",
            "headers-well-formed",
            "CONNECTED's heart-beat (if any) is two integers and its server header starts with a name",
            |ctx: Ctx| async move {
                let connect = connect_frame().header("heart-beat", "0,0");
                let (s, connected) = Session::connect_with(&ctx, connect).await?;
                Session::heart_beat_of(&connected)?;
                if let Some(server) = connected.get("server") {
                    let name = server.split(['/', ' ']).next().unwrap_or("");
                    if name.is_empty() {
                        return Err(Failure::fail(
                            st!("connected-2"),
                            format!("server header {server:?} has no server-name"),
                        ));
                    }
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("connected-2"), st!("heart-beating-1")])
        .control(controls::mutate_to_client(
            "CONNECTED",
            "the broker's CONNECTED has heart-beat:x and server:/1.0",
            |f| {
                f.set("heart-beat", "x");
                f.set("server", "/1.0");
            },
        )),
    );
    t.push(
        tc(
            "connect",
            "connect-headers-not-unescaped",
            "CONNECT headers are not escaped: a backslash sequence in one is accepted as it is",
            |ctx: Ctx| async move {
                // `\t` would be an undefined escape in any other frame.
                let connect = connect_frame().header("x-hilt-note", "tab\\there");
                let mut s = Session::open(&ctx).await?;
                s.send(&connect).await?;
                let within = s.response_timeout();
                match s.next_frame(within).await? {
                    Next::Frame(f) if f.command == Command::Connected => {
                        s.disconnect().await;
                        Ok(())
                    }
                    other => Err(Failure::fail(
                        st!("value-encoding-5"),
                        format!(
                            "a CONNECT header holding a backslash sequence was refused: {}",
                            describe(&other)
                        ),
                    )),
                }
            },
        )
        .covers(&[st!("value-encoding-5")])
        .control(controls::mutate_to_client(
            "CONNECTED",
            "the broker answers the CONNECT with an ERROR",
            |f| {
                *f = Frame::new(Command::Error).header("message", "undefined escape");
            },
        )),
    );
    t
}
