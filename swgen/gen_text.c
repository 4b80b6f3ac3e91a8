/*
 * gen_text.c - deterministic text for swgen; see gen_text.h. A tiny splitmix64
 * stream seeded by the caller's value, word lists and templates. Sentences
 * now and then carry '&', '<' and quotes so the capture exercises escaping.
 * No state: every function writes into the caller's buffer.
 */
#include "gen_text.h"

#include <stdio.h>
#include <string.h>

static const char *const g_words[] = {
    "the",           "a",         "is",         "it",      "we",       "you",       "they",
    "this",          "that",      "and",        "but",     "or",       "so",        "not",
    "just",          "really",    "maybe",      "today",   "tomorrow", "yesterday", "now",
    "later",         "think",     "know",       "see",     "want",     "need",      "like",
    "try",           "use",       "make",       "go",      "come",     "work",      "works",
    "broken",        "fixed",     "update",     "server",  "client",   "phone",     "laptop",
    "message",       "room",      "chat",       "file",    "link",     "photo",     "video",
    "song",          "game",      "match",      "weather", "rain",     "sun",       "coffee",
    "tea",           "lunch",     "dinner",     "train",   "bus",      "bike",      "meeting",
    "code",          "bug",       "patch",      "release", "version",  "build",     "test",
    "config",        "linux",     "debian",     "prosody", "ejabberd", "gajim",     "dino",
    "conversations", "omemo",     "encryption", "key",     "password", "account",   "contact",
    "friend",        "family",    "weekend",    "holiday", "book",     "movie",     "music",
    "guitar",        "concert",   "ticket",     "city",    "park",     "good",      "bad",
    "great",         "nice",      "weird",      "funny",   "slow",     "fast",      "old",
    "new",           "big",       "small",      "first",   "last",     "again",     "always",
    "never",         "sometimes", "probably",   "sure",    "thanks",   "please",    "sorry",
    "hello",         "hi",        "bye",        "yes",     "no",       "ok",        "lol",
    "haha",          "hmm",       "wow",        "anyone",  "everyone", "someone",   "here",
    "there",         "home",      "office",
};
#define N_WORDS (sizeof(g_words) / sizeof(g_words[0]))

void gen_sentence(char *dst, size_t cap, uint64_t r)
{
    uint64_t s = r;
    int n = 2 + (int)gen_text_pick(&s, 16);
    size_t len = 0;
    dst[0] = '\0';
    for (int i = 0; i < n && len + 24 < cap; i++) {
        const char *w = g_words[gen_text_pick(&s, N_WORDS)];
        len += (size_t)snprintf(dst + len, cap - len, "%s%s", i ? " " : "", w);
    }
    uint32_t x = gen_text_pick(&s, 40);
    const char *tail = x < 20    ? ""
                       : x < 28  ? "."
                       : x < 33  ? "?"
                       : x < 36  ? "!"
                       : x == 36 ? " :)"
                       : x == 37 ? " & more"
                       : x == 38 ? " (a<b, \"quoted\")"
                                 : " https://example.org/x?a=1&b=2";
    if (len + strlen(tail) + 1 < cap) {
        memcpy(dst + len, tail, strlen(tail) + 1);
    }
    if (dst[0] >= 'a' && dst[0] <= 'z' && (s & 1)) {
        dst[0] = (char)(dst[0] - 'a' + 'A');
    }
}

void gen_token(char t[GEN_TOKEN_MAX + 1], uint64_t r, int len)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t s = r;
    if (len > GEN_TOKEN_MAX) {
        len = GEN_TOKEN_MAX;
    }
    for (int i = 0; i < len; i++) {
        t[i] = al[gen_text_pick(&s, 36)];
    }
    t[len] = '\0';
}

void gen_spam_line(char *b, size_t cap, uint64_t r)
{
    static const char *const tpl[] = {
        "Cheap followers & likes, best price! Visit http://%s.example/%s now",
        "Earn $500/day from home, no experience needed, join http://%s.example/%s",
        "HOT singles in your area want to chat: http://%s.example/%s",
        "Crypto airdrop live!!! claim your free tokens at https://%s.example/%s",
        "Buy viagra online without prescription http://%s.example/%s",
        "Your account will be suspended, verify here: https://%s.example/%s",
        "FREE NITRO giveaway, first 100 users only -> http://%s.example/%s",
        "join our new channel for premium leaks %s.example/%s",
    };
    uint64_t s = r;
    char host[GEN_TOKEN_MAX + 1], path[GEN_TOKEN_MAX + 1];
    gen_token(host, gen_text_next(&s), 7);
    gen_token(path, gen_text_next(&s), 6);
    snprintf(b, cap, tpl[gen_text_pick(&s, 8)], host, path);
}

