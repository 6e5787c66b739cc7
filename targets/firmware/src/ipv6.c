#include "ipv6.h"

#include <string.h>

#include "icmpv6.h"
#include "udp.h"
#include "version.h"

const ipv6_addr ipv6_all_nodes = {{0xff, 0x02, [15] = 0x01}};
const ipv6_addr ipv6_all_rpl_nodes = {{0xff, 0x02, [15] = 0x1a}};

static ipv6_addr link_local;
static ipv6_addr global;
static int have_global;
static uint8_t tx_packet[SLIP_MTU];
static struct ipv6_stats stats;

/* Hop-by-Hop option types (RFC 8200 §4.2) the device knows. */
#define OPT_PAD1 0x00u
#define OPT_PADN 0x01u
#define OPT_RPL 0x63u         /* RFC 6553 */
#define OPT_RPL_RFC9008 0x23u /* RFC 9008's renumbering of the same option */

/* The interface identifier from the device id: the EUI-64 02:00:00:ff:fe:00:HH:LL of
 * the EUI-48 02:00:00:00:HH:LL, with the U/L bit inverted (RFC 4291 §2.5.1). */
static void set_iid(uint8_t *addr)
{
    static const uint8_t eui64[8] = {0x02, 0x00, 0x00, 0xff, 0xfe, 0x00, (uint8_t)(HILT_FW_ID >> 8),
                                     (uint8_t)HILT_FW_ID};
    memcpy(addr + 8, eui64, 8);
    addr[8] ^= 0x02;
}

void ipv6_init(void)
{
    memset(&link_local, 0, sizeof link_local);
    link_local.b[0] = 0xfe;
    link_local.b[1] = 0x80;
    set_iid(link_local.b);
    have_global = 0;
}

const ipv6_addr *ipv6_link_local(void)
{
    return &link_local;
}

const ipv6_addr *ipv6_global(void)
{
    return have_global ? &global : NULL;
}

void ipv6_set_prefix(const uint8_t prefix[8])
{
    memcpy(global.b, prefix, 8);
    set_iid(global.b);
    have_global = 1;
}

void ipv6_clear_global(void)
{
    have_global = 0;
}

int ipv6_is_multicast(const ipv6_addr *a)
{
    return a->b[0] == 0xff;
}

