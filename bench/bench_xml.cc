// bench_xml.cc - the parse stage, per stage and against its baseline, on the
// same bytes: a swgen capture (seed 1, 200k stanzas, realistic mix with mirror
// copies) generated once into a temp file and read into memory.
//  - BM_RawLibxml2:  libxml2 SAX2 push parser with no-op callbacks (the
//    baseline of the throughput target; same options as engine/xml.c);
//  - BM_Split:       sw_split, the stanza-boundary scanner that lets the
//    engine cut a capture into chunks parsed in parallel;
//  - BM_ParseEvents: sw_xml, libxml2 + event building (JID split and hashes,
//    MUC facts, mirror unwrap, stamps) with a callback that only counts.
//  - BM_EventPack:   sw_event_pack, the copy of one event into a batch arena.
// All feed 256 KB pieces, as the engine does. Bytes/s and items (stanzas)/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <string>
#include <vector>

#include <libxml/parser.h>

#include "sw/event.h"
#include "sw/xml.h"

namespace
{

const size_t kPush = 256 * 1024;

const std::string &capture()
{
    static std::string data;
    if (!data.empty()) {
        return data;
    }
    char path[] = "/tmp/sw-bench-xml-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        return data;
    }
    close(fd);
    std::string cmd = std::string(SWGEN) +
                      " --seed 1 --stanzas 200000 --scenarios all --benign all -o " + path +
                      " 2>/dev/null";
    if (std::system(cmd.c_str()) == 0) {
        FILE *fp = std::fopen(path, "rb");
        if (fp != nullptr) {
            char buf[1 << 16];
            size_t n;
            while ((n = std::fread(buf, 1, sizeof(buf), fp)) > 0) {
                data.append(buf, n);
            }
            std::fclose(fp);
        }
    }
    std::remove(path);
    return data;
}

struct sw_xml_limits default_limits()
{
    struct sw_xml_limits lim;
    lim.max_depth = 32;
    lim.max_attr_bytes = 4096;
    lim.max_text_bytes = 65536;
    lim.max_stanza_bytes = 262144;
    lim.body_keep = 1024;
    return lim;
}

void raw_start(void *ctx, const xmlChar *, const xmlChar *, const xmlChar *, int, const xmlChar **,
               int, int, const xmlChar **)
{
    ++*static_cast<uint64_t *>(static_cast<xmlParserCtxtPtr>(ctx)->_private);
}
void raw_end(void *, const xmlChar *, const xmlChar *, const xmlChar *)
{
}
void raw_chars(void *, const xmlChar *, int)
{
}

void BM_RawLibxml2(benchmark::State &state)
{
    const std::string &d = capture();
    if (d.empty()) {
        state.SkipWithError("no capture (swgen failed)");
        return;
    }
    xmlInitParser();
    for (auto _ : state) {
        xmlSAXHandler sax;
        std::memset(&sax, 0, sizeof(sax));
        sax.initialized = XML_SAX2_MAGIC;
        sax.startElementNs = raw_start;
        sax.endElementNs = raw_end;
        sax.characters = raw_chars;
        uint64_t elements = 0;
        xmlParserCtxtPtr ctx = xmlCreatePushParserCtxt(&sax, nullptr, nullptr, 0, nullptr);
        ctx->_private = &elements;
        xmlCtxtUseOptions(ctx, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
        for (size_t off = 0; off < d.size(); off += kPush) {
            size_t n = d.size() - off < kPush ? d.size() - off : kPush;
            xmlParseChunk(ctx, d.data() + off, static_cast<int>(n), 0);
        }
        xmlFreeParserCtxt(ctx);
        benchmark::DoNotOptimize(elements);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * d.size()));
}
BENCHMARK(BM_RawLibxml2)->Unit(benchmark::kMillisecond);

struct split_count {
    uint64_t stanzas = 0;
};

void on_header(void *, uint64_t, uint64_t)
{
}
void on_stanza(void *ud, uint64_t, uint64_t, uint32_t)
{
    static_cast<split_count *>(ud)->stanzas++;
}
void on_close(void *, uint64_t, uint64_t)
{
}

