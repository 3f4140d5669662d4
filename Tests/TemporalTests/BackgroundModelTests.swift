import Foundation
import Testing
@testable import Temporal

/// A 160x120 YUV picture: a fixed textured background (diagonal stripes plus noise, the
/// same every frame) and optional solid squares at (x, y) of `size` with colour (Y, U, V).
func yuvPicture(width: Int = 160, height: Int = 120, squares: [(x: Int, y: Int, size: Int, yuv: (UInt8, UInt8, UInt8))],
                brightness: Int = 0) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: width * height * 3)
    var seed: UInt64 = 12345
    for y in 0..<height {
        for x in 0..<width {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let noise = Int(seed >> 61)  // 0...7, the same each call
            let stripe = ((x + y) / 6) % 2 == 0 ? 40 : 0
            let k = (y * width + x) * 3
            out[k] = UInt8(clamping: 80 + stripe + noise + brightness)
            out[k + 1] = 128; out[k + 2] = 128
        }
    }
    for s in squares {
        for y in max(0, s.y)..<max(max(0, s.y), min(height, s.y + s.size)) {
            for x in max(0, s.x)..<max(max(0, s.x), min(width, s.x + s.size)) {
                let k = (y * width + x) * 3
                out[k] = s.yuv.0; out[k + 1] = s.yuv.1; out[k + 2] = s.yuv.2
            }
        }
    }
    return out
}

@Suite("Background model")
struct BackgroundModelTests {
    // A blue square: about the background's brightness, told apart by its chroma.
    let blue: (UInt8, UInt8, UInt8) = (100, 200, 110)

    @Test("a moving square is proposed with its own box (IoU >= 0.9), in source pixels")
    func tightBox() {
        var bg = BackgroundModel()
        var last = Box(x1: 0, y1: 0, x2: 0, y2: 0)
        for f in 0..<30 {
            let x = 10 + 3 * f
            bg.update(yuvPicture(squares: [(x, 40, 30, blue)]), width: 160, height: 120, scale: 2)
            last = Box(x1: Float(2 * x), y1: 80, x2: Float(2 * (x + 30)), y2: 140)
        }
        let r = bg.regions()
        #expect(r.count == 1)
        #expect((r.first?.box.iou(last) ?? 0) >= 0.9, "got \(r.map(\.box)), truth \(last)")
    }

    @Test("a large object moving slowly is proposed (2 px a frame: 6.7% of its pixels change); one that stopped is not")
    func slowLargeMover() {
        // scene 1002 of the shapes scenes: a 94 px circle at 2 px a frame changed 9% of its
        // pixels a frame, under the 10% asked before, and went unproposed for 3 s
        var bg = BackgroundModel()
        for _ in 0..<15 { bg.update(yuvPicture(squares: []), width: 160, height: 120, scale: 1) }
        for f in 0..<30 { bg.update(yuvPicture(squares: [(20 + 2 * f, 40, 30, blue)]), width: 160, height: 120, scale: 1) }
        let r = bg.regions()
        #expect(r.count == 1)
        #expect((r.first?.box.iou(Box(x1: 78, y1: 40, x2: 108, y2: 70)) ?? 0) >= 0.8, "got \(r.map(\.box))")
        for _ in 0..<3 { bg.update(yuvPicture(squares: [(78, 40, 30, blue)]), width: 160, height: 120, scale: 1) }
        #expect(bg.regions().isEmpty)
    }

    @Test("shares(in:): what changed since the last picture and what differs from the background, inside a box")
    func sharesInABox() throws {
        var bg = BackgroundModel()
        #expect(bg.shares(in: Box(x1: 0, y1: 0, x2: 10, y2: 10)) == nil, "no picture yet")
        for _ in 0..<15 { bg.update(yuvPicture(squares: []), width: 160, height: 120, scale: 1) }
        // a square moves 4 px a frame, then stands still
        for f in 0..<5 { bg.update(yuvPicture(squares: [(20 + 4 * f, 40, 30, blue)]), width: 160, height: 120, scale: 1) }
        let square = Box(x1: 36, y1: 40, x2: 66, y2: 70)
        let moving = try #require(bg.shares(in: square))
        // its leading 4 px columns changed (from stripes to blue): 4 of 30 columns
        #expect(abs(moving.changed - 4.0 / 30) < 0.02 && moving.foreground > 0.95, "\(moving)")
        bg.update(yuvPicture(squares: [(36, 40, 30, blue)]), width: 160, height: 120, scale: 1)
        let stopped = try #require(bg.shares(in: square))
        #expect(stopped.changed == 0 && stopped.foreground > 0.95, "\(stopped)")
        let ground = try #require(bg.shares(in: Box(x1: 100, y1: 80, x2: 140, y2: 110)))
        #expect(ground.changed == 0 && ground.foreground == 0, "\(ground)")
        #expect(bg.shares(in: Box(x1: 200, y1: 0, x2: 220, y2: 10)) == nil, "outside the picture")
    }

    @Test("nothing is proposed while warming up, nor for a static scene")
    func warmupAndStatic() {
        var bg = BackgroundModel()
        for f in 0..<5 { bg.update(yuvPicture(squares: [(10 + 3 * f, 40, 30, blue)]), width: 160, height: 120, scale: 1) }
        #expect(bg.regions().isEmpty)  // 5 frames < warmupFrames
        var still = BackgroundModel()
        for _ in 0..<30 { still.update(yuvPicture(squares: [(50, 40, 30, blue)]), width: 160, height: 120, scale: 1) }
        #expect(still.regions().isEmpty)
        #expect(still.foregroundFraction == 0)
    }

