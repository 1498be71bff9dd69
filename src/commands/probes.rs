//! `qcompat probes`: the probe catalogue.

use std::process::ExitCode;

use crate::error::Result;
use crate::probe::catalog::PROBES;

pub fn run() -> Result<ExitCode> {
    let width = PROBES.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for probe in PROBES {
        println!("{:width$}  {}", probe.name, probe.summary);
        println!("{:width$}  needs: {}", "", probe.needs);
    }
    Ok(ExitCode::SUCCESS)
}
