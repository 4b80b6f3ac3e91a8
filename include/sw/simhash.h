/*
 * simhash.h - 64-bit SimHash near-duplicate fingerprints of message text
 * (text/simhash.c; used by the engine's parser and by the detectors).
 *
 * Charikar's SimHash over character 4-gram shingles. Before shingling:
 * machine-made raw tokens (letters mixed with digits, long digit runs, long
 * vowel-less runs: the random suffixes spammers append) are dropped, and so
 * is a plain word (letters and digits, "sebevyo", "e62") at the very start
 * or end of a text of 5 tokens or more: a pronounceable random suffix or
 * prefix passes the noise test, and on a short line its shingles alone
 * would move the fingerprint 8-15 bits (the ends of the text are judged on the raw tokens,
 * noise included, so "... now sebevyo" and "... now x7f3k" agree); the rest
 * is normalized (sw_normalize, SW_NORM_DEFAULT: case, leetspeak, confusables,
 * zero-width characters folded) and stripped to letters, digits and
 * non-ASCII bytes, so spacing and punctuation changes do not matter. Every
 * shingle hashes to 64 bits and votes on each bit; the fingerprint keeps the
 * majority. Texts that share most shingles (a spam line with a random
 * suffix, a changed URL token, a greeting prefix) land within a few bits of
 * Hamming distance, unrelated texts around 32 apart. Only the first
 * SW_SIMHASH_MAX_TEXT normalized bytes count (bounded cost on long pastes);
 * texts shorter than one shingle hash whole. The reported normalized length
 * counts only the kept bytes.
 *
 * Thread-safety: pure functions, stack buffers only; sw_simhash_text keeps a
 * one-entry per-thread memo of its last text (the detectors of one worker
 * fingerprint the same body in turn), exact: keyed by the bytes it reads.
 */
#ifndef SW_SIMHASH_H
#define SW_SIMHASH_H

#include <stddef.h>
#include <stdint.h>

#define SW_SIMHASH_MAX_TEXT 256
#define SW_SIMHASH_SHINGLE 4
/* A text of this many raw tokens or more drops a plain word (ASCII letters
 * and digits only, at most SW_SIMHASH_END_MAX_WORD bytes) at its start and at its end. */
#define SW_SIMHASH_END_MIN_TOKENS 5u
#define SW_SIMHASH_END_MAX_WORD 12u

/** Fingerprint of already-normalized @s (@len bytes). 0 for empty text. */
uint64_t sw_simhash_raw(const char *s, size_t len);

/** Normalize @s (sw_normalize, SW_NORM_DEFAULT) then fingerprint it. If @norm_len
 *  is not NULL it receives the normalized length (a cheap "how much text" measure). */
uint64_t sw_simhash_text(const char *s, size_t len, size_t *norm_len);

/** Tests only: with @on, sw_simhash_raw uses its SSE2 code even on a CPU with
 *  AVX2 or AVX-512 (all give the same fingerprint). Process-wide. */
void sw_simhash_force_sse2(int on);

/** Tests only: with @on, sw_simhash_raw uses its AVX2 code (where the CPU has
 *  it) even on a CPU with the AVX-512 extensions it uses. Process-wide. */
void sw_simhash_force_avx2(int on);

/** Tests only: with @on, sw_simhash_text finds tokens with its byte-at-a-time
 *  loop instead of the SSE2 scan (both give the same fingerprint), and the
 *  calling thread's memo is emptied either way. Process-wide. */
void sw_simhash_force_scalar_tokens(int on);

static inline unsigned sw_simhash_distance(uint64_t a, uint64_t b)
{
    return (unsigned)__builtin_popcountll(a ^ b);
}

#endif
