//! `bisect --repo`: a package's wheel built from one commit of its repository, cached per commit under
//! `<cache>/wheels/<package>/<commit>/`. The commit's tree (the recipe's `paths` of it, or all of it) is exported with
//! `git archive`, built with `uv build --wheel` under the recipe's variables and build constraints, and kept; a
//! commit that does not build is remembered too (`failed.log`), so a rerun neither rebuilds nor retries it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::env::Uv;
use crate::error::{Error, Result};
use crate::index::IndexSettings;
use crate::matrix::BuildRecipe;
use crate::run::harness::Toolchain;

/// Builds one package's commits.
pub struct Builder<'a> {
    pub repo: &'a Path,
    pub package: &'a str,
    pub recipe: BuildRecipe,
    tools: Tools,
}

/// What a build needs of the harness's toolchain (copied: the session keeps probing while the builder builds).
struct Tools {
    cache: PathBuf,
    python: PathBuf,
    uv: Uv,
    index: IndexSettings,
}

/// A commit's build: its wheel, or why there is none.
pub type Built = std::result::Result<PathBuf, String>;
/// A step of a build that the commit may fail: why it did.
type Step = std::result::Result<(), String>;

impl<'a> Builder<'a> {
    pub fn new(
        repo: &'a Path,
        package: &'a str,
        recipe: BuildRecipe,
        toolchain: &Toolchain,
    ) -> Self {
        let tools = Tools {
            cache: toolchain.cache.root.clone(),
            // A pure-Python package's wheel is the same whichever interpreter builds it: the matrix's first.
            python: toolchain.interpreters.get(None).path.clone(),
            uv: toolchain.uv.clone(),
            index: toolchain.index.clone(),
        };
        Self {
            repo,
            package,
            recipe,
            tools,
        }
    }

    fn dir(&self, commit: &str) -> PathBuf {
        self.tools
            .cache
            .join("wheels")
            .join(crate::index::normalize(self.package))
            .join(commit)
    }

    /// Whether `commit` was built (or failed to build) before.
    pub fn is_cached(&self, commit: &str) -> bool {
        self.dir(commit).exists()
    }

    /// The wheel of `commit` (a full hash): from the cache, or built now. A build that fails is the commit's (`Err`
    /// with the end of the log); only the machine's faults (no git, no disk) are errors.
    pub fn wheel(&self, commit: &str) -> Result<Built> {
        let dir = self.dir(commit);
        if let Some(found) = cached(&dir)? {
            return Ok(found);
        }
        let parent = dir.parent().expect("under wheels/");
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(parent)
            .map_err(|e| Error::io(parent, e))?;
        let tree = staging.path().join("src");
        let out = staging.path().join("out");
        let built = match self.export(commit, &tree)? {
            Ok(()) => self.build(&tree, &out, staging.path())?,
            failed => failed,
        };
        std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
        if let Err(why) = &built {
            std::fs::write(out.join("failed.log"), why).map_err(|e| Error::io(&out, e))?;
        }
        // Another bisect may have finished the same commit meanwhile: its result stands.
        if std::fs::rename(&out, &dir).is_err() && !dir.exists() {
            return Err(Error::infra(format!(
                "cannot keep the build in {}",
                dir.display()
            )));
        }
        Ok(cached(&dir)?.expect("a build leaves a wheel or failed.log"))
    }

    /// `git archive COMMIT [PATHS]` unpacked into `tree`.
    fn export(&self, commit: &str, tree: &Path) -> Result<Step> {
        std::fs::create_dir_all(tree).map_err(|e| Error::io(tree, e))?;
        let mut archive = Command::new("git");
        archive
            .arg("-C")
            .arg(self.repo)
            .args(["archive", "--format=tar", commit]);
        if !self.recipe.paths.is_empty() {
            archive.arg("--").args(&self.recipe.paths);
        }
        let mut git = archive
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::infra_caused("running git archive", e))?;
        let unpacked = Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(tree)
            .stdin(git.stdout.take().expect("piped"))
            .output()
            .map_err(|e| Error::infra_caused("running tar", e))?;
        let archived = git
            .wait_with_output()
            .map_err(|e| Error::infra_caused("running git archive", e))?;
        if !archived.status.success() || !unpacked.status.success() {
            return Ok(Err(format!(
                "git archive {commit} failed: {}{}",
                String::from_utf8_lossy(&archived.stderr).trim(),
                String::from_utf8_lossy(&unpacked.stderr).trim()
            )));
        }
        Ok(Ok(()))
    }

    /// `uv build --wheel` of `tree` into `out`, under the recipe.
    fn build(&self, tree: &Path, out: &Path, scratch: &Path) -> Result<Step> {
        let (tree, out) = (tree.display().to_string(), out.display().to_string());
        let python = self.tools.python.display().to_string();
        let mut args = vec![
            "build",
            "--wheel",
            "--quiet",
            "--python",
            &python,
            "--out-dir",
            &out,
        ];
        let flags = self.tools.index.uv_flags();
        args.extend(flags.iter().map(String::as_str));
        let constraints = scratch.join("build-constraints.txt");
        let constraints_path = constraints.display().to_string();
        if !self.recipe.constraints.is_empty() {
            let text = self.recipe.constraints.join("\n") + "\n";
            std::fs::write(&constraints, text).map_err(|e| Error::io(&constraints, e))?;
            args.extend(["--build-constraint", &constraints_path]);
        }
        args.push(&tree);
        let mut env: Vec<(&str, String)> = self.tools.index.uv_env();
        env.extend(self.recipe.env.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let output = self.tools.uv.run(&args, &env)?;
        if output.status.success() {
            return Ok(Ok(()));
        }
        let log = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = log.lines().rev().take(6).collect();
        Ok(Err(tail.into_iter().rev().collect::<Vec<_>>().join("\n")))
    }

    /// The shell lines that build `commit` by hand into `out` (the report's commands).
    pub fn commands(&self, commit: &str, out: &str) -> Vec<String> {
        use crate::env::quote;
        let tree = format!("{out}/src");
        let paths: Vec<String> = self.recipe.paths.iter().map(|p| quote(p)).collect();
        let mut archive = format!(
            "mkdir -p {} && git -C {} archive {commit}",
            quote(&tree),
            quote(&self.repo.display().to_string())
        );
        if !paths.is_empty() {
            archive.push_str(&format!(" -- {}", paths.join(" ")));
        }
        archive.push_str(&format!(" | tar -x -C {}", quote(&tree)));
        let mut build: Vec<String> = self
            .recipe
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        build.extend(["uv", "build", "--wheel", "--out-dir"].map(String::from));
        build.push(quote(out));
        if !self.recipe.constraints.is_empty() {
            let lines: Vec<String> = self.recipe.constraints.iter().map(|c| quote(c)).collect();
            build.push(format!(
                "--build-constraint <(printf '%s\\n' {})",
                lines.join(" ")
            ));
        }
        build.push(quote(&tree));
        vec![archive, build.join(" ")]
    }
}

/// What a finished build folder holds: the wheel, or the reason the commit did not build.
fn cached(dir: &Path) -> Result<Option<Built>> {
    if let Ok(why) = std::fs::read_to_string(dir.join("failed.log")) {
        return Ok(Some(Err(why)));
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "whl") {
            return Ok(Some(Ok(path)));
        }
    }
    Ok(Some(Err(format!("{} holds no wheel", dir.display()))))
}
