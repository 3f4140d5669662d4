// Credentials in URLs never reach a log line or an error message: the one redactor of the
// project (Decode names its sources with it; the Daemon's logs, status messages and
// check-config output go through it too).
import Foundation

public enum Redaction {
    /// Query parameters whose values are secrets (names compared lowercased).
    static let secretParameters: Set<String> = [
        "password", "passwd", "pass", "pwd", "token", "access_token", "refresh_token", "id_token",
        "auth", "authorization", "key", "apikey", "api_key", "secret", "client_secret",
        "signature", "sig", "session", "sessionid", "credential", "credentials",
        "x-amz-signature", "x-amz-credential", "x-amz-security-token"]

    /// Replaces the user-info part of every `scheme://user:pass@host` in `text` with `***`,
    /// and the values of secret-looking query parameters (`?token=...`) with `***`.
    /// `rtsp://admin:hunter2@cam/live?token=x` -> `rtsp://***@cam/live?token=***`.
    public static func redact(_ text: String) -> String {
        guard text.contains("://") || text.contains("=") else { return text }
        var out = Substring(text)
        var result = ""
        while let sep = out.range(of: "://") {
            result += out[..<sep.upperBound]
            let rest = out[sep.upperBound...]
            // The authority ends at the first '/', '?', '#' or whitespace.
            let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" || $0.isWhitespace || $0 == "\"" || $0 == "'" } ?? rest.endIndex
            let authority = rest[..<end]
            if let at = authority.lastIndex(of: "@") {
                result += "***@" + authority[authority.index(after: at)...]
            } else {
                result += authority
            }
            out = rest[end...]
        }
        result += out
        return redactParameters(result)
    }

    static func redactParameters(_ text: String) -> String {
        guard text.contains("=") else { return text }
        var result = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            result.append(c)
            i = text.index(after: i)
            guard c == "?" || c == "&" || c == ";" else { continue }
            // name=value up to the next separator
            guard let eq = text[i...].firstIndex(of: "="),
                  !text[i..<eq].contains(where: { "&?;# /".contains($0) }) else { continue }
            let name = text[i..<eq].lowercased()
            guard secretParameters.contains(name) else { continue }
            let end = text[eq...].firstIndex { "&;# \"'".contains($0) || $0.isNewline } ?? text.endIndex
            result += text[i...eq] + "***"
            i = end
        }
        return result
    }
}
