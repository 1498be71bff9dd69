//! `qcompat probes`: the probe catalogue, and with `--matrix FILE` the matrix's own probes after it.

use std::path::Path;

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::matrix;
use qcompat::probe::catalog::Catalog;
use qcompat::probe::spec::{ProbeSpec, Role};

use crate::output;

pub fn run(matrix: Option<&Path>) -> Result<ExitStatus> {
    let catalog = match matrix {
        Some(path) => matrix::load(path)?.catalog,
        None => Catalog::builtin().clone(),
    };
    let width = catalog.names().map(str::len).max().unwrap_or(0);
    let mut text = String::new();
    let mut declared = false;
    for probe in catalog.iter() {
        if probe.command().is_some() && !declared {
            declared = true;
            let source = matrix.map(|m| m.display().to_string()).unwrap_or_default();
            text.push_str(&format!("\ndeclared by {source}:\n"));
        }
        describe(&mut text, probe, width);
    }
    output::stdout(text.as_bytes())?;
    Ok(ExitStatus::Success)
}

fn describe(text: &mut String, probe: &ProbeSpec, width: usize) {
    text.push_str(&format!("{:width$}  {}\n", probe.name, probe.summary));
    let pad = "";
    match probe.command() {
        Some(command) => {
            text.push_str(&format!(
                "{pad:width$}  command: {}\n",
                command.argv.join(" ")
            ));
            text.push_str(&format!("{pad:width$}  dir: {}\n", command.dir.display()));
            if !command.deps.is_empty() {
                text.push_str(&format!(
                    "{pad:width$}  deps: {}\n",
                    command.deps.join(", ")
                ));
            }
            if command.cpu_swaps {
                text.push_str(&format!(
                    "{pad:width$}  cpu-swaps: on a device other than CUDA\n"
                ));
            }
        }
        None => text.push_str(&format!(
            "{pad:width$}  needs: {}\n",
            probe.needs.join(", ")
        )),
    }
    match probe.role {
        Role::Control => text.push_str(&format!(
            "{pad:width$}  control: where quantized probes fail and this passes, the failure is quantization's\n"
        )),
        Role::Quantized if probe.command().is_some() => {
            text.push_str(&format!("{pad:width$}  quantized: on the quantized side of the contrast\n"));
        }
        _ => {}
    }
}
