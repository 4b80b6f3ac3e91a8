/*
 * rawparse.c - the baseline bench/run compares the pipeline to: one thread
 * parsing a capture with a libxml2 SAX2 push parser, no-op callbacks (only a
 * depth counter to count top-level stanzas), fed in 256 KB pushes read with
 * read(2). No DOM, no entity expansion, no network (same options as
 * engine/xml.c). Prints bytes, stanzas, seconds, MB/s and stanzas/s.
 *
 * With --sax1, the SAX1 callbacks engine/xml.c uses (startElement/endElement:
 * no namespace processing, attribute values copied for the callback).
 *
 * Usage: sw_rawparse [--sax1] CAPTURE     (prints one line of key=value pairs)
 */
#include <fcntl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PUSH_BYTES (256 * 1024)

struct raw {
    int depth;
    unsigned long long stanzas;
};

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                     int nb_defaulted, const xmlChar **attributes)
{
    struct raw *r = ((xmlParserCtxtPtr)ctx)->_private;
    (void)localname;
    (void)prefix;
    (void)uri;
    (void)nb_namespaces;
    (void)namespaces;
    (void)nb_attributes;
    (void)nb_defaulted;
    (void)attributes;
    if (++r->depth == 2) {
        r->stanzas++;
    }
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    struct raw *r = ((xmlParserCtxtPtr)ctx)->_private;
    (void)localname;
    (void)prefix;
    (void)uri;
    r->depth--;
}

static void on_start1(void *ctx, const xmlChar *name, const xmlChar **atts)
{
    struct raw *r = ((xmlParserCtxtPtr)ctx)->_private;
    (void)name;
    (void)atts;
    if (++r->depth == 2) {
        r->stanzas++;
    }
}

static void on_end1(void *ctx, const xmlChar *name)
{
    struct raw *r = ((xmlParserCtxtPtr)ctx)->_private;
    (void)name;
    r->depth--;
}

static void on_chars(void *ctx, const xmlChar *ch, int len)
{
    (void)ctx;
    (void)ch;
    (void)len;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int sax1 = argc == 3 && strcmp(argv[1], "--sax1") == 0;
    if (argc != 2 + sax1) {
        fprintf(stderr, "usage: sw_rawparse [--sax1] CAPTURE\n");
        return 2;
    }
    const char *path = argv[1 + sax1];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    char *buf = malloc(PUSH_BYTES);
    if (buf == NULL) {
        return 1;
    }
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof(sax));
    if (sax1) {
        sax.initialized = 1; /* (with XML_SAX2_MAGIC libxml2 2.9.14 parses in SAX2 mode) */
        sax.startElement = on_start1;
        sax.endElement = on_end1;
    } else {
        sax.initialized = XML_SAX2_MAGIC;
        sax.startElementNs = on_start;
        sax.endElementNs = on_end;
    }
    sax.characters = on_chars;
    struct raw r = {0, 0};
    double t0 = now_s();
    xmlParserCtxtPtr ctx = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, path);
    if (ctx == NULL) {
        return 1;
    }
    ctx->_private = &r;
    xmlCtxtUseOptions(ctx, XML_PARSE_NONET | XML_PARSE_NOWARNING);
    unsigned long long bytes = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, PUSH_BYTES);
        if (n < 0) {
            perror("read");
            rc = 1;
            break;
        }
        if (n == 0) {
            break;
        }
        bytes += (unsigned long long)n;
        if (xmlParseChunk(ctx, buf, (int)n, 0) != 0) {
            fprintf(stderr, "%s: parse error at line %d\n", path, xmlSAX2GetLineNumber(ctx));
            rc = 1;
            break;
        }
    }
    if (rc == 0) {
        (void)xmlParseChunk(ctx, NULL, 0, 1); /* a missing stream close is fine */
    }
    double dt = now_s() - t0;
    xmlFreeParserCtxt(ctx);
    close(fd);
    free(buf);
    printf("bytes=%llu stanzas=%llu seconds=%.3f mb_per_s=%.1f stanzas_per_s=%.0f\n", bytes,
           r.stanzas, dt, (double)bytes / 1e6 / dt, (double)r.stanzas / dt);
    return rc;
}
