import Foundation

// The two resamplings the reference preprocessing uses, reproduced exactly:
// - PIL's Image.resize(BILINEAR) on uint8 RGB (SAM): separable triangle filter whose
//   support widens by the scale when shrinking (antialiasing), fixed-point weights with
//   22 fractional bits, horizontal pass first into a uint8 image, then vertical.
// - torch F.interpolate(mode='bilinear', align_corners=False, antialias=False) (CLIP).

/// PIL-style bilinear resize of packed RGB24 [h, w, 3] to [oh, ow, 3]: the weights flat,
/// the horizontal pass split by rows and the vertical one by output rows (whole rows at
/// a time) across the recognizer's workers; bit-equal to `pilBilinearResizeReference`.
/// (The naive form cost a BB keyframe ~28 ms on one core: 1.7 s of a vtest.avi replay.)
public func pilBilinearResize(_ rgb: [UInt8], width w: Int, height h: Int, toWidth ow: Int, height oh: Int) -> [UInt8] {
    var img = rgb, cw = w
    if ow != w {
        img = pilHorizontal(img, rows: h, inWidth: w, outWidth: ow)
        cw = ow
    }
    if oh != h {
        img = pilVertical(img, rowBytes: cw * 3, inHeight: h, outHeight: oh)
    }
    return img
}

/// The same resize, one pixel and channel at a time: the reference the fast one is
/// tested against.
func pilBilinearResizeReference(_ rgb: [UInt8], width w: Int, height h: Int, toWidth ow: Int, height oh: Int) -> [UInt8] {
    var img = rgb, cw = w
    if ow != w {
        img = pilPass(img, lines: h, inSize: w, outSize: ow, horizontal: true, channels: 3)
        cw = ow
    }
    if oh != h {
        img = pilPass(img, lines: cw, inSize: h, outSize: oh, horizontal: false, channels: 3)
    }
    return img
}

/// pilCoefficients flattened: tap start, tap count and `stride` weights per output.
private struct PILTaps {
    var start: [Int], count: [Int], weights: [Int32]
    let stride: Int
    init(inSize: Int, outSize: Int) {
        let (bounds, w) = pilCoefficients(inSize: inSize, outSize: outSize)
        stride = max(1, w.map(\.count).max() ?? 1)
        start = bounds.map(\.0); count = bounds.map(\.1)
        weights = [Int32](repeating: 0, count: outSize * stride)
        for (o, k) in w.enumerated() { for (i, v) in k.enumerated() { weights[o * stride + i] = v } }
    }
}

/// Fixed-point sum (with PIL's rounding half) -> uint8, as PIL's clip8.
@inline(__always) private func pilClip(_ ss: Int64) -> UInt8 {
    ss >= Int64(1) << (pilPrecisionBits + 8) ? 255 : (ss <= 0 ? 0 : UInt8(truncatingIfNeeded: ss >> Int64(pilPrecisionBits)))
}

/// [rows, inWidth, 3] -> [rows, outWidth, 3].
private func pilHorizontal(_ src: [UInt8], rows: Int, inWidth: Int, outWidth: Int) -> [UInt8] {
    let taps = PILTaps(inSize: inWidth, outSize: outWidth)
    var out = [UInt8](repeating: 0, count: rows * outWidth * 3)
    let half = Int64(1) << (pilPrecisionBits - 1)
    src.withUnsafeBufferPointer { sp in out.withUnsafeMutableBufferPointer { op in
        taps.weights.withUnsafeBufferPointer { wp in taps.start.withUnsafeBufferPointer { st in taps.count.withUnsafeBufferPointer { ct in
            let s = sp.baseAddress!, o = op.baseAddress!, wt = wp.baseAddress!
            Parallel.forRanges(rows, grain: 32) { range in
                for y in range {
                    let row = s + y * inWidth * 3, dst = o + y * outWidth * 3
                    for x in 0..<outWidth {
                        let k = wt + x * taps.stride, first = row + st[x] * 3
                        var r = half, g = half, b = half
                        for i in 0..<ct[x] {
                            let p = first + i * 3, wi = Int64(k[i])
                            r += Int64(p[0]) * wi; g += Int64(p[1]) * wi; b += Int64(p[2]) * wi
                        }
                        dst[x * 3] = pilClip(r); dst[x * 3 + 1] = pilClip(g); dst[x * 3 + 2] = pilClip(b)
                    }
                }
            }
        } } }
    } }
    return out
}

