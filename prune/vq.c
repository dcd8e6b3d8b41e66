// vq — VQToken (Zhang et al., "Extreme Video Compression with Discrete Token
// Representation", 2025): the clip's tokens become a K-entry codebook plus a
// token hash, an I32 map [T, H, W] -> code id, so spatio-temporal positions
// survive while only K tokens go to the language model.
//
// Behaviour of the official code (Hai-chao-Zhang/VQToken: VQToken/cluster.py
// KMeansTorch + AdaptiveKMeansTorch, VQToken/vq_token.py
// adaptive_kmeans_clustering_tokens_torch, called from llava_arch.py on the
// post-projector frame features with method "elbow", max_K = 32), and where vtc
// departs from it:
// - Tokens: all T*H*W tokens of the clip, post-projector embeddings when
//   present (as the reference, which clusters encode_images() output), else
//   encoder features; L2-normalised (a zero token stays zero; the reference
//   divides by zero).
// - k-means with cosine assignment: argmax over codes of x . c/|c| (centres are
//   normalised only for the assignment); update = mean of the normalised
//   members, an empty cluster keeps its previous centre; stop when the
//   Frobenius norm of the centre shift is below tol (1e-4) or after iters (100)
//   iterations. Assignment is one sgemm per block of tokens (N x D by D x K).
// - Initialisation: k-means++ seeded from `seed`: first centre uniform, then
//   D^2 sampling (squared Euclidean distance to the nearest centre + 1e-6, as
//   the reference). vtc draws `trials` candidates per step and keeps the one
//   that lowers the potential most (greedy k-means++, as scikit-learn; default
//   2 + floor(ln K)); trials = 1 is the reference's plain k-means++. Plain
//   k-means++ merged two clusters on 3 of 10 seeds of the test fixture (6
//   orthogonal clusters), and such misses make the elbow curve bumpy.
//   RNG: xoshiro256** seeded through splitmix64 with seed + K * 0x9E3779B97F4A7C15,
//   so the fit for a given K does not depend on the K range scanned: the
//   adaptive choice at K equals `k=K` with the same seed.
// - Codebook = per-cluster means of the normalised members, not re-normalised
//   (vq_token.py's cluster_means), in cluster order (the order the k-means++
//   centres were drawn). Their norm is at most 1, not the scale of the model's
//   embeddings: VQToken fine-tunes its LLM on them. A cluster left empty at the end is dropped and the ids
//   renumbered (the reference hands on a zero vector). Each code is a token with
//   index -1, weight = cluster size, pos = (t, y, x) of the member closest
//   (cosine) to it (lowest index on ties).
// - Adaptive K (k = 0 and no --keep): fit every K in [kmin, kmax] (default
//   12..32, the reference's range; clipped to [1, N]), distortion = sum of
//   squared Euclidean distances of the normalised tokens to their cluster mean
//   (the reference: to the centres of the last assignment, equal at convergence),
//   and take the elbow: the K whose point lies farthest below the chord between
//   the curve's end points, K and distortion each scaled to [0, 1] (the first
//   of equals; kmin if the curve does not fall). The reference takes
//   argmax(second difference) + 2 + 2 without offsetting by its first K (12) and
//   then max(., 12), so it can only return 12..22; the reference also refits
//   the chosen K from a fresh draw, vtc reuses the seed so the fit is the same.
// - Fixed K: param k > 0, else the caller's keep count. K > N is an error.
// - Output: data = the codes, in embeds space when present; codes (vtc_tokens)
//   = code id of every source token, written as `codes` I32 [T, H, W]. The note
//   gives K, how it was chosen and the mean 1 - cos of the tokens to their code.
// - Cost: k-means++ reads the tokens once per centre (one sgemm against the
//   `trials` candidates), each iteration once (N x D by D x K); adaptive K runs
//   kmax - kmin + 2 fits. Threads split the tokens; every BLAS call is
//   single-threaded (common.h). Deterministic for a given seed and thread count.
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

// ---------------------------------------------------------------- RNG

// xoshiro256** (Blackman & Vigna), state filled by vtc_splitmix64.
struct vq_rng {
    uint64_t s[4];
};

