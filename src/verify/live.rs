//! The live check of a verified manifest's tool pins: only a `Verified<Manifest>` may be
//! launched and compared, so this lives with verification, above `tools`.

use super::Verified;
use crate::manifest::Manifest;
use crate::mcp::env::EnvArg;
use crate::mcp::{ClientOptions, Launch};
use crate::tools::{self, ToolsError, run::ToolsCheck};
use std::path::Path;

/// Launches the verified manifest's server (or `launch`, if given) under the
/// pinned profile and compares what it lists with the pins.
pub fn check_live_tools(
    manifest: &Verified<Manifest>,
    launch: Option<Launch>,
    base_dir: &Path,
    user_env: &[EnvArg],
    options: &ClientOptions,
) -> Result<ToolsCheck, ToolsError> {
    let pins = tools::run::pins_of_manifest(manifest.get())?.ok_or(ToolsError::NoPins)?;
    let launch = match launch {
        Some(l) => l,
        None => {
            let l = manifest.get().launch.as_ref().ok_or(ToolsError::NoLaunch)?;
            tools::run::launch_from_manifest(l, base_dir, user_env)?
        }
    };
    let drift = tools::check_live(&pins, &launch, options)?;
    Ok(ToolsCheck {
        drift,
        lints: tools::lint(&pins),
    })
}
