/*
 * stats.c - pipeline counters: summing the per-thread counters (each written
 * by one thread with relaxed atomics, see SW_CNT_* in pipeline_int.h) into a
 * struct sw_pipeline_stats, and printing it as text (end of replay, SIGUSR1)
 * or JSON (--stats-json). Safe to call while the pipeline runs: the figures
 * are then a consistent-enough snapshot, not a transaction.
 */
#include <inttypes.h>
#include <string.h>

#include "pipeline_int.h"

static void add_wait(struct sw_wait_stats *dst, const struct sw_wait_stats *s)
{
    dst->waits += SW_CNT_GET(s->waits);
    dst->sleeps += SW_CNT_GET(s->sleeps);
}

void sw_pipeline_get_stats(const struct sw_pipeline *p, struct sw_pipeline_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->threads = p->W;
    st->parse_threads = p->P;
    uint64_t start = SW_CNT_GET(p->t_start_ns), end = SW_CNT_GET(p->t_end_ns);
    if (end == 0) {
        end = sw_mono_ns();
    }
    st->wall_s = start ? (double)(end - start) / 1e9 : 0;
    st->bytes = SW_CNT_GET(p->bytes);
    st->chunks = SW_CNT_GET(p->chunks);
    st->drops = SW_CNT_GET(p->drops);
    st->stanzas_dropped = SW_CNT_GET(p->stanzas_dropped);
    st->skipped_oversize = SW_CNT_GET(p->split_oversize);
    st->skipped_depth = SW_CNT_GET(p->split_depth);
    st->malformed = SW_CNT_GET(p->split_junk);
    st->truncated = SW_CNT_GET(p->truncated);
    st->reloads = SW_CNT_GET(p->reloads);
    st->reload_errors = SW_CNT_GET(p->reload_errors);
    st->hits = SW_CNT_GET(p->hits);
    st->ticks = SW_CNT_GET(p->ticks);
    st->last_t_ms = SW_CNT_GET(p->last_t);
    add_wait(&st->wait_reader, &p->wait_reader);
    add_wait(&st->wait_aggregate, &p->wait_agg);
    st->n_detectors = p->n_det;
    const struct pl_gen *g = atomic_load_explicit(&p->gen, memory_order_acquire);
    for (size_t d = 0; d < p->n_det; d++) {
        st->det[d].name = p->det[d]->name;
        st->det[d].enabled = g != NULL && g->enabled[d];
    }
    bool started = atomic_load_explicit(&p->started, memory_order_acquire);
    if (started && p->parsers != NULL) {
        for (unsigned i = 0; i < p->P; i++) {
            const struct pl_parser *ps = &p->parsers[i];
            const struct sw_xml_stats *x = &ps->pub;
            st->stanzas += SW_CNT_GET(x->stanzas);
            for (int k = 0; k < 3; k++) {
                uint64_t v = SW_CNT_GET(x->by_kind[k]);
                st->by_kind[k] += v;
                st->events += v;
            }
            st->unwrapped += SW_CNT_GET(x->unwrapped);
            st->carbons += SW_CNT_GET(x->carbons);
            st->reflections += SW_CNT_GET(x->reflections);
            st->skipped_oversize += SW_CNT_GET(x->skipped_oversize);
            st->skipped_depth += SW_CNT_GET(x->skipped_depth);
            st->skipped_attr += SW_CNT_GET(x->skipped_attr);
            st->skipped_unknown += SW_CNT_GET(x->skipped_unknown);
            st->bad_stamps += SW_CNT_GET(x->bad_stamps);
            st->parse_errors += SW_CNT_GET(x->parse_errors);
            st->over_limit += SW_CNT_GET(x->over_limit);
            st->malformed += SW_CNT_GET(x->malformed);
            add_wait(&st->wait_parse_in, &ps->wait_in);
            add_wait(&st->wait_parse_out, &ps->wait_out);
        }
    }
    if (started && p->workers != NULL) {
        for (unsigned i = 0; i < p->W; i++) {
            const struct pl_worker *w = &p->workers[i];
            add_wait(&st->wait_worker_in, &w->wait_in);
            add_wait(&st->wait_worker_hits, &w->wait_hits);
            st->detector_reload_errors += SW_CNT_GET(w->reload_errors);
            if (i == 0) {
                st->time_clamped = SW_CNT_GET(w->time_clamped); /* every worker counts them */
            }
            for (size_t d = 0; d < p->n_det; d++) {
                const struct pl_det_counters *c = &w->det[d];
                st->det[d].events += SW_CNT_GET(c->events);
                st->det[d].hits += SW_CNT_GET(c->hits);
                st->det[d].keys += SW_CNT_GET(c->keys);
                st->det[d].evictions += SW_CNT_GET(c->evictions);
                st->det[d].expired += SW_CNT_GET(c->expired);
                st->det[d].mem_bytes += SW_CNT_GET(c->mem_bytes);
            }
        }
    }
    if (p->stage.get_stats != NULL && atomic_load_explicit(&p->done, memory_order_acquire)) {
        p->stage.get_stats(p->stage.ctx, &st->agg);
    }
}

