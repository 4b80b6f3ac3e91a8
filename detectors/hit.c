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

/* Evidence copy: whole if it fits, else cut (UTF-8 safe) and ended with "...",
 * so a cut JID never reads as another valid JID. */
static void copy_evidence(char *dst, size_t cap, const char *s, size_t len)
{
    if (s != NULL && len >= cap && cap > 4) {
        copy_text(dst, cap - 3, s, len);
        strcat(dst, "...");
        return;
    }
    copy_text(dst, cap, s, len);
}

static size_t bare_len(const struct sw_jid *j)
{
    /* bare = local@domain or domain: everything before the resource. */
    size_t n = (size_t)j->domain_off + j->domain_len;
    return n > j->len ? j->len : n;
}

size_t sw_jid_copy_bare(char *dst, size_t cap, const struct sw_jid *j)
{
    if (j == NULL || j->text == NULL || cap == 0 || bare_len(j) >= cap) {
        if (cap > 0) {
            dst[0] = '\0';
        }
        return 0;
    }
    size_t n = bare_len(j);
    memcpy(dst, j->text, n);
    dst[n] = '\0';
    return n;
}

static void copy_bare_evidence(char *dst, size_t cap, const struct sw_jid *j)
{
    copy_evidence(dst, cap, j->text, j->text != NULL ? bare_len(j) : 0);
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
    sw_jid_copy_bare(h->offender, sizeof(h->offender), &ev->from);
    const uint32_t muc =
        SW_F_MUC_GROUPCHAT | SW_F_MUC_PRESENCE | SW_F_MUC_JOIN | SW_F_MUC_LEAVE | SW_F_MUC_PM;
    if ((ev->flags & muc) != 0) {
        copy_bare_evidence(h->room, sizeof(h->room), &ev->to);
    } else if (ev->to.local_len > 0) {
        copy_bare_evidence(h->target, sizeof(h->target), &ev->to);
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
    if (s == NULL || len >= sizeof(h->offender)) {
        h->offender[0] = '\0'; /* never cut an identity */
        return;
    }
    memcpy(h->offender, s, len);
    h->offender[len] = '\0';
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
