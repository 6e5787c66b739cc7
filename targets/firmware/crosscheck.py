#!/usr/bin/env python3
"""Cross-checks the firmware's CoAP server with independent clients over a real IPv6
path: QEMU's UART bridged to a TUN interface, the Linux kernel routing between them.

A test-only bridge (hilt's own border router is `hilt rig`'s business): it boots the
firmware, plays a minimal RPL root on the SLIP side (a DIO with a Prefix Information
option for 2001:db8::/64, a DAO-ACK for each DAO), and forwards every other packet
between the UART and a TUN interface holding 2001:db8::1/64. Then libcoap's
coap-client-notls talks to coap://[2001:db8::ff:fe00:1]: discovery, GET, PUT, a
block-wise GET and an observation. With --hilt PATH it also runs hilt's coap suite
against the device as an external target.

It runs in a network namespace of its own (re-executing itself under `unshare --net`),
so the TUN interface and its addresses are private to the run. Needs root and
coap-client-notls (Debian libcoap3-bin); without them it says why and exits 77
(skipped). Usage:
  crosscheck.py [--hilt target/debug/hilt [--controls]] [--elf out/hilt-fw.elf] [--keep SECONDS]
"""

import argparse
import fcntl
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test as fw  # noqa: E402  (the device, packet builders and checks of test.py)

TUN_NAME = "hiltfw0"
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
SKIPPED = 77
# Set in the copy of this script that runs in its own network namespace.
PRIVATE_NETNS = "HILT_FW_CROSSCHECK_NETNS"
DEVICE_URL = "coap://[%s]" % fw.DEVICE_GLOBAL
# What the firmware offers, in the coap suite's capability names (README.md lists them).
CAPABILITIES = [
    "coap.observe", "coap.block", "coap.separate", "coap.dynamic-resources", "coap.etag",
    "coap.link-format.filtering", "coap.link-format.multiple-rt", "coap.link-format.sz",
    "coap.observe.non-notifications",
]


def open_tun():
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", TUN_NAME.encode(), IFF_TUN | IFF_NO_PI))
    subprocess.run(["ip", "link", "set", TUN_NAME, "up"], check=True)
    subprocess.run(["ip", "-6", "addr", "add", "%s/64" % fw.ROOT_GLOBAL, "dev", TUN_NAME, "nodad"], check=True)
    return fd


def bridge(d, tun, stop):
    """UART frames to the TUN (DAOs answered here), TUN packets to the UART."""

    def from_device():
        while not stop.is_set():
            try:
                _, raw = d.frames.get(timeout=0.2)
            except Exception:
                continue
            p = fw.Packet(raw)
            if p.is_rpl(fw.DAO):
                d.send(fw.dao_ack(p.body[7]))
            elif not p.dst.is_multicast:
                os.write(tun, raw)

    def from_tun():
        while not stop.is_set():
            pkt = os.read(tun, 2048)
            if pkt and pkt[0] >> 4 == 6 and pkt[24] != 0xFF:
                d.send(pkt)

    for f in (from_device, from_tun):
        threading.Thread(target=f, daemon=True).start()


def client(*args, timeout=15):
    cmd = ["coap-client-notls", "-B", "10"] + list(args)
    r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def libcoap_checks():
    results = []

    def check(name, ok, detail):
        results.append((name, ok))
        print("%s %s: %s" % ("ok  " if ok else "FAIL", name, detail.strip()[:200]))

    rc, out, _ = client("-m", "get", DEVICE_URL + "/.well-known/core")
    check("discovery", rc == 0 and "</sensors/temp>" in out and "</large>" in out, out)
    rc, out, _ = client("-m", "get", DEVICE_URL + "/test")
    check("GET /test", rc == 0 and "plugtest /test" in out, out)
    rc, out, _ = client("-m", "put", "-e", "1", DEVICE_URL + "/actuators/led")
    rc2, out2, _ = client("-m", "get", DEVICE_URL + "/actuators/led")
    check("PUT then GET /actuators/led", rc == 0 and rc2 == 0 and out2.strip().endswith("1"), out2)
    rc, out, _ = client("-m", "get", "-b", "64", DEVICE_URL + "/large")
    want = "".join("%d hilt block-wise line\n" % i for i in range(1000, 1080))
    check("block-wise GET /large (64-byte blocks)", rc == 0 and out.rstrip("\n") == want.rstrip("\n"),
          "%d bytes" % len(out))
    rc, out, _ = client("-m", "get", "-s", "4", DEVICE_URL + "/sensors/temp", timeout=20)
    # coap-client prints each notification's payload with no separator.
    readings = re.findall(r"\d\d\.\d", out)
    check("observe /sensors/temp for 4 s", rc == 0 and len(readings) >= 3, " ".join(readings))
    return all(ok for _, ok in results)


def hilt_suite(hilt, out, controls):
    cmd = [hilt, "run", "--suite", "coap", "--target", "external", "--url", DEVICE_URL + ":5683",
           "--capabilities", ",".join(CAPABILITIES), "-j", "2", "--out", out, "--no-color"] + (["--controls"] if controls else [])
    print("$ " + " ".join(cmd))
    r = subprocess.run(cmd, timeout=1200)
    return r.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--elf", default=os.path.join(fw.HERE, "out", "hilt-fw.elf"))
    ap.add_argument("--hilt", help="a hilt binary: also run its coap suite against the device")
    ap.add_argument("--out", default="hilt-out/firmware-crosscheck", help="hilt's run folder")
    ap.add_argument("--controls", action="store_true", help="run the suite's negative controls instead")
    ap.add_argument("--keep", type=float, default=0, help="keep the bridge up this long afterwards")
    args = ap.parse_args()
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("unshare"):
        print("skipped: a TUN interface in a network namespace needs root, /dev/net/tun and unshare")
        return SKIPPED
    if not shutil.which("coap-client-notls"):
        print("skipped: coap-client-notls missing (apt-get install libcoap3-bin)")
        return SKIPPED
    if os.environ.get(PRIVATE_NETNS) != "1":
        env = dict(os.environ, **{PRIVATE_NETNS: "1"})
        return subprocess.run(["unshare", "--net", sys.executable] + sys.argv, env=env).returncode
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    d = fw.Device(args.elf)
    stop = threading.Event()
    tun = None
    try:
        d.line(r"hilt-fw .*", timeout=5)
        d.send(fw.dio())
        _, seq, _ = fw.expect_dao(d, "DAO after the DIO")
        d.send(fw.dao_ack(seq))
        tun = open_tun()
        bridge(d, tun, stop)
        ok = libcoap_checks()
        rc = 0 if ok else 1
        if args.hilt:
            rc = hilt_suite(args.hilt, args.out, args.controls) or rc
        if args.keep:
            time.sleep(args.keep)
        return rc
    except fw.Failed as e:
        print("FAIL: %s" % e, file=sys.stderr)
        return 1
    finally:
        stop.set()
        d.stop()
        if tun is not None:
            os.close(tun)


if __name__ == "__main__":
    sys.exit(main())
