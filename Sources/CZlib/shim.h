// zlib (Debian 12: zlib1g-dev). Used to inflate OpenAI's gzip-compressed BPE merges file.
// inflateInit2 is a macro, so it gets a prefixed inline wrapper Swift can call.
#pragma once
#include <zlib.h>

/// inflateInit2 with windowBits 15 + 32: accept a zlib or gzip header (detected).
static inline int czlib_inflate_init_auto(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}
