// bench_content.cc - the content detector and its choice of Hyperscan.
//
// Benchmarks (bodies: tests/data/corpus/benign_chat.txt + spam_sample.txt):
//   BM_ContentDefault   content detector process() per event with the default
//                       rule set (configs/rules/default.yaml, incl. normalization)
//   BM_Content10k       the same with 10,000 generated rules (a rule file in /tmp)
//   BM_HsDefault / BM_Pcre2Default   the default rules' patterns (raw, no
//                       normalization) in one Hyperscan database vs. PCRE2-JIT
//                       running every pattern on every body
//   BM_Hs10k / BM_Pcre2_10k          the same for the 10k generated rules
//   BM_Setup10kCold / BM_Setup10kCached  content setup() with 10k rules: compile
//                       vs. load from the on-disk database cache
// After the runs the Hyperscan : PCRE2-JIT ratio per body is printed for both
// rule sets. SW_BENCH_RULES overrides the 10,000.
#include <benchmark/benchmark.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

extern "C" {
#include "../detectors/hs.h"
#include "sw/conf.h"
#include "sw/detector.h"
extern const struct sw_detector_ops sw_content_ops;
}

namespace
{

struct Pattern {
    std::string expr; // Hyperscan/PCRE2 syntax (literals escaped)
    bool caseless;
    bool utf8;
};

std::vector<std::string> g_bodies;
std::vector<Pattern> g_default, g_10k;
std::string g_tmp;
std::string g_rules10k_yaml;

std::vector<std::string> read_lines(const std::string &path)
{
    std::vector<std::string> v;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty()) {
            v.push_back(line);
        }
    }
    return v;
}

std::string escape(const std::string &lit)
{
    static const char hex[] = "0123456789abcdef";
    std::string r;
    for (unsigned char c : lit) {
        if (std::isalnum(c) || c >= 0x80) {
            r += (char)c;
        } else {
            r += "\\x";
            r += hex[c >> 4];
            r += hex[c & 15];
        }
    }
    return r;
}

unsigned n_rules()
{
    const char *e = std::getenv("SW_BENCH_RULES");
    return e ? (unsigned)std::strtoul(e, nullptr, 10) : 10000u;
}

// Deterministic 10k rules: 70% literal phrases/domains, 30% small regexes.
void make_10k()
{
    static const char *const words[] = {"free",  "cheap", "bonus",  "crypto", "offer", "deal",
                                        "click", "prize", "winner", "loan",   "pills", "promo",
                                        "vip",   "gift",  "cash",   "invest", "earn",  "fast"};
    const size_t nw = sizeof(words) / sizeof(words[0]);
    unsigned n = n_rules();
    std::string yaml = "rules:\n";
    uint64_t s = 42;
    auto rnd = [&s]() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    };
    for (unsigned i = 0; i < n; i++) {
        Pattern p{"", true, false};
        char buf[256];
        if (i % 10 < 4) {
            std::snprintf(buf, sizeof(buf), "%s-%u.example", words[rnd() % nw], i);
            p.expr = escape(buf);
            yaml += "  - {id: r" + std::to_string(i) + ", literal: '" + buf + "'}\n";
        } else if (i % 10 < 7) {
            std::snprintf(buf, sizeof(buf), "%s %s %u", words[rnd() % nw], words[rnd() % nw], i);
            p.expr = escape(buf);
            yaml += "  - {id: r" + std::to_string(i) + ", literal: '" + buf + "'}\n";
        } else {
            std::snprintf(buf, sizeof(buf), "%s\\s+(?:%s|%s)\\s*%u[a-z]{0,3}", words[rnd() % nw],
                          words[rnd() % nw], words[rnd() % nw], i);
            p.expr = buf;
            yaml += "  - {id: r" + std::to_string(i) + ", regex: '" + buf + "'}\n";
        }
        g_10k.push_back(p);
    }
    g_rules10k_yaml = g_tmp + "/rules10k.yaml";
    std::ofstream(g_rules10k_yaml) << yaml;
}

