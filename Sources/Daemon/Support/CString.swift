// A C string a C call wrote into a Swift buffer (zmq_curve_keypair, readlink, inet_ntop):
// the bytes up to the first NUL, as UTF-8. `String(cString:)` on an array is deprecated.
extension String {
    init(nulTerminated chars: [CChar]) {
        self = String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
