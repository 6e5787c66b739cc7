/* A millisecond clock, and the periodic wake-up that runs the main loop's timers. */
#ifndef HILT_FW_CLOCK_H
#define HILT_FW_CLOCK_H

#include <stdint.h>

void clock_init(void);

/* Milliseconds since boot; wraps after 49 days, so compare with clock_due(). */
uint32_t clock_ms(void);

/* Whether `deadline` has come, wrap-safe for deadlines within 24 days. */
static inline int clock_due(uint32_t now, uint32_t deadline)
{
    return (int32_t)(now - deadline) >= 0;
}

void clock_systick_handler(void);
void clock_wake_handler(void);

#endif
