#!/usr/bin/env python3
"""Boots the reference firmware in QEMU and checks it over its one UART: the banner and
shell, then IPv6 in SLIP frames — ICMPv6 Echo, the RPL leaf (DIS at boot, joining on a
DIO with a Prefix Information option, the DAO with its K flag, Target and Transit
Information, DAO retransmission without a DAO-ACK, a new DAO on a DTSN or Version
increment, a unicast DIS answered with an INFINITE_RANK DIO, malformed messages
ignored).

Python 3 standard library only. Every wait is bounded by a protocol deadline; the
whole run takes seconds. Usage: test.py [path/to/hilt-fw.elf]  (default: out/hilt-fw.elf
beside this file, as `build` writes it; built with the default device id 1).
"""

import ipaddress
import os
import queue
import re
import shutil
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD

DEVICE_LL = ipaddress.IPv6Address("fe80::ff:fe00:1")
DEVICE_GLOBAL = ipaddress.IPv6Address("2001:db8::ff:fe00:1")
ROOT_LL = ipaddress.IPv6Address("fe80::1")
ROOT_GLOBAL = ipaddress.IPv6Address("2001:db8::1")
ALL_RPL_NODES = ipaddress.IPv6Address("ff02::1a")

ICMPV6, UDP, HOP_BY_HOP = 58, 17, 0
RPL = 155
DIS, DIO, DAO, DAO_ACK = 0, 1, 2, 3


class Failed(Exception):
    pass


class TimedOut(Failed):
    """Nothing awaited came before its deadline."""


def check(cond, what):
    if not cond:
        raise Failed(what)


# --- packets -----------------------------------------------------------------------


