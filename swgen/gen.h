/*
 * gen.h - swgen's internal contract: the one state struct every part takes,
 * the world's, scenarios' and scheduler's types, and the functions the parts
 * call across files. swgen is a single-threaded command-line tool, not a
 * library: nothing here is installed or linked into stanzawatch.
 *
 * Parts (one file each; the arrows are "calls"):
 *   gen_main.c     CLI options -> struct gen, runs plan, schedule, truth
 *   gen_scen.c     the scenario table (scenarios.def), instance planning,
 *                  the text and stanza of each planned action
 *   gen_abuse.c    plans of the abuse scenarios
 *   gen_benign.c   plans of the benign look-alike scenarios
 *   gen_content.c  plans of the content and wave abuse (issue 13, isolated)
 *   gen_lookalike.c plans of issue 13's benign look-alikes (isolated)
 *   gen_limits.c   the over-limit abuse plan and the payloads that cross (or
 *                  stay within) the parser's limits (isolated)
 *   gen_sched.c    the event heap, the background processes, the run loop
 *   gen_world.c    domains, accounts, contacts, rooms and the pickers over them
 *   gen_stanza.c   one function per stanza kind (groupchat, presence, chat...)
 *   gen_out.c      output buffer, XML escaping, stamps, the mirror wrapper
 *   gen_truth.c    the truth file (one JSON line per instance)
 *   gen_text.c     deterministic chat and spam text (pure functions)
 *   gen_lure.c     obfuscated lures, wave templates, benign look-alike text
 *
 * State: everything that changes while swgen runs lives in one struct gen,
 * created by main and passed explicitly; there is no mutable global. The
 * output is a pure function of the options and the seed: one splitmix64
 * stream (gen->rng) consumed in a fixed order (planning in scenario-table
 * order, then the run loop in heap order). Isolated instances (GEN_ISOLATED)
 * swap in their own stream while they plan and while one of their actions
 * is written (gen->iso), so they leave the main stream, the ids and the
 * background state exactly as they were.
 *
 * Names: gen_ for what crosses files (the tool's own prefix: nothing here is
 * linked with the sw_ libraries), static helpers unprefixed.
 *
 * Ownership: struct gen owns the world arrays, the instances (their action,
 * offender and acceptable arrays) and the buffers; gen_free() releases all.
 * Out of memory is fatal (gen_oom(): message and exit 1): swgen is a tool.
 */
#ifndef SW_GEN_H
#define SW_GEN_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GEN_MAX_CONTACTS 40
#define GEN_ROOM_CAP 320
#define GEN_N_CONV 64
#define GEN_OUT_CAP (1u << 20)
#define GEN_OUT_SLACK (96u << 10)

/* ---- world ---- */

struct gen_acct {
    char name[28];
    uint16_t dom;
    uint8_t res;
    uint8_t bg; /* background account (may be moved by background processes) */
    uint16_t n_contacts;
    int32_t contacts[GEN_MAX_CONTACTS];
};

struct gen_room {
    char name[24];
    uint16_t n_occ;
    int32_t occ[GEN_ROOM_CAP];
};

/* growable byte buffer */
struct gen_sb {
    char *p;
    size_t n, cap;
};

/* ---- scenarios ---- */

enum gen_act_kind {
    GEN_A_JOIN,
    GEN_A_LEAVE,
    GEN_A_GC,
    GEN_A_NICK,
    GEN_A_SUB,
    GEN_A_SUBD,
    GEN_A_UNSUBD,
    GEN_A_CHAT,
    GEN_A_HEADLINE,
    GEN_A_INVITE,
    GEN_A_KICK,
    GEN_A_AVAIL,   /* presence broadcast to contacts: available */
    GEN_A_UNAVAIL, /* presence broadcast to contacts: unavailable */
    GEN_A_HEARD,   /* who says a line in room arg, reflected (also) to occupant k */
    GEN_A_AVATAR   /* who publishes an avatar (XEP-0084) or vCard photo of k bytes */
};

