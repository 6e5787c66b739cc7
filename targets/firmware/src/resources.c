#include "resources.h"

#include <string.h>

#include "clock.h"
#include "fmt.h"
#include "version.h"

/* --- resources created by PUT and POST ----------------------------------------------- */

#define STORED_ENTRIES 16u
#define SMALL_BODY 256u
#define LARGE_BODIES 4u
#define LARGE_BODY COAP_REPR_MAX

struct stored {
    int in_use;
    int preloaded; /* there at boot: recycled last */
    char path[COAP_PATH_MAX];
    uint16_t format;
    uint32_t etag;  /* changes with every write */
    uint32_t stamp; /* when last written, for recycling */
    int large;      /* index of its large body, or -1 */
    size_t len;
    uint8_t small[SMALL_BODY];
};

static struct stored stored[STORED_ENTRIES];
static uint8_t large_bodies[LARGE_BODIES][LARGE_BODY];
static uint32_t write_clock;

static uint8_t *body_of(struct stored *s)
{
    return s->large >= 0 ? large_bodies[s->large] : s->small;
}

static struct stored *find_stored(const char *path)
{
    for (unsigned i = 0; i < STORED_ENTRIES; i++) {
        if (stored[i].in_use && !strcmp(stored[i].path, path)) {
            return &stored[i];
        }
    }
    return NULL;
}

static void remove_stored(struct stored *s)
{
    s->in_use = 0;
    coap_notify(s->path); /* its observers learn it is gone (4.04) */
}

/* The least recently written entry among those `fits` accepts, preloaded ones last. */
static struct stored *oldest(int (*fits)(const struct stored *))
{
    struct stored *best = NULL;
    for (unsigned i = 0; i < STORED_ENTRIES; i++) {
        struct stored *s = &stored[i];
        if (!s->in_use || !fits(s)) {
            continue;
        }
        if (!best || s->preloaded < best->preloaded ||
            (s->preloaded == best->preloaded && (int32_t)(s->stamp - best->stamp) < 0)) {
            best = s;
        }
    }
    return best;
}

static int any(const struct stored *s)
{
    (void)s;
    return 1;
}

static int holds_large(const struct stored *s)
{
    return s->large >= 0;
}

static struct stored *new_stored(const char *path)
{
    struct stored *s = NULL;
    for (unsigned i = 0; i < STORED_ENTRIES && !s; i++) {
        if (!stored[i].in_use) {
            s = &stored[i];
        }
    }
    if (!s) {
        s = oldest(any);
        remove_stored(s);
    }
    memset(s, 0, sizeof *s);
    s->in_use = 1;
    s->large = -1;
    strcpy(s->path, path);
    return s;
}

/* Stores `len` bytes; 0 when they cannot fit even a large body. */
static int store(struct stored *s, const uint8_t *data, size_t len, uint16_t format)
{
    if (len > LARGE_BODY) {
        return 0;
    }
    if (len > SMALL_BODY && s->large < 0) {
        int used[LARGE_BODIES] = {0};
        for (unsigned i = 0; i < STORED_ENTRIES; i++) {
            if (stored[i].in_use && stored[i].large >= 0) {
                used[stored[i].large] = 1;
            }
        }
        for (int i = 0; i < (int)LARGE_BODIES && s->large < 0; i++) {
            if (!used[i]) {
                s->large = i;
            }
        }
        if (s->large < 0) {
            struct stored *victim = oldest(holds_large);
            s->large = victim->large;
            remove_stored(victim);
        }
    } else if (len <= SMALL_BODY) {
        s->large = -1;
    }
    memcpy(body_of(s), data, len);
    s->len = len;
    s->format = format;
    s->etag = ++write_clock;
    s->stamp = write_clock;
    return 1;
}

static void preload(const char *path, const char *text)
{
    struct stored *s = new_stored(path);
    s->preloaded = 1;
    store(s, (const uint8_t *)text, strlen(text), COAP_FORMAT_TEXT);
}

/* --- answers -------------------------------------------------------------------------- */

static void answer_text(struct coap_response *r, uint8_t code, int32_t format, const char *text)
{
    r->code = code;
    r->content_format = format;
    r->len = strlen(text);
    memcpy(r->body, text, r->len);
}

