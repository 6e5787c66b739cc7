/* ICMPv6 (RFC 4443): Echo, and RPL control messages handed to rpl.c. Other types
 * (neighbour discovery among them: SLIP needs none) are ignored quietly. */
#ifndef HILT_FW_ICMPV6_H
#define HILT_FW_ICMPV6_H

#include <stddef.h>

#include "ipv6.h"

#define ICMPV6_ECHO_REQUEST 128u
#define ICMPV6_ECHO_REPLY 129u
#define ICMPV6_RPL_CONTROL 155u

/* One ICMPv6 message (type, code, checksum, body). */
void icmpv6_input(const ipv6_addr *src, const ipv6_addr *dst, const uint8_t *msg, size_t len);

/* Sends an ICMPv6 message whose body (after type, code and checksum) the caller wrote
 * at icmpv6_tx_body(). */
uint8_t *icmpv6_tx_body(void);
void icmpv6_send(const ipv6_addr *dst, uint8_t type, uint8_t code, size_t body_len, uint8_t hop_limit);

#endif
