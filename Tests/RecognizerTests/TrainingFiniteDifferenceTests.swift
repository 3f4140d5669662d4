import Foundation
import Testing
@testable import Recognizer

/// Every backward pass against central finite differences of its own forward pass, in
/// Swift alone: L = Σ gy ⊙ f(inputs); dL/dθ_i ≈ (L(θ + h e_i) - L(θ - h e_i)) / 2h at
/// sampled coordinates, within 2% of the tensor's largest gradient.
@Suite("Training: backward passes vs finite differences")
struct TrainingFiniteDifferenceTests {
    let f: SafeTensors
    init() throws { f = try Fixtures.open("training_grads.safetensors") }
    func t(_ n: String) throws -> Tensor { try f.tensor(n) }

    /// Compares `analytic` with finite differences of `loss` at up to `samples` coordinates.
    func check(_ what: String, _ x: Tensor, _ analytic: Tensor, h: Float = 1e-2, samples: Int = 12, tol: Double = 2e-2,
               sourceLocation: SourceLocation = #_sourceLocation, _ loss: (Tensor) -> Double) {
        // every gradient finite: the largest-gradient scale below and min/max skip NaN
        #expect(analytic.data.allSatisfy { $0.isFinite }, "\(what): non-finite analytic gradient", sourceLocation: sourceLocation)
        let scale = Double(analytic.data.map(abs).max() ?? 0) + 1e-4
        var rng = SplitMix64(seed: UInt64(what.utf8.count))
        var worst = 0.0
        for s in 0..<min(samples, x.count) {
            let i = samples >= x.count ? s : Int(rng.next() % UInt64(x.count))
            // two step sizes: a ReLU kink inside one interval spoils only that estimate
            var err = Double.infinity
            for hh in [h, h / 4] {
                var p = x, m = x
                p.data[i] += hh; m.data[i] -= hh
                let fd = (loss(p) - loss(m)) / (2 * Double(hh))
                let e = abs(fd - Double(analytic.data[i])) / scale
                // a NaN loss is a failure, not an estimate to skip (min(err, .nan) is err)
                err = e.isNaN ? .infinity : min(err, e)
                if e.isNaN { break }
            }
            worst = max(worst, err)
        }
        #expect(worst <= tol, "\(what): finite differences off by \(worst) of the largest gradient", sourceLocation: sourceLocation)
    }

    @Test("linear and LayerNorm")
    func linearAndNorm() throws {
        let x = try t("linear.x"), w = try t("linear.w"), b = try t("linear.b"), gy = try t("linear.gy")
        var dW = Tensor(zeros: w.shape), dB = Tensor(zeros: b.shape)
        let dx = LinearGrad.backward(x: x, w: w, dy: gy, dW: &dW, dB: &dB)!
        check("linear x", x, dx) { linear($0, w, b).dot(gy) }
        check("linear W", w, dW) { linear(x, $0, b).dot(gy) }
        check("linear b", b, dB) { linear(x, w, $0).dot(gy) }
        let lx = try t("layernorm.x"), lw = try t("layernorm.w"), lb = try t("layernorm.b"), lg = try t("layernorm.gy")
        var dG = Tensor(zeros: lw.shape), dLB = Tensor(zeros: lb.shape)
        let ldx = LayerNormGrad.backward(LayerNormGrad.forward(lx, lw, lb).cache, g: lw, dy: lg, dG: &dG, dB: &dLB)
        check("layernorm x", lx, ldx, samples: 32) { LayerNormGrad.forward($0, lw, lb).y.dot(lg) }
        check("layernorm weight", lw, dG) { LayerNormGrad.forward(lx, $0, lb).y.dot(lg) }
        check("layernorm bias", lb, dLB) { LayerNormGrad.forward(lx, lw, $0).y.dot(lg) }
    }

    @Test("attention: inputs, memory and all four weights", arguments: ["self_attn", "cross_attn"])
    func attention(_ kind: String) throws {
        let w = AttentionWeights(inW: try t(kind + ".in_w"), inB: try t(kind + ".in_b"), outW: try t(kind + ".out_w"), outB: try t(kind + ".out_b"))
        let x = try t(kind + ".x"), gy = try t(kind + ".gy"), isSelf = kind == "self_attn"
        let mem = isSelf ? x : try t(kind + ".mem")
        let segs = isSelf ? TrainingGradientTests.selfSegments : TrainingGradientTests.crossSegments
        func y(_ x: Tensor, _ m: Tensor, _ w: AttentionWeights) -> Double { AttentionGrad.forward(xq: x, xkv: m, w, heads: 4, segments: segs).y.dot(gy) }
        var g = AttentionGradients(d: 16)
        let (dxq, dxkv) = AttentionGrad.backward(AttentionGrad.forward(xq: x, xkv: mem, w, heads: 4, segments: segs).cache, w, dy: gy, grads: &g, heads: 4, segments: segs, needKV: true)
        if isSelf {
            check("self x", x, dxq + dxkv!, samples: 24) { y($0, $0, w) }
        } else {
            check("cross x", x, dxq, samples: 24) { y($0, mem, w) }
            check("cross memory", mem, dxkv!, samples: 24) { y(x, $0, w) }
        }
        check(kind + " in_proj_weight", w.inW, g.inW, samples: 24) { var v = w; v.inW = $0; return y(x, mem, v) }
        check(kind + " in_proj_bias", w.inB, g.inB, samples: 24) { var v = w; v.inB = $0; return y(x, mem, v) }
        check(kind + " out_proj.weight", w.outW, g.outW) { var v = w; v.outW = $0; return y(x, mem, v) }
        check(kind + " out_proj.bias", w.outB, g.outB) { var v = w; v.outB = $0; return y(x, mem, v) }
    }

    @Test("normalization, cosine logits, focal loss")
    func scores() throws {
        let e = try t("normalize.e"), ge = try t("normalize.gy")
        check("normalize", e, CosineLogitsGrad.normalizeBackward(e, du: ge), h: 1e-3, samples: 32) { CosineLogitsGrad.normalize($0).dot(ge) }
        let u = try t("logits.u"), text = try t("logits.text"), gl = try t("logits.gy")
        check("logits", u, CosineLogitsGrad.logitsBackward(dLogits: gl, text: text, scale: 100), h: 1e-3, samples: 32) { CosineLogitsGrad.logits($0, text: text, scale: 100).dot(gl) }
        let x = try t("focal.x"), tg = try f.integers("focal.targets")
        check("focal", x, FocalLoss()(logits: x, targets: tg).grad, h: 1e-2, samples: 20) { FocalLoss()(logits: $0, targets: tg).loss }
    }

    @Test("whole head: sampled coordinates of every parameter tensor")
    func head() throws {
        var tensors: [String: Tensor] = [:]
        for n in HeadParameters.names(layers: 3) { tensors[n] = try t("head.param." + n) }
        let p = HeadParameters(config: .with(tokenDim: 12, width: 16, layers: 3, heads: 4, ffn: 24, embedDim: 8), tensors: tensors)
        let b = HeadBatch(regionTokens: try t("head.tokens"), featureMaps: try t("head.feature_maps"), boxCounts: [3, 2], mapLengths: [4, 6], targets: try f.integers("head.targets"))
        let obj = HeadObjective(text: try t("head.text"), logitScale: log(10))
        let g = obj.evaluate(p, b).grads
        for n in p.names {
            check("head " + n, p[n], g[n], h: 3e-3, samples: 4, tol: 3e-2) { v in
                var q = p
                q[n] = v
                return obj.evaluate(q, b).loss
            }
        }
    }
}
