import CFFmpeg
import Foundation
import Synchronization
import Testing
@testable import Decode

/// FFmpeg's log lines as the program's handler receives them: whole lines (pieces joined,
/// at the most severe level among them), redacted, without FFmpeg's context pointers.
@Suite struct LibraryLogTests {
    final class Lines: Sendable {
        let all = Mutex<[(Decode.LogLevel, String)]>([])
    }

    /// Sends one av_log-style call with a single string argument through `router`.
    func send(_ router: LibraryLogRouter, _ level: Int32, _ fmt: String, _ arg: String) {
        arg.withCString { a in fmt.withCString { f in withVaList([a]) { router.receive(nil, level, f, $0) } } }
    }

    @Test func piecesBecomeOneRedactedLineAtTheMostSevereLevel() {
        let router = LibraryLogRouter()
        let got = Lines()
        router.setHandler { level, line in got.all.withLock { $0.append((level, line)) } }
        send(router, AV_LOG_INFO, "Input #0, rtsp, from '%s'", "rtsp://admin:hunter2@10.0.0.5/s?token=abc")
        #expect(got.all.withLock { $0.isEmpty })  // no newline yet: held
        send(router, AV_LOG_ERROR, "%s\n", ": failed")
        send(router, AV_LOG_WARNING, "%s\n\n", "second")
        let lines = got.all.withLock { $0 }
        #expect(lines.count == 2)
        #expect(lines.first?.0 == .error && lines.first?.1 == "Input #0, rtsp, from 'rtsp://***@10.0.0.5/s?token=***': failed")
        #expect(lines.last?.0 == .warning && lines.last?.1 == "second")
    }

    @Test func contextPointersAreDropped() {
        #expect(LibraryLogRouter.withoutContextPointers("[h264 @ 0x55d0c0a0b1c0] error while decoding MB 3 4")
                == "[h264] error while decoding MB 3 4")
        #expect(LibraryLogRouter.withoutContextPointers("[in#0 @ 0x1] [png @ 0xabc] Invalid PNG signature 0x1234")
                == "[in#0] [png] Invalid PNG signature 0x1234")
        #expect(LibraryLogRouter.withoutContextPointers("a @ 0xzz] b @ 0x12 c") == "a @ 0xzz] b @ 0x12 c")
    }

    @Test func levelsBetweenNamedOnesRoundToTheMoreVerbose() {
        #expect(Decode.LogLevel(library: 56) == .debug)  // AV_LOG_TRACE
        #expect(Decode.LogLevel(library: 16) == .error)
        #expect(Decode.LogLevel(library: 20) == .error)
        #expect(Decode.LogLevel(library: -8) == .quiet)
    }
}
