import Foundation

/// Decodes a still image (JPEG, PNG, BMP, anything FFmpeg's image demuxers read) to
/// native-size packed RGB24. Errors name the file and the problem.
public func decodeImage(path: String) throws -> RGBImage {
    do {
        let source = try VideoSource(url: path, options: SourceOptions(decoderThreads: 1))
        guard let frame = try source.nextFrame() else {
            throw DecodeError.imageDecodeFailed(path: Redaction.redact(path), reason: "no picture could be decoded")
        }
        return try FrameConverter().rgb(frame, .native)
    } catch let error as DecodeError {
        if case .imageDecodeFailed = error { throw error }
        throw DecodeError.imageDecodeFailed(path: Redaction.redact(path), reason: imageReason(error))
    }
}

private func imageReason(_ e: DecodeError) -> String {
    switch e {
    case let .openFailed(_, r), let .readFailed(_, r), let .decoderFailed(_, r), let .conversionFailed(r): return r
    case .noVideoStream: return "not an image"
    case let .unsupportedCodec(_, c): return "unsupported image codec '\(c)'"
    default: return e.description
    }
}
