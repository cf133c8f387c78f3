//! Checkpoints: a `VarStore` as safetensors, written atomically and loaded with shape checks.

use ebm_core::{EbmError, Result};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::Tensor;

/// Saves every variable of `vs` to `path` (safetensors).
///
/// The file is first written next to `path` under a temporary name and then renamed over
/// it, so a crash or a full disk never leaves a half-written checkpoint in place of a good one.
pub fn save_checkpoint(vs: &VarStore, path: &Path) -> Result<()> {
    let tmp = temporary_path(path)?;
    let result = vs
        .save(&tmp)
        .map_err(|e| EbmError::Checkpoint(format!("cannot write {}: {e}", tmp.display())))
        .and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|e| {
                EbmError::Checkpoint(format!(
                    "cannot move {} to {}: {e}",
                    tmp.display(),
                    path.display()
                ))
            })
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temporary_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| EbmError::Checkpoint(format!("{} is not a file path", path.display())))?;
    let ext_ok = path.extension().is_some_and(|e| e == "safetensors");
    if !ext_ok {
        return Err(EbmError::Checkpoint(format!(
            "{} must end in .safetensors",
            path.display()
        )));
    }
    // Keep the extension last: VarStore picks the format from it.
    let tmp_name = format!(".tmp-{}-{}", std::process::id(), name.to_string_lossy());
    Ok(path.with_file_name(tmp_name))
}

/// Loads `path` into `vs`. Every variable of the model must be in the file with the same
/// shape; a missing name or a shape mismatch is an [`EbmError::Checkpoint`] naming it, and
/// the model is left unchanged.
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
            Some(_) => {}
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
