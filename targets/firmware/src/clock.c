#include "clock.h"

#include "board.h"

/* Time comes from SysTick's counter, not from counting its interrupts: an emulator
 * (or a debugger halting the core) can deliver one interrupt for several periods, and
 * a clock made of interrupts would fall behind. SysTick counts down from RELOAD at the
 * core clock and interrupts once per wrap (every 1.4 s at 12 MHz); the interrupt adds
 * a period, and a read adds what the counter has run since.
 *
 * The main loop's wake-ups come from General-Purpose Timer 0, every millisecond: a
 * late or merged wake-up only delays a timer, it never skews the clock. */

#define SYST_CSR REG32(0xE000E010)
#define SYST_RVR REG32(0xE000E014)
#define SYST_CVR REG32(0xE000E018)
#define CSR_ENABLE (1u << 0)
#define CSR_TICKINT (1u << 1)
#define CSR_CLKSOURCE_CPU (1u << 2)
#define SCB_ICSR REG32(0xE000ED04)
#define ICSR_PENDSTSET (1u << 26)
#define ICSR_PENDSTCLR (1u << 25)
#define RELOAD 0xFFFFFFu
#define PERIOD (RELOAD + 1u)
#define CYCLES_PER_MS (BOARD_CPU_HZ / 1000u)

/* General-Purpose Timer 0 (LM3S6965 datasheet §9), 32-bit periodic. */
#define GPTM0_BASE 0x40030000u
#define GPTM_CFG REG32(GPTM0_BASE + 0x000)
#define GPTM_TAMR REG32(GPTM0_BASE + 0x004)
#define GPTM_CTL REG32(GPTM0_BASE + 0x00C)
#define GPTM_IMR REG32(GPTM0_BASE + 0x018)
#define GPTM_ICR REG32(GPTM0_BASE + 0x024)
#define GPTM_TAILR REG32(GPTM0_BASE + 0x028)
#define TAMR_PERIODIC 0x2u
#define CTL_TAEN (1u << 0)
#define TATO (1u << 0)
#define SYSCTL_RCGC1 REG32(0x400FE104)
#define RCGC1_TIMER0 (1u << 16)
#define TIMER0A_IRQ 19u
#define NVIC_ISER0 REG32(0xE000E100)

static volatile uint64_t wrapped_cycles;

/* Starts SysTick and checks that it counts. Seen with QEMU 7.2 right after the clock
 * tree changed: the counter stays at 0 (QEMU prints "Timer with period zero,
 * disabling") and may leave a SysTick interrupt pending; starting it again works. On
 * the chip the first attempt does. Once it counts, no period has passed yet: whatever
 * the failed attempts left pending is cleared, so the clock starts at 0. */
static void systick_start(void)
{
    __asm volatile("cpsid i" ::: "memory");
    for (unsigned attempt = 0; attempt < 1000; attempt++) {
        SYST_CSR = 0;
        SYST_RVR = RELOAD;
        SYST_CVR = 0;
        SYST_CSR = CSR_CLKSOURCE_CPU | CSR_TICKINT | CSR_ENABLE;
        unsigned spin = 0;
        while (SYST_CVR == 0 && spin < 10000) {
            spin++;
        }
        if (spin < 10000) {
            break;
        }
    }
    SCB_ICSR = ICSR_PENDSTCLR;
    wrapped_cycles = 0;
    __asm volatile("cpsie i" ::: "memory");
}

void clock_init(void)
{
    systick_start();

    SYSCTL_RCGC1 |= RCGC1_TIMER0;
    (void)SYSCTL_RCGC1;
    GPTM_CTL = 0;
    GPTM_CFG = 0;
    GPTM_TAMR = TAMR_PERIODIC;
    GPTM_TAILR = CYCLES_PER_MS - 1u;
    GPTM_IMR = TATO;
    GPTM_CTL = CTL_TAEN;
    NVIC_ISER0 = 1u << TIMER0A_IRQ;
}

uint32_t clock_ms(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    uint64_t base = wrapped_cycles;
    uint32_t count = SYST_CVR;
    /* Wrapped since the interrupt last ran: count the period here, from a count read
     * after the wrap. */
    if (SCB_ICSR & ICSR_PENDSTSET) {
        count = SYST_CVR;
        base += PERIOD;
    }
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
    return (uint32_t)((base + (RELOAD - count)) / CYCLES_PER_MS);
}

void clock_systick_handler(void)
{
    wrapped_cycles += PERIOD;
}

void clock_wake_handler(void)
{
    GPTM_ICR = TATO;
}
