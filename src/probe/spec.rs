//! A probe as every part of qcompat sees it, whoever wrote it: its name, what a cell must install for it to mean
//! anything, which side of the quantization contrast it stands on, how the built-in engine checks a pass, and what
//! runs. The catalogue's probes and the ones a matrix declares are the same type.

use qcompat_engine::oracle::Oracle;

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    pub name: String,
    /// One line for `qcompat probes` and the docs.
    pub summary: String,
    /// Packages (as published) a cell's environment must hold for the probe's verdict to say anything about it.
    pub needs: Vec<String>,
    pub role: Role,
    /// The built-in engine's check of a pass (none: the engine has no counterpart and a pass stands as it is).
    pub oracle: Option<Oracle>,
    pub body: Body,
}

/// Where a probe stands in the quantization contrast: a cell where quantized probes fail and a control passes has a
/// failure specific to quantization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Quantized,
    /// The same work without quantization.
    Control,
}

/// What runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A script of the catalogue, embedded in the binary and run by the probe runner (`_qcompat.py`).
    Builtin {
        file: &'static str,
        script: &'static str,
    },
}
