//! The supervisor: owns the async runtime, the interrupt handling and every child process group that qcompat
//! starts (uv installs, probe processes), and kills those groups on every way out: success, error, signal or panic.
//!
//! Children run in process groups of their own so that a timeout can kill a probe's whole tree, grandchildren
//! included. That also means a terminal's Ctrl-C does not reach them: qcompat kills them itself. The registry is
//! process-wide because signals are: whatever path a run leaves by, [`Supervisor`]'s `Drop` closes the registry and
//! kills what is in it, and a group adopted after that is killed on the spot.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};

struct Registry {
    groups: Vec<i32>,
    /// Set once the supervisor is gone: nothing may start any more.
    closed: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    groups: Vec::new(),
    closed: false,
});

/// The registry, even if a thread panicked while holding it: killing children must work on the way out of a panic.
fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A child's process group (the child was spawned with `process_group(0)`, so its pid is the group id). Dropping
/// it kills the whole group.
pub struct Group {
    id: i32,
}

impl Group {
    pub fn adopt(pid: u32) -> Self {
        let id = pid as i32;
        let mut registry = registry();
        if registry.closed {
            kill(id);
        } else {
            registry.groups.push(id);
        }
        Self { id }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        kill(self.id);
        registry().groups.retain(|g| *g != self.id);
    }
}

/// For a child's `pre_exec`: the child gets SIGKILL when qcompat dies, even of a SIGKILL that no handler sees
/// (Linux; the signal follows the spawning thread, which outlives every child it waits for). Its own children are
/// not covered: they stay in its group, which only a living qcompat can kill.
pub fn die_with_parent() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and touches no memory; async-signal-safe.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn kill(group: i32) {
    // SAFETY: killpg only sends a signal; ESRCH (the group is already gone) is the common, harmless case.
    unsafe {
        libc::killpg(group, libc::SIGKILL);
    }
}

/// Runs a command's concurrent work; dropping it stops every child that work started.
pub struct Supervisor {
    runtime: Option<tokio::runtime::Runtime>,
    /// Set to the signal's name once Ctrl-C or SIGTERM arrived, whenever it arrived: between two pieces of work
    /// (two rounds of a bisect) as well as during one.
    signalled: tokio::sync::watch::Receiver<Option<&'static str>>,
}

impl Supervisor {
    /// Starts the runtime and listens for Ctrl-C and SIGTERM from now on, for the supervisor's whole life.
    pub fn new() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::infra_caused("starting the async runtime", e))?;
        let (tell, signalled) = tokio::sync::watch::channel(None);
        // The handlers are installed here, before any work starts, so no signal falls between two listeners.
        let signals = runtime.block_on(async { listen() });
        runtime.spawn(async move {
            let name = interrupted(signals).await;
            // Told before the kill: whatever a killed child's death produces after this is seen as interrupted
            // work (see `interruption`), never as a result.
            let _ = tell.send(Some(name));
            kill_all();
        });
        Ok(Self {
            runtime: Some(runtime),
            signalled,
        })
    }

    /// The signal that interrupted this run, if one arrived: a result produced after it may come from a child the
    /// interrupt killed, so work checks this before recording anything (a journal must not keep a cell that died
    /// of Ctrl-C as a crash).
    pub fn interruption(&self) -> Interruption {
        Interruption(self.signalled.clone())
    }

    /// Runs `work` to completion, or until Ctrl-C or SIGTERM (then every child group is killed at once and the
    /// result is [`Error::Interrupted`]), including a signal that arrived before `work` started.
    pub fn block_on<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the supervisor");
        let mut signalled = self.signalled.clone();
        runtime.block_on(async {
            tokio::select! {
                biased;
                name = signalled.wait_for(Option::is_some) => {
                    let name = name.ok().and_then(|n| *n).unwrap_or("a signal");
                    Err(Error::Interrupted(name))
                }
                result = work => result,
            }
        })
    }
}

/// A handle on the supervisor's interrupt, for work running on its runtime.
#[derive(Clone)]
pub struct Interruption(tokio::sync::watch::Receiver<Option<&'static str>>);

impl Interruption {
    /// `Err(Error::Interrupted)` once Ctrl-C or SIGTERM arrived.
    pub fn check(&self) -> Result<()> {
        match *self.0.borrow() {
            Some(name) => Err(Error::Interrupted(name)),
            None => Ok(()),
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        registry().closed = true;
        kill_all();
        // Blocking tasks (a uv install) end as soon as their process group is killed; never wait for them here.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn kill_all() {
    let groups = std::mem::take(&mut registry().groups);
    for group in groups {
        kill(group);
    }
}

type Signals = Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>;

/// Handlers for Ctrl-C and SIGTERM (a cancelled CI job); none if they cannot be installed.
fn listen() -> Signals {
    use tokio::signal::unix::{SignalKind, signal};
    Some((
        signal(SignalKind::interrupt()).ok()?,
        signal(SignalKind::terminate()).ok()?,
    ))
}

/// Resolves on Ctrl-C or SIGTERM, naming the signal.
async fn interrupted(signals: Signals) -> &'static str {
    // Without signal handlers the default actions stay in place; never resolve.
    let Some((mut interrupt, mut terminate)) = signals else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}
