//! Reading checkpoints: PyTorch zip-format `.pth` (candle's pickle reader) and safetensors.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::EngineError;

/// Fails with an I/O error (exit 3) when the file cannot be opened, so that later parse errors mean a bad file.
fn ensure_readable(path: &Path) -> Result<(), EngineError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(EngineError::io(path))
}

pub fn load_safetensors(path: &Path) -> Result<HashMap<String, Tensor>, EngineError> {
    ensure_readable(path)?;
    candle_core::safetensors::load(path, &Device::Cpu).map_err(|error| EngineError::CorruptFile {
        path: path.to_path_buf(),
        format: "safetensors",
        reason: error.to_string(),
    })
}

pub fn load_pth(path: &Path) -> Result<Vec<(String, Tensor)>, EngineError> {
    ensure_readable(path)?;
    candle_core::pickle::read_all(path).map_err(|error| EngineError::CorruptFile {
        path: path.to_path_buf(),
        format: "PyTorch checkpoint",
        reason: error.to_string(),
    })
}

/// Loads either format, chosen by extension (`.safetensors`, anything else is read as a `.pth`), sorted by name.
pub fn load_tensors(path: &Path) -> Result<Vec<(String, Tensor)>, EngineError> {
    let mut tensors: Vec<(String, Tensor)> =
        if path.extension().is_some_and(|ext| ext == "safetensors") {
            load_safetensors(path)?.into_iter().collect()
        } else {
            load_pth(path)?
        };
    tensors.sort_by(|left, right| left.0.cmp(&right.0));
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_an_io_error_and_garbage_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pth");
        assert_eq!(
            load_tensors(&missing).unwrap_err().fault(),
            crate::Fault::Machine
        );
        for name in ["garbage.pth", "garbage.safetensors"] {
            let path = dir.path().join(name);
            std::fs::write(&path, b"definitely not a checkpoint").unwrap();
            let error = load_tensors(&path).unwrap_err();
            assert!(matches!(error, EngineError::CorruptFile { .. }), "{error}");
            assert_eq!(error.fault(), crate::Fault::Input);
        }
    }
}
