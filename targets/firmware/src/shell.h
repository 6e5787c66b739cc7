/* The console shell: a line of text (ended by "\n" or "\r") is a command. */
#ifndef HILT_FW_SHELL_H
#define HILT_FW_SHELL_H

#include <stdint.h>

/* Prints the banner line and "ready". */
void shell_banner(void);

/* One console byte (a byte outside SLIP frames). */
void shell_input(uint8_t c);

#endif
