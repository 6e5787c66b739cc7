#include "rpl.h"

#include <string.h>

#include "clock.h"
#include "console.h"
#include "icmpv6.h"

/* RPL control message codes (RFC 6550 §6). */
#define CODE_DIS 0x00u
#define CODE_DIO 0x01u
#define CODE_DAO 0x02u
#define CODE_DAO_ACK 0x03u

/* Option types (RFC 6550 §6.7). */
#define OPT_PAD1 0u
#define OPT_PADN 1u
#define PADN_MAX_LEN 5u /* RFC 6550 §6.7.3: N - 2 octets of padding, N at most 7 */
#define OPT_DODAG_CONFIG 4u
#define OPT_TARGET 5u
#define OPT_TRANSIT 6u
#define OPT_SOLICITED 7u
#define OPT_PREFIX 8u

#define DODAG_CONFIG_LEN 14u
#define SOLICITED_LEN 19u
#define PREFIX_LEN 30u

#define DIO_BASE_LEN 24u
#define MOP_NON_STORING 1u
#define DIO_MOP(flags) (((flags) >> 3) & 0x7u)
#define DAO_K 0x80u
#define DAO_D 0x40u
#define PIO_A 0x40u

/* RFC 6550 §17 and RFC 6552 §6.3 defaults. */
#define DEFAULT_MIN_HOP_RANK_INCREASE 256u
#define DEFAULT_STEP_OF_RANK 3u
#define INFINITE_LIFETIME 0xffu
#define SEQUENCE_WINDOW 16u
#define SEQUENCE_INITIAL 240u /* 256 - SEQUENCE_WINDOW */

struct dodag_config {
    uint8_t raw[DODAG_CONFIG_LEN]; /* as received, for the DIOs the leaf sends */
    uint16_t min_hop_rank_increase;
    uint8_t default_lifetime;
    uint16_t lifetime_unit;
};

static struct rpl_status status;
static struct rpl_stats stats;

static struct {
    uint8_t dio_flags; /* G, MOP, Prf of the DODAG's DIOs */
    uint16_t parent_rank;
    struct dodag_config config;
    int have_config;
    uint8_t own_dtsn;
    uint8_t dao_sequence;
    uint8_t path_sequence;
    uint32_t next_dis;
    /* The DAO waiting for its DAO-ACK. */
    int dao_pending;
    uint8_t dao_retries_left;
    uint32_t dao_deadline;
    /* A DAO is due on the parent's next DIO (the last one got no DAO-ACK). */
    int dao_on_next_dio;
    /* When the registered route needs a fresh DAO (0: never). */
    int refresh_scheduled;
    uint32_t refresh_at;
} leaf;

/* Lollipop counters (RFC 6550 §7.2): 128..255 is the straight part a (re)started
 * sender begins on, 0..127 the circular part. */
static uint8_t seq_next(uint8_t s)
{
    return s == 127 || s == 255 ? 0 : (uint8_t)(s + 1);
}

/* Whether `a` is newer than `b`; values too far apart to compare count as newer, so
 * a desynchronised counter triggers a refresh rather than being ignored. */
static int seq_newer(uint8_t a, uint8_t b)
{
    if (a > 127 && b > 127) {
        return a > b;
    }
    if (a > 127) {
        return 256u + b - a > SEQUENCE_WINDOW;
    }
    if (b > 127) {
        return 256u + a - b <= SEQUENCE_WINDOW;
    }
    unsigned d = (unsigned)(a - b) & 0x7fu;
    return d != 0 && (d <= SEQUENCE_WINDOW || 128u - d > SEQUENCE_WINDOW);
}

void rpl_init(void)
{
    memset(&status, 0, sizeof status);
    memset(&leaf, 0, sizeof leaf);
    status.rank = RPL_INFINITE_RANK;
    leaf.own_dtsn = SEQUENCE_INITIAL;
    leaf.dao_sequence = SEQUENCE_INITIAL;
    leaf.path_sequence = SEQUENCE_INITIAL;
    leaf.next_dis = clock_ms(); /* at once */
}

const struct rpl_status *rpl_status(void)
{
    return &status;
}

const struct rpl_stats *rpl_stats(void)
{
    return &stats;
}

static void send_dis(void)
{
    uint8_t *b = icmpv6_tx_body();
    b[0] = 0; /* flags */
    b[1] = 0; /* reserved */
    icmpv6_send(&ipv6_all_rpl_nodes, ICMPV6_RPL_CONTROL, CODE_DIS, 2, IPV6_HOP_LIMIT_LINK);
    stats.dis_sent++;
}

/* OF0 (RFC 6552 §4.1): R(N) = R(P) + (Rf·Sp + Sr)·MinHopRankIncrease with the default
 * factors (Rf 1, Sp 3, Sr 0), saturating at INFINITE_RANK. */
