/* A CoAP server (RFC 7252) on UDP port 5683 of every address, with Observe (RFC 7641)
 * and block-wise transfers (RFC 7959). This file is the message layer: parsing and
 * validating datagrams, piggybacked and separate responses, duplicate detection by
 * Message ID, retransmission of Confirmable messages, observers, and cutting
 * representations into Block2 blocks and assembling Block1 bodies. What the resources
 * are and what they hold is resources.c's business. */
#ifndef HILT_FW_COAP_H
#define HILT_FW_COAP_H

#include <stddef.h>
#include <stdint.h>

#include "ipv6.h"

#define COAP_PORT 5683u

/* Message types and codes (RFC 7252 §3, §12.1). */
#define COAP_CON 0u
#define COAP_NON 1u
#define COAP_ACK 2u
#define COAP_RST 3u
#define COAP_CODE(c, d) ((uint8_t)((c) << 5 | (d)))
#define COAP_GET COAP_CODE(0, 1)
#define COAP_POST COAP_CODE(0, 2)
#define COAP_PUT COAP_CODE(0, 3)
#define COAP_DELETE COAP_CODE(0, 4)
#define COAP_CREATED COAP_CODE(2, 1)
#define COAP_DELETED COAP_CODE(2, 2)
#define COAP_VALID COAP_CODE(2, 3)
#define COAP_CHANGED COAP_CODE(2, 4)
#define COAP_CONTENT COAP_CODE(2, 5)
#define COAP_CONTINUE COAP_CODE(2, 31)
#define COAP_BAD_REQUEST COAP_CODE(4, 0)
#define COAP_BAD_OPTION COAP_CODE(4, 2)
#define COAP_NOT_FOUND COAP_CODE(4, 4)
#define COAP_METHOD_NOT_ALLOWED COAP_CODE(4, 5)
#define COAP_NOT_ACCEPTABLE COAP_CODE(4, 6)
#define COAP_INCOMPLETE COAP_CODE(4, 8)
#define COAP_PRECONDITION_FAILED COAP_CODE(4, 12)
#define COAP_TOO_LARGE COAP_CODE(4, 13)
#define COAP_PROXYING_NOT_SUPPORTED COAP_CODE(5, 5)

/* Option numbers (RFC 7252 §12.2, RFC 7641, RFC 7959). */
#define COAP_OPT_IF_MATCH 1u
#define COAP_OPT_URI_HOST 3u
#define COAP_OPT_ETAG 4u
#define COAP_OPT_IF_NONE_MATCH 5u
#define COAP_OPT_OBSERVE 6u
#define COAP_OPT_URI_PORT 7u
#define COAP_OPT_LOCATION_PATH 8u
#define COAP_OPT_URI_PATH 11u
#define COAP_OPT_CONTENT_FORMAT 12u
#define COAP_OPT_MAX_AGE 14u
#define COAP_OPT_URI_QUERY 15u
#define COAP_OPT_ACCEPT 17u
#define COAP_OPT_LOCATION_QUERY 20u
#define COAP_OPT_BLOCK2 23u
#define COAP_OPT_BLOCK1 27u
#define COAP_OPT_SIZE2 28u
#define COAP_OPT_PROXY_URI 35u
#define COAP_OPT_PROXY_SCHEME 39u
#define COAP_OPT_SIZE1 60u

#define COAP_FORMAT_TEXT 0u
#define COAP_FORMAT_LINK 40u
#define COAP_FORMAT_NONE (-1)

/* The longest path (its Uri-Path options joined with '/') the server keeps. */
#define COAP_PATH_MAX 80u
/* The largest representation a resource renders; larger goes block-wise. */
#define COAP_REPR_MAX 2304u
#define COAP_MAX_OPTIONS 20u

struct coap_option {
    uint16_t number;
    uint16_t len;
    const uint8_t *value;
};

/* A parsed message; pointers point into the datagram. */
struct coap_msg {
    uint8_t type;
    uint8_t code;
    uint16_t mid;
    uint8_t tkl;
    uint8_t token[8];
    uint8_t n_options;
    struct coap_option options[COAP_MAX_OPTIONS];
    const uint8_t *payload;
    size_t payload_len;
};

/* What a resource is asked. */
struct coap_request {
    uint8_t method;
    const char *path; /* "/" or "/a/b" */
    const struct coap_msg *msg;
    const uint8_t *payload; /* the whole body, Block1 transfers assembled */
    size_t payload_len;
    int late; /* the separate response, rendered after the delay asked */
};

/* What a resource answers. resources.c renders the whole representation into `body`
 * (COAP_REPR_MAX bytes); the message layer cuts it into blocks. */
struct coap_response {
    uint8_t code;
    int32_t content_format; /* COAP_FORMAT_NONE: no option (diagnostic payloads) */
    uint8_t etag_len;
    uint8_t etag[4];
    int has_max_age;
    uint32_t max_age;
    int location;          /* 2.01: Location-Path from the request's path, Location-Query
                              from its Uri-Query */
    int observable;        /* a GET with Observe registers */
    int notify_con;        /* notifications: 1 CON, 0 NON, -1 the registration's type */
    uint32_t separate_ms;  /* > 0: acknowledge now, answer after this delay */
    uint8_t *body;
    size_t len;
};

/* The first value of option `number` (elective options of the wrong length or
 * repeated are treated as absent); NULL when it is not there. */
const struct coap_option *coap_option(const struct coap_msg *m, uint16_t number);
/* Option `number` as an unsigned integer; 0 when absent. */
int coap_option_uint(const struct coap_msg *m, uint16_t number, uint32_t *value);

void coap_init(void);
void coap_input(const ipv6_addr *src, uint16_t src_port, const ipv6_addr *dst, const uint8_t *datagram,
                size_t len);
/* Retransmissions, separate responses, and the resources' own clocks. */
void coap_poll(uint32_t now);
/* The resource at `path` changed (or went away): its observers hear of it. */
void coap_notify(const char *path);

struct coap_stats {
    uint32_t requests;
    uint32_t drops; /* malformed or unexpected datagrams */
};

const struct coap_stats *coap_stats(void);

#endif
