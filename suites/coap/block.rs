//! The BLOCK test descriptions of the ETSI CoAP#4 plugtest (repository cabo/td-coap4,
//! block.yml) and RFC 7959 requirements beyond them with hilt's own ids: block numbers
//! and M flags under random access, a representation changing during a transfer told
//! apart by its ETag, Size2.
//!
//! The TDs' large resources (`/large`, `/large-update`, `/large-create`) are the test's
//! own: created by a block-wise PUT under a path unique to the attempt, holding a JSON
//! array whose items are all different, so a block out of place shows.

use hilt_runner::{Ctx, Failure, TestCase};
use hilt_wire::coap::{Block, CoapOption, Code, Message, MessageType, OptionNumber, summarize};

use super::client::{Client, Step, Transfer, next_block2};
use super::controls::{self, Control};
use super::core::{judge, own_path};
use super::{SUITE, blk, rfc, td};

/// application/json: the Content-Format of the suite's large resources (a server that
/// omits Content-Format 0, text/plain, would fail checks that are not about blocks).
pub const JSON: u32 = 50;

/// Bigger than one 1024-byte block, the largest a server picks over UDP, so every
/// transfer of it is block-wise whatever size the server prefers; not a multiple of any
/// block size, so the last block is short.
pub const LARGE: usize = 1500;

/// The block size a client starts Block1 transfers with: 256 bytes.
const PUT_SZX: u8 = 4;

fn tc<F, Fut>(id: &str, title: &str, body: F) -> TestCase
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = hilt_runner::Outcome> + Send + 'static,
{
    TestCase::new(SUITE, format!("coap.block.{id}"), title, body)
}

/// A JSON array of at least `len` bytes whose items (`"t00042"`) all differ: each
/// block of it is unique, and two bodies with different `tag`s have equal lengths.
pub fn numbered(tag: char, len: usize) -> Vec<u8> {
    let mut s = String::from("[");
    let mut i = 0;
    while s.len() + 9 < len {
        s.push_str(&format!("\"{tag}{i:05}\","));
        i += 1;
    }
    s.push_str(&format!("\"{tag}end\"]"));
    s.into_bytes()
}

/// A PUT of `body` as JSON to `path`, block-wise: the precondition that gives a TD its
/// large resource. A failure is an error (the precondition, not the TD).
pub async fn create_large(c: &mut Client, path: &str, body: &[u8]) -> Result<(), Failure> {
    let template = put(c, Code::PUT, path);
    let t = c
        .put_blocks(&template, body, PUT_SZX, rfc("RFC7252-5.8.3-put"))
        .await?;
    match t.steps.last().map(|s| s.resp().code) {
        Some(Code::CREATED | Code::CHANGED) => Ok(()),
        other => Err(Failure::error(format!(
            "precondition: a block-wise PUT of {} bytes to {path} ended with {:?}",
            body.len(),
            other.map(Code::name)
        ))),
    }
}

/// A CON request of `code` for `path` carrying JSON: the template of Block1 transfers.
fn put(c: &mut Client, code: Code, path: &str) -> Message {
    c.request(MessageType::Con, code, path)
        .with_uint(OptionNumber::ContentFormat, JSON)
}

/// A CON GET of `path`, asking for blocks of 2^(szx+4) bytes when `szx` is given.
fn get(c: &mut Client, path: &str, szx: Option<u8>) -> Message {
    let req = c.request(MessageType::Con, Code::GET, path);
    match szx {
        Some(szx) => with_block2(
            req,
            Block {
                num: 0,
                more: false,
                szx,
            },
        ),
        None => req,
    }
}

fn with_block2(mut m: Message, b: Block) -> Message {
    m.options.retain(|o| o.number != OptionNumber::Block2);
    m.push(CoapOption::new(OptionNumber::Block2, b.to_value()));
    m
}

/// Where the first difference between `got` and `want` is, for failure messages.
fn difference(got: &[u8], want: &[u8]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    format!(
        "{} bytes where the representation has {}, first difference at byte {at}",
        got.len(),
        want.len()
    )
}

