/* UDP (RFC 768) over IPv6: checksums checked (a zero checksum is an error in IPv6),
 * CoAP's port dispatched to coap.c. */
#ifndef HILT_FW_UDP_H
#define HILT_FW_UDP_H

#include <stddef.h>

#include "ipv6.h"

#define UDP_HEADER_LEN 8u
#define UDP_MAX_PAYLOAD (IPV6_MAX_PAYLOAD - UDP_HEADER_LEN)

void udp_input(const ipv6_addr *src, const ipv6_addr *dst, const uint8_t *datagram, size_t len);

/* Where the payload of the next datagram is written (UDP_MAX_PAYLOAD bytes). */
uint8_t *udp_tx_payload(void);
void udp_send(const ipv6_addr *src, const ipv6_addr *dst, uint16_t src_port, uint16_t dst_port,
              size_t payload_len);

#endif
