#include "udp.h"

#include "coap.h"


uint8_t *udp_tx_payload(void)
{
    return ipv6_tx_payload() + UDP_HEADER_LEN;
}

void udp_send(const ipv6_addr *src, const ipv6_addr *dst, uint16_t src_port, uint16_t dst_port,
              size_t payload_len)
{
    uint8_t *h = ipv6_tx_payload();
    put16(h, src_port);
    put16(h + 2, dst_port);
    put16(h + 4, (uint16_t)(UDP_HEADER_LEN + payload_len));
    ipv6_send(src, dst, IPV6_NH_UDP, IPV6_HOP_LIMIT, UDP_HEADER_LEN + payload_len);
}

void udp_input(const ipv6_addr *src, const ipv6_addr *dst, const uint8_t *datagram, size_t len)
{
    if (len < UDP_HEADER_LEN) {
        ipv6_count_drop();
        return;
    }
    size_t udp_len = get16(datagram + 4);
    if (udp_len < UDP_HEADER_LEN || udp_len > len || get16(datagram + 6) == 0 ||
        ipv6_checksum(src, dst, IPV6_NH_UDP, datagram, udp_len) != 0) {
        ipv6_count_drop();
        return;
    }
    uint16_t src_port = get16(datagram);
    uint16_t dst_port = get16(datagram + 2);
    if (dst_port == COAP_PORT && !ipv6_is_multicast(dst)) {
        coap_input(src, src_port, dst, datagram + UDP_HEADER_LEN, udp_len - UDP_HEADER_LEN);
    } else {
        ipv6_count_drop(); /* no other service listens */
    }
}
