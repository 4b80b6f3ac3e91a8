/*
 * gen_world.c - swgen's world: domains, accounts with symmetric contact
 * lists, rooms at one MUC service with Zipf-sized occupant lists, and the
 * pickers scenarios and background draw from. See gen.h.
 *
 * Background population (gen_build_world): accounts on a.test (main server),
 * b.test, c.example, d.example; contacts mostly near in index (friend
 * circles), some people with many; the first rooms are the biggest.
 * Scenario accounts (gen_fresh_acct, bots) are appended after the background
 * ones (gen->n_bg) and never moved by background processes.
 *
 * Threading: single-threaded; every function takes the state explicitly.
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_text.h"

size_t gen_add_domain(struct gen *g, const char *d)
{
    g->domains = realloc(g->domains, (g->n_domains + 1) * sizeof(char *));
    g->domains[g->n_domains] = strdup(d);
    return g->n_domains++;
}

int32_t gen_add_acct(struct gen *g, const char *name, size_t dom, bool bg)
{
    if (g->n_acct == g->cap_acct) {
        g->cap_acct = g->cap_acct ? g->cap_acct * 2 : 1024;
        g->acct = realloc(g->acct, g->cap_acct * sizeof(*g->acct));
        if (g->acct == NULL) {
            fprintf(stderr, "swgen: out of memory\n");
            exit(1);
        }
    }
    struct gen_acct *a = &g->acct[g->n_acct];
    memset(a, 0, sizeof(*a));
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->dom = (uint16_t)dom;
    a->res = (uint8_t)gen_rndu(g, 8);
    a->bg = bg ? 1 : 0;
    return (int32_t)g->n_acct++;
}

static void make_name(struct gen *g, char *dst, size_t cap, uint64_t salt)
{
    static const char *const on[] = {"b", "d", "f", "g", "k", "l",  "m",  "n", "p",
                                     "r", "s", "t", "v", "z", "ch", "sh", "j", "h"};
    static const char *const vo[] = {"a", "e", "i", "o", "u", "ai", "ea", "y"};
    uint64_t r = gen_rnd64(g) ^ salt;
    size_t n = 0;
    int syl = 2 + (int)(r % 2);
    r >>= 2;
    for (int i = 0; i < syl && n + 4 < cap; i++) {
        n += (size_t)snprintf(dst + n, cap - n, "%s%s", on[r % 18], vo[(r >> 5) % 8]);
        r >>= 8;
    }
    if (r % 3 == 0) {
        snprintf(dst + n, cap - n, "%u", (unsigned)(r % 100));
    } else if (r % 3 == 1 && n + 3 < cap) {
        snprintf(dst + n, cap - n, ".%c", (char)('a' + (r >> 8) % 26));
    }
}

bool gen_is_contact(struct gen *g, int32_t a, int32_t b)
{
    const struct gen_acct *x = &g->acct[a];
    for (int i = 0; i < x->n_contacts; i++) {
        if (x->contacts[i] == b) {
            return true;
        }
    }
    return false;
}

void gen_link_contacts(struct gen *g, int32_t a, int32_t b)
{
    if (a == b || gen_is_contact(g, a, b) || g->acct[a].n_contacts >= GEN_MAX_CONTACTS ||
        g->acct[b].n_contacts >= GEN_MAX_CONTACTS) {
        return;
    }
    g->acct[a].contacts[g->acct[a].n_contacts++] = b;
    g->acct[b].contacts[g->acct[b].n_contacts++] = a;
}

bool gen_in_room(const struct gen_room *r, int32_t a)
{
    for (int i = 0; i < r->n_occ; i++) {
        if (r->occ[i] == a) {
            return true;
        }
    }
    return false;
}

void gen_room_add(struct gen_room *r, int32_t a)
{
    if (!gen_in_room(r, a) && r->n_occ < GEN_ROOM_CAP) {
        r->occ[r->n_occ++] = a;
    }
}

void gen_room_del(struct gen_room *r, int32_t a)
{
    for (int i = 0; i < r->n_occ; i++) {
        if (r->occ[i] == a) {
            memmove(&r->occ[i], &r->occ[i + 1], (size_t)(r->n_occ - i - 1) * sizeof(int32_t));
            r->n_occ--;
            return;
        }
    }
}

void gen_build_world(struct gen *g, uint64_t n_stanzas)
{
    gen_add_domain(g, "a.test");
    gen_add_domain(g, "b.test");
    gen_add_domain(g, "c.example");
    gen_add_domain(g, "d.example");
    size_t users = (size_t)(n_stanzas / 300);
    users = users < 400 ? 400 : users > 200000 ? 200000 : users;
    for (size_t i = 0; i < users; i++) {
        char nm[28];
        make_name(g, nm, 20, i);
        char full[28];
        snprintf(full, sizeof(full), "%s%zu", nm, i % 7 == 0 ? i : i % 10);
        double u = gen_rndf(g);
        size_t dom = u < 0.6 ? 0 : u < 0.8 ? 1 : u < 0.92 ? 2 : 3;
        gen_add_acct(g, i % 3 ? nm : full, dom, true);
    }
    /* names may repeat: make them unique by a suffix */
    for (size_t i = 0; i < g->n_acct; i++) {
        size_t len = strlen(g->acct[i].name);
        snprintf(g->acct[i].name + len, sizeof(g->acct[i].name) - len, "%s%zu", len > 12 ? "" : "_",
                 i);
    }
    g->n_bg = g->n_acct;
    /* contacts: mostly a few, some people with many */
    for (size_t i = 0; i < g->n_bg; i++) {
        int few = (int)gen_rndu(g, 8);
        int want = 2 + few + (gen_rndu(g, 10) == 0 ? 15 : 0);
        for (int k = 0; k < want; k++) {
            /* locality: contacts are near in index (friend circles) half of the time */
            int32_t j = gen_rndu(g, 2) ? (int32_t)((i + 1 + gen_rndu(g, 50)) % g->n_bg)
                                       : (int32_t)gen_rndu(g, (uint32_t)g->n_bg);
            gen_link_contacts(g, (int32_t)i, j);
        }
    }
    static const char *const rn[] = {
        "lobby", "support", "dev",    "music",   "football", "linux",    "games", "news", "berlin",
        "paris", "books",   "movies", "cooking", "random",   "offtopic", "help",  "xmpp", "art"};
    g->n_room = users / 40;
    g->n_room = g->n_room < 12 ? 12 : g->n_room > 3000 ? 3000 : g->n_room;
    g->room = calloc(g->n_room, sizeof(*g->room));
    for (size_t i = 0; i < g->n_room; i++) {
        struct gen_room *r = &g->room[i];
        if (i < 18) {
            snprintf(r->name, sizeof(r->name), "%s", rn[i]);
        } else {
            snprintf(r->name, sizeof(r->name), "%s%zu", rn[i % 18], i / 18);
        }
        double sz = 260.0 / (1.0 + (double)i * 0.6);
        int n = (int)sz;
        n = n < 4 ? 4 + (int)gen_rndu(g, 8) : n > 250 ? 250 : n;
        for (int k = 0; k < n; k++) {
            gen_room_add(r, (int32_t)gen_rndu(g, (uint32_t)g->n_bg));
        }
    }
}

