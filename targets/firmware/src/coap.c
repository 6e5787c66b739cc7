#include "coap.h"

#include <string.h>

#include "clock.h"
#include "resources.h"
#include "udp.h"
#include "version.h"

/* Transmission parameters (RFC 7252 §4.8). */
#define ACK_TIMEOUT_MS 2000u
#define MAX_RETRANSMIT 4u
/* The largest datagram the server sends or keeps: a 1024-byte block and its header. */
#define DATAGRAM_MAX 1152u
/* The block size the server picks when a representation does not fit one datagram:
 * SZX 6, 1024 bytes, which a 1280-byte IPv6 MTU carries. */
#define DEFAULT_SZX 6u

#define PAYLOAD_MARKER 0xffu

struct endpoint {
    ipv6_addr addr;
    uint16_t port;
    ipv6_addr local; /* the address the client wrote to: replies come from it */
};

/* Replies kept for duplicate detection (§4.5): a retransmitted request gets the same
 * reply again without running twice. Oldest replaced first. */
#define DEDUP_ENTRIES 8u
struct dedup_entry {
    int in_use;
    struct endpoint ep;
    uint16_t mid;
    uint16_t len;
    uint8_t bytes[DATAGRAM_MAX];
};

/* Confirmable messages the server sent (separate responses, notifications) until
 * their ACK comes or MAX_RETRANSMIT runs out. */
#define RELIABLE_ENTRIES 4u
struct reliable_entry {
    int in_use;
    struct endpoint ep;
    uint16_t mid;
    uint8_t tries;
    uint32_t timeout;
    uint32_t deadline;
    int observer; /* index, or -1 */
    uint16_t len;
    uint8_t bytes[DATAGRAM_MAX];
};

/* Requests whose response comes later (§5.2.2). */
#define SEPARATE_ENTRIES 4u
struct separate_entry {
    int in_use;
    struct endpoint ep;
    uint8_t type;
    uint8_t tkl;
    uint8_t token[8];
    char path[COAP_PATH_MAX];
    uint32_t due;
};

#define OBSERVERS 8u
struct observer {
    int in_use;
    struct endpoint ep;
    uint8_t tkl;
    uint8_t token[8];
    char path[COAP_PATH_MAX];
    int con;        /* registered with a CON request */
    uint8_t szx;    /* block size of the notifications' first block */
    int32_t format; /* the registration's Content-Format */
    int dirty;      /* its resource changed: a notification is due */
    uint32_t since; /* registration order, to give the oldest up when full */
};

/* Block1 bodies being assembled, one per client and path; a new transfer takes the
 * least recently used slot. */
#define BLOCK1_TRANSFERS 3u
struct block1_transfer {
    int in_use;
    struct endpoint ep;
    char path[COAP_PATH_MAX];
    uint32_t used;
    size_t len;
    uint8_t body[COAP_REPR_MAX];
};

static struct dedup_entry dedup[DEDUP_ENTRIES];
static unsigned dedup_next;
static struct reliable_entry reliable[RELIABLE_ENTRIES];
static struct separate_entry separate[SEPARATE_ENTRIES];
static struct observer observers[OBSERVERS];
static struct block1_transfer block1[BLOCK1_TRANSFERS];
static uint32_t block1_clock;
static uint8_t repr[COAP_REPR_MAX];
static uint16_t next_mid;
static uint32_t observe_seq;
static uint32_t rng;
static struct coap_stats stats;

