// divprune (DivPrune, Alvar et al., CVPR 2025): keep a maximally diverse
// subset — the max-min diversity problem solved greedily, as the official code
// (vbdi/divprune, LLaVA/llava/model/llava_arch.py DivPrune) does:
//   cosine_matrix = 1 - xn @ xn.T on the post-projector tokens (vtc: the
//   embeddings, or the encoder features when there is no projector);
//   pick 0 = argmax over columns of torch.topk(.., 2, largest=False).values[1],
//   the second-smallest distance of each column: the smallest is the token's
//   own (0), so that is its nearest-neighbour distance — vtc takes the minimum
//   over the other tokens, the same number;
//   pick i = argmax of the column minimum over the rows already chosen;
//   the kept indices are then sorted (keep_indexs.sort()).
// torch.argmax returns the first maximum, so ties go to the lowest index.
// The budget int(round(ratio * n)) is what vtc_prune_keep_count gives a fraction.
// Departures, both outside the official code's domain: once every unchosen
// token duplicates a chosen one (all running minima 0) the official argmax can
// return a chosen token again (its own distance is 0 too) and keep fewer than
// k distinct tokens — vtc picks among the unchosen only, so k distinct tokens
// always come out; and a zero row (NaN in the official normalisation) counts
// as orthogonal to everything (distance 1).
//
// Cost: the first pick needs every token's nearest neighbour, O(N^2 D): the
// upper triangle of x x^T in 256-wide tiles of sgemm spread over the threads,
// each tile folding into its rows' and its columns' minima — half the
// multiply-adds of the full matrix (vtc_similarity_tiles below, which todre
// shares). When the N x N matrix fits SIM_CACHE_BYTES (N <= 7094: 32 frames of
// 14 x 14 need 157 MB, of which the triangle touches half) the tiles are kept
// where they fall in it, and each later pick reads its row, O(N)
// (vtc_similarity_row); otherwise each pick computes its row with one sgemv,
// O(N D), and memory stays at a tile per thread. Either way the chosen set is
// folded into a running minimum: O(N^2 D + k N D) in all, never the O(k^2 N)
// re-scan of the chosen rows the official loop does.
//
// per_frame=1 (video; not in the official code, which runs on the whole
// sequence): each frame keeps floor(k / T) tokens and the first k mod T frames
// one more, each selected within its own frame.
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

static const struct vtc_param_def PARAMS[] = {
    { "per_frame", "0", "1: select within each frame, k/T tokens each (the first k mod T frames one more)", 0, 1, 1 },
};

// The similarity matrix is kept when it fits this budget; beyond it each pick
// computes its row with one sgemv.
#define SIM_CACHE_BYTES ((size_t)192 << 20)
enum { TILE = 256 };

// Unit-length copies (prune.h): the squares summed in double, in four running
// sums so that they vectorise; a zero row stays zero.
float *vtc_normalized_rows(const float *x, int32_t n, int32_t d) {
    float *y = vtc_alloc((size_t)n * d, sizeof(float));
    if (!y) return NULL;
    for (int32_t i = 0; i < n; i++) {
        const float *r = x + (size_t)i * d;
        double acc[4] = { 0, 0, 0, 0 };
        int32_t e = 0;
        for (; e + 4 <= d; e += 4)
            for (int l = 0; l < 4; l++) acc[l] += (double)r[e + l] * r[e + l];
        for (; e < d; e++) acc[0] += (double)r[e] * r[e];
        const double ss = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (e = 0; e < d; e++) y[(size_t)i * d + e] = r[e] * inv;
    }
    return y;
}

// ---------------------------------------------------------------- all-pairs similarity (shared with todre)

// Tiles (ti, tj), tj >= ti, of an nt x nt tile grid, numbered row by row.
struct sim_job {
    const float *xn; // [n, d] unit rows
    int32_t n, d, tile, nt;
    float *sim;      // [n, n] x x^T, upper tiles filled when not NULL
    float *nn;       // [n] nearest-neighbour distance, merged under lock
    pthread_mutex_t lock;
    int failed;
};

// dist = 1 - s for the len entries of one tile row: their minimum into *row_min,
// and each entry into its column's minimum. (Eight running minima, so that the
// compiler vectorises the row's reduction too.)
static void fold_row(const float *restrict s, int32_t len, float *restrict row_min, float *restrict col_min) {
    float m[8] = { INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY };
    int32_t c = 0;
    for (; c + 8 <= len; c += 8)
        for (int l = 0; l < 8; l++) {
            float dist = 1.0f - s[c + l];
            m[l] = dist < m[l] ? dist : m[l];
            col_min[c + l] = dist < col_min[c + l] ? dist : col_min[c + l];
        }
    for (; c < len; c++) {
        float dist = 1.0f - s[c];
        m[0] = dist < m[0] ? dist : m[0];
        col_min[c] = dist < col_min[c] ? dist : col_min[c];
    }
    for (int l = 0; l < 8; l++) *row_min = m[l] < *row_min ? m[l] : *row_min;
}

