// Boxes around moving regions from the codec's motion vectors: vectors moving at least
// `minMotion` px mark their 16x16 cells; 8-connected cells form a region; regions smaller
// than `minCells` are dropped. O(vectors + cells): a few hundred microseconds at 1080p.
enum MotionBoxes {
    static func propose(_ vectors: [(x: Float, y: Float, w: Float, h: Float, dx: Float, dy: Float)], width: Float, height: Float,
                        cell: Float = 16, minMotion: Float = 0.75, minCells: Int = 3) -> [[Float]] {
        let gw = Int((width / cell).rounded(.up)), gh = Int((height / cell).rounded(.up))
        guard gw > 0, gh > 0 else { return [] }
        var grid = [Bool](repeating: false, count: gw * gh)
        for v in vectors where v.dx * v.dx + v.dy * v.dy >= minMotion * minMotion {
            let x0 = max(0, Int((v.x - v.w / 2) / cell)), x1 = min(gw - 1, Int((v.x + v.w / 2 - 1) / cell))
            let y0 = max(0, Int((v.y - v.h / 2) / cell)), y1 = min(gh - 1, Int((v.y + v.h / 2 - 1) / cell))
            if x0 > x1 || y0 > y1 { continue }
            for y in y0...y1 { for x in x0...x1 { grid[y * gw + x] = true } }
        }
        var label = [Int](repeating: -1, count: gw * gh)
        var boxes: [[Float]] = []
        var stack: [Int] = []
        for start in grid.indices where grid[start] && label[start] < 0 {
            var (minX, minY, maxX, maxY, n) = (gw, gh, -1, -1, 0)
            label[start] = boxes.count
            stack.append(start)
            while let i = stack.popLast() {
                let x = i % gw, y = i / gw
                n += 1
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
                for ny in max(0, y - 1)...min(gh - 1, y + 1) {
                    for nx in max(0, x - 1)...min(gw - 1, x + 1) where grid[ny * gw + nx] && label[ny * gw + nx] < 0 {
                        label[ny * gw + nx] = boxes.count
                        stack.append(ny * gw + nx)
                    }
                }
            }
            if n >= minCells {
                boxes.append([Float(minX) * cell, Float(minY) * cell, min(width, Float(maxX + 1) * cell), min(height, Float(maxY + 1) * cell)])
            }
        }
        return boxes
    }
}
