//! The probe catalogue. Probe scripts and fixture files are data embedded in the binary, written once per content
//! hash into the cache so that every cell's interpreter can run them.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use qcompat_engine::oracle::Oracle;
use sha2::{Digest, Sha256};

use super::spec::{Body, ProbeSpec, Role};
use crate::error::{Error, Result};

/// A probe of the catalogue as written here; [`Catalog::builtin`] holds each as a [`ProbeSpec`].
struct Builtin {
    name: &'static str,
    needs: &'static [&'static str],
    summary: &'static str,
    role: Role,
    oracle: Option<Oracle>,
    file: &'static str,
    script: &'static str,
}

/// Catalogue order is the order of probes in tables and snapshots.
const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "checkpoint-load",
        needs: &["torch", "lightning", "bitsandbytes"],
        summary: "Lightning BitsandbytesPrecision nf4/nf4-dq: module init, _lazy_load, load_state_dict, NF4 check",
        role: Role::Quantized,
        oracle: Some(Oracle::CheckpointLoad),
        file: "checkpoint_load.py",
        script: include_str!("../../fixtures/probes/checkpoint_load.py"),
    },
    Builtin {
        name: "qlora-train",
        needs: &["torch", "lightning", "bitsandbytes"],
        summary: "LoRA AdamW steps over the NF4 base loaded through the same plugin: loss falls, base stays frozen",
        role: Role::Quantized,
        oracle: Some(Oracle::QloraTrainReplay),
        file: "qlora_train.py",
        script: include_str!("../../fixtures/probes/qlora_train.py"),
    },
    Builtin {
        name: "litgpt-qlora",
        needs: &["torch", "lightning", "bitsandbytes", "litgpt"],
        summary: "litgpt.lora.GPT + litgpt.utils.load_checkpoint under nf4, LoRA training steps",
        role: Role::Quantized,
        oracle: Some(Oracle::LitgptQloraReplay),
        file: "litgpt_qlora.py",
        script: include_str!("../../fixtures/probes/litgpt_qlora.py"),
    },
    Builtin {
        name: "litgpt-generate",
        needs: &["torch", "lightning", "bitsandbytes", "litgpt"],
        summary: "LitGPT nf4 model, greedy generation of a few tokens",
        role: Role::Quantized,
        oracle: Some(Oracle::Generation),
        file: "litgpt_generate.py",
        script: include_str!("../../fixtures/probes/litgpt_generate.py"),
    },
    Builtin {
        name: "litgpt-finetune",
        needs: &["torch", "lightning", "bitsandbytes", "litgpt", "tokenizers"],
        summary: "`litgpt finetune_lora --quantize bnb.nf4` on the tiny checkpoint and data: LoRA moved, base stayed NF4",
        role: Role::Quantized,
        oracle: Some(Oracle::FinetuneCommand {
            prefix: "litgpt-finetune",
        }),
        file: "litgpt_finetune.py",
        script: include_str!("../../fixtures/probes/litgpt_finetune.py"),
    },
    Builtin {
        name: "litgpt-finetune-config",
        needs: &["torch", "lightning", "bitsandbytes", "litgpt", "tokenizers"],
        summary: "the same command from a config-hub-style QLoRA YAML (`litgpt finetune_lora --config qlora.yaml`)",
        role: Role::Quantized,
        oracle: Some(Oracle::FinetuneCommand {
            prefix: "litgpt-finetune-config",
        }),
        file: "litgpt_finetune_config.py",
        script: include_str!("../../fixtures/probes/litgpt_finetune_config.py"),
    },
    Builtin {
        name: "lora-train",
        needs: &["torch", "lightning", "litgpt", "tokenizers"],
        summary: "the control: `litgpt finetune_lora` with the same flags and no --quantize (plain LoRA)",
        role: Role::Control,
        oracle: None,
        file: "lora_train.py",
        script: include_str!("../../fixtures/probes/lora_train.py"),
    },
    Builtin {
        name: "bnb-kernels",
        needs: &["torch", "bitsandbytes"],
        summary: "bitsandbytes NF4 quantize/dequantize round trips (every block size, f32/f16/bf16, double quant) vs the engine",
        role: Role::Quantized,
        oracle: Some(Oracle::Kernels {
            prefix: "bnb-kernels",
        }),
        file: "bnb_kernels.py",
        script: include_str!("../../fixtures/probes/bnb_kernels.py"),
    },
    Builtin {
        name: "bnb-kernels-odd",
        needs: &["torch", "bitsandbytes"],
        summary: "the same round trips on odd element counts (33x17, 7, 1)",
        role: Role::Quantized,
        oracle: Some(Oracle::Kernels {
            prefix: "bnb-kernels-odd",
        }),
        file: "bnb_kernels_odd.py",
        script: include_str!("../../fixtures/probes/bnb_kernels_odd.py"),
    },
    Builtin {
        name: "toy-load",
        needs: &["toyquant"],
        summary: "import, kernel check, lazy load and quantize with the toy package",
        role: Role::Quantized,
        oracle: None,
        file: "toy_load.py",
        script: include_str!("../../fixtures/probes/toy_load.py"),
    },
    Builtin {
        name: "toy-plain",
        needs: &["toyquant"],
        summary: "the toy's control: the same weights loaded eagerly, without quantization",
        role: Role::Control,
        oracle: None,
        file: "toy_plain.py",
        script: include_str!("../../fixtures/probes/toy_plain.py"),
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
    (
        "_finetune.py",
        include_str!("../../fixtures/probes/_finetune.py"),
    ),
    (
        super::preload::FORKSERVER,
        include_str!("../../fixtures/probes/_forkserver.py"),
    ),
    // The CPU swaps: imported by `_stack.py`, and the folder a command probe with `cpu-swaps` gets on PYTHONPATH.
    (
        "usercustomize/qcompat_swaps.py",
        include_str!("../../fixtures/probes/usercustomize/qcompat_swaps.py"),
    ),
    (
        "usercustomize/sitecustomize.py",
        include_str!("../../fixtures/probes/usercustomize/sitecustomize.py"),
    ),
];

