//! The path from a bundle signer's certificate to a trust anchor: the block's other
//! certificates are candidate intermediates, never trusted themselves. Each link is checked by
//! `sigstore::cert::verify_signed_by` (names chain, the issuer's key verifies); an issuer must be
//! a CA allowed to sign certificates, within its path length, whose extended key usage (if any)
//! admits code signing, and with no critical extension this verifier does not understand.
//! Bounded: at most [`MAX_INTERMEDIATES`] intermediates and [`MAX_LINK_CHECKS`] signature checks.

use const_oid::{AssociatedOid as _, ObjectIdentifier};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, ExtendedKeyUsage, KeyUsage,
    SubjectAltName, SubjectKeyIdentifier,
};

use crate::sigstore::cert::{ParsedCert, verify_signed_by};
use crate::sigstore::oid::{EKU_ANY, EKU_CODE_SIGNING};

pub const MAX_INTERMEDIATES: usize = 4;
pub const MAX_LINK_CHECKS: usize = 64;

/// Extensions whose meaning this verifier applies (or that only describe): any other marked
/// critical makes a certificate unusable, as RFC 5280 section 4.2 requires.
fn understood(oid: &ObjectIdentifier) -> bool {
    [
        BasicConstraints::OID,
        KeyUsage::OID,
        ExtendedKeyUsage::OID,
        SubjectAltName::OID,
        SubjectKeyIdentifier::OID,
        AuthorityKeyIdentifier::OID,
        CertificatePolicies::OID,
    ]
    .contains(oid)
}

/// The first critical extension of `c` that is not understood.
pub fn unknown_critical(c: &ParsedCert) -> Option<ObjectIdentifier> {
    c.cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.critical && !understood(&e.extn_id))
        .map(|e| e.extn_id)
}

/// Why `issuer` may not sign certificates with `below` intermediates beneath it.
fn cannot_issue(issuer: &ParsedCert, below: usize) -> Option<String> {
    let tbs = issuer.cert.tbs_certificate();
    let bc = match tbs.get_extension::<BasicConstraints>() {
        Ok(Some((_, bc))) if bc.ca => bc,
        Ok(_) => return Some("not a CA".into()),
        Err(e) => return Some(format!("unreadable basicConstraints: {e}")),
    };
    if let Some(max) = bc.path_len_constraint
        && below > usize::from(max)
    {
        return Some(format!("path length {below} beyond its limit {max}"));
    }
    match tbs.get_extension::<KeyUsage>() {
        Ok(Some((_, ku))) if !ku.key_cert_sign() => return Some("no keyCertSign usage".into()),
        Ok(_) => {}
        Err(e) => return Some(format!("unreadable keyUsage: {e}")),
    }
    match tbs.get_extension::<ExtendedKeyUsage>() {
        Ok(Some((_, eku)))
            if !eku
                .0
                .iter()
                .any(|p| *p == EKU_CODE_SIGNING || *p == EKU_ANY) =>
        {
            return Some("extended key usage without code signing".into());
        }
        Ok(_) => {}
        Err(e) => return Some(format!("unreadable extendedKeyUsage: {e}")),
    }
    unknown_critical(issuer).map(|oid| format!("critical extension {oid} not understood"))
}

struct Search<'a> {
    pool: &'a [ParsedCert],
    anchors: &'a [ParsedCert],
    /// Only issuers valid at this time (Unix seconds), when set.
    at: Option<i64>,
    budget: usize,
    /// Why the last candidate issuer with the right name was refused.
    refused: Option<String>,
}

impl<'a> Search<'a> {
    fn issues(&mut self, issuer: &ParsedCert, child: &ParsedCert, below: usize) -> bool {
        if issuer.cert.tbs_certificate().subject() != child.cert.tbs_certificate().issuer() {
            return false;
        }
        let subject = crate::sigstore::name::rfc4514(issuer.cert.tbs_certificate().subject());
        if let Some(why) = cannot_issue(issuer, below) {
            self.refused = Some(format!("`{subject}`: {why}"));
            return false;
        }
        if let Some(t) = self.at
            && !issuer.valid_at(t)
        {
            self.refused = Some(format!("`{subject}` is not valid now"));
            return false;
        }
        if self.budget == 0 {
            self.refused = Some(format!("more than {MAX_LINK_CHECKS} signature checks"));
            return false;
        }
        self.budget -= 1;
        match verify_signed_by(child, issuer) {
            Ok(()) => true,
            Err(e) => {
                self.refused = Some(e.to_string());
                false
            }
        }
    }

    /// Extends `path` (leaf first) to an anchor, depth first.
    fn extend(&mut self, path: &mut Vec<&'a ParsedCert>) -> bool {
        let Some(child) = path.last().copied() else {
            return false;
        };
        let below = path.len() - 1;
        for a in self.anchors {
            // A certificate that is itself an anchor needs no issuer (a pinned signer).
            if a.der == child.der {
                return true;
            }
            if self.issues(a, child, below) {
                path.push(a);
                return true;
            }
        }
        if below >= MAX_INTERMEDIATES {
            return false;
        }
        for i in self.pool {
            if path.iter().any(|p| p.der == i.der) || !self.issues(i, child, below) {
                continue;
            }
            path.push(i);
            if self.extend(path) {
                return true;
            }
            path.pop();
        }
        false
    }
}

/// What the search found.
pub enum Found<'a> {
    /// Leaf first, the anchor (or the pinned leaf itself) last; every issuer valid at `now`.
    Path(Vec<&'a ParsedCert>),
    /// A path exists only through this issuer, not valid at `now`.
    ExpiredIssuer(&'a ParsedCert),
    /// No path; why the last candidate was refused, if one had the right name.
    None(Option<String>),
}

/// Searches a path from `leaf` through `pool` to one of `anchors`, preferring issuers valid at
/// `now`.
pub fn find_path<'a>(
    leaf: &'a ParsedCert,
    pool: &'a [ParsedCert],
    anchors: &'a [ParsedCert],
    now: i64,
) -> Found<'a> {
    let mut search = Search {
        pool,
        anchors,
        at: Some(now),
        budget: MAX_LINK_CHECKS,
        refused: None,
    };
    let mut path = vec![leaf];
    if search.extend(&mut path) {
        return Found::Path(path);
    }
    let refused = search.refused.take();
    let mut any_time = Search {
        at: None,
        budget: MAX_LINK_CHECKS,
        refused: None,
        ..search
    };
    let mut path = vec![leaf];
    if any_time.extend(&mut path)
        && let Some(c) = path.iter().skip(1).find(|c| !c.valid_at(now))
    {
        return Found::ExpiredIssuer(c);
    }
    Found::None(refused)
}
