import Foundation
import Testing
@testable import Recognizer

/// Every backward pass of the head's training step against PyTorch autograd
/// (Fixtures/training_grads.safetensors, tools/fixturegen/training.py): same inputs,
/// weights and upstream gradient; gradients within 1e-4 relative.
@Suite("Training: backward passes vs PyTorch autograd")
struct TrainingGradientTests {
    let f: SafeTensors
    init() throws { f = try Fixtures.open("training_grads.safetensors") }
    func t(_ n: String) throws -> Tensor { try f.tensor(n) }

    static let boxes = [3, 2], maps = [4, 6]
    static var selfSegments: [AttentionSegment] { [AttentionSegment(q0: 0, nq: 3, k0: 0, nk: 3), AttentionSegment(q0: 3, nq: 2, k0: 3, nk: 2)] }
    static var crossSegments: [AttentionSegment] { [AttentionSegment(q0: 0, nq: 3, k0: 0, nk: 4), AttentionSegment(q0: 3, nq: 2, k0: 4, nk: 6)] }

    @Test("linear: dx, dW, db")
    func linearGrad() throws {
        let x = try t("linear.x"), w = try t("linear.w"), b = try t("linear.b"), gy = try t("linear.gy")
        var dW = Tensor(zeros: w.shape), dB = Tensor(zeros: b.shape)
        let dx = LinearGrad.backward(x: x, w: w, dy: gy, dW: &dW, dB: &dB)!
        expectClose(dx, try t("linear.dx"), 1e-4, "linear dx")
        expectClose(dW, try t("linear.dw"), 1e-4, "linear dW")
        expectClose(dB, try t("linear.db"), 1e-4, "linear db")
    }

    @Test("LayerNorm: dx, dweight, dbias")
    func layerNormGrad() throws {
        let x = try t("layernorm.x"), w = try t("layernorm.w"), b = try t("layernorm.b"), gy = try t("layernorm.gy")
        var dW = Tensor(zeros: w.shape), dB = Tensor(zeros: b.shape)
        let (y, c) = LayerNormGrad.forward(x, w, b)
        expectClose(y, x.naiveLayerNorm(w, b, eps: 1e-5), 1e-5, "layernorm forward")
        let dx = LayerNormGrad.backward(c, g: w, dy: gy, dG: &dW, dB: &dB)
        expectClose(dx, try t("layernorm.dx"), 1e-4, "layernorm dx")
        expectClose(dW, try t("layernorm.dw"), 1e-4, "layernorm dw")
        expectClose(dB, try t("layernorm.db"), 1e-4, "layernorm db")
    }

    @Test("ReLU FFN: linear2(relu(linear1(x)))")
    func ffnGrad() throws {
        let x = try t("ffn.x"), w1 = try t("ffn.w1"), b1 = try t("ffn.b1"), w2 = try t("ffn.w2"), b2 = try t("ffn.b2")
        var dW1 = Tensor(zeros: w1.shape), dB1 = Tensor(zeros: b1.shape), dW2 = Tensor(zeros: w2.shape), dB2 = Tensor(zeros: b2.shape)
        let h = linear(x, w1, b1), hr = ReLUGrad.forward(h)
        let dhr = LinearGrad.backward(x: hr, w: w2, dy: try t("ffn.gy"), dW: &dW2, dB: &dB2)!
        let dx = LinearGrad.backward(x: x, w: w1, dy: ReLUGrad.backward(input: h, dy: dhr), dW: &dW1, dB: &dB1)!
        for (a, n) in [(dx, "dx"), (dW1, "dw1"), (dB1, "db1"), (dW2, "dw2"), (dB2, "db2")] { expectClose(a, try t("ffn." + n), 1e-4, "ffn " + n) }
    }

    @Test("multi-head attention, self and cross, two images in one batch", arguments: ["self_attn", "cross_attn"])
    func attentionGrad(_ kind: String) throws {
        let w = AttentionWeights(inW: try t(kind + ".in_w"), inB: try t(kind + ".in_b"), outW: try t(kind + ".out_w"), outB: try t(kind + ".out_b"))
        let x = try t(kind + ".x"), isSelf = kind == "self_attn"
        let mem = isSelf ? x : try t(kind + ".mem")
        let segs = isSelf ? Self.selfSegments : Self.crossSegments
        let (_, cache) = AttentionGrad.forward(xq: x, xkv: mem, w, heads: 4, segments: segs)
        var g = AttentionGradients(d: 16)
        let (dxq, dxkv) = AttentionGrad.backward(cache, w, dy: try t(kind + ".gy"), grads: &g, heads: 4, segments: segs, needKV: true)
        if isSelf {
            expectClose(dxq + dxkv!, try t(kind + ".dx"), 1e-4, "self dx")
        } else {
            expectClose(dxq, try t(kind + ".dx"), 1e-4, "cross dx")
            expectClose(dxkv!, try t(kind + ".dmem"), 1e-4, "cross dmem")
        }
        expectClose(g.inW, try t(kind + ".din_w"), 1e-4, kind + " din_w")
        expectClose(g.inB, try t(kind + ".din_b"), 1e-4, kind + " din_b")
        expectClose(g.outW, try t(kind + ".dout_w"), 1e-4, kind + " dout_w")
        expectClose(g.outB, try t(kind + ".dout_b"), 1e-4, kind + " dout_b")
    }

