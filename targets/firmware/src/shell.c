#include "shell.h"

#include <string.h>

#include "board.h"
#include "fmt.h"
#include "clock.h"
#include "coap.h"
#include "console.h"
#include "ipv6.h"
#include "rpl.h"
#include "slip.h"
#include "uart.h"
#include "version.h"

/* Longer lines are cut here; no command comes near it. */
#define SHELL_LINE_MAX 64

static char line[SHELL_LINE_MAX + 1];
static unsigned line_len;
static int line_overflow;

static void print_version(void)
{
    console_line("hilt-fw " HILT_FW_VERSION " board=" BOARD_NAME " id=%u", (unsigned)HILT_FW_ID);
}

void shell_banner(void)
{
    print_version();
    console_line("ready");
}

static void cmd_help(void)
{
    console_line("commands: help version ip rpl stats uptime reset");
}

static void cmd_ip(void)
{
    console_line("addr %I", ipv6_link_local()->b);
    if (ipv6_global()) {
        console_line("addr %I", ipv6_global()->b);
    }
}

static void cmd_rpl(void)
{
    const struct rpl_status *s = rpl_status();
    static const char none[] = "-";
    char parent[40], dodag[40];
    if (s->joined) {
        fmt_ipv6(parent, s->parent.b);
        fmt_ipv6(dodag, s->dodag_id.b);
    } else {
        memcpy(parent, none, sizeof none);
        memcpy(dodag, none, sizeof none);
    }
    console_line("rpl joined=%u rank=%u parent=%s dodag=%s version=%u dtsn=%u", (unsigned)s->joined,
                 (unsigned)s->rank, parent, dodag, (unsigned)s->version, (unsigned)s->dtsn);
}

static void cmd_stats(void)
{
    const struct slip_stats *sl = slip_stats();
    const struct ipv6_stats *ip = ipv6_stats();
    const struct rpl_stats *r = rpl_stats();
    const struct coap_stats *c = coap_stats();
    console_line("stats slip_in=%u slip_out=%u slip_drops=%u uart_overruns=%u ipv6_in=%u ipv6_drops=%u "
                 "echo=%u coap_requests=%u coap_drops=%u dis=%u dio_in=%u dio_out=%u dao=%u dao_ack=%u "
                 "dao_failed=%u rpl_drops=%u",
                 (unsigned)sl->frames_in, (unsigned)sl->frames_out, (unsigned)sl->drops,
                 (unsigned)uart_rx_overruns(), (unsigned)ip->packets_in, (unsigned)ip->drops,
                 (unsigned)ip->echo_replies, (unsigned)c->requests, (unsigned)c->drops,
                 (unsigned)r->dis_sent, (unsigned)r->dio_in, (unsigned)r->dio_sent, (unsigned)r->dao_sent,
                 (unsigned)r->dao_acks, (unsigned)r->dao_failed, (unsigned)r->drops);
}

static void cmd_uptime(void)
{
    console_line("uptime ms=%u", (unsigned)clock_ms());
}

static void cmd_reset(void)
{
    console_line("resetting");
    board_reset();
}

struct command {
    const char *name;
    void (*run)(void);
};

static const struct command commands[] = {
    {"help", cmd_help}, {"version", print_version}, {"ip", cmd_ip},
    {"rpl", cmd_rpl},   {"stats", cmd_stats},       {"uptime", cmd_uptime},
    {"reset", cmd_reset},
};

static void run(const char *cmd)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(cmd, commands[i].name)) {
            commands[i].run();
            return;
        }
    }
    console_line("error unknown command");
}

void shell_input(uint8_t c)
{
    if (c != '\r' && c != '\n') {
        if (line_len < SHELL_LINE_MAX) {
            line[line_len++] = (char)c;
        } else {
            line_overflow = 1;
        }
        return;
    }
    /* "\r\n" ends one command, not two: an empty line runs nothing. */
    if (line_len || line_overflow) {
        line[line_len] = '\0';
        if (line_overflow) {
            console_line("error line too long");
        } else {
            run(line);
        }
    }
    line_len = 0;
    line_overflow = 0;
}
