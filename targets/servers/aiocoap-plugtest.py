"""A CoAP server on aiocoap's resource API exposing what the ETSI CoAP#4 plugtest test
descriptions (and hilt's coap suite) expect of a server under test.

aiocoap ships no such server (its contrib/ holds an OSCORE plugtest only), so this is a
thin application: every protocol behaviour judged by hilt -- message layer, tokens,
piggybacked and separate responses, block-wise transfer, Observe, option handling --
is aiocoap's own. The application decides only what resources exist and what they
hold:

  /                     text
  /test, /seg1/seg2/seg3, /query
                        text, read/write (created at start, as the TDs assume)
  /separate             answered separately, after --separate-delay seconds
  /async                answered separately after the delay given as its query (seconds),
                        as libcoap's example server does, so the same tests serve both
  /large                a 2 KiB text, served block-wise (Block2) by aiocoap
  /obs, /time           observable, a new state every --obs-period seconds
                        (/obs notifies in CON, /time in NON)
  /link1 /link2 /link3  link-format attributes for the LINK TDs (rt, if, sz)
  /path, /path/sub1..3  a hierarchy (/path is ct=40 and lists its children)
  /.well-known/core     the RFC 6690 list of all of the above, filterable

Like libcoap's `-d`, a PUT or POST to a path that holds nothing creates a resource
there (2.01; a POST answers with the location in Location-Path and Location-Query),
which keeps its payload and Content-Format, has an ETag that changes with every update,
honours If-Match, If-None-Match, ETag validation and Accept, is observable, and goes
away on DELETE.

Run it with the Python of a virtual environment that has aiocoap:
  python aiocoap-plugtest.py --host 127.0.0.1 --port 5683
"""

import argparse
import asyncio
import logging
import time

import aiocoap
import aiocoap.resource as resource
from aiocoap import Code, Message

TEXT = 0
LINK_FORMAT = 40


class Stored(resource.ObservableResource):
    """A resource holding what a client put there."""

    def __init__(self, site, path, payload=b"", content_format=TEXT, **link):
        # `link`: RFC 6690 attributes for /.well-known/core (rt, if, sz).
        super().__init__()
        self.site = site
        self.path = tuple(path)
        self.exists = bool(payload) or content_format != TEXT or bool(link)
        self.payload = payload
        self.content_format = content_format
        self.version = 0
        self.link = link

    def get_link_description(self):
        d = super().get_link_description()
        d.update(self.link)
        # A Content-Format set by a request is an aiocoap enum: list its number.
        d["ct"] = str(int(self.content_format))
        return d

    def etag(self):
        return self.version.to_bytes(4, "big")

    async def needs_blockwise_assembly(self, request):
        return True

    async def render_get(self, request):
        if request.opt.accept is not None and request.opt.accept != self.content_format:
            return Message(code=Code.NOT_ACCEPTABLE)
        if self.etag() in request.opt.etags:
            return Message(code=Code.VALID, etag=self.etag())
        return Message(
            payload=self.payload, content_format=self.content_format, etag=self.etag()
        )

    def precondition_fails(self, request):
        if request.opt.if_none_match and self.exists:
            return True
        if request.opt.if_match:
            if not self.exists:
                return True
            # An empty If-Match matches any current representation (RFC 7252 §5.10.8.1).
            return not any(v in (b"", self.etag()) for v in request.opt.if_match)
        return False

    def store(self, request):
        created = not self.exists
        self.exists = True
        self.payload = request.payload
        if request.opt.content_format is not None:
            self.content_format = request.opt.content_format
        self.version += 1
        self.updated_state()
        return created

    async def render_put(self, request):
        if self.precondition_fails(request):
            self.forget_if_new()
            return Message(code=Code.PRECONDITION_FAILED)
        created = self.store(request)
        return Message(code=Code.CREATED if created else Code.CHANGED)

    async def render_post(self, request):
        if self.precondition_fails(request):
            self.forget_if_new()
            return Message(code=Code.PRECONDITION_FAILED)
        if not self.store(request):
            return Message(code=Code.CHANGED)
        return Message(
            code=Code.CREATED,
            location_path=self.path,
            location_query=tuple(request.opt.uri_query),
        )

    async def render_delete(self, request):
        # Observers learn that the resource is gone (RFC 7641 §4.2); aiocoap sends the
        # error notification and ends their observations.
        self.updated_state(Message(code=Code.NOT_FOUND))
        self.site.remove_resource(self.path)
        self.exists = False
        return Message(code=Code.DELETED)

    def forget_if_new(self):
        if not self.exists:
            self.site.remove_resource(self.path)


