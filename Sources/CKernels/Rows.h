// Row kernels shared by the AVX-512 entry points (private to CKernels): one row of the
// int8 attention's scores (ScoresInt8.c) and one row of bf16 softmax numerators
// (ExpRowsBF16.c). The fused kernel (rs_scores_softmax_int8, ScoresInt8.c) runs both on a
// row while it is in L1, with the same instructions in the same order, so its bits are
// the two passes'.
#ifndef REGIONSPOTD_CKERNELS_ROWS_H
#define REGIONSPOTD_CKERNELS_ROWS_H
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#define RS_AVX512F __attribute__((target("avx512f")))
#define RS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

RS_AVX512F static inline __m512 rs_score16(const int32_t *a, const float *cs, const float *csum, __m512 rs, __m512 rm, __mmask16 k) {
    __m512 acc = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, a));
    __m512 t = _mm512_fmadd_ps(rm, _mm512_maskz_loadu_ps(k, csum), _mm512_mul_ps(rs, acc));
    return _mm512_mul_ps(_mm512_maskz_loadu_ps(k, cs), t);
}

// o[j] = col_scales[j] · (row_scale · a[j] + row_min · col_sums[j]) (+ rh[ky] + rw[kx] for
// j = ky · side + kx when rh is not NULL; cols = side · side then). o may be a.
RS_AVX512F static inline void rs_scores_row(const int32_t *a, long cols, float row_scale, float row_min,
                                            const float *col_scales, const float *col_sums,
                                            const float *rh, const float *rw, long side, float *o) {
    const __m512 rs = _mm512_set1_ps(row_scale), rm = _mm512_set1_ps(row_min);
    if (!rh) {
        for (long j = 0; j < cols; j += 16) {
            const long n = cols - j < 16 ? cols - j : 16;
            const __mmask16 k = (__mmask16)((1u << n) - 1);
            _mm512_mask_storeu_ps(o + j, k, rs_score16(a + j, col_scales + j, col_sums + j, rs, rm, k));
        }
        return;
    }
    for (long ky = 0; ky < side; ky++) {
        const __m512 hv = _mm512_set1_ps(rh[ky]);
        const long base = ky * side;
        for (long kx = 0; kx < side; kx += 16) {
            const long n = side - kx < 16 ? side - kx : 16;
            const __mmask16 k = (__mmask16)((1u << n) - 1);
            const long j = base + kx;
            __m512 s = rs_score16(a + j, col_scales + j, col_sums + j, rs, rm, k);
            s = _mm512_add_ps(s, _mm512_add_ps(hv, _mm512_maskz_loadu_ps(k, rw + kx)));
            _mm512_mask_storeu_ps(o + j, k, s);
        }
    }
}

// e^x for 16 lanes: x clamped to [-87, 88], t = x log2(e), n = t rounded to nearest even,
// f = (t - n) ln 2 in [-0.347, 0.347], e^f by its degree-6 Taylor polynomial, times 2^n
// (vscalefps: exact, as a multiply by 2^n built in the exponent bits, which the clamp keeps
// normal). The clamp keeps a NaN (vmaxps / vminps return their second operand when either
// is NaN), so a NaN score makes its row's sum NaN instead of becoming e^-87.
RS_AVX512 static inline __m512 rs_exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(88.f), _mm512_max_ps(_mm512_set1_ps(-87.f), x));
    __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_mul_ps(_mm512_sub_ps(t, n), _mm512_set1_ps(0.693147180559945309f));
    __m512 p = _mm512_set1_ps(1.f / 720);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f / 120));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f / 24));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f / 6));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
    return _mm512_scalef_ps(p, n);
}

// o[j] = bf16(exp(row[j] - max)) rounded to nearest even; returns 1 / the fp32 sum of the
// unrounded exps. row is only read.
RS_AVX512 static inline float rs_exp_row_bf16(const float *row, long cols, uint16_t *o) {
    const long whole = cols & ~15L;
    const __mmask16 tail = (__mmask16)((1u << (cols - whole)) - 1);
    // max over the row: two running maxima, then the tail's lanes (masked, -inf elsewhere)
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
    long j = 0;
    for (; j + 32 <= whole; j += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(row + j));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(row + j + 16));
    }
    for (; j < whole; j += 16) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(row + j));
    if (tail) m1 = _mm512_max_ps(m1, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail, row + whole));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(m0, m1)));
    // exp, sum (two accumulators, the tail's lanes added under its mask) and bf16 out
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    for (j = 0; j + 32 <= whole; j += 32) {
        __m512 e0 = rs_exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j), m));
        __m512 e1 = rs_exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j + 16), m));
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
        _mm256_storeu_si256((__m256i *)(o + j), (__m256i)_mm512_cvtneps_pbh(e0));
        _mm256_storeu_si256((__m256i *)(o + j + 16), (__m256i)_mm512_cvtneps_pbh(e1));
    }
    for (; j < whole; j += 16) {
        __m512 e = rs_exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j), m));
        s0 = _mm512_add_ps(s0, e);
        _mm256_storeu_si256((__m256i *)(o + j), (__m256i)_mm512_cvtneps_pbh(e));
    }
    if (tail) {
        __m512 e = rs_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, row + whole), m));
        s1 = _mm512_mask_add_ps(s1, tail, s1, e);
        _mm256_mask_storeu_epi16(o + whole, tail, (__m256i)_mm512_cvtneps_pbh(e));
    }
    return 1.f / _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

#endif