const char *gen_dom_of(struct gen *g, int32_t a)
{
    return g->domains[g->acct[a].dom];
}

int32_t gen_fresh_acct(struct gen *g, size_t dom)
{
    char nm[28];
    char base[20];
    make_name(g, base, 14, (uint64_t)g->inst_no);
    snprintf(nm, sizeof(nm), "%s%u", base, (unsigned)(g->n_acct % 100000));
    return gen_add_acct(g, nm, dom, false);
}

size_t gen_spam_domain(struct gen *g)
{
    static const char *const pre[] = {"jabb3r",  "chatfree", "xmppnow",
                                      "talk-24", "im-zone",  "fastchat"};
    char d[64];
    snprintf(d, sizeof(d), "%s%d.example", pre[gen_rndu(g, 6)], g->inst_no);
    return gen_add_domain(g, d);
}

size_t gen_any_domain(struct gen *g)
{
    double u = gen_rndf(g);
    return u < 0.5 ? 0 : u < 0.75 ? 1 : u < 0.9 ? 2 : 3;
}

/* a room with at least @min occupants, favouring busy rooms */
int32_t gen_pick_room(struct gen *g, int min)
{
    for (int tries = 0; tries < 200; tries++) {
        uint32_t n = (uint32_t)g->n_room;
        int32_t r = (int32_t)(gen_rndf(g) * gen_rndf(g) * n);
        if (g->room[r].n_occ >= min) {
            return r;
        }
    }
    return 0;
}

int32_t gen_pick_bg(struct gen *g)
{
    return (int32_t)gen_rndu(g, (uint32_t)g->n_bg);
}

int32_t gen_pick_stranger(struct gen *g, int32_t a)
{
    for (;;) {
        int32_t b = gen_pick_bg(g);
        if (b != a && !gen_is_contact(g, a, b)) {
            return b;
        }
    }
}

/* @n distinct strangers of @a into @out (n <= 0.7 of the population: callers cap it) */
void gen_pick_strangers(struct gen *g, int32_t a, int n, int32_t *out)
{
    for (int i = 0; i < n; i++) {
        bool dup;
        do {
            out[i] = gen_pick_stranger(g, a);
            dup = false;
            for (int j = 0; j < i && !dup; j++) {
                dup = out[j] == out[i];
            }
        } while (dup);
    }
}

int gen_cap_strangers(struct gen *g, int n)
{
    int lim = (int)((double)g->n_bg * 0.7) - GEN_MAX_CONTACTS;
    return n < lim ? n : lim;
}

int32_t gen_pick_occupant(struct gen *g, int32_t r)
{
    const struct gen_room *rm = &g->room[r];
    return rm->occ[gen_rndu(g, rm->n_occ)];
}

void gen_world_free(struct gen *g)
{
    free(g->acct);
    free(g->room);
    for (size_t i = 0; i < g->n_domains; i++) {
        free(g->domains[i]);
    }
    free(g->domains);
    free(g->taken);
}
