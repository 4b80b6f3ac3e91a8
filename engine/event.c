/*
 * event.c - struct sw_event helpers: JID splitting and hashing, packing an
 * event's strings into a caller arena, kind/type names.
 *
 * Design: the XML layer fills an event whose strings point into its scratch
 * buffers; sw_event_pack() copies those strings into one contiguous arena of
 * the batch carrying the event (NUL-terminated, JID views are offsets so they
 * stay valid). No allocation; pure functions, reentrant.
 */
#include "sw/xml.h"

#include <string.h>

#include "xml_int.h"

static const char *const type_names[SW_T__COUNT] = {
    [SW_T_NORMAL] = "normal",
    [SW_T_CHAT] = "chat",
    [SW_T_GROUPCHAT] = "groupchat",
    [SW_T_HEADLINE] = "headline",
    [SW_T_ERROR] = "error",
    [SW_T_AVAILABLE] = "available",
    [SW_T_UNAVAILABLE] = "unavailable",
    [SW_T_SUBSCRIBE] = "subscribe",
    [SW_T_SUBSCRIBED] = "subscribed",
    [SW_T_UNSUBSCRIBE] = "unsubscribe",
    [SW_T_UNSUBSCRIBED] = "unsubscribed",
    [SW_T_PROBE] = "probe",
    [SW_T_GET] = "get",
    [SW_T_SET] = "set",
    [SW_T_RESULT] = "result",
    [SW_T_OTHER] = "other",
};

const char *sw_ev_type_name(unsigned type)
{
    return type < SW_T__COUNT ? type_names[type] : "unknown";
}

const char *sw_ev_kind_name(unsigned kind)
{
    switch (kind) {
    case SW_EV_MESSAGE:
        return "message";
    case SW_EV_PRESENCE:
        return "presence";
    case SW_EV_IQ:
        return "iq";
    default:
        return "unknown";
    }
}

/* ASCII lower-case @n bytes, 8 at a time: a byte gets 0x20 added iff it is in
 * 'A'..'Z' (bytes >= 0x80 are left alone), no carries cross bytes. Returns
 * non-zero if any byte changed. */
static inline uint64_t fold_word(uint64_t w, uint64_t *changed)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t b = w & (ones * 0x7f);
    const uint64_t ge_a = b + ones * (0x80 - 'A'); /* high bit: b >= 'A' */
    const uint64_t gt_z = b + ones * (0x7f - 'Z'); /* high bit: b > 'Z' */
    const uint64_t up = ge_a & ~gt_z & ~w & (ones * 0x80);
    *changed |= up;
    return w | (up >> 2);
}

static int fold_ascii(char *dst, const char *src, size_t n)
{
    uint64_t changed = 0, w;
    size_t i = 0;
    if (n >= 8) {
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, src + i, 8);
            w = fold_word(w, &changed);
            memcpy(dst + i, &w, 8);
        }
        if (i < n) {
            /* last, overlapping word: refolding bytes from src is idempotent */
            memcpy(&w, src + n - 8, 8);
            w = fold_word(w, &changed);
            memcpy(dst + n - 8, &w, 8);
        }
        return changed != 0;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        int up = c >= 'A' && c <= 'Z';
        changed |= (uint64_t)up;
        dst[i] = (char)(up ? c + 32 : c);
    }
    return changed != 0;
}

void sw_jid_parse(struct sw_jid *j, const char *text, size_t len)
{
    char low[256];
    memset(j, 0, sizeof(*j));
    j->text = text != NULL ? text : "";
    if (text == NULL || len == 0) {
        return;
    }
    if (len > UINT16_MAX) {
        len = UINT16_MAX;
    }
    j->len = (uint16_t)len;
    /* RFC 7622: the resource starts at the first '/'; the local part ends at the
     * first '@' before it. */
    const char *slash = memchr(text, '/', len);
    size_t bare_len = slash != NULL ? (size_t)(slash - text) : len;
    const char *at = memchr(text, '@', bare_len);
    size_t dom_off = at != NULL ? (size_t)(at - text) + 1 : 0;
    j->local_len = (uint16_t)(at != NULL ? (size_t)(at - text) : 0);
    j->domain_off = (uint16_t)dom_off;
    j->domain_len = (uint16_t)(bare_len - dom_off);
    if (slash != NULL) {
        j->res_off = (uint16_t)(bare_len + 1);
        j->res_len = (uint16_t)(len - bare_len - 1);
    }
    /* Fold once: sw_hash64 of folded bytes == sw_hash64_lower. Equal inputs
     * give equal hashes, so a domain JID's domain hash is its bare hash, and a
     * bare JID already in lower case has full == bare. */
    int changed = 1;
    if (bare_len <= sizeof(low)) {
        changed = fold_ascii(low, text, bare_len);
        j->bare = sw_hash64(low, bare_len);
        j->domain = dom_off == 0 ? j->bare : sw_hash64(low + dom_off, bare_len - dom_off);
    } else {
        j->bare = sw_hash64_lower(text, bare_len);
        j->domain = sw_hash64_lower(text + dom_off, bare_len - dom_off);
    }
    j->full = slash == NULL && !changed ? j->bare : sw_hash64(text, len);
}

static size_t str_size(const char *s, size_t len)
{
    (void)s;
    return len + 1;
}

size_t sw_event_text_size(const struct sw_event *ev)
{
    return str_size(ev->from.text, ev->from.len) + str_size(ev->to.text, ev->to.len) +
           str_size(ev->id, ev->id_len) + str_size(ev->body, ev->body_len) +
           str_size(ev->subject, ev->subject_len) + str_size(ev->status, ev->status_len) +
           str_size(ev->nick, ev->nick_len);
}

static const char *copy_str(const char *s, size_t len, char *arena, size_t *used)
{
    char *d = arena + *used;
    sw_copy_short(d, s, len); /* (s may be NULL when len is 0: nothing read) */
    d[len] = '\0';
    *used += len + 1;
    return d;
}

size_t sw_event_pack(const struct sw_event *src, struct sw_event *dst, char *arena)
{
    size_t used = 0;
    /* The copies first, while src's pointers are intact (src and dst may be
     * the same event); then the struct is copied once, straight to dst (a
     * copy through a temporary was two ~260-byte copies per event). */
    const char *from = copy_str(src->from.text, src->from.len, arena, &used);
    const char *to = copy_str(src->to.text, src->to.len, arena, &used);
    const char *id = copy_str(src->id, src->id_len, arena, &used);
    const char *body = copy_str(src->body, src->body_len, arena, &used);
    const char *subject = copy_str(src->subject, src->subject_len, arena, &used);
    const char *status = copy_str(src->status, src->status_len, arena, &used);
    const char *nick = copy_str(src->nick, src->nick_len, arena, &used);
    if (dst != src) {
        *dst = *src;
    }
    dst->from.text = from;
    dst->to.text = to;
    dst->id = id;
    dst->body = body;
    dst->subject = subject;
    dst->status = status;
    dst->nick = nick;
    return used;
}
