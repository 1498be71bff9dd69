//! Reads a matrix file (TOML or YAML, one schema) and validates it into a [`Matrix`].
//!
//! One pass: the file is parsed into a located tree (`document`), read into its shape (`schema`), and every rule is
//! checked (here and in `checks`); all problems are reported together, each on a line of its own starting with
//! `file:line:column`, so editors and CI annotations can jump to it.

use std::path::Path;
use std::time::Duration;

use super::checks;
use super::document::{self, EXTENSIONS};
use super::model::{Assignment, Axis, AxisValues, Matrix, PYTHON_AXIS, Project};
use super::problems::Problems;
use super::schema::{self, PythonSpec, Text};
use super::source::Source;
use crate::error::{Error, Result};
use crate::index::version::Version;
use crate::probe::catalog::Catalog;
use crate::suggest;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// The stack's heaviest imports that cells usually share unchanged: torch, numpy, and torch's compiler front end,
/// which every probe of the stack imports anyway (Lightning's wrappers and bitsandbytes' compiled ops do) and which
/// starts no thread or process at import (torch._inductor does: it cannot be preloaded). Measured on torch 2.3.0: a
/// checkpoint-load probe forked after torch + numpy took 3.2 s, after torch._dynamo too 1.9 s, fresh 3.5 s.
const DEFAULT_PRELOAD: [&str; 3] = ["torch", "torch._dynamo", "numpy"];
/// The longest matrix name, in bytes: it becomes a file name (`<name>.snap.toml`) and a folder name, and file
/// systems take 255 bytes for one component; 100 leaves room for the suffixes and is plenty for a name.
pub const MAX_NAME_BYTES: usize = 100;

pub fn load(path: &Path) -> Result<Matrix> {
    let source = Source::new(path, read_text(path)?);
    let Some(parsed) = document::parse(path, &source.text) else {
        return Err(Error::BadInput(format!(
            "{}: matrix files end in .{}",
            path.display(),
            EXTENSIONS.join(", .")
        )));
    };
    let mut problems = Problems::default();
    let matrix = match parsed {
        Ok(root) => validate(&schema::read(&root, &mut problems), &source, &mut problems),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    problems.into_result(&source)?;
    let matrix =
        matrix.ok_or_else(|| Error::BadInput(format!("{}: not a matrix", path.display())))?;
    // Written-out axes are counted now, before any index is asked; query axes are counted once listed (`plan`).
    let written: Option<Vec<Vec<Version>>> = matrix
        .axes
        .iter()
        .map(|axis| match &axis.values {
            AxisValues::Explicit(versions) => Some(versions.clone()),
            AxisValues::Query { .. } => None,
        })
        .collect();
    if let Some(versions) = written {
        super::expand::check_count(&matrix, &versions)?;
    }
    Ok(matrix)
}

/// The file's text; a file that is not UTF-8 is bad input at its first bad byte.
fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::BadInput(format!("{}: no such matrix file", path.display()))
        }
        _ if path.is_dir() => Error::BadInput(format!(
            "{}: a folder, not a matrix file{}",
            path.display(),
            matrices_in(path)
        )),
        _ => Error::io(path, e),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let text = String::from_utf8_lossy(&bytes[..valid]).into_owned();
        let bad = bytes[valid];
        let at = Source::new(path, text).at_offset(valid);
        Error::BadInput(format!(
            "{at}: byte 0x{bad:02x} is not UTF-8: a matrix file is UTF-8 text"
        ))
    })
}

/// `; it holds a.toml, b.yaml`: the matrix files a folder given as `--matrix` holds, or nothing.
fn matrices_in(folder: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| EXTENSIONS.iter().any(|e| name.ends_with(&format!(".{e}"))))
        .collect();
    names.sort();
    if names.is_empty() {
        return String::new();
    }
    format!("; it holds {}", names.join(", "))
}

