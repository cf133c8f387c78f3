//! Checkpoints: a `VarStore` as safetensors, written atomically and loaded with shape checks.

use ebm_core::{EbmError, Result};
use std::path::Path;
use tch::nn::VarStore;
use tch::Tensor;

/// Saves every variable of `vs` to `path` (safetensors).
///
/// The file is first written next to `path` as a `tempfile` temporary file and then renamed
/// over it, so a crash or a full disk never leaves a half-written checkpoint in place of a
/// good one.
pub fn save_checkpoint(vs: &VarStore, path: &Path) -> Result<()> {
    write_atomically(path, |tmp| vs.save(tmp))
}

/// Runs `write` on a temporary `.safetensors` file beside `path`, then renames it over `path`:
/// a crash or a full disk never leaves a half-written file in place of a good one. `path`
/// must be a file path ending in `.safetensors`.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<(), tch::TchError>,
) -> Result<()> {
    if path.file_name().is_none() {
        return Err(EbmError::Checkpoint(format!(
            "{} is not a file path",
            path.display()
        )));
    }
    if path.extension().is_none_or(|e| e != "safetensors") {
        return Err(EbmError::Checkpoint(format!(
            "{} must end in .safetensors",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Keep the extension last: VarStore picks the format from it.
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .suffix(".safetensors")
        .tempfile_in(dir)
        .map_err(|e| EbmError::Checkpoint(format!("cannot write in {}: {e}", dir.display())))?;
    write(tmp.path())
        .map_err(|e| EbmError::Checkpoint(format!("cannot write {}: {e}", tmp.path().display())))?;
    tmp.persist(path).map_err(|e| {
        EbmError::Checkpoint(format!(
            "cannot move {} to {}: {}",
            e.file.path().display(),
            path.display(),
            e.error
        ))
    })?;
    Ok(())
}

/// Loads `path` into `vs`. Every variable of the model must be in the file with the same
/// shape and finite values; a missing name, a shape mismatch or a NaN/infinite parameter is
/// an [`EbmError::Checkpoint`] naming it, and the model is left unchanged.
pub fn load_checkpoint(vs: &mut VarStore, path: &Path) -> Result<()> {
    let stored = Tensor::read_safetensors(path)
        .map_err(|e| EbmError::Checkpoint(format!("cannot read {}: {e}", path.display())))?;
    let stored: std::collections::HashMap<String, Tensor> = stored.into_iter().collect();
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, var) in &variables {
        match stored.get(name) {
            None => {
                return Err(EbmError::Checkpoint(format!(
                    "{} has no parameter `{name}`: it was saved from another architecture",
                    path.display()
                )))
            }
            Some(t) if t.size() != var.size() => {
                return Err(EbmError::Checkpoint(format!(
                    "parameter `{name}` has shape {:?} in {} but {:?} in the model: the checkpoint is of another shape",
                    t.size(),
                    path.display(),
                    var.size()
                )))
            }
            Some(t) => {
                let finite = t.f_isfinite()?.f_all()?;
                if !bool::try_from(finite)? {
                    let nan = i64::try_from(t.f_isnan()?.f_sum(tch::Kind::Int64)?)?;
                    let total = t.numel();
                    return Err(EbmError::Checkpoint(format!(
                        "parameter `{name}` in {} holds non-finite values ({nan} NaN of {total}, the rest infinite): the model it was saved from had diverged",
                        path.display()
                    )));
                }
            }
        }
    }
    if let Some(extra) = stored
        .keys()
        .find(|k| !variables.iter().any(|(n, _)| n == *k))
    {
        return Err(EbmError::Checkpoint(format!(
            "{} holds parameter `{extra}`, which the model does not have",
            path.display()
        )));
    }
    let _guard = tch::no_grad_guard();
    for (name, mut var) in variables {
        if let Some(t) = stored.get(&name) {
            var.f_copy_(&t.f_to_device(var.device())?.f_to_kind(var.kind())?)?;
        }
    }
    Ok(())
}