/// The folder (inside the materialized scripts) whose `sitecustomize.py` applies the CPU swaps inside a user's
/// process: Python imports it at start-up when the folder is on PYTHONPATH.
pub const SWAPS_DIR: &str = "usercustomize";

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
    // LitGPT's checkpoint layout for its own commands (finetune_lora refuses a folder without them).
    (
        "tiny-gpt/model_config.yaml",
        include_bytes!("../../fixtures/checkpoints/tiny-gpt/model_config.yaml"),
    ),
    (
        "tiny-gpt/tokenizer.json",
        include_bytes!("../../fixtures/checkpoints/tiny-gpt/tokenizer.json"),
    ),
    (
        "tiny-gpt/tokenizer_config.json",
        include_bytes!("../../fixtures/checkpoints/tiny-gpt/tokenizer_config.json"),
    ),
    (
        "finetune/data.json",
        include_bytes!("../../fixtures/checkpoints/finetune/data.json"),
    ),
    (
        "finetune/qlora.yaml",
        include_bytes!("../../fixtures/checkpoints/finetune/qlora.yaml"),
    ),
];

/// The runner script's name inside the materialized folder.
pub const RUNNER: &str = "_qcompat.py";

/// The probes a matrix may name, in catalogue order: the order of probes in plans, tables and snapshots.
#[derive(Debug, Clone)]
pub struct Catalog {
    probes: Vec<Arc<ProbeSpec>>,
}

impl Catalog {
    /// The probes built into qcompat.
    pub fn builtin() -> &'static Catalog {
        static BUILTIN_CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog {
            probes: BUILTIN.iter().map(|b| Arc::new(b.spec())).collect(),
        });
        &BUILTIN_CATALOG
    }

    /// The built-in probes followed by `declared` (a matrix's `[probe.NAME]` tables, in declaration order).
    pub fn with_declared(declared: Vec<ProbeSpec>) -> Catalog {
        let mut probes = Catalog::builtin().probes.clone();
        probes.extend(declared.into_iter().map(Arc::new));
        Catalog { probes }
    }

    pub fn find(&self, name: &str) -> Option<&Arc<ProbeSpec>> {
        self.probes.iter().find(|p| p.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.probes.iter().map(|p| p.name.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<ProbeSpec>> {
        self.probes.iter()
    }

    /// The probes `names` names that the catalogue holds, in catalogue order.
    pub fn select<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<Arc<ProbeSpec>> {
        let names: Vec<&str> = names.into_iter().collect();
        self.probes
            .iter()
            .filter(|p| names.contains(&p.name.as_str()))
            .cloned()
            .collect()
    }

    /// `names` in catalogue order; names the catalogue does not hold follow, in the order first seen.
    pub fn in_order<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut seen: Vec<&'a str> = Vec::new();
        for name in names {
            if !seen.contains(&name) {
                seen.push(name);
            }
        }
        let position = |name: &str| self.probes.iter().position(|p| p.name == name);
        // A stable sort: unknown names (position None, sorted last) keep their first-seen order.
        seen.sort_by_key(|name| position(name).unwrap_or(usize::MAX));
        seen
    }
}

impl Builtin {
    fn spec(&self) -> ProbeSpec {
        ProbeSpec {
            name: self.name.to_string(),
            summary: self.summary.to_string(),
            needs: self.needs.iter().map(|n| n.to_string()).collect(),
            role: self.role,
            oracle: self.oracle,
            body: Body::Builtin {
                file: self.file,
                script: self.script,
            },
        }
    }
}

/// Where the embedded files were written: `scripts` holds the probes, `fixtures` the checkpoints.
pub struct Materialized {
    pub scripts: PathBuf,
    pub fixtures: PathBuf,
}

/// Writes the embedded probes and fixtures under `root/probes/<hash>/` unless an identical copy is there.
/// Content-addressed, so concurrent runs of different qcompat builds never see each other's files.
pub fn materialize(root: &std::path::Path) -> Result<Materialized> {
    let scripts = BUILTIN.iter().map(|p| (p.file, p.script.as_bytes()));
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
    let hash = crate::digest::short_of(hasher);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The probes docs/outcomes.md lists as checked by the engine, each oracle reading the probe's own artifacts.
    #[test]
    fn the_engine_checks_exactly_the_documented_probes() {
        let checked: Vec<&str> = BUILTIN
            .iter()
            .filter(|p| p.oracle.is_some())
            .map(|p| p.name)
            .collect();
        assert_eq!(
            checked,
            [
                "checkpoint-load",
                "qlora-train",
                "litgpt-qlora",
                "litgpt-generate",
                "litgpt-finetune",
                "litgpt-finetune-config",
                "bnb-kernels",
                "bnb-kernels-odd"
            ]
        );
        for probe in BUILTIN {
            if let Some(Oracle::FinetuneCommand { prefix } | Oracle::Kernels { prefix }) =
                probe.oracle
            {
                assert_eq!(prefix, probe.name);
            }
        }
    }

    #[test]
    fn names_come_in_catalogue_order_then_as_first_seen() {
        let names = ["toy-plain", "mine", "checkpoint-load", "toy-plain", "other"];
        assert_eq!(
            Catalog::builtin().in_order(names),
            ["checkpoint-load", "toy-plain", "mine", "other"]
        );
    }
}
