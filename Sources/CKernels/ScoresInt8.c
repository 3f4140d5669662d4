// The int8 attention's scores (CKernels.h, AttentionInt8.swift) with AVX-512: one pass
// that turns the int32 products of u8 queries and s8 keys into fp32 scores and adds
// SAM's decomposed relative positions, in place. The arithmetic, lane by lane, is the
// Swift reference's (`Int8Attention.naiveScores`): colScale · (rowScale · acc +
// rowMin · colSum) + (relH + relW). The row itself: Rows.h.
#include "CKernels.h"
#include "Rows.h"

int rs_scores_int8_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

RS_AVX512F void rs_scores_int8(const int32_t *acc, long rows, long cols, const float *row_scales, const float *row_mins,
                               const float *col_scales, const float *col_sums, const float *rel_h, const float *rel_w,
                               long side, float *out) {
    for (long r = 0; r < rows; r++) {
        rs_scores_row(acc + r * cols, cols, row_scales[r], row_mins[r], col_scales, col_sums,
                      rel_h ? rel_h + r * side : 0, rel_h ? rel_w + r * side : 0, side, out + r * cols);
    }
}

// Both passes a row at a time: the row's scores go to `row` (cols floats, stays in L1)
// and from there to its numerators, instead of a [rows, cols] block of fp32 scores
// written to memory and read twice more (max, then exp). Same instructions, same bits.
RS_AVX512 void rs_scores_softmax_int8(const int32_t *acc, long rows, long cols, const float *row_scales, const float *row_mins,
                                      const float *col_scales, const float *col_sums, const float *rel_h, const float *rel_w,
                                      long side, float *row, float *inverse_sums, uint16_t *out) {
    for (long r = 0; r < rows; r++) {
        rs_scores_row(acc + r * cols, cols, row_scales[r], row_mins[r], col_scales, col_sums,
                      rel_h ? rel_h + r * side : 0, rel_h ? rel_w + r * side : 0, side, row);
        inverse_sums[r] = rs_exp_row_bf16(row, cols, out + r * cols);
    }
}
