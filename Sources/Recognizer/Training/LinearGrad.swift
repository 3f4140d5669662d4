import Foundation

/// torch.nn.Linear and its backward pass: y[M,N] = x[M,K] W[N,K]^T + b[N].
enum LinearGrad {
    static func forward(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor { linear(x, w, b) }

    /// dW[N,K] += dy^T x; db[N] += Σ_rows dy; returns dx[M,K] = dy W (nil when not needed).
    @discardableResult
    static func backward(x: Tensor, w: Tensor, dy: Tensor, dW: inout Tensor, dB: inout Tensor, needInput: Bool = true) -> Tensor? {
        gemm(dy, x, into: &dW, transA: true, beta: 1)
        dB.add(dy.columnSums())
        return needInput ? mm(dy, w) : nil
    }
}

/// ReLU and its backward pass (the derivative at 0 is 0, as torch's).
enum ReLUGrad {
    static func forward(_ x: Tensor) -> Tensor { Tensor(shape: x.shape, data: x.data.map { max($0, 0) }) }
    /// dx = dy where the forward input was > 0.
    static func backward(input x: Tensor, dy: Tensor) -> Tensor {
        var dx = dy
        for i in 0..<dx.count where !(x.data[i] > 0) { dx.data[i] = 0 }
        return dx
    }
}
