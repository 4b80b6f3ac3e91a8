/*
 * share_lists.c - what the share side consumes: block lists and feeds of
 * others (share.sources), kept as sorted binary SHA-256 ids per source and
 * persisted in state_dir/source-<name>.list (rewritten whole, atomically, on
 * a full resync at once and otherwise at most once per tick), and XEP-0377
 * spam reports forwarded by the local server (share.reports_from), kept per
 * account with their distinct reporters in a fixed table and persisted in
 * state_dir/reports.state (atomic rewrite at most once per tick when a report
 * came in, and at exit; loaded at start), so a restart keeps the reports that
 * are still live: a crash loses at most the last second's.
 * sw_share_listed_weight() turns both into the weight of the aggregator's
 * share.listed symbol.
 *
 * reports.state: "SWREPORTS1\n", then per account "H LAST_MS" and one
 * " WHO:WHEN_MS" per reporter still within report_ttl (H, WHO: 16 hex digits,
 * the XXH3 of the lower-cased bare JIDs; no JID is written).
 *
 * Threading: src_mu guards the lists and the report table; the aggregator
 * thread reads (listed weight), the reporter thread writes (pubsub events,
 * resyncs, reports). Design: include/sw/share.h.
 */
#include "sw/share.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reporter_int.h"
#include "share_int.h"
#include "sw/log.h"

#define LIST_MAGIC "SWLIST1"
#define REPORTS_FILE "reports.state"
#define REPORTS_MAGIC "SWREPORTS1"

/* ---- consumed lists ---- */

static int hex_to_bin(const char *hex, uint8_t out[32])
{
    for (int i = 0; i < 32; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0) {
                return SW_EINVAL;
            }
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return hex[64] == '\0' || hex[64] == '\n' || hex[64] == '\r' ? 0 : SW_EINVAL;
}

/* Index of @id in @l, or -(insertion point)-1. */
static ssize_t src_search(const struct share_src *l, const uint8_t id[32])
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(l->ids[mid], id, 32);
        if (c == 0) {
            return (ssize_t)mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -(ssize_t)lo - 1;
}

static bool src_add(struct share_src *l, const uint8_t id[32])
{
    ssize_t at = src_search(l, id);
    if (at >= 0) {
        return false;
    }
    size_t pos = (size_t)(-at - 1);
    if (l->n >= SW_SHARE_MAX_LIST) {
        return false; /* a source cannot grow our memory without bound */
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        uint8_t(*v)[32] = realloc(l->ids, cap * 32);
        if (v == NULL) {
            return false;
        }
        l->ids = v;
        l->cap = cap;
    }
    memmove(l->ids[pos + 1], l->ids[pos], (l->n - pos) * 32);
    memcpy(l->ids[pos], id, 32);
    l->n++;
    return true;
}

static bool src_del(struct share_src *l, const uint8_t id[32])
{
    ssize_t at = src_search(l, id);
    if (at < 0) {
        return false;
    }
    memmove(l->ids[at], l->ids[at + 1], (l->n - (size_t)at - 1) * 32);
    l->n--;
    return true;
}

static void list_name(const struct sw_share_source *src, char *buf, size_t cap)
{
    snprintf(buf, cap, "source-%s.list", src->name);
}

void sw_share_list_load(struct sw_share *sh, size_t i)
{
    const struct sw_share_source *src = sw_share_source_at(sh, i);
    char name[300], *b = NULL;
    list_name(src, name, sizeof(name));
    if (sw_share_read_all(sh->s->state_dir, name, &b) != 0) {
        return;
    }
    char *save = NULL, *line = strtok_r(b, "\n", &save);
    long long synced = 0;
    if (line != NULL && sscanf(line, LIST_MAGIC " %lld", &synced) == 1) {
        sh->src[i].synced_ms = synced;
        uint8_t id[32];
        while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
            if (strlen(line) == 64 && hex_to_bin(line, id) == 0) {
                src_add(&sh->src[i], id);
            }
        }
        sw_log_info("share", "source %s: %zu entries loaded from %s (synced %lld s ago)", src->name,
                    sh->src[i].n, name,
                    synced ? (long long)((sw_wall_ms() - synced) / 1000) : -1LL);
    }
    free(b);
}

