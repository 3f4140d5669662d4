// The keys that say who the daemon is and who may talk to it: `node`, `security.curve`,
// and publisher endpoints that connect (docs/config.md, docs/deploy.md).
import Foundation
import Yams

extension ConfigWalker {
    func node(_ n: Node, _ path: String) -> String? {
        guard let s = string(n, path) else { return nil }
        guard Origin.isValidNode(s) else { problem(n, path, "'\(s)' must be 1-64 characters of A-Z a-z 0-9 . - _"); return nil }
        return s
    }

    /// One `publisher.endpoints` entry: "tcp://..." or {bind: ...} binds; {connect: ...,
    /// server_key: FILE} connects.
    func publisherEndpoint(_ n: Node, _ path: String) -> (bind: String?, connect: ConnectEndpoint?)? {
        if n.scalar != nil { return endpoint(n, path).map { ($0, nil) } }
        guard let m = mapping(n, path, keys: ["bind", "connect", "server_key"]) else { return nil }
        switch (m["bind"], m["connect"]) {
        case (let b?, nil):
            if m["server_key"] != nil { problem(m["server_key"], join(path, "server_key"), "applies to connect entries only") }
            return endpoint(b, join(path, "bind")).map { ($0, nil) }
        case (nil, let c?):
            guard let ep = endpoint(c, join(path, "connect")) else { return nil }
            if ep.hasSuffix(":*") { problem(c, join(path, "connect"), "a connect endpoint needs a port, not '*'"); return nil }
            let key = opt(m, "server_key", path) { self.keyFile($0, $1, secret: false) }
            return (nil, ConnectEndpoint(endpoint: ep, serverKey: key))
        default:
            problem(n, path, "needs exactly one of bind or connect")
            return nil
        }
    }

    func security(_ n: Node, _ path: String) -> CurveConfig? {
        guard let m = mapping(n, path, keys: ["curve"]), let c = m["curve"] else { return nil }
        let cp = join(path, "curve")
        guard let cm = mapping(c, cp, keys: ["secret_key", "authorized_keys"]) else { return nil }
        let secret = required(cm, "secret_key", cp, at: c) { self.keyFile($0, $1, secret: true) }
        let authorized = opt(cm, "authorized_keys", cp) { n, p -> String? in
            guard let dir = self.directory(n, p) else { return nil }
            if self.checkFiles, FileManager.default.fileExists(atPath: dir) {
                do { _ = try Curve.authorizedKeys(directory: dir) } catch { self.problem(n, p, "\(error)") }
            }
            return dir
        }
        if !Curve.available { problem(c, cp, "this libzmq was built without CURVE") }
        return secret.map { CurveConfig(secretKey: $0, authorizedKeys: authorized) }
    }

    /// A key file path (resolved); with checkFiles the key is read and, for a secret key,
    /// its mode checked. The error names the file, never the key.
    func keyFile(_ n: Node, _ path: String, secret: Bool) -> String? {
        guard let s = string(n, path) else { return nil }
        let full = resolve(s)
        if checkFiles {
            do {
                if secret { _ = try CurveKeys.load(secretKeyFile: full) } else { _ = try Curve.readPublicKey(full) }
            } catch { problem(n, path, "\(error)") }
        }
        return full
    }

    /// CURVE needs both sides: bound sockets need the authorized keys, connects the server's key.
    func checkCurve(_ c: DaemonConfig, _ m: [String: Node]) {
        let pub = m["publisher"]
        if let curve = c.curve {
            let binds = !c.publisher.endpoints.isEmpty || c.externalBoxesEndpoint != nil
            if binds && curve.authorizedKeys == nil {
                problem(m["security"], "security.curve.authorized_keys", "required: bound sockets (publisher, external_boxes) let in only the clients whose public keys are there")
            }
            for e in c.publisher.connect where e.serverKey == nil {
                problem(pub, "publisher.endpoints", "connect \(e.endpoint) needs server_key (the aggregator's public key file) with security.curve")
            }
        } else if let e = c.publisher.connect.first(where: { $0.serverKey != nil }) {
            problem(pub, "publisher.endpoints", "connect \(e.endpoint) has a server_key but security.curve is not set (this node's own keypair)")
        }
    }
}

/// What an operator should know about a valid configuration's exposure.
public enum SecurityAdvice {
    /// One warning per endpoint bound beyond the loopback without CURVE; with CURVE, an
    /// authorized keys directory without keys (nobody can connect).
    public static func warnings(_ c: DaemonConfig) -> [String] {
        if let dir = c.curve?.authorizedKeys {
            let binds = !c.publisher.endpoints.isEmpty || c.externalBoxesEndpoint != nil
            if binds, let keys = try? Curve.authorizedKeys(directory: dir), keys.isEmpty {
                return ["security.curve.authorized_keys \(dir) holds no *.pub file: no client can connect to the bound endpoints"]
            }
        }
        guard c.curve == nil else { return [] }
        var out: [String] = []
        for e in c.publisher.endpoints where !isLocal(e) {
            out.append("publisher endpoint \(e) is reachable beyond this host without CURVE: anyone on the network can read the regions (set security.curve)")
        }
        if let e = c.externalBoxesEndpoint, !isLocal(e) {
            out.append("external_boxes endpoint \(e) is reachable beyond this host without CURVE: anyone on the network can push boxes (set security.curve)")
        }
        return out
    }

    /// ipc:// and tcp:// on a loopback address stay on the host.
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://"), let (host, _) = splitHostPort(String(endpoint.dropFirst(6))) else { return false }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