static uint32_t random32(void)
{
    /* xorshift32: jitter for retransmission timeouts, Message IDs. */
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

void coap_init(void)
{
    rng = 0x9e3779b9u ^ (uint32_t)HILT_FW_ID * 2654435761u ^ clock_ms();
    next_mid = (uint16_t)random32();
    observe_seq = 2;
    resources_init();
}

const struct coap_stats *coap_stats(void)
{
    return &stats;
}

/* --- parsing ---------------------------------------------------------------------- */

/* What the server knows of each option (§5.10): its length bounds and whether it may
 * repeat. Options not listed are unrecognised. */
struct option_rule {
    uint16_t number;
    uint16_t min, max;
    uint8_t repeatable;
};

static const struct option_rule option_rules[] = {
    {COAP_OPT_IF_MATCH, 0, 8, 1},       {COAP_OPT_URI_HOST, 1, 255, 0},     {COAP_OPT_ETAG, 1, 8, 1},
    {COAP_OPT_IF_NONE_MATCH, 0, 0, 0},  {COAP_OPT_OBSERVE, 0, 3, 0},        {COAP_OPT_URI_PORT, 0, 2, 0},
    {COAP_OPT_LOCATION_PATH, 0, 255, 1}, {COAP_OPT_URI_PATH, 0, 255, 1},    {COAP_OPT_CONTENT_FORMAT, 0, 2, 0},
    {COAP_OPT_MAX_AGE, 0, 4, 0},        {COAP_OPT_URI_QUERY, 0, 255, 1},    {COAP_OPT_ACCEPT, 0, 2, 0},
    {COAP_OPT_LOCATION_QUERY, 0, 255, 1}, {COAP_OPT_BLOCK2, 0, 3, 0},       {COAP_OPT_BLOCK1, 0, 3, 0},
    {COAP_OPT_SIZE2, 0, 4, 0},          {COAP_OPT_PROXY_URI, 1, 1034, 0},   {COAP_OPT_PROXY_SCHEME, 1, 255, 0},
    {COAP_OPT_SIZE1, 0, 4, 0},
};

static const struct option_rule *rule_for(uint16_t number)
{
    for (size_t i = 0; i < sizeof option_rules / sizeof option_rules[0]; i++) {
        if (option_rules[i].number == number) {
            return &option_rules[i];
        }
    }
    return NULL;
}

/* An option marked unusable (elective, malformed): getters skip it. */
#define OPTION_IGNORED 0xffffu

/* Reads an option header's extended delta or length (§3.1); -1 on a format error. */
static int32_t extended(uint8_t nibble, const uint8_t **p, const uint8_t *end)
{
    if (nibble < 13) {
        return nibble;
    }
    if (nibble == 13) {
        if (*p + 1 > end) {
            return -1;
        }
        return 13 + *(*p)++;
    }
    if (nibble == 14) {
        if (*p + 2 > end) {
            return -1;
        }
        int32_t v = 269 + get16(*p);
        *p += 2;
        return v;
    }
    return -1; /* 15 is reserved for the payload marker */
}

/* 0 on success; -1 on a message format error (§3); -2 when the version is not 1. */
static int parse(const uint8_t *d, size_t len, struct coap_msg *m)
{
    if (len < 4) {
        return -1;
    }
    if (d[0] >> 6 != 1) {
        return -2;
    }
    m->type = (d[0] >> 4) & 3u;
    m->tkl = d[0] & 0xfu;
    m->code = d[1];
    m->mid = get16(d + 2);
    if (m->tkl > 8 || 4u + m->tkl > len) {
        return -1;
    }
    memcpy(m->token, d + 4, m->tkl);
    const uint8_t *p = d + 4 + m->tkl;
    const uint8_t *end = d + len;
    uint32_t number = 0;
    m->n_options = 0;
    m->payload = NULL;
    m->payload_len = 0;
    while (p < end) {
        uint8_t b = *p++;
        if (b == PAYLOAD_MARKER) {
            if (p == end) {
                return -1; /* a marker with no payload */
            }
            m->payload = p;
            m->payload_len = (size_t)(end - p);
            break;
        }
        int32_t delta = extended(b >> 4, &p, end);
        int32_t olen = extended(b & 0xfu, &p, end);
        if (delta < 0 || olen < 0 || p + olen > end) {
            return -1;
        }
        number += (uint32_t)delta;
        if (number > 0xffff) {
            return -1;
        }
        if (m->n_options == COAP_MAX_OPTIONS) {
            return -1; /* more than the server can look at: refused as malformed */
        }
        struct coap_option *o = &m->options[m->n_options++];
        o->number = (uint16_t)number;
        o->len = (uint16_t)olen;
        o->value = p;
        p += olen;
    }
    return 0;
}

/* Checks the options against option_rules (§5.4): returns 0 when the request can be
 * served, or the number of a critical option it cannot honour. Elective options that
 * are unrecognised, of the wrong length or repeated are marked ignored. */
static uint32_t check_options(struct coap_msg *m)
{
    for (unsigned i = 0; i < m->n_options; i++) {
        struct coap_option *o = &m->options[i];
        const struct option_rule *r = rule_for(o->number);
        int bad = !r || o->len < r->min || o->len > r->max ||
                  (!r->repeatable && i > 0 && m->options[i - 1].number == o->number);
        if (!bad) {
            continue;
        }
        if (o->number & 1u) {
            return o->number;
        }
        o->number = OPTION_IGNORED;
    }
    return 0;
}

const struct coap_option *coap_option(const struct coap_msg *m, uint16_t number)
{
    for (unsigned i = 0; i < m->n_options; i++) {
        if (m->options[i].number == number) {
            return &m->options[i];
        }
    }
    return NULL;
}

int coap_option_uint(const struct coap_msg *m, uint16_t number, uint32_t *value)
{
    const struct coap_option *o = coap_option(m, number);
    if (!o) {
        return 0;
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < o->len && i < 4; i++) {
        v = v << 8 | o->value[i];
    }
    *value = v;
    return 1;
}

/* The Uri-Path options joined into "/a/b" ("/" for none); 0 when it does not fit or a
 * segment holds a '/' (no resource has such a name). */
static int request_path(const struct coap_msg *m, char *out)
{
    size_t n = 0;
    for (unsigned i = 0; i < m->n_options; i++) {
        const struct coap_option *o = &m->options[i];
        if (o->number != COAP_OPT_URI_PATH) {
            continue;
        }
        if (n + 1 + o->len + 1 > COAP_PATH_MAX || memchr(o->value, '/', o->len)) {
            return 0;
        }
        out[n++] = '/';
        memcpy(out + n, o->value, o->len);
        n += o->len;
    }
    if (!n) {
        out[n++] = '/';
    }
    out[n] = '\0';
    return 1;
}

/* --- writing ---------------------------------------------------------------------- */

struct writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint16_t last;
};