/// Every rule over the shape read; None when a problem leaves no matrix to build.
fn validate(spec: &schema::MatrixSpec, source: &Source, problems: &mut Problems) -> Option<Matrix> {
    let name = matrix_name(spec.name.as_ref(), &source.path, problems);
    let (python, python_axis) = interpreter(spec.python.as_ref(), source, problems);
    let project = spec
        .project
        .as_ref()
        .and_then(|p| project(p, source, problems));
    let catalog = catalog(spec, source, problems);
    let probes = spec
        .probes
        .as_ref()
        .map(|p| probes(&p.value, p.at, &catalog, &spec.declared, problems));
    let timeout = spec
        .timeout
        .as_ref()
        .map_or(Some(DEFAULT_TIMEOUT), |t| checks::timeout(t, problems));
    let preload = spec.preload.as_ref().map_or_else(
        || DEFAULT_PRELOAD.map(String::from).to_vec(),
        |modules| preload(modules, problems),
    );
    // The interpreter's axis comes first: keys read `python=3.11,torch=2.3.0`.
    let axes = spec.axes.as_ref().map(|a| {
        let packages = checks::axes(&a.value, source, problems);
        python_axis.into_iter().chain(packages).collect::<Vec<_>>()
    });
    let axis_names = written_axis_names(spec);
    let axis_names = axis_names.as_deref();
    let pins = checks::pins(&spec.pins, axis_names.unwrap_or_default(), source, problems);
    let (exclude, _) = located(
        checks::assignments(&spec.exclude, "exclude", axis_names, problems),
        source,
    );
    let (include, include_at) = located(
        checks::assignments(&spec.include, "include", axis_names, problems),
        source,
    );
    let known = checks::known(
        &spec.known,
        probes.as_deref().unwrap_or_default(),
        source,
        problems,
    );
    let builds = checks::builds(&spec.builds, problems);
    if !problems.is_empty() {
        return None;
    }
    Some(Matrix {
        name: name?,
        source: source.path.clone(),
        digest: digest(&source.text, &catalog),
        python,
        project,
        probes: catalog.select(probes?.iter().map(String::as_str)),
        catalog,
        timeout: timeout?,
        preload,
        axes: axes?,
        axes_at: source.at_offset(spec.axes.as_ref()?.at),
        pins,
        exclude,
        include,
        include_at,
        known,
        builds,
    })
}

/// The built-in probes and the ones the matrix declares.
fn catalog(spec: &schema::MatrixSpec, source: &Source, problems: &mut Problems) -> Catalog {
    let declared = super::declared::declared(&spec.declared, &source.path, problems);
    Catalog::with_declared(declared)
}

/// The hash of the matrix's text, and of its declared probes' folders when it has any: a plan or journal of a matrix
/// whose probe changed is another one's.
fn digest(text: &str, catalog: &Catalog) -> String {
    let contents: Vec<&str> = catalog
        .iter()
        .filter_map(|p| p.command())
        .map(|c| c.content.as_str())
        .collect();
    if contents.is_empty() {
        return crate::digest::short(text);
    }
    crate::digest::short(format!("{text}\n{}", contents.join("\n")))
}

/// `python`: one interpreter's request (a version or a path), or the Python axis.
fn interpreter(
    spec: Option<&PythonSpec>,
    source: &Source,
    problems: &mut Problems,
) -> (Option<String>, Option<Axis>) {
    match spec {
        Some(PythonSpec::One(text)) => (python(text, &source.path, problems), None),
        Some(PythonSpec::Axis(list)) => (None, checks::python_axis(list, source, problems)),
        None => (None, None),
    }
}

/// Every axis written, well-formed or not (a section naming a misshapen axis names an axis all the same), the
/// Python axis first; None without `axes`.
fn written_axis_names(spec: &schema::MatrixSpec) -> Option<Vec<&str>> {
    let python = matches!(spec.python, Some(PythonSpec::Axis(_))).then_some(PYTHON_AXIS);
    spec.axes.as_ref().map(|a| {
        python
            .into_iter()
            .chain(a.value.iter().map(|axis| axis.name.value.as_str()))
            .collect()
    })
}

/// Assignments apart from where each value is written (`file:line:column`, in the same order).
fn located(
    entries: Vec<checks::LocatedAssignment>,
    source: &Source,
) -> (Vec<Assignment>, Vec<Vec<String>>) {
    entries
        .into_iter()
        .map(|entry| {
            entry
                .into_iter()
                .map(|(pair, at)| (pair, source.at_offset(at)))
                .unzip()
        })
        .unzip()
}