/// [inHeight, rowBytes] -> [outHeight, rowBytes]: each output row a weighted sum of whole
/// input rows.
private func pilVertical(_ src: [UInt8], rowBytes: Int, inHeight: Int, outHeight: Int) -> [UInt8] {
    let taps = PILTaps(inSize: inHeight, outSize: outHeight)
    var out = [UInt8](repeating: 0, count: outHeight * rowBytes)
    let half = Int64(1) << (pilPrecisionBits - 1)
    src.withUnsafeBufferPointer { sp in out.withUnsafeMutableBufferPointer { op in
        taps.weights.withUnsafeBufferPointer { wp in taps.start.withUnsafeBufferPointer { st in taps.count.withUnsafeBufferPointer { ct in
            let s = sp.baseAddress!, o = op.baseAddress!, wt = wp.baseAddress!
            Parallel.forRanges(outHeight, grain: 32) { range in
                let acc = UnsafeMutablePointer<Int64>.allocate(capacity: rowBytes)
                defer { acc.deallocate() }
                for y in range {
                    acc.initialize(repeating: half, count: rowBytes)
                    let k = wt + y * taps.stride
                    for i in 0..<ct[y] {
                        let row = s + (st[y] + i) * rowBytes, wi = Int64(k[i])
                        for j in 0..<rowBytes { acc[j] += Int64(row[j]) * wi }
                    }
                    let dst = o + y * rowBytes
                    for j in 0..<rowBytes { dst[j] = pilClip(acc[j]) }
                }
            }
        } } }
    } }
    return out
}

private let pilPrecisionBits = 32 - 8 - 2

/// PIL's precompute_coeffs for the bilinear (triangle, support 1) filter, as fixed point.
func pilCoefficients(inSize: Int, outSize: Int) -> (bounds: [(Int, Int)], weights: [[Int32]]) {
    let scale = Double(inSize) / Double(outSize)
    let filterScale = max(scale, 1.0)
    let support = 1.0 * filterScale
    var bounds: [(Int, Int)] = []
    var weights: [[Int32]] = []
    for xx in 0..<outSize {
        let center = (Double(xx) + 0.5) * scale
        let ss = 1.0 / filterScale
        var xmin = Int(center - support + 0.5)
        if xmin < 0 { xmin = 0 }
        var xmax = Int(center + support + 0.5)
        if xmax > inSize { xmax = inSize }
        xmax -= xmin
        var k = [Double](repeating: 0, count: xmax)
        var ww = 0.0
        for x in 0..<xmax {
            let t = abs((Double(x + xmin) - center + 0.5) * ss)
            let v = t < 1 ? 1 - t : 0
            k[x] = v
            ww += v
        }
        let fixed: [Int32] = k.map { v in
            let n = ww != 0 ? v / ww : v
            return n < 0 ? Int32(-0.5 + n * Double(1 << pilPrecisionBits)) : Int32(0.5 + n * Double(1 << pilPrecisionBits))
        }
        bounds.append((xmin, xmax))
        weights.append(fixed)
    }
    return (bounds, weights)
}