int ipv6_is_link_local(const ipv6_addr *a)
{
    return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

int ipv6_addr_equal(const ipv6_addr *a, const ipv6_addr *b)
{
    return !memcmp(a->b, b->b, 16);
}

int ipv6_is_mine(const ipv6_addr *a)
{
    return ipv6_addr_equal(a, &link_local) || (have_global && ipv6_addr_equal(a, &global));
}

static int accepts(const ipv6_addr *dst)
{
    return ipv6_is_mine(dst) || ipv6_addr_equal(dst, &ipv6_all_nodes) ||
           ipv6_addr_equal(dst, &ipv6_all_rpl_nodes);
}

const ipv6_addr *ipv6_source_for(const ipv6_addr *dst)
{
    if (!have_global || ipv6_is_link_local(dst) || ipv6_is_multicast(dst)) {
        return &link_local;
    }
    return &global;
}

static uint32_t sum_bytes(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += get16(p + i);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    return sum;
}

uint16_t ipv6_checksum(const ipv6_addr *src, const ipv6_addr *dst, uint8_t proto, const uint8_t *data,
                       size_t len)
{
    uint32_t sum = sum_bytes(0, src->b, 16);
    sum = sum_bytes(sum, dst->b, 16);
    sum += (uint32_t)len >> 16;
    sum += (uint32_t)len & 0xffff;
    sum += proto;
    sum = sum_bytes(sum, data, len);
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/* Walks the options of a Hop-by-Hop or Destination Options header; 0 when the
 * packet must be dropped (malformed, or an option the device must not skip). */
static int options_acceptable(const uint8_t *opts, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t type = opts[i];
        if (type == OPT_PAD1) {
            i++;
            continue;
        }
        if (i + 2 > len || i + 2 + opts[i + 1] > len) {
            return 0;
        }
        /* The two high bits of an unknown type say what to do (RFC 8200 §4.2): 00
         * skip it; anything else discards the packet (the ICMPv6 Parameter Problem
         * the 10 and 11 cases ask for is not sent). */
        if (type != OPT_PADN && type != OPT_RPL && type != OPT_RPL_RFC9008 && (type >> 6) != 0) {
            return 0;
        }
        i += 2u + opts[i + 1];
    }
    return 1;
}

void ipv6_input(const uint8_t *packet, size_t len)
{
    stats.packets_in++;
    if (len < IPV6_HEADER_LEN || packet[0] >> 4 != 6) {
        stats.drops++;
        return;
    }
    size_t payload_len = get16(packet + 4);
    if (IPV6_HEADER_LEN + payload_len > len) {
        stats.drops++;
        return;
    }
    ipv6_addr src, dst;
    memcpy(src.b, packet + 8, 16);
    memcpy(dst.b, packet + 24, 16);
    if (!accepts(&dst) || ipv6_is_multicast(&src)) {
        stats.drops++;
        return;
    }
    const uint8_t *p = packet + IPV6_HEADER_LEN;
    const uint8_t *end = p + payload_len;
    uint8_t nh = packet[6];
    for (int first = 1;; first = 0) {
        switch (nh) {
        case IPV6_NH_ICMPV6:
            icmpv6_input(&src, &dst, p, (size_t)(end - p));
            return;
        case IPV6_NH_UDP:
            udp_input(&src, &dst, p, (size_t)(end - p));
            return;
        case IPV6_NH_HOP_BY_HOP:
        case IPV6_NH_DEST_OPTS:
        case IPV6_NH_ROUTING: {
            if (end - p < 8 || (nh == IPV6_NH_HOP_BY_HOP && !first)) {
                stats.drops++;
                return;
            }
            size_t ext_len = 8u * (p[1] + 1u);
            if ((size_t)(end - p) < ext_len) {
                stats.drops++;
                return;
            }
            int ok = nh == IPV6_NH_ROUTING ? p[3] == 0 /* segments left */
                                           : options_acceptable(p + 2, ext_len - 2);
            if (!ok) {
                stats.drops++;
                return;
            }
            nh = p[0];
            p += ext_len;
            break;
        }
        case IPV6_NH_NONE:
            return;
        default: /* fragments (no reassembly here) and protocols the device lacks */
            stats.drops++;
            return;
        }
    }
}

uint8_t *ipv6_tx_payload(void)
{
    return tx_packet + IPV6_HEADER_LEN;
}

void ipv6_send(const ipv6_addr *src, const ipv6_addr *dst, uint8_t next_header, uint8_t hop_limit,
               size_t payload_len)
{
    if (payload_len > IPV6_MAX_PAYLOAD) {
        stats.drops++;
        return;
    }
    uint8_t *h = tx_packet;
    h[0] = 0x60;
    h[1] = h[2] = h[3] = 0;
    put16(h + 4, (uint16_t)payload_len);
    h[6] = next_header;
    h[7] = hop_limit;
    memcpy(h + 8, src->b, 16);
    memcpy(h + 24, dst->b, 16);

    uint8_t *upper = h + IPV6_HEADER_LEN;
    uint8_t proto = next_header;
    if (proto == IPV6_NH_HOP_BY_HOP) {
        proto = upper[0];
        upper += 8u * (upper[1] + 1u);
    }
    size_t upper_len = payload_len - (size_t)(upper - (h + IPV6_HEADER_LEN));
    size_t at = proto == IPV6_NH_UDP ? 6 : 2; /* the checksum field of UDP, ICMPv6 */
    put16(upper + at, 0);
    uint16_t sum = ipv6_checksum(src, dst, proto, upper, upper_len);
    /* UDP sends a computed 0 as 0xffff (0 means "no checksum", forbidden in IPv6). */
    put16(upper + at, sum == 0 && proto == IPV6_NH_UDP ? 0xffff : sum);
    slip_send(tx_packet, IPV6_HEADER_LEN + payload_len);
}

const struct ipv6_stats *ipv6_stats(void)
{
    return &stats;
}

void ipv6_count_drop(void)
{
    stats.drops++;
}

void ipv6_count_echo(void)
{
    stats.echo_replies++;
}
