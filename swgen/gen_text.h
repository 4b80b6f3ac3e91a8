/*
 * gen_text.h - deterministic text for swgen (swgen/gen.h): chat sentences,
 * spam lines and their near-duplicate mutations, multi-line bursts, pastes,
 * "GOAL!" cheers and news headlines. Every function is a pure function of its
 * seed argument @r, writing into the caller's buffer @dst of @cap bytes
 * (always NUL-terminated, cut to fit); gen_goal returns a string constant.
 */
#ifndef SW_GEN_TEXT_H
#define SW_GEN_TEXT_H

#include <stddef.h>
#include <stdint.h>

void gen_sentence(char *dst, size_t cap, uint64_t r);
#define GEN_TOKEN_MAX 63

/* the text functions' own splitmix64 step over a local state @s */
static inline uint64_t gen_text_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [0, n) (modulo; n small) */
static inline uint32_t gen_text_pick(uint64_t *s, uint32_t n)
{
    return (uint32_t)(gen_text_next(s) % n);
}

void gen_spam_line(char *dst, size_t cap, uint64_t r);
/* @len (at most GEN_TOKEN_MAX) random [a-z0-9] into @dst */
void gen_token(char dst[GEN_TOKEN_MAX + 1], uint64_t r, int len);
void gen_mutate(char *dst, size_t cap, const char *src, uint64_t r);
void gen_multiline(char *dst, size_t cap, uint64_t r, int lines, const char *seed_text);
void gen_paste(char *dst, size_t cap, uint64_t r, int lines);
const char *gen_goal(uint64_t r);
void gen_headline(char *dst, size_t cap, uint64_t k);

#endif
