/*
 * gen_main.c - swgen: a deterministic generator of labelled XMPP stanza
 * captures (the project's ground truth for tests/accuracy, scripts/demo and
 * bench/run).
 *
 *   swgen --seed N --stanzas N [--duration S] [--scenarios LIST|all|none]
 *         [--benign LIST|all|none] [--truth FILE] [--mirror-fraction F]
 *         [--carbons F] [--start RFC3339] -o FILE|-
 *
 * Output: one XML stream (<stream:stream xmlns='jabber:server' ...>), one
 * stanza per line, every stanza stamped with a XEP-0203 <delay/> (ms
 * precision, non-decreasing, many equal), a fraction wrapped as mirror copies
 * (gen_out.c). Scenarios (scenarios.def) are plans of timed actions built up
 * front from the seed, replayed in time order among the background traffic
 * (gen_sched.c); the truth file labels every instance (gen_truth.c).
 *
 * This file: options into struct gen, then world, plans, run, truth; the
 * parts are listed in gen.h.
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_text.h"

/* the command-line options */
struct gen_opts {
    uint64_t seed, stanzas;
    int64_t duration_s;
    const char *scen, *benign, *truth, *out;
    double mirror, carbons;
    int64_t start_ms;
};

void gen_oom(void)
{
    fprintf(stderr, "swgen: out of memory\n");
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: swgen --seed N --stanzas N [--duration S] [--scenarios LIST|all|none]\n"
                    "             [--benign LIST|all|none] [--truth FILE] [--mirror-fraction F]\n"
                    "             [--carbons F] [--start RFC3339] -o FILE|-\n"
                    "LIST: name[:count],...  abuse:");
    gen_list_names(stderr, false);
    fprintf(stderr, "\n      benign:");
    gen_list_names(stderr, true);
    fprintf(stderr, "\n");
}

static void gen_free(struct gen *g)
{
    gen_insts_free(g);
    gen_sched_free(g);
    gen_world_free(g);
    free(g->out.p);
    free(g->attr.p);
    free(g->kids.p);
    free(g->big.p);
    free(g);
}

int main(int argc, char **argv)
{
    struct gen_opts o = {.seed = 1,
                         .stanzas = 100000,
                         .duration_s = 0,
                         .mirror = 0.3,
                         .start_ms = 1767614400000LL /* 2026-01-05T12:00:00Z */};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        if (v == NULL) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--seed") == 0) {
            o.seed = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--stanzas") == 0) {
            o.stanzas = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--duration") == 0) {
            o.duration_s = strtoll(v, NULL, 0);
        } else if (strcmp(a, "--scenarios") == 0) {
            o.scen = v;
        } else if (strcmp(a, "--benign") == 0) {
            o.benign = v;
        } else if (strcmp(a, "--truth") == 0) {
            o.truth = v;
        } else if (strcmp(a, "--mirror-fraction") == 0) {
            o.mirror = strtod(v, NULL);
        } else if (strcmp(a, "--carbons") == 0) {
            o.carbons = strtod(v, NULL);
        } else if (strcmp(a, "--start") == 0) {
            struct tm tm;
            memset(&tm, 0, sizeof(tm));
            if (sscanf(v, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                       &tm.tm_min, &tm.tm_sec) != 6) {
                fprintf(stderr, "swgen: bad --start (want YYYY-MM-DDThh:mm:ss)\n");
                return 2;
            }
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            o.start_ms = (int64_t)timegm(&tm) * 1000;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            o.out = v;
        } else {
            usage();
            return 2;
        }
    }
    if (o.out == NULL || o.stanzas == 0 || o.mirror < 0 || o.mirror > 1 || o.carbons < 0 ||
        o.carbons > 1 || !gen_list_valid(o.scen, false) || !gen_list_valid(o.benign, true)) {
        usage();
        return 2;
    }
    if (o.duration_s <= 0) {
        o.duration_s = (int64_t)(o.stanzas / 100);
        if (o.duration_s < 600) {
            o.duration_s = 600;
        }
    }
    struct gen *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        gen_oom();
    }
    g->mirror = o.mirror;
    g->refl_p = 0.35;
    g->carbons = o.carbons;
    g->muc = "rooms.a.test";
    g->cached_sec = -1;
    g->seed = o.seed;
    g->rng = o.seed * 0x2545F4914F6CDD1DULL + 0x1234567;
    g->t0 = o.start_ms;
    g->duration_ms = o.duration_s * 1000;
    gen_build_world(g, o.stanzas);
    gen_plan_all(g, o.scen, o.benign);

    int rc = 0;
    g->fp = strcmp(o.out, "-") == 0 ? stdout : fopen(o.out, "wb");
    if (g->fp == NULL) {
        fprintf(stderr, "swgen: %s: %s\n", o.out, strerror(errno));
        rc = 1;
        goto done;
    }
    gen_run(g, o.stanzas);
    if (g->fp != stdout) {
        if (fclose(g->fp) != 0) {
            fprintf(stderr, "swgen: %s: %s\n", o.out, strerror(errno));
            rc = 1;
            goto done;
        }
    } else {
        fflush(stdout);
    }
    if (o.truth) {
        FILE *tf = fopen(o.truth, "w");
        if (tf == NULL) {
            fprintf(stderr, "swgen: %s: %s\n", o.truth, strerror(errno));
            rc = 1;
            goto done;
        }
        gen_write_truth(g, tf);
        if (fclose(tf) != 0) {
            fprintf(stderr, "swgen: %s: %s\n", o.truth, strerror(errno));
            rc = 1;
            goto done;
        }
    }
    fprintf(stderr,
            "swgen: seed %" PRIu64 ": %" PRIu64 " stanzas over %" PRId64
            " s, %zu accounts, %zu rooms, %zu scenario instances\n",
            o.seed, g->written, o.duration_s, g->n_acct, g->n_room, g->n_ins);
done:
    gen_free(g);
    return rc;
}
