/* Console output: whole lines ending "\r\n", written between SLIP frames (the main
 * loop is the only writer, so a line never splits a frame). */
#ifndef HILT_FW_CONSOLE_H
#define HILT_FW_CONSOLE_H

/* One line, formatted as fmt() does. */
void console_line(const char *f, ...);

/* An asynchronous event ("log <what> ..."), told apart from command output by its
 * prefix. */
void console_log(const char *f, ...);

#endif
