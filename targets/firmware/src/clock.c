#include "clock.h"

#include "board.h"

/* Cortex-M3 SysTick. */
#define SYST_CSR REG32(0xE000E010)
#define SYST_RVR REG32(0xE000E014)
#define SYST_CVR REG32(0xE000E018)
#define CSR_ENABLE (1u << 0)
#define CSR_TICKINT (1u << 1)
#define CSR_CLKSOURCE_CPU (1u << 2)

static volatile uint32_t ticks_ms;

void clock_init(void)
{
    SYST_RVR = BOARD_CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = CSR_ENABLE | CSR_TICKINT | CSR_CLKSOURCE_CPU;
}

uint32_t clock_ms(void)
{
    return ticks_ms;
}

void clock_systick_handler(void)
{
    ticks_ms++;
}
