import Crypto
import Foundation
import GatewayContracts
import GatewayJSON

/// One link of the audit chain: a delivered report's digest bound to the link before it.
///
/// `hash = SHA-256(previous hash ‖ sequence ‖ report id ‖ Content-Digest ‖ delivered at ‖ receipt digest)`,
/// so changing, removing or reordering any link breaks every hash after it, and pruning old
/// reports from the outbox leaves the chain itself whole.
public struct AuditLink: Sendable, Equatable {
    public let sequence: Int64
    public let reportID: String
    public let contentDigest: String
    public let deliveredAt: Double
    /// SHA-256 (hex) of the centre's receipt, empty when it gave none.
    public let receiptDigest: String
    public let previousHash: String
    public let hash: String

    public static let genesis = String(repeating: "0", count: 64)

    public static func hash(
        previous: String, sequence: Int64, reportID: String, contentDigest: String, deliveredAt: Double, receiptDigest: String
    ) -> String {
        let text = [previous, String(sequence), reportID, contentDigest, String(format: "%.6f", deliveredAt), receiptDigest].joined(
            separator: "\n")
        return Hex.lowercase(SHA256.hash(data: Data(text.utf8)))
    }

    public static func digest(_ text: String?) -> String {
        guard let text else { return "" }
        return Hex.lowercase(SHA256.hash(data: Data(text.utf8)))
    }
}

/// Checks a chain read in sequence order; returns the first bad link in plain words, or nil.
public enum AuditChainCheck {
    public static func firstProblem(in links: [AuditLink]) -> String? {
        var previous = AuditLink.genesis
        var expectedSequence: Int64 = 1
        for link in links {
            if link.sequence != expectedSequence {
                return "link \(expectedSequence) is missing (the next link found is \(link.sequence)): a record was removed"
            }
            if link.previousHash != previous {
                return
                    "link \(link.sequence) (report \(link.reportID)) does not follow link \(link.sequence - 1): records were removed or reordered"
            }
            let expected = AuditLink.hash(
                previous: link.previousHash, sequence: link.sequence, reportID: link.reportID, contentDigest: link.contentDigest,
                deliveredAt: link.deliveredAt, receiptDigest: link.receiptDigest)
            if expected != link.hash {
                return "link \(link.sequence) (report \(link.reportID)) was altered: its contents no longer match its hash"
            }
            previous = link.hash
            expectedSequence += 1
        }
        return nil
    }
}
