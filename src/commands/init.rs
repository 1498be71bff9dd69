//! `qcompat init`: write a starting matrix, the workflows and a README snippet into a user's project, then say what
//! was written and what to run next.

use std::fmt::Write;
use std::path::Path;

use qcompat::error::Result;
use qcompat::exit::ExitStatus;
use qcompat::init;

use crate::output;
use crate::settings::InitSettings;

pub fn run(settings: InitSettings) -> Result<ExitStatus> {
    let request = &settings.request;
    let scaffold = init::scaffold(request)?;
    init::write(&request.project, &scaffold, request.force)?;
    output::stdout(summary(&scaffold, &request.project).as_bytes())?;
    Ok(ExitStatus::Success)
}

fn summary(scaffold: &init::Scaffold, project: &Path) -> String {
    let mut text = String::new();
    for axis in &scaffold.axes {
        let nightlies = if axis.pre { ", nightlies included" } else { "" };
        let _ = writeln!(
            text,
            "{}: from {}{nightlies} ({})",
            axis.package, axis.from, axis.origin
        );
    }
    let probes: Vec<&str> = scaffold.probes.iter().map(|p| p.name.as_str()).collect();
    let _ = writeln!(text, "probes: {}", probes.join(", "));
    for (path, _) in &scaffold.files {
        let _ = writeln!(text, "wrote {}", path.display());
    }
    let matrix = scaffold.matrix.display();
    let place = if project == Path::new(".") {
        String::new()
    } else {
        format!(" (in {})", project.display())
    };
    let _ = write!(
        text,
        "paste matrices/README.md into your README\n\
         next{place}: qcompat run --matrix {matrix} --list      # the cells, nothing run\n\
         then: qcompat run --matrix {matrix} --update    # run them, record reports/{}.snap.toml, commit both\n",
        init::MATRIX_NAME
    );
    text
}
