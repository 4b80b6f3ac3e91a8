// bench_detectors.cc - cost per event of each registered detector's process()
// (detectors/*.c), on one worker, with the built-in default config.
//
// Workload: a prebuilt mix of 8192 events that looks like a busy server: 40
// rooms and 2000 accounts; 60% groupchat lines of varied text (plus the room's
// reflected copies, which detectors must skip cheaply), 15% MUC presence
// (joins, leaves, status), 10% subscribe/subscribed, 15% 1:1 chat. Each
// iteration feeds one event (stream time advancing 1 ms per event, expire()
// once per stream second like a worker). Events a detector's mask excludes
// are skipped by the engine, so they are skipped here too and the number is
// "ns per event of the mixed stream".
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/settings.h"

extern "C" {
#include "../detectors/table.h"
}

namespace
{

struct jid_text {
    std::string s;
};

// Split @text into @j (hashes as event.h describes).
void make_jid(sw_jid &j, const std::string &text)
{
    std::memset(&j, 0, sizeof(j));
    j.text = text.c_str();
    j.len = static_cast<uint16_t>(text.size());
    size_t slash = text.find('/');
    size_t bare_len = slash == std::string::npos ? text.size() : slash;
    size_t at = text.find('@');
    if (at != std::string::npos && at < bare_len) {
        j.local_len = static_cast<uint16_t>(at);
        j.domain_off = static_cast<uint16_t>(at + 1);
    }
    j.domain_len = static_cast<uint16_t>(bare_len - j.domain_off);
    if (slash != std::string::npos) {
        j.res_off = static_cast<uint16_t>(slash + 1);
        j.res_len = static_cast<uint16_t>(text.size() - slash - 1);
    }
    j.bare = sw_hash64_lower(text.data(), bare_len);
    j.domain = sw_hash64_lower(text.data() + j.domain_off, j.domain_len);
    j.full = sw_hash64(text.data(), text.size());
}

struct workload {
    std::vector<std::unique_ptr<std::string>> texts; // stable storage
    std::vector<sw_event> evs;
    std::vector<uint64_t> ids;

    const char *keep(const std::string &s)
    {
        texts.push_back(std::make_unique<std::string>(s));
        return texts.back()->c_str();
    }
    const std::string &keep_s(const std::string &s)
    {
        texts.push_back(std::make_unique<std::string>(s));
        return *texts.back();
    }

    sw_event base(uint16_t kind, uint16_t type, const std::string &from, const std::string &to)
    {
        sw_event ev;
        std::memset(&ev, 0, sizeof(ev));
        ev.kind = kind;
        ev.type = type;
        make_jid(ev.from, keep_s(from));
        make_jid(ev.to, keep_s(to));
        ev.body = ev.id = ev.subject = ev.status = ev.nick = "";
        ev.key[SW_SHARD_SENDER] = ev.from.local_len ? ev.from.bare : 0;
        ev.key[SW_SHARD_SENDER_DOMAIN] = ev.from.domain;
        ev.key[SW_SHARD_TARGET] = ev.to.bare;
        return ev;
    }

    void body(sw_event &ev, const std::string &b)
    {
        ev.body = keep(b);
        ev.body_len = static_cast<uint16_t>(b.size());
        ev.body_full = static_cast<uint32_t>(b.size());
        ev.body_lines = 1;
        ev.flags |= SW_F_HAS_BODY;
    }

