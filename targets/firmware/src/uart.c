#include "uart.h"

#include <string.h>

#include "board.h"

/* PL011-compatible UART0 of the LM3S6965. */
#define UART0_BASE 0x4000C000u
#define UART_DR REG32(UART0_BASE + 0x000)
#define UART_FR REG32(UART0_BASE + 0x018)
#define UART_IBRD REG32(UART0_BASE + 0x024)
#define UART_FBRD REG32(UART0_BASE + 0x028)
#define UART_LCRH REG32(UART0_BASE + 0x02C)
#define UART_CTL REG32(UART0_BASE + 0x030)
#define UART_IMSC REG32(UART0_BASE + 0x038)
#define UART_ICR REG32(UART0_BASE + 0x044)
#define DR_OE (1u << 11) /* a byte was lost: the receive FIFO was full */
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)
#define LCRH_FEN (1u << 4)
#define LCRH_WLEN_8 (3u << 5)
#define CTL_UARTEN (1u << 0)
#define CTL_TXE (1u << 8)
#define CTL_RXE (1u << 9)
#define INT_RX (1u << 4)
#define INT_RT (1u << 6)
#define UART0_IRQ 5u
#define NVIC_ISER0 REG32(0xE000E100)

#define BAUD 115200u

/* Big enough for a whole 1280-byte IPv6 packet, SLIP-escaped, to wait while the main
 * loop is busy with the previous one. A power of two: the indexes wrap by masking. */
#define RX_RING_SIZE 4096u

static uint8_t rx_ring[RX_RING_SIZE];
static volatile uint32_t rx_head; /* written by the interrupt */
static volatile uint32_t rx_tail; /* written by the main loop */
static volatile uint32_t rx_overruns; /* bytes the UART lost (its FIFO was full) */

void uart_init(void)
{
    UART_CTL = 0;
    /* Divisor = UARTCLK / (16 × baud), its fraction in 64ths, rounded. */
    uint32_t div64 = (BOARD_CPU_HZ * 4u + BAUD / 2u) / BAUD;
    UART_IBRD = div64 / 64u;
    UART_FBRD = div64 % 64u;
    UART_LCRH = LCRH_WLEN_8 | LCRH_FEN;
    UART_IMSC = INT_RX | INT_RT;
    UART_CTL = CTL_UARTEN | CTL_TXE | CTL_RXE;
    NVIC_ISER0 = 1u << UART0_IRQ;
}

/* Receive interrupts are masked while the ring is full, so bytes wait in the UART's
 * FIFO instead of being dropped; uart_getc unmasks them once this much room is free. */
#define RX_RESUME_ROOM 64u

static volatile uint32_t rx_held; /* receive interrupts masked: the ring was full */

/* Moves bytes from the receive FIFO into the ring; false when the ring filled up
 * first (the rest stays in the FIFO). */
static int drain_fifo(void)
{
    while (!(UART_FR & FR_RXFE)) {
        uint32_t head = rx_head;
        if (head - rx_tail == RX_RING_SIZE) {
            return 0;
        }
        uint32_t data = UART_DR;
        if (data & DR_OE) {
            rx_overruns++;
        }
        rx_ring[head % RX_RING_SIZE] = (uint8_t)data;
        rx_head = head + 1;
    }
    return 1;
}

void uart_irq_handler(void)
{
    /* Cleared before draining: a byte arriving while the FIFO is read is either read
     * below or raises the interrupt again, never lost between the two. */
    UART_ICR = INT_RX | INT_RT;
    if (!drain_fifo()) {
        /* Full: leave the rest in the FIFO. An emulated UART (QEMU) stops taking
         * bytes from the host while its FIFO is full, so nothing is lost; a real one
         * overruns its FIFO, which its overrun flag counts. */
        UART_IMSC = 0;
        rx_held = 1;
    }
}

int uart_getc(void)
{
    uint32_t tail = rx_tail;
    if (tail == rx_head) {
        return -1;
    }
    int c = rx_ring[tail % RX_RING_SIZE];
    rx_tail = tail + 1;
    if (rx_held && RX_RING_SIZE - (rx_head - rx_tail) >= RX_RESUME_ROOM) {
        /* The interrupt is masked, so the handler cannot run here. The FIFO is read
         * before unmasking: an interrupt already cleared would not come again for
         * the bytes waiting there (QEMU raises it when the FIFO stops being empty). */
        if (drain_fifo()) {
            rx_held = 0;
            UART_IMSC = INT_RX | INT_RT;
        }
    }
    return c;
}

int uart_rx_pending(void)
{
    return rx_tail != rx_head;
}

void uart_putc(uint8_t c)
{
    while (UART_FR & FR_TXFF) {
    }
    UART_DR = c;
}

void uart_write(const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        uart_putc(p[i]);
    }
}

void uart_write_str(const char *s)
{
    uart_write(s, strlen(s));
}

uint32_t uart_rx_overruns(void)
{
    return rx_overruns;
}
