// Decode -> Temporal: the codec's motion vectors as the tracker's samples. Only vectors
// that point at a past reference are used (with -bf 0 and one reference frame that is the
// previous frame; B-frame and multi-reference streams make some vectors span more than one
// frame, which the tracker's robust median tolerates).

import Decode
import Temporal

extension MotionSample {
    /// The forward motion of one block: from its place in the reference frame to this one.
    /// nil for future-reference (B-frame) vectors.
    init?(_ mv: MotionVector) {
        guard mv.reference < 0 else { return nil }
        self.init(x: mv.sourceX, y: mv.sourceY, dx: mv.displacementX, dy: mv.displacementY,
                  area: Float(mv.blockWidth) * Float(mv.blockHeight))
    }
}

extension VideoFrame {
    /// This frame's motion for `Tracker.propagate(to:motion:)`: nil on intra frames and
    /// when the decoder exported no vectors.
    var motionSamples: [MotionSample]? {
        guard pictureType != .i, let mvs = motionVectors else { return nil }
        return mvs.compactMap(MotionSample.init)
    }
}