/* what an action's stanza carries besides its body (gen_limits.c gen_kids_pad);
 * only isolated scenarios set it, so the older scenarios' bytes stay */
enum gen_pad {
    GEN_PAD_NONE,
    GEN_PAD_ATTR,    /* a foreign child with a k-byte attribute (over: k > 4096) */
    GEN_PAD_DEEP,    /* a foreign child nested k levels deep (over: > 32) */
    GEN_PAD_LONG_TO, /* chat only: a 'to' whose local part has k bytes (over: > 1023) */
    GEN_PAD_THUMB    /* an XEP-0264 thumbnail, its data: URI k bytes */
};

/* how an action's body text is made (gen_scen.c act_text) */
enum gen_text_mode {
    GEN_TM_RANDOM,
    GEN_TM_FIXED,
    GEN_TM_SUFFIX,
    GEN_TM_MUTATED,
    GEN_TM_MULTI,
    GEN_TM_PASTE,
    GEN_TM_GOAL,
    GEN_TM_HEADLINE,
    GEN_TM_BRIDGE,
    GEN_TM_REPLY,
    GEN_TM_GREET,
    /* scenarios with their own stream (GEN_ISOLATED); in->tseed is the campaign */
    GEN_TM_LURE,      /* obfuscated multilingual spam (gen_lure.c) */
    GEN_TM_WAVE,      /* spun template with the wave's shared link targets */
    GEN_TM_LINK,      /* an ordinary shared link */
    GEN_TM_WARN,      /* a warning quoting a spam line */
    GEN_TM_WARN_SAME, /* the same warning in every room (one text per instance) */
    GEN_TM_TOPIC,     /* chat about crypto or medicine */
    GEN_TM_RSS,       /* feed item k (same text in every room) */
    GEN_TM_PRICE,     /* price ticker line */
    GEN_TM_BYSTANDER, /* a regular reacting to a raid */
    GEN_TM_MODLINE,   /* a moderator during a raid */
    GEN_TM_ANSWER,    /* a stranger answering an unsolicited message */
    GEN_TM_BIGPASTE,  /* a paste of about k bytes (gen->big; over: k > 64 KB) */
    GEN_TM_QUOTE      /* a regular quoting the raid line back (in->text) in a complaint */
};

/* one timed action of a scenario instance */
struct gen_act {
    int64_t t;
    uint8_t kind, text, abuse;
    uint8_t pad; /* enum gen_pad, size in k (gen_add_act: none) */
    int16_t nickv;
    int32_t who, arg; /* actor; room or target */
    int32_t k;        /* text variant */
};

struct gen_inst {
    const struct gen_scen *def;
    int variant;
    bool benign, truncated, skipped;
    struct gen_act *acts;
    size_t n_acts, cap_acts, next;
    int32_t *off; /* offender accounts (or benign actors) */
    size_t n_off;
    int32_t *acc; /* acceptable (not required, not FP) accounts */
    size_t n_acc;
    int off_domain, acc_domain; /* domain index or -1 */
    int *acc_doms;              /* more acceptable domains (waves) */
    size_t n_acc_doms;
    int32_t room;
    char text[200];
    int64_t start, end;
    size_t size;
    bool isolated;  /* GEN_ISOLATED: plans and runs on its own stream (rng) */
    uint64_t rng;   /* isolated: the instance's splitmix64 state between actions */
    uint64_t tseed; /* isolated: campaign seed of the instance's texts */
    uint64_t idctr; /* GEN_OWN_IDS: the instance's stanza id counter */
};

struct gen;

/* builds instance @in's actions from @t0 on (may set in->skipped) */
typedef void (*gen_plan_fn)(struct gen *g, struct gen_inst *in, int64_t t0);

/* scenario flags */
#define GEN_BENIGN 1u /* look-alike: its actors must not be reported */
#define GEN_SLOW 2u   /* abuse slow by definition: recall, not burst latency */
/* Isolated: the instance plans and runs on its own random stream, takes stanza
 * ids from its own counter, changes no background state (room occupants,
 * contacts) and is left out of the background rate calibration. So adding
 * isolated scenarios inserts their stanzas and truth lines and changes no
 * byte of the rest: every scenario added after the first twenty is isolated. */