static void sim_tiles(void *p, int begin, int end) {
    struct sim_job *j = p;
    const int32_t n = j->n, d = j->d, ts = j->tile;
    float *nn = j->nn ? vtc_alloc((size_t)n, sizeof(float)) : NULL;
    float *buf = j->sim ? NULL : vtc_alloc((size_t)ts * ts, sizeof(float));
    if ((j->nn && !nn) || (!j->sim && !buf)) {
        pthread_mutex_lock(&j->lock);
        j->failed = 1;
        pthread_mutex_unlock(&j->lock);
        free(nn);
        free(buf);
        return;
    }
    for (int32_t i = 0; nn && i < n; i++) nn[i] = INFINITY;
    int32_t ti = 0, tj = begin; // tile `begin`: row ti holds nt - ti tiles
    while (tj >= j->nt - ti) tj -= j->nt - ti, ti++;
    tj += ti;
    for (int t = begin; t < end; t++) {
        const int32_t i0 = ti * ts, j0 = tj * ts;
        const int32_t bi = n - i0 < ts ? n - i0 : ts, bj = n - j0 < ts ? n - j0 : ts;
        float *c = j->sim ? j->sim + (size_t)i0 * n + j0 : buf;
        const int32_t ldc = j->sim ? n : bj;
        // c (bi, bj) = x[i0 ..] (bi, d) . x[j0 ..] (bj, d)^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, d, 1.0f, j->xn + (size_t)i0 * d, d,
                    j->xn + (size_t)j0 * d, d, 0.0f, c, ldc);
        for (int32_t r = 0; nn && r < bi; r++) {
            const float *row = c + (size_t)r * ldc;
            if (ti == tj) { // a diagonal tile: everything but the token itself
                fold_row(row, r, &nn[i0 + r], nn + j0);
                fold_row(row + r + 1, bj - r - 1, &nn[i0 + r], nn + j0 + r + 1);
            } else {
                fold_row(row, bj, &nn[i0 + r], nn + j0);
            }
        }
        if (++tj == j->nt) ++ti, tj = ti;
    }
    if (nn) {
        pthread_mutex_lock(&j->lock);
        for (int32_t i = 0; i < n; i++)
            if (nn[i] < j->nn[i]) j->nn[i] = nn[i];
        pthread_mutex_unlock(&j->lock);
    }
    free(nn);
    free(buf);
}

// Cosine similarities of all pairs of the n unit rows xn (width d), from the
// upper triangle of xn xn^T in tiles over n_threads threads — half the
// multiply-adds of one sgemm. nn, when not NULL, receives each row's nearest-
// neighbour distance, min over j != i of 1 - xn_i . xn_j (+inf when n == 1);
// sim [n, n], when not NULL, the triangle's tiles in place (entry (i, j) is
// written where i's tile <= j's tile, the rest not): read a row of the whole
// matrix from it with vtc_similarity_row. VTC_ERR_NOMEM if a thread's buffers
// could not be had. Shared with todre (declared in prune.h).
int vtc_similarity_tiles(const float *xn, int32_t n, int32_t d, int n_threads, float *sim, float *nn) {
    const int32_t nt = (n + TILE - 1) / TILE;
    struct sim_job job = { xn, n, d, TILE, nt, sim, nn, PTHREAD_MUTEX_INITIALIZER, 0 };
    for (int32_t i = 0; nn && i < n; i++) nn[i] = INFINITY;
    vtc_parallel_for(n_threads, nt * (nt + 1) / 2, sim_tiles, &job);
    pthread_mutex_destroy(&job.lock);
    return job.failed ? vtc_set_error(VTC_ERR_NOMEM, "similarity tiles: out of memory") : VTC_OK;
}

// Row i of the whole matrix from sim as vtc_similarity_tiles left it: down
// column i above i's tile, along row i from there. O(n).
void vtc_similarity_row(const float *sim, int32_t n, int32_t i, float *row) {
    const int32_t split = i / TILE * TILE;
    for (int32_t j = 0; j < split; j++) row[j] = sim[(size_t)j * n + i];
    memcpy(row + split, sim + (size_t)i * n + split, sizeof(float) * (size_t)(n - split));
}

// ---------------------------------------------------------------- one row per pick

struct row_job {
    const float *xn;
    int32_t d;
    const float *x; // the pick's row
    float *out;     // [n] xn . x
};

