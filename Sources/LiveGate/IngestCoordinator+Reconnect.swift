import ChannelStore
import Foundation
import IngestCore
import LiveGateModel
import Logging
import RTMPCore
import RTMPServer

/// Moving publishers (docs/contract.md §6, "Moving publishers"): Enhanced RTMP's
/// `NetConnection.Connect.ReconnectRequest`, sent by a drain to every publisher that declared
/// Reconnect in `capsEx`, or for one channel through `POST /v1/channels/{id}/reconnect`. The
/// request's `tcUrl` carries a `ReconnectToken`; the publisher connecting with it takes its
/// session over on whichever node it lands, whatever the duplicate policy. On this node the old
/// connection keeps feeding the outputs until the new one's first keyframe, then is closed: no
/// offline/live pair, no gap, no frame from both.
extension IngestCoordinator {
    /// A move in progress on this node: `to` has been accepted, `from` still feeds the outputs.
    struct Handover: Sendable {
        var channelId: String
        var from: ConnectionID
        /// `to`'s first keyframe has arrived.
        var keyframe = false
        /// The outputs' continuation for `to`, held until its first keyframe.
        var heldOutputs: String?
    }

    /// How long the old connection may keep feeding the outputs at most, when the new one
    /// sends no keyframe (audio only) or is slow to.
    static let handoverBound: TimeInterval = 3

    public func setReconnect(secret: String, tcUrl: String?) {
        reconnectSecret = secret
        reconnectTcUrl = tcUrl
    }

    /// Asks the channel's publisher to reconnect; what it did. `.notCapable`: its encoder did not
    /// declare Reconnect (it would not understand the request), or this gateway has no key to sign with.
    public func requestReconnect(_ channelId: String, why: String) async -> ReconnectResult {
        guard let tracked = channels[channelId], tracked.machine.phase == .live, let ingest = current(tracked) else { return .notLive }
        guard let secret = reconnectSecret, ingest.request.connect.capabilities?.canReconnect == true else { return .notCapable }
        let expires = clock.now().addingTimeInterval(ReconnectToken.validity)
        let token = ReconnectToken.make(channelId: channelId, expires: expires, secret: secret)
        let base = reconnectTcUrl ?? ingest.request.connect.tcUrl.map { String($0.split(separator: "?", maxSplits: 1).first ?? "") }
        ingest.requestReconnect(tcUrl: base.map { ReconnectToken.url($0, token: token) }, description: why)
        logger.info("publisher asked to reconnect", metadata: ["channel": "\(channelId)", "why": "\(why)", "rtmp.connection.id": "\(ingest.connectionID)",
                                                                "tcUrl": "\(base ?? "its own")"])
        return .sent(nodeId: nodeId, validUntil: expires)
    }

    /// `LiveSessionControl`: this node's publisher, asked through the API.
    public func requestReconnect(_ channelId: String) async -> ReconnectResult {
        await requestReconnect(channelId, why: "Asked through the API; please reconnect.")
    }

    /// A drain asks every capable publisher to move first; the others are let go at the stop.
    func askPublishersToMove() async -> Int {
        var asked = 0
        for id in Array(channels.keys) {
            if case .sent = await requestReconnect(id, why: "This server is stopping; please reconnect.") { asked += 1 }
        }
        return asked
    }

    /// Whether a publish carries a valid reconnect token for the channel.
    func movedByReconnectRequest(_ request: PublishRequest, channelId: String) -> Bool {
        guard let secret = reconnectSecret else { return false }
        return ReconnectToken.isValid(query: request.connect.query, channelId: channelId, now: clock.now(), secret: secret)
    }

    /// `.handOver` from the machine: `to` is accepted; `from` goes on until `to`'s first keyframe.
    func beginHandover(from: ConnectionID, to: ConnectionID, channelId: String) {
        handovers[to] = Handover(channelId: channelId, from: from)
        logger.info("publisher reconnected as asked; switching at its first keyframe", metadata: [
            "channel": "\(channelId)", "rtmp.connection.id": "\(to)", "from.connection.id": "\(from)"])
        let sink = commandSink
        Task {
            try? await Task.sleep(for: .milliseconds(Int(Self.handoverBound * 1000)))
            sink.yield(.firstKeyframe(to, timedOut: true))
        }
    }

    /// `.continueOutputs` for a connection being handed over: held until its first keyframe.
    func holdsOutputs(_ connection: ConnectionID, sessionId: String) -> Bool {
        guard var handover = handovers[connection], !handover.keyframe else { return false }
        handover.heldOutputs = sessionId
        handovers[connection] = handover
        return true
    }

    /// The new connection's first keyframe (or the bound): the outputs switch to it and the old
    /// connection is closed, told it was moved.
    func firstKeyframe(_ connection: ConnectionID, timedOut: Bool) async {
        guard var handover = handovers[connection], !handover.keyframe else { return }
        handover.keyframe = true
        handovers[connection] = nil
        if timedOut {
            logger.notice("the reconnected publisher sent no keyframe in time; switching anyway", metadata: [
                "channel": "\(handover.channelId)", "rtmp.connection.id": "\(connection)"])
        }
        if let sessionId = handover.heldOutputs, let tracked = channels[handover.channelId] {
            await startOutputs(channelId: handover.channelId, sessionId: sessionId, connectionID: connection, part: tracked.book.outputsPart,
                               continuesSince: tracked.book.outputsPart == nil ? nil : tracked.book.record?.startedAt)
        } else if channels[handover.channelId]?.machine.connection == connection {
            // Accepted, not yet started: its outputs continue the session's when it starts.
        }
        await perform(.kick(handover.from, NetStatus(level: .status, code: .unpublishSuccess, description: "moved to its new connection"), reason: nil),
                      channelId: handover.channelId)
    }
}
