/*
 * gen_scen.c - swgen's scenario table and instances: the table generated
 * from scenarios.def, name lists (--scenarios/--benign), planning every
 * instance (gen_plan_all: count per scenario, placement in time, the plan
 * function, actions sorted by time, start/end of the labelled part), and
 * turning one planned action into its text and stanza (gen_run_act).
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_lure.h"
#include "gen_text.h"

const struct gen_scen gen_scenarios[] = {
#define GEN_SCENARIO(name, plan, flags, est_len_ms, ...)                                           \
    {name, flags, est_len_ms, plan, {__VA_ARGS__}},
#include "scenarios.def"
#undef GEN_SCENARIO
};
const size_t gen_n_scenarios = sizeof(gen_scenarios) / sizeof(gen_scenarios[0]);

void gen_add_act(struct gen_inst *in, int64_t t, int kind, int32_t who, int32_t arg, int text,
                 int32_t k, bool abuse)
{
    if (in->n_acts == in->cap_acts) {
        in->cap_acts = in->cap_acts ? in->cap_acts * 2 : 64;
        in->acts = realloc(in->acts, in->cap_acts * sizeof(*in->acts));
    }
    struct gen_act *a = &in->acts[in->n_acts++];
    a->t = t;
    a->kind = (uint8_t)kind;
    a->text = (uint8_t)text;
    a->abuse = abuse ? 1 : 0;
    a->pad = GEN_PAD_NONE;
    a->nickv = 0;
    a->who = who;
    a->arg = arg;
    a->k = k;
}

void gen_add_off(struct gen_inst *in, int32_t a)
{
    in->off = realloc(in->off, (in->n_off + 1) * sizeof(int32_t));
    in->off[in->n_off++] = a;
}

void gen_add_accept(struct gen_inst *in, int32_t a)
{
    in->acc = realloc(in->acc, (in->n_acc + 1) * sizeof(int32_t));
    in->acc[in->n_acc++] = a;
}

void gen_mutual_sub(struct gen *g, struct gen_inst *in, int32_t a, int32_t b, int64_t ta,
                    int64_t lo, int64_t hi)
{
    gen_add_act(in, ta, GEN_A_SUBD, b, a, 0, 0, false);
    gen_add_act(in, ta + gen_rndr(g, 100, 2000), GEN_A_SUB, b, a, 0, 0, false);
    gen_add_act(in, ta + gen_rndr(g, lo, hi), GEN_A_SUBD, a, b, 0, 0, false);
}

void gen_add_accept_domain(struct gen_inst *in, int dom)
{
    int *d = realloc(in->acc_doms, (in->n_acc_doms + 1) * sizeof(int));
    if (d == NULL) {
        gen_oom();
    }
    in->acc_doms = d;
    in->acc_doms[in->n_acc_doms++] = dom;
}

static int cmp_act(const void *x, const void *y)
{
    const struct gen_act *a = x, *b = y;
    return a->t < b->t ? -1 : a->t > b->t ? 1 : 0;
}

static const char *act_text(struct gen *g, const struct gen_inst *in, const struct gen_act *a)
{
    uint64_t r = gen_rnd64(g);
    switch (a->text) {
    case GEN_TM_FIXED:
        return in->text;
    case GEN_TM_SUFFIX: {
        char tok[GEN_TOKEN_MAX + 1];
        gen_token(tok, r, 4 + (int)(r % 6));
        snprintf(g->text, sizeof(g->text), "%s %s", in->text, tok);
    }
        return g->text;
    case GEN_TM_MUTATED:
        gen_mutate(g->text, sizeof(g->text), in->text, r);
        return g->text;
    case GEN_TM_MULTI:
        gen_multiline(g->text, sizeof(g->text), r, 15 + (int)(r % 25), in->text);
        return g->text;
    case GEN_TM_PASTE:
        gen_paste(g->text, sizeof(g->text), r, 40 + (int)(r % 110));
        return g->text;
    case GEN_TM_GOAL:
        return gen_goal(r);
    case GEN_TM_HEADLINE:
        gen_headline(g->text, sizeof(g->text), (uint64_t)a->k * 7919u + (uint64_t)g->headline_salt);
        return g->text;
    case GEN_TM_BRIDGE: {
        char sent[512];
        gen_sentence(sent, sizeof(sent), r);
        static const char *const nicks[] = {"<tom>",  "<irc_anna>", "<kev>",    "<matrix_lu>",
                                            "<pete>", "<sara>",     "<dmitri>", "<jo>"};
        snprintf(g->text, sizeof(g->text), "%s %s", nicks[r % 8], sent);
        return g->text;
    }
    case GEN_TM_REPLY:
        return "who is this?";
    case GEN_TM_LURE:
        gen_lure(g->text, sizeof(g->text), in->tseed, r);
        return g->text;
    case GEN_TM_WAVE:
        gen_wave_text(g->text, sizeof(g->text), in->tseed, r);
        return g->text;
    case GEN_TM_LINK:
        gen_link_share(g->text, sizeof(g->text), r);
        return g->text;
    case GEN_TM_WARN:
        gen_warning(g->text, sizeof(g->text), in->tseed + (uint64_t)a->k % 3, r);
        return g->text;
    case GEN_TM_WARN_SAME:
        gen_warning(g->text, sizeof(g->text), in->tseed, in->tseed);
        return g->text;
    case GEN_TM_TOPIC:
        gen_topic(g->text, sizeof(g->text), r);
        return g->text;
    case GEN_TM_RSS:
        gen_rss_item(g->text, sizeof(g->text), in->tseed, (uint64_t)a->k);
        return g->text;
    case GEN_TM_PRICE:
        gen_price(g->text, sizeof(g->text), (uint64_t)a->k, r);
        return g->text;
    case GEN_TM_BYSTANDER:
        gen_bystander(g->text, sizeof(g->text), in->text, r);
        return g->text;
    case GEN_TM_QUOTE:
        gen_raid_quote(g->text, sizeof(g->text), in->text, r);
        return g->text;
    case GEN_TM_MODLINE:
        return gen_mod_line(r);
    case GEN_TM_ANSWER:
        return gen_answer(r);
    case GEN_TM_BIGPASTE:
        return gen_big_paste(g, r, (size_t)a->k);
    case GEN_TM_GREET: {
        static const char *const greet[] = {"hi all",       "hello everyone!", "hey :)",
                                            "hi, new here", "good morning",    "hello o/",
                                            "hi folks",     "hey there"};
        return greet[r % 8];
    }
    default:
        gen_sentence(g->text, sizeof(g->text), r);
        return g->text;
    }
}

void gen_run_act(struct gen *g, struct gen_inst *in, const struct gen_act *a)
{
    g->pad = a->pad;
    g->pad_k = a->pad != GEN_PAD_NONE ? a->k : 0;
    switch (a->kind) {
    case GEN_A_JOIN:
        gen_st_muc_presence(g, a->t, a->who, a->arg, a->nickv, true, false);
        break;
    case GEN_A_LEAVE:
        gen_st_muc_presence(g, a->t, a->who, a->arg, a->nickv, false, true);
        break;
    case GEN_A_NICK:
        gen_st_muc_presence(g, a->t, a->who, a->arg, a->nickv, false, false);
        break;
    case GEN_A_GC:
        gen_st_groupchat(g, a->t, a->who, a->arg, act_text(g, in, a), a->nickv);
        break;
    case GEN_A_SUB:
        gen_st_sub(g, a->t, a->who, a->arg, "subscribe");
        break;
    case GEN_A_SUBD:
        gen_st_sub(g, a->t, a->who, a->arg, "subscribed");
        break;
    case GEN_A_UNSUBD:
        gen_st_sub(g, a->t, a->who, a->arg, "unsubscribed");
        break;
    case GEN_A_CHAT:
        gen_st_chat(g, a->t, a->who, a->arg, act_text(g, in, a));
        break;
    case GEN_A_HEADLINE:
        gen_st_headline(g, a->t, "a.test", a->arg, in->text);
        break;
    case GEN_A_INVITE:
        gen_st_invite(g, a->t, a->who, a->arg, a->k);
        break;
    case GEN_A_KICK:
        gen_st_kick(g, a->t, a->who, a->arg, a->k);
        break;
    case GEN_A_HEARD: {
        const char *body = act_text(g, in, a);
        uint64_t id = gen_st_groupchat(g, a->t, a->who, a->arg, body, 0);
        gen_st_reflect(g, a->t, a->arg, a->who, 0, a->k, id, body);
        break;
    }
    case GEN_A_AVAIL:
    case GEN_A_UNAVAIL:
        gen_st_avail(g, a->t, a->who, a->kind == GEN_A_UNAVAIL);
        break;
    case GEN_A_AVATAR:
        gen_st_avatar(g, a->t, a->who, a->k, a->arg != 0);
        break;
    default:
        break;
    }
    g->pad = GEN_PAD_NONE;
    g->pad_k = 0;
}

/* how many instances of def @d the list @list asks for (-1 = default count) */
static int list_count(const char *list, const char *name, int dflt)
{
    if (list == NULL || strcmp(list, "all") == 0) {
        return dflt;
    }
    if (strcmp(list, "none") == 0) {
        return 0;
    }
    size_t nl = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= nl && strncmp(p, name, nl) == 0 && (len == nl || p[nl] == ':')) {
            return len == nl ? dflt : atoi(p + nl + 1);
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return 0;
}

