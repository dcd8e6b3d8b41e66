// Sampling the next token exactly as llama2.c's run.c: greedy argmax, or
// temperature + softmax + a coin from its xorshift RNG, with top-p (nucleus)
// truncation. Same float operations in the same order, so a seeded run picks
// the same tokens as run.c given the same logits.
#include "lm.h"

#include <math.h>
#include <stdlib.h>

#include "base/common.h"
#include "base/vecmath.h"

struct prob_index {
    float prob;
    int32_t index;
};

struct vtc_sampler {
    int32_t vocab_size;
    float temperature;
    float topp;
    uint64_t rng_state;
    struct prob_index *probindex; // [vocab_size] scratch for top-p
};

vtc_sampler *vtc_sampler_new(int32_t vocab_size, float temperature, float topp, uint64_t seed) {
    if (vocab_size <= 0) {
        vtc_set_error(VTC_ERR_ARG, "sampler: vocabulary size %d", (int)vocab_size);
        return NULL;
    }
    if (!(temperature >= 0.0f) || !isfinite(temperature) || isnan(topp)) {
        vtc_set_error(VTC_ERR_ARG, "sampler: temperature %g / top-p %g", temperature, topp);
        return NULL;
    }
    vtc_sampler *s = vtc_zalloc(1, sizeof *s);
    if (!s) return NULL;
    s->probindex = vtc_alloc((size_t)vocab_size, sizeof *s->probindex);
    if (!s->probindex) {
        free(s);
        return NULL;
    }
    s->vocab_size = vocab_size;
    s->temperature = temperature;
    s->topp = topp;
    s->rng_state = seed;
    return s;
}

void vtc_sampler_free(vtc_sampler *s) {
    if (!s) return;
    free(s->probindex);
    free(s);
}

// xorshift* (https://en.wikipedia.org/wiki/Xorshift#xorshift*), as run.c.
static uint32_t random_u32(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

// A float in [0, 1).
static float random_f32(uint64_t *state) { return (float)(random_u32(state) >> 8) / 16777216.0f; }

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    float max = x[0];
    for (int32_t i = 1; i < n; i++)
        if (x[i] > max) {
            best = i;
            max = x[i];
        }
    return best;
}

static int32_t sample_mult(const float *probs, int32_t n, float coin) {
    float cdf = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        cdf += probs[i];
        if (coin < cdf) return i;
    }
    return n - 1; // rounding
}

// Descending probability; equal probabilities keep index order (what glibc's
// merge-sort qsort does for run.c, made explicit so every libc agrees).
static int cmp_prob_desc(const void *a, const void *b) {
    const struct prob_index *x = a, *y = b;
    if (x->prob > y->prob) return -1;
    if (x->prob < y->prob) return 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int32_t sample_topp(const float *probs, int32_t n, float topp, struct prob_index *pi, float coin) {
    // Probabilities below (1 - topp) / (n - 1) cannot be in the nucleus: skip them before sorting.
    int32_t n0 = 0;
    const float cutoff = (1.0f - topp) / (float)(n - 1);
    for (int32_t i = 0; i < n; i++)
        if (probs[i] >= cutoff) {
            pi[n0].index = i;
            pi[n0].prob = probs[i];
            n0++;
        }
    if (n0 == 0) return argmax(probs, n); // only when n == 1 (cutoff is inf) or NaNs
    qsort(pi, (size_t)n0, sizeof *pi, cmp_prob_desc);
    float cumulative = 0.0f;
    int32_t last = n0 - 1;
    for (int32_t i = 0; i < n0; i++) {
        cumulative += pi[i].prob;
        if (cumulative > topp) {
            last = i;
            break;
        }
    }
    float r = coin * cumulative;
    float cdf = 0.0f;
    for (int32_t i = 0; i <= last; i++) {
        cdf += pi[i].prob;
        if (r < cdf) return pi[i].index;
    }
    return pi[last].index;
}

int32_t vtc_sampler_sample(vtc_sampler *s, float *logits) {
    if (s->temperature == 0.0f) return argmax(logits, s->vocab_size);
    for (int32_t i = 0; i < s->vocab_size; i++) logits[i] /= s->temperature;
    vtc_softmax_scalar(logits, s->vocab_size);
    float coin = random_f32(&s->rng_state);
    if (s->topp <= 0 || s->topp >= 1) return sample_mult(logits, s->vocab_size, coin);
    return sample_topp(logits, s->vocab_size, s->topp, s->probindex, coin);
}
