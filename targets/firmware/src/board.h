/* The board: TI Stellaris LM3S6965 (Cortex-M3), as QEMU's lm3s6965evb emulates it.
 * Everything that names a register address lives in board.c, uart.c and clock.c;
 * porting the firmware to another Cortex-M board means rewriting those three. */
#ifndef HILT_FW_BOARD_H
#define HILT_FW_BOARD_H

#include <stdint.h>

#define BOARD_NAME "lm3s6965evb"

/* The core clock board_init() sets: the PLL's 200 MHz divided by 4, from the 8 MHz
 * crystal of the evaluation board. (QEMU derives its clock from the same SYSDIV field;
 * the reset clock differs between the chip and QEMU, so the firmware never runs on it.) */
#define BOARD_CPU_HZ 50000000u

/* Clocks on, pins muxed: what the peripherals need before their drivers start. */
void board_init(void);

/* Software reset through the System Control Block (AIRCR.SYSRESETREQ). */
void board_reset(void) __attribute__((noreturn));

/* Sleeps until the next interrupt unless `work_pending` says there is something to
 * do; interrupts stay masked between the check and the sleep so none is missed. */
void board_idle(int (*work_pending)(void));

/* A 32-bit register at an absolute address. */
#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#endif