/// The name becomes a file name (`reports/<name>.snap.toml`) and a folder under the cache (`runs/<name>/`), and is
/// passed on command lines: one plain path component of at most [`MAX_NAME_BYTES`], nothing that climbs out, hides
/// or reads as an option.
fn matrix_name(written: Option<&Text>, path: &Path, problems: &mut Problems) -> Option<String> {
    let (name, at, origin) = match written {
        Some(text) => (text.value.clone(), text.at, String::new()),
        None => {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            let origin = " (the file's name; set `name` to choose another)".to_string();
            (stem.unwrap_or_default(), 0, origin)
        }
    };
    let plain = !name.is_empty()
        && !name.starts_with(['.', '-'])
        && !name
            .chars()
            .any(|c| matches!(c, '/' | '\\') || c.is_control());
    if !plain {
        let rule = "no `/`, `\\`, control characters, leading `.` or `-`";
        problems.add(
            at,
            format!("matrix name {name:?}{origin} must be a plain file name ({rule})"),
        );
        return None;
    }
    if name.len() > MAX_NAME_BYTES {
        let message = format!(
            "matrix name{origin} is {} bytes long; it names files and folders, so at most {MAX_NAME_BYTES}",
            name.len()
        );
        problems.add(at, message);
        return None;
    }
    Some(name)
}

/// A version request (`3`, `3.11`, `3.11.4`) as written, or an interpreter's path (absolute, or relative to the
/// matrix file's folder) that exists and is named like one (`python`, `python3.11`, `pypy3` …).
fn python(text: &Text, matrix: &Path, problems: &mut Problems) -> Option<String> {
    let request = text.value.as_str();
    if checks::is_version_request(request) {
        return Some(request.to_string());
    }
    let takes = "`python` takes a version (`3.11`) or the path of a Python interpreter (relative to the matrix file)";
    if !request.contains('/') {
        problems.add(text.at, format!("{takes}; `{request}` is neither"));
        return None;
    }
    let path = matrix.parent().unwrap_or(Path::new("")).join(request);
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("python") || n.starts_with("pypy"));
    let executable = std::fs::metadata(&path).is_ok_and(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.is_file() && m.permissions().mode() & 0o111 != 0
    });
    let problem = match (named, executable) {
        (false, _) => "is not named like a Python interpreter (python, python3.11, pypy3 …)",
        (true, false) => "is no executable file",
        (true, true) => return Some(path.display().to_string()),
    };
    problems.add(text.at, format!("{takes}; {} {problem}", path.display()));
    None
}

/// `[project]`: a folder (relative to the matrix file's) that holds a `pyproject.toml` or a `setup.py`.
fn project(
    spec: &schema::ProjectSpec,
    source: &Source,
    problems: &mut Problems,
) -> Option<Project> {
    let text = spec.path.as_ref()?;
    let path = source
        .path
        .parent()
        .unwrap_or(Path::new(""))
        .join(&text.value);
    let problem = if !path.is_dir() {
        "is no folder"
    } else if !["pyproject.toml", "setup.py"]
        .iter()
        .any(|f| path.join(f).is_file())
    {
        "holds no pyproject.toml or setup.py: it is not a Python project"
    } else {
        return Some(Project {
            path,
            editable: spec.editable,
            at: source.at_offset(text.at),
        });
    };
    problems.add(
        text.at,
        format!("`project`'s `path`: {} {problem}", path.display()),
    );
    None
}

/// Each name a built-in probe or one the matrix declares (a declared probe with a problem of its own is not
/// unknown: that problem is reported at its table).
fn probes(
    written: &[Text],
    at: usize,
    catalog: &Catalog,
    declared: &[schema::DeclaredSpec],
    problems: &mut Problems,
) -> Vec<String> {
    if written.is_empty() {
        problems.add(at, "`probes` is empty: name at least one probe");
    }
    let mut names: Vec<String> = Vec::new();
    for name in written {
        let is_declared = declared.iter().any(|d| d.name.value == name.value);
        if catalog.find(&name.value).is_none() && !is_declared {
            let hint = suggest::hint(&name.value, catalog.names());
            problems.add(name.at, format!("unknown probe `{}`{hint}", name.value));
        } else if names.contains(&name.value) {
            problems.add(
                name.at,
                format!("probe `{}` is listed twice; keep one", name.value),
            );
        } else {
            names.push(name.value.clone());
        }
    }
    names
}

/// Python module paths (`torch._dynamo`): the base interpreter imports them by name.
fn preload(modules: &[Text], problems: &mut Problems) -> Vec<String> {
    let identifier = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    for module in modules {
        if !module.value.split('.').all(identifier) {
            problems.add(
                module.at,
                format!("`{}` is not a module path (`torch._dynamo`)", module.value),
            );
        }
    }
    modules.iter().map(|m| m.value.clone()).collect()
}
