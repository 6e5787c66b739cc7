#include "fmt.h"

struct sink {
    char *out;
    size_t cap;
    size_t len;
};

static void put(struct sink *s, char c)
{
    if (s->len + 1 < s->cap) {
        s->out[s->len++] = c;
    }
}

static void put_str(struct sink *s, const char *str)
{
    while (*str) {
        put(s, *str++);
    }
}

static void put_uint(struct sink *s, uint32_t v, unsigned base)
{
    char digits[10];
    int n = 0;
    do {
        unsigned d = v % base;
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n) {
        put(s, digits[--n]);
    }
}

size_t fmt_ipv6(char *out, const uint8_t addr[16])
{
    uint16_t group[8];
    for (int i = 0; i < 8; i++) {
        group[i] = (uint16_t)(addr[2 * i] << 8 | addr[2 * i + 1]);
    }
    /* RFC 5952 §4.2: the longest run of two or more zero groups becomes "::" (the
     * first such run on a tie). */
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        if (group[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !group[j]) {
            j++;
        }
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    struct sink s = {out, 40, 0};
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            put_str(&s, "::");
            i += best_len - 1;
            continue;
        }
        if (i && i != best + best_len) {
            put(&s, ':');
        }
        put_uint(&s, group[i], 16);
    }
    out[s.len] = '\0';
    return s.len;
}

size_t fmt_v(char *out, size_t cap, const char *f, va_list ap)
{
    struct sink s = {out, cap, 0};
    if (!cap) {
        return 0;
    }
    for (; *f; f++) {
        if (*f != '%') {
            put(&s, *f);
            continue;
        }
        switch (*++f) {
        case 's':
            put_str(&s, va_arg(ap, const char *));
            break;
        case 'u':
            put_uint(&s, va_arg(ap, unsigned), 10);
            break;
        case 'd': {
            int v = va_arg(ap, int);
            if (v < 0) {
                put(&s, '-');
                put_uint(&s, 0u - (unsigned)v, 10);
            } else {
                put_uint(&s, (unsigned)v, 10);
            }
            break;
        }
        case 'x':
            put_uint(&s, va_arg(ap, unsigned), 16);
            break;
        case 'I': {
            char text[40];
            fmt_ipv6(text, va_arg(ap, const uint8_t *));
            put_str(&s, text);
            break;
        }
        case '%':
            put(&s, '%');
            break;
        case '\0':
            f--;
            break;
        default:
            put(&s, '%');
            put(&s, *f);
            break;
        }
    }
    out[s.len] = '\0';
    return s.len;
}

size_t fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    size_t n = fmt_v(out, cap, f, ap);
    va_end(ap);
    return n;
}