static void w_bytes(struct writer *w, const void *p, size_t n)
{
    if (w->len + n <= w->cap) {
        memcpy(w->buf + w->len, p, n);
    }
    w->len += n;
}

static void w_byte(struct writer *w, uint8_t b)
{
    w_bytes(w, &b, 1);
}

static void w_header(struct writer *w, uint8_t type, uint8_t code, uint16_t mid, const uint8_t *token,
                     uint8_t tkl)
{
    w->len = 0;
    w->last = 0;
    w_byte(w, (uint8_t)(1u << 6 | type << 4 | tkl));
    w_byte(w, code);
    w_byte(w, (uint8_t)(mid >> 8));
    w_byte(w, (uint8_t)mid);
    w_bytes(w, token, tkl);
}

static uint8_t nibble(uint32_t v, uint8_t *ext, size_t *ext_len)
{
    if (v < 13) {
        return (uint8_t)v;
    }
    if (v < 269) {
        ext[(*ext_len)++] = (uint8_t)(v - 13);
        return 13;
    }
    ext[(*ext_len)++] = (uint8_t)((v - 269) >> 8);
    ext[(*ext_len)++] = (uint8_t)(v - 269);
    return 14;
}

/* Options must come in ascending order of number. */
static void w_option(struct writer *w, uint16_t number, const void *value, size_t len)
{
    uint8_t ext[4];
    size_t ext_len = 0;
    uint8_t d = nibble(number - w->last, ext, &ext_len);
    uint8_t l = nibble((uint32_t)len, ext, &ext_len);
    w_byte(w, (uint8_t)(d << 4 | l));
    w_bytes(w, ext, ext_len);
    w_bytes(w, value, len);
    w->last = number;
}

static void w_uint_option(struct writer *w, uint16_t number, uint32_t v)
{
    uint8_t b[4];
    size_t n = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        if (n || (v >> shift) & 0xffu) {
            b[n++] = (uint8_t)(v >> shift);
        }
    }
    w_option(w, number, b, n);
}

/* Block option value: NUM, M, SZX (RFC 7959 §2.2). */
static uint32_t block_value(uint32_t num, int more, uint8_t szx)
{
    return num << 4 | (more ? 8u : 0u) | szx;
}

/* How a response goes out: its header, and the message-layer options around what the
 * resource answered. */
struct framing {
    uint8_t type;
    uint16_t mid;
    uint8_t tkl;
    const uint8_t *token;
    int has_observe;
    uint32_t observe;
    int has_block2;
    uint32_t block2;
    size_t offset; /* where the payload starts in the representation */
    size_t size;   /* how much of it this message carries */
    int has_size2;
    int has_block1;
    uint32_t block1;
    const struct coap_msg *request; /* for Location-Query */
    const char *path;               /* for Location-Path */
};

