//! What a command's output says about how it failed: its last Python traceback (the exception a plain script died
//! of is the last one it printed), read into the same shape a built-in probe reports, and its last line.

use std::sync::LazyLock;

use regex::Regex;

use super::protocol::StageError;

static FRAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*File "([^"]+)", line \d+, in (.+)$"#).unwrap());
static SITE_PACKAGES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^.*?/(?:site|dist)-packages/").unwrap());
const HEADER: &str = "Traceback (most recent call last):";

/// The last traceback of `output`: its exception's type and first message line, and its frames outermost first,
/// written as the probe protocol writes them (`lightning/fabric/x.py:load` inside site-packages, `<probe>/train.py:main`
/// for a relative path, the path itself otherwise).
pub fn last_traceback(output: &str) -> Option<StageError> {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.iter().rposition(|l| l.trim_start() == HEADER)?;
    let mut frames = Vec::new();
    for line in &lines[start + 1..] {
        if let Some(captures) = FRAME.captures(line) {
            frames.push(frame(&captures[1], captures[2].trim()));
            continue;
        }
        // The exception line is the first one not indented: source lines and carets are.
        if line.is_empty() || line.starts_with(char::is_whitespace) {
            continue;
        }
        let (kind, message) = exception(line);
        return Some(StageError {
            kind,
            message,
            frames,
        });
    }
    None
}

/// `Type: message`, `module.Type: message` or a bare `Type`.
fn exception(line: &str) -> (String, String) {
    let is_type = |t: &str| {
        !t.is_empty()
            && t.split('.').all(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                    && part.chars().all(|c| c.is_alphanumeric() || c == '_')
            })
    };
    match line.split_once(": ") {
        Some((kind, message)) if is_type(kind) => (kind.to_string(), message.trim().to_string()),
        _ if is_type(line.trim()) => (line.trim().to_string(), String::new()),
        _ => ("Error".to_string(), line.trim().to_string()),
    }
}

fn frame(path: &str, function: &str) -> String {
    if let Some(found) = SITE_PACKAGES.find(path) {
        return format!("{}:{function}", &path[found.end()..]);
    }
    if path.starts_with('/') || path.starts_with('<') {
        return format!("{path}:{function}");
    }
    format!("<probe>/{path}:{function}")
}

/// The last line of `output` with anything but whitespace on it.
pub fn last_line(output: &str) -> Option<String> {
    output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_traceback_gives_type_message_and_frames() {
        let output = "\
step 1
Traceback (most recent call last):
  File \"train.py\", line 2, in <module>
    raise KeyError('first')
KeyError: 'first'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/work/p/train.py\", line 9, in <module>
    main()
  File \"/venv/lib/python3.11/site-packages/lightning/fabric/utilities/load.py\", line 40, in __getattr__
    raise AttributeError(name)
    ^^^^^^^^^^^^^^^^^^^^^^^^^^
AttributeError: '_NotYetLoadedTensor' object has no attribute 'data'
  some log line after
";
        let error = last_traceback(output).unwrap();
        assert_eq!(error.kind, "AttributeError");
        assert_eq!(
            error.message,
            "'_NotYetLoadedTensor' object has no attribute 'data'"
        );
        assert_eq!(
            error.frames,
            [
                "/work/p/train.py:<module>",
                "lightning/fabric/utilities/load.py:__getattr__"
            ]
        );
        assert_eq!(last_line(output).as_deref(), Some("some log line after"));
    }

    #[test]
    fn qualified_and_bare_exception_types() {
        let qualified = "Traceback (most recent call last):\n  File \"t.py\", line 1, in f\njson.decoder.JSONDecodeError: Expecting value: line 1\n";
        let error = last_traceback(qualified).unwrap();
        assert_eq!(error.kind, "json.decoder.JSONDecodeError");
        assert_eq!(error.message, "Expecting value: line 1");
        assert_eq!(error.frames, ["<probe>/t.py:f"]);
        let bare = "Traceback (most recent call last):\n  File \"t.py\", line 1, in f\nKeyboardInterrupt\n";
        assert_eq!(last_traceback(bare).unwrap().kind, "KeyboardInterrupt");
        assert!(last_traceback("all good\n").is_none());
    }
}
