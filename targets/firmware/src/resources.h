/* The CoAP server's resources: what the ETSI CoAP plugtest descriptions (the
 * `coap` suite) and the rig's own checks expect of a device.
 *
 *   /                       text
 *   /test /seg1/seg2/seg3 /query
 *                           text, GET PUT POST DELETE (there at boot, like any
 *                           resource a PUT or POST creates)
 *   /separate               answered separately, 1 s later
 *   /async?N                answered separately, N s later (N ≤ 10, default 1)
 *   /large                  2080 bytes of text: Block2
 *   /obs                    observable, a new state every 5 s, notified in CON
 *   /time                   observable, a new state every second, notified in NON
 *   /sensors/temp           observable temperature (simulated), every second, NON
 *   /actuators/led          "0" or "1": GET, PUT
 *   /link1 /link2 /link3    link-format attributes for discovery (rt, if, sz)
 *   /path /path/sub1..3     /path lists its children (ct=40)
 *   /.well-known/core       RFC 6690 listing of all, filtered by a query
 *
 * A PUT or POST to a path that holds nothing creates a resource there (2.01; POST
 * answers with Location-Path and Location-Query), which keeps its payload and
 * Content-Format, has an ETag that changes with every update, honours If-Match,
 * If-None-Match, ETag validation and Accept, is observable, and goes away on DELETE.
 * They live in a fixed table; when it is full, the least recently written one is
 * recycled. */
#ifndef HILT_FW_RESOURCES_H
#define HILT_FW_RESOURCES_H

#include "coap.h"

void resources_init(void);
void resources_handle(const struct coap_request *req, struct coap_response *resp);
/* The periodic resources' clocks; they call coap_notify() when they change. */
void resources_poll(uint32_t now);

#endif