static size_t write_response(uint8_t *out, size_t cap, const struct framing *f, const struct coap_response *r)
{
    struct writer w = {out, cap, 0, 0};
    w_header(&w, f->type, r->code, f->mid, f->token, f->tkl);
    if (r->etag_len) {
        w_option(&w, COAP_OPT_ETAG, r->etag, r->etag_len);
    }
    if (f->has_observe) {
        w_uint_option(&w, COAP_OPT_OBSERVE, f->observe & 0xffffffu);
    }
    if (r->location && f->path) {
        for (const char *seg = f->path + 1; *seg;) {
            const char *slash = strchr(seg, '/');
            size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
            w_option(&w, COAP_OPT_LOCATION_PATH, seg, n);
            seg += n + (slash ? 1 : 0);
        }
    }
    if (r->content_format >= 0) {
        w_uint_option(&w, COAP_OPT_CONTENT_FORMAT, (uint32_t)r->content_format);
    }
    if (r->has_max_age) {
        w_uint_option(&w, COAP_OPT_MAX_AGE, r->max_age);
    }
    if (r->location && f->request) {
        for (unsigned i = 0; i < f->request->n_options; i++) {
            const struct coap_option *o = &f->request->options[i];
            if (o->number == COAP_OPT_URI_QUERY) {
                w_option(&w, COAP_OPT_LOCATION_QUERY, o->value, o->len);
            }
        }
    }
    if (f->has_block2) {
        w_uint_option(&w, COAP_OPT_BLOCK2, f->block2);
    }
    if (f->has_block1) {
        w_uint_option(&w, COAP_OPT_BLOCK1, f->block1);
    }
    if (f->has_size2) {
        w_uint_option(&w, COAP_OPT_SIZE2, (uint32_t)r->len);
    }
    if (f->size) {
        w_byte(&w, PAYLOAD_MARKER);
        w_bytes(&w, r->body + f->offset, f->size);
    }
    return w.len <= cap ? w.len : 0;
}

static void send_bytes(const struct endpoint *ep, const uint8_t *bytes, size_t len)
{
    memcpy(udp_tx_payload(), bytes, len);
    udp_send(&ep->local, &ep->addr, COAP_PORT, ep->port, len);
}

/* Writes straight into the UDP payload and sends; returns the length (0: too big). */
static size_t send_response(const struct endpoint *ep, const struct framing *f, const struct coap_response *r)
{
    size_t n = write_response(udp_tx_payload(), DATAGRAM_MAX, f, r);
    if (n) {
        udp_send(&ep->local, &ep->addr, COAP_PORT, ep->port, n);
    }
    return n;
}

static void send_empty(const struct endpoint *ep, uint8_t type, uint16_t mid)
{
    uint8_t m[4] = {(uint8_t)(1u << 6 | type << 4), 0, (uint8_t)(mid >> 8), (uint8_t)mid};
    send_bytes(ep, m, sizeof m);
}

static int same_endpoint(const struct endpoint *a, const struct endpoint *b)
{
    return a->port == b->port && ipv6_addr_equal(&a->addr, &b->addr);
}

/* --- the message layer ---------------------------------------------------------------- */

static struct dedup_entry *dedup_find(const struct endpoint *ep, uint16_t mid)
{
    for (unsigned i = 0; i < DEDUP_ENTRIES; i++) {
        if (dedup[i].in_use && dedup[i].mid == mid && same_endpoint(&dedup[i].ep, ep)) {
            return &dedup[i];
        }
    }
    return NULL;
}

/* Keeps the reply just sent (in the UDP payload) for duplicates of request `mid`. */
static void dedup_keep(const struct endpoint *ep, uint16_t mid, const uint8_t *bytes, size_t len)
{
    struct dedup_entry *e = dedup_find(ep, mid);
    if (!e) {
        e = &dedup[dedup_next];
        dedup_next = (dedup_next + 1) % DEDUP_ENTRIES;
    }
    e->in_use = 1;
    e->ep = *ep;
    e->mid = mid;
    e->len = (uint16_t)len;
    memcpy(e->bytes, bytes, len);
}

static uint32_t initial_timeout(void)
{
    /* ACK_TIMEOUT × [1, ACK_RANDOM_FACTOR = 1.5) */
    return ACK_TIMEOUT_MS + random32() % (ACK_TIMEOUT_MS / 2);
}

