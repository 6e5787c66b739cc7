#include "board.h"

/* System control (LM3S6965 datasheet §6): run-mode clock gating. */
#define SYSCTL_RCGC1 REG32(0x400FE104)
#define SYSCTL_RCGC2 REG32(0x400FE108)
#define SYSCTL_RIS REG32(0x400FE050)
#define SYSCTL_MISC REG32(0x400FE058)
#define SYSCTL_RCC REG32(0x400FE060)
#define RIS_PLLLRIS (1u << 6)
#define RCC_SYSDIV_MASK (0xFu << 23)
#define RCC_SYSDIV_4 (3u << 23) /* 200 MHz / 4 */
#define RCC_USESYSDIV (1u << 22)
#define RCC_PWRDN (1u << 13)
#define RCC_BYPASS (1u << 11)
#define RCC_XTAL_MASK (0xFu << 6)
#define RCC_XTAL_8MHZ (0xEu << 6)
#define RCC_OSCSRC_MASK (0x3u << 4)
#define RCC_MOSCDIS (1u << 0)
/* How long to wait for the PLL to lock before running on without it. */
#define PLL_LOCK_SPINS 100000u
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

/* 50 MHz from the PLL (LM3S6965 datasheet §6.3, "PLL frequency configuration"). */
static void clock_tree_init(void)
{
    uint32_t rcc = SYSCTL_RCC;
    rcc |= RCC_BYPASS;
    rcc &= ~RCC_USESYSDIV;
    SYSCTL_RCC = rcc;
    rcc &= ~(RCC_XTAL_MASK | RCC_OSCSRC_MASK | RCC_PWRDN | RCC_MOSCDIS);
    rcc |= RCC_XTAL_8MHZ;
    SYSCTL_MISC = RIS_PLLLRIS; /* clear a stale lock: wait for a fresh one */
    SYSCTL_RCC = rcc;
    rcc = (rcc & ~RCC_SYSDIV_MASK) | RCC_SYSDIV_4 | RCC_USESYSDIV;
    SYSCTL_RCC = rcc;
    for (uint32_t spins = 0; spins < PLL_LOCK_SPINS && !(SYSCTL_RIS & RIS_PLLLRIS); spins++) {
    }
    SYSCTL_RCC = rcc & ~RCC_BYPASS;
}

void board_init(void)
{
    clock_tree_init();
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
