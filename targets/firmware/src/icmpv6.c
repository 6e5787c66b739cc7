#include "icmpv6.h"

#include <string.h>

#include "rpl.h"

#define ICMPV6_HEADER_LEN 4u

uint8_t *icmpv6_tx_body(void)
{
    return ipv6_tx_payload() + ICMPV6_HEADER_LEN;
}

void icmpv6_send(const ipv6_addr *dst, uint8_t type, uint8_t code, size_t body_len, uint8_t hop_limit)
{
    uint8_t *m = ipv6_tx_payload();
    m[0] = type;
    m[1] = code;
    ipv6_send(ipv6_source_for(dst), dst, IPV6_NH_ICMPV6, hop_limit, ICMPV6_HEADER_LEN + body_len);
}

static void echo_reply(const ipv6_addr *src, const ipv6_addr *dst, const uint8_t *msg, size_t len)
{
    /* Identifier, sequence number and data come back as they came (RFC 4443 §4.2),
     * from the address that was pinged when it was one of ours. */
    size_t body = len - ICMPV6_HEADER_LEN;
    if (body > IPV6_MAX_PAYLOAD - ICMPV6_HEADER_LEN) {
        body = IPV6_MAX_PAYLOAD - ICMPV6_HEADER_LEN;
    }
    memcpy(icmpv6_tx_body(), msg + ICMPV6_HEADER_LEN, body);
    uint8_t *m = ipv6_tx_payload();
    m[0] = ICMPV6_ECHO_REPLY;
    m[1] = 0;
    const ipv6_addr *from = ipv6_is_mine(dst) ? dst : ipv6_source_for(src);
    ipv6_send(from, src, IPV6_NH_ICMPV6, IPV6_HOP_LIMIT, ICMPV6_HEADER_LEN + body);
    ipv6_count_echo();
}

void icmpv6_input(const ipv6_addr *src, const ipv6_addr *dst, const uint8_t *msg, size_t len)
{
    if (len < ICMPV6_HEADER_LEN || ipv6_checksum(src, dst, IPV6_NH_ICMPV6, msg, len) != 0) {
        ipv6_count_drop();
        return;
    }
    switch (msg[0]) {
    case ICMPV6_ECHO_REQUEST:
        if (msg[1] == 0 && len >= 8) {
            echo_reply(src, dst, msg, len);
        }
        break;
    case ICMPV6_RPL_CONTROL:
        rpl_input(src, dst, msg[1], msg + ICMPV6_HEADER_LEN, len - ICMPV6_HEADER_LEN);
        break;
    default:
        break;
    }
}
