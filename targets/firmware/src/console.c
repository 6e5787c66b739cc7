#include "console.h"

#include <stdarg.h>

#include "fmt.h"
#include "uart.h"

/* Long enough for the longest lines the firmware prints (`rpl` with two addresses,
 * `stats` with every counter in five digits). */
#define LINE_MAX 256

static void write_line(const char *prefix, const char *f, va_list ap)
{
    char line[LINE_MAX];
    size_t n = fmt_v(line, sizeof line - 2, f, ap);
    line[n++] = '\r';
    line[n++] = '\n';
    uart_write_str(prefix);
    uart_write(line, n);
}

void console_line(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    write_line("", f, ap);
    va_end(ap);
}

void console_log(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    write_line("log ", f, ap);
    va_end(ap);
}