static void vq_rng_seed(struct vq_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = vtc_splitmix64(&x);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t vq_rng_next(struct vq_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

// Uniform in [0, 1) with 53 random bits.
static double vq_rng_uniform(struct vq_rng *r) { return vtc_rng_bits_unit(vq_rng_next(r)); }

// ---------------------------------------------------------------- the clip

// Rows per sgemm block: bounds the dot-product scratch to VQ_BLOCK * K floats.
#define VQ_BLOCK 1024

struct vq_clip {
    const float *x;  // (n, d) L2-normalised tokens
    const float *sq; // (n) |x_i|^2: 1, or 0 for a zero token
    int n, d;
    int n_threads;
};

// x (n, d) -> xn (n, d) with unit rows (a zero row stays zero), sq (n) = |xn_i|^2.
static void normalise_rows(const float *x, int n, int d, float *xn, float *sq) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        float *yi = xn + (size_t)i * d;
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)xi[j] * xi[j];
        double inv = s > 0 ? 1.0 / sqrt(s) : 0.0;
        double s2 = 0;
        for (int j = 0; j < d; j++) {
            yi[j] = (float)(xi[j] * inv);
            s2 += (double)yi[j] * yi[j];
        }
        sq[i] = (float)s2;
    }
}

// out (rows, m) = x (rows, d) . c (m, d)^T
static void dots(const float *x, int rows, const float *c, int m, int d, float *out) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, m, d, 1.0f, x, d, c, d, 0.0f, out, m);
}

// vtc runs every BLAS call single-threaded from its own threads (common.h): the
// tokens are split into one contiguous slice per thread ("job").
static int job_count(const struct vq_clip *clip) {
    int jobs = clip->n_threads < 1 ? 1 : clip->n_threads;
    return jobs < clip->n ? jobs : clip->n;
}

static void job_rows(const struct vq_clip *clip, int job, int *begin, int *end) {
    int jobs = job_count(clip);
    *begin = (int)((int64_t)clip->n * job / jobs);
    *end = (int)((int64_t)clip->n * (job + 1) / jobs);
}

struct sqdist_job {
    const struct vq_clip *clip;
    const float *c, *c_sq;
    int m;
    float *d2;
};

static void sqdist_rows(void *arg, int job_begin, int job_end) {
    const struct sqdist_job *job = arg;
    const struct vq_clip *clip = job->clip;
    int m = job->m;
    for (int jb = job_begin; jb < job_end; jb++) {
        int b, e;
        job_rows(clip, jb, &b, &e);
        float *out = job->d2 + (size_t)b * m;
        dots(clip->x + (size_t)b * clip->d, e - b, job->c, m, clip->d, out);
        for (int i = b; i < e; i++)
            for (int j = 0; j < m; j++) {
                float v = clip->sq[i] + job->c_sq[j] - 2.0f * out[(size_t)(i - b) * m + j];
                out[(size_t)(i - b) * m + j] = v > 0 ? v : 0;
            }
    }
}

// d2 (n, m) = squared Euclidean distance of every token to the m rows of c (m, d)
// whose squared norms are c_sq (m): |x|^2 + |c|^2 - 2 x.c, clamped at 0.
static void sqdist(const struct vq_clip *clip, const float *c, const float *c_sq, int m, float *d2) {
    struct sqdist_job job = { clip, c, c_sq, m, d2 };
    vtc_parallel_for(clip->n_threads, job_count(clip), sqdist_rows, &job);
}

struct assign_job {
    const struct vq_clip *clip;
    const float *unit; // (k, d) unit centres
    int k;
    float *scratch;    // (jobs, block, k)
    int block;         // rows per sgemm: min(n, VQ_BLOCK)
    int32_t *label;
};

// label_i = argmax_c x_i . unit_c (the first of equals), VQ_BLOCK rows per sgemm.
static void assign_rows(void *arg, int job_begin, int job_end) {
    const struct assign_job *job = arg;
    const struct vq_clip *clip = job->clip;
    int k = job->k;
    for (int jb = job_begin; jb < job_end; jb++) {
        float *dot = job->scratch + (size_t)jb * job->block * k;
        int b, e;
        job_rows(clip, jb, &b, &e);
        for (int i0 = b; i0 < e; i0 += job->block) {
            int rows = e - i0 < job->block ? e - i0 : job->block;
            dots(clip->x + (size_t)i0 * clip->d, rows, job->unit, k, clip->d, dot);
            for (int i = 0; i < rows; i++) {
                const float *row = dot + (size_t)i * k;
                int best = 0;
                for (int c = 1; c < k; c++)
                    if (row[c] > row[best]) best = c;
                job->label[i0 + i] = best;
            }
        }
    }
}

// ---------------------------------------------------------------- k-means

