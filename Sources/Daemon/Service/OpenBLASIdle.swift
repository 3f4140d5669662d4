#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS's worker threads spin (sched_yield) for 2^28 cycles, ~0.1 s, after each
/// call before they sleep. On a 2-core edge box that spinning competes with everything
/// else: with the recognizer's own kernel threads during attention (~7% of the SAM
/// encoder's CPU samples were in `__schedule`/`sched_yield`) and with the streams'
/// decoders. `OPENBLAS_THREAD_TIMEOUT=4` makes idle workers sleep at once: the SAM-B
/// encoder ran 5.4% faster and the decoder row used 19% less CPU in one bench run.
/// OpenBLAS reads the variable in its library constructor, before `main`, so when it is
/// unset the process sets it and re-executes itself (same PID, same arguments, same
/// process name; systemd sees nothing). A value set by the operator is kept.
enum OpenBLASIdle {
    static let variable = "OPENBLAS_THREAD_TIMEOUT"
    static let value = "4"

    static func reexecIfNeeded() {
        // setenv must take, or the re-executed process would exec again
        guard getenv(variable) == nil, let path = executablePath(),
              setenv(variable, value, 1) == 0, getenv(variable) != nil else { return }
        execv(path, CommandLine.unsafeArgv)
        // exec failed (the binary was replaced or removed meanwhile): carry on with
        // OpenBLAS's default spinning workers
    }

    /// The running binary's path (/proc/self/exe resolved): executing it by that name
    /// keeps the process name `regionspotd` (`exe` when executed through the link).
    static func executablePath() -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        buf[n] = 0
        let path = String(nulTerminated: buf)
        return path.hasSuffix(" (deleted)") ? nil : path
    }
}
