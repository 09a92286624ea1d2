//! `mcp-sign attach`: push a signed bundle into the registry of the image its manifest pins,
//! attached to that image (an OCI 1.1 referrer). Decisions live in `mcpsig::sign::attach`.

use std::path::PathBuf;

use clap::Args;
use mcpsig::registry::oci::{ImageRef, Options, Via};
use mcpsig::sign::attach::{AttachRequest, attach_bundle};

use super::{Failure, emit, refused};

#[derive(Args)]
#[command(after_help = "\
Examples:
  mcp-sign attach mcp-manifest.sigstore.json oci://ghcr.io/acme/weather@sha256:<hex>
  mcp-sign attach mcp-manifest.sigstore.json oci://127.0.0.1:5000/acme/weather:1.2.0

A tag is resolved to the image's manifest digest first (and said so); the bundle is attached
to that digest. Registries with the OCI 1.1 referrers API index the attachment themselves; for
the others the referrers index tag `sha256-<hex>` is updated too. Credentials come from
MCPSIG_REGISTRY_TOKEN, or MCPSIG_REGISTRY_USERNAME and MCPSIG_REGISTRY_PASSWORD, else the
docker configuration (~/.docker/config.json `auths`). Plain HTTP is spoken only to a registry
on loopback, unless --insecure is given. See spec/oci.md.")]
pub struct AttachArgs {
    /// The signed bundle (`*.sigstore.json`) whose manifest pins the image.
    bundle: PathBuf,
    /// The image: `oci://REGISTRY/REPO@sha256:HEX` or `oci://REGISTRY/REPO:TAG`.
    #[arg(value_name = "oci://REGISTRY/REPO@DIGEST")]
    image: String,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    insecure: bool,
    /// Seconds each registry operation may take.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    timeout: u64,
}

pub fn run(a: AttachArgs) -> Result<(), Failure> {
    let image = ImageRef::parse(&a.image).map_err(refused)?;
    let bundle = mcpsig::fsutil::read_limited(&a.bundle, mcpsig::json::MAX_DOCUMENT_BYTES as u64)?;
    let options = Options {
        insecure: a.insecure,
        timeout: std::time::Duration::from_secs(a.timeout.max(1)),
        ..Options::default()
    };
    let done = attach_bundle(&AttachRequest {
        bundle: &bundle,
        image: &image,
        options: &options,
    })
    .map_err(|e| Failure {
        code: if e.is_refusal() {
            cli::EXIT_REJECTED
        } else {
            cli::EXIT_ERROR
        },
        hint: e.hint(),
        err: anyhow::Error::new(e).context(format!(
            "cannot attach `{}` to {}",
            a.bundle.display(),
            cli::one_line(&image.to_string())
        )),
    })?;
    let at = &done.attached;
    if let Some(tag) = &done.tag {
        cli::errln!("resolved {}:{tag} to {}", done.image, at.subject.digest);
    }
    let how = match (at.via, &at.fallback_tag) {
        (Via::FallbackTag, Some(tag)) => format!(
            "the registry has no referrers API: listed in the referrers index tag `{tag}`{}",
            if at.index_updated {
                ""
            } else {
                " (already there)"
            }
        ),
        _ => "the registry's referrers API lists it".to_owned(),
    };
    cli::errln!(
        "attached {} to {}@{} as referrer {} ({} bytes); {how}",
        a.bundle.display(),
        done.image,
        at.subject.digest,
        at.referrer.digest,
        bundle.len()
    );
    let mut json = serde_json::to_value(&done).map_err(anyhow::Error::new)?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "bundle".into(),
            serde_json::Value::String(a.bundle.display().to_string()),
        );
    }
    emit(&at.referrer.digest.to_string(), json);
    Ok(())
}