// The default rule set's raw patterns, read through the config engine's nodes.
void load_default_patterns()
{
    std::string dir = std::string(SW_SOURCE_DIR) + "/configs/rules/";
    struct sw_conf *owner = nullptr;
    struct sw_errbuf eb;
    const struct sw_conf_node *root = nullptr;
    if (sw_conf_load(nullptr, &owner, &eb) != 0 ||
        sw_conf_load_node(owner, (dir + "default.yaml").c_str(), &root, &eb) != 0) {
        std::fprintf(stderr, "bench_content: %s\n", eb.msg);
        std::exit(1);
    }
    const struct sw_conf_node *rules = sw_conf_node_get(root, "rules");
    for (size_t i = 0; i < sw_conf_node_count(rules); i++) {
        const struct sw_conf_node *r = sw_conf_node_item(rules, i);
        auto str = [&](const char *k) {
            const char *v = sw_conf_node_scalar(sw_conf_node_get(r, k));
            return v ? std::string(v) : std::string();
        };
        bool utf8 = str("utf8") == "true";
        bool ww = str("whole_word") == "true";
        bool caseless = str("caseless") != "false";
        auto wrap = [&](std::string e) { return ww ? "\\b(?:" + e + ")\\b" : e; };
        if (!str("regex").empty()) {
            g_default.push_back({str("regex"), caseless, utf8});
        } else if (!str("literal").empty()) {
            g_default.push_back({wrap(escape(str("literal"))), caseless, utf8});
        } else if (!str("list").empty()) {
            for (const auto &l : read_lines(dir + str("list"))) {
                if (l[0] == '#') {
                    continue;
                }
                std::string e = str("list_regex") == "true" ? l : escape(l);
                g_default.push_back({wrap(e), caseless, utf8});
            }
        }
    }
    sw_conf_free(owner);
}

void init_once()
{
    static bool done = false;
    if (done) {
        return;
    }
    done = true;
    char tmpl[] = "/tmp/sw-bench-content-XXXXXX";
    g_tmp = mkdtemp(tmpl);
    sw_conf_registry_reset();
    sw_conf_register("detectors.content", sw_content_ops.schema, sw_content_ops.settings_size);
    for (const char *f :
         {"/tests/data/corpus/benign_chat.txt", "/tests/data/corpus/spam_sample.txt"}) {
        for (auto &l : read_lines(std::string(SW_SOURCE_DIR) + f)) {
            g_bodies.push_back(l);
        }
    }
    load_default_patterns();
    make_10k();
}

// ---- Hyperscan and PCRE2 on a pattern list ----

struct HsSet {
    struct sw_hs_db *db = nullptr;
    struct sw_hs_scratch *scratch = nullptr;
    explicit HsSet(const std::vector<Pattern> &pats)
    {
        std::vector<struct sw_hs_pattern> v;
        for (size_t i = 0; i < pats.size(); i++) {
            unsigned f =
                (pats[i].caseless ? SW_HS_CASELESS : 0u) | (pats[i].utf8 ? SW_HS_UTF8 : 0u);
            v.push_back({pats[i].expr.c_str(), 0, (unsigned)i, f});
        }
        struct sw_errbuf eb;
        struct sw_hs_build_info info;
        std::string cache = g_tmp + "/hscache";
        mkdir(cache.c_str(), 0700);
        if (sw_hs_db_build(v.data(), v.size(), cache.c_str(), &db, &info, &eb) != 0) {
            std::fprintf(stderr, "hs: %s (pattern %zu)\n", eb.msg, info.bad_index);
            std::exit(1);
        }
        sw_hs_scratch_grow(&scratch, db);
    }
    ~HsSet()
    {
        sw_hs_scratch_free(scratch);
        sw_hs_db_free(db);
    }
    static int on_match(unsigned, unsigned long long, void *ctx)
    {
        ++*static_cast<size_t *>(ctx);
        return 0;
    }
    size_t scan(const std::string &b) const
    {
        size_t n = 0;
        sw_hs_scan(db, b.data(), b.size(), scratch, on_match, &n);
        return n;
    }
};

