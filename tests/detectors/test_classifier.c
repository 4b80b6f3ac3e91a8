/*
 * test_classifier.c - the content classifier: training on the committed
 * SpamAssassin-derived sample (tests/data/corpus/{ham,spam}_sample.txt, see
 * the README there) reaches a held-out accuracy floor, the model file round
 * trips exactly and refuses corruption, `stanzawatch train` works end to end,
 * and the "classifier" detector emits weighted hits only for long enough
 * spammy bodies, and not for one spammy-looking line of a sender that has
 * posted ham all along.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sw/classifier.h"
#include "sw/conf.h"
#include "sw/detector.h"

#include "../support/hitbuf.h"

extern const struct sw_detector_ops sw_classifier_ops;

#define HAM SW_SOURCE_DIR "/tests/data/corpus/ham_sample.txt"
#define SPAM SW_SOURCE_DIR "/tests/data/corpus/spam_sample.txt"

static char tmpdir[256];
static char model_path[512];

struct lines {
    char **v;
    size_t n;
};

static struct lines read_lines(const char *path)
{
    struct lines l = {NULL, 0};
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char buf[4096];
    while (fgets(buf, sizeof(buf), fp) != NULL) {
        buf[strcspn(buf, "\n")] = '\0';
        if (buf[0] == '\0') {
            continue;
        }
        l.v = realloc(l.v, (l.n + 1) * sizeof(*l.v));
        assert_non_null(l.v);
        l.v[l.n++] = strdup(buf);
    }
    fclose(fp);
    return l;
}

static void free_lines(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
    }
    free(l->v);
}

/* Train on every line but each 5th, test on each 5th (deterministic split). */
static double holdout_accuracy(bool lr, struct sw_classifier **keep)
{
    struct lines d[2] = {read_lines(HAM), read_lines(SPAM)};
    struct sw_classifier_trainer *t = NULL;
    struct sw_classifier *m = NULL;
    assert_true(d[0].n >= 200 && d[1].n >= 200);
    assert_int_equal(sw_classifier_trainer_new(16, &t), 0);
    for (int c = 0; c < 2; c++) {
        for (size_t i = 0; i < d[c].n; i++) {
            if (i % 5 != 0) {
                sw_classifier_trainer_add(t, d[c].v[i], strlen(d[c].v[i]), c == 1);
            }
        }
    }
    if (lr) {
        assert_int_equal(sw_classifier_trainer_build_lr(t, 10, 1, &m), 0);
    } else {
        assert_int_equal(sw_classifier_trainer_build(t, &m), 0);
    }
    size_t right = 0, total = 0;
    char buf[8192];
    for (int c = 0; c < 2; c++) {
        for (size_t i = 0; i < d[c].n; i += 5) {
            double p = sw_classifier_score(m, d[c].v[i], strlen(d[c].v[i]), buf, sizeof(buf), NULL);
            right += (p >= 0.5) == (c == 1);
            total++;
        }
    }
    sw_classifier_trainer_free(t);
    free_lines(&d[0]);
    free_lines(&d[1]);
    if (keep != NULL) {
        *keep = m;
    } else {
        sw_classifier_free(m);
    }
    return (double)right / (double)total;
}

static void test_heldout_accuracy_floor(void **state)
{
    (void)state;
    double nb = holdout_accuracy(false, NULL);
    double lr = holdout_accuracy(true, NULL);
    print_message("held-out accuracy on the committed sample: nb %.3f lr %.3f\n", nb, lr);
    /* measured 0.75-0.80 on this 600-line sample (0.90 on the full corpus);
     * a chance-level model scores 0.5 */
    assert_true(nb >= 0.70);
    assert_true(lr >= 0.70);
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    struct sw_classifier *m = NULL, *m2 = NULL;
    struct sw_errbuf eb;
    char buf[1024];
    holdout_accuracy(true, &m);
    assert_int_equal(sw_classifier_save(m, model_path, &eb), 0);
    assert_int_equal(sw_classifier_load(model_path, &m2, &eb), 0);
    const char *texts[] = {"Get your FREE credit report now!!! Click http://example.com",
                           "the patch fixes the parser, see the list archive", "hi"};
    for (size_t i = 0; i < 3; i++) {
        double a = sw_classifier_score(m, texts[i], strlen(texts[i]), buf, sizeof(buf), NULL);
        double b = sw_classifier_score(m2, texts[i], strlen(texts[i]), buf, sizeof(buf), NULL);
        assert_true(a == b);
    }
    uint64_t h1, s1, h2, s2;
    sw_classifier_counts(m, &h1, &s1);
    sw_classifier_counts(m2, &h2, &s2);
    assert_true(h1 == h2 && s1 == s2 && h1 == 240);
    sw_classifier_free(m);
    sw_classifier_free(m2);
}