void sw_share_list_save_locked(struct sw_share *sh, size_t i)
{
    const struct sw_share_source *src = sw_share_source_at(sh, i);
    struct share_src *l = &sh->src[i];
    size_t len = 0, cap = 32 + l->n * 65;
    char *buf = malloc(cap), name[300];
    if (buf == NULL) {
        return;
    }
    len = (size_t)snprintf(buf, cap, "%s %lld\n", LIST_MAGIC, (long long)l->synced_ms);
    static const char hex[] = "0123456789abcdef";
    for (size_t k = 0; k < l->n; k++) {
        for (int j = 0; j < 32; j++) {
            buf[len++] = hex[l->ids[k][j] >> 4];
            buf[len++] = hex[l->ids[k][j] & 15];
        }
        buf[len++] = '\n';
    }
    list_name(src, name, sizeof(name));
    if (sw_share_write_atomic(sh->s->state_dir, name, buf, len) != 0) {
        sw_log_error("share", "%s/%s: cannot write the list", sh->s->state_dir, name);
    } else {
        l->dirty = false;
    }
    free(buf);
}

size_t sw_share_n_sources(struct sw_share *sh)
{
    return sh->s->sources.n;
}

const struct sw_share_source *sw_share_source_at(struct sw_share *sh, size_t i)
{
    return &((const struct sw_share_source *)sh->s->sources.items)[i];
}