#define GEN_ISOLATED 4u
#define GEN_CONTENT 8u  /* truth class "content": caught by what it says */
#define GEN_WAVE 16u    /* truth class "wave": many thin senders, caught across them */
#define GEN_HOSTILE 32u /* truth class "hostile-input": caught as over-limit input */
/* Isolated with its own stanza id counter too (older isolated scenarios share
 * one, gen->idctr_iso): turning it on or off changes no byte of any other
 * scenario, isolated ones included. Every scenario added from now on. */
#define GEN_OWN_IDS 64u

/* one row of the scenario table (scenarios.def) */
struct gen_scen {
    const char *name;
    unsigned flags;
    int64_t est_len_ms; /* typical length, for placement */
    gen_plan_fn plan;
    const char *variants[4];
};

extern const struct gen_scen gen_scenarios[];
extern const size_t gen_n_scenarios;

/* the plan functions, declared from the one list */
#define GEN_SCENARIO(name, plan, flags, est_len_ms, ...)                                           \
    void plan(struct gen *g, struct gen_inst *in, int64_t t0);
#include "scenarios.def"
#undef GEN_SCENARIO

/* ---- scheduler ---- */

enum gen_src_kind {
    GEN_S_GC,
    GEN_S_CHAT,
    GEN_S_BCAST,
    GEN_S_IQ,
    GEN_S_MUCJL,
    GEN_S_SUB,
    GEN_S_ONESHOT_SUBD,
    GEN_S_INST
};

/* one source of the event heap, keyed by (t, order) */
struct gen_src {
    int64_t t;
    double tf; /* background: exact (fractional ms) time of the next event */
    uint64_t order;
    int kind;
    int32_t a, b; /* GEN_S_INST: instance index; ONESHOT: from, to */
    double mean_ms;
};

/* a background 1:1 conversation in progress */
struct gen_conv {
    int32_t a, b;
    int left;
};

/* ---- the state ---- */

struct gen {
    /* options (set once by main) */
    double mirror;  /* --mirror-fraction */
    double refl_p;  /* share of groupchat reflected to occupants */
    double carbons; /* --carbons: fraction of a.test chats carbon-copied */
    int64_t t0, duration_ms;
    const char *muc; /* MUC service of every room */

    uint64_t rng; /* splitmix64 state */

    /* world */
    char **domains;
    size_t n_domains;
    struct gen_acct *acct;
    size_t n_acct, cap_acct, n_bg;
    struct gen_room *room;
    size_t n_room;
    uint64_t idctr; /* stanza id counter */
    uint8_t *taken; /* per background account: labelled by an instance already (isolated
                       plans pick others, so no account is both abuse and benign) */

    /* output */
    struct gen_sb out, attr, kids; /* capture buffer; attributes and children of the next stanza */
    FILE *fp;
    uint64_t written;
    int64_t cached_sec; /* fmt_stamp's cache of the last second's text */
    char sec_text[32];

    /* scenarios */
    struct gen_inst *ins;
    size_t n_ins;
    int inst_no;         /* 1-based number of the instance being planned */
    int headline_salt;   /* news-bot headline seed: the number of non-isolated instances */
    uint64_t seed;       /* --seed, for the isolated instances' streams */
    bool iso;            /* the action being written belongs to an isolated instance */
    uint64_t idctr_iso;  /* stanza id counter of isolated instances */
    uint64_t *id_own;    /* GEN_OWN_IDS: the running instance's counter, else NULL */
    uint64_t id_base;    /* and the start of its id range */
    char text[16384];    /* body text of the action being written */
    struct gen_sb big;   /* body text longer than text[] (GEN_TM_BIGPASTE) */
    int pad, pad_k;      /* the action's enum gen_pad and size (gen_kids_pad) */
    size_t scen_stanzas; /* planned scenario actions */

