import CFFmpeg

extension VideoFrame {
    /// The picture's Y, U and V at 1/`scale` resolution, read straight from the decoded
    /// planes (no conversion): each output pixel is the mean of the 2x2 luma patch at the
    /// top-left of its `scale` x `scale` cell (a plain copy at scale 1) and the chroma
    /// sample under it. Works for any 8-bit YUV layout FFmpeg describes (planar 4:2:0,
    /// 4:2:2, 4:4:4, NV12/NV21, full or limited range); nil for RGB, hardware or
    /// high-bit-depth pictures. Output: [height/scale][width/scale][3] bytes (Y, U, V).
    public func yuvSample(scale: Int) -> (bytes: [UInt8], width: Int, height: Int)? {
        let s = max(1, scale)
        let f = avFrame
        guard let desc = av_pix_fmt_desc_get(AVPixelFormat(f.pointee.format)),
              desc.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) == 0,
              desc.pointee.flags & UInt64(AV_PIX_FMT_FLAG_HWACCEL) == 0,
              desc.pointee.flags & UInt64(AV_PIX_FMT_FLAG_PAL) == 0,
              desc.pointee.nb_components >= 3 else { return nil }
        let comps = [desc.pointee.comp.0, desc.pointee.comp.1, desc.pointee.comp.2]
        guard comps.allSatisfy({ $0.depth == 8 && $0.shift == 0 }), comps[0].plane == 0 else { return nil }
        let planes = [f.pointee.data.0, f.pointee.data.1, f.pointee.data.2, f.pointee.data.3]
        let strides = [Int(f.pointee.linesize.0), Int(f.pointee.linesize.1), Int(f.pointee.linesize.2), Int(f.pointee.linesize.3)]
        guard comps.allSatisfy({ Int($0.plane) < 4 && planes[Int($0.plane)] != nil && strides[Int($0.plane)] > 0 }) else { return nil }
        let cw = Int(desc.pointee.log2_chroma_w), ch = Int(desc.pointee.log2_chroma_h)
        let ow = width / s, oh = height / s
        guard ow > 0, oh > 0 else { return nil }
        let y0 = planes[0]!, ys = strides[0], yStep = Int(comps[0].step), yOff = Int(comps[0].offset)
        let u = comps[1], v = comps[2]
        let up = planes[Int(u.plane)]!, us = strides[Int(u.plane)], vp = planes[Int(v.plane)]!, vs = strides[Int(v.plane)]
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        out.withUnsafeMutableBufferPointer { o in
            for y in 0..<oh {
                let sy = y * s, sy1 = s > 1 ? sy + 1 : sy
                let r0 = y0 + sy * ys, r1 = y0 + sy1 * ys
                let ur = up + (sy >> ch) * us, vr = vp + (sy >> ch) * vs
                for x in 0..<ow {
                    let sx = x * s, sx1 = s > 1 ? sx + 1 : sx
                    let a = sx * yStep + yOff, b = sx1 * yStep + yOff
                    let sum = Int(r0[a]) + Int(r0[b]) + Int(r1[a]) + Int(r1[b])
                    let k = (y * ow + x) * 3
                    o[k] = UInt8(sum >> 2)
                    o[k + 1] = ur[(sx >> cw) * Int(u.step) + Int(u.offset)]
                    o[k + 2] = vr[(sx >> cw) * Int(v.step) + Int(v.offset)]
                }
            }
        }
        return (out, ow, oh)
    }
}