/* sw_classifier_score_min(@floor) of @text: the token count of
 * sw_classifier_score, and -1 under the floor (counted in n[0]), else
 * exactly sw_classifier_score's value (counted in n[1]). */
static void check_floor(const struct sw_classifier *m, const char *text, size_t len, char *buf,
                        size_t cap, unsigned floor, size_t n[2])
{
    unsigned t_all = 0, t_min = 0;
    double a = sw_classifier_score(m, text, len, buf, cap, &t_all);
    double b = sw_classifier_score_min(m, text, len, buf, cap, floor, &t_min);
    assert_int_equal(t_all, t_min);
    assert_true(a >= 0.0 && a <= 1.0);
    if (t_all < floor) {
        assert_true(b == -1.0);
    } else {
        assert_true(a == b);
    }
    n[t_all < floor ? 0 : 1]++;
}

/* sw_classifier_score_min: texts under the token floor are counted, not
 * scored (-1); the others get exactly sw_classifier_score's value. */
static void test_score_min(void **state)
{
    (void)state;
    struct sw_classifier *m = NULL;
    char buf[SW_CLASSIFIER_BUF(4096)];
    holdout_accuracy(false, &m);
    static const char *const files[] = {
        SW_SOURCE_DIR "/tests/data/corpus/chat_spam.txt",
        SW_SOURCE_DIR "/tests/data/corpus/benign_chat.txt",
    };
    size_t n[2] = {0, 0};
    for (size_t f = 0; f < 2; f++) {
        struct lines sp = read_lines(files[f]);
        for (size_t i = 0; i < sp.n; i++) {
            size_t len = strlen(sp.v[i]);
            if (len > 4096) {
                len = 4096;
            }
            check_floor(m, sp.v[i], len, buf, sizeof(buf), 6, n);
        }
        free_lines(&sp);
    }
    assert_true(n[0] > 0 && n[1] > 0);
    sw_classifier_free(m);
}

/* Short texts (a normalized text of up to 64 bytes has its tokens counted
 * from one bitmap before any is hashed): random texts of 0..80 bytes built
 * from letters, digits, look-alikes, separators and UTF-8 pieces, with tokens
 * at either end and across byte 64, give with every floor 1..12 the count
 * and value of the walk without a floor. */
static void test_score_min_short(void **state)
{
    (void)state;
    struct sw_classifier *m = NULL;
    char buf[SW_CLASSIFIER_BUF(256)];
    holdout_accuracy(false, &m);
    static const char *const pieces[] = {
        "a", "Z",    "7",           "0",        " ",        "  ",           "!",
        ".", "-",    "$",           "\xc3\xa9", "\xd0\xb0", "\xe2\x82\xac", "3",
        "@", "word", "http://x.io", "\t"};
    const size_t n_pieces = sizeof(pieces) / sizeof(pieces[0]);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    size_t n[2] = {0, 0};
    for (unsigned iter = 0; iter < 4000; iter++) {
        char text[128];
        size_t want = iter % 81, len = 0;
        while (len < want) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            const char *pc = pieces[(rng >> 33) % n_pieces];
            size_t pl = strlen(pc);
            if (len + pl >= sizeof(text)) {
                break;
            }
            memcpy(text + len, pc, pl);
            len += pl;
        }
        for (unsigned floor = 1; floor <= 12; floor++) {
            check_floor(m, text, len, buf, sizeof(buf), floor, n);
        }
    }
    assert_true(n[0] > 1000 && n[1] > 1000);
    sw_classifier_free(m);
}

static void corrupt_copy(const char *dst, long off, int xor_byte, long truncate_to)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", model_path, dst);
    assert_int_equal(system(cmd), 0);
    if (truncate_to >= 0) {
        assert_int_equal(truncate(dst, truncate_to), 0);
        return;
    }
    FILE *fp = fopen(dst, "r+b");
    assert_non_null(fp);
    fseek(fp, off, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, off, SEEK_SET);
    fputc(c ^ xor_byte, fp);
    fclose(fp);
}