/* An error with a diagnostic payload (RFC 7252 §5.5.2: no Content-Format). */
static void answer_error(struct coap_response *r, uint8_t code, const char *why)
{
    answer_text(r, code, COAP_FORMAT_NONE, why);
}

static void method_not_allowed(struct coap_response *r)
{
    answer_error(r, COAP_METHOD_NOT_ALLOWED, "method not allowed");
}

static void set_etag(struct coap_response *r, uint32_t etag)
{
    r->etag_len = 4;
    for (int i = 0; i < 4; i++) {
        r->etag[i] = (uint8_t)(etag >> (24 - 8 * i));
    }
}

static int etag_matches(const struct coap_option *o, uint32_t etag)
{
    uint8_t e[4] = {(uint8_t)(etag >> 24), (uint8_t)(etag >> 16), (uint8_t)(etag >> 8), (uint8_t)etag};
    return o->len == 4 && !memcmp(o->value, e, 4);
}

/* Whether any option `number` (If-Match, ETag) names `etag`; `empty_matches` for
 * If-Match's empty value, which matches any current representation. */
static int any_etag(const struct coap_msg *m, uint16_t number, uint32_t etag, int empty_matches)
{
    for (unsigned i = 0; i < m->n_options; i++) {
        const struct coap_option *o = &m->options[i];
        if (o->number == number && ((empty_matches && o->len == 0) || etag_matches(o, etag))) {
            return 1;
        }
    }
    return 0;
}

static void stored_get(const struct coap_request *q, struct stored *s, struct coap_response *r)
{
    uint32_t accept;
    if (coap_option_uint(q->msg, COAP_OPT_ACCEPT, &accept) && accept != s->format) {
        answer_error(r, COAP_NOT_ACCEPTABLE, "not available in that Content-Format");
        return;
    }
    r->observable = 1;
    set_etag(r, s->etag);
    if (any_etag(q->msg, COAP_OPT_ETAG, s->etag, 0)) {
        r->code = COAP_VALID;
        return;
    }
    r->code = COAP_CONTENT;
    r->content_format = s->format;
    r->len = s->len;
    memcpy(r->body, body_of(s), s->len);
}

static void stored_write(const struct coap_request *q, struct stored *s, struct coap_response *r)
{
    const struct coap_msg *m = q->msg;
    if (coap_option(m, COAP_OPT_IF_NONE_MATCH) && s) {
        answer_error(r, COAP_PRECONDITION_FAILED, "the resource exists");
        return;
    }
    if (coap_option(m, COAP_OPT_IF_MATCH) && (!s || !any_etag(m, COAP_OPT_IF_MATCH, s->etag, 1))) {
        answer_error(r, COAP_PRECONDITION_FAILED, "the ETag does not match");
        return;
    }
    if (q->payload_len > LARGE_BODY) {
        answer_error(r, COAP_TOO_LARGE, "the body is larger than the server keeps");
        return;
    }
    uint32_t format = COAP_FORMAT_TEXT;
    coap_option_uint(m, COAP_OPT_CONTENT_FORMAT, &format);
    int created = !s;
    if (created) {
        s = new_stored(q->path);
    }
    store(s, q->payload, q->payload_len, (uint16_t)format);
    r->code = created ? COAP_CREATED : COAP_CHANGED;
    r->location = created && q->method == COAP_POST;
    set_etag(r, s->etag);
    coap_notify(s->path);
}

static void handle_stored(const struct coap_request *q, struct coap_response *r)
{
    struct stored *s = find_stored(q->path);
    switch (q->method) {
    case COAP_GET:
        if (!s) {
            answer_error(r, COAP_NOT_FOUND, "no such resource");
        } else {
            stored_get(q, s, r);
        }
        break;
    case COAP_PUT:
    case COAP_POST:
        stored_write(q, s, r);
        break;
    case COAP_DELETE:
        if (s) {
            remove_stored(s);
        }
        r->code = COAP_DELETED;
        break;
    default:
        method_not_allowed(r);
        break;
    }
}

/* --- the fixed resources ------------------------------------------------------------- */

#define OBS_PERIOD_MS 5000u
#define TICK_MS 1000u

static uint32_t obs_ticks, time_ticks, temp_ticks;
static uint32_t next_obs, next_tick;
static int led;