/* Sends a CON message written at the UDP payload, and keeps it for retransmission. */
static void send_reliable(const struct endpoint *ep, uint16_t mid, size_t len, int observer)
{
    struct reliable_entry *e = NULL;
    for (unsigned i = 0; i < RELIABLE_ENTRIES && observer >= 0; i++) {
        /* RFC 7641 §4.5.2: a newer notification replaces the one still in flight. */
        if (reliable[i].in_use && reliable[i].observer == observer) {
            e = &reliable[i];
        }
    }
    for (unsigned i = 0; i < RELIABLE_ENTRIES && !e; i++) {
        if (!reliable[i].in_use) {
            e = &reliable[i];
        }
    }
    uint32_t now = clock_ms();
    if (e) {
        int replacing = e->in_use;
        e->in_use = 1;
        e->ep = *ep;
        e->mid = mid;
        e->observer = observer;
        e->len = (uint16_t)len;
        memcpy(e->bytes, udp_tx_payload(), len);
        if (!replacing) {
            e->tries = 0;
            e->timeout = initial_timeout();
            e->deadline = now + e->timeout;
        }
    }
    /* No room to track it: sent once, as a NON would be. */
    udp_send(&ep->local, &ep->addr, COAP_PORT, ep->port, len);
}

static void forget_observer(int i)
{
    observers[i].in_use = 0;
    for (unsigned j = 0; j < RELIABLE_ENTRIES; j++) {
        if (reliable[j].in_use && reliable[j].observer == i) {
            reliable[j].observer = -1;
        }
    }
}

static void on_ack_or_rst(const struct endpoint *ep, const struct coap_msg *m)
{
    for (unsigned i = 0; i < RELIABLE_ENTRIES; i++) {
        struct reliable_entry *e = &reliable[i];
        if (!e->in_use || e->mid != m->mid || !same_endpoint(&e->ep, ep)) {
            continue;
        }
        e->in_use = 0;
        /* A RST to a notification cancels the observation (RFC 7641 §3.6). */
        if (m->type == COAP_RST && e->observer >= 0) {
            forget_observer(e->observer);
        }
        return;
    }
}

static int find_observer(const struct endpoint *ep, const uint8_t *token, uint8_t tkl)
{
    for (unsigned i = 0; i < OBSERVERS; i++) {
        if (observers[i].in_use && observers[i].tkl == tkl && !memcmp(observers[i].token, token, tkl) &&
            same_endpoint(&observers[i].ep, ep)) {
            return (int)i;
        }
    }
    return -1;
}

/* Registers an observation; when the table is full the oldest one is given up (the
 * server may end an observation at any time, RFC 7641 §3.6: that client stops hearing
 * and registers again when it notices). */
static void add_observer(const struct endpoint *ep, const struct coap_msg *m, const char *path, uint8_t szx,
                         int32_t format)
{
    static uint32_t registrations;
    int i = find_observer(ep, m->token, m->tkl);
    for (unsigned j = 0; j < OBSERVERS && i < 0; j++) {
        if (!observers[j].in_use) {
            i = (int)j;
        }
    }
    if (i < 0) {
        i = 0;
        for (unsigned j = 1; j < OBSERVERS; j++) {
            if ((int32_t)(observers[j].since - observers[i].since) < 0) {
                i = (int)j;
            }
        }
        forget_observer(i);
    }
    struct observer *o = &observers[i];
    o->in_use = 1;
    o->ep = *ep;
    o->tkl = m->tkl;
    memcpy(o->token, m->token, m->tkl);
    strcpy(o->path, path);
    o->con = m->type == COAP_CON;
    o->szx = szx;
    o->format = format;
    o->dirty = 0;
    o->since = registrations++;
}

static void render(uint8_t method, const char *path, const struct coap_msg *m, const uint8_t *payload,
                   size_t payload_len, int late, struct coap_response *r)
{
    struct coap_request req = {method, path, m, payload, payload_len, late};
    memset(r, 0, sizeof *r);
    r->content_format = COAP_FORMAT_NONE;
    r->notify_con = -1;
    r->body = repr;
    resources_handle(&req, r);
}

/* Frames a 2.05 of `r` as block `num` of size 2^(szx+4) when it is block-wise (asked
 * for, or too large for one datagram); 0 when the block is past the end. */
static int frame_blocks(struct framing *f, const struct coap_response *r, int asked, uint32_t num, uint8_t szx)
{
    size_t size = (size_t)16 << szx;
    f->offset = 0;
    f->size = r->len;
    if (r->code != COAP_CONTENT || (!asked && r->len <= ((size_t)16 << DEFAULT_SZX))) {
        return 1;
    }
    size_t offset = (size_t)num * size;
    if (offset >= r->len && !(offset == 0 && r->len == 0)) {
        return 0;
    }
    f->offset = offset;
    f->size = r->len - offset < size ? r->len - offset : size;
    f->has_block2 = 1;
    f->block2 = block_value(num, offset + f->size < r->len, szx);
    f->has_size2 = num == 0;
    return 1;
}

