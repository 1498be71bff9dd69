//! `qcompat probes`: the probe catalogue.

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::probe::catalog::Catalog;
use qcompat::probe::spec::Role;

use crate::output;

pub fn run() -> Result<ExitStatus> {
    let catalog = Catalog::builtin();
    let width = catalog.names().map(str::len).max().unwrap_or(0);
    let mut text = String::new();
    for probe in catalog.iter() {
        text.push_str(&format!("{:width$}  {}\n", probe.name, probe.summary));
        text.push_str(&format!(
            "{:width$}  needs: {}\n",
            "",
            probe.needs.join(", ")
        ));
        if probe.role == Role::Control {
            text.push_str(&format!(
                "{:width$}  control: where quantized probes fail and this passes, the failure is quantization's\n",
                ""
            ));
        }
    }
    output::stdout(text.as_bytes())?;
    Ok(ExitStatus::Success)
}
