// SIGTERM/SIGINT (stop) and SIGHUP (reload) through DispatchSource signal sources: the
// default actions are ignored and the handlers run on a private serial queue, never
// inside a signal handler.
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

public final class SignalHandlers: @unchecked Sendable {
    private let queue = DispatchQueue(label: "regionspotd.signals")
    private var sources: [DispatchSourceSignal] = []

    public init() {}

    /// Handles `signals` with `handler` (on the signal queue) from now on.
    public func on(_ signals: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) {
        for sig in signals {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            src.setEventHandler { handler(sig) }
            src.resume()
            sources.append(src)
        }
    }

    /// Restores the default actions.
    public func cancel() {
        for s in sources { s.cancel(); signal(Int32(s.handle), SIG_DFL) }
        sources.removeAll()
    }
}
