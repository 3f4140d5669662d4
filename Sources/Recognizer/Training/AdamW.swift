import Foundation

/// torch.optim.AdamW (amsgrad off) over a head's parameters: per step t,
///   p ← p (1 - lr wd);  m ← β1 m + (1-β1) g;  v ← β2 v + (1-β2) g²;
///   p ← p - (lr / (1-β1^t)) m / (√v / √(1-β2^t) + eps).
/// Every parameter is decayed (RegionSpot's detectron2 optimizer builder applies the
/// same weight decay to all of its trainable parameters).
public struct AdamW: Sendable {
    public var beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8
    public var weightDecay: Double = 1e-4
    public private(set) var step = 0
    public private(set) var m: HeadParameters
    public private(set) var v: HeadParameters

    public init(like p: HeadParameters, weightDecay: Double = 1e-4, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8) {
        m = HeadParameters(zerosLike: p); v = HeadParameters(zerosLike: p)
        self.weightDecay = weightDecay; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
    }

    public mutating func update(_ p: inout HeadParameters, grads g: HeadParameters, lr: Double) {
        step += 1
        let bc1 = 1 - pow(beta1, Double(step)), bc2 = 1 - pow(beta2, Double(step))
        let stepSize = lr / bc1, sq2 = bc2.squareRoot(), decay = 1 - lr * weightDecay
        for name in p.names {
            let gt = g.tensors[name]!
            p.tensors[name]!.data.withUnsafeMutableBufferPointer { pp in
                m.tensors[name]!.data.withUnsafeMutableBufferPointer { mp in
                    v.tensors[name]!.data.withUnsafeMutableBufferPointer { vp in
                        for i in 0..<pp.count {
                            let gi = Double(gt.data[i])
                            var pi = Double(pp[i]) * decay
                            let mi = beta1 * Double(mp[i]) + (1 - beta1) * gi
                            let vi = beta2 * Double(vp[i]) + (1 - beta2) * gi * gi
                            pi -= stepSize * mi / (vi.squareRoot() / sq2 + eps)
                            pp[i] = Float(pi); mp[i] = Float(mi); vp[i] = Float(vi)
                        }
                    }
                }
            }
        }
    }
}

/// torch.nn.utils.clip_grad_norm_: scales all gradients by min(1, maxNorm / (norm + 1e-6))
/// where norm is the global L2 norm; returns that norm (before clipping).
@discardableResult
public func clipGradientNorm(_ g: inout HeadParameters, maxNorm: Double = 1.0) -> Double {
    let norm = g.globalNorm
    let coef = min(1, maxNorm / (norm + 1e-6))
    if coef < 1 {
        for name in g.names { g.tensors[name]!.data = g.tensors[name]!.data.map { Float(Double($0) * coef) } }
    }
    return norm
}

/// Linear warm-up then step decay, detectron2's WarmupMultiStepLR (which RegionSpot's
/// configs use): factor = w + (1 - w) t / warmup during warm-up (w = warmupFactor), then
/// gamma^(number of milestones ≤ t).
public struct LearningRateSchedule: Sendable, Equatable {
    public var base: Double
    public var warmupSteps: Int
    public var warmupFactor: Double = 0.01
    public var milestones: [Int]
    public var gamma: Double = 0.1

    public init(base: Double, warmupSteps: Int, milestones: [Int], warmupFactor: Double = 0.01, gamma: Double = 0.1) {
        self.base = base; self.warmupSteps = warmupSteps; self.milestones = milestones
        self.warmupFactor = warmupFactor; self.gamma = gamma
    }

    /// RegionSpot's schedule (configs/Base-RegionSpot.yaml: warm-up factor 0.01 over 1000
    /// iterations, x0.1 at 210k and 250k of 270k) scaled to `totalSteps`: warm-up over the
    /// first `warmupFraction` of the run (at most 1000 steps), decay at 7/9 and 25/27.
    public static func standard(base: Double, totalSteps: Int, warmupFraction: Double = 0.05) -> LearningRateSchedule {
        LearningRateSchedule(base: base, warmupSteps: min(1000, max(1, Int(Double(totalSteps) * warmupFraction))),
                             milestones: [totalSteps * 7 / 9, totalSteps * 25 / 27])
    }

    /// Learning rate of step t (0-based).
    public func rate(at t: Int) -> Double {
        var f = 1.0
        if t < warmupSteps {
            let a = Double(t) / Double(warmupSteps)
            f = warmupFactor * (1 - a) + a
        }
        return base * f * pow(gamma, Double(milestones.filter { $0 <= t }.count))
    }
}
