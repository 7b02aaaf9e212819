import Foundation
import NIOSSL

/// A PEM certificate chain and private key as configured (RTMPS here, HTTPS for the API in the
/// app), checked the way start-up will use them. Each problem names the file it is about and
/// says what to change — never BoringSSL's error stack, which carries build paths.
public struct TLSFiles: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String

    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }

    /// Which of the two files a problem is about.
    public enum Part: Sendable, Equatable { case certificate, key }

    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var part: Part
        public var reason: String
        public var description: String { reason }
    }

    /// The first problem found, or nil when a TLS server context can be built from the files:
    /// both readable, a certificate in the one, a key in the other, and the key the certificate's.
    public func problem() -> Problem? {
        do {
            _ = try makeContext()
            return nil
        } catch {
            return error
        }
    }

    /// The server configuration, or the `Problem` that stops it.
    public func serverConfiguration() throws(Problem) -> TLSConfiguration {
        for (part, path) in [(Part.certificate, certificatePath), (.key, keyPath)] {
            guard FileManager.default.fileExists(atPath: path) else { throw Problem(part: part, reason: "\(path): no such file") }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw Problem(part: part, reason: "\(path): not readable by this user (uid \(getuid()))")
            }
        }
        let certificateText = (try? String(contentsOfFile: certificatePath, encoding: .utf8)) ?? ""
        let keyText = (try? String(contentsOfFile: keyPath, encoding: .utf8)) ?? ""
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            chain = []
        }
        guard !chain.isEmpty else {
            let swapped = certificateText.contains("PRIVATE KEY") && keyText.contains("BEGIN CERTIFICATE")
            throw Problem(part: .certificate, reason: swapped
                ? "\(certificatePath): holds a private key, not a certificate (certificate and key swapped?)"
                : "\(certificatePath): no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw Problem(part: .key, reason: keyText.contains("BEGIN CERTIFICATE") && !keyText.contains("PRIVATE KEY")
                ? "\(keyPath): holds a certificate, not a private key (certificate and key swapped?)"
                : keyText.contains("ENCRYPTED")
                    ? "\(keyPath): the private key is encrypted; give an unencrypted PEM key"
                    : "\(keyPath): no PEM private key in it (expected -----BEGIN PRIVATE KEY-----)")
        }
        return .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }

    /// A context from the files; the key is checked against the certificate here (BoringSSL
    /// refuses a key whose public half is not the leaf certificate's).
    public func makeContext() throws(Problem) -> NIOSSLContext {
        let configuration = try serverConfiguration()
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw Problem(part: .key, reason: "\(keyPath): this private key does not belong to the certificate in \(certificatePath)")
        }
    }
}
