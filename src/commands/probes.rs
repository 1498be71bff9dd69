//! `qcompat probes`: the probe catalogue.

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::probe::catalog::{PROBES, Path};

pub fn run() -> Result<ExitStatus> {
    let width = PROBES.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for probe in PROBES {
        println!("{:width$}  {}", probe.name, probe.summary);
        println!("{:width$}  needs: {}", "", probe.needs);
        if probe.path == Path::Control {
            println!(
                "{:width$}  control: where quantized probes fail and this passes, the failure is quantization's",
                ""
            );
        }
    }
    Ok(ExitStatus::Success)
}