def checksum(src, dst, proto, data):
    pseudo = src.packed + dst.packed + struct.pack("!IxxxB", len(data), proto)
    blob = pseudo + data
    if len(blob) % 2:
        blob += b"\0"
    s = sum(struct.unpack("!%dH" % (len(blob) // 2), blob))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv6(src, dst, nh, payload, hop_limit=64):
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, hop_limit) + src.packed + dst.packed + payload


def icmpv6(src, dst, typ, code, body, hop_limit=64, corrupt=False):
    msg = struct.pack("!BBH", typ, code, 0) + body
    c = checksum(src, dst, ICMPV6, msg) ^ (0x0101 if corrupt else 0)
    msg = msg[:2] + struct.pack("!H", c) + msg[4:]
    return ipv6(src, dst, ICMPV6, msg, hop_limit)


def udp(src, dst, sport, dport, payload):
    d = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = checksum(src, dst, UDP, d) or 0xFFFF
    return ipv6(src, dst, UDP, d[:6] + struct.pack("!H", c) + d[8:])


class Packet:
    """A received IPv6 packet, Hop-by-Hop header walked, upper-layer checksum checked."""

    def __init__(self, raw):
        check(len(raw) >= 40 and raw[0] >> 4 == 6, "a SLIP frame that is not IPv6: %s" % raw.hex())
        plen, self.nh, self.hop_limit = struct.unpack("!HBB", raw[4:8])
        check(40 + plen == len(raw), "IPv6 payload length %d in a %d-byte frame" % (plen, len(raw)))
        self.src = ipaddress.IPv6Address(raw[8:24])
        self.dst = ipaddress.IPv6Address(raw[24:40])
        self.hbh = None
        body = raw[40:]
        if self.nh == HOP_BY_HOP:
            n = 8 * (body[1] + 1)
            self.hbh, self.nh, body = body[:n], body[0], body[n:]
        self.body = body
        if self.nh in (ICMPV6, UDP):
            check(checksum(self.src, self.dst, self.nh, body) == 0, "bad checksum in %s" % raw.hex())

    def is_rpl(self, code):
        return self.nh == ICMPV6 and self.body[0] == RPL and self.body[1] == code


def dio(version=240, rank=256, dtsn=240, mop=1, prefix=True, config=True, grounded=True, extra=b""):
    flags = (0x80 if grounded else 0) | mop << 3
    body = struct.pack("!BBHBBBB", 0, version, rank, flags, dtsn, 0, 0) + ROOT_GLOBAL.packed
    if config:
        # DIOIntDoubl 8, DIOIntMin 12, redundancy 10, MaxRankIncrease 1792,
        # MinHopRankIncrease 256, OCP 0, default lifetime 30 × 60 s.
        body += struct.pack("!BBBBBBHHHBBH", 4, 14, 0, 8, 12, 10, 1792, 256, 0, 0, 30, 60)
    if prefix:
        pfx = ipaddress.IPv6Address("2001:db8::")
        body += struct.pack("!BBBBIII", 8, 30, 64, 0x40, 86400, 14400, 0) + pfx.packed
    return icmpv6(ROOT_LL, ALL_RPL_NODES, RPL, DIO, body + extra, hop_limit=255)


def dao_ack(seq, status=0):
    body = struct.pack("!BBBB", 0, 0x80, seq, status) + ROOT_GLOBAL.packed
    return icmpv6(ROOT_GLOBAL, DEVICE_GLOBAL, RPL, DAO_ACK, body)


def parse_options(b):
    """RPL options as (type, value) pairs."""
    out, i = [], 0
    while i < len(b):
        if b[i] == 0:
            i += 1
            continue
        out.append((b[i], b[i + 2 : i + 2 + b[i + 1]]))
        i += 2 + b[i + 1]
    return out


def coap(mtype, code, mid, token=b"", options=(), payload=b""):
    """A CoAP datagram; `options` as (number, bytes) in ascending order."""
    out = bytearray([0x40 | mtype << 4 | len(token), code]) + struct.pack("!H", mid) + token
    last = 0
    for num, val in options:
        delta, length, ext = num - last, len(val), b""
        hd = delta if delta < 13 else 13
        ext += bytes([delta - 13]) if delta >= 13 else b""
        hl = length if length < 13 else 13
        ext += bytes([length - 13]) if length >= 13 else b""
        out += bytes([hd << 4 | hl]) + ext + val
        last = num
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def parse_coap(d):
    tkl = d[0] & 0xF
    msg = {"type": d[0] >> 4 & 3, "code": d[1], "mid": struct.unpack("!H", d[2:4])[0], "token": d[4 : 4 + tkl]}
    i, num, opts = 4 + tkl, 0, []
    while i < len(d) and d[i] != 0xFF:
        delta, length = d[i] >> 4, d[i] & 0xF
        i += 1
        if delta == 13:
            delta, i = d[i] + 13, i + 1
        if length == 13:
            length, i = d[i] + 13, i + 1
        num += delta
        opts.append((num, d[i : i + length]))
        i += length
    msg["options"] = opts
    msg["payload"] = d[i + 1 :] if i < len(d) else b""
    return msg


def opt(msg, num):
    vals = [v for n, v in msg["options"] if n == num]
    return vals[0] if vals else None


def uint(v):
    return int.from_bytes(v, "big") if v is not None else None


def path_options(path):
    return [(11, seg.encode()) for seg in path.strip("/").split("/") if seg]


CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT, DELETE = 1, 2, 3, 4


# --- the device --------------------------------------------------------------------


class Device:
    """QEMU with the firmware; its UART on stdio, split into console lines and frames."""

    def __init__(self, elf):
        qemu = shutil.which("qemu-system-arm")
        check(qemu, "qemu-system-arm is missing (apt-get install qemu-system-arm)")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [qemu, "-M", "lm3s6965evb", "-nographic", "-monitor", "none", "-serial", "stdio", "-kernel", elf],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.lines = queue.Queue()
        self.frames = queue.Queue()
        self.write_lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        text, frame, state = bytearray(), bytearray(), "idle"
        while True:
            chunk = self.proc.stdout.read1(4096)
            if not chunk:
                return
            now = time.monotonic()
            for b in chunk:
                if state == "idle":
                    if b == END:
                        state, frame = "frame", bytearray()
                    elif b == ord("\n"):
                        self.lines.put((now, text.decode(errors="replace").rstrip("\r")))
                        text = bytearray()
                    else:
                        text.append(b)
                elif state == "esc":
                    frame.append({ESC_END: END, ESC_ESC: ESC}.get(b, 0x100) & 0xFF)
                    state = "frame"
                elif b == ESC:
                    state = "esc"
                elif b == END:
                    if frame:
                        self.frames.put((now, bytes(frame)))
                        state = "idle"
                else:
                    frame.append(b)

    def write(self, data):
        with self.write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def command(self, cmd):
        self.write(cmd.encode() + b"\n")

    def send(self, packet):
        esc = packet.replace(bytes([ESC]), bytes([ESC, ESC_ESC])).replace(bytes([END]), bytes([ESC, ESC_END]))
        self.write(bytes([END]) + esc + bytes([END]))

    @staticmethod
    def _next(q, deadline, missing):
        try:
            return q.get(timeout=max(0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimedOut(missing)

    def line(self, pattern, timeout=2.0):
        """The next console line not starting "log ", which must match `pattern`."""
        deadline = time.monotonic() + timeout
        while True:
            _, text = self._next(self.lines, deadline, "no console line matching %r within %.1f s" % (pattern, timeout))
            if text.startswith("log "):
                continue
            m = re.fullmatch(pattern, text)
            check(m, "console line %r does not match %r" % (text, pattern))
            return m

    def frame(self, want, timeout, what):
        """The next frame `want` accepts (others are skipped), parsed, with its time."""
        deadline = time.monotonic() + timeout
        while True:
            at, raw = self._next(self.frames, deadline, "no %s within %.1f s" % (what, timeout))
            p = Packet(raw)
            if want(p):
                return at, p

    def no_frame(self, want, timeout, what):
        try:
            self.frame(want, timeout, what)
        except TimedOut:
            return
        raise Failed("unexpected %s" % what)

    def stats(self):
        self.command("stats")
        m = self.line(r"stats (.*)")
        return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}

    def stop(self):
        self.proc.kill()
        self.proc.wait()


# --- the checks --------------------------------------------------------------------


def test_console(d):
    m = d.line(r"hilt-fw (\S+) board=lm3s6965evb id=1", timeout=5)
    version = m.group(1)
    d.line(r"ready")
    print("banner: hilt-fw %s, ready %.0f ms after QEMU started" % (version, (time.monotonic() - d.started) * 1000))
    d.command("version")
    d.line(r"hilt-fw %s board=lm3s6965evb id=1" % re.escape(version))
    d.command("help")
    d.line(r"commands: .*")
    d.command("ip")
    d.line(r"addr fe80::ff:fe00:1")
    d.command("rpl")
    d.line(r"rpl joined=0 rank=65535 parent=- dodag=- version=\d+ dtsn=\d+")
    d.command("uptime")
    up1 = int(d.line(r"uptime ms=(\d+)").group(1))
    d.command("uptime")
    up2 = int(d.line(r"uptime ms=(\d+)").group(1))
    check(up1 <= up2 < 10000, "uptime %d then %d" % (up1, up2))
    d.command("no-such-command")
    d.line(r"error unknown command")
    d.write(b"stats\r\n")  # "\r\n" is one command, not two
    d.line(r"stats slip_in=0 .*")
    d.command("help")
    d.line(r"commands: .*")
    return version


def test_dis_at_boot(d):
    at, p = d.frame(lambda p: p.is_rpl(DIS), 2, "DIS at boot")
    check(p.dst == ALL_RPL_NODES and p.src == DEVICE_LL, "DIS from %s to %s" % (p.src, p.dst))
    check(p.hop_limit == 255, "DIS hop limit %d" % p.hop_limit)
    at2, _ = d.frame(lambda p: p.is_rpl(DIS), 7, "a second DIS while alone")
    print("DIS at boot to ff02::1a, again %.1f s later" % (at2 - at))
    check(4.0 <= at2 - at <= 6.5, "DISes %.1f s apart, expected 5" % (at2 - at))


def test_echo(d):
    before = d.stats()
    # Bytes that SLIP must escape, in both directions.
    data = bytes([END, ESC, 1, END, ESC_END, ESC, ESC_ESC]) + bytes(range(64))
    d.send(icmpv6(ROOT_LL, DEVICE_LL, 128, 0, struct.pack("!HH", 0x4242, 7) + data))
    _, p = d.frame(lambda p: p.nh == ICMPV6 and p.body[0] == 129, 2, "Echo Reply")
    check(p.src == DEVICE_LL and p.dst == ROOT_LL, "Echo Reply from %s to %s" % (p.src, p.dst))
    check(p.body[4:] == struct.pack("!HH", 0x4242, 7) + data, "Echo Reply body differs")
    # A corrupted checksum is dropped and counted; so is a frame that is not IPv6.
    d.send(icmpv6(ROOT_LL, DEVICE_LL, 128, 0, struct.pack("!HH", 1, 1), corrupt=True))
    d.write(bytes([END]) + b"\x45\x00\x00\x14" + bytes(16) + bytes([END]))
    d.write(bytes([END, ESC, 0x41, END]))  # ESC then a byte that is no escape
    d.no_frame(lambda p: p.nh == ICMPV6 and p.body[0] == 129, 0.5, "Echo Reply to a corrupted request")
    after = d.stats()
    check(after["ipv6_drops"] == before["ipv6_drops"] + 1, "corrupted checksum not counted: %s" % after)
    check(after["slip_drops"] == before["slip_drops"] + 2, "non-IPv6 and bad escape not counted: %s" % after)
    check(after["echo"] == before["echo"] + 1, "echo count %s" % after)
    print("Echo Reply intact (SLIP escapes both ways); bad checksum, non-IPv6 frame, bad escape dropped and counted")


def expect_dao(d, what, timeout=2.0):
    at, p = d.frame(lambda p: p.is_rpl(DAO), timeout, what)
    check(p.src == DEVICE_GLOBAL and p.dst == ROOT_GLOBAL, "DAO from %s to %s" % (p.src, p.dst))
    check(p.hbh is not None and p.hbh[2] == 0x63, "DAO without the RPL Option in a Hop-by-Hop header")
    b = p.body[4:]
    instance, flags, _, seq = struct.unpack("!BBBB", b[:4])
    check(flags & 0x80, "DAO without the K flag")
    check(flags & 0x40 and b[4:20] == ROOT_GLOBAL.packed, "DAO without D flag and DODAGID")
    opts = parse_options(b[20:])
    targets = [v for t, v in opts if t == 5]
    transits = [v for t, v in opts if t == 6]
    check(len(targets) == 1 and targets[0][1] == 128 and targets[0][2:18] == DEVICE_GLOBAL.packed,
          "DAO Target option: %s" % [t.hex() for t in targets])
    check(len(transits) == 1 and len(transits[0]) == 20 and transits[0][4:20] == ROOT_GLOBAL.packed,
          "DAO Transit Information: %s" % [t.hex() for t in transits])
    check(transits[0][3] == 30, "path lifetime %d, the DODAG Configuration says 30" % transits[0][3])
    return at, seq, transits[0][2]


def test_rpl(d):
    before = d.stats()
    # Malformed DIOs: cut short, an option running past the end, a DODAG
    # Configuration of the wrong length. Each is dropped, none joins.
    good = dio()
    d.send(good[:40 + 4 + 10])
    d.send(dio(config=False, prefix=False, extra=bytes([8, 30, 64])))
    d.send(dio(config=False, extra=struct.pack("!BB", 4, 10) + bytes(10)))
    # A Storing-mode DIO: not for this leaf.
    d.send(dio(mop=2))
    d.command("rpl")
    d.line(r"rpl joined=0 .*")
    after = d.stats()
    check(after["rpl_drops"] >= before["rpl_drops"] + 2, "malformed DIOs not counted: %s" % after)

    # A DIO with a Prefix Information option: join, address, DAO.
    d.send(dio())
    t0, seq, pathseq = expect_dao(d, "DAO after joining")
    d.command("rpl")
    d.line(r"rpl joined=1 rank=1024 parent=fe80::1 dodag=2001:db8::1 version=240 dtsn=240")
    d.command("ip")
    d.line(r"addr fe80::ff:fe00:1")
    d.line(r"addr 2001:db8::ff:fe00:1")
    # No DAO-ACK: the same DAO again every ~2 s, 4 times, then a failure counted.
    times = [t0]
    for n in range(4):
        t, again, _ = expect_dao(d, "DAO retransmission %d" % (n + 1), timeout=3.5)
        check(again == seq, "retransmission %d changed the DAO Sequence %d -> %d" % (n + 1, seq, again))
        times.append(t)
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(all(1.5 <= g <= 3.0 for g in gaps), "retransmissions %s s apart, expected 2" % ["%.2f" % g for g in gaps])
    d.no_frame(lambda p: p.is_rpl(DAO), 2.6, "a fifth DAO retransmission")
    check(d.stats()["dao_failed"] == 1, "the DAO that got no DAO-ACK is not counted as failed")
    print("DAO seq=%d (K, D, Target, Transit to the DODAGID), no DAO-ACK: sent again after %s s, then given up"
          % (seq, ", ".join("%.2f" % g for g in gaps)))
    # The parent's next DIO brings a new DAO; its DAO-ACK stops the retransmissions.
    d.send(dio())
    _, seq, pathseq = expect_dao(d, "new DAO on the DIO after a failure")
    d.send(dao_ack(seq))
    d.no_frame(lambda p: p.is_rpl(DAO), 2.6, "DAO after its DAO-ACK")
    check(d.stats()["dao_ack"] == 1, "DAO-ACK not counted")

    # A DTSN increment from the parent: a new DAO (new sequences).
    d.send(dio(dtsn=241))
    _, seq3, pathseq3 = expect_dao(d, "DAO after a DTSN increment")
    check(seq3 != seq and pathseq3 != pathseq, "the DAO after a DTSN increment reuses sequence %d" % seq3)
    d.send(dao_ack(seq3))
    # The same DIO again asks for nothing.
    d.send(dio(dtsn=241))
    d.no_frame(lambda p: p.is_rpl(DAO), 0.5, "DAO on an unchanged DIO")
    # A new DODAG Version: a new DAO.
    d.send(dio(version=241, dtsn=241))
    _, seq4, _ = expect_dao(d, "DAO after a Version increment")
    check(seq4 != seq3, "the DAO after a Version increment reuses sequence %d" % seq4)
    d.send(dao_ack(seq4))
    d.command("rpl")
    d.line(r"rpl joined=1 rank=1024 parent=fe80::1 dodag=2001:db8::1 version=241 dtsn=241")
    print("new DAOs on DTSN and Version increments (seq %d, %d); none on an unchanged DIO" % (seq3, seq4))

    # A unicast DIS: a unicast DIO advertising INFINITE_RANK. A multicast one: nothing.
    d.send(icmpv6(ROOT_LL, DEVICE_LL, RPL, DIS, b"\0\0", hop_limit=255))
    _, p = d.frame(lambda p: p.is_rpl(DIO), 2, "DIO answering a unicast DIS")
    check(p.dst == ROOT_LL and p.src == DEVICE_LL, "DIO from %s to %s" % (p.src, p.dst))
    rank = struct.unpack("!H", p.body[6:8])[0]
    check(rank == 0xFFFF, "the leaf's DIO advertises rank %d" % rank)
    check(p.body[12:28] == ROOT_GLOBAL.packed, "the leaf's DIO names another DODAGID")
    d.send(icmpv6(ROOT_LL, ALL_RPL_NODES, RPL, DIS, b"\0\0", hop_limit=255))
    d.no_frame(lambda p: p.is_rpl(DIO), 0.5, "DIO answering a multicast DIS")
    # Malformed DAO-ACK and DIS, an unknown code: ignored, the device still answers.
    d.send(icmpv6(ROOT_GLOBAL, DEVICE_GLOBAL, RPL, DAO_ACK, b"\0"))
    d.send(icmpv6(ROOT_LL, DEVICE_LL, RPL, DIS, b"\0\0\x07\x30"))
    d.send(icmpv6(ROOT_LL, DEVICE_LL, RPL, 0x7A, b"\0" * 8))
    d.send(icmpv6(ROOT_GLOBAL, DEVICE_GLOBAL, 128, 0, b"\0\1\0\2"))
    _, p = d.frame(lambda p: p.nh == ICMPV6 and p.body[0] == 129, 2, "Echo Reply after malformed RPL")
    check(p.src == DEVICE_GLOBAL, "reply to the global address came from %s" % p.src)
    print("unicast DIS answered by an INFINITE_RANK DIO; multicast DIS and malformed messages ignored")


class CoapClient:
    """CoAP over the SLIP link, from the root's global address."""

    def __init__(self, d, port=40000):
        self.d, self.port, self.mid = d, port, 0x1000

    def send(self, datagram):
        self.d.send(udp(ROOT_GLOBAL, DEVICE_GLOBAL, self.port, 5683, datagram))

    def recv(self, what, timeout=2.0, want=lambda m: True):
        def match(p):
            return p.nh == UDP and struct.unpack("!H", p.body[2:4])[0] == self.port and want(parse_coap(p.body[8:]))

        at, p = self.d.frame(match, timeout, what)
        check(p.src == DEVICE_GLOBAL, "CoAP reply from %s" % p.src)
        return at, parse_coap(p.body[8:])

    def request(self, code, path, mtype=CON, token=b"\x42", options=(), payload=b""):
        self.mid += 1
        opts = sorted(list(path_options(path)) + list(options), key=lambda o: o[0])
        self.send(coap(mtype, code, self.mid, token, opts, payload))
        _, m = self.recv("reply to %d %s" % (code, path), want=lambda m: m["token"] == token)
        if mtype == CON:
            check(m["type"] == ACK and m["mid"] == self.mid, "not piggybacked: %s" % m)
        return m


def code(c, d):
    return c << 5 | d


def test_coap(d):
    c = CoapClient(d)
    # Discovery.
    m = c.request(GET, "/.well-known/core")
    check(m["code"] == code(2, 5) and uint(opt(m, 12)) == 40, "GET /.well-known/core: %s" % m)
    listing = m["payload"].decode()
    for link in ("</test>", "</large>", "</obs>", "</sensors/temp>", "</actuators/led>", "</seg1/seg2/seg3>"):
        check(link in listing, "%s missing from %s" % (link, listing))
    m = c.request(GET, "/.well-known/core", options=[(15, b"rt=Type2")])
    check(m["payload"] == b'</link1>;ct=0;rt="Type1 Type2";if="If1";sz=5,</link2>;ct=0;rt="Type2 Type3";if="If2";sz=5',
          "filtered listing: %r" % m["payload"])
    # /test: GET, PUT, GET, DELETE, GET; ETag validation.
    m = c.request(GET, "/test", token=b"\x01\x02\x03\x04\x05\x06\x07\x08")
    check(m["code"] == code(2, 5) and uint(opt(m, 12)) == 0 and m["payload"] == b"plugtest /test", "GET /test: %s" % m)
    etag = opt(m, 4)
    m = c.request(GET, "/test", options=[(4, etag)])
    check(m["code"] == code(2, 3) and not m["payload"], "GET /test with its ETag: %s" % m)
    m = c.request(PUT, "/test", options=[(12, b"")], payload=b"changed")
    check(m["code"] == code(2, 4), "PUT /test: %s" % m)
    m = c.request(GET, "/test", options=[(17, b"\x29")])
    check(m["code"] == code(4, 6), "GET /test with Accept 41: %s" % m)
    m = c.request(POST, "/new/thing", options=[(12, b""), (15, b"a=1")], payload=b"posted", mtype=NON)
    check(m["type"] == NON and m["code"] == code(2, 1) and [v for n, v in m["options"] if n == 8] == [b"new", b"thing"]
          and opt(m, 20) == b"a=1", "POST /new/thing: %s" % m)
    m = c.request(DELETE, "/new/thing")
    check(m["code"] == code(2, 2), "DELETE: %s" % m)
    m = c.request(GET, "/new/thing")
    check(m["code"] == code(4, 4), "GET after DELETE: %s" % m)
    # Message layer: a duplicate gets the same reply; ping; unknown critical option.
    c.mid += 1
    dup = coap(CON, POST, c.mid, b"\x77", path_options("/dup"), b"once")
    c.send(dup)
    _, first = c.recv("reply to the POST")
    c.send(dup)
    _, again = c.recv("reply to the duplicate POST")
    check(first == again and first["code"] == code(2, 1), "duplicate answered %s then %s" % (first, again))
    c.mid += 1
    c.send(coap(CON, 0, c.mid))
    _, m = c.recv("RST to a ping")
    check(m["type"] == RST and m["mid"] == c.mid, "ping answered %s" % m)
    m = c.request(GET, "/test", options=[(9, b"x")])
    check(m["code"] == code(4, 2), "unknown critical option: %s" % m)
    # Block2: /large is cut in 1024-byte blocks, or in the size asked, any block first.
    large = b"".join(b"%d hilt block-wise line\n" % i for i in range(1000, 1080))
    m = c.request(GET, "/large")
    check(uint(opt(m, 23)) == 0x0E and m["payload"] == large[:1024] and uint(opt(m, 28)) == len(large),
          "GET /large: %s" % m)
    m = c.request(GET, "/large", options=[(23, bytes([2 << 4 | 2]))])  # block 2 of 64 bytes
    check(uint(opt(m, 23)) == (2 << 4 | 8 | 2) and m["payload"] == large[128:192], "GET /large block 2 of 64: %s" % m)
    # Separate response: an Empty ACK now, the CON response a second later.
    c.mid += 1
    c.send(coap(CON, GET, c.mid, b"\x55", path_options("/separate")))
    t0, ack = c.recv("Empty ACK of /separate")
    check(ack["type"] == ACK and ack["code"] == 0 and ack["mid"] == c.mid, "first reply to /separate: %s" % ack)
    t1, resp = c.recv("separate response", timeout=3)
    check(resp["type"] == CON and resp["code"] == code(2, 5) and resp["token"] == b"\x55", "separate: %s" % resp)
    c.send(coap(ACK, 0, resp["mid"]))
    # Observe /time: registration, then notifications with increasing Observe.
    m = c.request(GET, "/time", token=b"\x0b", options=[(6, b"")])
    check(m["code"] == code(2, 5) and opt(m, 6) is not None, "Observe registration: %s" % m)
    seen = [uint(opt(m, 6))]
    for _ in range(2):
        _, n = c.recv("notification of /time", timeout=2.5, want=lambda m: m["token"] == b"\x0b")
        seen.append(uint(opt(n, 6)))
    check(seen == sorted(seen) and len(set(seen)) == 3, "Observe values %s" % seen)
    c.mid += 1
    c.send(coap(CON, GET, c.mid, b"\x0b", [(6, b"\x01"), (11, b"time")]))  # deregister
    c.recv("deregistration reply", want=lambda m: m["mid"] == c.mid)
    check(d.stats()["coap_requests"] >= 15, "coap requests not counted")
    print("CoAP: discovery (filtered too), GET/PUT/POST/DELETE, ETag, Accept, duplicate, ping, 4.02, "
          "Block2, separate response after %.2f s, Observe values %s" % (t1 - t0, seen))


def test_malformed_input(d):
    """Mutated RPL messages, CoAP datagrams and IPv6 headers (checksums made valid, so
    they reach the parsers): the device must neither fault nor stop answering."""
    import random

    rnd = random.Random(6550)
    coap_get = coap(CON, GET, 0x2222, b"\x01\x02", [(11, b"large"), (23, b"\x06")])
    samples = [
        (ROOT_LL, DEVICE_LL, ICMPV6, dio()[44:]),
        (ROOT_LL, DEVICE_LL, ICMPV6, icmpv6(ROOT_LL, DEVICE_LL, RPL, DIS, b"\0\0\x07\x13" + bytes(19))[40:]),
        (ROOT_GLOBAL, DEVICE_GLOBAL, ICMPV6, dao_ack(1)[40:]),
        (ROOT_GLOBAL, DEVICE_GLOBAL, UDP, udp(ROOT_GLOBAL, DEVICE_GLOBAL, 40001, 5683, coap_get)[40:]),
    ]
    before = d.stats()
    sent = 0
    # Back to back, as a host writes them: the device's receive ring holds the UART back
    # while it is full, so no byte is lost and SLIP keeps its frame sync.
    for _ in range(400):
        src, dst, nh, body = rnd.choice(samples)
        body = bytearray(body)
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(body))
            if rnd.random() < 0.2:
                del body[i:]  # cut short
                if len(body) < 8:
                    body.extend(bytes(8 - len(body)))
            else:
                body[i] = rnd.randrange(256)
        if nh == UDP:
            body[0:2] = struct.pack("!H", 40001)
            body[2:4] = struct.pack("!H", 5683)
            body[4:6] = struct.pack("!H", len(body)) if rnd.random() < 0.8 else body[4:6]
            body[6:8] = b"\0\0"
            body[6:8] = struct.pack("!H", checksum(src, dst, UDP, bytes(body)) or 0xFFFF)
        else:
            body[0] = RPL if rnd.random() < 0.9 else body[0]
            body[2:4] = b"\0\0"
            body[2:4] = struct.pack("!H", checksum(src, dst, ICMPV6, bytes(body)))
        pkt = bytearray(ipv6(src, dst, nh, bytes(body)))
        if rnd.random() < 0.1:
            pkt[4:6] = struct.pack("!H", rnd.randrange(65536))  # a lying payload length
        d.send(bytes(pkt))
        sent += 1
    d.send(icmpv6(ROOT_LL, DEVICE_LL, 128, 0, b"\0\7\0\1alive"))
    d.frame(lambda p: p.nh == ICMPV6 and p.body[0] == 129 and p.body[8:] == b"alive", 5, "Echo Reply after the mutated input")
    d.command("version")
    d.line(r"hilt-fw \S+ board=lm3s6965evb id=1")
    after = d.stats()
    got = after["slip_in"] - before["slip_in"]
    check(got == sent + 1, "%d of %d back-to-back frames arrived" % (got, sent + 1))
    check(after["slip_drops"] == before["slip_drops"], "framing lost: %s" % after)
    check(after["uart_overruns"] == 0, "UART overruns: %s" % after)
    print("%d mutated packets back to back, every frame received: no fault, still answering" % sent)


def test_reset(d):
    d.command("reset")
    d.line(r"resetting")
    d.line(r"hilt-fw \S+ board=lm3s6965evb id=1", timeout=3)
    d.line(r"ready")
    d.command("rpl")
    d.line(r"rpl joined=0 .*")
    print("reset: banner again, state cleared")


def main():
    elf = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "out", "hilt-fw.elf")
    check(os.path.exists(elf), "%s missing: run targets/firmware/build first" % elf)
    started = time.monotonic()
    d = Device(elf)
    try:
        test_console(d)
        test_dis_at_boot(d)
        test_echo(d)
        test_rpl(d)
        test_coap(d)
        test_malformed_input(d)
        test_reset(d)
    except Failed as e:
        print("FAIL: %s" % e, file=sys.stderr)
        return 1
    finally:
        d.stop()
    print("firmware test passed in %.1f s" % (time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