static void res_root(const struct coap_request *q, struct coap_response *r)
{
    if (q->method != COAP_GET) {
        method_not_allowed(r);
        return;
    }
    answer_text(r, COAP_CONTENT, COAP_FORMAT_TEXT, "hilt-fw " HILT_FW_VERSION " CoAP server");
}

static void res_separate(const struct coap_request *q, struct coap_response *r, uint32_t delay_s)
{
    if (!q->late) {
        r->separate_ms = delay_s * 1000u;
        return;
    }
    char text[48];
    fmt(text, sizeof text, "separate response after %u s", (unsigned)delay_s);
    answer_text(r, COAP_CONTENT, COAP_FORMAT_TEXT, text);
}

static void res_separate_fixed(const struct coap_request *q, struct coap_response *r)
{
    if (q->method != COAP_GET) {
        method_not_allowed(r);
        return;
    }
    res_separate(q, r, 1);
}

/* The delay is the query, in seconds (as libcoap's example server has it). The late
 * rendering has no query: the delay is not needed then. */
static void res_async(const struct coap_request *q, struct coap_response *r)
{
    if (q->method != COAP_GET) {
        method_not_allowed(r);
        return;
    }
    uint32_t delay = 1;
    const struct coap_option *o = coap_option(q->msg, COAP_OPT_URI_QUERY);
    if (o && !q->late) {
        delay = 0;
        for (unsigned i = 0; i < o->len; i++) {
            if (o->value[i] < '0' || o->value[i] > '9' || delay > 10) {
                answer_error(r, COAP_BAD_REQUEST, "the query is the delay in seconds, at most 10");
                return;
            }
            delay = delay * 10 + (uint32_t)(o->value[i] - '0');
        }
        if (delay > 10) {
            answer_error(r, COAP_BAD_REQUEST, "the query is the delay in seconds, at most 10");
            return;
        }
    }
    if (q->late) {
        answer_text(r, COAP_CONTENT, COAP_FORMAT_TEXT, "separate response");
        return;
    }
    r->separate_ms = delay * 1000u;
}

#define LARGE_LINES 80u
static void res_large(const struct coap_request *q, struct coap_response *r)
{
    if (q->method != COAP_GET) {
        method_not_allowed(r);
        return;
    }
    r->code = COAP_CONTENT;
    r->content_format = COAP_FORMAT_TEXT;
    r->len = 0;
    for (unsigned i = 0; i < LARGE_LINES; i++) {
        char line[32];
        size_t n = fmt(line, sizeof line, "%u hilt block-wise line\n", 1000u + i);
        memcpy(r->body + r->len, line, n);
        r->len += n;
    }
}

static void ticking(const struct coap_request *q, struct coap_response *r, const char *what, uint32_t ticks,
                    int con, uint32_t max_age)
{
    if (q->method != COAP_GET) {
        method_not_allowed(r);
        return;
    }
    char text[48];
    fmt(text, sizeof text, "%s %u", what, (unsigned)ticks);
    answer_text(r, COAP_CONTENT, COAP_FORMAT_TEXT, text);
    r->observable = 1;
    r->notify_con = con;
    r->has_max_age = 1;
    r->max_age = max_age;
}

static void res_obs(const struct coap_request *q, struct coap_response *r)
{
    ticking(q, r, "obs", obs_ticks, 1, OBS_PERIOD_MS / 1000u * 2u);
}

static void res_time(const struct coap_request *q, struct coap_response *r)
{
    ticking(q, r, "tick", time_ticks, 0, 2);
}

/* A simulated sensor: 20.0 °C rising by a tenth a second, back down after 5 degrees. */
static void res_temp(const struct coap_request *q, struct coap_response *r)
{
    if (q->method != COAP_GET) {
        method_not_allowed(r);
        return;
    }
    uint32_t tenths = 200u + temp_ticks % 50u;
    char text[16];
    fmt(text, sizeof text, "%u.%u", (unsigned)(tenths / 10u), (unsigned)(tenths % 10u));
    answer_text(r, COAP_CONTENT, COAP_FORMAT_TEXT, text);
    r->observable = 1;
    r->notify_con = 0;
    r->has_max_age = 1;
    r->max_age = 2;
}