static double per_s(uint64_t n, double s)
{
    return s > 0 ? (double)n / s : 0;
}

int sw_pipeline_print_stats(const struct sw_pipeline_stats *st, FILE *fp)
{
    double mb = (double)st->bytes / 1e6;
    fprintf(fp,
            "stanzawatch: %.1f MB in %.3f s (%.1f MB/s), %" PRIu64 " stanzas (%.0f/s), %" PRIu64
            " events (%.0f/s), %u parser + %u worker threads\n",
            mb, st->wall_s, st->wall_s > 0 ? mb / st->wall_s : 0, st->stanzas,
            per_s(st->stanzas, st->wall_s), st->events, per_s(st->events, st->wall_s),
            st->parse_threads, st->threads);
    fprintf(fp,
            "  stanzas: message %" PRIu64 ", presence %" PRIu64 ", iq %" PRIu64
            "; unwrapped %" PRIu64 ", carbons %" PRIu64 "; MUC reflections not parsed %" PRIu64
            "\n",
            st->by_kind[0], st->by_kind[1], st->by_kind[2], st->unwrapped, st->carbons,
            st->reflections);
    fprintf(fp,
            "  skipped: oversize %" PRIu64 ", depth %" PRIu64 ", attr %" PRIu64 ", unknown %" PRIu64
            ", bad stamps %" PRIu64 "; parse errors %" PRIu64 "; drops %" PRIu64 " chunks (%" PRIu64
            " stanzas)\n",
            st->skipped_oversize, st->skipped_depth, st->skipped_attr, st->skipped_unknown,
            st->bad_stamps, st->parse_errors, st->drops, st->stanzas_dropped);
    fprintf(fp,
            "  hostile input: over-limit %" PRIu64 " (minimal events), malformed %" PRIu64
            " (skipped), time clamped %" PRIu64 "%s\n",
            st->over_limit, st->malformed, st->time_clamped,
            st->truncated > 0 ? "; a capture shrank while being read" : "");
    fprintf(fp,
            "  queue waits (waits/sleeps): reader %" PRIu64 "/%" PRIu64 ", parser in %" PRIu64
            "/%" PRIu64 ", parser out %" PRIu64 "/%" PRIu64 ", worker in %" PRIu64 "/%" PRIu64
            ", worker hits %" PRIu64 "/%" PRIu64 ", aggregator %" PRIu64 "/%" PRIu64 "\n",
            st->wait_reader.waits, st->wait_reader.sleeps, st->wait_parse_in.waits,
            st->wait_parse_in.sleeps, st->wait_parse_out.waits, st->wait_parse_out.sleeps,
            st->wait_worker_in.waits, st->wait_worker_in.sleeps, st->wait_worker_hits.waits,
            st->wait_worker_hits.sleeps, st->wait_aggregate.waits, st->wait_aggregate.sleeps);
    for (size_t d = 0; d < st->n_detectors; d++) {
        const struct sw_pipeline_det_stats *s = &st->det[d];
        if (!s->enabled) {
            fprintf(fp, "  detector %s: disabled\n", s->name);
            continue;
        }
        fprintf(fp,
                "  detector %s: events %" PRIu64 ", hits %" PRIu64 ", keys %" PRIu64
                ", evictions %" PRIu64 ", expired %" PRIu64 ", %.1f MB\n",
                s->name, s->events, s->hits, s->keys, s->evictions, s->expired,
                (double)s->mem_bytes / 1e6);
    }
    fprintf(fp,
            "  aggregator: hits %" PRIu64 ", opened %" PRIu64 ", updated %" PRIu64
            ", closed %" PRIu64 ", suppressed %" PRIu64 ", reopened %" PRIu64 "; reloads %" PRIu64
            " (failed %" PRIu64 ")\n",
            st->hits, st->agg.opened, st->agg.updated, st->agg.closed, st->agg.suppressed,
            st->agg.reopened, st->reloads, st->reload_errors);
    return ferror(fp) ? SW_EIO : 0;
}

