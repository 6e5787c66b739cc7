/* An RPL leaf (RFC 6550 §8.5) in a Non-Storing DODAG (MOP 1), ranked by OF0 (RFC 6552).
 *
 * While alone it multicasts a DIS every RPL_DIS_INTERVAL_MS. It joins on the first
 * usable DIO, takes its global address from the Prefix Information option (A flag,
 * /64), and registers that address with a DAO to the DODAG root (K flag, RPL Target,
 * Transit Information naming the root as parent), sent again every
 * RPL_DAO_ACK_TIMEOUT_MS without a DAO-ACK, RPL_DAO_RETRIES times at most; a DAO that
 * got no DAO-ACK is sent anew on the parent's next DIO. A new DODAG Version or DTSN
 * from the parent asks for a new DAO. As a leaf it never multicasts DIOs; it answers
 * a unicast DIS with a unicast DIO advertising INFINITE_RANK. Malformed messages are
 * dropped and counted; unknown options are skipped by their length. */
#ifndef HILT_FW_RPL_H
#define HILT_FW_RPL_H

#include <stddef.h>
#include <stdint.h>

#include "ipv6.h"

#define RPL_DIS_INTERVAL_MS 5000u
#define RPL_DAO_ACK_TIMEOUT_MS 2000u
#define RPL_DAO_RETRIES 4u
#define RPL_INFINITE_RANK 0xffffu

struct rpl_status {
    int joined;
    uint8_t instance_id;
    uint8_t version;
    uint8_t dtsn; /* the parent's, as last heard */
    uint16_t rank;
    ipv6_addr parent; /* link-local */
    ipv6_addr dodag_id;
};

struct rpl_stats {
    uint32_t dis_sent;
    uint32_t dio_in;
    uint32_t dio_sent;
    uint32_t dao_sent; /* retransmissions included */
    uint32_t dao_acks;
    uint32_t dao_failed; /* DAOs that got no DAO-ACK, or a rejecting one */
    uint32_t drops;      /* malformed RPL messages */
};

void rpl_init(void);

/* An RPL control message: `code`, and the body after the ICMPv6 header. */
void rpl_input(const ipv6_addr *src, const ipv6_addr *dst, uint8_t code, const uint8_t *body, size_t len);

/* Runs the timers: DIS while alone, DAO retransmission and refresh. */
void rpl_poll(uint32_t now);

const struct rpl_status *rpl_status(void);
const struct rpl_stats *rpl_stats(void);

#endif