    /* scheduler */
    struct gen_src *src;
    size_t n_src, cap_src;
    uint64_t order;
    struct gen_conv conv[GEN_N_CONV];
};

/* ---- rng (gen->rng, splitmix64) ---- */

static inline uint64_t gen_rnd64(struct gen *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [0, n) */
static inline uint32_t gen_rndu(struct gen *g, uint32_t n)
{
    return n ? (uint32_t)(((gen_rnd64(g) >> 32) * (uint64_t)n) >> 32) : 0;
}

/* uniform in [0, 1) */
static inline double gen_rndf(struct gen *g)
{
    return (double)(gen_rnd64(g) >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform in [lo, hi] */
static inline int64_t gen_rndr(struct gen *g, int64_t lo, int64_t hi)
{
    return hi <= lo ? lo : lo + (int64_t)(gen_rnd64(g) % (uint64_t)(hi - lo + 1));
}

/* exponential gap with mean @mean_ms, at least 0 */
static inline int64_t gen_rnd_exp(struct gen *g, double mean_ms)
{
    double u = gen_rndf(g);
    double v = -mean_ms * log1p(-u);
    return v > 1e12 ? (int64_t)1e12 : (int64_t)v;
}

/* ---- gen_main.c ---- */

void gen_oom(void);

/* ---- gen_world.c ---- */

size_t gen_add_domain(struct gen *g, const char *d);
int32_t gen_add_acct(struct gen *g, const char *name, size_t dom, bool bg);
bool gen_is_contact(struct gen *g, int32_t a, int32_t b);
void gen_link_contacts(struct gen *g, int32_t a, int32_t b);
bool gen_in_room(const struct gen_room *r, int32_t a);
void gen_room_add(struct gen_room *r, int32_t a);
void gen_room_del(struct gen_room *r, int32_t a);
void gen_build_world(struct gen *g, uint64_t n_stanzas);
const char *gen_dom_of(struct gen *g, int32_t a);
int32_t gen_fresh_acct(struct gen *g, size_t dom);
size_t gen_spam_domain(struct gen *g);
size_t gen_any_domain(struct gen *g);
int32_t gen_pick_room(struct gen *g, int min);
int32_t gen_pick_bg(struct gen *g);
int32_t gen_pick_stranger(struct gen *g, int32_t a);
void gen_pick_strangers(struct gen *g, int32_t a, int n, int32_t *out);
int gen_cap_strangers(struct gen *g, int n);
int32_t gen_pick_occupant(struct gen *g, int32_t r);
void gen_world_free(struct gen *g);

/* ---- gen_out.c ---- */

void gen_sb_grow(struct gen_sb *b, size_t need);
void gen_sb_putn(struct gen_sb *b, const char *s, size_t n);
void gen_sb_puts(struct gen_sb *b, const char *s);
void gen_out_flush(struct gen *g);
void gen_fmt_rfc3339(char *dst, size_t cap, int64_t ms);
void gen_put_bare(struct gen *g, struct gen_sb *b, int32_t a);
void gen_put_full(struct gen *g, struct gen_sb *b, int32_t a);
void gen_put_room(struct gen *g, struct gen_sb *b, int32_t r);
void gen_put_nick(struct gen *g, struct gen_sb *b, int32_t a, int nickv);
void gen_put_id(struct gen_sb *b, uint64_t id);
uint64_t gen_new_id(struct gen *g);
void gen_emit(struct gen *g, int64_t t, const char *name, const char *host);
void gen_attr_begin(struct gen *g);
void gen_attr_type(struct gen *g, const char *type);
void gen_attr_idv(struct gen *g, uint64_t id);
void gen_kids_body(struct gen *g, const char *body);

extern const char *const gen_resources[8];

/* ---- gen_stanza.c ---- */

/* returns the stanza id (its reflections share it) */
uint64_t gen_st_groupchat(struct gen *g, int64_t t, int32_t a, int32_t r, const char *body,
                          int nickv);
/* the room's copy of groupchat @id of occupant @a (nick variant @nickv) to occupant @to */
void gen_st_reflect(struct gen *g, int64_t t, int32_t r, int32_t a, int nickv, int32_t to,
                    uint64_t id, const char *body);
void gen_st_muc_presence(struct gen *g, int64_t t, int32_t a, int32_t r, int nickv, bool join,
                         bool leave);
void gen_st_chat(struct gen *g, int64_t t, int32_t a, int32_t b, const char *body);
void gen_st_sub(struct gen *g, int64_t t, int32_t a, int32_t b, const char *type);
void gen_st_bcast(struct gen *g, int64_t t, int32_t a);
void gen_st_iq(struct gen *g, int64_t t, int32_t a);
void gen_st_headline(struct gen *g, int64_t t, const char *from, int32_t b, const char *body);
void gen_st_invite(struct gen *g, int64_t t, int32_t a, int32_t r, int32_t who);
void gen_st_kick(struct gen *g, int64_t t, int32_t a, int32_t r, int32_t who);
void gen_st_avail(struct gen *g, int64_t t, int32_t a, bool unavailable);
/* @a publishes an avatar (XEP-0084 data, @vcard: a vcard-temp PHOTO) of @bytes base64 bytes */
void gen_st_avatar(struct gen *g, int64_t t, int32_t a, int bytes, bool vcard);

/* ---- gen_scen.c ---- */

void gen_add_act(struct gen_inst *in, int64_t t, int kind, int32_t who, int32_t arg, int text,
                 int32_t k, bool abuse);
void gen_add_off(struct gen_inst *in, int32_t a);
void gen_add_accept(struct gen_inst *in, int32_t a);
void gen_add_accept_domain(struct gen_inst *in, int dom);
/* @b accepts @a's request at @ta, asks back 0.1-2 s later, @a accepts lo..hi ms after @ta */
void gen_mutual_sub(struct gen *g, struct gen_inst *in, int32_t a, int32_t b, int64_t ta,
                    int64_t lo, int64_t hi);

/* ---- gen_abuse.c ---- */

/* raider @a joins room @r at @tj and posts 1-3 lines of in->text with a suffix;
 * returns the time after its last line */
int64_t gen_raider(struct gen *g, struct gen_inst *in, int32_t a, int32_t r, int64_t tj,
                   bool abuse);
/* plans every instance the lists ask for; fills g->ins, g->n_ins, g->scen_stanzas */
void gen_plan_all(struct gen *g, const char *scen_list, const char *benign_list);
void gen_run_act(struct gen *g, struct gen_inst *in, const struct gen_act *a);
bool gen_list_valid(const char *list, bool benign);
void gen_list_names(FILE *fp, bool benign);
void gen_insts_free(struct gen *g);
/* @a is a background account some instance labelled already */
bool gen_taken(const struct gen *g, int32_t a);

/* ---- gen_limits.c ---- */

/* @n base64 characters (no padding) into @b, from seed @s (draws nothing) */
void gen_sb_put_b64(struct gen_sb *b, uint64_t s, size_t n);
/* appends g->pad's payload (size g->pad_k) to g->kids; nothing for none */
void gen_kids_pad(struct gen *g);
/* a 'to' with a g->pad_k-byte local part into g->attr (GEN_PAD_LONG_TO) */
void gen_attr_long_to(struct gen *g);
/* a paste of about @bytes bytes in g->big, NUL-terminated */
const char *gen_big_paste(struct gen *g, uint64_t r, size_t bytes);

/* ---- gen_sched.c ---- */

/* runs the whole capture: instances and background from t0 to t0 + duration
 * (@stanzas: the --stanzas target the background rate is calibrated to) */
void gen_run(struct gen *g, uint64_t stanzas);
void gen_sched_free(struct gen *g);

/* ---- gen_truth.c ---- */

void gen_write_truth(struct gen *g, FILE *fp);

#endif