static uint16_t of0_rank(uint16_t parent_rank)
{
    uint32_t mhri = leaf.have_config ? leaf.config.min_hop_rank_increase : DEFAULT_MIN_HOP_RANK_INCREASE;
    uint32_t rank = parent_rank + DEFAULT_STEP_OF_RANK * mhri;
    return rank >= RPL_INFINITE_RANK ? RPL_INFINITE_RANK : (uint16_t)rank;
}

/* The DAO's bytes, kept for retransmission: a Hop-by-Hop header with the RPL Option
 * (RFC 6553), then the ICMPv6 message. */
#define HBH_LEN 8u
#define DAO_BODY_LEN (4u + 16u + (2u + 18u) + (2u + 20u))
static uint8_t dao_packet[HBH_LEN + 4u + DAO_BODY_LEN];

static void transmit_dao(void)
{
    const ipv6_addr *me = ipv6_global();
    if (!me) {
        return;
    }
    memcpy(ipv6_tx_payload(), dao_packet, sizeof dao_packet);
    ipv6_send(me, &status.dodag_id, IPV6_NH_HOP_BY_HOP, IPV6_HOP_LIMIT, sizeof dao_packet);
    stats.dao_sent++;
}

/* A new DAO (new DAO Sequence and Path Sequence) registering the global address with
 * the root, the root itself named as parent (it is the leaf's only parent). */
static void send_new_dao(uint32_t now)
{
    const ipv6_addr *me = ipv6_global();
    if (!status.joined || !me) {
        return;
    }
    leaf.dao_sequence = seq_next(leaf.dao_sequence);
    leaf.path_sequence = seq_next(leaf.path_sequence);
    uint8_t lifetime = leaf.have_config ? leaf.config.default_lifetime : INFINITE_LIFETIME;

    uint8_t *p = dao_packet;
    p[0] = IPV6_NH_ICMPV6;
    p[1] = 0; /* 8 bytes */
    p[2] = 0x63; /* RPL Option */
    p[3] = 4;
    p[4] = 0; /* O, R, F clear: going up, no rank error, no forwarding error */
    p[5] = status.instance_id;
    put16(p + 6, status.rank);
    p += HBH_LEN;
    p[0] = ICMPV6_RPL_CONTROL;
    p[1] = CODE_DAO;
    p[2] = p[3] = 0; /* checksum, filled in by ipv6_send */
    p += 4;
    p[0] = status.instance_id;
    p[1] = DAO_K | DAO_D;
    p[2] = 0;
    p[3] = leaf.dao_sequence;
    memcpy(p + 4, status.dodag_id.b, 16);
    p += 20;
    p[0] = OPT_TARGET;
    p[1] = 18;
    p[2] = 0;   /* flags */
    p[3] = 128; /* prefix length: the address itself */
    memcpy(p + 4, me->b, 16);
    p += 20;
    p[0] = OPT_TRANSIT;
    p[1] = 20;
    p[2] = 0; /* E clear: the target is the leaf itself */
    p[3] = 0; /* path control */
    p[4] = leaf.path_sequence;
    p[5] = lifetime;
    memcpy(p + 6, status.dodag_id.b, 16);

    leaf.dao_pending = 1;
    leaf.dao_retries_left = RPL_DAO_RETRIES;
    leaf.dao_deadline = now + RPL_DAO_ACK_TIMEOUT_MS;
    leaf.dao_on_next_dio = 0;
    leaf.refresh_scheduled = 0;
    transmit_dao();
}

static void detach(const char *why)
{
    status.joined = 0;
    status.rank = RPL_INFINITE_RANK;
    leaf.dao_pending = 0;
    leaf.refresh_scheduled = 0;
    leaf.next_dis = clock_ms();
    console_log("rpl detached %s", why);
}

struct dio {
    uint8_t instance_id, version, flags, dtsn;
    uint16_t rank;
    ipv6_addr dodag_id;
    int have_config;
    struct dodag_config config;
    int have_prefix;
    uint8_t prefix[8];
};

