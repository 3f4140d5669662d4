// FFmpeg 5.1 (Debian 12) for Swift: the headers, plus wrappers for the macros Swift
// cannot import (function-like macros, compound literals).
#pragma once
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/motion_vector.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <string.h>
#include <stdarg.h>

static inline int cffmpeg_averror(int e) { return AVERROR(e); }
static inline int cffmpeg_averror_eof(void) { return AVERROR_EOF; }
static inline int64_t cffmpeg_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline AVRational cffmpeg_time_base_q(void) { return AV_TIME_BASE_Q; }

// Decode: flag values that are macros (some with casts), and AVFrame/AVPacket field access
// that Swift imports awkwardly.
static inline int cffmpeg_flag2_export_mvs(void) { return AV_CODEC_FLAG2_EXPORT_MVS; }
static inline int cffmpeg_pkt_flag_key(void) { return AV_PKT_FLAG_KEY; }
static inline int cffmpeg_pkt_flag_corrupt(void) { return AV_PKT_FLAG_CORRUPT; }
static inline int cffmpeg_frame_flag_corrupt(void) { return AV_FRAME_FLAG_CORRUPT; }
static inline int cffmpeg_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int cffmpeg_averror_exit(void) { return AVERROR_EXIT; }
static inline int cffmpeg_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int cffmpeg_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }

/// sws_scale over an AVFrame's planes into one packed destination (RGB24), so Swift need
/// not rebind the 8-element data/linesize tuples.
static inline int cffmpeg_sws_scale_frame_to(struct SwsContext *ctx, const AVFrame *src,
                                             uint8_t *dst, int dst_stride) {
    uint8_t *dst_data[4] = { dst, NULL, NULL, NULL };
    int dst_lines[4] = { dst_stride, 0, 0, 0 };
    return sws_scale(ctx, (const uint8_t * const *)src->data, src->linesize, 0, src->height,
                     dst_data, dst_lines);
}

// Encode (VideoEncoder): flag macros, and packed RGB24 -> an AVFrame's planes.
static inline int cffmpeg_codec_flag_global_header(void) { return AV_CODEC_FLAG_GLOBAL_HEADER; }
static inline int cffmpeg_fmt_globalheader(void) { return AVFMT_GLOBALHEADER; }
static inline int cffmpeg_fmt_nofile(void) { return AVFMT_NOFILE; }
static inline int cffmpeg_avio_flag_write(void) { return AVIO_FLAG_WRITE; }

/// sws_scale from one packed source buffer (RGB24, `src_stride` bytes per row, `src_h`
/// rows) into the planes of `dst` (allocated by av_frame_get_buffer).
static inline int cffmpeg_sws_scale_packed_to_frame(struct SwsContext *ctx, const uint8_t *src,
                                                    int src_stride, int src_h, AVFrame *dst) {
    const uint8_t *src_data[4] = { src, NULL, NULL, NULL };
    int src_lines[4] = { src_stride, 0, 0, 0 };
    return sws_scale(ctx, src_data, src_lines, 0, src_h, dst->data, dst->linesize);
}

// Names the calling thread as the kernel shows it (15 bytes kept; prctl is variadic).
#include <sys/prctl.h>
static inline int cffmpeg_name_thread(const char *name) { return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