static void reply_error(const struct endpoint *ep, const struct coap_msg *m, uint8_t code, const char *why)
{
    struct coap_response r;
    memset(&r, 0, sizeof r);
    r.code = code;
    r.content_format = COAP_FORMAT_NONE;
    r.body = (uint8_t *)(uintptr_t)why;
    r.len = strlen(why);
    struct framing f = {0};
    f.type = m->type == COAP_CON ? COAP_ACK : COAP_NON;
    f.mid = m->type == COAP_CON ? m->mid : next_mid++;
    f.token = m->token;
    f.tkl = m->tkl;
    f.size = r.len;
    size_t n = send_response(ep, &f, &r);
    if (n) {
        dedup_keep(ep, m->mid, udp_tx_payload(), n);
    }
}

static struct block1_transfer *find_transfer(const struct endpoint *ep, const char *path, int start)
{
    struct block1_transfer *lru = &block1[0];
    for (unsigned i = 0; i < BLOCK1_TRANSFERS; i++) {
        struct block1_transfer *t = &block1[i];
        if (t->in_use && same_endpoint(&t->ep, ep) && !strcmp(t->path, path)) {
            return t;
        }
        if (!t->in_use || (lru->in_use && (int32_t)(t->used - lru->used) < 0)) {
            lru = t;
        }
    }
    if (!start) {
        return NULL;
    }
    lru->in_use = 1;
    lru->ep = *ep;
    strcpy(lru->path, path);
    return lru;
}

/* Block1 (RFC 7959 §2.5): collects the body block by block, in order. Returns the
 * transfer when the body is whole, NULL when the reply has been sent already. */
static struct block1_transfer *collect_block1(const struct endpoint *ep, const struct coap_msg *m, const char *path,
                                              uint32_t value, struct framing *f)
{
    uint32_t num = value >> 4;
    int more = (value >> 3) & 1u;
    uint8_t szx = value & 7u;
    if (szx == 7) {
        reply_error(ep, m, COAP_BAD_OPTION, "Block1 SZX 7 is reserved");
        return NULL;
    }
    size_t size = (size_t)16 << szx;
    size_t offset = (size_t)num * size;
    struct block1_transfer *t = find_transfer(ep, path, num == 0);
    if (t && num == 0) {
        t->len = 0;
    }
    if (!t || offset != t->len) {
        reply_error(ep, m, COAP_INCOMPLETE, "blocks must come in order from block 0");
        return NULL;
    }
    t->used = block1_clock++;
    if (offset + m->payload_len > sizeof t->body) {
        t->in_use = 0;
        reply_error(ep, m, COAP_TOO_LARGE, "the body is larger than the server keeps");
        return NULL;
    }
    memcpy(t->body + offset, m->payload, m->payload_len);
    t->len = offset + m->payload_len;
    f->has_block1 = 1;
    f->block1 = block_value(num, more, szx);
    if (more) {
        struct coap_response r;
        memset(&r, 0, sizeof r);
        r.code = COAP_CONTINUE;
        r.content_format = COAP_FORMAT_NONE;
        size_t n = send_response(ep, f, &r);
        if (n) {
            dedup_keep(ep, m->mid, udp_tx_payload(), n);
        }
        return NULL;
    }
    t->in_use = 0; /* the body stays readable until the next transfer takes the slot */
    return t;
}