bool gen_list_valid(const char *list, bool benign)
{
    if (list == NULL || strcmp(list, "all") == 0 || strcmp(list, "none") == 0) {
        return true;
    }
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        size_t nl = colon ? (size_t)(colon - p) : len;
        bool ok = false;
        for (size_t i = 0; i < gen_n_scenarios; i++) {
            if (((gen_scenarios[i].flags & GEN_BENIGN) != 0) == benign &&
                strlen(gen_scenarios[i].name) == nl && strncmp(gen_scenarios[i].name, p, nl) == 0) {
                ok = true;
            }
        }
        if (!ok) {
            fprintf(stderr, "swgen: unknown %s scenario '%.*s'\n", benign ? "benign" : "abuse",
                    (int)len, p);
            return false;
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return true;
}

bool gen_taken(const struct gen *g, int32_t a)
{
    return g->taken != NULL && a >= 0 && (size_t)a < g->n_bg && g->taken[a];
}

/* marks the background accounts instance @in labels as taken */
static void take(struct gen *g, const struct gen_inst *in)
{
    for (size_t k = 0; k < in->n_off; k++) {
        if ((size_t)in->off[k] < g->n_bg) {
            g->taken[in->off[k]] = 1;
        }
    }
    for (size_t k = 0; k < in->n_acc; k++) {
        if ((size_t)in->acc[k] < g->n_bg) {
            g->taken[in->acc[k]] = 1;
        }
    }
}

void gen_list_names(FILE *fp, bool benign)
{
    for (size_t i = 0; i < gen_n_scenarios; i++) {
        if (((gen_scenarios[i].flags & GEN_BENIGN) != 0) == benign) {
            fprintf(fp, " %s", gen_scenarios[i].name);
        }
    }
}

/* a new instance of @def, zeroed, appended to g->ins */
static struct gen_inst *inst_new(struct gen *g, const struct gen_scen *def)
{
    struct gen_inst *ins = realloc(g->ins, (g->n_ins + 1) * sizeof(*ins));
    if (ins == NULL) {
        gen_oom();
    }
    g->ins = ins;
    struct gen_inst *in = &ins[g->n_ins++];
    memset(in, 0, sizeof(*in));
    in->def = def;
    in->benign = (def->flags & GEN_BENIGN) != 0;
    in->off_domain = in->acc_domain = -1;
    in->room = -1;
    return in;
}

void gen_plan_all(struct gen *g, const char *scen_list, const char *benign_list)
{
    double hours = (double)g->duration_ms / 1000 / 3600.0;
    int dflt = (int)(hours * 1.5 + 0.5);
    dflt = dflt < 1 ? 1 : dflt > 200 ? 200 : dflt;
    int64_t warm = g->duration_ms / 10 < 300000 ? g->duration_ms / 10 : 300000;
    size_t n_plain = 0; /* instances up to the last non-isolated one (skipped ones too) */
    for (size_t d = 0; d < gen_n_scenarios; d++) {
        const struct gen_scen *def = &gen_scenarios[d];
        int cnt = list_count((def->flags & GEN_BENIGN) ? benign_list : scen_list, def->name, dflt);
        int skipped = 0;
        for (int c = 0; c < cnt; c++) {
            struct gen_inst *in = inst_new(g, def);
            int nv = 0;
            while (nv < 4 && def->variants[nv]) {
                nv++;
            }
            in->variant = c % nv;
            g->inst_no = (int)g->n_ins;
            uint64_t main_rng = g->rng;
            if (!(def->flags & GEN_ISOLATED)) {
                n_plain = g->n_ins;
            } else {
                if (g->taken == NULL) { /* everyone the plain instances labelled */
                    g->taken = calloc(g->n_bg, 1);
                    if (g->taken == NULL) {
                        gen_oom();
                    }
                    for (size_t i = 0; i + 1 < g->n_ins; i++) {
                        take(g, &g->ins[i]);
                    }
                }
                /* its own stream, from the seed and the instance number */
                in->isolated = true;
                g->rng = (g->seed ^ 0x5851F42D4C957F2DULL) * 0x9E3779B97F4A7C15ULL +
                         (uint64_t)g->inst_no * 0xD1B54A32D192ED03ULL;
                in->tseed = gen_rnd64(g);
            }
            int64_t span = g->duration_ms - warm - def->est_len_ms - 60000;
            if (span < 0) {
                span = g->duration_ms - warm - 60000 > 0 ? g->duration_ms - warm - 60000 : 0;
            }
            int64_t t0 = g->t0 + warm + gen_rndr(g, 0, span);
            def->plan(g, in, t0);
            if (in->isolated) {
                in->rng = g->rng;
                g->rng = main_rng;
                take(g, in);
            }
            if (in->skipped || in->n_acts == 0) {
                in->skipped = true;
                skipped++;
                continue;
            }
            qsort(in->acts, in->n_acts, sizeof(*in->acts), cmp_act);
            in->start = INT64_MAX;
            in->end = INT64_MIN;
            for (size_t k = 0; k < in->n_acts; k++) {
                if (in->acts[k].abuse || in->benign) {
                    if (in->acts[k].t < in->start) {
                        in->start = in->acts[k].t;
                    }
                    if (in->acts[k].t > in->end) {
                        in->end = in->acts[k].t;
                    }
                }
            }
            if (!in->isolated) {
                g->scen_stanzas += in->n_acts;
            }
        }
        if (skipped > 0) {
            fprintf(stderr, "swgen: %s: %d of %d instances skipped (%s)\n", def->name, skipped, cnt,
                    (def->flags & GEN_ISOLATED)
                        ? "no free accounts or rooms for them: a small world"
                        : "they do not fit in --duration");
        }
    }
    g->headline_salt = (int)n_plain;
}

void gen_insts_free(struct gen *g)
{
    for (size_t i = 0; i < g->n_ins; i++) {
        free(g->ins[i].acts);
        free(g->ins[i].off);
        free(g->ins[i].acc);
        free(g->ins[i].acc_doms);
    }
    free(g->ins);
    g->ins = NULL;
    g->n_ins = 0;
}
