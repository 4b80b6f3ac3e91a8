/*
 * gen_text.h - deterministic text for swgen (bench/gen.c): chat sentences,
 * spam lines and their near-duplicate mutations, multi-line bursts, pastes,
 * "GOAL!" cheers and news headlines. Every function is a pure function of its
 * seed argument @r; functions returning const char * return a static buffer
 * valid until the next call of the same function (swgen is single-threaded).
 */
#ifndef SW_GEN_TEXT_H
#define SW_GEN_TEXT_H

#include <stddef.h>
#include <stdint.h>

void gen_sentence(char *dst, size_t cap, uint64_t r);
const char *gen_spam_line(uint64_t r);
const char *gen_token(uint64_t r, int len);
void gen_mutate(char *dst, size_t cap, const char *src, uint64_t r);
void gen_multiline(char *dst, size_t cap, uint64_t r, int lines, const char *seed_text);
void gen_paste(char *dst, size_t cap, uint64_t r, int lines);
const char *gen_goal(uint64_t r);
const char *gen_headline(uint64_t k);

#endif