// Draws k initial centres (k, d) by (greedy) k-means++: first uniform, then
// `trials` candidates per step by D^2 sampling (weight = squared distance to the
// nearest centre + 1e-6, as the reference), keeping the candidate that minimises
// the resulting potential sum_i min(D^2_i, |x_i - cand|^2) (the first of equals).
static int kmeanspp(const struct vq_clip *clip, int k, int trials, struct vq_rng *rng, float *centre) {
    int n = clip->n, d = clip->d;
    float *mind2 = vtc_alloc((size_t)n, sizeof(float));
    float *d2 = vtc_alloc((size_t)n * trials, sizeof(float));
    float *cand = vtc_alloc((size_t)trials * d, sizeof(float));
    float *cand_sq = vtc_alloc((size_t)trials, sizeof(float));
    double *potential = vtc_alloc((size_t)trials, sizeof(double));
    int st = mind2 && d2 && cand && cand_sq && potential ? VTC_OK : VTC_ERR_NOMEM;
    if (st) goto done;
    int first = (int)(vq_rng_uniform(rng) * n);
    if (first >= n) first = n - 1;
    memcpy(centre, clip->x + (size_t)first * d, (size_t)d * sizeof(float));
    sqdist(clip, centre, &clip->sq[first], 1, mind2);

    for (int c = 1; c < k; c++) {
        double total = 0;
        for (int i = 0; i < n; i++) total += (double)mind2[i] + 1e-6;
        for (int t = 0; t < trials; t++) {
            double u = vq_rng_uniform(rng) * total, acc = 0;
            int pick = n - 1;
            for (int i = 0; i < n; i++) {
                acc += (double)mind2[i] + 1e-6;
                if (acc > u) {
                    pick = i;
                    break;
                }
            }
            memcpy(cand + (size_t)t * d, clip->x + (size_t)pick * d, (size_t)d * sizeof(float));
            cand_sq[t] = clip->sq[pick];
        }
        sqdist(clip, cand, cand_sq, trials, d2);
        int best = 0;
        if (trials > 1) {
            for (int t = 0; t < trials; t++) potential[t] = 0;
            for (int i = 0; i < n; i++)
                for (int t = 0; t < trials; t++) {
                    float v = d2[(size_t)i * trials + t];
                    potential[t] += v < mind2[i] ? v : mind2[i];
                }
            for (int t = 1; t < trials; t++)
                if (potential[t] < potential[best]) best = t;
        }
        memcpy(centre + (size_t)c * d, cand + (size_t)best * d, (size_t)d * sizeof(float));
        for (int i = 0; i < n; i++) {
            float v = d2[(size_t)i * trials + best];
            if (v < mind2[i]) mind2[i] = v;
        }
    }
done:
    free(mind2);
    free(d2);
    free(cand);
    free(cand_sq);
    free(potential);
    return st;
}

struct vq_opts {
    int max_iter;      // iterations at most (100)
    double tol;        // stop when |centres - new centres|_F < tol (1e-4)
    int trials;        // k-means++ candidates per step; 0 = 2 + floor(ln k)
    uint64_t seed;
};

// One k-means run. The arrays are owned by the fit; free with vq_fit_free.
struct vq_fit {
    int k;
    int32_t *label;  // (n) cluster of each token (its last assignment)
    float *mean;     // (k, d) mean of each cluster's normalised members (the centre if empty)
    int32_t *count;  // (k) members
    double sse;      // sum_i |x_i - mean_label|^2 (the distortion the elbow reads)
    double cost;     // sum_i 1 - cos(x_i, mean_label) (the k-means objective)
    int iters;       // iterations run
};

static void vq_fit_free(struct vq_fit *fit) {
    free(fit->label);
    free(fit->mean);
    free(fit->count);
    memset(fit, 0, sizeof *fit);
}

struct sum_job {
    const struct vq_clip *clip;
    const int32_t *label;
    double *sum; // (k, d)
    int k;
};

// Columns [begin, end) of the per-cluster sums: disjoint per thread, so the
// result does not depend on the thread count.
static void sum_columns(void *arg, int begin, int end) {
    const struct sum_job *job = arg;
    int d = job->clip->d;
    for (int c = 0; c < job->k; c++)
        for (int j = begin; j < end; j++) job->sum[(size_t)c * d + j] = 0;
    for (int i = 0; i < job->clip->n; i++) {
        const float *xi = job->clip->x + (size_t)i * d;
        double *s = job->sum + (size_t)job->label[i] * d;
        for (int j = begin; j < end; j++) s[j] += xi[j];
    }
}

