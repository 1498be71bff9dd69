//! Shared preloaded interpreters: one Python process per set of byte-identical heavy packages imports them once,
//! and cells fork their probe processes from it instead of importing torch again (see fixtures/probes/_forkserver.py).
//!
//! Identity is proven, never assumed. Cells are grouped by the `RECORD` files of the preloaded distributions; the
//! base reports every distribution it actually loaded (modules and shared libraries, with the hash of each
//! `RECORD`), and a cell forks only if its own environment holds the same `dist-info` folders with byte-identical
//! `RECORD`s. Any doubt (a base that refuses, a cell that differs) means a fresh interpreter.
//!
//! When a base starts is a cost decision only. A base and one fork cost about what one fresh process does
//! (measured: torch + torch._dynamo in the base 1.8 s, a checkpoint-load fork 1.9 s, fresh 3.5 s), so the first cell
//! of a group that expects company (another cell of the run asks for the same versions of the preloaded packages)
//! starts the base at once and the group's other cells wait for it instead of importing torch beside it. A cell
//! expecting none runs fresh; should a second cell of its group turn up after all, that one starts the base.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{OnceCell, oneshot};

use crate::matrix::cell_key::CellKey;
use crate::process::child_env::ChildEnv;
use crate::process::supervisor::{self, Group};
use crate::sink::Sink;

/// The fork server's file name inside the materialized probes folder.
pub const FORKSERVER: &str = "_forkserver.py";
/// A forked child's exit code when it could not become the cell's interpreter (the probes then run fresh).
pub const SETUP_FAILED: i32 = 86;

/// The bases of one run, by group.
pub struct Preloader {
    modules: Vec<String>,
    script: PathBuf,
    /// How long a base may take to preload (the matrix's probe timeout); a base that hangs is no base.
    timeout: Duration,
    /// Where the bases' own output and every refusal go (`<runs>/preload.log`).
    log: PathBuf,
    env: ChildEnv,
    groups: Mutex<HashMap<String, GroupState>>,
    /// Told when the log itself cannot be written.
    sink: Arc<dyn Sink>,
}

#[derive(Default)]
struct GroupState {
    /// A cell of the group asked before.
    seen: bool,
    /// The group's base once started; `None` when it refused or failed to start (the group then runs fresh).
    base: Arc<OnceCell<Option<Arc<Base>>>>,
}

impl Preloader {
    /// `None` when there is nothing to preload.
    pub fn new(
        modules: &[String],
        scripts: &Path,
        timeout: Duration,
        log: PathBuf,
        env: ChildEnv,
        sink: Arc<dyn Sink>,
    ) -> Option<Self> {
        (!modules.is_empty()).then(|| Self {
            modules: modules.to_vec(),
            script: scripts.join(FORKSERVER),
            timeout,
            log,
            env,
            groups: Mutex::new(HashMap::new()),
            sink,
        })
    }

    /// Which of `cells` expect company: another of them names the same versions of the preloaded distributions (on
    /// the axes named after them; a matrix with no such axis leaves them all to one resolution) and the same Python
    /// (a base serves the cells of its own interpreter only).
    pub fn expect_company(&self, cells: &[CellKey]) -> Vec<bool> {
        let mut wanted: Vec<String> = self.modules.iter().map(|m| distribution(m)).collect();
        wanted.push(crate::matrix::PYTHON_AXIS.to_string());
        let hints: Vec<Vec<(&str, &str)>> = cells
            .iter()
            .map(|key| {
                key.iter()
                    .filter(|(axis, _)| wanted.contains(&normalize(axis)))
                    .collect()
            })
            .collect();
        hints
            .iter()
            .map(|hint| hints.iter().filter(|other| *other == hint).count() > 1)
            .collect()
    }

    /// The base a cell whose interpreter is `python` may fork from: its group's, started now if it has none and the
    /// cell expects company or is not the group's first.
    pub async fn base_for(&self, python: &Path, company: bool) -> Option<Arc<Base>> {
        let site = site_packages(python)?;
        // One base per interpreter: a pure-Python distribution has the same RECORD bytes under every Python, yet a
        // fork is the base's interpreter.
        let key = format!(
            "{}\n{}",
            interpreter_of(python)?,
            group_key(&site, &self.modules)?
        );
        let (group, start) = {
            let mut groups = self.groups.lock().expect("groups");
            let state = groups.entry(key).or_default();
            let start = company || state.seen;
            state.seen = true;
            (Arc::clone(&state.base), start)
        };
        if !start && !group.initialized() {
            return None;
        }
        // The group's other cells wait for its base rather than import torch beside it; other groups go on.
        let base = group
            .get_or_init(|| async {
                match self.start(python).await {
                    Ok(base) => Some(Arc::new(base)),
                    Err(reason) => {
                        self.remember(&format!(
                            "no base from {}: {reason}; its group runs fresh interpreters",
                            python.display()
                        ));
                        None
                    }
                }
            })
            .await
            .as_ref()?;
        base.serves(&site).then(|| Arc::clone(base))
    }