/* Parses a DIO's base and options; 0 when malformed (RFC 6550 §6.3.1, §6.7). */
static int parse_dio(const uint8_t *b, size_t len, struct dio *d)
{
    if (len < DIO_BASE_LEN) {
        return 0;
    }
    memset(d, 0, sizeof *d);
    d->instance_id = b[0];
    d->version = b[1];
    d->rank = get16(b + 2);
    d->flags = b[4];
    d->dtsn = b[5];
    memcpy(d->dodag_id.b, b + 8, 16);
    for (size_t i = DIO_BASE_LEN; i < len;) {
        if (b[i] == OPT_PAD1) {
            i++;
            continue;
        }
        if (i + 2 > len || i + 2 + b[i + 1] > len) {
            return 0;
        }
        const uint8_t *o = b + i + 2;
        uint8_t olen = b[i + 1];
        if (b[i] == OPT_PADN && olen > PADN_MAX_LEN) {
            return 0;
        }
        if (b[i] == OPT_DODAG_CONFIG) {
            if (olen != DODAG_CONFIG_LEN || get16(o + 6) == 0) {
                return 0; /* wrong length, or MinHopRankIncrease 0 */
            }
            d->have_config = 1;
            memcpy(d->config.raw, o, DODAG_CONFIG_LEN);
            d->config.min_hop_rank_increase = get16(o + 6);
            d->config.default_lifetime = o[11];
            d->config.lifetime_unit = get16(o + 12);
        } else if (b[i] == OPT_PREFIX) {
            if (olen != PREFIX_LEN || o[0] > 128) {
                return 0;
            }
            /* Autonomous configuration needs the A flag and a /64. */
            if ((o[1] & PIO_A) && o[0] == 64) {
                d->have_prefix = 1;
                memcpy(d->prefix, o + 14, 8);
            }
        }
        i += 2u + olen;
    }
    return 1;
}

static void adopt(const ipv6_addr *from, const struct dio *d)
{
    status.instance_id = d->instance_id;
    status.dodag_id = d->dodag_id;
    status.version = d->version;
    status.dtsn = d->dtsn;
    status.parent = *from;
    leaf.dio_flags = d->flags;
    leaf.parent_rank = d->rank;
    if (d->have_config) {
        leaf.config = d->config;
        leaf.have_config = 1;
    }
    if (d->have_prefix) {
        ipv6_set_prefix(d->prefix);
    }
    status.rank = of0_rank(d->rank);
}

static void on_dio(const ipv6_addr *src, const uint8_t *body, size_t len)
{
    struct dio d;
    if (!parse_dio(body, len, &d)) {
        stats.drops++;
        return;
    }
    stats.dio_in++;
    uint32_t now = clock_ms();
    if (DIO_MOP(d.flags) != MOP_NON_STORING) {
        return; /* this leaf speaks Non-Storing mode only */
    }
    /* ROOT_RANK is MinHopRankIncrease (RFC 6550 §8.2.2.2, §17): no member of a DODAG
     * advertises less, so such a DIO is not followed. */
    uint16_t mhri = d.have_config ? d.config.min_hop_rank_increase : DEFAULT_MIN_HOP_RANK_INCREASE;
    if (d.rank < mhri) {
        stats.drops++;
        return;
    }
    if (!status.joined) {
        if (d.rank == RPL_INFINITE_RANK) {
            return;
        }
        leaf.have_config = 0;
        adopt(src, &d);
        status.joined = 1;
        console_log("rpl joined dodag=%I rank=%u parent=%I", status.dodag_id.b, (unsigned)status.rank,
                    status.parent.b);
        send_new_dao(now);
        return;
    }
    if (d.instance_id != status.instance_id || !ipv6_addr_equal(&d.dodag_id, &status.dodag_id)) {
        return; /* another DODAG: the leaf keeps the one it has */
    }
    int from_parent = ipv6_addr_equal(src, &status.parent);
    int new_version = seq_newer(d.version, status.version);
    if (!from_parent && !new_version) {
        return;
    }
    if (d.rank == RPL_INFINITE_RANK) {
        if (from_parent) {
            detach("parent advertises INFINITE_RANK");
        }
        return;
    }
    int new_dtsn = from_parent && seq_newer(d.dtsn, status.dtsn);
    const ipv6_addr *old_global = ipv6_global();
    uint8_t old_prefix[8] = {0};
    if (old_global) {
        memcpy(old_prefix, old_global->b, 8);
    }
    adopt(src, &d);
    int new_address = d.have_prefix && (!old_global || memcmp(old_prefix, d.prefix, 8));
    if (new_version) {
        console_log("rpl version=%u rank=%u", (unsigned)status.version, (unsigned)status.rank);
    }
    if (new_version || new_dtsn || new_address || leaf.dao_on_next_dio) {
        send_new_dao(now);
    }
}

/* Whether a DIS's Solicited Information option (if any) selects this DODAG. */
static int dis_selects_us(const uint8_t *b, size_t len)
{
    for (size_t i = 2; i < len;) {
        if (b[i] == OPT_PAD1) {
            i++;
            continue;
        }
        if (i + 2 > len || i + 2 + b[i + 1] > len) {
            return -1;
        }
        const uint8_t *o = b + i + 2;
        if (b[i] == OPT_PADN && b[i + 1] > PADN_MAX_LEN) {
            return -1;
        }
        if (b[i] == OPT_SOLICITED) {
            if (b[i + 1] != SOLICITED_LEN) {
                return -1;
            }
            if ((o[1] & 0x80u) && o[18] != status.version) {
                return 0;
            }
            if ((o[1] & 0x40u) && o[0] != status.instance_id) {
                return 0;
            }
            if ((o[1] & 0x20u) && memcmp(o + 2, status.dodag_id.b, 16)) {
                return 0;
            }
        }
        i += 2u + b[i + 1];
    }
    return 1;
}

