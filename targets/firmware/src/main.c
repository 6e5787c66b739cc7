/* hilt-fw: the reference device firmware hilt tests in CI and vendors follow for their
 * own boards. One UART carries the console and SLIP-framed IPv6; the device is an RPL
 * leaf and a CoAP server. Everything runs from this loop: no RTOS, no allocation, the
 * UART's receive interrupt and SysTick the only concurrency. */
#include "board.h"
#include "clock.h"
#include "coap.h"
#include "ipv6.h"
#include "rpl.h"
#include "shell.h"
#include "slip.h"
#include "uart.h"

static int work_pending(void)
{
    return uart_rx_pending();
}

int main(void)
{
    board_init();
    clock_init();
    uart_init();
    ipv6_init();
    rpl_init();
    coap_init();
    shell_banner();
    for (;;) {
        int c;
        while ((c = uart_getc()) >= 0) {
            size_t len;
            switch (slip_input((uint8_t)c)) {
            case SLIP_CONSOLE:
                shell_input((uint8_t)c);
                break;
            case SLIP_FRAME: {
                const uint8_t *frame = slip_frame(&len);
                ipv6_input(frame, len);
                break;
            }
            case SLIP_NOTHING:
                break;
            }
        }
        uint32_t now = clock_ms();
        rpl_poll(now);
        coap_poll(now);
        /* A timer wakes the loop every millisecond, which runs the timers above. */
        board_idle(work_pending);
    }
}
