/*
 * cls_history.h - the classifier detector's per-sender history: how many of a
 * sender's recent scored messages were judged ham and how many spam. Private
 * to detectors/classifier.c.
 *
 * Why: the model judges one message at a time, and ordinary chat crosses the
 * threshold now and then (about 0.6% of swgen's benign lines at 0.97: text
 * made of generic words the mail corpus calls spammy). One such line from a
 * sender who has been posting ham all along (a room regular, a bridge bot
 * relaying hundreds of lines) is noise, not a spam signal, but as a 0.6 half
 * signal it reported a bridge bot together with muc_flood.rate_long (swgen
 * seed 951). So a spammy line only becomes classifier.spam when the sender's
 * history does not contradict it: fewer than `history_min` scored messages
 * (fresh senders, thin waves, raiders: every hit counts as before) or a spam
 * share of at least `history_share` (a compromised account that keeps
 * posting spam gets there after a few lines). The content rules are not
 * affected: a regular posting lures is still caught by them.
 *
 * Structure: CLS_HIST_SLOTS 16-byte slots per worker (the detector is sharded
 * by sender, so one sender's messages all land on one worker) in sets of
 * CLS_HIST_WAYS (one 64-byte line), the set chosen by the low bits of the
 * sender's bare-JID hash, the slot by a tag of its high bits; a new sender
 * takes the set's least recently used slot (its owner's history restarts,
 * which only makes it look fresh). Direct-mapped slots lost a busy bridge's
 * history to every line of a colliding sender (about one sender in eight
 * shares a slot with another at 9,000 accounts). A slot idle for
 * CLS_HIST_IDLE_S restarts too; the counts halve together when ham reaches
 * 2^15, so they describe the recent mix. Bounded: 1 MiB per worker.
 *
 * Threading: the array belongs to one worker's local state; no sharing.
 */
#ifndef SW_DET_CLS_HISTORY_H
#define SW_DET_CLS_HISTORY_H
#include <stdbool.h>
#include <stdint.h>

#define CLS_HIST_BITS 16
#define CLS_HIST_SLOTS (1u << CLS_HIST_BITS)
#define CLS_HIST_WAYS 4
#define CLS_HIST_IDLE_S 3600u

struct cls_hist_slot {
    uint32_t tag;  /* high half of the sender hash | 1; 0 = empty */
    uint32_t last; /* stream seconds of the sender's last scored message */
    uint32_t ham, spam;
};

/* The set of sender @bare in @tab: its 64-byte line. */
static inline struct cls_hist_slot *cls_hist_set(struct cls_hist_slot *tab, uint64_t bare)
{
    return &tab[(bare & (CLS_HIST_SLOTS / CLS_HIST_WAYS - 1u)) * CLS_HIST_WAYS];
}

/**
 * Count one scored message of the sender @bare (its JID hash) at @t_ms, spammy
 * when @spammy; a sender active within the hour pushed out of a full set
 * counts in *@evictions (the detector's stats; only then can the outcome
 * depend on how senders are spread over workers). Returns true when a spammy
 * message is a signal: the sender had fewer than @min scored messages before
 * it, or its spam share (this one included) is at least @share.
 */
static inline bool cls_hist_count(struct cls_hist_slot *tab, uint64_t bare, int64_t t_ms,
                                  bool spammy, unsigned min, double share, uint64_t *evictions)
{
    struct cls_hist_slot *set = cls_hist_set(tab, bare);
    uint32_t tag = (uint32_t)(bare >> 32) | 1u;
    uint32_t now = t_ms > 0 ? (uint32_t)(t_ms / 1000) : 0;
    struct cls_hist_slot *s = NULL, *lru = &set[0];
    for (unsigned i = 0; i < CLS_HIST_WAYS; i++) {
        if (set[i].tag == tag) {
            s = &set[i];
            break;
        }
        if (set[i].tag == 0 || (lru->tag != 0 && set[i].last < lru->last)) {
            lru = &set[i];
        }
    }
    if (s == NULL || (now > s->last && now - s->last > CLS_HIST_IDLE_S)) {
        if (s == NULL && lru->tag != 0 && !(now > lru->last && now - lru->last > CLS_HIST_IDLE_S)) {
            ++*evictions; /* an active sender's history lost: the set is full */
        }
        s = s != NULL ? s : lru;
        s->tag = tag;
        s->ham = s->spam = 0;
    }
    s->last = now;
    if (!spammy) {
        if (++s->ham >= (1u << 15)) {
            s->ham /= 2;
            s->spam /= 2;
        }
        return false;
    }
    uint32_t before = s->ham + s->spam;
    s->spam++;
    return before < min || (double)s->spam >= share * (double)(before + 1);
}
#endif