    @Test("the ghost of an object that stood in the first picture fades; the object stays proposed")
    func ghost() {
        var bg = BackgroundModel()
        for f in 0..<30 {
            let x = f < 2 ? 10 : 10 + 4 * (f - 1)  // stands, then moves right 4 px/frame
            bg.update(yuvPicture(squares: [(x, 40, 24, blue)]), width: 160, height: 120, scale: 1)
        }
        let r = bg.regions()
        let truth = box(Float(10 + 4 * 28), 40, 24, 24)
        #expect(r.count == 1 && r[0].box.iou(truth) > 0.8, "got \(r.map(\.box)), object at \(truth)")
        #expect(!r.contains { $0.box.iou(box(10, 40, 24, 24)) > 0.1 }, "ghost at the start position: \(r.map(\.box))")
    }

    @Test("an object of one colour that crept in is one region when it speeds up: its unchanged inside was never absorbed, so it leaves no ghost")
    func slowUniformObject() {
        // A 40-px square creeps in from the right edge at 2 px/frame (its inside unchanged
        // for 20 frames, longer than stillFrames), then moves on at 6 px/frame for 4 frames.
        // Absorbing the unchanged inside pixel by pixel left a ghost of it behind the square:
        // a second proposal, or, touching the square, a stretched box.
        func x(_ f: Int) -> Int { f < 30 ? 160 - 2 * f : 100 - 6 * (f - 30) }
        let truth = Box(x1: Float(x(33)), y1: 40, x2: Float(x(33) + 40), y2: 80)
        var bg = BackgroundModel()
        for f in 0..<34 { bg.update(yuvPicture(squares: [(x(f), 40, 40, blue)]), width: 160, height: 120, scale: 1) }
        let r = bg.regions()
        #expect(r.count == 1 && r[0].box.iou(truth) >= 0.9, "got \(r.map(\.box)), object at \(truth)")
        // the rule it replaces, pixel by pixel: a ghost of the square where it crept, proposed
        var pixelwise = BackgroundModel()
        pixelwise.config.stillPatchTolerance = 1
        for f in 0..<34 { pixelwise.update(yuvPicture(squares: [(x(f), 40, 40, blue)]), width: 160, height: 120, scale: 1) }
        let p = pixelwise.regions()
        #expect(p.contains { $0.box.iou(truth) < 0.1 }, "pixel by pixel: \(p.map(\.box))")
    }

    @Test("an object that stood in the first picture and glides off slowly: the ghost joined to it is absorbed as it is revealed")
    func slowGhostJoinedToItsObject() {
        // A 30-px square stands for 2 frames, then moves right 1 px a frame: for 30 frames
        // it still overlaps where it stood, so the ghost and the object are one patch that
        // is never still as a whole (its box would stretch back to where it stood). Each
        // frame reveals a 1x30 strip of background and covers a 1x30 strip of it.
        func x(_ f: Int) -> Int { f < 2 ? 20 : 20 + (f - 1) }
        func foreground(_ bg: BackgroundModel) -> Int { Int((bg.foregroundFraction * 160 * 120).rounded()) }
        var bg = BackgroundModel(), without = BackgroundModel()
        without.config.absorbRevealed = false
        for f in 0..<30 {
            let picture = yuvPicture(squares: [(x(f), 40, 30, blue)])
            bg.update(picture, width: 160, height: 120, scale: 1)
            without.update(picture, width: 160, height: 120, scale: 1)
        }
        // strips revealed more than stillFrames (12) frames ago are background again: the
        // foreground holds the last 12 frames' strips, revealed and covered
        #expect(foreground(bg) == 12 * 60, "foreground \(foreground(bg)) px")
        // without the comparison with the surroundings all 28 frames' strips stay
        #expect(foreground(without) == 28 * 60, "foreground \(foreground(without)) px")
    }

    @Test("a global change (light switched on) restarts the model and proposes nothing")
    func globalChange() {
        var bg = BackgroundModel()
        for f in 0..<20 { bg.update(yuvPicture(squares: [(10 + 3 * f, 40, 30, blue)]), width: 160, height: 120, scale: 1) }
        #expect(bg.regions().count == 1)
        bg.update(yuvPicture(squares: [(70, 40, 30, blue)], brightness: 90), width: 160, height: 120, scale: 1)
        #expect(bg.restarts == 1)
        #expect(bg.regions().isEmpty)
    }

    @Test("codec vectors over unchanged background are zeroed, those on the mover kept")
    func vectorsOnBackground() {
        var bg = BackgroundModel()
        for f in 0..<20 { bg.update(yuvPicture(squares: [(10 + 3 * f, 40, 30, blue)]), width: 160, height: 120, scale: 1) }
        let onObject = MotionSample(x: 10 + 57 + 15, y: 55, dx: 3, dy: 0, area: 256)
        let onStripes = MotionSample(x: 20, y: 100, dx: -4, dy: 4, area: 256)
        let out = bg.stillBackgroundZeroed([onObject, onStripes])
        #expect(out[0] == onObject)
        #expect(out[1].dx == 0 && out[1].dy == 0 && out[1].x == onStripes.x)
    }
}