struct PcreSet {
    std::vector<pcre2_code *> codes;
    pcre2_match_data *md = nullptr;
    explicit PcreSet(const std::vector<Pattern> &pats)
    {
        for (const auto &p : pats) {
            int err;
            PCRE2_SIZE off;
            uint32_t opt =
                (p.caseless ? PCRE2_CASELESS : 0u) | (p.utf8 ? PCRE2_UTF | PCRE2_UCP : 0u);
            pcre2_code *c = pcre2_compile((PCRE2_SPTR)p.expr.c_str(), PCRE2_ZERO_TERMINATED, opt,
                                          &err, &off, nullptr);
            if (c == nullptr) {
                std::fprintf(stderr, "pcre2: cannot compile %s\n", p.expr.c_str());
                std::exit(1);
            }
            pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
            codes.push_back(c);
        }
        md = pcre2_match_data_create(4, nullptr);
    }
    ~PcreSet()
    {
        for (auto *c : codes) {
            pcre2_code_free(c);
        }
        pcre2_match_data_free(md);
    }
    size_t scan(const std::string &b) const
    {
        size_t n = 0;
        for (auto *c : codes) {
            // bodies are valid UTF-8 or plain bytes; skip the UTF check like Hyperscan does
            if (pcre2_jit_match(c, (PCRE2_SPTR)b.data(), b.size(), 0, PCRE2_NO_UTF_CHECK, md,
                                nullptr) >= 0) {
                n++;
            }
        }
        return n;
    }
};

// Mean time per body over the first @bodies bodies, @rounds times.
double ns_per_body(const std::function<size_t(const std::string &)> &scan, unsigned rounds,
                   size_t bodies)
{
    bodies = std::min(bodies, g_bodies.size());
    auto t0 = std::chrono::steady_clock::now();
    size_t sink = 0;
    for (unsigned r = 0; r < rounds; r++) {
        for (size_t i = 0; i < bodies; i++) {
            sink += scan(g_bodies[i]);
        }
    }
    auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(sink);
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / (double)(rounds * bodies);
}

// ---- the detector ----

struct Det {
    struct sw_conf *conf = nullptr;
    void *shared = nullptr;
    void *local = nullptr;
    double setup_ms = 0;
    Det(const std::string &section_yaml)
    {
        std::string path = g_tmp + "/config.yaml";
        std::ofstream(path) << "detectors:\n  content:\n" << section_yaml;
        struct sw_errbuf eb;
        auto t0 = std::chrono::steady_clock::now();
        if (sw_conf_load(path.c_str(), &conf, &eb) != 0 ||
            sw_content_ops.setup(sw_conf_section(conf, "detectors.content"), &shared, &eb) != 0) {
            std::fprintf(stderr, "content setup: %s\n", eb.msg);
            std::exit(1);
        }
        setup_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                       .count();
        sw_content_ops.thread_init(shared, &local);
    }
    ~Det()
    {
        sw_content_ops.thread_fini(local);
        sw_content_ops.teardown(shared);
        sw_conf_free(conf);
    }
};

void hit_count(struct sw_hit_sink *sink, const struct sw_hit *)
{
    ++*static_cast<size_t *>(sink->ctx);
}

void run_detector(benchmark::State &state, Det &d)
{
    std::vector<struct sw_event> evs(g_bodies.size());
    for (size_t i = 0; i < g_bodies.size(); i++) {
        struct sw_event &ev = evs[i];
        std::memset(&ev, 0, sizeof(ev));
        ev.kind = SW_EV_MESSAGE;
        ev.type = SW_T_GROUPCHAT;
        static const char from[] = "alice@example.org/phone";
        ev.from.text = from;
        ev.from.len = sizeof(from) - 1;
        ev.from.local_len = 5;
        ev.from.domain_off = 6;
        ev.from.domain_len = 11;
        ev.from.res_off = 18;
        ev.from.res_len = 5;
        ev.to.text = "room@conference.example.org";
        ev.to.len = 27;
        ev.to.local_len = 4;
        ev.to.domain_off = 5;
        ev.to.domain_len = 22;
        ev.flags = SW_F_MUC_GROUPCHAT;
        ev.id = ev.subject = ev.status = ev.nick = "";
        ev.body = g_bodies[i].c_str();
        ev.body_len = (uint16_t)std::min<size_t>(g_bodies[i].size(), 4096);
    }
    size_t hits = 0;
    struct sw_hit_sink sink = {hit_count, &hits};
    struct sw_detector_stats st = {};
    size_t i = 0;
    for (auto _ : state) {
        sw_content_ops.process(d.shared, d.local, &evs[i], &sink, &st);
        if (++i == evs.size()) {
            i = 0;
        }
    }
    state.SetItemsProcessed((int64_t)state.iterations());
    state.counters["hits_per_event"] =
        benchmark::Counter((double)hits / (double)std::max<uint64_t>(1, state.iterations()));
}