static void on_request(const struct endpoint *ep, struct coap_msg *m)
{
    stats.requests++;
    uint32_t bad = check_options(m);
    if (bad) {
        if (m->type == COAP_CON) {
            reply_error(ep, m, COAP_BAD_OPTION, "unrecognised critical option");
        } else {
            send_empty(ep, COAP_RST, m->mid); /* a NON is rejected (§4.3) */
        }
        return;
    }
    if (coap_option(m, COAP_OPT_PROXY_URI) || coap_option(m, COAP_OPT_PROXY_SCHEME)) {
        reply_error(ep, m, COAP_PROXYING_NOT_SUPPORTED, "no proxying here");
        return;
    }
    char path[COAP_PATH_MAX];
    if (!request_path(m, path)) {
        reply_error(ep, m, COAP_NOT_FOUND, "no such resource");
        return;
    }
    struct framing f = {0};
    f.type = m->type == COAP_CON ? COAP_ACK : COAP_NON;
    f.mid = m->type == COAP_CON ? m->mid : next_mid++;
    f.token = m->token;
    f.tkl = m->tkl;
    f.request = m;
    f.path = path;

    const uint8_t *payload = m->payload;
    size_t payload_len = m->payload_len;
    uint32_t b1;
    if ((m->code == COAP_PUT || m->code == COAP_POST) && coap_option_uint(m, COAP_OPT_BLOCK1, &b1)) {
        struct block1_transfer *t = collect_block1(ep, m, path, b1, &f);
        if (!t) {
            return;
        }
        payload = t->body;
        payload_len = t->len;
    }

    struct coap_response r;
    render(m->code, path, m, payload, payload_len, 0, &r);

    if (r.separate_ms) {
        struct separate_entry *s = NULL;
        for (unsigned i = 0; i < SEPARATE_ENTRIES && !s; i++) {
            if (!separate[i].in_use) {
                s = &separate[i];
            }
        }
        if (!s) {
            reply_error(ep, m, COAP_CODE(5, 3), "busy: try again");
            return;
        }
        s->in_use = 1;
        s->ep = *ep;
        s->type = m->type;
        s->tkl = m->tkl;
        memcpy(s->token, m->token, m->tkl);
        strcpy(s->path, path);
        s->due = clock_ms() + r.separate_ms;
        if (m->type == COAP_CON) {
            uint8_t ack[4] = {(uint8_t)(1u << 6 | COAP_ACK << 4), 0, (uint8_t)(m->mid >> 8), (uint8_t)m->mid};
            send_bytes(ep, ack, sizeof ack);
            dedup_keep(ep, m->mid, ack, sizeof ack);
        }
        return;
    }

    uint32_t b2 = 0;
    int asked_block = m->code == COAP_GET && coap_option_uint(m, COAP_OPT_BLOCK2, &b2);
    uint8_t szx = asked_block ? (b2 & 7u) : DEFAULT_SZX;
    if (szx == 7) {
        reply_error(ep, m, COAP_BAD_OPTION, "Block2 SZX 7 is reserved");
        return;
    }
    if (!frame_blocks(&f, &r, asked_block, b2 >> 4, szx)) {
        reply_error(ep, m, COAP_BAD_OPTION, "block number past the end");
        return;
    }

    uint32_t obs;
    if (m->code == COAP_GET && coap_option_uint(m, COAP_OPT_OBSERVE, &obs)) {
        if (obs == 0 && r.observable && r.code == COAP_CONTENT && (b2 >> 4) == 0) {
            add_observer(ep, m, path, szx, r.content_format);
            f.has_observe = 1;
            f.observe = observe_seq;
        } else if (obs == 1) {
            int i = find_observer(ep, m->token, m->tkl);
            if (i >= 0) {
                forget_observer(i);
            }
        }
    }
    size_t n = send_response(ep, &f, &r);
    if (n) {
        dedup_keep(ep, m->mid, udp_tx_payload(), n);
    }
}

void coap_input(const ipv6_addr *src, uint16_t src_port, const ipv6_addr *dst, const uint8_t *datagram,
                size_t len)
{
    struct endpoint ep = {*src, src_port, *dst};
    struct coap_msg m;
    int parsed = parse(datagram, len, &m);
    if (parsed == -2) {
        stats.drops++; /* another version: silently ignored (§3) */
        return;
    }
    if (parsed < 0) {
        stats.drops++;
        /* A format error: a CON is rejected with a RST (§4.2), anything else ignored. */
        if (len >= 4 && ((datagram[0] >> 4) & 3u) == COAP_CON) {
            send_empty(&ep, COAP_RST, get16(datagram + 2));
        }
        return;
    }
    uint8_t cls = m.code >> 5;
    if (m.code == 0) {
        if (m.tkl || m.n_options || m.payload_len) {
            stats.drops++; /* an Empty message with content is a format error */
            if (m.type == COAP_CON) {
                send_empty(&ep, COAP_RST, m.mid);
            }
            return;
        }
        if (m.type == COAP_CON) {
            send_empty(&ep, COAP_RST, m.mid); /* CoAP ping (§4.3) */
        } else if (m.type == COAP_ACK || m.type == COAP_RST) {
            on_ack_or_rst(&ep, &m);
        }
        return;
    }
    if (m.type == COAP_ACK || m.type == COAP_RST) {
        stats.drops++; /* an ACK or RST carrying a request or response matches nothing */
        return;
    }
    if (cls != 0) {
        /* A response the server never asked for, or a reserved class: rejected. */
        stats.drops++;
        if (m.type == COAP_CON) {
            send_empty(&ep, COAP_RST, m.mid);
        }
        return;
    }
    struct dedup_entry *dup = dedup_find(&ep, m.mid);
    if (dup) {
        send_bytes(&ep, dup->bytes, dup->len);
        return;
    }
    if (m.code > COAP_DELETE) {
        reply_error(&ep, &m, COAP_METHOD_NOT_ALLOWED, "unknown method");
        return;
    }
    on_request(&ep, &m);
}

