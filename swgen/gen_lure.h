/*
 * gen_lure.h - text of swgen's content and wave scenarios and of their
 * benign look-alikes (gen_lure.c): obfuscated multilingual spam, spun wave
 * templates with shared link targets, shared links, spam warnings, crypto
 * and medicine chat, feed items, price tickers, raid reactions.
 *
 * Every function is a pure function of its seed arguments (@campaign fixes
 * what stays the same across an instance's messages, @r what varies per
 * message), writes valid UTF-8 into @dst of @cap bytes (cut only at a
 * character boundary) and keeps no state; the const char * ones return a
 * string constant.
 */
#ifndef SW_GEN_LURE_H
#define SW_GEN_LURE_H

#include <stddef.h>
#include <stdint.h>

void gen_lure(char *dst, size_t cap, uint64_t campaign, uint64_t r);
void gen_wave_text(char *dst, size_t cap, uint64_t campaign, uint64_t r);
void gen_link_share(char *dst, size_t cap, uint64_t r);
void gen_warning(char *dst, size_t cap, uint64_t spam_seed, uint64_t r);
void gen_topic(char *dst, size_t cap, uint64_t r);
void gen_rss_item(char *dst, size_t cap, uint64_t feed, uint64_t k);
void gen_price(char *dst, size_t cap, uint64_t k, uint64_t r);
/* @spam: a line of the raid to quote back now and then, or NULL */
void gen_bystander(char *dst, size_t cap, const char *spam, uint64_t r);
/* a complaint quoting raid line @spam ("stop posting ..."), always with the quote */
void gen_raid_quote(char *dst, size_t cap, const char *spam, uint64_t r);
const char *gen_mod_line(uint64_t r);
const char *gen_answer(uint64_t r);

#endif