std::string cache_yaml(const std::string &cache_dir)
{
    return "    cache_dir: " + cache_dir + "\n";
}

void BM_ContentDefault(benchmark::State &state)
{
    init_once();
    Det d(cache_yaml(g_tmp + "/cache") + "    rule_files: [" + SW_SOURCE_DIR +
          "/configs/rules/default.yaml]\n");
    run_detector(state, d);
}
BENCHMARK(BM_ContentDefault);

void BM_Content10k(benchmark::State &state)
{
    init_once();
    Det d(cache_yaml(g_tmp + "/warm") + "    rule_files: [" + g_rules10k_yaml + "]\n");
    run_detector(state, d);
}
BENCHMARK(BM_Content10k);

void BM_Setup10kCold(benchmark::State &state)
{
    init_once();
    for (auto _ : state) {
        std::string dir = g_tmp + "/cold"; // fresh: nothing cached yet
        Det d(cache_yaml(dir) + "    rule_files: [" + g_rules10k_yaml + "]\n");
        state.counters["setup_ms"] = d.setup_ms;
    }
}
BENCHMARK(BM_Setup10kCold)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_Setup10kCached(benchmark::State &state)
{
    init_once();
    std::string dir = g_tmp + "/warm";
    {
        Det warm(cache_yaml(dir) + "    rule_files: [" + g_rules10k_yaml + "]\n");
    }
    for (auto _ : state) {
        Det d(cache_yaml(dir) + "    rule_files: [" + g_rules10k_yaml + "]\n");
        state.counters["setup_ms"] = d.setup_ms;
    }
}
BENCHMARK(BM_Setup10kCached)->Iterations(3)->Unit(benchmark::kMillisecond);

template <class Set> void scan_bench(benchmark::State &state, const std::vector<Pattern> &pats)
{
    init_once();
    Set set(pats);
    size_t i = 0, n = 0;
    for (auto _ : state) {
        n += set.scan(g_bodies[i]);
        if (++i == g_bodies.size()) {
            i = 0;
        }
    }
    benchmark::DoNotOptimize(n);
    state.SetItemsProcessed((int64_t)state.iterations());
}

void BM_HsDefault(benchmark::State &s)
{
    scan_bench<HsSet>(s, g_default);
}
void BM_Pcre2Default(benchmark::State &s)
{
    scan_bench<PcreSet>(s, g_default);
}
void BM_Hs10k(benchmark::State &s)
{
    scan_bench<HsSet>(s, g_10k);
}
void BM_Pcre2_10k(benchmark::State &s)
{
    scan_bench<PcreSet>(s, g_10k);
}
BENCHMARK(BM_HsDefault);
BENCHMARK(BM_Pcre2Default);
BENCHMARK(BM_Hs10k);
BENCHMARK(BM_Pcre2_10k);

// Printed once after the benchmarks: same rules, same bodies, per-body time.
struct RatioReport {
    ~RatioReport()
    {
        if (g_bodies.empty()) {
            return;
        }
        for (int k = 0; k < 2; k++) {
            const auto &pats = k == 0 ? g_default : g_10k;
            // PCRE2 with 10k patterns needs milliseconds per body: time 100 bodies
            size_t nb = std::min<size_t>(k == 0 ? g_bodies.size() : 100, g_bodies.size());
            HsSet hs(pats);
            PcreSet pc(pats);
            size_t agree = 0;
            for (size_t i = 0; i < nb; i++) {
                agree += (hs.scan(g_bodies[i]) > 0) == (pc.scan(g_bodies[i]) > 0);
            }
            double th = ns_per_body([&](const std::string &b) { return hs.scan(b); }, 20, nb);
            double tp =
                ns_per_body([&](const std::string &b) { return pc.scan(b); }, k ? 1 : 5, nb);
            std::printf("content: %s rules (%zu patterns), %zu bodies: hyperscan %.0f ns/body, "
                        "pcre2-jit %.0f ns/body, ratio %.1fx (match/no-match agree on %zu/%zu)\n",
                        k == 0 ? "default" : "generated", pats.size(), nb, th, tp, tp / th, agree,
                        nb);
        }
        std::string cmd = "rm -rf '" + g_tmp + "'";
        if (std::system(cmd.c_str()) != 0) {
            std::fprintf(stderr, "bench_content: could not remove %s\n", g_tmp.c_str());
        }
    }
} g_ratio_report;

} // namespace
