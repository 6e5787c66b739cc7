/* IPv6 (RFC 8200) on a point-to-point SLIP link: the device's addresses, input with
 * extension headers walked, output with the upper layer's checksum filled in.
 *
 * There is no neighbour discovery: on SLIP every packet goes to the one peer. The
 * device is a host, so a packet for an address that is not its own is dropped, and so
 * is a Routing header with segments left (RFC 8200 §4.4: a host forwards nothing). */
#ifndef HILT_FW_IPV6_H
#define HILT_FW_IPV6_H

#include <stddef.h>
#include <stdint.h>

#include "slip.h"

typedef struct {
    uint8_t b[16];
} ipv6_addr;

#define IPV6_HEADER_LEN 40u
#define IPV6_MAX_PAYLOAD (SLIP_MTU - IPV6_HEADER_LEN)

#define IPV6_NH_HOP_BY_HOP 0u
#define IPV6_NH_UDP 17u
#define IPV6_NH_ROUTING 43u
#define IPV6_NH_FRAGMENT 44u
#define IPV6_NH_ICMPV6 58u
#define IPV6_NH_NONE 59u
#define IPV6_NH_DEST_OPTS 60u

/* Hop limits: 64 for what may cross routers, 255 for link-local signalling. */
#define IPV6_HOP_LIMIT 64u
#define IPV6_HOP_LIMIT_LINK 255u

extern const ipv6_addr ipv6_all_nodes;     /* ff02::1 */
extern const ipv6_addr ipv6_all_rpl_nodes; /* ff02::1a */

void ipv6_init(void);

const ipv6_addr *ipv6_link_local(void);
/* The global address, or NULL before a prefix is known. */
const ipv6_addr *ipv6_global(void);
/* Configures prefix::IID from a /64 (RPL's Prefix Information option). */
void ipv6_set_prefix(const uint8_t prefix[8]);
void ipv6_clear_global(void);

int ipv6_is_multicast(const ipv6_addr *a);
int ipv6_is_link_local(const ipv6_addr *a);
int ipv6_addr_equal(const ipv6_addr *a, const ipv6_addr *b);
/* Whether a unicast address is one of the device's own. */
int ipv6_is_mine(const ipv6_addr *a);
/* The source address for a packet to `dst`: link-local for link-local and multicast
 * destinations and while there is no global address, else the global one. */
const ipv6_addr *ipv6_source_for(const ipv6_addr *dst);

/* One received packet (a SLIP frame). */
void ipv6_input(const uint8_t *packet, size_t len);

/* Where the payload of the next packet is written (IPV6_MAX_PAYLOAD bytes). */
uint8_t *ipv6_tx_payload(void);

/* Sends the packet whose payload is in ipv6_tx_payload(): `next_header` is the first
 * header of the payload; if it is a Hop-by-Hop header, the upper layer follows it. The
 * ICMPv6 or UDP checksum is computed here (its field may hold anything). */
void ipv6_send(const ipv6_addr *src, const ipv6_addr *dst, uint8_t next_header, uint8_t hop_limit,
               size_t payload_len);

/* The upper-layer checksum over the pseudo-header and `data` (RFC 8200 §8.1); a
 * received packet is intact when this is 0. */
uint16_t ipv6_checksum(const ipv6_addr *src, const ipv6_addr *dst, uint8_t proto, const uint8_t *data,
                       size_t len);

struct ipv6_stats {
    uint32_t packets_in;
    uint32_t drops; /* malformed, not for us, bad checksum, unsupported headers */
    uint32_t echo_replies;
};

const struct ipv6_stats *ipv6_stats(void);
/* Counts a packet an upper layer dropped. */
void ipv6_count_drop(void);
void ipv6_count_echo(void);

static inline uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

#endif