static void test_corrupt_models_refused(void **state)
{
    (void)state;
    char bad[600];
    struct sw_classifier *m = NULL;
    struct sw_errbuf eb;
    snprintf(bad, sizeof(bad), "%s/bad.swnb", tmpdir);

    corrupt_copy(bad, 5000, 0x40, -1); /* table byte */
    assert_int_equal(sw_classifier_load(bad, &m, &eb), SW_EPARSE);
    assert_non_null(strstr(eb.msg, "checksum"));
    corrupt_copy(bad, 8, 0x02, -1); /* version field */
    assert_int_equal(sw_classifier_load(bad, &m, &eb), SW_EPARSE);
    assert_non_null(strstr(eb.msg, "version"));
    corrupt_copy(bad, 0, 0x20, -1); /* magic */
    assert_int_equal(sw_classifier_load(bad, &m, &eb), SW_EPARSE);
    corrupt_copy(bad, 0, 0, 1000); /* truncated */
    assert_int_equal(sw_classifier_load(bad, &m, &eb), SW_EPARSE);
    assert_int_equal(sw_classifier_load("/no/such/model", &m, &eb), SW_EIO);
    assert_null(m);
}

static void test_train_command(void **state)
{
    (void)state;
    char out[600];
    snprintf(out, sizeof(out), "%s/cmd.swnb", tmpdir);
    char *argv[] = {"train",           "--ham", HAM,      "--spam", SPAM,     "-o", out,
                    "--test-fraction", "0.25",  "--seed", "7",      "--bits", "14", NULL};
    assert_int_equal(sw_train_main(13, argv), 0);
    struct sw_classifier *m = NULL;
    struct sw_errbuf eb;
    assert_int_equal(sw_classifier_load(out, &m, &eb), 0);
    uint64_t h, s;
    sw_classifier_counts(m, &h, &s);
    assert_true(h == 225 && s == 225); /* 300 each, 25% held out */
    sw_classifier_free(m);
    char *bad1[] = {"train", "--ham", HAM, NULL};
    assert_int_equal(sw_train_main(3, bad1), 2);
    char *bad2[] = {"train", "--ham",           HAM,   "--spam", SPAM, "-o",
                    out,     "--test-fraction", "1.5", NULL};
    assert_int_equal(sw_train_main(9, bad2), 2);
    char *bad3[] = {"train", "--ham", "/no/such", "--spam", SPAM, "-o", out, NULL};
    assert_int_equal(sw_train_main(7, bad3), 1);
}

/* ---- the detector ---- */

/* One chat message from @from at @t_ms through the detector. */
static size_t run_from(void *shared, void *local, const char *from, int64_t t_ms, const char *body,
                       struct sw_test_hits *c)
{
    struct sw_event ev;
    struct sw_detector_stats st = {0};
    struct sw_hit_sink sink = {.emit = sw_test_hits_emit, .ctx = c};
    memset(&ev, 0, sizeof(ev));
    memset(c, 0, sizeof(*c));
    ev.kind = SW_EV_MESSAGE;
    ev.type = SW_T_CHAT;
    ev.t_ms = t_ms;
    sw_test_jid_ref(&ev.from, from);
    sw_test_jid_ref(&ev.to, "bob@example.org");
    ev.id = ev.subject = ev.status = ev.nick = "";
    ev.body = body;
    ev.body_len = (uint16_t)strlen(body);
    sw_classifier_ops.process(shared, local, &ev, &sink, &st);
    return c->n;
}

/* One message from a sender never seen before (judged on its text alone: no
 * sender history, see test_sender_history). */
static size_t run(void *shared, void *local, const char *body, struct sw_test_hits *c)
{
    static char from[64];
    static unsigned n;
    snprintf(from, sizeof(from), "eve%u@example.org", ++n);
    return run_from(shared, local, from, 1767225600000 + (int64_t)n, body, c);
}

static int det_setup(const char *yaml, struct sw_conf **conf, void **shared, struct sw_errbuf *eb)
{
    char path[600], text[2048];
    snprintf(path, sizeof(path), "%s/config.yaml", tmpdir);
    snprintf(text, sizeof(text), "detectors:\n  classifier:\n%s", yaml);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    int rc = sw_conf_load(path, conf, eb);
    if (rc != 0) {
        return rc;
    }
    return sw_classifier_ops.setup(sw_conf_section(*conf, "detectors.classifier"), shared, eb);
}