int sw_share_source_find(struct sw_share *sh, const char *service, const char *node)
{
    char bare[SW_JID_TEXT];
    sw_share_copy(bare, sizeof(bare), service);
    char *slash = strchr(bare, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    for (size_t i = 0; i < sw_share_n_sources(sh); i++) {
        const struct sw_share_source *s = sw_share_source_at(sh, i);
        if (strcasecmp(s->service, bare) == 0 && node != NULL && strcmp(s->node, node) == 0) {
            return (int)i;
        }
    }
    return -1;
}

void sw_share_source_item(struct sw_share *sh, size_t i, const char *id, bool add)
{
    uint8_t bin[32];
    if (id == NULL || strlen(id) != 64 || hex_to_bin(id, bin) != 0) {
        return; /* not a hash: nothing a lookup could match */
    }
    pthread_mutex_lock(&sh->src_mu);
    bool changed = add ? src_add(&sh->src[i], bin) : src_del(&sh->src[i], bin);
    sh->src[i].dirty |= changed;
    pthread_mutex_unlock(&sh->src_mu);
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

void sw_share_source_replace(struct sw_share *sh, size_t i, const char *const *ids, size_t n)
{
    /* decode all, sort once, drop duplicates: O(n log n) for a full list */
    struct share_src fresh = {0};
    if (n > SW_SHARE_MAX_LIST) {
        n = SW_SHARE_MAX_LIST;
    }
    fresh.ids = n ? malloc(n * 32) : NULL;
    if (n > 0 && fresh.ids == NULL) {
        sw_log_error("share", "source %s: out of memory for %zu entries: list kept",
                     sw_share_source_at(sh, i)->name, n);
        return;
    }
    fresh.cap = n;
    for (size_t k = 0; k < n; k++) {
        if (ids[k] != NULL && strlen(ids[k]) == 64 && hex_to_bin(ids[k], fresh.ids[fresh.n]) == 0) {
            fresh.n++;
        }
    }
    if (fresh.n > 1) { /* qsort(NULL, 0, ...) is undefined (an empty list) */
        qsort(fresh.ids, fresh.n, 32, cmp_id);
    }
    size_t w = 0;
    for (size_t k = 0; k < fresh.n; k++) {
        if (w == 0 || memcmp(fresh.ids[w - 1], fresh.ids[k], 32) != 0) {
            memmove(fresh.ids[w++], fresh.ids[k], 32);
        }
    }
    fresh.n = w;
    pthread_mutex_lock(&sh->src_mu);
    free(sh->src[i].ids);
    fresh.synced_ms = sw_wall_ms();
    fresh.dirty = true;
    sh->src[i] = fresh;
    sw_share_list_save_locked(sh, i); /* a full sync is worth writing at once */
    pthread_mutex_unlock(&sh->src_mu);
    sw_log_info("share", "source %s: full sync, %zu entries", sw_share_source_at(sh, i)->name,
                fresh.n);
}

/* ---- XEP-0377 reports ---- */

static uint64_t bare_hash(const char *jid)
{
    size_t n = strcspn(jid, "/");
    uint64_t h = sw_hash64_lower(jid, n);
    return h ? h : 1; /* 0 marks a free slot */
}

static bool jid_in(const struct sw_conf_strlist *l, const char *jid)
{
    size_t n = strcspn(jid, "/");
    for (size_t i = 0; i < l->n; i++) {
        if (strlen(l->v[i]) == n && strncasecmp(l->v[i], jid, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Slot of @h (found or to use: a free one, else the least recently reported
 * in its probe window). Caller holds src_mu. */
static struct share_report *report_slot(struct sw_share *sh, uint64_t h, bool create)
{
    struct share_report *oldest = NULL;
    for (size_t i = 0; i < 16; i++) {
        struct share_report *r = &sh->reports[(h + i) & (SHARE_REPORT_SLOTS - 1)];
        if (r->h == h) {
            return r;
        }
        if (r->h == 0) {
            return create ? r : NULL;
        }
        if (oldest == NULL || r->last_ms < oldest->last_ms) {
            oldest = r;
        }
    }
    if (create) {
        memset(oldest, 0, sizeof(*oldest));
    }
    return create ? oldest : NULL;
}

bool sw_share_report(struct sw_share *sh, const char *from, const char *offender,
                     const char *reporter, const char *reason, int64_t now_ms)
{
    if (sh->reports == NULL || from == NULL || !jid_in(&sh->s->reports_from, from)) {
        sw_share_bump(&sh->st.reports_refused);
        return false;
    }
    if (offender == NULL || strchr(offender, '@') == NULL) {
        return true; /* trusted, but only accounts are counted */
    }
    uint64_t h = bare_hash(offender), who = bare_hash(reporter ? reporter : from);
    size_t n_live = 0;
    pthread_mutex_lock(&sh->src_mu);
    struct share_report *r = report_slot(sh, h, true);
    r->h = h;
    r->last_ms = now_ms;
    size_t k = 0, oldest = 0;
    for (; k < SHARE_REPORTERS && r->who[k] != who; k++) {
        if (r->when[k] < r->when[oldest]) {
            oldest = k;
        }
    }
    if (k == SHARE_REPORTERS) {
        k = oldest;
    }
    r->who[k] = who;
    r->when[k] = now_ms;
    sh->reports_dirty = true;
    for (size_t i = 0; i < SHARE_REPORTERS; i++) {
        n_live += r->who[i] != 0 && now_ms - r->when[i] < sh->s->report_ttl_ms;
    }
    pthread_mutex_unlock(&sh->src_mu);
    sw_share_bump(&sh->st.reports_in);
    char clean[SW_OFFENDER_TEXT], rclean[SW_JID_TEXT], rbare[SW_JID_TEXT];
    sw_share_bare(rbare, sizeof(rbare), reporter ? reporter : from);
    sw_log_info("share", "XEP-0377 report (%s) on %s by %s, forwarded by %s: %zu live reporter(s)",
                reason ? reason : "no reason", sw_iodef_clean(clean, sizeof(clean), offender),
                sw_iodef_clean(rclean, sizeof(rclean), rbare), from, n_live);
    return true;
}

void sw_share_reports_save_locked(struct sw_share *sh, int64_t now_ms)
{
    if (sh->reports == NULL) {
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        return;
    }
    fputs(REPORTS_MAGIC "\n", f);
    size_t n = 0;
    for (size_t i = 0; i < SHARE_REPORT_SLOTS; i++) {
        const struct share_report *r = &sh->reports[i];
        bool head = false;
        for (size_t k = 0; r->h != 0 && k < SHARE_REPORTERS; k++) {
            if (r->who[k] == 0 || now_ms - r->when[k] >= sh->s->report_ttl_ms) {
                continue;
            }
            if (!head) {
                fprintf(f, "%016" PRIx64 " %" PRId64, r->h, r->last_ms);
                head = true;
                n++;
            }
            fprintf(f, " %016" PRIx64 ":%" PRId64, r->who[k], r->when[k]);
        }
        if (head) {
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return;
    }
    if (sw_share_write_atomic(sh->s->state_dir, REPORTS_FILE, buf, len) != 0) {
        sw_log_error("share", "%s/%s: cannot write the XEP-0377 reports", sh->s->state_dir,
                     REPORTS_FILE);
    } else {
        sh->reports_dirty = false;
    }
    free(buf);
}

void sw_share_reports_load(struct sw_share *sh, int64_t now_ms)
{
    char *b = NULL;
    if (sh->reports == NULL || sw_share_read_all(sh->s->state_dir, REPORTS_FILE, &b) != 0) {
        return;
    }
    char *save = NULL, *line = strtok_r(b, "\n", &save);
    size_t accounts = 0, reporters = 0;
    if (line == NULL || strcmp(line, REPORTS_MAGIC) != 0) {
        sw_log_warn("share", "%s/%s: not a reports file: ignored", sh->s->state_dir, REPORTS_FILE);
        free(b);
        return;
    }
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char *p = line, *end;
        uint64_t h = strtoull(p, &end, 16);
        if (end == p || h == 0 || *end != ' ') {
            continue;
        }
        int64_t last = strtoll(end + 1, &end, 10);
        struct share_report *r = report_slot(sh, h, true);
        memset(r, 0, sizeof(*r));
        r->h = h;
        r->last_ms = last;
        size_t k = 0;
        while (*end == ' ' && k < SHARE_REPORTERS) {
            p = end + 1;
            uint64_t who = strtoull(p, &end, 16);
            if (end == p || *end != ':') {
                break;
            }
            int64_t when = strtoll(end + 1, &end, 10);
            if (who != 0 && now_ms - when < sh->s->report_ttl_ms) {
                r->who[k] = who;
                r->when[k++] = when;
            }
        }
        if (k == 0) {
            r->h = 0; /* all expired meanwhile */
            continue;
        }
        accounts++;
        reporters += k;
    }
    free(b);
    sw_log_info("share", "XEP-0377 reports: %zu account(s), %zu live report(s) loaded from %s",
                accounts, reporters, REPORTS_FILE);
}

int64_t sw_share_report_weight(struct sw_share *sh, const char *offender, int64_t now_ms)
{
    if (sh->reports == NULL || strchr(offender, '@') == NULL) {
        return 0;
    }
    int64_t n = 0;
    pthread_mutex_lock(&sh->src_mu);
    struct share_report *r = report_slot(sh, bare_hash(offender), false);
    for (size_t i = 0; r != NULL && i < SHARE_REPORTERS; i++) {
        n += r->who[i] != 0 && now_ms - r->when[i] < sh->s->report_ttl_ms;
    }
    pthread_mutex_unlock(&sh->src_mu);
    if (n > sh->s->report_max) {
        n = sh->s->report_max;
    }
    return (int64_t)llround((double)n * sh->s->report_weight * sh->s->listed_score * 1000.0);
}

int64_t sw_share_listed_weight(void *ctx, const char *offender)
{
    struct sw_share *sh = ctx;
    if (sh == NULL || offender == NULL) {
        return 0;
    }
    int64_t reported = sw_share_report_weight(sh, offender, sw_wall_ms());
    if (sw_share_n_sources(sh) == 0) {
        return reported;
    }
    char h1[65], h2[65];
    uint8_t b1[32], b2[32];
    bool have2 = false;
    if (sw_share_rtbl_hash(offender, h1) != 0 || hex_to_bin(h1, b1) != 0) {
        return 0;
    }
    const char *at = strchr(offender, '@');
    if (at != NULL && sw_share_rtbl_hash(at + 1, h2) == 0 && hex_to_bin(h2, b2) == 0) {
        have2 = true;
    }
    double w = 0;
    pthread_mutex_lock(&sh->src_mu);
    for (size_t i = 0; i < sw_share_n_sources(sh); i++) {
        if (src_search(&sh->src[i], b1) >= 0 || (have2 && src_search(&sh->src[i], b2) >= 0)) {
            w += sw_share_source_at(sh, i)->weight;
        }
    }
    pthread_mutex_unlock(&sh->src_mu);
    return (int64_t)llround(w * sh->s->listed_score * 1000.0) + reported;
}

int sw_share_source_stats(struct sw_share *sh, size_t i, const char **name, uint64_t *items,
                          int64_t *synced_ms)
{
    if (i >= sw_share_n_sources(sh)) {
        return SW_ENOENT;
    }
    *name = sw_share_source_at(sh, i)->name;
    pthread_mutex_lock(&sh->src_mu);
    *items = sh->src[i].n;
    *synced_ms = sh->src[i].synced_ms;
    pthread_mutex_unlock(&sh->src_mu);
    return 0;
}
