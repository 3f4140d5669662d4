import Foundation

// The two resamplings the reference preprocessing uses, reproduced exactly:
// - PIL's Image.resize(BILINEAR) on uint8 RGB (SAM): separable triangle filter whose
//   support widens by the scale when shrinking (antialiasing), fixed-point weights with
//   22 fractional bits, horizontal pass first into a uint8 image, then vertical.
// - torch F.interpolate(mode='bilinear', align_corners=False, antialias=False) (CLIP).

/// PIL-style bilinear resize of packed RGB24 [h, w, 3] to [oh, ow, 3].
public func pilBilinearResize(_ rgb: [UInt8], width w: Int, height h: Int, toWidth ow: Int, height oh: Int) -> [UInt8] {
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