static void test_detector(void **state)
{
    (void)state;
    struct sw_conf *conf = NULL;
    void *shared = NULL, *local = NULL;
    struct sw_errbuf eb = {.msg = ""};
    char yaml[1024];
    struct sw_test_hits c;

    snprintf(yaml, sizeof(yaml), "    model: %s\n    threshold: 0.8\n    min_tokens: 6\n",
             model_path);
    if (det_setup(yaml, &conf, &shared, &eb) != 0) {
        fail_msg("setup: %s", eb.msg);
    }
    assert_int_equal(sw_classifier_ops.thread_init(shared, &local), 0);
    /* spam snippets from the sample: most long ones must hit */
    struct lines sp = read_lines(SPAM), hm = read_lines(HAM);
    size_t spam_hits = 0, ham_hits = 0, long_spam = 0;
    for (size_t i = 0; i < sp.n; i++) {
        if (strlen(sp.v[i]) > 60) {
            long_spam++;
            spam_hits += run(shared, local, sp.v[i], &c);
            if (c.n > 0) {
                assert_string_equal(c.hits[0].symbol, "classifier.spam");
                assert_true(c.hits[0].weight_milli >= 1 && c.hits[0].weight_milli <= 1000);
                assert_true(c.hits[0].values[0].value >= 800); /* p_milli */
            }
        }
    }
    for (size_t i = 0; i < hm.n; i++) {
        ham_hits += run(shared, local, hm.v[i], &c);
    }
    print_message("classifier detector on the sample (trained on 80%%): %zu/%zu long spam hit, "
                  "%zu/%zu ham hit\n",
                  spam_hits, long_spam, ham_hits, hm.n);
    assert_true(spam_hits * 2 > long_spam);
    assert_true(ham_hits * 10 < hm.n);
    /* ordinary chat is far from the email training data: few false signals */
    struct lines chat = read_lines(SW_SOURCE_DIR "/tests/data/corpus/benign_chat.txt");
    size_t chat_hits = 0;
    for (size_t i = 0; i < chat.n; i++) {
        chat_hits += run(shared, local, chat.v[i], &c);
    }
    print_message("benign chat: %zu/%zu hit\n", chat_hits, chat.n);
    assert_true(chat_hits * 10 < chat.n);
    free_lines(&chat);
    /* too short to judge */
    assert_int_equal(run(shared, local, "FREE money now", &c), 0);
    assert_int_equal(sw_classifier_ops.thread_reload(shared, local), 0);
    sw_classifier_ops.thread_fini(local);
    sw_classifier_ops.teardown(shared);
    sw_conf_free(conf);
    free_lines(&sp);
    free_lines(&hm);

    /* empty model: enabled but silent */
    assert_int_equal(det_setup("    model: ''\n", &conf, &shared, &eb), 0);
    assert_int_equal(sw_classifier_ops.thread_init(shared, &local), 0);
    assert_int_equal(run(shared, local, "Get your FREE credit report now, click here today", &c),
                     0);
    sw_classifier_ops.thread_fini(local);
    sw_classifier_ops.teardown(shared);
    sw_conf_free(conf);

    /* NULL settings (no registered section): runs without a model */
    assert_int_equal(sw_classifier_ops.setup(NULL, &shared, &eb), 0);
    assert_int_equal(sw_classifier_ops.thread_init(shared, &local), 0);
    assert_int_equal(run(shared, local, "Get your FREE credit report now, click here today", &c),
                     0);
    sw_classifier_ops.thread_fini(local);
    sw_classifier_ops.teardown(shared);

    /* bad model path: setup fails with a reason (reload keeps the old one) */
    shared = NULL;
    assert_int_not_equal(det_setup("    model: /no/such/model.swnb\n", &conf, &shared, &eb), 0);
    assert_null(shared);
    assert_non_null(strstr(eb.msg, "/no/such/model.swnb"));
    sw_conf_free(conf);
}

/* The built-in default (no `model` key) loads the shipped model
 * configs/models/chat.swnb (scripts/train-model): at the default threshold it
 * must say nothing on ordinary chat, and catch most chat-style spam. */