    async fn start(&self, python: &Path) -> Result<Base, String> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("opening {}: {e}", self.log.display()))?;
        let mut command = Command::new(python);
        // SAFETY: the hook only calls prctl, which is async-signal-safe.
        unsafe { command.pre_exec(supervisor::die_with_parent) };
        let process = command
            .args(["-S", "-u"])
            .arg(&self.script)
            .args(&self.modules)
            .env_clear()
            .envs(self.env.for_probe_in(python))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", python.display()))?;
        Base::ready(process, self.timeout).await
    }

    fn remember(&self, line: &str) {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|mut f| writeln!(f, "qcompat: {line}"));
        if let Err(e) = appended {
            self.sink
                .warn(&format!("writing {}: {e}", self.log.display()));
        }
    }
}

/// A running base interpreter.
pub struct Base {
    /// Killed when the base is dropped, and by the supervisor on every way out; the base also dies with qcompat
    /// and exits at end of input. Its forked children die with it.
    _process: Child,
    _group: Option<Group>,
    stdin: tokio::sync::Mutex<ChildStdin>,
    router: Arc<Mutex<Router>>,
    /// `dist-info` folder name → sha256 of its `RECORD`, for everything the base loaded from its environment.
    dists: BTreeMap<String, String>,
}

/// Routes the base's answers: fork replies in request order, exit statuses by pid.
#[derive(Default)]
struct Router {
    waiting: VecDeque<oneshot::Sender<Option<Forked>>>,
    exits: HashMap<i32, oneshot::Sender<i32>>,
}

/// A probe process forked from a base. It leads its own process group (`pid`).
pub struct Forked {
    pub pid: i32,
    /// The raw wait status; an error if the base died first.
    pub exit: oneshot::Receiver<i32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Message {
    Ready {
        ready: bool,
        #[serde(default)]
        reason: String,
        #[serde(default)]
        dists: BTreeMap<String, String>,
    },
    Forked {
        forked: i32,
    },
    NotForked {
        #[serde(rename = "not_forked")]
        _reason: String,
    },
    Exit {
        exit: i32,
        status: i32,
    },
}

impl Base {
    /// Waits up to `timeout` for a started base to preload; `Err` says why there is none.
    async fn ready(mut process: Child, timeout: Duration) -> Result<Self, String> {
        let group = process.id().map(Group::adopt);
        let stdin = process.stdin.take().expect("piped stdin");
        let mut lines = BufReader::new(process.stdout.take().expect("piped stdout")).lines();
        let answer = tokio::time::timeout(timeout, lines.next_line()).await;
        let first = answer
            .ok()
            .and_then(|l| l.ok().flatten())
            .unwrap_or_default();
        let dists = match serde_json::from_str(&first) {
            Ok(Message::Ready {
                ready: true, dists, ..
            }) => dists,
            Ok(Message::Ready { reason, .. }) => return Err(reason),
            _ => return Err(format!("the base said {first:?}")),
        };
        let router = Arc::new(Mutex::new(Router::default()));
        tokio::spawn(route(lines, Arc::clone(&router)));
        Ok(Self {
            _process: process,
            _group: group,
            stdin: tokio::sync::Mutex::new(stdin),
            router,
            dists,
        })
    }

    /// Whether the environment at `site` holds every distribution the base loaded, byte-identical.
    fn serves(&self, site: &Path) -> bool {
        self.dists
            .iter()
            .all(|(dist, hash)| record_hash(&site.join(dist)).as_deref() == Some(hash))
    }