/* --- notifications, separate responses, retransmission ------------------------------- */

static void notify_one(int i)
{
    struct observer *o = &observers[i];
    static const struct coap_msg no_options;
    struct coap_response r;
    render(COAP_GET, o->path, &no_options, NULL, 0, 0, &r);
    int con = r.notify_con >= 0 ? r.notify_con : o->con;
    struct framing f = {0};
    f.mid = next_mid++;
    f.token = o->token;
    f.tkl = o->tkl;
    int ends = 0;
    if (r.code == COAP_CONTENT && r.content_format != o->format) {
        /* RFC 7641 §4.2: every notification in the registration's format; a change
         * of format ends the observation with 4.06. */
        memset(&r, 0, sizeof r);
        r.code = COAP_NOT_ACCEPTABLE;
        r.content_format = COAP_FORMAT_NONE;
        r.body = repr;
        ends = 1;
    } else if ((r.code >> 5) != 2) {
        ends = 1; /* the resource went away: a final error notification */
    }
    if (ends) {
        con = 1;
    } else {
        frame_blocks(&f, &r, 0, 0, o->szx);
        f.has_observe = 1;
        f.observe = observe_seq;
    }
    f.type = con ? COAP_CON : COAP_NON;
    size_t n = write_response(udp_tx_payload(), DATAGRAM_MAX, &f, &r);
    struct endpoint ep = o->ep;
    if (ends) {
        forget_observer(i);
    }
    if (!n) {
        return;
    }
    if (con) {
        send_reliable(&ep, f.mid, n, ends ? -1 : i);
    } else {
        udp_send(&ep.local, &ep.addr, COAP_PORT, ep.port, n);
    }
}

/* Notifications go out from coap_poll(), not from here: a resource calls this while
 * it answers a request, and the representation buffer is that answer's. */
void coap_notify(const char *path)
{
    for (unsigned i = 0; i < OBSERVERS; i++) {
        if (observers[i].in_use && !strcmp(observers[i].path, path)) {
            observers[i].dirty = 1;
        }
    }
}

static void send_notifications(void)
{
    int counted = 0;
    for (unsigned i = 0; i < OBSERVERS; i++) {
        if (!observers[i].in_use || !observers[i].dirty) {
            continue;
        }
        if (!counted) {
            observe_seq++; /* one step per round of changes: every notification fresher */
            counted = 1;
        }
        observers[i].dirty = 0;
        notify_one((int)i);
    }
}

static void send_separate(struct separate_entry *s)
{
    static const struct coap_msg no_options;
    struct coap_response r;
    render(COAP_GET, s->path, &no_options, NULL, 0, 1, &r);
    struct framing f = {0};
    f.type = s->type == COAP_CON ? COAP_CON : COAP_NON;
    f.mid = next_mid++;
    f.token = s->token;
    f.tkl = s->tkl;
    frame_blocks(&f, &r, 0, 0, DEFAULT_SZX);
    size_t n = write_response(udp_tx_payload(), DATAGRAM_MAX, &f, &r);
    s->in_use = 0;
    if (!n) {
        return;
    }
    if (f.type == COAP_CON) {
        send_reliable(&s->ep, f.mid, n, -1);
    } else {
        udp_send(&s->ep.local, &s->ep.addr, COAP_PORT, s->ep.port, n);
    }
}

void coap_poll(uint32_t now)
{
    for (unsigned i = 0; i < SEPARATE_ENTRIES; i++) {
        if (separate[i].in_use && clock_due(now, separate[i].due)) {
            send_separate(&separate[i]);
        }
    }
    for (unsigned i = 0; i < RELIABLE_ENTRIES; i++) {
        struct reliable_entry *e = &reliable[i];
        if (!e->in_use || !clock_due(now, e->deadline)) {
            continue;
        }
        if (e->tries == MAX_RETRANSMIT) {
            /* Never acknowledged: the client is gone, and so is its observation. */
            e->in_use = 0;
            if (e->observer >= 0) {
                forget_observer(e->observer);
            }
            continue;
        }
        e->tries++;
        e->timeout *= 2;
        e->deadline = now + e->timeout;
        send_bytes(&e->ep, e->bytes, e->len);
    }
    resources_poll(now);
    send_notifications();
}