static void test_shipped_model(void **state)
{
    (void)state;
    struct sw_conf *conf = NULL;
    void *shared = NULL, *local = NULL;
    struct sw_errbuf eb = {.msg = ""};
    struct sw_test_hits c;

    if (det_setup("    enabled: true\n", &conf, &shared, &eb) != 0) {
        fail_msg("setup with the default model: %s", eb.msg);
    }
    assert_int_equal(sw_classifier_ops.thread_init(shared, &local), 0);
    static const char *const benign[] = {
        SW_SOURCE_DIR "/tests/data/corpus/benign_chat.txt",
        SW_SOURCE_DIR "/tests/data/corpus/chat_ham.txt",
    };
    for (size_t f = 0; f < sizeof(benign) / sizeof(benign[0]); f++) {
        struct lines chat = read_lines(benign[f]);
        for (size_t i = 0; i < chat.n; i++) {
            if (run(shared, local, chat.v[i], &c) != 0) {
                fail_msg("shipped model fires on benign line %zu of %s: %s", i + 1, benign[f],
                         chat.v[i]);
            }
        }
        free_lines(&chat);
    }
    struct lines sp = read_lines(SW_SOURCE_DIR "/tests/data/corpus/chat_spam.txt");
    size_t hits = 0, judged = 0;
    for (size_t i = 0; i < sp.n; i++) {
        if (strchr(sp.v[i], ' ') != NULL) {
            judged++;
            hits += run(shared, local, sp.v[i], &c) != 0;
        }
    }
    print_message("shipped model: %zu/%zu chat spam lines hit (lines it was trained on)\n", hits,
                  judged);
    assert_true(hits * 2 > judged);
    free_lines(&sp);
    sw_classifier_ops.thread_fini(local);
    sw_classifier_ops.teardown(shared);
    sw_conf_free(conf);
}

/* A spammy-looking line from a sender that has posted ordinary lines all along
 * is noise, not a signal (cls_history.h). swgen seed 951 (1M stanzas, 12 h): a
 * bridge bot relaying word salad for 18 minutes got classifier.spam (0.59) on
 * one relayed line and muc_flood.rate_long (0.5) on its steady rate: reported.
 * The same line from a fresh sender still hits, and a sender whose lines keep
 * being spammy gets there again. history_share 0 turns the history off. */
static void test_sender_history(void **state)
{
    (void)state;
    struct sw_conf *conf = NULL;
    void *shared = NULL, *local = NULL;
    struct sw_errbuf eb = {.msg = ""};
    struct sw_test_hits c;
    /* the lines of seed 951's incident (p 0.999 and 0.981), without the
     * "<nick> " the bridge relayed them with */
    static const char *const salad[] = {
        "First phone this really small friend build hi debian first sometimes just "
        "tea never now chat",
        "Phone like big great account works today config encryption version or",
    };
    static const char *const lure =
        "Congratulations you have been selected to receive a FREE gift card, claim your prize "
        "now at http://bit.ly/x1y2z3 before it expires";
    const int64_t t0 = 1767634374787;

    for (int off = 0; off < 2; off++) {
        if (det_setup(off ? "    history_share: 0\n" : "    enabled: true\n", &conf, &shared,
                      &eb) != 0) {
            fail_msg("setup with the default model: %s", eb.msg);
        }
        assert_int_equal(sw_classifier_ops.thread_init(shared, &local), 0);
        /* the text alone: each line hits for a fresh sender */
        for (size_t i = 0; i < 2; i++) {
            assert_int_equal(run(shared, local, salad[i], &c), 1);
        }
        assert_int_equal(run(shared, local, lure, &c), 1);
        /* the bridge relays 40 ordinary lines over ten minutes, then the salad */
        struct lines chat = read_lines(SW_SOURCE_DIR "/tests/data/corpus/benign_chat.txt");
        int64_t t = t0;
        size_t scored = 0;
        for (size_t i = 0; i < chat.n && scored < 40; i++) {
            if (strchr(chat.v[i], ' ') != NULL && strlen(chat.v[i]) > 30) {
                assert_int_equal(run_from(shared, local, "bridge@c.example", t, chat.v[i], &c), 0);
                scored++;
                t += 15000;
            }
        }
        assert_int_equal(scored, 40);
        /* a sender whose JID hash shares the bridge's slot bits chats meanwhile:
         * the bridge keeps its history (seed 11 busy-bridge: a colliding
         * sender's lines restarted a bridge's history in a direct-mapped slot) */
        struct sw_jid bj, oj;
        static char other[64];
        sw_test_jid_ref(&bj, "bridge@c.example");
        for (unsigned k = 0;; k++) {
            snprintf(other, sizeof(other), "other%u@b.example", k);
            sw_test_jid_ref(&oj, other);
            if ((oj.bare & 0xffffu) == (bj.bare & 0xffffu) && oj.bare != bj.bare) {
                break;
            }
        }
        for (size_t i = 0; i < 5; i++) {
            run_from(shared, local, other, t += 1000, "see you all at the meetup tonight then", &c);
        }
        for (size_t i = 0; i < 2; i++) {
            size_t n = run_from(shared, local, "bridge@c.example", t += 15000, salad[i], &c);
            assert_int_equal(n, off ? 1u : 0u);
        }
        if (!off) {
            /* it turns to spamming: hits again once a tenth of its lines are spammy
             * (2 salad lines + 3 lures of 45) */
            assert_int_equal(run_from(shared, local, "bridge@c.example", t += 15000, lure, &c), 0);
            assert_int_equal(run_from(shared, local, "bridge@c.example", t += 15000, lure, &c), 0);
            assert_int_equal(run_from(shared, local, "bridge@c.example", t += 15000, lure, &c), 1);
            /* an hour and more of silence: its history is forgotten, a fresh start */
            t += 3601000;
            assert_int_equal(run_from(shared, local, "bridge@c.example", t, salad[0], &c), 1);
        }
        free_lines(&chat);
        sw_classifier_ops.thread_fini(local);
        sw_classifier_ops.teardown(shared);
        sw_conf_free(conf);
    }
}