// Seed of the fit for k clusters: independent of the K range scanned.
static uint64_t fit_seed(uint64_t seed, int k) { return seed + (uint64_t)k * 0x9E3779B97F4A7C15ull; }

static int kmeans_fit(const struct vq_clip *clip, int k, const struct vq_opts *o, struct vq_fit *fit) {
    int n = clip->n, d = clip->d;
    memset(fit, 0, sizeof *fit);
    fit->k = k;
    fit->label = vtc_alloc((size_t)n, sizeof(int32_t));
    fit->mean = vtc_alloc((size_t)k * d, sizeof(float));
    fit->count = vtc_alloc((size_t)k, sizeof(int32_t));
    float *centre = vtc_alloc((size_t)k * d, sizeof(float));
    float *unit = vtc_alloc((size_t)k * d, sizeof(float));
    int block = n < VQ_BLOCK ? n : VQ_BLOCK;
    float *dot = vtc_alloc((size_t)job_count(clip) * block * k, sizeof(float));
    double *sum = vtc_alloc((size_t)k * d, sizeof(double));
    int st = VTC_OK;
    if (!fit->label || !fit->mean || !fit->count || !centre || !unit || !dot || !sum) {
        st = VTC_ERR_NOMEM;
        goto done;
    }
    int trials = o->trials > 0 ? o->trials : 2 + (int)log((double)k);
    struct vq_rng rng;
    vq_rng_seed(&rng, fit_seed(o->seed, k));
    if ((st = kmeanspp(clip, k, trials, &rng, centre)) != VTC_OK) goto done;

    struct sum_job job = { clip, fit->label, sum, k };
    struct assign_job assign = { clip, unit, k, dot, block, fit->label };
    for (int it = 0; it < o->max_iter; it++) {
        // Assign: argmax_c x . c/|c| (the first of equals).
        for (int c = 0; c < k; c++) {
            const float *cc = centre + (size_t)c * d;
            double s = 0;
            for (int j = 0; j < d; j++) s += (double)cc[j] * cc[j];
            double inv = s > 0 ? 1.0 / sqrt(s) : 0.0;
            for (int j = 0; j < d; j++) unit[(size_t)c * d + j] = (float)(cc[j] * inv);
        }
        vtc_parallel_for(clip->n_threads, job_count(clip), assign_rows, &assign);
        // Update: the mean of the members; an empty cluster keeps its centre.
        vtc_parallel_for(clip->n_threads, d, sum_columns, &job);
        memset(fit->count, 0, (size_t)k * sizeof(int32_t));
        for (int i = 0; i < n; i++) fit->count[fit->label[i]]++;
        double shift = 0;
        for (int c = 0; c < k; c++)
            for (int j = 0; j < d; j++) {
                size_t q = (size_t)c * d + j;
                float v = fit->count[c] ? (float)(sum[q] / fit->count[c]) : centre[q];
                fit->mean[q] = v;
                shift += ((double)v - centre[q]) * ((double)v - centre[q]);
            }
        fit->iters = it + 1;
        // Stopping before the swap leaves fit->mean = the means of the final
        // labels either way (converged, or out of iterations).
        if (sqrt(shift) < o->tol || it == o->max_iter - 1) break;
        float *swap = centre;
        centre = fit->mean;
        fit->mean = swap;
    }
    double sq_total = 0;
    for (int i = 0; i < n; i++) sq_total += clip->sq[i];
    fit->sse = sq_total;
    fit->cost = 0;
    for (int c = 0; c < k; c++) {
        if (!fit->count[c]) continue;
        double s2 = 0;
        for (int j = 0; j < d; j++) s2 += sum[(size_t)c * d + j] * sum[(size_t)c * d + j];
        fit->sse -= s2 / fit->count[c];
        fit->cost += fit->count[c] - sqrt(s2);
    }
    if (fit->sse < 0) fit->sse = 0;
done:
    free(centre);
    free(unit);
    free(dot);
    free(sum);
    if (st) vq_fit_free(fit);
    return st;
}

// ---------------------------------------------------------------- K and the codebook