class Delayed(resource.Resource):
    """Answers after a delay, so the response is a separate one: aiocoap acknowledges a
    CON request with an Empty ACK when the response is not ready in time."""

    def __init__(self, delay_s=None):
        super().__init__()
        self.delay_s = delay_s

    async def render_get(self, request):
        delay = self.delay_s
        if delay is None:
            try:
                delay = float(request.opt.uri_query[0]) if request.opt.uri_query else 1.0
            except ValueError:
                return Message(code=Code.BAD_REQUEST, payload=b"the query is the delay in seconds")
        await asyncio.sleep(delay)
        return Message(payload=b"separate response after %g s" % delay, content_format=TEXT)


class Ticking(resource.ObservableResource):
    """A clock: a new representation every period, notified in CON messages when
    `reliable`, else NON."""

    def __init__(self, period_s, reliable):
        super().__init__()
        self.period_s = period_s
        self.tuning = aiocoap.Reliable if reliable else aiocoap.Unreliable
        self.ticks = 0
        self.max_age = max(1, int(period_s * 2))

    def representation(self):
        return b"tick %d at %d" % (self.ticks, int(time.time()))

    async def render_get(self, request):
        return Message(
            payload=self.representation(), content_format=TEXT, max_age=self.max_age
        )

    async def run(self):
        while True:
            await asyncio.sleep(self.period_s)
            self.ticks += 1
            self.updated_state(
                Message(
                    transport_tuning=self.tuning,
                    code=Code.CONTENT,
                    payload=self.representation(),
                    content_format=TEXT,
                    max_age=self.max_age,
                )
            )


class Listing(resource.Resource):
    """/path: the links of its children, in link format."""

    def __init__(self, children):
        super().__init__()
        self.children = children

    def get_link_description(self):
        return {"ct": str(LINK_FORMAT)}

    async def render_get(self, request):
        links = ",".join("</path/%s>" % c for c in self.children)
        return Message(payload=links.encode(), content_format=LINK_FORMAT)


class DynamicSite(resource.Site):
    """A site where a PUT or POST to an empty path creates a resource there."""

    def _find_child_and_pathstripped_message(self, request):
        try:
            return super()._find_child_and_pathstripped_message(request)
        except KeyError:
            path = tuple(request.opt.uri_path)
            if request.code not in (Code.PUT, Code.POST) or not path or "" in path:
                raise
            self.add_resource(path, Stored(self, path))
            return super()._find_child_and_pathstripped_message(request)


def build_site(args):
    site = DynamicSite()
    text = b"hilt's aiocoap plugtest server"
    site.add_resource((), Stored(site, (), text))
    for path, body in [
        (("test",), b"plugtest /test"),
        (("seg1", "seg2", "seg3"), b"plugtest /seg1/seg2/seg3"),
        (("query",), b"plugtest /query"),
    ]:
        site.add_resource(path, Stored(site, path, body))
    site.add_resource(("separate",), Delayed(args.separate_delay))
    site.add_resource(("async",), Delayed())
    large = b"".join(b"%04d hilt block-wise line\n" % i for i in range(80))
    site.add_resource(("large",), Stored(site, ("large",), large, sz=str(len(large))))
    ticking = [
        (("obs",), Ticking(args.obs_period, reliable=True)),
        (("time",), Ticking(args.obs_period, reliable=False)),
    ]
    for path, res in ticking:
        site.add_resource(path, res)
    for name, rt, if_ in [
        ("link1", "Type1 Type2", "If1"),
        ("link2", "Type2 Type3", "If2"),
        ("link3", "Type1 Type3", "foo"),
    ]:
        link = {"rt": rt, "if": if_, "sz": "5"}
        site.add_resource((name,), Stored(site, (name,), name.encode(), **link))
    children = ["sub1", "sub2", "sub3"]
    site.add_resource(("path",), Listing(children))
    for c in children:
        site.add_resource(("path", c), Stored(site, ("path", c), b"/path/" + c.encode()))
    site.add_resource(
        (".well-known", "core"),
        resource.WKCResource(site.get_resources_as_linkheader, impl_info=None),
    )
    return site, [res for _, res in ticking]


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5683)
    p.add_argument("--separate-delay", type=float, default=1.0)
    p.add_argument("--obs-period", type=float, default=1.0)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    site, ticking = build_site(args)
    await aiocoap.Context.create_server_context(site, bind=(args.host, args.port))
    logging.info("aiocoap %s serving on %s:%d", aiocoap.meta.version, args.host, args.port)
    await asyncio.gather(*(t.run() for t in ticking))


if __name__ == "__main__":
    asyncio.run(main())
