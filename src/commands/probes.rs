//! `qcompat probes`: the probe catalogue.

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::probe::catalog::PROBES;

pub fn run() -> Result<ExitStatus> {
    let width = PROBES.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for probe in PROBES {
        println!("{:width$}  {}", probe.name, probe.summary);
        println!("{:width$}  needs: {}", "", probe.needs);
    }
    Ok(ExitStatus::Success)
}