void BM_Split(benchmark::State &state)
{
    const std::string &d = capture();
    if (d.empty()) {
        state.SkipWithError("no capture (swgen failed)");
        return;
    }
    struct sw_xml_limits lim = default_limits();
    uint64_t stanzas = 0;
    for (auto _ : state) {
        split_count c;
        struct sw_split_cb cb = {on_header, on_stanza, on_close, &c};
        struct sw_split *s = nullptr;
        if (sw_split_new(&lim, &cb, &s) != 0) {
            state.SkipWithError("sw_split_new");
            return;
        }
        for (size_t off = 0; off < d.size(); off += kPush) {
            size_t n = d.size() - off < kPush ? d.size() - off : kPush;
            if (sw_split_feed(s, d.data() + off, n, nullptr) != 0) {
                state.SkipWithError("sw_split_feed");
                break;
            }
        }
        sw_split_finish(s, nullptr);
        sw_split_free(s);
        stanzas = c.stanzas;
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * d.size()));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * stanzas));
}
BENCHMARK(BM_Split)->Unit(benchmark::kMillisecond);

void count_event(void *ud, const struct sw_event *ev)
{
    uint64_t *n = static_cast<uint64_t *>(ud);
    *n += 1 + (ev->flags & 1u);
}

void BM_ParseEvents(benchmark::State &state)
{
    const std::string &d = capture();
    if (d.empty()) {
        state.SkipWithError("no capture (swgen failed)");
        return;
    }
    struct sw_xml_opts opts;
    std::memset(&opts, 0, sizeof(opts));
    opts.limits = default_limits();
    static const char *const prefixes[] = {"conference", "muc", "rooms", "chat"};
    opts.muc_prefixes = prefixes;
    opts.n_muc_prefixes = 4;
    uint64_t events = 0;
    for (auto _ : state) {
        uint64_t n = 0;
        struct sw_xml *x = nullptr;
        if (sw_xml_new(&opts, count_event, &n, &x) != 0) {
            state.SkipWithError("sw_xml_new");
            return;
        }
        for (size_t off = 0; off < d.size(); off += kPush) {
            size_t len = d.size() - off < kPush ? d.size() - off : kPush;
            if (sw_xml_feed(x, d.data() + off, len, 0, nullptr) != 0) {
                state.SkipWithError("sw_xml_feed");
                break;
            }
        }
        sw_xml_finish(x, nullptr);
        events =
            sw_xml_stats(x)->by_kind[0] + sw_xml_stats(x)->by_kind[1] + sw_xml_stats(x)->by_kind[2];
        sw_xml_free(x);
        benchmark::DoNotOptimize(n);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * d.size()));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events));
}
BENCHMARK(BM_ParseEvents)->Unit(benchmark::kMillisecond);

struct pack_ctx {
    std::vector<struct sw_event> events;
    std::vector<char> arena;
    size_t used = 0;
};

void keep_event(void *ud, const struct sw_event *ev)
{
    pack_ctx *p = static_cast<pack_ctx *>(ud);
    if (p->events.size() >= 4096) {
        return;
    }
    size_t need = sw_event_text_size(ev);
    if (p->used + need > p->arena.size()) {
        return;
    }
    p->events.emplace_back();
    p->used += sw_event_pack(ev, &p->events.back(), p->arena.data() + p->used);
}

void BM_EventPack(benchmark::State &state)
{
    const std::string &d = capture();
    if (d.empty()) {
        state.SkipWithError("no capture (swgen failed)");
        return;
    }
    // Collect 4096 real events once, then measure packing them into an arena.
    pack_ctx src;
    src.arena.resize(8 << 20);
    src.events.reserve(4096);
    struct sw_xml_opts opts;
    std::memset(&opts, 0, sizeof(opts));
    opts.limits = default_limits();
    struct sw_xml *x = nullptr;
    if (sw_xml_new(&opts, keep_event, &src, &x) != 0) {
        state.SkipWithError("sw_xml_new");
        return;
    }
    sw_xml_feed(x, d.data(), d.size() < (4u << 20) ? d.size() : (4u << 20), 0, nullptr);
    std::vector<struct sw_event> dst(src.events.size());
    std::vector<char> arena(8 << 20);
    for (auto _ : state) {
        size_t used = 0;
        for (size_t i = 0; i < src.events.size(); i++) {
            used += sw_event_pack(&src.events[i], &dst[i], arena.data() + used);
        }
        benchmark::DoNotOptimize(used);
    }
    sw_xml_free(x);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * src.events.size()));
}
BENCHMARK(BM_EventPack);

} // namespace
