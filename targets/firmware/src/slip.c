#include "slip.h"

#include "uart.h"

#define END 0xC0u
#define ESC 0xDBu
#define ESC_END 0xDCu
#define ESC_ESC 0xDDu

enum rx_state {
    RX_IDLE,    /* outside a frame: bytes are console text */
    RX_FRAME,   /* collecting a frame */
    RX_ESCAPED, /* in a frame, after ESC */
    RX_DISCARD, /* in a frame already dropped: waiting for its END */
};

static enum rx_state state = RX_IDLE;
static uint8_t frame[SLIP_MTU];
static size_t frame_len;
static struct slip_stats stats;

static enum slip_event drop(void)
{
    stats.drops++;
    state = RX_DISCARD;
    return SLIP_NOTHING;
}

static enum slip_event collect(uint8_t byte)
{
    if (frame_len == sizeof frame) {
        return drop();
    }
    frame[frame_len++] = byte;
    state = RX_FRAME;
    return SLIP_NOTHING;
}

enum slip_event slip_input(uint8_t byte)
{
    switch (state) {
    case RX_IDLE:
        if (byte != END) {
            return SLIP_CONSOLE;
        }
        frame_len = 0;
        state = RX_FRAME;
        return SLIP_NOTHING;
    case RX_FRAME:
        if (byte == ESC) {
            state = RX_ESCAPED;
            return SLIP_NOTHING;
        }
        if (byte != END) {
            return collect(byte);
        }
        if (frame_len == 0) {
            return SLIP_NOTHING; /* END END: an empty frame, the line stays in it */
        }
        state = RX_IDLE;
        if (frame[0] >> 4 != 6) {
            stats.drops++;
            return SLIP_NOTHING;
        }
        stats.frames_in++;
        return SLIP_FRAME;
    case RX_ESCAPED:
        if (byte == ESC_END) {
            return collect(END);
        }
        if (byte == ESC_ESC) {
            return collect(ESC);
        }
        /* An END here ends the broken frame too; anything else leaves it open. */
        stats.drops++;
        state = byte == END ? RX_IDLE : RX_DISCARD;
        return SLIP_NOTHING;
    case RX_DISCARD:
        if (byte == END) {
            state = RX_IDLE;
        }
        return SLIP_NOTHING;
    }
    return SLIP_NOTHING;
}

const uint8_t *slip_frame(size_t *len)
{
    *len = frame_len;
    return frame;
}

void slip_send(const uint8_t *packet, size_t len)
{
    uart_putc(END);
    for (size_t i = 0; i < len; i++) {
        uint8_t b = packet[i];
        if (b == END) {
            uart_putc(ESC);
            uart_putc(ESC_END);
        } else if (b == ESC) {
            uart_putc(ESC);
            uart_putc(ESC_ESC);
        } else {
            uart_putc(b);
        }
    }
    uart_putc(END);
    stats.frames_out++;
}

const struct slip_stats *slip_stats(void)
{
    return &stats;
}
