// What a stream publishes for each frame: its regions message and its track events,
// from the tracker's state after the frame (StreamPipeline.process calls this last).
import Decode
import Foundation
import Recognizer
import Temporal

extension StreamPipeline {
    /// The frame's regions (non-finite ones dropped and counted), its track events
    /// (started, label changed, merged, ended, in id order) and the regions message.
    func publish(_ frame: VideoFrame, time: Double, info: FrameInfo, inferred: [RecognizedRegion]?) {
        let regions = tracker.regions()
        metrics?.liveTracks.set(Double(tracker.liveTracks.count))
        let live = Dictionary(uniqueKeysWithValues: tracker.liveTracks.map { ($0.id, $0) })
        var records: [RegionRecord] = []
        for r in regions {
            guard let label = r.labelName else { continue }
            let at = inferredAt[r.trackID] ?? (r.provenance.sourceFrame ?? frame.index, frame.pts)
            let box = [Double(r.box.x1), Double(r.box.y1), Double(r.box.x2), Double(r.box.y2)]
            // A non-finite box or score is never published (the JSON writer would turn it
            // into a plausible 0): dropped, counted, logged once per stream.
            guard box.allSatisfy(\.isFinite), r.score.isFinite, r.top.allSatisfy({ $0.score.isFinite }) else {
                metrics?.regionsDropped.inc()
                if !loggedNonFinite {
                    loggedNonFinite = true
                    logger.error("stream \(config.id): track \(r.trackID) has a non-finite box or score; such regions are dropped (regionspotd_regions_dropped_total{reason=\"non_finite\"})")
                }
                continue
            }
            records.append(RegionRecord(
                trackID: r.trackID, box: box, label: label, score: Double(r.score),
                top: r.top.compactMap { i in tracker.vocabulary.flatMap { i.index < $0.count ? LabelScore(label: $0.names[i.index], score: Double(i.score)) : nil } },
                source: ProposalSource(rawValue: live[r.trackID]?.source ?? "") ?? .tracked,
                inferredFrame: at.frame, labelAge: max(0, frame.pts - at.pts), recognizer: engine.kindName))
            // track events
            if let prev = announced[r.trackID] {
                if prev.label != label {
                    sink.send(TrackMessage(stream: config.id, event: .labelChanged, trackID: r.trackID, label: label, previousLabel: prev.label,
                                           score: Double(r.score), box: box, frame: frame.index, pts: frame.pts, time: time))
                }
            } else {
                sink.send(TrackMessage(stream: config.id, event: .started, trackID: r.trackID, label: label, score: Double(r.score),
                                       box: box, frame: frame.index, pts: frame.pts, time: time))
            }
            announced[r.trackID] = (label, box)
        }
        let shown = Set(records.map(\.trackID))
        for m in pendingMerges {
            guard let prev = announced[m.from] else { continue }
            sink.send(TrackMessage(stream: config.id, event: .merged, trackID: m.from, label: prev.label, mergedInto: m.into,
                                   box: prev.box, frame: frame.index, pts: frame.pts, time: time))
            announced[m.from] = nil
            inferredAt[m.from] = nil
        }
        pendingMerges = []
        // In id order: equal inputs give equal message order (replay compares bytes).
        for (id, prev) in announced.sorted(by: { $0.key < $1.key }) where !shown.contains(id) && (live[id] == nil || live[id]!.state == .ended) {
            sink.send(TrackMessage(stream: config.id, event: .ended, trackID: id, label: prev.label, box: prev.box,
                                   frame: frame.index, pts: frame.pts, time: time))
            announced[id] = nil
            inferredAt[id] = nil
        }
        let message = RegionsMessage(stream: config.id, frame: frame.index, pts: frame.pts, time: time, keyframe: frame.isKeyframe,
                                     inferred: inferred != nil, latency: options.synchronous ? nil : max(0, Date().timeIntervalSince1970 - frame.arrival.timeIntervalSince1970),
                                     regions: records.sorted { $0.trackID < $1.trackID })
        if throttle.shouldPublish(streamTime: frame.pts, inferred: inferred != nil) {
            sink.send(message)
        }
        options.onFrame?(frame, message, inferred)
    }
}