    @Test("x / (|x| + 1e-7) and scaled cosine logits")
    func normalizeAndLogits() throws {
        expectClose(CosineLogitsGrad.normalizeBackward(try t("normalize.e"), du: try t("normalize.gy")), try t("normalize.de"), 1e-4, "normalize de")
        let du = CosineLogitsGrad.logitsBackward(dLogits: try t("logits.gy"), text: try t("logits.text"), scale: 100)
        expectClose(du, try t("logits.du"), 1e-4, "logits du")
    }

    @Test("sigmoid focal loss (alpha 0.25, gamma 2): value and gradient")
    func focal() throws {
        let (loss, g) = FocalLoss()(logits: try t("focal.x"), targets: try f.integers("focal.targets"))
        let ref = Double(try t("focal.loss").data[0])
        #expect(abs(loss - ref) <= 1e-5 * abs(ref), "focal loss \(loss) vs \(ref)")
        expectClose(g, try t("focal.dx"), 1e-4, "focal dx")
    }

    func fixtureHead() throws -> (HeadParameters, HeadBatch, HeadObjective) {
        var tensors: [String: Tensor] = [:]
        for n in HeadParameters.names(layers: 3) { tensors[n] = try t("head.param." + n) }
        let p = HeadParameters(config: RegionSpotHeadConfig(tokenDim: 12, width: 16, layers: 3, heads: 4, ffn: 24, embedDim: 8), tensors: tensors)
        let b = HeadBatch(regionTokens: try t("head.tokens"), featureMaps: try t("head.feature_maps"), boxCounts: Self.boxes, mapLengths: Self.maps, targets: try f.integers("head.targets"))
        return (p, b, HeadObjective(text: try t("head.text"), logitScale: log(10)))
    }

    @Test("whole head: loss, logits and the gradient of every parameter; forward = inference path")
    func headGrad() throws {
        let (p, b, obj) = try fixtureHead()
        let (loss, g, logits) = obj.evaluate(p, b)
        let ref = Double(try t("head.loss").data[0])
        #expect(abs(loss - ref) <= 1e-4 * abs(ref), "head loss \(loss) vs \(ref)")
        expectClose(logits, try t("head.logits"), 1e-4, "head logits")
        #expect(g.names.count == 4 + 18 * 3 + 2)
        for n in g.names { expectClose(g[n], try t("head.grad." + n), 1e-4, "grad " + n) }
        // the training forward equals the inference module, image by image
        let head = try p.head()
        let train = HeadGrad.forward(p, b).0
        var o = 0, m = 0
        for (n, l) in zip(b.boxCounts, b.mapLengths) {
            expectClose(head.embed(regionTokens: b.regionTokens.slice(o, o + n), featureMap: b.featureMaps.slice(m, m + l)), train.slice(o, o + n), 1e-5, "inference vs training forward")
            o += n; m += l
        }
    }

    @Test("clip at total norm 1.0, then two AdamW steps = torch.optim.AdamW")
    func optimizerStep() throws {
        var (p, b, obj) = try fixtureHead()
        var g = obj.evaluate(p, b).grads
        let norm = clipGradientNorm(&g, maxNorm: 1.0)
        let refNorm = Double(try t("clip.total_norm").data[0])
        #expect(abs(norm - refNorm) <= 1e-4 * refNorm && norm > 1, "total norm \(norm) vs \(refNorm)")
        for n in g.names { expectClose(g[n], try t("clip.grad." + n), 1e-4, "clipped " + n) }
        #expect(abs(g.globalNorm - 1) < 1e-4)
        // step 1 from the fixture's own clipped gradients (so only the optimizer is tested)
        for n in g.names { g[n] = try t("clip.grad." + n) }
        var opt = AdamW(like: p, weightDecay: 1e-4)
        opt.update(&p, grads: g, lr: 1e-3)
        for n in p.names { expectClose(p[n], try t("adamw.step1." + n), 1e-5, "AdamW step 1 " + n) }
        for n in g.names { g[n] = try t("adamw.grad2." + n) }
        opt.update(&p, grads: g, lr: 1e-3)
        for n in p.names { expectClose(p[n], try t("adamw.step2." + n), 1e-5, "AdamW step 2 " + n) }
        #expect(opt.step == 2)
    }

    @Test("warm-up then step decay (detectron2 WarmupMultiStepLR)")
    func schedule() {
        let s = LearningRateSchedule(base: 1e-4, warmupSteps: 10, milestones: [30, 40], warmupFactor: 0.001)
        #expect(abs(s.rate(at: 0) - 1e-7) < 1e-12)
        #expect(abs(s.rate(at: 5) - 1e-4 * (0.001 * 0.5 + 0.5)) < 1e-12)
        #expect(s.rate(at: 10) == 1e-4 && s.rate(at: 29) == 1e-4)
        #expect(abs(s.rate(at: 30) - 1e-5) < 1e-15 && abs(s.rate(at: 45) - 1e-6) < 1e-16)
        let std = LearningRateSchedule.standard(base: 1, totalSteps: 270_000)
        #expect(std.warmupSteps == 1000 && std.milestones == [210_000, 250_000] && std.warmupFactor == 0.01)  // Base-RegionSpot.yaml
        #expect(LearningRateSchedule.standard(base: 1, totalSteps: 900).warmupSteps == 45)
    }
}
