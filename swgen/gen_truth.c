/*
 * gen_truth.c - swgen's truth file (--truth): one JSON line per planned
 * instance, in planning order: scenario, variant, benign, slow, truncated,
 * class (content, wave and hostile-input scenarios only), offenders[{jid,kind}],
 * acceptable[...], room, size, start_ms, end_ms, start, end. tests/accuracy/README.md gives the
 * meaning of each field.
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_text.h"

static void truth_domain(struct gen *g, FILE *fp, int d, bool *first)
{
    fprintf(fp, "%s{\"jid\":\"%s\",\"kind\":\"domain\"}", *first ? "" : ",", g->domains[d]);
    *first = false;
}

static void truth_jid(struct gen *g, FILE *fp, int32_t a, bool *first)
{
    fprintf(fp, "%s{\"jid\":\"%s@%s\",\"kind\":\"account\"}", *first ? "" : ",", g->acct[a].name,
            gen_dom_of(g, a));
    *first = false;
}

void gen_write_truth(struct gen *g, FILE *fp)
{
    for (size_t i = 0; i < g->n_ins; i++) {
        const struct gen_inst *in = &g->ins[i];
        if (in->skipped || in->n_acts == 0) {
            continue;
        }
        char s[40], e[40];
        gen_fmt_rfc3339(s, sizeof(s), in->start);
        gen_fmt_rfc3339(e, sizeof(e), in->end);
        fprintf(fp,
                "{\"scenario\":\"%s\",\"variant\":\"%s\",\"benign\":%s,\"slow\":%s,"
                "\"truncated\":%s,",
                in->def->name, in->def->variants[in->variant], in->benign ? "true" : "false",
                (in->def->flags & GEN_SLOW) ? "true" : "false", in->truncated ? "true" : "false");
        /* only the isolated scenarios' lines carry a class (the others' bytes stay) */
        if (in->def->flags & (GEN_CONTENT | GEN_WAVE | GEN_HOSTILE)) {
            fprintf(fp, "\"class\":\"%s\",",
                    (in->def->flags & GEN_CONTENT) ? "content"
                    : (in->def->flags & GEN_WAVE)  ? "wave"
                                                   : "hostile-input");
        }
        fprintf(fp, "\"offenders\":[");
        bool first = true;
        for (size_t k = 0; k < in->n_off; k++) {
            truth_jid(g, fp, in->off[k], &first);
        }
        if (in->off_domain >= 0) {
            truth_domain(g, fp, in->off_domain, &first);
        }
        fprintf(fp, "],\"acceptable\":[");
        first = true;
        for (size_t k = 0; k < in->n_acc; k++) {
            truth_jid(g, fp, in->acc[k], &first);
        }
        if (in->acc_domain >= 0) {
            truth_domain(g, fp, in->acc_domain, &first);
        }
        for (size_t k = 0; k < in->n_acc_doms; k++) {
            truth_domain(g, fp, in->acc_doms[k], &first);
        }
        fprintf(fp, "],\"room\":\"");
        if (in->room >= 0) {
            fprintf(fp, "%s@%s", g->room[in->room].name, g->muc);
        }
        fprintf(fp,
                "\",\"size\":%zu,\"start_ms\":%" PRId64 ",\"end_ms\":%" PRId64
                ",\"start\":\"%s\",\"end\":\"%s\"}\n",
                in->size, in->start, in->end, s, e);
    }
}
