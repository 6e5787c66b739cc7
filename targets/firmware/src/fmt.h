/* Text formatting without the C library's printf (which would pull in malloc and
 * several KiB): a small vsnprintf for what the console prints. */
#ifndef HILT_FW_FMT_H
#define HILT_FW_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Conversions: %s (string), %u (unsigned), %d (int), %x (unsigned, hex), %I (an IPv6
 * address: pointer to 16 bytes, printed as RFC 5952 says), %% . Writes at most cap - 1
 * characters and a NUL; returns the length written. No format attribute: %I is ours,
 * and GCC would read it as a floating-point conversion. */
size_t fmt_v(char *out, size_t cap, const char *f, va_list ap);
size_t fmt(char *out, size_t cap, const char *f, ...);

/* An IPv6 address in RFC 5952 text form; `out` needs 40 bytes. */
size_t fmt_ipv6(char *out, const uint8_t addr[16]);

#endif
