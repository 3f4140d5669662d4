@testable import Temporal

/// A 640x360 frame at 30 fps.
func frameInfo(_ i: Int) -> FrameInfo { FrameInfo(index: i, time: Double(i) / 30, width: 640, height: 360) }

func box(_ x: Float, _ y: Float, _ w: Float, _ h: Float) -> Box { Box(x1: x, y1: y, x2: x + w, y2: y + h) }

/// A motion field: a vector every 8 px over `region` moving by (dx, dy) (zoom `scale`
/// about the region centre), in 8x8 blocks.
func vectors(in region: Box, dx: Float, dy: Float, scale: Float = 1, step: Float = 8) -> [MotionSample] {
    var out: [MotionSample] = []
    var y = region.y1 + step / 2
    while y < region.y2 {
        var x = region.x1 + step / 2
        while x < region.x2 {
            let zx = (x - region.cx) * (scale - 1), zy = (y - region.cy) * (scale - 1)
            out.append(MotionSample(x: x, y: y, dx: dx + zx, dy: dy + zy, area: step * step))
            x += step
        }
        y += step
    }
    return out
}

func unit(_ v: [Float]) -> [Float] { l2Normalized(v) }

/// Basis vector `k` of length `n`, plus `noise` on the last component.
func token(_ k: Int, _ n: Int = 8, noise: Float = 0) -> [Float] {
    var v = [Float](repeating: 0, count: n)
    v[k] = 1
    v[n - 1] += noise
    return v
}
