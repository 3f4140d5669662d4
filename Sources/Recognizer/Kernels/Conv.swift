import Foundation

// Convolutions as GEMMs. Feature maps inside the engine are channels-last ([H*W, C]),
// images entering patch embedding are channels-first ([C, H, W]). Weights keep torch's
// layouts: Conv2d [Cout, Cin, kh, kw], ConvTranspose2d [Cin, Cout, kh, kw].

/// Non-overlapping patch embedding (Conv2d with kernel = stride = p, no padding).
/// image [C, H, W] -> [(H/p)*(W/p), Cout].
public func patchEmbed(_ image: Tensor, weight: Tensor, bias: Tensor?, patch p: Int) -> Tensor {
    let cout = weight.shape[0], kdim = image.shape[0] * p * p
    precondition(weight.count == cout * kdim, "patchEmbed: weight \(weight.shape) vs \(image.shape[0])x\(p)x\(p)")
    return linear(patchColumns(image, patch: p), weight.reshaped([cout, kdim]), bias)
}

/// The patch embedding's im2col: image [C, H, W] -> cols [(H/p)*(W/p), C*p*p], index
/// c*p*p + ky*p + kx as in the flattened torch weight.
public func patchColumns(_ image: Tensor, patch p: Int) -> Tensor {
    let c = image.shape[0], h = image.shape[1], w = image.shape[2]
    let gh = h / p, gw = w / p, kdim = c * p * p
    var cols = [Float](repeating: 0, count: gh * gw * kdim)
    image.data.withUnsafeBufferPointer { src in
        cols.withUnsafeMutableBufferPointer { dst in
            Parallel.forRanges(gh, grain: 1) { rows in
                for gy in rows {
                    for gx in 0..<gw {
                        let row = dst.baseAddress! + (gy * gw + gx) * kdim
                        for ch in 0..<c {
                            for ky in 0..<p {
                                let s = src.baseAddress! + ch * h * w + (gy * p + ky) * w + gx * p
                                (row + ch * p * p + ky * p).update(from: s, count: p)
                            }
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: [gh * gw, kdim], data: cols)
}

/// 3x3 convolution, stride 1, zero padding 1, on a channels-last map [H*W, Cin].
public func conv3x3(_ x: Tensor, height h: Int, width w: Int, weight: Tensor, bias: Tensor?) -> Tensor {
    let cin = x.shape.last!, cout = weight.shape[0]
    return linear(conv3x3Columns(x, height: h, width: w), weight.reshaped([cout, cin * 9]), bias)
}

/// The 3x3 convolution's im2col: [H*W, Cin] -> cols [H*W, Cin*9], index ch*9 + ky*3 + kx
/// as in the flattened torch weight, zero outside the map.
public func conv3x3Columns(_ x: Tensor, height h: Int, width w: Int) -> Tensor {
    let cin = x.shape.last!, kdim = cin * 9
    var cols = [Float](repeating: 0, count: h * w * kdim)
    x.data.withUnsafeBufferPointer { src in
        cols.withUnsafeMutableBufferPointer { dst in
            Parallel.forRanges(h, grain: 1) { rows in
                for y in rows {
                    for xx in 0..<w {
                        let row = dst.baseAddress! + (y * w + xx) * kdim
                        for ky in 0..<3 {
                            let sy = y + ky - 1
                            if sy < 0 || sy >= h { continue }
                            for kx in 0..<3 {
                                let sx = xx + kx - 1
                                if sx < 0 || sx >= w { continue }
                                let s = src.baseAddress! + (sy * w + sx) * cin
                                for ch in 0..<cin { row[ch * 9 + ky * 3 + kx] = s[ch] }
                            }
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: [h * w, kdim], data: cols)
}

/// ConvTranspose2d(kernel 2, stride 2) on channels-last [H*W, Cin] -> [(2H)*(2W), Cout].
/// One GEMM [HW, Cin] x [Cin, Cout*4] (in bf16 with `bf16`: GemmBF16), then each input
/// pixel scatters a 2x2 patch.
public func convTranspose2x2(_ x: Tensor, height h: Int, width w: Int, weight: Tensor, bias: Tensor?, bf16: Bool = false) -> Tensor {
    let cin = x.shape.last!, cout = weight.shape[1]
    precondition(weight.shape == [cin, cout, 2, 2], "convTranspose2x2: weight \(weight.shape) for Cin \(cin)")
    var tmp = [Float](repeating: 0, count: h * w * cout * 4)
    x.data.withUnsafeBufferPointer { xp in
        weight.data.withUnsafeBufferPointer { wp in
            tmp.withUnsafeMutableBufferPointer { tp in
                GemmBF16.product(bf16: bf16, m: h * w, n: cout * 4, k: cin, a: xp.baseAddress!, lda: cin, b: wp.baseAddress!, ldb: cout * 4,
                                 c: tp.baseAddress!, ldc: cout * 4)
            }
        }
    }
    let ow = 2 * w
    var out = [Float](repeating: 0, count: 4 * h * w * cout)
    for y in 0..<h {
        for xx in 0..<w {
            let t = (y * w + xx) * cout * 4
            for co in 0..<cout {
                for ky in 0..<2 {
                    for kx in 0..<2 {
                        out[((2 * y + ky) * ow + 2 * xx + kx) * cout + co] = tmp[t + co * 4 + ky * 2 + kx] + (bias?.data[co] ?? 0)
                    }
                }
            }
        }
    }
    return Tensor(shape: [4 * h * w, cout], data: out)
}

/// Naive reference: direct convolution on a channels-first image [Cin, H, W] with any
/// square kernel, stride and zero padding -> channels-last [Ho*Wo, Cout].
public func naiveConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
    let cin = x.shape[0], h = x.shape[1], w = x.shape[2]
    let cout = weight.shape[0], k = weight.shape[2]
    let ho = (h + 2 * padding - k) / stride + 1, wo = (w + 2 * padding - k) / stride + 1
    var out = [Float](repeating: 0, count: ho * wo * cout)
    for oy in 0..<ho { for ox in 0..<wo { for co in 0..<cout {
        var s = Double(bias?.data[co] ?? 0)
        for ci in 0..<cin { for ky in 0..<k { for kx in 0..<k {
            let iy = oy * stride + ky - padding, ix = ox * stride + kx - padding
            if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
            s += Double(x.data[(ci * h + iy) * w + ix]) * Double(weight.data[((co * cin + ci) * k + ky) * k + kx])
        } } }
        out[(oy * wo + ox) * cout + co] = Float(s)
    } } }
    return Tensor(shape: [ho * wo, cout], data: out)
}

/// Naive reference for ConvTranspose2d(k=2, s=2) on channels-first input [Cin, H, W].
public func naiveConvTranspose2x2(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let cin = x.shape[0], h = x.shape[1], w = x.shape[2], cout = weight.shape[1]
    var out = [Float](repeating: 0, count: 4 * h * w * cout)
    for oy in 0..<(2 * h) { for ox in 0..<(2 * w) { for co in 0..<cout {
        var s = Double(bias?.data[co] ?? 0)
        let iy = oy / 2, ix = ox / 2, ky = oy % 2, kx = ox % 2
        for ci in 0..<cin { s += Double(x.data[(ci * h + iy) * w + ix]) * Double(weight.data[((ci * cout + co) * 2 + ky) * 2 + kx]) }
        out[(oy * 2 * w + ox) * cout + co] = Float(s)
    } } }
    return Tensor(shape: [4 * h * w, cout], data: out)
}

extension Tensor {
    /// Channels-first [C, H, W] <-> channels-last [H*W, C].
    public func channelsLast() -> Tensor {
        let c = shape[0], hw = count / c
        return reshaped([c, hw]).transposed2D()
    }
}
