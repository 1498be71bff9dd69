//! The probe catalogue. Probe scripts and fixture files are data embedded in the binary, written once per content
//! hash into the cache so that every cell's interpreter can run them.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub struct ProbeInfo {
    pub name: &'static str,
    /// What a cell needs installed for the probe to mean anything.
    pub needs: &'static str,
    pub summary: &'static str,
    file: &'static str,
    script: &'static str,
}

/// Catalogue order is the order of probes in tables and snapshots.
pub const PROBES: &[ProbeInfo] = &[
    ProbeInfo {
        name: "checkpoint-load",
        needs: "torch, lightning, bitsandbytes",
        summary: "Lightning BitsandbytesPrecision nf4/nf4-dq: module init, _lazy_load, load_state_dict, NF4 check",
        file: "checkpoint_load.py",
        script: include_str!("../../fixtures/probes/checkpoint_load.py"),
    },
    ProbeInfo {
        name: "qlora-train",
        needs: "torch, lightning, bitsandbytes",
        summary: "LoRA AdamW steps over the NF4 base loaded through the same plugin: loss falls, base stays frozen",
        file: "qlora_train.py",
        script: include_str!("../../fixtures/probes/qlora_train.py"),
    },
    ProbeInfo {
        name: "litgpt-qlora",
        needs: "torch, lightning, bitsandbytes, litgpt",
        summary: "litgpt.lora.GPT + litgpt.utils.load_checkpoint under nf4, LoRA training steps",
        file: "litgpt_qlora.py",
        script: include_str!("../../fixtures/probes/litgpt_qlora.py"),
    },
    ProbeInfo {
        name: "litgpt-generate",
        needs: "torch, lightning, bitsandbytes, litgpt",
        summary: "LitGPT nf4 model, greedy generation of a few tokens",
        file: "litgpt_generate.py",
        script: include_str!("../../fixtures/probes/litgpt_generate.py"),
    },
    ProbeInfo {
        name: "bnb-kernels",
        needs: "torch, bitsandbytes",
        summary: "bitsandbytes NF4 quantize/dequantize round trips (every block size, f32/f16/bf16, double quant) vs the engine",
        file: "bnb_kernels.py",
        script: include_str!("../../fixtures/probes/bnb_kernels.py"),
    },
    ProbeInfo {
        name: "bnb-kernels-odd",
        needs: "torch, bitsandbytes",
        summary: "the same round trips on odd element counts (33x17, 7, 1)",
        file: "bnb_kernels_odd.py",
        script: include_str!("../../fixtures/probes/bnb_kernels_odd.py"),
    },
    ProbeInfo {
        name: "toy-load",
        needs: "toyquant (fixtures/toy/: the harness's self-test)",
        summary: "import, kernel check, lazy load and quantize with the toy package",
        file: "toy_load.py",
        script: include_str!("../../fixtures/probes/toy_load.py"),
    },
];

/// Python modules the probes import, written beside them.
const SUPPORT: &[(&str, &str)] = &[
    (
        "_qcompat.py",
        include_str!("../../fixtures/probes/_qcompat.py"),
    ),
    ("_stack.py", include_str!("../../fixtures/probes/_stack.py")),
    (
        "_kernels.py",
        include_str!("../../fixtures/probes/_kernels.py"),
    ),
];

/// The fixture checkpoint shared by the probes and the built-in engine.
const FIXTURES: &[(&str, &[u8])] = &[
    (
        "tiny-gpt/lit_model.pth",
        include_bytes!("../../fixtures/checkpoints/tiny-gpt/lit_model.pth"),
    ),
    (
        "tiny-gpt/config.json",
        include_bytes!("../../fixtures/checkpoints/tiny-gpt/config.json"),
    ),
    (
        "tiny-gpt/train_tokens.json",
        include_bytes!("../../fixtures/checkpoints/tiny-gpt/train_tokens.json"),
    ),
];

/// The runner script's name inside the materialized folder.
pub const RUNNER: &str = "_qcompat.py";

pub fn find(name: &str) -> Option<&'static ProbeInfo> {
    PROBES.iter().find(|p| p.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    PROBES.iter().map(|p| p.name)
}

/// Where the embedded files were written: `scripts` holds the probes, `fixtures` the checkpoints.
pub struct Materialized {
    pub scripts: PathBuf,
    pub fixtures: PathBuf,
}

/// Writes the embedded probes and fixtures under `root/probes/<hash>/` unless an identical copy is there.
/// Content-addressed, so concurrent runs of different qcompat builds never see each other's files.
pub fn materialize(root: &Path) -> Result<Materialized> {
    let scripts = PROBES.iter().map(|p| (p.file, p.script.as_bytes()));
    let support = SUPPORT.iter().map(|(f, s)| (*f, s.as_bytes()));
    let files: Vec<(String, &[u8])> = scripts
        .chain(support)
        .map(|(f, b)| (format!("scripts/{f}"), b))
        .chain(FIXTURES.iter().map(|(f, b)| (format!("fixtures/{f}"), *b)))
        .collect();

    let mut hasher = Sha256::new();
    for (name, bytes) in &files {
        hasher.update(name.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let probes = root.join("probes");
    let dir = probes.join(&hash);
    if !dir.exists() {
        std::fs::create_dir_all(&probes).map_err(|e| Error::io(&probes, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".write-")
            .tempdir_in(&probes)
            .map_err(|e| Error::io(&probes, e))?;
        for (name, bytes) in &files {
            let path = staging.path().join(name);
            let parent = path.parent().expect("files live in folders");
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        }
        // Another run may have won the race; its copy is identical.
        if std::fs::rename(staging.path(), &dir).is_err() && !dir.exists() {
            return Err(Error::infra(format!(
                "could not write probes into {}",
                dir.display()
            )));
        }
    }
    Ok(Materialized {
        scripts: dir.join("scripts"),
        fixtures: dir.join("fixtures"),
    })
}
