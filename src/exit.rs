//! The exit statuses of the command-line contract (docs/cli.md), in one place.

/// How a command ended, as its exit code tells a shell or CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: everything as expected (no regression; with `--check`, the snapshot matches).
    Success,
    /// 1: a finding: a regression, or a difference from the committed snapshot.
    Findings,
    /// 2: bad input or usage, the user's to fix.
    BadInput,
    /// 3: the machine could not do the work (interpreter, uv, cache, disk, index).
    Infra,
    /// 130: stopped by Ctrl-C or SIGTERM, as shells report a command ended by SIGINT.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Findings => 1,
            ExitStatus::BadInput => 2,
            ExitStatus::Infra => 3,
            ExitStatus::Interrupted => 130,
        }
    }

    /// Findings when `found`, else success.
    pub fn findings_if(found: bool) -> Self {
        if found {
            ExitStatus::Findings
        } else {
            ExitStatus::Success
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}
