// Kernels that need instructions the Swift targets are not compiled for (they target
// Haswell: AVX2 + FMA), each dispatched at run time by the CPU it finds. Each has a
// portable Swift version beside its caller and a naive reference it is tested against.
#ifndef REGIONSPOTD_CKERNELS_H
#define REGIONSPOTD_CKERNELS_H
#include <stdint.h>

/// 1 when this CPU runs `rs_exp_rows_bf16` (AVX-512 F/BW/VL and AVX512_BF16), else 0.
int rs_exp_rows_bf16_supported(void);

/// The softmax numerators of the bf16 attention, row by row over p [rows, cols] (row-major,
/// fp32 scores): out[r, j] = bf16(exp(p[r, j] - max_r)), rounded to nearest even;
/// inverse_sums[r] = 1 / the fp32 sum of the unrounded exps. p is only read. exp as the
/// Swift `fastExp`: 2^n 2^f, degree-6 Taylor polynomial, argument clamped to [-87, 88].
/// Call only where `rs_exp_rows_bf16_supported()` returned 1.
void rs_exp_rows_bf16(const float *p, long rows, long cols, float *inverse_sums, uint16_t *out);

/// 1 when this CPU runs `rs_scores_int8` (AVX-512 F), else 0.
int rs_scores_int8_supported(void);

/// The int8 attention's scores over a block of `rows` queries and `cols` keys, in place
/// allowed (out may be acc reinterpreted): out[r, j] = col_scales[j] · (row_scales[r] ·
/// acc[r, j] + row_mins[r] · col_sums[j]), plus rel_h[r, ky] + rel_w[r, kx] for key
/// j = ky · side + kx when rel_h is not NULL (then cols = side · side; rel_h, rel_w
/// [rows, side]). Call only where `rs_scores_int8_supported()` returned 1.
void rs_scores_int8(const int32_t *acc, long rows, long cols, const float *row_scales, const float *row_mins,
                    const float *col_scales, const float *col_sums, const float *rel_h, const float *rel_w,
                    long side, float *out);

/// `rs_scores_int8` and then `rs_exp_rows_bf16` on its scores, a row at a time: each row's
/// scores go to `row` (cols floats, the caller's), its numerators to out [rows, cols] bf16
/// and 1 / its sum to inverse_sums[r]; the same bits as the two passes. acc is only read.
/// Call only where both `rs_scores_int8_supported()` and `rs_exp_rows_bf16_supported()`
/// returned 1.
void rs_scores_softmax_int8(const int32_t *acc, long rows, long cols, const float *row_scales, const float *row_mins,
                            const float *col_scales, const float *col_sums, const float *rel_h, const float *rel_w,
                            long side, float *row, float *inverse_sums, uint16_t *out);

#endif