    workload()
    {
        static const char *vocab[] = {"the",   "build", "is",    "green",  "did",   "you",
                                      "see",   "match", "lunch", "today",  "maybe", "later",
                                      "merge", "tests", "flaky", "review", "cat",   "music",
                                      "night", "train", "late",  "coffee", "good",  "thanks"};
        uint64_t x = 88172645463325252ull;
        auto rnd = [&x]() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            return x;
        };
        char buf[256];
        for (int i = 0; i < 8192; i++) {
            unsigned u = static_cast<unsigned>(rnd() % 2000);
            unsigned r = static_cast<unsigned>(rnd() % 40);
            std::string user = "user" + std::to_string(u) + "@example.org";
            std::string room = "room" + std::to_string(r) + "@conference.example.org";
            unsigned p = static_cast<unsigned>(rnd() % 100);
            sw_event ev;
            if (p < 45) {
                ev = base(SW_EV_MESSAGE, SW_T_GROUPCHAT, user + "/phone", room);
                ev.flags |= SW_F_MUC_GROUPCHAT;
                ev.key[SW_SHARD_ROOM] = ev.to.bare;
                std::string line;
                int n = 3 + static_cast<int>(rnd() % 10);
                for (int w = 0; w < n; w++) {
                    line += (w ? " " : "");
                    line += vocab[rnd() % (sizeof(vocab) / sizeof(vocab[0]))];
                }
                body(ev, line);
            } else if (p < 60) {
                ev = base(SW_EV_MESSAGE, SW_T_GROUPCHAT, room + "/nick" + std::to_string(u),
                          "user" + std::to_string(rnd() % 2000) + "@example.org/phone");
                ev.flags |= SW_F_MUC_REFLECTION;
                ev.key[SW_SHARD_ROOM] = ev.from.bare;
                body(ev, "a reflected line of the room");
            } else if (p < 75) {
                unsigned k = static_cast<unsigned>(rnd() % 3);
                std::snprintf(buf, sizeof(buf), "/n%u", u);
                ev = base(SW_EV_PRESENCE, k == 1 ? SW_T_UNAVAILABLE : SW_T_AVAILABLE,
                          user + "/phone", room + buf);
                ev.flags |=
                    SW_F_MUC_PRESENCE | (k == 0 ? SW_F_MUC_JOIN : (k == 1 ? SW_F_MUC_LEAVE : 0u));
                ev.key[SW_SHARD_ROOM] = ev.to.bare;
                ev.nick = ev.to.text + ev.to.res_off;
                ev.nick_len = ev.to.res_len;
            } else if (p < 85) {
                std::string other = "peer" + std::to_string(rnd() % 5000) + "@example.net";
                if (p < 80) {
                    ev = base(SW_EV_PRESENCE, SW_T_SUBSCRIBE, user, other);
                } else {
                    ev = base(SW_EV_PRESENCE, SW_T_SUBSCRIBED, other, user);
                }
            } else {
                std::string other = "user" + std::to_string(rnd() % 2000) + "@example.org";
                ev = base(SW_EV_MESSAGE, SW_T_CHAT, user + "/phone", other);
                body(ev, "hey, are we still on for tonight?");
            }
            std::snprintf(buf, sizeof(buf), "id%d", i);
            ev.id = keep(buf);
            ev.id_len = static_cast<uint16_t>(std::strlen(buf));
            ev.id_hash = sw_hash64(buf, ev.id_len);
            evs.push_back(ev);
            ids.push_back(ev.id_hash);
        }
    }
};

const sw_conf *g_conf = nullptr;

void on_hit(sw_hit_sink *, const sw_hit *)
{
}

// setup + thread_init of @ops with the default config; false (and the
// benchmark skipped) when it cannot start.
bool start_detector(benchmark::State &state, const sw_detector_ops *ops, void **shared,
                    void **local)
{
    char name[160];
    std::snprintf(name, sizeof(name), "detectors.%s", ops != nullptr ? ops->name : "");
    const void *settings = ops != nullptr ? sw_conf_section(g_conf, name) : nullptr;
    sw_errbuf eb{};
    if (settings == nullptr || ops->setup(settings, shared, &eb) < 0 ||
        ops->thread_init(*shared, local) < 0) {
        state.SkipWithError("cannot start detector");
        return false;
    }
    return true;
}

void BM_Detector(benchmark::State &state, const sw_detector_ops *ops)
{
    static workload w;
    void *shared = nullptr, *local = nullptr;
    if (!start_detector(state, ops, &shared, &local)) {
        return;
    }
    sw_hit_sink sink{on_hit, nullptr};
    sw_detector_stats st{};
    int64_t t = 1700000000000ll, last_tick = 0;
    size_t i = 0, n = w.evs.size();
    uint64_t cycle = 0;
    for (auto _ : state) {
        sw_event &ev = w.evs[i];
        ev.t_ms = t;
        // fresh stanza ids each pass over the workload (else id dedup skips work)
        ev.id_hash = w.ids[i] ^ (cycle * 0x9E3779B97F4A7C15ull);
        ev.seq = static_cast<uint64_t>(t);
        if (t - last_tick >= 1000) {
            ops->expire(shared, local, t, &st);
            last_tick = t;
        }
        if ((ops->events & ev.kind) != 0) {
            ops->process(shared, local, &ev, &sink, &st);
        }
        t++;
        if (++i == n) {
            i = 0;
            cycle++;
        }
    }
    state.counters["hits"] = static_cast<double>(st.hits);
    ops->thread_fini(local);
    ops->teardown(shared);
}

