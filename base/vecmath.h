// Vectorised element-wise math for the encoder's hot loops: exp (Cephes-style
// range reduction + degree-6 polynomial, ~2 ulp over the float range), softmax
// rows and the sigmoid-based activations. AVX2+FMA when compiled for it
// (-march=x86-64-v3, the default build), a scalar loop otherwise. Also the
// scalar softmax of llama2.c's run.c, which lm/ must reproduce bit for bit.
#ifndef VTC_VECMATH_H
#define VTC_VECMATH_H

#include <math.h>
#include <stddef.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

// e^x for 8 floats; inputs below -87.3 flush to 0, above 88.7 saturate to +inf.
static inline __m256 vtc_exp8(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365478515625f);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    // x = n ln2 + r, |r| <= ln2/2
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 r2 = _mm256_mul_ps(r, r);
    p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline float vtc_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static inline float vtc_hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#endif

// In-place softmax of one row of n floats.
static inline void vtc_softmax_row(float *r, int n) {
    int i = 0;
    float mx = r[0], sum = 0;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 vmx = _mm256_set1_ps(r[0]);
    for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(r + i));
    mx = vtc_hmax8(vmx);
    for (; i < n; i++) mx = r[i] > mx ? r[i] : mx;
    __m256 vs = _mm256_setzero_ps(), vm = _mm256_set1_ps(mx);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = vtc_exp8(_mm256_sub_ps(_mm256_loadu_ps(r + i), vm));
        _mm256_storeu_ps(r + i, e);
        vs = _mm256_add_ps(vs, e);
    }
    sum = vtc_hsum8(vs);
#else
    for (int k = 1; k < n; k++) mx = r[k] > mx ? r[k] : mx;
#endif
    for (; i < n; i++) {
        r[i] = expf(r[i] - mx);
        sum += r[i];
    }
    float inv = 1.0f / sum;
    i = 0;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 vi = _mm256_set1_ps(inv);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(r + i, _mm256_mul_ps(_mm256_loadu_ps(r + i), vi));
#endif
    for (; i < n; i++) r[i] *= inv;
}

// In-place softmax of x[n] exactly as llama2.c's run.c computes it: the max,
// then libm expf of each x - max summed in float in index order, then each
// value divided by the sum. lm/ (attention and the sampler) uses this one: its
// outputs must match run.c's bit for bit, and vtc_softmax_row's polynomial exp,
// 8-lane sums and multiplication by 1/sum give other floats.
static inline void vtc_softmax_scalar(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

// x * sigmoid(a * x) in place: quick_gelu with a = 1.702.
static inline void vtc_x_sigmoid_ax(float *x, size_t n, float a) {
    size_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
    const __m256 va = _mm256_set1_ps(-a), one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = vtc_exp8(_mm256_mul_ps(va, v));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
    }
    // The tail through the same lanes: an element's result must not depend on
    // where a caller's chunk boundary falls (threads split the array anywhere).
    if (i < n) {
        float tail[8] = { 0 };
        for (size_t k = i; k < n; k++) tail[k - i] = x[k];
        __m256 v = _mm256_loadu_ps(tail);
        _mm256_storeu_ps(tail, _mm256_div_ps(v, _mm256_add_ps(one, vtc_exp8(_mm256_mul_ps(va, v)))));
        for (size_t k = i; k < n; k++) x[k] = tail[k - i];
        i = n;
    }
#endif
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-a * x[i]));
}

#endif