// The elbow of the distortion curve sse[i] at K = kmin + i, i < m: the point
// farthest below the chord between the end points, with K and distortion each
// scaled to [0, 1] (score 1 - x - y); the first of equals; kmin if it does not fall.
static int elbow(const double *sse, int kmin, int m) {
    if (m < 2 || !(sse[0] > sse[m - 1])) return kmin;
    double best_score = -INFINITY;
    int best = 0;
    for (int i = 0; i < m; i++) {
        double score = 1.0 - (double)i / (m - 1) - (sse[i] - sse[m - 1]) / (sse[0] - sse[m - 1]);
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    return kmin + best;
}

// A clip's codebook: the non-empty clusters of the chosen fit, renumbered.
struct vq_book {
    int k;           // codes
    int k_fit;       // clusters of the fit (k plus those left empty)
    float *code;     // (k, d) cluster means of the normalised tokens
    int32_t *size;   // (k) members
    int32_t *rep;    // (k) token closest (cosine) to its code, lowest index on ties
    int32_t *hash;   // (n) code of every token
    double cost;     // sum_i 1 - cos(x_i, code of i)
};

static void vq_book_free(struct vq_book *b) {
    free(b->code);
    free(b->size);
    free(b->rep);
    free(b->hash);
    memset(b, 0, sizeof *b);
}

static int book_from_fit(const struct vq_clip *clip, const struct vq_fit *fit, struct vq_book *b) {
    int n = clip->n, d = clip->d, k = fit->k;
    int32_t *id = vtc_alloc((size_t)k, sizeof(int32_t));
    float *best = vtc_alloc((size_t)k, sizeof(float));
    if (!id || !best) {
        free(id);
        free(best);
        return VTC_ERR_NOMEM;
    }
    int kept = 0;
    for (int c = 0; c < k; c++) id[c] = fit->count[c] ? kept++ : -1;
    b->k = kept;
    b->k_fit = k;
    b->cost = fit->cost;
    b->code = vtc_alloc((size_t)kept * d, sizeof(float));
    b->size = vtc_alloc((size_t)kept, sizeof(int32_t));
    b->rep = vtc_alloc((size_t)kept, sizeof(int32_t));
    b->hash = vtc_alloc((size_t)n, sizeof(int32_t));
    if (!b->code || !b->size || !b->rep || !b->hash) {
        free(id);
        free(best);
        return VTC_ERR_NOMEM;
    }
    for (int c = 0; c < k; c++) {
        if (id[c] < 0) continue;
        memcpy(b->code + (size_t)id[c] * d, fit->mean + (size_t)c * d, (size_t)d * sizeof(float));
        b->size[id[c]] = fit->count[c];
        b->rep[id[c]] = -1;
    }
    for (int i = 0; i < n; i++) {
        int c = id[fit->label[i]];
        b->hash[i] = c;
        // Within a cluster x . mean orders members as their cosine to it.
        const float *xi = clip->x + (size_t)i * d, *m = b->code + (size_t)c * d;
        double v = 0;
        for (int j = 0; j < d; j++) v += (double)xi[j] * m[j];
        if (b->rep[c] < 0 || (float)v > best[c]) {
            b->rep[c] = i;
            best[c] = (float)v;
        }
    }
    free(id);
    free(best);
    return VTC_OK;
}

// Quantises x (n, d): k > 0 clusters, or k = 0 for the elbow over [kmin, kmax]
// (already clipped to [1, n]). Fills *b; free with vq_book_free.
static int vq_quantize(const float *x, int n, int d, int k, int kmin, int kmax, const struct vq_opts *o,
                       int n_threads, struct vq_book *b) {
    memset(b, 0, sizeof *b);
    float *xn = vtc_alloc((size_t)n * d, sizeof(float));
    float *sq = vtc_alloc((size_t)n, sizeof(float));
    double *sse = NULL; // (kmax - kmin + 1) distortion curve of an adaptive choice
    int st = VTC_OK;
    if (!xn || !sq) {
        st = VTC_ERR_NOMEM;
        goto done;
    }
    normalise_rows(x, n, d, xn, sq);
    struct vq_clip clip = { xn, sq, n, d, n_threads };
    struct vq_fit fit;
    if (k == 0) {
        sse = vtc_alloc((size_t)(kmax - kmin + 1), sizeof(double));
        if (!sse) {
            st = VTC_ERR_NOMEM;
            goto done;
        }
        for (int kk = kmin; kk <= kmax; kk++) {
            if ((st = kmeans_fit(&clip, kk, o, &fit)) != VTC_OK) goto done;
            sse[kk - kmin] = fit.sse;
            vq_fit_free(&fit);
        }
        k = elbow(sse, kmin, kmax - kmin + 1);
    }
    // The fit for k depends only on (seed, k): refitting the elbow's K gives the scan's fit.
    if ((st = kmeans_fit(&clip, k, o, &fit)) != VTC_OK) goto done;
    st = book_from_fit(&clip, &fit, b);
    vq_fit_free(&fit);
done:
    free(xn);
    free(sq);
    free(sse);
    if (st) vq_book_free(b);
    return st;
}

// ---------------------------------------------------------------- the method

enum { P_K, P_KMIN, P_KMAX, P_ITERS, P_TOL, P_TRIALS };
static const struct vtc_param_def PARAMS[] = {
    [P_K] = { "k", "0", "codebook size; 0 = the --keep count if given, else the elbow over [kmin, kmax]", 0, 1 << 30,
              1 },
    [P_KMIN] = { "kmin", "12", "smallest K the elbow considers (clipped to the token count)", 1, 1 << 30, 1 },
    [P_KMAX] = { "kmax", "32", "largest K the elbow considers (clipped to the token count)", 1, 1 << 30, 1 },
    [P_ITERS] = { "iters", "100", "k-means iterations at most", 1, 100000, 1 },
    [P_TOL] = { "tol", "1e-4", "stop when the Frobenius norm of the centre shift is below this", 0, 1e9, 0 },
    [P_TRIALS] = { "trials", "0",
                   "k-means++ candidates per centre, the best kept; 0 = 2 + floor(ln K), 1 = plain k-means++ as "
                   "the reference",
                   0, 64, 1 },
};

static int run_vq(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const struct vtc_param_values *p = in->p;
    const int n = f->n;
    if (f->T < 1 || f->H < 1 || f->W < 1 || (int64_t)f->T * f->H * f->W != n)
        return vtc_set_error(VTC_ERR_ARG, "vq: grid %dx%dx%d does not hold %d tokens", f->T, f->H, f->W, n);
    const int kmin_param = (int)p->v[P_KMIN], kmax_param = (int)p->v[P_KMAX];
    if (kmin_param > kmax_param)
        return vtc_set_error(VTC_ERR_ARG, "vq: kmin=%d is above kmax=%d", kmin_param, kmax_param);
    int k = (int)p->v[P_K];
    const char *why = "k";
    if (k == 0 && in->keep_given) {
        k = (int)in->keep;
        why = "--keep";
    }
    if (k > n) return vtc_set_error(VTC_ERR_NEEDS, "vq: k=%d codes for only %d tokens", k, n);
    const int kmin = kmin_param < n ? kmin_param : n, kmax = kmax_param < n ? kmax_param : n;

    int32_t dim;
    int space;
    const float *rows = vtc_prune_rows(f, VTC_SPACE_EMBEDS, &dim, &space);
    struct vq_opts o = { (int)p->v[P_ITERS], p->v[P_TOL], (int)p->v[P_TRIALS], in->seed };
    vtc_blas_single_thread();
    struct vq_book b;
    int st = vq_quantize(rows, n, dim, k, kmin, kmax, &o, in->n_threads, &b);
    if (st) return st;
    vtc_tokens *t = vtc_tokens_alloc(b.k, dim);
    if (!t) {
        vq_book_free(&b);
        return VTC_ERR_NOMEM;
    }
    t->space = space;
    memcpy(t->data, b.code, (size_t)b.k * dim * sizeof(float));
    for (int c = 0; c < b.k; c++) {
        t->index[c] = -1;
        vtc_grid_pos(f, b.rep[c], t->pos + 3 * c);
        t->weight[c] = (float)b.size[c];
    }
    t->codes = b.hash; // [T*H*W] code id of every token
    b.hash = NULL;
    int at = k ? snprintf(t->note, sizeof t->note, "K=%d (%s), mean 1-cos %.4f", b.k_fit, why, b.cost / n)
               : snprintf(t->note, sizeof t->note, "K=%d (elbow over %d..%d), mean 1-cos %.4f", b.k_fit, kmin, kmax,
                          b.cost / n);
    if (b.k < b.k_fit && at > 0 && (size_t)at < sizeof t->note)
        snprintf(t->note + at, sizeof t->note - at, "; %d empty cluster(s) dropped", b.k_fit - b.k);
    vq_book_free(&b);
    *out = t;
    return VTC_OK;
}

const struct vtc_method vtc_method_vq = {
    "vq",
    "VQToken codebook: k-means (cosine, k-means++) of the clip's L2-normalised tokens; the K cluster means are the "
    "tokens (weight = size), codes maps every source token to its code; K from k, --keep, or the elbow over "
    "[kmin, kmax] (done right: the reference can only pick 12..22); post-projector embeddings when present",
    VTC_F_FEATURES, VTC_F_EMBEDS, VTC_SPACE_EMBEDS, PARAMS, 6, run_vq,
};