// wave's cluster search at its worst: 1:1 messages from accounts of unknown age
// to strangers, each with its own random text and link host, so none joins a
// cluster and each scans all `clusters` (1024) twice (text, link) before
// opening new ones (the scan reads each cluster's 24-byte head; the tallies
// only on a join).
void BM_WaveNewClusters(benchmark::State &state)
{
    const sw_detector_ops *ops = nullptr;
    for (const sw_detector_ops *const *l = sw_registry_list(); *l != nullptr; l++) {
        if (std::strcmp((*l)->name, "wave") == 0) {
            ops = *l;
        }
    }
    static workload w; // for its event builders; the events are made here
    static std::vector<sw_event> evs;
    if (evs.empty()) {
        uint64_t x = 0x2545F4914F6CDD1Dull;
        auto rnd = [&x]() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            return x;
        };
        for (int i = 0; i < 4096; i++) {
            std::string text;
            for (int k = 0; k < 8; k++) {
                text += k ? " " : "";
                for (int c = 0; c < 6; c++) {
                    text += static_cast<char>('a' + rnd() % 26);
                }
            }
            sw_event ev = w.base(SW_EV_MESSAGE, SW_T_CHAT,
                                 "fresh" + std::to_string(i) + "@spam" + std::to_string(i % 50) +
                                     ".example/x",
                                 "target" + std::to_string(rnd() % 100000) + "@example.org");
            text += " https://";
            for (int c = 0; c < 8; c++) {
                text += static_cast<char>('a' + rnd() % 26);
            }
            text += ".example/join";
            w.body(ev, text);
            ev.id_hash = rnd();
            evs.push_back(ev);
        }
    }
    void *shared = nullptr, *local = nullptr;
    if (!start_detector(state, ops, &shared, &local)) {
        return;
    }
    sw_hit_sink sink{on_hit, nullptr};
    sw_detector_stats st{};
    int64_t t = 1700000000000ll;
    size_t i = 0;
    for (auto _ : state) {
        sw_event &ev = evs[i];
        ev.t_ms = t;
        ev.seq = static_cast<uint64_t>(t);
        ops->process(shared, local, &ev, &sink, &st);
        t++;
        i = i + 1 == evs.size() ? 0 : i + 1;
    }
    state.counters["hits"] = static_cast<double>(st.hits);
    ops->thread_fini(local);
    ops->teardown(shared);
}
BENCHMARK(BM_WaveNewClusters);

// The expiry sweep of one detector table (detectors/table.c) per stream second,
// as every detector calls it at every tick: a 64-byte-entry table grown to
// arg(0) live keys, every key seen within the last arg(1) seconds of a 600 s
// idle limit, so a sweep finds nothing old (the usual tick) unless arg(1) > 600,
// when each sweep also deletes. One iteration = one sweep call.
void BM_TableExpire(benchmark::State &state)
{
    const size_t keys = static_cast<size_t>(state.range(0));
    const uint32_t spread = static_cast<uint32_t>(state.range(1));
    const uint32_t idle = 600;
    sw_table *t = nullptr;
    if (sw_table_new(&t, 64, 32ll << 20) < 0) {
        state.SkipWithError("sw_table_new");
        return;
    }
    sw_detector_stats st{};
    uint32_t prev = 0, now = 1000;
    uint64_t next = 1;
    for (size_t i = 0; i < keys; i++) {
        sw_table_get(t, sw_table_key2(next++, 7), now - static_cast<uint32_t>(i % spread), &prev,
                     &st);
    }
    for (auto _ : state) {
        sw_table_expire(t, now, idle, &st);
        // keep the key count steady: replace what the sweep deleted
        while (sw_table_count(t) < keys) {
            sw_table_get(t, sw_table_key2(next++, 7), now - static_cast<uint32_t>(next % spread),
                         &prev, &st);
        }
    }
    state.counters["expired"] = static_cast<double>(st.expired);
    sw_table_free(t);
}
BENCHMARK(BM_TableExpire)->Args({2000, 300})->Args({30000, 300})->Args({30000, 900});

int register_all()
{
    sw_errbuf eb{};
    sw_conf *c = nullptr;
    if (sw_settings_register() < 0 || sw_registry_register_conf(&eb) < 0 ||
        sw_conf_load(nullptr, &c, &eb) < 0) {
        std::fprintf(stderr, "bench_detectors: config: %s\n", eb.msg);
        return -1;
    }
    g_conf = c;
    for (const sw_detector_ops *const *l = sw_registry_list(); *l != nullptr; l++) {
        std::string n = std::string("BM_Detector/") + (*l)->name;
        benchmark::RegisterBenchmark(n.c_str(), BM_Detector, *l);
    }
    return 0;
}

const int registered = register_all();

} // namespace