/* A leaf answers a unicast DIS with a unicast DIO advertising INFINITE_RANK (RFC 6550
 * §8.5), with the DODAG Configuration it learnt. */
static void on_dis(const ipv6_addr *src, const ipv6_addr *dst, const uint8_t *body, size_t len)
{
    if (len < 2) {
        stats.drops++;
        return;
    }
    int selects = dis_selects_us(body, len);
    if (selects < 0) {
        stats.drops++;
        return;
    }
    if (ipv6_is_multicast(dst) || !status.joined || !selects) {
        return;
    }
    uint8_t *b = icmpv6_tx_body();
    b[0] = status.instance_id;
    b[1] = status.version;
    put16(b + 2, RPL_INFINITE_RANK);
    b[4] = leaf.dio_flags;
    b[5] = leaf.own_dtsn;
    b[6] = 0;
    b[7] = 0;
    memcpy(b + 8, status.dodag_id.b, 16);
    size_t len_out = DIO_BASE_LEN;
    if (leaf.have_config) {
        b[len_out] = OPT_DODAG_CONFIG;
        b[len_out + 1] = DODAG_CONFIG_LEN;
        memcpy(b + len_out + 2, leaf.config.raw, DODAG_CONFIG_LEN);
        len_out += 2 + DODAG_CONFIG_LEN;
    }
    icmpv6_send(src, ICMPV6_RPL_CONTROL, CODE_DIO, len_out, IPV6_HOP_LIMIT_LINK);
    stats.dio_sent++;
}

static void schedule_refresh(uint32_t now)
{
    if (!leaf.have_config || leaf.config.default_lifetime == INFINITE_LIFETIME) {
        return;
    }
    uint32_t lifetime_s = (uint32_t)leaf.config.default_lifetime * leaf.config.lifetime_unit;
    /* Refresh at three quarters of the lifetime; longer than clock_due() can time
     * (24 days) is as good as never. */
    if (lifetime_s == 0 || lifetime_s > 24u * 86400u) {
        return;
    }
    leaf.refresh_scheduled = 1;
    leaf.refresh_at = now + lifetime_s * 750u;
}

static void on_dao_ack(const uint8_t *b, size_t len)
{
    if (len < 4 || ((b[1] & 0x80u) && len < 20)) {
        stats.drops++;
        return;
    }
    if (!leaf.dao_pending || b[0] != status.instance_id || b[2] != leaf.dao_sequence) {
        return;
    }
    leaf.dao_pending = 0;
    stats.dao_acks++;
    uint8_t st = b[3];
    console_log("rpl dao-ack seq=%u status=%u", (unsigned)b[2], (unsigned)st);
    if (st >= 128) {
        /* Rejected (RFC 6550 §6.5): try again on the parent's next DIO. */
        stats.dao_failed++;
        leaf.dao_on_next_dio = 1;
        return;
    }
    schedule_refresh(clock_ms());
}

void rpl_input(const ipv6_addr *src, const ipv6_addr *dst, uint8_t code, const uint8_t *body, size_t len)
{
    switch (code) {
    case CODE_DIS:
        on_dis(src, dst, body, len);
        break;
    case CODE_DIO:
        on_dio(src, body, len);
        break;
    case CODE_DAO_ACK:
        on_dao_ack(body, len);
        break;
    default:
        /* DAOs are for routers, secure variants and unknown codes for nobody here. */
        break;
    }
}

void rpl_poll(uint32_t now)
{
    if (!status.joined && clock_due(now, leaf.next_dis)) {
        send_dis();
        leaf.next_dis = now + RPL_DIS_INTERVAL_MS;
    }
    if (leaf.dao_pending && clock_due(now, leaf.dao_deadline)) {
        if (leaf.dao_retries_left) {
            leaf.dao_retries_left--;
            leaf.dao_deadline = now + RPL_DAO_ACK_TIMEOUT_MS;
            transmit_dao();
        } else {
            leaf.dao_pending = 0;
            leaf.dao_on_next_dio = 1;
            stats.dao_failed++;
            console_log("rpl dao failed seq=%u", (unsigned)leaf.dao_sequence);
        }
    }
    if (status.joined && leaf.refresh_scheduled && clock_due(now, leaf.refresh_at)) {
        send_new_dao(now);
    }
}
