import Decode
import Foundation
import Testing

/// Codec motion vectors (`export_mvs`) on a textured square moving right at a known speed.
@Suite struct MotionVectorTests {
    static func median(_ v: [Float]) -> Float {
        let s = v.sorted()
        return s.isEmpty ? .nan : s[s.count / 2]
    }

    @Test(arguments: [4, 6])
    func squareMovesAtItsSpeed(_ speed: Int) throws {
        let dir = try TestMedia.makeTempDir("decode-mv")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try TestMedia.movingSquareClip(in: dir, speed: speed, frames: 30)
        let source = try VideoSource(url: path, options: SourceOptions(motionVectors: true))
        var checkedFrames = 0
        var framesWithVectors = 0
        while let frame = try source.nextFrame() {
            guard frame.pictureType == .p, let mvs = frame.motionVectors else {
                if frame.isKeyframe { #expect(frame.motionVectors?.isEmpty ?? true) }
                continue
            }
            framesWithVectors += 1
            #expect(mvs.allSatisfy { $0.motionX != 0 || $0.motionY != 0 })  // zero vectors dropped
            #expect(mvs.allSatisfy { $0.reference == -1 })  // no B-frames: past references only
            // Blocks whose centre lies well inside the square (64x64 at x = 16 + speed*n, y = 88).
            let left = Float(16 + speed * frame.index), top: Float = 88
            let inside = mvs.filter {
                $0.x > left + 8 && $0.x < left + 56 && $0.y > top + 8 && $0.y < top + 56
            }
            guard inside.count >= 4 else { continue }
            checkedFrames += 1
            let dx = Self.median(inside.map(\.displacementX))
            let dy = Self.median(inside.map(\.displacementY))
            #expect(abs(dx - Float(speed)) <= 1, "frame \(frame.index): median dx \(dx) over \(inside.count) blocks")
            #expect(abs(dy) <= 1, "frame \(frame.index): median dy \(dy)")
            // FFmpeg's convention: source (reference) position = destination + motion.
            #expect(inside.allSatisfy { abs($0.sourceX - ($0.x + $0.motionX)) < 1e-4 })
        }
        #expect(framesWithVectors >= 25)
        #expect(checkedFrames >= 20)
    }

    @Test func vectorsOnlyWhenAsked() throws {
        let dir = try TestMedia.makeTempDir("decode-mv-off")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try TestMedia.movingSquareClip(in: dir, speed: 4, frames: 10)
        let source = try VideoSource(url: path)
        var n = 0
        while let f = try source.nextFrame() { #expect(f.motionVectors == nil); n += 1 }
        #expect(n == 10)
    }
}
