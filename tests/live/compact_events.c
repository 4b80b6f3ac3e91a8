/*
 * compact_events.c - print the events stanzawatch's parser (engine/xml.c)
 * makes of an XMPP stream file, one line per event, every field a detector
 * reads: kind, type, flags, from, to, id, body, subject, status, nick, body
 * length and lines, shard keys and time. tests/live/compact_test.sh diffs the
 * output for the whole stanzas against the output for mod_stanzawatch.lua's
 * compact records of the same stanzas: they must be identical.
 *
 * Parser options as a live tap sets them (no_top_stamps), default limits,
 * MUC services by the default prefixes (conference, muc, rooms, chat), one
 * fixed arrival time; the file is fed in one piece.
 *
 * With --records the file is what a module writes to the socket tap (records
 * 1 and 2, live/record.h): it is split and every record unwrapped or
 * expanded by the tap's own code (lt_rec_parse) first, as the tap does.
 *
 * Usage: sw_compact_events [--records] STREAM_FILE   (exit 1 on a parse error)
 * Threading: single-threaded tool. Ownership: everything is freed at exit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "sw/sw.h"
#include "sw/xml.h"

/* --records: the stream rebuilt as the tap queues it */
struct expand {
    const char *in;
    char *out;
    size_t len, cap;
    struct lt_rec_conn rec;
    int bad;
};

static void put(struct expand *x, const char *s, size_t n)
{
    if (x->len + n + 1 > x->cap) {
        size_t ncap = (x->len + n + 1) * 2;
        char *nb = realloc(x->out, ncap);
        if (nb == NULL) {
            x->bad = 1;
            return;
        }
        x->out = nb;
        x->cap = ncap;
    }
    memcpy(x->out + x->len, s, n);
    x->len += n;
    x->out[x->len++] = '\n';
}

static void ex_header(void *ud, uint64_t start, uint64_t end)
{
    struct expand *x = ud;
    put(x, x->in + start, (size_t)(end - start));
}

static void ex_stanza(void *ud, uint64_t start, uint64_t end, uint32_t line)
{
    struct expand *x = ud;
    struct lt_rec r;
    const char *why = NULL;
    if (lt_rec_parse(&x->rec, x->in + start, (size_t)(end - start), &r, &why) < 0) {
        fprintf(stderr, "line %u: %s\n", line, why != NULL ? why : "out of memory");
        x->bad = 1;
        return;
    }
    if (r.stanza != NULL) {
        put(x, r.stanza, r.len);
    }
}

static void ex_close(void *ud, uint64_t start, uint64_t end)
{
    struct expand *x = ud;
    put(x, x->in + start, (size_t)(end - start));
}

static void put_str(const char *s, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '\\' || c == ']') {
            printf("\\x%02x", c);
        } else {
            putchar(c);
        }
    }
    putchar(']');
}

static void on_event(void *ud, const struct sw_event *ev)
{
    (void)ud;
    printf("kind=%u type=%u flags=%08" PRIx32 " full=%" PRIu32 " lines=%" PRIu32 " t=%" PRId64,
           ev->kind, ev->type, ev->flags, ev->body_full, ev->body_lines, ev->t_ms);
    for (int k = 0; k < SW_SHARD__COUNT; k++) {
        printf(" k%d=%016" PRIx64, k, ev->key[k]);
    }
    printf(" idh=%016" PRIx64 " from=", ev->id_hash);
    put_str(ev->from.text, ev->from.len);
    fputs(" to=", stdout);
    put_str(ev->to.text, ev->to.len);
    fputs(" id=", stdout);
    put_str(ev->id, ev->id_len);
    fputs(" body=", stdout);
    put_str(ev->body, ev->body_len);
    fputs(" subject=", stdout);
    put_str(ev->subject, ev->subject_len);
    fputs(" status=", stdout);
    put_str(ev->status, ev->status_len);
    fputs(" nick=", stdout);
    put_str(ev->nick, ev->nick_len);
    putchar('\n');
}

int main(int argc, char **argv)
{
    int records = argc == 3 && strcmp(argv[1], "--records") == 0;
    if (argc != 2 + records) {
        fprintf(stderr, "usage: %s [--records] STREAM_FILE\n", argv[0]);
        return 2;
    }
    const char *path = argv[1 + records];
    int rc = 1;
    char *data = NULL;
    struct sw_xml *x = NULL;
    struct sw_split *sp = NULL;
    struct expand ex;
    memset(&ex, 0, sizeof(ex));
    lt_rec_conn_init(&ex.rec);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        goto cleanup;
    }
    long size = ftell(f);
    rewind(f);
    data = malloc(size > 0 ? (size_t)size : 1);
    if (data == NULL || (size > 0 && fread(data, 1, (size_t)size, f) != (size_t)size)) {
        goto cleanup;
    }
    if (records) {
        /* the splitter's own limits (the tap skips what is over them, plain
         * or wrapped) are not what is compared: only the records */
        struct sw_xml_limits lim = {.max_depth = 100000,
                                    .max_attr_bytes = 4096,
                                    .max_text_bytes = 65536,
                                    .max_stanza_bytes = 1u << 30,
                                    .body_keep = 1024};
        struct sw_split_cb cb = {.header = ex_header, .stanza = ex_stanza, .close = ex_close};
        struct sw_errbuf seb;
        seb.msg[0] = '\0';
        cb.ud = &ex;
        ex.in = data;
        if (sw_split_new(&lim, &cb, &sp) < 0 || sw_split_feed(sp, data, (size_t)size, &seb) < 0 ||
            sw_split_finish(sp, &seb) < 0 || ex.bad) {
            fprintf(stderr, "%s: records: %s\n", path, seb.msg);
            goto cleanup;
        }
        free(data);
        data = ex.out;
        size = (long)ex.len;
        ex.out = NULL;
    }
    static const char *const prefixes[] = {"conference", "muc", "rooms", "chat"};
    struct sw_xml_opts o;
    memset(&o, 0, sizeof(o));
    o.limits = (struct sw_xml_limits){.max_depth = 32,
                                      .max_attr_bytes = 4096,
                                      .max_text_bytes = 65536,
                                      .max_stanza_bytes = 262144,
                                      .body_keep = 1024};
    o.muc_prefixes = prefixes;
    o.n_muc_prefixes = sizeof(prefixes) / sizeof(prefixes[0]);
    o.no_top_stamps = 1;
    struct sw_errbuf eb;
    eb.msg[0] = '\0';
    if (sw_xml_new(&o, on_event, NULL, &x) < 0) {
        goto cleanup;
    }
    sw_xml_set_stream(x, 0, 1);
    if (sw_xml_feed(x, data, (size_t)size, 1000, &eb) < 0 || sw_xml_finish(x, &eb) < 0) {
        fprintf(stderr, "%s: %s\n", path, eb.msg);
        goto cleanup;
    }
    const struct sw_xml_stats *st = sw_xml_stats(x);
    printf("stats stanzas=%" PRIu64 " over_limit=%" PRIu64 " bad_stamps=%" PRIu64 "\n", st->stanzas,
           st->over_limit, st->bad_stamps);
    rc = 0;
cleanup:
    sw_xml_free(x);
    sw_split_free(sp);
    lt_rec_conn_free(&ex.rec);
    free(ex.out);
    free(data);
    fclose(f);
    return rc;
}