    /// Forks `argv` (a script and its arguments, or with `module` the arguments of `python -m MODULE`) as `python`
    /// would run it fresh in `cwd` (the base's own when `None`), with exactly `env`, its output written to `log` (a
    /// path the base can open for writing). `None`: not forked, run it fresh.
    pub async fn fork(
        &self,
        python: &Path,
        argv: &[String],
        (cwd, module): (Option<&str>, Option<&str>),
        env: &BTreeMap<String, String>,
        log: &Path,
    ) -> Option<Forked> {
        let request = serde_json::json!({
            "python": python, "argv": argv, "env": env, "log": log, "cwd": cwd, "module": module,
        });
        let (reply, forked) = oneshot::channel();
        {
            let mut stdin = self.stdin.lock().await;
            self.router.lock().expect("router").waiting.push_back(reply);
            let line = format!("{request}\n");
            stdin.write_all(line.as_bytes()).await.ok()?;
            stdin.flush().await.ok()?;
        }
        forked.await.ok().flatten()
    }
}

async fn route(mut lines: Lines<BufReader<ChildStdout>>, router: Arc<Mutex<Router>>) {
    while let Ok(Some(line)) = lines.next_line().await {
        let mut router = router.lock().expect("router");
        match serde_json::from_str(&line) {
            Ok(Message::Forked { forked: pid }) => {
                let (done, exit) = oneshot::channel();
                router.exits.insert(pid, done);
                if let Some(reply) = router.waiting.pop_front() {
                    let _ = reply.send(Some(Forked { pid, exit }));
                }
            }
            Ok(Message::NotForked { .. }) => {
                if let Some(reply) = router.waiting.pop_front() {
                    let _ = reply.send(None);
                }
            }
            Ok(Message::Exit { exit: pid, status }) => {
                if let Some(done) = router.exits.remove(&pid) {
                    let _ = done.send(status);
                }
            }
            _ => {}
        }
    }
    // The base is gone: dropping the senders tells every waiter.
}

/// `<env>/lib/pythonX.Y/site-packages` for an environment's `bin/python`.
fn site_packages(python: &Path) -> Option<PathBuf> {
    let lib = python.parent()?.parent()?.join("lib");
    std::fs::read_dir(&lib)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
}

/// The interpreter an environment's `bin/python` runs, as its `pyvenv.cfg` names it (`home` and version).
fn interpreter_of(python: &Path) -> Option<String> {
    let config = std::fs::read_to_string(python.parent()?.parent()?.join("pyvenv.cfg")).ok()?;
    let mut lines: Vec<&str> = config
        .lines()
        .filter(|l| l.starts_with("home") || l.starts_with("version"))
        .map(str::trim)
        .collect();
    lines.sort();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Names the group: the `dist-info` folders and `RECORD` hashes of the distributions the preloaded modules come from
/// (`torch._dynamo`: torch), as installed at `site`. `None` when none of them is installed.
fn group_key(site: &Path, modules: &[String]) -> Option<String> {
    let wanted: Vec<String> = modules.iter().map(|m| distribution(m)).collect();
    let mut parts: Vec<String> = std::fs::read_dir(site)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| {
            // NAME-VERSION.dist-info, with any `-` in NAME written as `_`
            let project = name
                .strip_suffix(".dist-info")
                .and_then(|n| n.split_once('-'));
            project.is_some_and(|(project, _)| wanted.contains(&normalize(project)))
        })
        .filter_map(|name| Some(format!("{name} {}", record_hash(&site.join(&name))?)))
        .collect();
    parts.sort();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

fn record_hash(dist_info: &Path) -> Option<String> {
    let bytes = std::fs::read(dist_info.join("RECORD")).ok()?;
    Some(format!("{:x}", Sha256::digest(&bytes)))
}

/// The (normalized) distribution a preloaded module comes from, by its top-level name: `torch._dynamo` → `torch`.
fn distribution(module: &str) -> String {
    normalize(module.split('.').next().unwrap_or(module))
}

fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['-', '.'], "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(site: &Path, folder: &str, record: &str) {
        std::fs::create_dir_all(site.join(folder)).unwrap();
        std::fs::write(site.join(folder).join("RECORD"), record).unwrap();
    }

    #[test]
    fn groups_follow_record_bytes_not_just_versions() {
        let root = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            root.path().join("a"),
            root.path().join("b"),
            root.path().join("c"),
        );
        for site in [&a, &b, &c] {
            dist(
                site,
                "lightning-2.3.0.dist-info",
                "lightning/__init__.py,sha256=x,1\n",
            );
        }
        let torch = |site: &Path, hash: &str| {
            let record = format!("torch/__init__.py,sha256={hash},1\n");
            dist(site, "torch-2.3.0.dist-info", &record);
        };
        torch(&a, "same");
        torch(&b, "same");
        torch(&c, "rebuilt");
        let modules = vec!["torch._dynamo".to_string(), "numpy".to_string()];
        let key = |site: &Path| group_key(site, &modules);
        assert!(key(&a).is_some_and(|k| k.starts_with("torch-2.3.0.dist-info ")));
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
        assert_eq!(group_key(&a, &["numpy".to_string()]), None);
    }

    #[test]
    fn company_is_expected_from_the_axes_named_after_preloaded_distributions() {
        let preloader = |modules: &[&str]| {
            let modules: Vec<String> = modules.iter().map(|m| m.to_string()).collect();
            Preloader::new(
                &modules,
                Path::new("scripts"),
                Duration::from_secs(1),
                PathBuf::from("preload.log"),
                ChildEnv::default(),
                Arc::new(crate::sink::Silent),
            )
            .unwrap()
        };
        let cells = [
            CellKey::new([("lightning", "2.3.0"), ("torch", "2.3.0")]),
            CellKey::new([("lightning", "2.4.0"), ("torch", "2.3.0")]),
            CellKey::new([("lightning", "2.4.0"), ("torch", "2.4.1")]),
        ];
        let torch = preloader(&["torch._dynamo", "numpy"]);
        assert_eq!(torch.expect_company(&cells), [true, true, false]);
        // Another Python is another base, whatever the packages.
        let pythons = [
            CellKey::new([("python", "3.11"), ("torch", "2.3.0")]),
            CellKey::new([("python", "3.12"), ("torch", "2.3.0")]),
            CellKey::new([
                ("python", "3.12"),
                ("torch", "2.3.0"),
                ("lightning", "2.4.0"),
            ]),
        ];
        assert_eq!(torch.expect_company(&pythons), [false, true, true]);
        // No axis names a preloaded distribution: the resolver picks one torch for all.
        let numpy = preloader(&["numpy"]);
        assert_eq!(numpy.expect_company(&cells), [true, true, true]);
        assert_eq!(numpy.expect_company(&cells[..1]), [false]);
    }
}
