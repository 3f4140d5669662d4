// Constant-velocity Kalman filter on (cx, cy, w, h), one independent (position, velocity)
// filter per coordinate. Time unit: frames. Noise scales with the box height, as SORT and
// ByteTrack do, so one set of parameters fits small and large boxes.

/// Noise settings, as fractions of the box height.
public struct KalmanNoise: Sendable, Equatable {
    /// Acceleration std of the centre, per frame^2.
    public var centreAccel: Float = 0.004
    /// Acceleration std of the size, per frame^2.
    public var sizeAccel: Float = 0.001
    /// Initial velocity std (per frame).
    public var initialVelocity: Float = 0.05
    /// Measurement std of a keyframe proposal box.
    public var proposal: Float = 0.05
    /// Measurement std of a motion-vector-propagated box.
    public var motion: Float = 0.02
    /// Drift std per motion-vector step (fraction of the box height), used to weigh a
    /// vector-carried box against a keyframe proposal.
    public var motionDrift: Float = 0.01
    public init() {}
}

/// One coordinate: state (p, v), covariance [[a, b], [b, c]].
struct Kalman1D: Sendable, Equatable {
    var p: Float, v: Float
    var a: Float, b: Float, c: Float

    init(position: Float, positionStd: Float, velocityStd: Float) {
        p = position; v = 0
        a = positionStd * positionStd; b = 0; c = velocityStd * velocityStd
    }

    /// x <- F x, P <- F P F^T + Q with F = [[1, dt], [0, 1]] and white-noise acceleration.
    mutating func predict(dt: Float, accelStd: Float) {
        p += v * dt
        let q = accelStd * accelStd
        let dt2 = dt * dt
        let na = a + 2 * dt * b + dt2 * c + q * dt2 * dt2 / 4
        let nb = b + dt * c + q * dt2 * dt / 2
        let nc = c + q * dt2
        a = na; b = nb; c = nc
    }

    /// Measurement z of the position with std r.
    mutating func update(_ z: Float, std r: Float) {
        let s = a + r * r
        guard s > 0 else { return }
        let k0 = a / s, k1 = b / s
        let y = z - p
        p += k0 * y; v += k1 * y
        let na = (1 - k0) * a, nb = (1 - k0) * b, nc = c - k1 * b
        a = na; b = nb; c = nc
    }
}

/// The box filter. Velocity is in pixels per frame.
public struct BoxKalman: Sendable, Equatable {
    var cx: Kalman1D, cy: Kalman1D, w: Kalman1D, h: Kalman1D
    public var noise: KalmanNoise

    public init(box: Box, noise: KalmanNoise = KalmanNoise()) {
        self.noise = noise
        let s = max(box.height, 1)
        let ps = noise.proposal * s, vs = noise.initialVelocity * s
        cx = Kalman1D(position: box.cx, positionStd: ps, velocityStd: vs)
        cy = Kalman1D(position: box.cy, positionStd: ps, velocityStd: vs)
        w = Kalman1D(position: box.width, positionStd: ps, velocityStd: vs / 4)
        h = Kalman1D(position: box.height, positionStd: ps, velocityStd: vs / 4)
    }

    public var box: Box { Box(cx: cx.p, cy: cy.p, width: max(w.p, 1), height: max(h.p, 1)) }
    /// (vx, vy) in pixels per frame.
    public var velocity: (x: Float, y: Float) { (cx.v, cy.v) }

    /// Moves the state `dt` frames ahead.
    public mutating func predict(dt: Float) {
        guard dt > 0 else { return }
        let s = max(h.p, 1)
        cx.predict(dt: dt, accelStd: noise.centreAccel * s)
        cy.predict(dt: dt, accelStd: noise.centreAccel * s)
        w.predict(dt: dt, accelStd: noise.sizeAccel * s)
        h.predict(dt: dt, accelStd: noise.sizeAccel * s)
    }

    /// Folds in a measured box; `relativeStd` is the measurement std as a fraction of height.
    public mutating func update(_ m: Box, relativeStd: Float) {
        let r = relativeStd * max(m.height, 1)
        cx.update(m.cx, std: r); cy.update(m.cy, std: r)
        w.update(m.width, std: r); h.update(m.height, std: r)
    }

    /// Moves the position to `m` keeping the velocity (and the covariance). A keyframe
    /// proposal is an independent look at the object, while motion-vector updates drift
    /// in a correlated way the filter cannot know about; so the tracker re-anchors on it.
    /// The position variance becomes the proposal's, uncorrelated with the velocity.
    public mutating func anchor(at m: Box) {
        let r = noise.proposal * max(m.height, 1)
        for k in 0..<4 {
            var f = self[k]
            f.p = [m.cx, m.cy, m.width, m.height][k]
            f.a = r * r; f.b = 0
            self[k] = f
        }
    }

    subscript(k: Int) -> Kalman1D {
        get { [cx, cy, w, h][k] }
        set {
            switch k {
            case 0: cx = newValue
            case 1: cy = newValue
            case 2: w = newValue
            default: h = newValue
            }
        }
    }

    /// Coasting (no measurement this frame): the size stays `size`'s and stops changing.
    /// A size velocity is only ever learnt from measurements a few frames apart (a motion
    /// blob's legs, a box cut by an occluder), and extrapolated without them it shrinks a
    /// lost object's box to a 1-pixel sliver within a second (vtest.avi, 85 of 5,058
    /// published regions) or blows it up. The centre keeps moving on its velocity.
    public mutating func holdSize(_ size: Box) {
        w.p = size.width; w.v = 0
        h.p = size.height; h.v = 0
    }

    /// Nothing moved where the object is (its picture did not change since the last
    /// frame): the box stays `b` and the centre stops. Coasting on would carry a box away
    /// from an object that stopped (a car parking, someone waiting), and the track would be
    /// dropped as vacant while its object stands in plain view.
    public mutating func stop(at b: Box) {
        cx.p = b.cx; cy.p = b.cy
        cx.v = 0; cy.v = 0
        holdSize(b)
    }

    /// Sets the centre velocity (pixels per frame).
    public mutating func setVelocity(x: Float, y: Float) { cx.v = x; cy.v = y }

    /// Uncertainty of the centre velocity (std, pixels per frame).
    public var velocityStd: Float { max(cx.c, cy.c).squareRoot() }

    /// Uncertainty of the centre (std, pixels), for gating and diagnostics.
    public var centreStd: Float { max(cx.a, cy.a).squareRoot() }
}