private func pilPass(_ src: [UInt8], lines: Int, inSize: Int, outSize: Int, horizontal: Bool, channels: Int) -> [UInt8] {
    let (bounds, weights) = pilCoefficients(inSize: inSize, outSize: outSize)
    var out = [UInt8](repeating: 0, count: lines * outSize * channels)
    let half = Int64(1) << (pilPrecisionBits - 1)
    let maxValue = Int64(1) << (pilPrecisionBits + 8)
    for line in 0..<lines {
        for o in 0..<outSize {
            let (xmin, n) = bounds[o]
            let k = weights[o]
            for ch in 0..<channels {
                var ss = half
                for x in 0..<n {
                    let idx = horizontal ? (line * inSize + xmin + x) * channels + ch : ((xmin + x) * lines + line) * channels + ch
                    ss += Int64(src[idx]) * Int64(k[x])
                }
                let v: UInt8 = ss >= maxValue ? 255 : (ss <= 0 ? 0 : UInt8(ss >> Int64(pilPrecisionBits)))
                let oi = horizontal ? (line * outSize + o) * channels + ch : (o * lines + line) * channels + ch
                out[oi] = v
            }
        }
    }
    return out
}

/// torch-style bilinear (align_corners=False) of a channels-first float image
/// [C, h, w] -> [C, oh, ow].
public func torchBilinearResize(_ x: Tensor, toHeight oh: Int, width ow: Int) -> Tensor {
    let c = x.shape[0], h = x.shape[1], w = x.shape[2]
    func taps(_ inSize: Int, _ outSize: Int) -> [(Int, Int, Float)] {
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { o in
            var src = (Float(o) + 0.5) * scale - 0.5
            if src < 0 { src = 0 }
            let i0 = min(Int(src), inSize - 1)
            let i1 = min(i0 + 1, inSize - 1)
            return (i0, i1, src - Float(i0))
        }
    }
    let ty = taps(h, oh), tx = taps(w, ow)
    var out = [Float](repeating: 0, count: c * oh * ow)
    for ch in 0..<c {
        let base = ch * h * w
        for oy in 0..<oh {
            let (y0, y1, ly) = ty[oy]
            for ox in 0..<ow {
                let (x0, x1, lx) = tx[ox]
                let a = x.data[base + y0 * w + x0], b = x.data[base + y0 * w + x1]
                let cc = x.data[base + y1 * w + x0], d = x.data[base + y1 * w + x1]
                out[(ch * oh + oy) * ow + ox] = (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * cc + lx * d)
            }
        }
    }
    return Tensor(shape: [c, oh, ow], data: out)
}

/// torch-style bicubic (align_corners=False, A = -0.75, border clamped, no antialias) of
/// a channels-first float image [C, h, w] -> [C, oh, ow]. Used for CLIP position
/// embeddings at another input size (as RegionSpot's build_model resizes them).
public func torchBicubicResize(_ x: Tensor, toHeight oh: Int, width ow: Int) -> Tensor {
    let c = x.shape[0], h = x.shape[1], w = x.shape[2]
    func weights(_ t: Float) -> [Float] {
        let a: Float = -0.75
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return [far(t + 1), near(t), near(1 - t), far(2 - t)]
    }
    func taps(_ inSize: Int, _ outSize: Int) -> [(Int, [Float])] {
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { o in
            let src = (Float(o) + 0.5) * scale - 0.5
            let i = Int(src.rounded(.down))
            return (i, weights(src - Float(i)))
        }
    }
    let ty = taps(h, oh), tx = taps(w, ow)
    var out = [Float](repeating: 0, count: c * oh * ow)
    for ch in 0..<c {
        for oy in 0..<oh {
            let (y, wy) = ty[oy]
            for ox in 0..<ow {
                let (xx, wx) = tx[ox]
                var s: Float = 0
                for i in 0..<4 {
                    let yy = min(max(y - 1 + i, 0), h - 1)
                    var r: Float = 0
                    for j in 0..<4 {
                        let xj = min(max(xx - 1 + j, 0), w - 1)
                        r += wx[j] * x.data[(ch * h + yy) * w + xj]
                    }
                    s += wy[i] * r
                }
                out[(ch * oh + oy) * ow + ox] = s
            }
        }
    }
    return Tensor(shape: [c, oh, ow], data: out)
}