static void json_wait(FILE *fp, const char *name, const struct sw_wait_stats *w, bool comma)
{
    fprintf(fp, "\"%s\":{\"waits\":%" PRIu64 ",\"sleeps\":%" PRIu64 "}%s", name, w->waits,
            w->sleeps, comma ? "," : "");
}

int sw_pipeline_write_stats_json(const struct sw_pipeline_stats *st, FILE *fp)
{
    fprintf(fp,
            "{\"threads\":%u,\"parse_threads\":%u,\"wall_s\":%.6f,\"bytes\":%" PRIu64
            ",\"mb_per_s\":%.3f,\"chunks\":%" PRIu64 ",\"stanzas\":%" PRIu64
            ",\"stanzas_per_s\":%.1f,\"events\":%" PRIu64 ",\"events_per_s\":%.1f,",
            st->threads, st->parse_threads, st->wall_s, st->bytes,
            st->wall_s > 0 ? (double)st->bytes / 1e6 / st->wall_s : 0, st->chunks, st->stanzas,
            per_s(st->stanzas, st->wall_s), st->events, per_s(st->events, st->wall_s));
    fprintf(fp,
            "\"by_kind\":{\"message\":%" PRIu64 ",\"presence\":%" PRIu64 ",\"iq\":%" PRIu64
            "},\"unwrapped\":%" PRIu64 ",\"carbons\":%" PRIu64 ",\"reflections_skipped\":%" PRIu64
            ",",
            st->by_kind[0], st->by_kind[1], st->by_kind[2], st->unwrapped, st->carbons,
            st->reflections);
    fprintf(fp,
            "\"skipped\":{\"oversize\":%" PRIu64 ",\"depth\":%" PRIu64 ",\"attr\":%" PRIu64
            ",\"unknown\":%" PRIu64 ",\"bad_stamps\":%" PRIu64 "},\"parse_errors\":%" PRIu64
            ",\"drops\":%" PRIu64 ",\"stanzas_dropped\":%" PRIu64 ",",
            st->skipped_oversize, st->skipped_depth, st->skipped_attr, st->skipped_unknown,
            st->bad_stamps, st->parse_errors, st->drops, st->stanzas_dropped);
    fprintf(fp,
            "\"over_limit\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"time_clamped\":%" PRIu64
            ",\"truncated\":%" PRIu64 ",",
            st->over_limit, st->malformed, st->time_clamped, st->truncated);
    fputs("\"queue_waits\":{", fp);
    json_wait(fp, "reader", &st->wait_reader, true);
    json_wait(fp, "parser_in", &st->wait_parse_in, true);
    json_wait(fp, "parser_out", &st->wait_parse_out, true);
    json_wait(fp, "worker_in", &st->wait_worker_in, true);
    json_wait(fp, "worker_hits", &st->wait_worker_hits, true);
    json_wait(fp, "aggregator", &st->wait_aggregate, false);
    fputs("},\"detectors\":{", fp);
    for (size_t d = 0; d < st->n_detectors; d++) {
        const struct sw_pipeline_det_stats *s = &st->det[d];
        fprintf(fp,
                "%s\"%s\":{\"enabled\":%s,\"events\":%" PRIu64 ",\"hits\":%" PRIu64
                ",\"keys\":%" PRIu64 ",\"evictions\":%" PRIu64 ",\"expired\":%" PRIu64
                ",\"mem_bytes\":%" PRIu64 "}",
                d ? "," : "", s->name, s->enabled ? "true" : "false", s->events, s->hits, s->keys,
                s->evictions, s->expired, s->mem_bytes);
    }
    fprintf(fp,
            "},\"aggregator\":{\"hits\":%" PRIu64 ",\"ticks\":%" PRIu64 ",\"opened\":%" PRIu64
            ",\"updated\":%" PRIu64 ",\"closed\":%" PRIu64 ",\"suppressed\":%" PRIu64
            ",\"reopened\":%" PRIu64 "},\"reloads\":%" PRIu64 ",\"reload_errors\":%" PRIu64
            ",\"detector_reload_errors\":%" PRIu64 "}\n",
            st->hits, st->ticks, st->agg.opened, st->agg.updated, st->agg.closed,
            st->agg.suppressed, st->agg.reopened, st->reloads, st->reload_errors,
            st->detector_reload_errors);
    return ferror(fp) ? SW_EIO : 0;
}
