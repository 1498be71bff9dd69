#!/usr/bin/env bash
# Puts qcompat on the job's PATH for the action (action.yml), from QCOMPAT_INSTALL:
#   release  the released wheel from the package index (QCOMPAT_VERSION, else the action's own tag vX.Y.Z, else the
#            newest), installed with `uv tool install`;
#   source   a release build of the action's own checkout (QCOMPAT_SOURCE);
#   PATH     a wheel, a folder of wheels, or a qcompat binary.
# The folder it installs into (QCOMPAT_BIN_DIR, default $RUNNER_TEMP/qcompat-bin) is appended to $GITHUB_PATH.
set -euo pipefail

install="${QCOMPAT_INSTALL:-release}"
bin="${QCOMPAT_BIN_DIR:-${RUNNER_TEMP:-/tmp}/qcompat-bin}"
mkdir -p "$bin"
# uv keeps the tool's environment beside the folder on PATH, not in the user's home.
export UV_TOOL_BIN_DIR="$bin" UV_TOOL_DIR="$bin/.tools"

case "$install" in
  release)
    version="${QCOMPAT_VERSION:-}"
    if [ -z "$version" ]; then
      case "${QCOMPAT_ACTION_REF:-}" in v[0-9]*) version="${QCOMPAT_ACTION_REF#v}" ;; esac
    fi
    uv tool install --force "qcompat${version:+==$version}"
    ;;
  source)
    source="${QCOMPAT_SOURCE:?QCOMPAT_SOURCE names the checkout to build}"
    cargo build --release --locked --manifest-path "$source/Cargo.toml" --bin qcompat
    ln -sf "${CARGO_TARGET_DIR:-$source/target}/release/qcompat" "$bin/qcompat"
    ;;
  *.whl)
    uv tool install --force "$install"
    ;;
  *)
    if [ -d "$install" ]; then
      uv tool install --force --no-index --find-links "$install" qcompat
    elif [ -x "$install" ]; then
      ln -sf "$(cd "$(dirname "$install")" && pwd)/$(basename "$install")" "$bin/qcompat"
    else
      echo "::error::install: \`$install\` is neither release, source, a wheel, a folder of wheels nor a binary" >&2
      exit 2
    fi
    ;;
esac

if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$bin" >> "$GITHUB_PATH"
fi
"$bin/qcompat" --version
