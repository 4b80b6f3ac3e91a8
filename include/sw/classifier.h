/*
 * classifier.h - a small text classifier for chat spam: multinomial naive
 * Bayes over hashed word and word-bigram features of sw_normalize()d text.
 *
 * A model is a table of 2^bits per-bucket log-likelihood ratios
 * log P(bucket | spam) - log P(bucket | ham) (Laplace smoothing) plus the
 * prior log-odds. Scoring sums the ratios of a text's features: no allocation,
 * the caller lends a normalization buffer. The model file is versioned and
 * checksummed (magic "SWNBAYES", version, bits, document counts, XXH64 of the
 * table); anything else is refused on load.
 *
 * The probability is one weighted signal for the aggregator ("classifier.spam"
 * hits from the "classifier" detector), never a verdict on one short message.
 *
 * Threading: a loaded model is immutable and may be shared by every worker;
 * a trainer belongs to one thread. Ownership per function.
 */
#ifndef SW_CLASSIFIER_H
#define SW_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_CLASSIFIER_VERSION 1u
#define SW_CLASSIFIER_DEFAULT_BITS 18u /* 2^18 buckets: 1 MB of floats */

struct sw_classifier;
struct sw_classifier_trainer;

/** New trainer with 2^@bits buckets (10..24). @return 0 or SW_EINVAL/SW_ENOMEM. */
int sw_classifier_trainer_new(unsigned bits, struct sw_classifier_trainer **out);
/** Count the features of one document (@len bytes of UTF-8). */
void sw_classifier_trainer_add(struct sw_classifier_trainer *t, const char *text, size_t len,
                               bool spam);
/** Build a model from the counts so far (the trainer stays usable). Caller frees
 *  the model. @return 0, SW_EINVAL (a class has no documents) or SW_ENOMEM. */
int sw_classifier_trainer_build(const struct sw_classifier_trainer *t, struct sw_classifier **out);
/** Same table, fitted by logistic regression (SGD, @epochs passes shuffled with
 *  @seed) over the stored documents' features instead of naive Bayes counts:
 *  better calibrated and more accurate on short texts. Same returns. */
int sw_classifier_trainer_build_lr(const struct sw_classifier_trainer *t, unsigned epochs,
                                   uint64_t seed, struct sw_classifier **out);
void sw_classifier_trainer_free(struct sw_classifier_trainer *t);

/** Write @m to @path (atomically: temporary file + rename). 0 or SW_EIO. */
int sw_classifier_save(const struct sw_classifier *m, const char *path, struct sw_errbuf *eb);
/** Load and verify a model file. 0 and *out (caller frees), or SW_EIO / SW_EPARSE
 *  (wrong magic, version, size or checksum) / SW_ENOMEM with @eb filled. */
int sw_classifier_load(const char *path, struct sw_classifier **out, struct sw_errbuf *eb);
void sw_classifier_free(struct sw_classifier *m);

/** Bytes a scoring buffer needs for a text of @len bytes. */
#define SW_CLASSIFIER_BUF(len) ((len) + 64)

/**
 * Spam probability of @text (0..1). @buf (@cap bytes, at least
 * SW_CLASSIFIER_BUF(len); longer texts are cut) receives the normalized text.
 * *n_tokens (may be NULL) is the number of word tokens seen.
 * Reentrant; no allocation.
 */
double sw_classifier_score(const struct sw_classifier *m, const char *text, size_t len, char *buf,
                           size_t cap, unsigned *n_tokens);

/**
 * sw_classifier_score() for a caller that ignores texts of fewer than
 * @min_tokens word tokens: those are counted (*n_tokens, may be NULL) but not
 * scored, and the result is -1.0. Otherwise the same value.
 */
double sw_classifier_score_min(const struct sw_classifier *m, const char *text, size_t len,
                               char *buf, size_t cap, unsigned min_tokens, unsigned *n_tokens);

/** Documents the model was trained on. */
void sw_classifier_counts(const struct sw_classifier *m, uint64_t *ham, uint64_t *spam);

/**
 * `stanzawatch train --ham FILE --spam FILE -o MODEL [--test-fraction F]
 * [--seed N] [--bits B] [--threshold P]`: one document per line; shuffles with
 * the seed, holds out F (default 0.2) of each class, trains on the rest, prints
 * held-out accuracy, precision and recall (spam = positive, p >= threshold,
 * default 0.5) and saves the model trained on the training part. Returns the
 * process exit code (0 ok, 1 input error, 2 usage).
 */
int sw_train_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