/// The checks of a Block2 transfer (TD_COAP_BLOCK_01/02/06, the retrieval half of
/// BLOCK_05, OBS_13/14): each response piggybacked with the request's token and `code`;
/// Block2 with the NUM asked for (0 for a first request without Block2); SZX not above
/// the one asked for (`desired` on the first request when given), and the same as asked
/// once the size is settled; M=1 with a full block, M=0 on the last with at most a
/// block; the ETags present equal across the blocks of the one representation; and
/// the blocks assemble to `want` when it is known. Short blocks and a wrong body fail
/// with `content_rule` (the TD's id, for a TD).
pub fn judge_block2(
    content_rule: hilt_core::SpecRef,
    t: &Transfer,
    want: Option<&[u8]>,
    code: Code,
    method_rule: hilt_core::SpecRef,
) -> Result<(), Failure> {
    let num_rule = blk("RFC7959-2.4-block2");
    let mut etag: Option<Vec<u8>> = None;
    for (i, s) in t.steps.iter().enumerate() {
        let resp = judge(&s.req, &s.ex, &[code], method_rule)?;
        let Some(b) = resp.block2() else {
            return Err(Failure::fail(
                num_rule,
                format!(
                    "block {i} of the transfer came without a Block2 option: {}",
                    summarize(&resp)
                ),
            ));
        };
        let asked = s.req.block2();
        let num = asked.map_or(0, |a| a.num);
        if b.num != num {
            return Err(Failure::fail(
                num_rule,
                format!("asked for block {num}, got block {b}: {}", summarize(&resp)),
            ));
        }
        if let Some(a) = asked {
            if b.szx > a.szx {
                return Err(Failure::fail(
                    blk("RFC7959-2.4-size"),
                    format!(
                        "asked for {}-byte blocks, got {}: {}",
                        a.size(),
                        b.size(),
                        summarize(&resp)
                    ),
                ));
            }
            if i > 0 && b.szx != a.szx {
                return Err(Failure::fail(
                    blk("RFC7959-2.4-same-size"),
                    format!(
                        "block {} came in {} bytes after the transfer settled on {}: {}",
                        b.num,
                        b.size(),
                        a.size(),
                        summarize(&resp)
                    ),
                ));
            }
        }
        let last = i + 1 == t.steps.len();
        if b.more && last {
            return Err(Failure::fail(
                num_rule,
                format!(
                    "the server still said more blocks follow after {} blocks: {}",
                    t.steps.len(),
                    summarize(&resp)
                ),
            ));
        }
        let full = if b.more {
            resp.payload.len() == b.size()
        } else {
            resp.payload.len() <= b.size()
        };
        if !full {
            return Err(Failure::fail(
                content_rule,
                format!(
                    "block {b} carries {} bytes (M=1 needs exactly the block size, the last block at most): {}",
                    resp.payload.len(),
                    summarize(&resp)
                ),
            ));
        }
        if let Some(this) = resp.etag() {
            match &etag {
                None => etag = Some(this.to_vec()),
                Some(first) if first != this => {
                    return Err(Failure::fail(
                        blk("RFC7959-2.4-etag"),
                        format!(
                            "the blocks of one unchanged representation carry different ETags ({first:02x?}, then {this:02x?} on block {})",
                            b.num
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    if let Some(want) = want
        && t.body != want
    {
        return Err(Failure::fail(
            content_rule,
            format!("the blocks assemble to {}", difference(&t.body, want)),
        ));
    }
    Ok(())
}

/// The checks of a Block1 transfer (TD_COAP_BLOCK_03/04/05): each response piggybacked
/// with the request's token; a non-final block answered with one of `continuing` and
/// the final one with one of `done`; Block1 echoing the block's NUM, with an SZX not
/// above the one sent (the client then follows it); M=1 on 2.31 (atomic), M=0 on
/// another success to a non-final block (stateless) and on the final response.
pub fn judge_block1(
    t: &Transfer,
    continuing: &[Code],
    done: &[Code],
    method_rule: hilt_core::SpecRef,
) -> Result<(), Failure> {
    let rule = blk("RFC7959-2.5-block1");
    for s in &t.steps {
        let sent = s
            .req
            .block1()
            .expect("the driver sends Block1 in every request");
        let codes = if sent.more { continuing } else { done };
        let resp = judge(&s.req, &s.ex, codes, method_rule)?;
        let Some(b) = resp.block1() else {
            return Err(Failure::fail(
                rule,
                format!(
                    "the response to block {sent} has no Block1 option: {}",
                    summarize(&resp)
                ),
            ));
        };
        if b.num != sent.num || b.szx > sent.szx {
            return Err(Failure::fail(
                rule,
                format!(
                    "block {sent} was acknowledged as block {b}: {}",
                    summarize(&resp)
                ),
            ));
        }
        let atomic = resp.code == Code::CONTINUE;
        if b.more != atomic {
            return Err(Failure::fail(
                rule,
                format!(
                    "a {} answers block {sent} with M={} in its Block1 (1 only on 2.31 Continue): {}",
                    resp.code.name(),
                    u8::from(b.more),
                    summarize(&resp)
                ),
            ));
        }
    }
    Ok(())
}

fn has_block2(m: &Message) -> bool {
    m.code.is_response() && m.block2().is_some()
}

fn has_block1(m: &Message) -> bool {
    m.code.is_response() && m.block1().is_some()
}

/// The server's Block2 options are rewritten by `f`.
fn block2_mutated(what: &str, f: fn(&mut Block)) -> Control {
    controls::mutate_to_client(what, has_block2, move |m| {
        if let Some(mut b) = m.block2() {
            f(&mut b);
            m.options.retain(|o| o.number != OptionNumber::Block2);
            m.push(CoapOption::new(OptionNumber::Block2, b.to_value()));
        }
    })
}

/// An early-negotiation TD: GET `/large` asking for blocks of 2^(szx+4) bytes.
fn early_td(id: &'static str, slug: &str, title: &str, szx: u8, control: Control) -> TestCase {
    tc(slug, title, move |ctx: Ctx| async move {
        let mut c = Client::open(&ctx).await?;
        let path = own_path(&ctx, "/large");
        let body = numbered('l', LARGE);
        create_large(&mut c, &path, &body).await?;
        let first = get(&mut c, &path, Some(szx));
        let rule = rfc("RFC7252-5.8.1-get");
        let t = c.get_blocks(first, None, rule).await?;
        judge_block2(td(id), &t, Some(&body), Code::CONTENT, rule)
    })
    .covers(&[
        td(id),
        blk("RFC7959-2.4-block2"),
        blk("RFC7959-2.4-size"),
        blk("RFC7959-2.4-same-size"),
        blk("RFC7959-2.4-etag"),
    ])
    .needs(&["coap.block", "coap.dynamic-resources"])
    .control(control)
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(early_td(
        "TD_COAP_BLOCK_01",
        "td-coap-block-01",
        "TD_COAP_BLOCK_01: a GET of a large resource asking for 64-byte blocks gets them in order, NUM as asked, M=1 and full until the last",
        2,
        block2_mutated("the server numbers each block one higher than asked", |b| {
            b.num += 1;
        }),
    ));
    t.push(
        tc(
            "td-coap-block-02",
            "TD_COAP_BLOCK_02: a GET without Block2 of a large resource gets block 0 in the server's size; the client goes on in 256-byte blocks from block 2^(DES-ACT)",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let path = own_path(&ctx, "/large");
                let body = numbered('l', LARGE);
                create_large(&mut c, &path, &body).await?;
                let first = get(&mut c, &path, None);
                let rule = rfc("RFC7252-5.8.1-get");
                // 256-byte blocks after the server's first, which a UDP server makes
                // 1024 bytes at most: the switch exercises the late negotiation.
                let t = c.get_blocks(first, Some(4), rule).await?;
                judge_block2(td("TD_COAP_BLOCK_02"), &t, Some(&body), Code::CONTENT, rule)
            },
        )
        .covers(&[
            td("TD_COAP_BLOCK_02"),
            blk("RFC7959-2.4-block2"),
            blk("RFC7959-2.4-same-size"),
            blk("RFC7959-2.4-etag"),
        ])
        .needs(&["coap.block", "coap.dynamic-resources"])
        .control(block2_mutated(
            "the server's first block claims to be the last (M=0)",
            |b| {
                if b.num == 0 {
                    b.more = false;
                }
            },
        )),
    );
    t.push(
        tc(
            "td-coap-block-03",
            "TD_COAP_BLOCK_03: a block-wise PUT updating a large resource gets each block acknowledged (2.31 or 2.04, Block1 echoing NUM), 2.04 at the end, and the resource then holds the whole body",
            |ctx: Ctx| async move {
                let id = "TD_COAP_BLOCK_03";
                let mut c = Client::open(&ctx).await?;
                let path = own_path(&ctx, "/large-update");
                create_large(&mut c, &path, &numbered('o', LARGE)).await?;
                let body = numbered('u', LARGE);
                let rule = rfc("RFC7252-5.8.3-put");
                let template = put(&mut c, Code::PUT, &path);
                let t = c.put_blocks(&template, &body, PUT_SZX, rule).await?;
                // The resource first (the TD's verdict), then each acknowledgement.
                let check = get(&mut c, &path, Some(PUT_SZX));
                let back = c.get_blocks(check, None, rfc("RFC7252-5.8.1-get")).await?;
                ctx.ensure(back.body == body, td(id), || {
                    format!(
                        "after the block-wise PUT the resource holds {}",
                        difference(&back.body, &body)
                    )
                })?;
                judge_block1(&t, &[Code::CONTINUE, Code::CHANGED], &[Code::CHANGED], rule)
            },
        )
        .covers(&[td("TD_COAP_BLOCK_03"), blk("RFC7959-2.5-block1"), rfc("RFC7252-5.8.3-put")])
        .needs(&["coap.block", "coap.dynamic-resources"])
        .control(controls::mutate_to_client(
            "the server acknowledges each Block1 with the next block's number",
            has_block1,
            |m| {
                if let Some(mut b) = m.block1() {
                    b.num += 1;
                    m.options.retain(|o| o.number != OptionNumber::Block1);
                    m.push(CoapOption::new(OptionNumber::Block1, b.to_value()));
                }
            },
        )),
    );
    t.push(
        tc(
            "td-coap-block-04",
            "TD_COAP_BLOCK_04: a block-wise POST creating a large resource gets 2.31 (Continue) per block, then 2.01 with Block1 and a Location-Path under the target, where the whole body can be read back",
            |ctx: Ctx| async move {
                let id = "TD_COAP_BLOCK_04";
                let mut c = Client::open(&ctx).await?;
                let path = own_path(&ctx, "/large-create");
                let body = numbered('p', LARGE);
                let rule = rfc("RFC7252-5.8.2-post");
                let template = put(&mut c, Code::POST, &path);
                let t = c.put_blocks(&template, &body, PUT_SZX, rule).await?;
                let created = t.steps.last().map(Step::resp).expect("a transfer has a step");
                ctx.ensure(created.code == Code::CREATED, rule, || {
                    format!("the block-wise POST creating {path} ended with {}", summarize(created))
                })?;
                let location: Vec<&[u8]> = created.values(OptionNumber::LocationPath).collect();
                let target: Vec<&[u8]> = template.values(OptionNumber::UriPath).collect();
                // The TD's example location is /large-create/PS: the POST's own path,
                // then a segment the server may add; our path has a prefix of its own.
                ctx.ensure(
                    location.len() >= target.len()
                        && location[..target.len()] == target[..]
                        && location.iter().all(|s| !s.contains(&b'/')),
                    td(id),
                    || {
                        format!(
                            "2.01 should locate the new resource under {path} in Location-Path segments without '/': {}",
                            summarize(created)
                        )
                    },
                )?;
                let segments: Vec<String> = location
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                let check = get(&mut c, &format!("/{}", segments.join("/")), Some(PUT_SZX));
                let back = c.get_blocks(check, None, rfc("RFC7252-5.8.1-get")).await?;
                ctx.ensure(back.body == body, td(id), || {
                    format!(
                        "the created resource holds {}",
                        difference(&back.body, &body)
                    )
                })?;
                judge_block1(&t, &[Code::CONTINUE], &[Code::CREATED], rule)
            },
        )
        .covers(&[td("TD_COAP_BLOCK_04"), blk("RFC7959-2.5-block1"), rfc("RFC7252-5.8.2-post")])
        .needs(&["coap.block", "coap.dynamic-resources"])
        .control(controls::mutate_to_client(
            "the server's 2.01 carries no Location-Path",
            |m: &Message| m.code == Code::CREATED,
            |m| m.options.retain(|o| o.number != OptionNumber::LocationPath),
        )),
    );
    // libcoap's example server answers a POST without a body (it echoes one only when
    // started with -e, which changes every PUT and POST response of the suite), so it
    // declares no `coap.block.post-response` and this TD is skipped against it.
    t.push(
        tc(
            "td-coap-block-05",
            "TD_COAP_BLOCK_05: a block-wise POST whose response is large: 2.31 per block, then 2.04 with Block1 and Block2 block 0, the rest retrieved with POSTs carrying Block2 (needs a resource answering POST with a large body)",
            |ctx: Ctx| async move {
                let id = "TD_COAP_BLOCK_05";
                let mut c = Client::open(&ctx).await?;
                let path = own_path(&ctx, "/large-post");
                create_large(&mut c, &path, &numbered('o', LARGE)).await?;
                let rule = rfc("RFC7252-5.8.2-post");
                let template = put(&mut c, Code::POST, &path);
                let sent = c.put_blocks(&template, &numbered('q', LARGE), PUT_SZX, rule).await?;
                judge_block1(&sent, &[Code::CONTINUE], &[Code::CHANGED], rule)?;
                let last = sent.steps.last().cloned().expect("a transfer has a step");
                let resp = last.resp().clone();
                let Some(b) = resp.block2() else {
                    return Err(Failure::fail(
                        td(id),
                        format!("the final 2.04 carries no Block2 for a large response: {}", summarize(&resp)),
                    ));
                };
                let mut t = Transfer { steps: Vec::new(), body: resp.payload.clone() };
                let mut retrieval = template.clone();
                retrieval.options.retain(|o| o.number != OptionNumber::Block1);
                let first = with_block2(c.follow_up(&retrieval), next_block2(b, Some(PUT_SZX)));
                if b.more {
                    t = c.get_blocks_after(t, first, Some(PUT_SZX), rule).await?;
                }
                // The final Block1 step opens the response's transfer: judged with it.
                t.steps.insert(0, last);
                judge_block2(td(id), &t, None, Code::CHANGED, rule)
            },
        )
        .covers(&[td("TD_COAP_BLOCK_05"), blk("RFC7959-2.5-block1"), blk("RFC7959-2.4-block2")])
        .needs(&["coap.block", "coap.dynamic-resources", "coap.block.post-response"])
        .control(block2_mutated("the server numbers each response block one higher", |b| {
            b.num += 1;
        })),
    );
    t.push(early_td(
        "TD_COAP_BLOCK_06",
        "td-coap-block-06",
        "TD_COAP_BLOCK_06: a GET of a large resource asking for 16-byte blocks gets them all, 16 bytes each until the last",
        0,
        block2_mutated("the server sends 32-byte blocks when 16 were asked", |b| {
            b.szx = 1;
        }),
    ));

    t.push(
        tc(
            "block2-random-access",
            "Blocks asked for last first each come with the NUM asked, M=1 on every block but the last, full sizes, and assemble to the representation",
            |ctx: Ctx| async move {
                let mut c = Client::open(&ctx).await?;
                let path = own_path(&ctx, "/large");
                let body = numbered('r', LARGE);
                create_large(&mut c, &path, &body).await?;
                // 512-byte blocks: 0 and 1 full, 2 short and last.
                let szx = 5u8;
                let size = 1usize << (szx + 4);
                let count = body.len().div_ceil(size);
                let rule = rfc("RFC7252-5.8.1-get");
                let mut steps = Vec::new();
                for num in (0..count).rev() {
                    let req = with_block2(
                        get(&mut c, &path, None),
                        Block { num: num as u32, more: false, szx },
                    );
                    let (ex, _) = c.response(&req, rule).await?;
                    steps.push(Step { req, ex });
                }
                // Judged in block order, as one transfer.
                steps.reverse();
                let mut t = Transfer { steps, body: Vec::new() };
                for s in &t.steps {
                    if let Some(b) = s.resp().block2()
                        && b.offset() == t.body.len()
                    {
                        t.body.extend_from_slice(&s.resp().payload);
                    }
                }
                judge_block2(blk("RFC7959-2.4-block2"), &t, Some(&body), Code::CONTENT, rule)
            },
        )
        .covers(&[blk("RFC7959-2.4-block2"), blk("RFC7959-2.4-same-size")])
        .needs(&["coap.block", "coap.dynamic-resources"])
        .control(controls::mutate_to_client(
            "the server's last block says more follow (M=1)",
            |m: &Message| m.block2().is_some_and(|b| !b.more) && m.code.is_response(),
            |m| {
                if let Some(mut b) = m.block2() {
                    b.more = true;
                    m.options.retain(|o| o.number != OptionNumber::Block2);
                    m.push(CoapOption::new(OptionNumber::Block2, b.to_value()));
                }
            },
        )),
    );
    t.push(
        tc(
            "block2-etag-tells-versions-apart",
            "A representation replaced during a block-wise GET is never served under the first blocks' ETag: later blocks are of the old version with the same ETag, or of the new one with another",
            |ctx: Ctx| async move {
                let rule = blk("RFC7959-2.4-etag");
                let get_rule = rfc("RFC7252-5.8.1-get");
                let mut reader = Client::open(&ctx).await?;
                let mut writer = Client::open(&ctx).await?;
                let path = own_path(&ctx, "/large");
                let old = numbered('a', LARGE);
                let new = numbered('b', LARGE);
                create_large(&mut writer, &path, &old).await?;
                let szx = 4u8;
                let size = 1usize << (szx + 4);
                let first = get(&mut reader, &path, Some(szx));
                let (_, b0) = reader.response(&first, get_rule).await?;
                let e0 = b0.etag().map(<[u8]>::to_vec);
                create_large(&mut writer, &path, &new).await?;
                let second = with_block2(
                    get(&mut reader, &path, None),
                    Block { num: 1, more: false, szx },
                );
                let (_, b1) = reader.response(&second, get_rule).await?;
                let e1 = b1.etag().map(<[u8]>::to_vec);
                if e0.is_none() || e1.is_none() {
                    return Err(Failure::fail(
                        rule,
                        format!(
                            "Block2 responses of a resource that changed carry no ETag to tell its versions apart: {}; {}",
                            summarize(&b0),
                            summarize(&b1)
                        ),
                    ));
                }
                let old_block = &old[size..(2 * size).min(old.len())];
                if e1 == e0 && b1.payload != old_block {
                    return Err(Failure::fail(
                        rule,
                        format!(
                            "block 1 under the first block's ETag {e0:02x?} is not the old version's block 1 (the new representation was served under the old ETag): {}",
                            summarize(&b1)
                        ),
                    ));
                }
                // A fresh transfer gets the new version whole, under an ETag of its own.
                let fresh = get(&mut reader, &path, Some(szx));
                let t = reader.get_blocks(fresh, None, get_rule).await?;
                judge_block2(rule, &t, Some(&new), Code::CONTENT, get_rule)?;
                let e_new = t.steps.first().and_then(|s| s.resp().etag().map(<[u8]>::to_vec));
                ctx.ensure(e_new != e0, rule, || {
                    format!("the replaced representation is served under the old one's ETag {e0:02x?}")
                })
            },
        )
        .covers(&[blk("RFC7959-2.4-etag")])
        .needs(&["coap.block", "coap.dynamic-resources"])
        .control(controls::mutate_to_client(
            "the server serves the new representation's blocks under the old version's ETag",
            |m: &Message| m.code == Code::CONTENT && m.block2().is_some(),
            |m| {
                // One ETag for every block, and the blocks after the first taken from
                // the new representation: a change the client cannot see.
                m.options.retain(|o| o.number != OptionNumber::ETag);
                m.push(CoapOption::new(OptionNumber::ETag, b"hilt-old".to_vec()));
                if let Some(b) = m.block2()
                    && b.num >= 1
                {
                    let new = numbered('b', LARGE);
                    let from = b.offset().min(new.len());
                    let to = (from + m.payload.len()).min(new.len());
                    m.payload = new[from..to].to_vec();
                }
            },
        )),
    );
    t.push(
        tc(
            "size2-when-asked",
            "A GET asking for Size2 (value 0) of a large resource: Size2 at most once, and when given it is the representation's size (a server may ignore the request)",
            |ctx: Ctx| async move {
                let rule = blk("RFC7959-4-size2");
                let mut c = Client::open(&ctx).await?;
                let path = own_path(&ctx, "/large");
                let body = numbered('s', LARGE);
                create_large(&mut c, &path, &body).await?;
                let req = get(&mut c, &path, Some(4)).with_uint(OptionNumber::Size2, 0);
                let (_, resp) = c.response(&req, rfc("RFC7252-5.8.1-get")).await?;
                let sizes: Vec<Option<u32>> = resp
                    .values(OptionNumber::Size2)
                    .map(hilt_wire::coap::decode_uint)
                    .collect();
                match sizes.as_slice() {
                    [] => Ok(()),
                    [Some(n)] if *n as usize == body.len() => Ok(()),
                    _ => Err(Failure::fail(
                        rule,
                        format!(
                            "Size2 {sizes:?} for a representation of {} bytes: {}",
                            body.len(),
                            summarize(&resp)
                        ),
                    )),
                }
            },
        )
        .covers(&[blk("RFC7959-4-size2")])
        .needs(&["coap.block", "coap.dynamic-resources"])
        .control(controls::mutate_to_client(
            "the server's block carries a Size2 of 1 (a second one when it sent its own)",
            has_block2,
            |m| m.push(CoapOption::uint(OptionNumber::Size2, 1)),
        )),
    );
    t
}
