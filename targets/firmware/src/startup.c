/* Reset and exception entry: the vector table, .data copied from flash, .bss zeroed,
 * then main(). No C library start-up code runs (the build links with -nostartfiles). */
#include <stdint.h>

#include "clock.h"
#include "uart.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

int main(void);
void reset_handler(void);

void reset_handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    main();
    for (;;) {
    }
}

/* A fault is a firmware bug: say so on the console, where the rig's log keeps it, and
 * reset, so the device comes back instead of hanging the test run. */
static void fault_handler(void)
{
    uart_write_str("\r\npanic fault\r\n");
    /* SCB AIRCR: VECTKEY | SYSRESETREQ. */
    *(volatile uint32_t *)0xE000ED0Cu = (0x05FAu << 16) | (1u << 2);
    for (;;) {
    }
}

static void unused_handler(void)
{
    for (;;) {
    }
}

typedef void (*vector_t)(void);

/* Cortex-M3 core exceptions, then the LM3S6965's interrupts up to Timer 0A (IRQ 19). */
__attribute__((section(".vectors"), used)) static const vector_t vectors[16 + 20] = {
    (vector_t)(uintptr_t)&_estack,
    reset_handler,
    unused_handler, /* NMI */
    fault_handler,  /* HardFault */
    fault_handler,  /* MemManage */
    fault_handler,  /* BusFault */
    fault_handler,  /* UsageFault */
    0,
    0,
    0,
    0,
    unused_handler, /* SVCall */
    unused_handler, /* DebugMonitor */
    0,
    unused_handler, /* PendSV */
    clock_systick_handler,
    unused_handler, /* IRQ 0: GPIO A */
    unused_handler, /* IRQ 1: GPIO B */
    unused_handler, /* IRQ 2: GPIO C */
    unused_handler, /* IRQ 3: GPIO D */
    unused_handler, /* IRQ 4: GPIO E */
    uart_irq_handler, /* IRQ 5: UART0 */
    unused_handler, /* IRQ 6: UART1 */
    unused_handler, /* IRQ 7: SSI0 */
    unused_handler, /* IRQ 8: I2C0 */
    unused_handler, /* IRQ 9: PWM fault */
    unused_handler, /* IRQ 10: PWM generator 0 */
    unused_handler, /* IRQ 11: PWM generator 1 */
    unused_handler, /* IRQ 12: PWM generator 2 */
    unused_handler, /* IRQ 13: QEI0 */
    unused_handler, /* IRQ 14: ADC sequence 0 */
    unused_handler, /* IRQ 15: ADC sequence 1 */
    unused_handler, /* IRQ 16: ADC sequence 2 */
    unused_handler, /* IRQ 17: ADC sequence 3 */
    unused_handler, /* IRQ 18: watchdog */
    clock_wake_handler, /* IRQ 19: Timer 0A */
};