static void res_led(const struct coap_request *q, struct coap_response *r)
{
    if (q->method == COAP_GET) {
        answer_text(r, COAP_CONTENT, COAP_FORMAT_TEXT, led ? "1" : "0");
        r->observable = 1;
        return;
    }
    if (q->method != COAP_PUT) {
        method_not_allowed(r);
        return;
    }
    if (q->payload_len != 1 || (q->payload[0] != '0' && q->payload[0] != '1')) {
        answer_error(r, COAP_BAD_REQUEST, "the LED takes \"0\" or \"1\"");
        return;
    }
    led = q->payload[0] == '1';
    r->code = COAP_CHANGED;
    coap_notify("/actuators/led");
}

static void res_text(const struct coap_request *q, struct coap_response *r, const char *text)
{
    if (q->method != COAP_GET) {
        method_not_allowed(r);
        return;
    }
    answer_text(r, COAP_CONTENT, COAP_FORMAT_TEXT, text);
}

static void res_link1(const struct coap_request *q, struct coap_response *r)
{
    res_text(q, r, "link1");
}
static void res_link2(const struct coap_request *q, struct coap_response *r)
{
    res_text(q, r, "link2");
}
static void res_link3(const struct coap_request *q, struct coap_response *r)
{
    res_text(q, r, "link3");
}
static void res_sub(const struct coap_request *q, struct coap_response *r)
{
    res_text(q, r, q->path);
}

static void res_path(const struct coap_request *q, struct coap_response *r)
{
    if (q->method != COAP_GET) {
        method_not_allowed(r);
        return;
    }
    answer_text(r, COAP_CONTENT, COAP_FORMAT_LINK, "</path/sub1>,</path/sub2>,</path/sub3>");
}

static void res_well_known(const struct coap_request *q, struct coap_response *r);

struct fixed {
    const char *path;
    const char *attrs; /* RFC 6690 attributes of its link, after the target */
    void (*handle)(const struct coap_request *, struct coap_response *);
};

static const struct fixed fixed[] = {
    {"/", ";ct=0", res_root},
    {"/separate", ";ct=0", res_separate_fixed},
    {"/async", ";ct=0", res_async},
    {"/large", ";ct=0;rt=\"block\";sz=2080", res_large},
    {"/obs", ";ct=0;obs;rt=\"observe\"", res_obs},
    {"/time", ";ct=0;obs;rt=\"ticks\"", res_time},
    {"/sensors/temp", ";ct=0;obs;rt=\"temperature-c\";if=\"sensor\"", res_temp},
    {"/actuators/led", ";ct=0;obs;rt=\"light\";if=\"actuator\"", res_led},
    {"/link1", ";ct=0;rt=\"Type1 Type2\";if=\"If1\";sz=5", res_link1},
    {"/link2", ";ct=0;rt=\"Type2 Type3\";if=\"If2\";sz=5", res_link2},
    {"/link3", ";ct=0;rt=\"Type1 Type3\";if=\"foo\";sz=5", res_link3},
    {"/path", ";ct=40", res_path},
    {"/path/sub1", ";ct=0", res_sub},
    {"/path/sub2", ";ct=0", res_sub},
    {"/path/sub3", ";ct=0", res_sub},
    {"/.well-known/core", NULL, res_well_known},
};

#define N_FIXED (sizeof fixed / sizeof fixed[0])

/* --- /.well-known/core (RFC 6690) ---------------------------------------------------- */

/* Whether `value` (n bytes) matches the query's `want`, where a trailing '*' makes
 * `want` a prefix (RFC 6690 §4.1). */
static int value_matches(const char *value, size_t n, const char *want, size_t want_len)
{
    if (want_len && want[want_len - 1] == '*') {
        return n >= want_len - 1 && !memcmp(value, want, want_len - 1);
    }
    return n == want_len && !memcmp(value, want, n);
}

/* Whether the link "<target>;attrs" matches the filter name[=value]. For relation
 * types (quoted, space-separated) any one word may match. */