void gen_mutate(char *dst, size_t cap, const char *src, uint64_t r)
{
    uint64_t s = r;
    size_t n = 0;
    /* prefix sometimes */
    static const char *const pre[] = {"", "", "hey! ", "hi all, ", ">> ", "!!! ", "psst ", ""};
    n += (size_t)snprintf(dst, cap, "%s", pre[gen_text_pick(&s, 8)]);
    for (const char *p = src; *p && n + 8 < cap; p++) {
        char c = *p;
        uint32_t x = gen_text_pick(&s, 100);
        if (x < 4 && c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        } else if (x < 6 && c == 'o') {
            c = '0';
        } else if (x < 7 && c == 'e') {
            c = '3';
        } else if (x < 8 && c == ' ') {
            dst[n++] = ' '; /* doubled space */
        } else if (x == 99 && c == ' ') {
            continue; /* dropped space */
        }
        dst[n++] = c;
    }
    dst[n] = '\0';
    if (n + 12 < cap) {
        /* the length is drawn before the token's seed (the order GCC gave
         * the unsequenced original; captures depend on it) */
        char tok[GEN_TOKEN_MAX + 1];
        int len = 3 + (int)gen_text_pick(&s, 5);
        gen_token(tok, gen_text_next(&s), len);
        snprintf(dst + n, cap - n, " %s", tok);
    }
}

void gen_multiline(char *dst, size_t cap, uint64_t r, int lines, const char *seed_text)
{
    uint64_t s = r;
    size_t n = 0;
    dst[0] = '\0';
    for (int i = 0; i < lines && n + 260 < cap; i++) {
        if (i % 3 == 0) {
            n += (size_t)snprintf(dst + n, cap - n, "%s%s", i ? "\n" : "", seed_text);
        } else {
            char line[256];
            gen_sentence(line, sizeof(line), gen_text_next(&s));
            n += (size_t)snprintf(dst + n, cap - n, "%s%s", i ? "\n" : "", line);
        }
    }
}

void gen_paste(char *dst, size_t cap, uint64_t r, int lines)
{
    uint64_t s = r;
    size_t n = 0;
    dst[0] = '\0';
    static const char *const tpl[] = {
        "    if (x%u > %u) {",
        "        return foo(%u, %u);",
        "    }",
        "    int y%u = bar[%u];",
        "Nov 29 12:00:%02u host prosody[%u]: c2s: connection closed",
        "  File \"app.py\", line %u, in handler%u",
        "# step %u of %u",
    };
    for (int i = 0; i < lines && n + 120 < cap; i++) {
        char line[112];
        /* drawn last to first (the order captures depend on) */
        uint32_t b = gen_text_pick(&s, 999), a = gen_text_pick(&s, 60);
        snprintf(line, sizeof(line), tpl[gen_text_pick(&s, 7)], a, b);
        n += (size_t)snprintf(dst + n, cap - n, "%s%s", i ? "\n" : "", line);
    }
}

const char *gen_goal(uint64_t r)
{
    static const char *const g[] = {
        "GOAL!",     "GOAL!!!", "goooal", "GOAL! 1-0",           "what a goal",  "YES!!! GOAL",
        "GOOOOOOAL", "goal!!",  "GOAL",   "unbelievable, GOAL!", "Goal! finally"};
    return g[r % (sizeof(g) / sizeof(g[0]))];
}

void gen_headline(char *b, size_t cap, uint64_t k)
{
    static const char *const subj[] = {"Parliament",   "Local team",   "Scientists",
                                       "City council", "Tech giant",   "Weather service",
                                       "Central bank", "Rail operator"};
    static const char *const verb[] = {"approves",  "wins",        "discovers", "delays",
                                       "announces", "warns about", "cuts",      "opens"};
    static const char *const obj[] = {
        "new budget",          "derby", "water on Mars",  "tram line",
        "open-source release", "storm", "interest rates", "night trains"};
    uint64_t s = k * 0x9E3779B97F4A7C15ULL + 17;
    /* drawn last to first (the order captures depend on) */
    uint32_t o = gen_text_pick(&s, 8), v = gen_text_pick(&s, 8), j = gen_text_pick(&s, 8);
    snprintf(b, cap, "News: %s %s %s - read more at https://news.example/%llu", subj[j], verb[v],
             obj[o], (unsigned long long)(k % 100000));
}
