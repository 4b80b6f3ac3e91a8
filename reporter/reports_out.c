/*
 * reports_out.c - the `--reports FILE` output: the XEP-0268 <iq type='set'>
 * stanzas the live reporter would send, one per line.
 *
 * One line per (incident state change, interested peer); with no peer
 * configured, one line without `to`, so a replay without peers still shows
 * every report. ReportTime is the incident's last stream time (not the wall
 * clock) and the iq id is "sw-<incident id>-<revision>", so a replay of the
 * same capture writes the same file.
 *
 * Threading: incident() and close() run on the aggregator thread; @fp is
 * borrowed.
 */
#include "sw/reporter.h"

#include <stdlib.h>
#include <string.h>

#include "reporter_int.h"

struct reports_out {
    const struct sw_reporter_settings *s;
    struct sw_reporter_settings defaults;
    FILE *fp;
    uint64_t written, errors;
};

static const char *from_jid(const struct sw_reporter_settings *s)
{
    return s->mode == SW_REPORTER_CLIENT ? s->client.jid : s->component.jid;
}

static int write_line(struct reports_out *ro, const char *id, const char *to, const char *payload,
                      size_t plen)
{
    char *iq;
    size_t len;
    int rc = sw_xep0268_iq("set", id, from_jid(ro->s), to, payload, plen, &iq, &len);
    if (rc != 0) {
        return rc;
    }
    if (fwrite(iq, 1, len, ro->fp) != len || fputc('\n', ro->fp) == EOF) {
        rc = SW_EIO;
    }
    free(iq);
    return rc;
}

static int reports_incident(void *ctx, const struct sw_incident *inc)
{
    struct reports_out *ro = ctx;
    int64_t t = inc->last_seen > inc->detected_at ? inc->last_seen : inc->detected_at;
    char *payload;
    size_t plen;
    char id[96];
    int rc = sw_xep0268_report(ro->s, inc, t, &payload, &plen);
    if (rc != 0) {
        ro->errors++;
        return rc;
    }
    snprintf(id, sizeof(id), "sw-%s-%u", inc->id, inc->revision);
    const struct sw_reporter_peer *peers = ro->s->peers.items;
    if (ro->s->peers.n == 0) {
        rc = write_line(ro, id, NULL, payload, plen);
    }
    for (size_t i = 0; i < ro->s->peers.n && rc == 0; i++) {
        if (sw_reporter_peer_wants(ro->s, &peers[i], inc)) {
            rc = write_line(ro, id, peers[i].jid, payload, plen);
        }
    }
    free(payload);
    if (rc != 0) {
        ro->errors++;
    } else {
        ro->written++;
    }
    return rc;
}

static int reports_close(void *ctx)
{
    struct reports_out *ro = ctx;
    int rc = fflush(ro->fp) == 0 ? 0 : SW_EIO;
    free(ro);
    return rc;
}

int sw_output_reports_init_settings(struct sw_output_ops *o, const struct sw_reporter_settings *s,
                                    FILE *fp, struct sw_errbuf *eb)
{
    struct reports_out *ro = calloc(1, sizeof(*ro));
    if (ro == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "reports output: out of memory");
    }
    if (s == NULL) {
        sw_reporter_settings_defaults(&ro->defaults);
        s = &ro->defaults;
    }
    ro->s = s;
    ro->fp = fp;
    o->name = "reports";
    o->incident = reports_incident;
    o->reload = NULL;
    o->close = reports_close;
    o->ctx = ro;
    return 0;
}

int sw_output_reports_init(struct sw_output_ops *o, const struct sw_conf *c, FILE *fp,
                           struct sw_errbuf *eb)
{
    const struct sw_reporter_settings *s = c ? sw_conf_section(c, "reporter") : NULL;
    return sw_output_reports_init_settings(o, s, fp, eb);
}