/* Lines a bridge relays ("<nick> text", "[irc] <nick> text") are someone
 * else's words: never scored, even from a sender without history (swgen
 * busy-bridge: a spammy-looking relayed line in a bridge's first minute plus
 * muc_flood.rate_long reported it). The same words as the sender's own still
 * hit, and a "<" that is no relay prefix does not hide a line. */
static void test_relayed_lines(void **state)
{
    (void)state;
    struct sw_conf *conf = NULL;
    void *shared = NULL, *local = NULL;
    struct sw_errbuf eb = {.msg = ""};
    struct sw_test_hits c;
    static const char *const text =
        "First phone this really small friend build hi debian first sometimes just tea never "
        "now chat";
    if (det_setup("    enabled: true\n", &conf, &shared, &eb) != 0) {
        fail_msg("setup with the default model: %s", eb.msg);
    }
    assert_int_equal(sw_classifier_ops.thread_init(shared, &local), 0);
    char line[300];
    assert_int_equal(run(shared, local, text, &c), 1);
    static const char *const relayed[] = {"<matrix_lu> ", "[irc] <kev> ", "<a> "};
    for (size_t i = 0; i < 3; i++) {
        snprintf(line, sizeof(line), "%s%s", relayed[i], text);
        assert_int_equal(run(shared, local, line, &c), 0);
    }
    static const char *const own[] = {"<3 ", "< ", "<b>", "[irc]<kev> ",
                                      "<a_nick_longer_than_thirty_three_bytes> "};
    for (size_t i = 0; i < 5; i++) {
        snprintf(line, sizeof(line), "%s%s", own[i], text);
        if (run(shared, local, line, &c) != 1) {
            fail_msg("not a relayed line, yet not scored: %s", line);
        }
    }
    sw_classifier_ops.thread_fini(local);
    sw_classifier_ops.teardown(shared);
    sw_conf_free(conf);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sw-test-classifier-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(model_path, sizeof(model_path), "%s/model.swnb", tmpdir);
    sw_conf_registry_reset();
    return sw_conf_register("detectors.classifier", sw_classifier_ops.schema,
                            sw_classifier_ops.settings_size);
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heldout_accuracy_floor),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_score_min),
        cmocka_unit_test(test_score_min_short),
        cmocka_unit_test(test_corrupt_models_refused),
        cmocka_unit_test(test_train_command),
        cmocka_unit_test(test_detector),
        cmocka_unit_test(test_shipped_model),
        cmocka_unit_test(test_sender_history),
        cmocka_unit_test(test_relayed_lines),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
