//! Reason codes: the one typed list of why a verification was rejected (exit 1) or could not be
//! decided (exit 2). Each code is documented in spec/cli.md's reason table, and a test keeps the
//! two lists equal. JSON reports carry the kebab-case text.

macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident => $text:literal, )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Reason {
            $( $(#[$doc])* $variant, )*
        }

        impl Reason {
            /// Every reason code, in the order of spec/cli.md.
            pub const ALL: &'static [Reason] = &[ $( Reason::$variant, )* ];

            /// The stable kebab-case code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Reason::$variant => $text, )*
                }
            }

            /// The reason a code names, if any.
            pub fn parse(code: &str) -> Option<Reason> {
                match code {
                    $( $text => Some(Reason::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

reasons! {
    // The bundle and its signature.
    /// Not JSON, truncated, duplicate keys, wrong shape or media type, not a DSSE bundle.
    MalformedBundle => "malformed-bundle",
    /// The envelope carries no signature (an MCP bundle: no signature block).
    Unsigned => "unsigned",
    /// An MCP bundle's signature block, or the PKCS#7 in it, cannot be read.
    MalformedSignature => "malformed-signature",
    /// Signed by another key than the trusted one, or by a certificate when a key is trusted.
    UntrustedSigner => "untrusted-signer",
    /// No signature verifies.
    BadSignature => "bad-signature",
    /// A key in the bundle or the trust material cannot be read.
    MalformedKey => "malformed-key",
    /// The certificate's identity, issuer or an extension does not match the policy.
    IdentityMismatch => "identity-mismatch",
    BadCertificateChain => "bad-certificate-chain",
    BadCertificate => "bad-certificate",
    BadSct => "bad-sct",
    /// The signing certificate was not valid at the verified signing time.
    CertificateExpired => "certificate-expired",
    BadSet => "bad-set",
    BadInclusionProof => "bad-inclusion-proof",
    BadCheckpoint => "bad-checkpoint",
    LogEntryMismatch => "log-entry-mismatch",
    UntrustedLog => "untrusted-log",
    MissingTransparency => "missing-transparency",
    BadTimestamp => "bad-timestamp",
    /// No signed time (SET or RFC 3161 timestamp) vouches for when the entry was logged.
    NoSignedTime => "no-signed-time",
    MalformedTrustedRoot => "malformed-trusted-root",
    // The statement and the manifest.
    MalformedStatement => "malformed-statement",
    WrongPredicateType => "wrong-predicate-type",
    MalformedManifest => "malformed-manifest",
    SubjectMismatch => "subject-mismatch",
    /// The manifest's `expiresAt` has passed.
    Expired => "expired",
    NotYetValid => "not-yet-valid",
    // Artifacts on disk.
    ArtifactUnchecked => "artifact-unchecked",
    ArtifactMismatch => "artifact-mismatch",
    /// A bundle attached in an OCI registry is not what the descriptors leading to it name.
    ReferrerMismatch => "referrer-mismatch",
    UnsafeSymlink => "unsafe-symlink",
    SpecialFile => "special-file",
    UnsafePath => "unsafe-path",
    TooManyEntries => "too-many-entries",
    // Tools of the live server.
    ToolDrift => "tool-drift",
    InvalidToolPins => "invalid-tool-pins",
    NoToolPins => "no-tool-pins",
    ServerMisbehaved => "server-misbehaved",
    // Client configurations (`mcp-verify config`, spec/client-config.md).
    /// A configured local server that no signed manifest covers.
    NotCovered => "not-covered",
    /// A configured server reached over HTTP: nothing local to verify.
    RemoteServer => "remote-server",
    // Verified launch (`mcp-verify run`, spec/cli.md).
    /// The command the client gave is not the manifest's signed launch, or there is nothing
    /// local to launch from.
    LaunchMismatch => "launch-mismatch",
    // The trust policy (spec/policy.md).
    /// The policy's rule for this server accepts only keyless signatures; the bundle is key-signed.
    KeylessRequired => "keyless-required",
    /// The version is below the rule's `min-version`, or is not semver under such a rule.
    VersionTooLow => "version-too-low",
    /// `issuedAt` is older than the rule's `max-age`.
    ManifestTooOld => "manifest-too-old",
    /// The signing key, the signing identity or the manifest is on the revocation list.
    Revoked => "revoked",
    /// The revocation list is missing, unreachable, expired, not yet valid, badly signed or
    /// malformed.
    RevocationStale => "revocation-stale",
    // TUF refresh of the trusted root (spec/trust.md).
    BelowThreshold => "below-threshold",
    VersionMismatch => "version-mismatch",
    Rollback => "rollback",
    MetadataExpired => "metadata-expired",
    MetadataMismatch => "metadata-mismatch",
    TargetHashMismatch => "target-hash-mismatch",
    TargetLengthMismatch => "target-length-mismatch",
    TargetMissing => "target-missing",
    OversizedMetadata => "oversized-metadata",
    RootRotationLimit => "root-rotation-limit",
    MalformedMetadata => "malformed-metadata",
    /// The cached repository's root chain does not lead from the trust anchor to its root.
    RootChainBroken => "root-chain-broken",
    /// The cache folder or a file in it can be written by another user.
    UnsafeCache => "unsafe-cache",
    // The pin store (spec/pin-store.md); `rollback` above is its code for a lower version too.
    /// The release is signed by another signer than the pinned one.
    SignerChanged => "signer-changed",
    /// A newer release changes what the server may do; `--accept` approves it.
    NeedsApproval => "needs-approval",
    /// A newer release's `previous` does not name the pinned release, and a chain is required.
    ChainBroken => "chain-broken",
    /// A pin store record cannot be read as one (exit 2; the file is left as it is).
    PinStoreCorrupt => "pin-store-corrupt",
    /// The pin store folder or a file in it can be written by another user (exit 2).
    UnsafePinStore => "unsafe-pin-store",
    // Could not decide (exit 2).
    Network => "network",
    Io => "io",
    Error => "error",
}

impl Reason {
    /// True for the codes that mean "could not decide" (exit 2) rather than "rejected".
    pub fn is_undecided(self) -> bool {
        matches!(
            self,
            Reason::Network
                | Reason::Io
                | Reason::Error
                | Reason::PinStoreCorrupt
                | Reason::UnsafePinStore
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.as_str()), "{r} twice");
            assert_eq!(Reason::parse(r.as_str()), Some(*r));
            assert!(
                r.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
            );
        }
    }

    /// spec/cli.md's reason table lists exactly these codes.
    #[test]
    fn spec_lists_every_code() {
        let spec = include_str!("../spec/cli.md");
        let start = spec
            .find("\n### Reason codes\n")
            .expect("spec/cli.md has a `### Reason codes` section");
        let mut documented = std::collections::BTreeSet::new();
        let lines = spec[start..].lines().skip(2);
        for line in lines
            .take_while(|l| !l.starts_with('#'))
            .filter(|l| l.starts_with("| `"))
        {
            let first = line.split('|').nth(1).unwrap_or("");
            for code in first.split('`').skip(1).step_by(2) {
                documented.insert(code.to_owned());
            }
        }
        let code: std::collections::BTreeSet<String> =
            Reason::ALL.iter().map(|r| r.as_str().to_owned()).collect();
        assert_eq!(
            documented, code,
            "spec/cli.md's reason table and Reason::ALL differ"
        );
    }
}