static int link_matches(const char *link, const char *name, size_t name_len, const char *want, size_t want_len,
                        int has_value)
{
    const char *target_end = strchr(link, '>');
    if (name_len == 4 && !memcmp(name, "href", 4)) {
        return !has_value || value_matches(link + 1, (size_t)(target_end - link - 1), want, want_len);
    }
    for (const char *p = target_end + 1; *p == ';';) {
        const char *a = ++p;
        while (*p && *p != '=' && *p != ';') {
            p++;
        }
        int this_one = (size_t)(p - a) == name_len && !memcmp(a, name, name_len);
        if (*p != '=') {
            if (this_one && (!has_value || (want_len == 1 && want[0] == '*'))) {
                return 1;
            }
            continue;
        }
        p++;
        int quoted = *p == '"';
        const char *v = p + quoted;
        const char *end = v;
        while (*end && (quoted ? *end != '"' : *end != ';')) {
            end++;
        }
        p = end + (quoted && *end == '"');
        if (!this_one) {
            continue;
        }
        if (!has_value) {
            return 1;
        }
        /* Every word of the value: one for a token, several for a quoted list. */
        for (const char *w = v; w < end;) {
            const char *we = w;
            while (we < end && *we != ' ') {
                we++;
            }
            if (value_matches(w, (size_t)(we - w), want, want_len) ||
                (!quoted ? 0 : value_matches(v, (size_t)(end - v), want, want_len))) {
                return 1;
            }
            w = we + 1;
        }
    }
    return 0;
}

struct listing {
    struct coap_response *r;
    const char *name;
    size_t name_len;
    const char *want;
    size_t want_len;
    int has_filter, has_value;
};

static void list_link(struct listing *l, const char *path, const char *attrs_a, const char *attrs_b)
{
    char link[COAP_PATH_MAX + 96];
    size_t n = fmt(link, sizeof link, "<%s>%s%s", path, attrs_a, attrs_b);
    if (l->has_filter && !link_matches(link, l->name, l->name_len, l->want, l->want_len, l->has_value)) {
        return;
    }
    struct coap_response *r = l->r;
    if (r->len + 1 + n > COAP_REPR_MAX) {
        return; /* the listing is cut at what the server can render */
    }
    if (r->len) {
        r->body[r->len++] = ',';
    }
    memcpy(r->body + r->len, link, n);
    r->len += n;
}

static void res_well_known(const struct coap_request *q, struct coap_response *r)
{
    if (q->method != COAP_GET) {
        method_not_allowed(r);
        return;
    }
    struct listing l = {r, NULL, 0, NULL, 0, 0, 0};
    const struct coap_option *query = coap_option(q->msg, COAP_OPT_URI_QUERY);
    if (query && query->len) {
        const char *s = (const char *)query->value;
        const char *eq = memchr(s, '=', query->len);
        l.has_filter = 1;
        l.name = s;
        l.name_len = eq ? (size_t)(eq - s) : query->len;
        l.has_value = eq != NULL;
        l.want = eq ? eq + 1 : NULL;
        l.want_len = eq ? query->len - l.name_len - 1 : 0;
    }
    r->code = COAP_CONTENT;
    r->content_format = COAP_FORMAT_LINK;
    r->len = 0;
    for (unsigned i = 0; i < N_FIXED; i++) {
        if (fixed[i].attrs) {
            list_link(&l, fixed[i].path, fixed[i].attrs, "");
        }
    }
    for (unsigned i = 0; i < STORED_ENTRIES; i++) {
        if (stored[i].in_use) {
            char attrs[24];
            fmt(attrs, sizeof attrs, ";ct=%u", (unsigned)stored[i].format);
            list_link(&l, stored[i].path, attrs, ";obs");
        }
    }
}

/* --- dispatch -------------------------------------------------------------------------- */

void resources_init(void)
{
    memset(stored, 0, sizeof stored);
    preload("/test", "plugtest /test");
    preload("/seg1/seg2/seg3", "plugtest /seg1/seg2/seg3");
    preload("/query", "plugtest /query");
    uint32_t now = clock_ms();
    next_obs = now + OBS_PERIOD_MS;
    next_tick = now + TICK_MS;
}

void resources_handle(const struct coap_request *q, struct coap_response *r)
{
    for (unsigned i = 0; i < N_FIXED; i++) {
        if (!strcmp(fixed[i].path, q->path)) {
            fixed[i].handle(q, r);
            return;
        }
    }
    handle_stored(q, r);
}

void resources_poll(uint32_t now)
{
    if (clock_due(now, next_obs)) {
        next_obs += OBS_PERIOD_MS;
        obs_ticks++;
        coap_notify("/obs");
    }
    if (clock_due(now, next_tick)) {
        next_tick += TICK_MS;
        time_ticks++;
        temp_ticks++;
        coap_notify("/time");
        coap_notify("/sensors/temp");
    }
}
