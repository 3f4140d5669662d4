// Optimal rectangular assignment: the Hungarian method in its shortest-augmenting-path
// form with row/column potentials (the O(n^2 m) variant Jonker and Volgenant build on).
// Forbidden pairs (gated out) are +infinity or NaN; the solver first maximizes the number
// of allowed pairs, then minimizes their total cost (the convention of motmetrics' LAP
// wrapper), and never returns a forbidden pair.

public enum Assignment {
    /// Min-cost assignment on a (rows, cols) row-major cost matrix.
    /// - Returns: (row, col) pairs, sorted by row; each row and column at most once.
    public static func solve(costs: [Double], rows: Int, cols: Int) -> [(row: Int, col: Int)] {
        precondition(costs.count == rows * cols, "Assignment: \(costs.count) costs for \(rows)x\(cols)")
        if rows == 0 || cols == 0 { return [] }
        // Work with n <= m: transpose when there are more rows than columns.
        let transposed = rows > cols
        let n = transposed ? cols : rows, m = transposed ? rows : cols
        var a = [Double](repeating: 0, count: n * m)
        var maxAbs = 0.0, anyAllowed = false
        for r in 0..<rows {
            for c in 0..<cols {
                let x = costs[r * cols + c]
                if x.isFinite { maxAbs = max(maxAbs, abs(x)); anyAllowed = true }
            }
        }
        if !anyAllowed { return [] }
        // Any solution with one forbidden edge fewer is cheaper, whatever the finite costs.
        let big = 2 * Double(n + 1) * (maxAbs + 1)
        for r in 0..<rows {
            for c in 0..<cols {
                let x = costs[r * cols + c]
                let (i, j) = transposed ? (c, r) : (r, c)
                a[i * m + j] = x.isFinite ? x : big
            }
        }
        let match = hungarian(a, n: n, m: m)   // match[i] = column of row i
        var out: [(row: Int, col: Int)] = []
        for i in 0..<n {
            let j = match[i]
            let (r, c) = transposed ? (j, i) : (i, j)
            if costs[r * cols + c].isFinite { out.append((r, c)) }
        }
        out.sort { $0.row < $1.row }
        return out
    }

    /// Convenience for a matrix given as rows.
    public static func solve(_ matrix: [[Double]]) -> [(row: Int, col: Int)] {
        let rows = matrix.count, cols = matrix.first?.count ?? 0
        return solve(costs: matrix.flatMap { $0 }, rows: rows, cols: cols)
    }

    /// Total cost of an assignment.
    public static func cost(_ pairs: [(row: Int, col: Int)], costs: [Double], cols: Int) -> Double {
        pairs.reduce(0) { $0 + costs[$1.row * cols + $1.col] }
    }

    /// Shortest augmenting paths with potentials; `a` is (n, m) row-major, n <= m, all
    /// finite. Returns the column assigned to each row. Indices 1-based inside, column 0
    /// is the virtual start of each augmentation.
    static func hungarian(_ a: [Double], n: Int, m: Int) -> [Int] {
        var u = [Double](repeating: 0, count: n + 1)
        var v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1)      // p[j] = row matched to column j
        var way = [Int](repeating: 0, count: m + 1)
        var minv = [Double](repeating: 0, count: m + 1)
        var used = [Bool](repeating: false, count: m + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            for j in 0...m { minv[j] = .infinity; used[j] = false }
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity, j1 = 0
                let rowBase = (i0 - 1) * m
                for j in 1...m where !used[j] {
                    let cur = a[rowBase + j - 1] - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...m {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var match = [Int](repeating: -1, count: n)
        for j in 1...m where p[j] != 0 { match[p[j] - 1] = j - 1 }
        return match
    }
}
