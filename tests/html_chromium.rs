//! The HTML grid in a real browser: headless Chromium loads the page from disk, runs its script, and the tests assert
//! on the DOM it dumps and on a screenshot. Ignored in plain `cargo test` (they need Chromium); CI runs them with
//! `--include-ignored` after `.ci/run` installs Debian's `chromium`.

mod common;

use std::path::{Path, PathBuf};

use common::browser::headless;
use common::{Scratch, repo, stderr};

/// The id of the first chip whose attributes contain `needle` (chips are one line each in the page source).
fn chip_id(html: &str, needle: &str) -> String {
    let chip = html
        .split("<button ")
        .skip(1)
        .find(|chip| chip.split('>').next().unwrap_or_default().contains(needle))
        .unwrap_or_else(|| panic!("no chip with {needle}"));
    let id = chip
        .split("id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    id.to_string()
}

fn render_html(scratch: &Scratch, snapshot: &Path) -> (PathBuf, String) {
    let page = scratch.path().join("grid.html");
    let output = scratch
        .command(&[
            "report",
            snapshot.to_str().unwrap(),
            "--format",
            "html",
            "--output",
            "grid.html",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let html = std::fs::read_to_string(&page).unwrap();
    (page, html)
}

#[test]
#[ignore = "needs chromium"]
fn the_grid_renders_and_a_click_shows_the_signature_and_its_cells() {
    let scratch = Scratch::new();
    let (page, html) = render_html(&scratch, &repo().join("tests/fixtures/grid.snap.toml"));

    // A `#c-…` link selects a chip the way a click does.
    let failing = chip_id(&html, "data-outcome=\"fail\"");
    let dom = headless(&scratch, &page, &format!("#{failing}"), &["--dump-dom"]);
    assert!(
        dom.contains("data-ready=\"true\""),
        "the script ran to its end"
    );
    assert!(
        dom.contains(&format!(
            "<aside id=\"details\" data-selected=\"{failing}\">"
        )),
        "the details panel is shown"
    );
    assert!(dom.contains(
        "<dd>TypeError: _Linear4bit.quantize() got an unexpected keyword argument 'quant_storage'</dd>"
    ));
    assert!(dom.contains("<dd>lightning/fabric/plugins/precision/bitsandbytes.py:quantize</dd>"));
    assert_eq!(dom.matches("class=\"chip o-fail selected").count(), 1);

    // An xfail lights up every probe run with its signature, and its group below the grid.
    let known = chip_id(&html, "data-outcome=\"xfail\"");
    let dom = headless(&scratch, &page, &format!("#{known}"), &["--dump-dom"]);
    assert_eq!(
        dom.matches(" same-sig\"").count(),
        11,
        "the 11 runs that share the lazy-load signature"
    );
    assert!(
        dom.contains("<article class=\"sig active\" id=\"sig-2\""),
        "{dom}"
    );
    assert!(dom.contains(">signature [2]: 11 probe run(s)</a>"));
    assert!(dom.contains("<dd>litgpt-1604</dd>"));

    // A probe that ran nothing says so: not a pass.
    let skipped = chip_id(&html, "data-outcome=\"skipped\"");
    let dom = headless(&scratch, &page, &format!("#{skipped}"), &["--dump-dom"]);
    assert!(dom.contains("<dd>skipped: no GPU on this runner</dd>"));
    assert!(dom.contains("<dd>nothing ran: not a pass, never counted as tested.</dd>"));

    // The grid itself: two torch sections of lightning × bitsandbytes, a legend with every outcome class.
    assert_eq!(dom.matches("<section class=\"grid-section\"").count(), 2);
    assert_eq!(
        dom.matches("<button type=\"button\" class=\"chip ").count(),
        44
    );
    assert_eq!(
        dom.matches("<span class=\"swatch o-").count(),
        10 + 8,
        "legend entries and signature groups"
    );

    let shots = std::env::var_os("QCOMPAT_SCREENSHOT_DIR")
        .map_or_else(|| scratch.path().to_path_buf(), PathBuf::from);
    let shot = shots.join("qcompat-grid.png");
    let screenshot = format!("--screenshot={}", shot.display());
    // No fragment here: jumping to a chip would scroll the header and legend out of the picture.
    headless(
        &scratch,
        &page,
        "",
        &[&screenshot, "--window-size=1280,1500"],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        png.len() > 20_000,
        "a picture of the grid, not a blank page ({} bytes)",
        png.len()
    );
}

#[test]
#[ignore = "needs chromium"]
fn a_toy_runs_snapshot_renders_with_fixed_upstream_marked() {
    let scratch = Scratch::new();
    scratch.write(
        "toy.toml",
        "probes = [\"toy-load\"]\ntimeout = \"3s\"\n[axes]\ntoyquant = [\"1.0\", \"1.2\", \"1.6\"]\n\
         [[known]]\nid = \"toy-fixed-upstream\"\nsignature = \"AttributeError\"\nwhen = { toyquant = \"==1.6\" }\n",
    );
    let output = scratch.qcompat(&["run", "--matrix", "toy.toml", "--update"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "1.2 fails unexpectedly: {}",
        stderr(&output)
    );
    let (page, html) = render_html(&scratch, &scratch.path().join("reports/toy.snap.toml"));

    let xpass = chip_id(&html, "data-outcome=\"xpass\"");
    let dom = headless(&scratch, &page, &format!("#{xpass}"), &["--dump-dom"]);
    assert!(dom.contains("<dd>fixed upstream? Drop the [[known]] entry once it stays fixed.</dd>"));
    assert!(dom.contains("<section id=\"fixed-upstream\">"));
    assert_eq!(
        dom.matches("<button type=\"button\" class=\"chip ").count(),
        3
    );
    assert!(dom.contains("data-regressions=\"1\""));
}
