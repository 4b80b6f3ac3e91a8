/*
 * normalize.h - text normalization for content matching and fingerprints.
 *
 * Spammers obfuscate: leetspeak (fr33 b1tc0in), look-alike letters from other
 * scripts (Cyrillic "а" for Latin "a", fullwidth forms), zero-width and other
 * format characters inside words, combining marks (zalgo), stretched letters.
 * sw_normalize() folds all of these to a canonical lower-case ASCII-ish skeleton
 * so one rule or fingerprint catches every variant. Non-Latin text that has no
 * look-alike mapping is kept (lower-cased where simple) so other languages
 * still fingerprint.
 *
 * Thread-safety: reentrant, no allocation; the result for the last input is
 * kept per thread (thread-local memo, text/normalize.c), invisible to callers.
 */
#ifndef SW_NORMALIZE_H
#define SW_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum sw_norm_flag {
    SW_NORM_LEET = 1u << 0,    /* map 0->o 1->i 3->e 4->a 5->s 7->t @->a $->s inside words */
    SW_NORM_SQUEEZE = 1u << 1, /* collapse runs of the same character to at most 2 */
    SW_NORM_SPACES = 1u << 2,  /* collapse whitespace runs to one space, trim */
    SW_NORM_DEFAULT = SW_NORM_LEET | SW_NORM_SQUEEZE | SW_NORM_SPACES,
    SW_NORM_NO_MEMO = 1u << 3, /* neither read nor replace the per-thread memo (a caller
                                * whose inputs rarely repeat: same output) */
};

/**
 * Normalize UTF-8 @in (@len bytes) into @out (@cap bytes, NUL-terminated).
 * Always: drop zero-width/format characters and combining marks, map
 * confusables and fullwidth forms to ASCII, case-fold. Invalid UTF-8 bytes
 * become '?'. Returns the output length (< cap).
 */
size_t sw_normalize(const char *in, size_t len, char *out, size_t cap, unsigned flags);

/**
 * sw_normalize(), and *@plain (when not NULL) tells whether @in was plain
 * text: printable ASCII other than the leet bytes 0 1 3 4 5 7 @ $, and single
 * spaces with such a byte on both sides (len > 0, cap > len). The output of
 * plain text is its ASCII lower-casing, squeezed with SW_NORM_SQUEEZE: when
 * the result is @len, the output is exactly the lower-cased input.
 */
size_t sw_normalize_ex(const char *in, size_t len, char *out, size_t cap, unsigned flags,
                       bool *plain);

#ifdef __cplusplus
}
#endif
#endif