static void dot_rows(void *p, int begin, int end) {
    const struct row_job *j = p;
    // out (end - begin) = xn[begin ..] (end - begin, d) . x (d)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, end - begin, j->d, 1.0f, j->xn + (size_t)begin * j->d, j->d, j->x, 1,
                0.0f, j->out + begin, 1);
}

// ---------------------------------------------------------------- selection

// Greedy max-min selection of k of the n unit rows xn -> idx (ascending).
static int divprune_select(const float *xn, int32_t n, int32_t d, int32_t k, int n_threads, int32_t *idx) {
    size_t bytes;
    float *sim = NULL;
    if (!vtc_mul_size((size_t)n * (size_t)n, sizeof(float), &bytes) && bytes <= SIM_CACHE_BYTES)
        sim = vtc_alloc(bytes, 1); // NULL: the row-per-pick path, slower, never wrong
    float *nn = vtc_alloc((size_t)n, sizeof(float));
    float *mind = vtc_alloc((size_t)n, sizeof(float));
    float *row = vtc_alloc((size_t)n, sizeof(float));
    uint8_t *taken = vtc_zalloc((size_t)n, 1);
    int st = (!nn || !mind || !row || !taken) ? VTC_ERR_NOMEM : VTC_OK;
    if (!st) st = vtc_similarity_tiles(xn, n, d, n_threads, sim, nn);
    int32_t pick = 0;
    for (int32_t j = 1; !st && j < n; j++)
        if (nn[j] > nn[pick]) pick = j; // the most isolated token, first on ties
    // rows are worth threads only when streaming them outweighs starting them
    const int row_threads = (int64_t)n * d >= (1 << 20) ? n_threads : 1;
    for (int32_t j = 0; !st && j < n; j++) mind[j] = INFINITY;
    for (int32_t c = 0; !st && c < k; c++) {
        idx[c] = pick;
        taken[pick] = 1;
        if (c + 1 == k) break;
        if (sim) {
            vtc_similarity_row(sim, n, pick, row);
        } else {
            struct row_job rj = { xn, d, xn + (size_t)pick * d, row };
            vtc_parallel_for(row_threads, n, dot_rows, &rj);
        }
        int32_t best = -1;
        for (int32_t j = 0; j < n; j++) {
            float dist = 1.0f - row[j];
            if (dist < mind[j]) mind[j] = dist;
            if (!taken[j] && (best < 0 || mind[j] > mind[best])) best = j;
        }
        pick = best;
    }
    if (!st) vtc_sort_i32(idx, k);
    free(sim);
    free(nn);
    free(mind);
    free(row);
    free(taken);
    return st;
}

static int run_divprune(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    int32_t dim;
    int space;
    const float *rows = vtc_prune_rows(f, VTC_SPACE_EMBEDS, &dim, &space);
    const int32_t k = (int32_t)in->keep, hw = f->H * f->W;
    const int per_frame = in->p->v[0] != 0 && f->T > 1;
    int32_t *idx = vtc_alloc((size_t)k, sizeof *idx);
    float *xn = vtc_normalized_rows(rows, f->n, dim);
    int st = (!idx || !xn) ? VTC_ERR_NOMEM : VTC_OK;
    vtc_blas_single_thread();
    if (!st && per_frame) {
        int32_t done = 0;
        for (int32_t t = 0; t < f->T && !st; t++) {
            int32_t kt = k / f->T + (t < k % f->T ? 1 : 0); // <= hw, since k <= T * hw
            if (kt == 0) break;                              // k < T: the later frames keep none
            st = divprune_select(xn + (size_t)t * hw * dim, hw, dim, kt, in->n_threads, idx + done);
            for (int32_t i = 0; i < kt; i++) idx[done + i] += t * hw;
            done += kt;
        }
    } else if (!st) {
        st = divprune_select(xn, f->n, dim, k, in->n_threads, idx);
    }
    if (!st) st = vtc_tokens_gather(f, rows, dim, space, idx, k, out);
    if (!st && per_frame && k % f->T)
        snprintf((*out)->note, sizeof (*out)->note, "per frame: %d tokens in each of the first %d frames, %d in the other %d",
                 k / f->T + 1, k % f->T, k / f->T, f->T - k % f->T);
    else if (!st && per_frame)
        snprintf((*out)->note, sizeof (*out)->note, "per frame: %d tokens in each of the %d frames", k / f->T, f->T);
    free(idx);
    free(xn);
    return st;
}

const struct vtc_method vtc_method_divprune = {
    "divprune", "DivPrune: greedy max-min diversity (1 - cosine) on post-projector embeddings, most isolated first",
    VTC_F_FEATURES, VTC_F_EMBEDS, VTC_SPACE_EMBEDS, PARAMS, 1, run_divprune,
};
