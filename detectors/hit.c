/*
 * hit.c - helpers that fill a struct sw_hit from an event (detector.h).
 *
 * Hits are rare compared to events, so these helpers favour clarity over
 * speed: the whole hit is zeroed, then every text field is copied in with a
 * bounded, NUL-terminated copy that never splits a UTF-8 sequence. Nothing in
 * a hit points into the event's batch arena afterwards (symbol, detector and
 * kind are static strings owned by the detector).
 *
 * Thread-safety: pure functions on caller memory, reentrant.
 */
#include "sw/detector.h"

#include <string.h>

/* Copy at most cap-1 bytes of @s (@len bytes) into @dst, cutting before a
 * UTF-8 continuation byte so the result stays valid UTF-8 when @s is. */
static void copy_text(char *dst, size_t cap, const char *s, size_t len)
{
    if (s == NULL || cap == 0) {
        if (cap > 0) {
            dst[0] = '\0';
        }
        return;
    }
    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0u) == 0x80u) {
            len--;
        }
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
}

void sw_jid_copy_bare(char *dst, const struct sw_jid *j)
{
    if (j == NULL || j->text == NULL) {
        dst[0] = '\0';
        return;
    }
    /* bare = local@domain or domain: everything before the resource. */
    size_t n = (size_t)j->domain_off + j->domain_len;
    if (n > j->len) {
        n = j->len;
    }
    copy_text(dst, SW_JID_TEXT, j->text, n);
}

void sw_hit_init(struct sw_hit *h, const char *detector, const char *symbol, const char *kind,
                 const struct sw_event *ev)
{
    memset(h, 0, sizeof(*h));
    h->detector = detector;
    h->symbol = symbol;
    h->kind = kind;
    h->weight_milli = 1000;
    h->offender_kind = SW_OFFENDER_ACCOUNT;
    if (ev == NULL) {
        return;
    }
    h->ev_seq = ev->seq;
    h->t_ms = ev->t_ms;
    h->first_ms = ev->t_ms;
    sw_jid_copy_bare(h->offender, &ev->from);
    const uint32_t muc =
        SW_F_MUC_GROUPCHAT | SW_F_MUC_PRESENCE | SW_F_MUC_JOIN | SW_F_MUC_LEAVE | SW_F_MUC_PM;
    if ((ev->flags & muc) != 0) {
        sw_jid_copy_bare(h->room, &ev->to);
    } else if (ev->to.local_len > 0) {
        sw_jid_copy_bare(h->target, &ev->to);
    }
    if (ev->id != NULL) {
        copy_text(h->stanza_id, sizeof(h->stanza_id), ev->id, ev->id_len);
    }
    if (ev->body != NULL && ev->body_len > 0) {
        copy_text(h->body, sizeof(h->body), ev->body, ev->body_len);
    }
}

void sw_hit_set_offender(struct sw_hit *h, enum sw_offender_kind k, const char *s, size_t len)
{
    h->offender_kind = (uint8_t)k;
    copy_text(h->offender, sizeof(h->offender), s, len);
}

void sw_hit_add_value(struct sw_hit *h, const char *name, int64_t value)
{
    if (h->n_values >= SW_HIT_MAX_VALUES) {
        return;
    }
    h->values[h->n_values].name = name;
    h->values[h->n_values].value = value;
    h->n_values++;
}
