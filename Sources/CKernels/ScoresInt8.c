// The int8 attention's scores (CKernels.h, AttentionInt8.swift) with AVX-512: one pass
// that turns the int32 products of u8 queries and s8 keys into fp32 scores and adds
// SAM's decomposed relative positions, in place. The arithmetic, lane by lane, is the
// Swift reference's (`Int8Attention.naiveScores`): colScale · (rowScale · acc +
// rowMin · colSum) + (relH + relW).
#include "CKernels.h"
#include <immintrin.h>

#define RS_AVX512F __attribute__((target("avx512f")))

int rs_scores_int8_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

RS_AVX512F static inline __m512 score16(const int32_t *a, const float *cs, const float *csum, __m512 rs, __m512 rm, __mmask16 k) {
    __m512 acc = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, a));
    __m512 t = _mm512_fmadd_ps(rm, _mm512_maskz_loadu_ps(k, csum), _mm512_mul_ps(rs, acc));
    return _mm512_mul_ps(_mm512_maskz_loadu_ps(k, cs), t);
}

RS_AVX512F void rs_scores_int8(const int32_t *acc, long rows, long cols, const float *row_scales, const float *row_mins,
                               const float *col_scales, const float *col_sums, const float *rel_h, const float *rel_w,
                               long side, float *out) {
    for (long r = 0; r < rows; r++) {
        const int32_t *a = acc + r * cols;
        float *o = out + r * cols;
        const __m512 rs = _mm512_set1_ps(row_scales[r]), rm = _mm512_set1_ps(row_mins[r]);
        if (!rel_h) {
            for (long j = 0; j < cols; j += 16) {
                const long n = cols - j < 16 ? cols - j : 16;
                const __mmask16 k = (__mmask16)((1u << n) - 1);
                _mm512_mask_storeu_ps(o + j, k, score16(a + j, col_scales + j, col_sums + j, rs, rm, k));
            }
            continue;
        }
        // cols = side * side keys, key (ky, kx) at ky * side + kx
        const float *rh = rel_h + r * side, *rw = rel_w + r * side;
        for (long ky = 0; ky < side; ky++) {
            const __m512 hv = _mm512_set1_ps(rh[ky]);
            const long base = ky * side;
            for (long kx = 0; kx < side; kx += 16) {
                const long n = side - kx < 16 ? side - kx : 16;
                const __mmask16 k = (__mmask16)((1u << n) - 1);
                const long j = base + kx;
                __m512 s = score16(a + j, col_scales + j, col_sums + j, rs, rm, k);
                s = _mm512_add_ps(s, _mm512_add_ps(hv, _mm512_maskz_loadu_ps(k, rw + kx)));
                _mm512_mask_storeu_ps(o + j, k, s);
            }
        }
    }
}
