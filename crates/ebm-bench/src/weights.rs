//! Hands a model's initial weights to the Python side: one raw little-endian f32 file per
//! tensor and a `manifest.json` with names and shapes.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn, Kind, Tensor};

/// One tensor in the manifest.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The VarStore name, e.g. `g.0.weight`.
    pub name: String,
    /// Its shape.
    pub shape: Vec<i64>,
    /// File name inside the folder.
    pub file: String,
}

/// Writes every variable of `vs` into `dir` (created if needed).
pub fn save(vs: &nn::VarStore, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut entries = Vec::with_capacity(named.len());
    for (name, tensor) in named {
        let values: Vec<f32> = Vec::try_from(
            tensor
                .detach()
                .to_device(tch::Device::Cpu)
                .to_kind(Kind::Float)
                .flatten(0, -1),
        )?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let file = format!("{name}.f32");
        std::fs::write(dir.join(&file), bytes)
            .with_context(|| format!("writing {}", dir.join(&file).display()))?;
        entries.push(Entry {
            name,
            shape: tensor.size(),
            file,
        });
    }
    let manifest = serde_json::to_string_pretty(&entries)?;
    std::fs::write(dir.join("manifest.json"), manifest)?;
    Ok(())
}
