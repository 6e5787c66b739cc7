"""aiocoap's CoAP codec as a filter, for cross-checking hilt's: one datagram in hex per
input line; one JSON object per output line with what aiocoap decoded (type, code,
message id, token, options as [number, hex value], payload) and the bytes aiocoap
encodes that message back to, or the error it raised."""

import json
import sys

from aiocoap import Message
from aiocoap.message import Direction

for line in sys.stdin:
    raw = bytes.fromhex(line.strip())
    try:
        m = Message.decode(raw)
    except Exception as e:  # any refusal is a verdict to compare
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        continue
    out = {
        "type": int(m.mtype),
        "code": int(m.code),
        "mid": m.mid,
        "token": m.token.hex(),
        "options": [[int(o.number), o.encode().hex()] for o in m.opt.option_list()],
        "payload": m.payload.hex(),
    }
    m.direction = Direction.OUTGOING
    out["encoded"] = m.encode().hex()
    print(json.dumps(out))
