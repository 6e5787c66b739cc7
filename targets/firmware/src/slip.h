/* SLIP (RFC 1055) framing multiplexed with console text on one UART.
 *
 * Every frame, in both directions, is END, escaped bytes, END. Bytes outside a frame
 * are console text. The receiver: idle until END opens a frame; inside a frame an END
 * with nothing collected yet is ignored (the frame stays open), any other END closes
 * it. ESC ESC_END stands for END and ESC ESC_ESC for ESC; any other byte after ESC is a
 * framing error, and so is a frame longer than SLIP_MTU: the frame is dropped and
 * counted, and the receiver waits for the END that closes it. Frames are raw IPv6
 * packets; a frame whose first nibble is not 6 is dropped and counted too. */
#ifndef HILT_FW_SLIP_H
#define HILT_FW_SLIP_H

#include <stddef.h>
#include <stdint.h>

/* The IPv6 minimum link MTU (RFC 8200 §5): the largest packet either side sends. */
#define SLIP_MTU 1280u

enum slip_event {
    SLIP_NOTHING, /* the byte was framing, or part of a frame still open */
    SLIP_CONSOLE, /* the byte is console text */
    SLIP_FRAME,   /* a frame ended: slip_frame() holds it until the next byte */
};

enum slip_event slip_input(uint8_t byte);

/* The frame the last SLIP_FRAME completed. */
const uint8_t *slip_frame(size_t *len);

/* Sends one frame (END, escaped bytes, END). */
void slip_send(const uint8_t *packet, size_t len);

struct slip_stats {
    uint32_t frames_in;
    uint32_t frames_out;
    uint32_t drops; /* framing errors, oversize frames, frames that are not IPv6 */
};

const struct slip_stats *slip_stats(void);

#endif
