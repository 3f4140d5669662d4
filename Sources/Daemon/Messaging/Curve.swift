// CURVE (ZeroMQ's encryption, libsodium in Debian's libzmq) for every socket that leaves
// the host: key files, server and client socket options. Keys are Z85 text (40
// characters); a key file holds one key on its first line that is neither blank nor a
// `#` comment. No key, secret or public, is ever put in an error message or a log line:
// errors name the file.
import CZMQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

public struct CurveError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// This process's keypair, read from its secret key file (the public key is derived).
public struct CurveKeys: Sendable, CustomStringConvertible {
    let secret: String
    public let publicKey: String
    public var description: String { "CURVE keypair" }  // never the keys

    init(secret: String, publicKey: String) { self.secret = secret; self.publicKey = publicKey }

    /// Reads a secret key file; refuses one that group or others may read.
    public static func load(secretKeyFile path: String) throws -> CurveKeys {
        var st = stat()
        guard stat(path, &st) == 0 else { throw CurveError(description: "cannot read secret key file \(path): \(String(cString: strerror(errno)))") }
        if st.st_mode & 0o077 != 0 {
            throw CurveError(description: "secret key file \(path) may be read by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        let secret = try Curve.readKey(path, what: "secret key")
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secret) == 0 else { throw CurveError(description: "\(path): cannot derive the public key: \(zmqError())") }
        return CurveKeys(secret: secret, publicKey: String(nulTerminated: pub))
    }
}

public enum Curve {
    /// Whether libzmq was built with CURVE (Debian's is, with libsodium).
    public static var available: Bool { zmq_has("curve") == 1 }

    /// A new keypair (Z85 public, Z85 secret).
    public static func keypair() throws -> (publicKey: String, secretKey: String) {
        guard available else { throw CurveError(description: "this libzmq has no CURVE support") }
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw CurveError(description: "zmq_curve_keypair failed: \(zmqError())") }
        return (String(nulTerminated: pub), String(nulTerminated: sec))
    }

    /// The Z85 key in `path` (first line that is not blank or a comment), checked to decode to 32 bytes.
    static func readKey(_ path: String, what: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CurveError(description: "cannot read \(what) file \(path)")
        }
        let line = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty && !$0.hasPrefix("#") } ?? ""
        guard decode(line) != nil else { throw CurveError(description: "\(path) does not hold a \(what) (40 characters of Z85)") }
        return line
    }

    /// A public key file's key (e.g. the aggregator's, for a connecting socket).
    public static func readPublicKey(_ path: String) throws -> String { try readKey(path, what: "public key") }

    /// The 32-byte keys of every `*.pub` file in `directory` (authorized clients).
    public static func authorizedKeys(directory: String) throws -> Set<[UInt8]> {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw CurveError(description: "cannot read the authorized keys directory \(directory)")
        }
        var keys = Set<[UInt8]>()
        for n in names.sorted() where n.hasSuffix(".pub") {
            let path = (directory as NSString).appendingPathComponent(n)
            keys.insert(decode(try readKey(path, what: "public key"))!)
        }
        return keys
    }

    static func decode(_ z85: String) -> [UInt8]? {
        guard z85.utf8.count == 40 else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&out, z85) == nil ? nil : out
    }

    /// Makes `sock` a CURVE server checked by the ZAP handler of its context.
    static func server(_ sock: UnsafeMutableRawPointer, _ keys: CurveKeys) throws {
        try setOption(sock, ZMQ_CURVE_SERVER, 1)
        try setString(sock, ZMQ_CURVE_SECRETKEY, keys.secret, "the secret key")
        try setString(sock, ZMQ_ZAP_DOMAIN, "regionspotd", "the ZAP domain")
    }

    /// Makes `sock` a CURVE client of the server whose public key is `serverKey`.
    static func client(_ sock: UnsafeMutableRawPointer, _ keys: CurveKeys, serverKey: String) throws {
        try setString(sock, ZMQ_CURVE_SERVERKEY, serverKey, "the server key")
        try setString(sock, ZMQ_CURVE_PUBLICKEY, keys.publicKey, "the public key")
        try setString(sock, ZMQ_CURVE_SECRETKEY, keys.secret, "the secret key")
    }

    private static func setString(_ sock: UnsafeMutableRawPointer, _ option: Int32, _ value: String, _ what: String) throws {
        let rc = value.utf8CString.withUnsafeBufferPointer { zmq_setsockopt(sock, option, $0.baseAddress, $0.count - 1) }
        if rc != 0 { throw CurveError(description: "cannot set \(what) on a socket: \(zmqError())") }
    }

    /// Writes a keypair as NAME.key (secret, mode 0600, created exclusively) and NAME.pub.
    public static func writeKeypair(base: String) throws -> (secretFile: String, publicFile: String) {
        let (pub, sec) = try keypair()
        let secretFile = base + ".key", publicFile = base + ".pub"
        for f in [secretFile, publicFile] where FileManager.default.fileExists(atPath: f) {
            throw CurveError(description: "\(f) exists; not overwriting a key")
        }
        let header = "# regionspotd CURVE key (ZeroMQ Z85), written by regionspotd keygen\n"
        let fd = open(secretFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CurveError(description: "cannot create \(secretFile): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)  // whatever the umask
        let bytes = Array((header + "# secret: keep it on this host, readable by the service only\n" + sec + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw CurveError(description: "cannot write \(secretFile)") }
        guard FileManager.default.createFile(atPath: publicFile, contents: Data((header + "# public: copy it to the peers\n" + pub + "\n").utf8),
                                             attributes: [.posixPermissions: 0o644]) else {
            throw CurveError(description: "cannot create \(publicFile)")
        }
        return (secretFile, publicFile)
    }
}
