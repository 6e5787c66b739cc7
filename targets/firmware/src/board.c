#include "board.h"

/* System control (LM3S6965 datasheet §6): run-mode clock gating. */
#define SYSCTL_RCGC1 REG32(0x400FE104)
#define SYSCTL_RCGC2 REG32(0x400FE108)
#define RCGC1_UART0 (1u << 0)
#define RCGC2_GPIOA (1u << 0)

/* GPIO port A: PA0 is U0Rx, PA1 is U0Tx when their alternate function is selected. */
#define GPIOA_AFSEL REG32(0x40004420)
#define GPIOA_DEN REG32(0x4000451C)
#define PA0_PA1 0x3u

/* Cortex-M3 System Control Block: Application Interrupt and Reset Control. */
#define SCB_AIRCR REG32(0xE000ED0C)
#define AIRCR_VECTKEY (0x05FAu << 16)
#define AIRCR_SYSRESETREQ (1u << 2)

void board_init(void)
{
    SYSCTL_RCGC1 |= RCGC1_UART0;
    SYSCTL_RCGC2 |= RCGC2_GPIOA;
    /* The datasheet asks for a few cycles before a newly clocked peripheral is used. */
    (void)SYSCTL_RCGC2;
    GPIOA_AFSEL |= PA0_PA1;
    GPIOA_DEN |= PA0_PA1;
}

void board_reset(void)
{
    __asm volatile("dsb" ::: "memory");
    SCB_AIRCR = AIRCR_VECTKEY | AIRCR_SYSRESETREQ;
    __asm volatile("dsb" ::: "memory");
    for (;;) {
    }
}

void board_idle(int (*work_pending)(void))
{
    __asm volatile("cpsid i" ::: "memory");
    if (!work_pending()) {
        /* WFI wakes on a pending interrupt even while PRIMASK masks it. */
        __asm volatile("wfi" ::: "memory");
    }
    __asm volatile("cpsie i" ::: "memory");
}
