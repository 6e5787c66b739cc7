/* UART0, the device's only channel: console text and SLIP frames share it. Reception
 * is interrupt-driven into a ring buffer; while the ring is full the receive interrupt
 * is masked, so bytes wait in the UART's FIFO (and QEMU's UART holds the host back)
 * rather than being dropped. Transmission waits on the FIFO. */
#ifndef HILT_FW_UART_H
#define HILT_FW_UART_H

#include <stddef.h>
#include <stdint.h>

void uart_init(void);

/* The next received byte, or -1 when none is waiting. */
int uart_getc(void);

/* Whether received bytes are waiting (for the idle loop). */
int uart_rx_pending(void);

void uart_putc(uint8_t c);
void uart_write(const void *data, size_t len);
void uart_write_str(const char *s);

/* Bytes the UART lost to a full receive FIFO (its overrun flag); the ring buffer
 * itself never drops. */
uint32_t uart_rx_overruns(void);

void uart_irq_handler(void);

#endif
