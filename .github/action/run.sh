#!/usr/bin/env bash
# The action's work (action.yml passes its inputs as QCOMPAT_* variables): run one qcompat command, leave what it
# produced in QCOMPAT_OUT (default qcompat-out/: JUnit, the snapshot, the Markdown, the pull request's number), append
# the Markdown to $GITHUB_STEP_SUMMARY and name the results in $GITHUB_OUTPUT. tests/action.rs runs it offline.
#
# QCOMPAT_COMMAND: `run --check` (compare with the committed snapshot; its diff is diff.md, what the pull-request
# comment shows), `run` (a fresh snapshot in the output folder), `run --update`, `monitor`, `plan`, `merge`.
# QCOMPAT_FAIL_ON: `difference` (the default for run --check), `regression` (the default otherwise) or `never`: which
# findings (exit 1) fail the step; bad input (2), the machine (3) and interrupts (130) always do.
set -uo pipefail

out="${QCOMPAT_OUT:-qcompat-out}"
command="${QCOMPAT_COMMAND:-run --check}"
matrix="${QCOMPAT_MATRIX:-}"
snapshot="${QCOMPAT_SNAPSHOT:-}"
shards="${QCOMPAT_SHARDS:-1}"
shard="${QCOMPAT_SHARD:-}"
plan="${QCOMPAT_PLAN:-}"
as_of="${QCOMPAT_AS_OF:-}"
read -r -a extra <<< "${QCOMPAT_ARGS:-}"
mkdir -p "$out/junit" "$out/parts"

fail() {
  echo "::error::$1" >&2
  exit 2
}
say() { [ -z "${GITHUB_STEP_SUMMARY:-}" ] || cat "$1" >> "$GITHUB_STEP_SUMMARY"; }
output() { [ -z "${GITHUB_OUTPUT:-}" ] || echo "$1=$2" >> "$GITHUB_OUTPUT"; }

# The matrix's name (its `name`, else the file's stem) names the default snapshot, the files and the artifact.
name=merged
if [ -n "$matrix" ]; then
  [ -f "$matrix" ] || fail "matrix: no such file \`$matrix\`"
  name=$(sed -nE 's/^name *[=:] *"?([A-Za-z0-9._-]+)"?.*/\1/p' "$matrix" | head -n 1)
  [ -n "$name" ] || name=$(basename "${matrix%.*}")
fi
default_snapshot="reports/$name.snap.toml"

# A pull request's number, for the workflow_run job that comments (it checks the number against the head commit).
if [ "${GITHUB_EVENT_NAME:-}" = pull_request ] && [ -f "${GITHUB_EVENT_PATH:-}" ]; then
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pull_request"]["number"])' \
    "$GITHUB_EVENT_PATH" > "$out/pull-request"
fi

# The moment a snapshot's query axes were listed: a check runs in the world the snapshot saw.
listed() { sed -nE 's/^listed = "([^"]+)"$/\1/p' "$1" 2>/dev/null | head -n 1; }

run_check() {
  local committed="${snapshot:-$default_snapshot}" fresh="$out/$name.snap.toml"
  [ -n "$as_of" ] || as_of=$(listed "$committed")
  qcompat run --matrix "$matrix" --check --snapshot "$committed" ${as_of:+--as-of "$as_of"} \
    --format junit --output "$out/junit/$name.xml" "${extra[@]}"
  status=$?
  if [ ! -f "$committed" ]; then
    [ ! -f "$committed.new" ] || mv "$committed.new" "$fresh"
    printf '**%s**: no snapshot at `%s` yet: record one with `qcompat run --matrix %s --update` and commit it.\n' \
      "$name" "$committed" "$matrix" > "$out/diff.md"
    diff_status=1
  elif [ -f "$committed.new" ]; then
    mv "$committed.new" "$fresh"
    qcompat diff "$committed" "$fresh" --format markdown > "$out/diff.md"
    diff_status=$?
  else
    cp "$committed" "$fresh"
    printf '**%s**: the results match `%s`.\n' "$name" "$committed" > "$out/diff.md"
    diff_status=0
  fi
  say "$out/diff.md"
}

run_matrix() {
  local mode=(--update --snapshot "$out/$name.snap.toml")
  if [ "$command" = "run --update" ]; then
    mode=(--update ${snapshot:+--snapshot "$snapshot"})
  fi
  qcompat run --matrix "$matrix" "${mode[@]}" ${as_of:+--as-of "$as_of"} \
    --format junit --output "$out/junit/$name.xml" "${extra[@]}"
  status=$?
  [ "$command" = run ] || cp "${snapshot:-$default_snapshot}" "$out/$name.snap.toml" 2>/dev/null
}

# Shard K of N: of the plan given, else of a plan made here as of `as-of` (every shard job must plan one world).
run_shard() {
  [ "$command" = run ] || fail "shards: only \`run\` runs a shard, not \`$command\`"
  [ -n "$shard" ] || fail "shards: $shards: say which one this job runs with \`shard\` (K, or K/N)"
  if [ -z "$plan" ]; then
    [ -n "$as_of" ] || fail "shards: every shard job must plan the same world: give \`as-of\` (or a \`plan\`)"
    qcompat plan --matrix "$matrix" --shards "$shards" --as-of "$as_of" --output "$out/plan.json" > /dev/null ||
      exit $?
    plan="$out/plan.json"
  fi
  local id="$shard/$shards"
  case "$shard" in */*) id=$shard ;; esac
  local part="${id/\//-of-}"
  qcompat run --plan "$plan" --shard "$id" --part "$out/parts/$part.snap.toml" \
    --format junit --output "$out/junit/$name-$part.xml" "${extra[@]}"
  status=$?
}

run_monitor() {
  local recorded="${snapshot:-$default_snapshot}"
  # The first night starts from the committed snapshot, when the recorded one lives elsewhere (a cache).
  if [ ! -f "$recorded" ] && [ -f "$default_snapshot" ]; then
    mkdir -p "$(dirname "$recorded")"
    cp "$default_snapshot" "$recorded"
  fi
  qcompat monitor --matrix "$matrix" --snapshot "$recorded" --update ${as_of:+--as-of "$as_of"} \
    --format markdown --output "$out/monitor.md" "${extra[@]}"
  status=$?
  [ ! -f "$out/monitor.md" ] || say "$out/monitor.md"
  [ -f "$recorded" ] || return 0
  cp "$recorded" "$out/$name.snap.toml"
  if [ -n "${QCOMPAT_HISTORY:-}" ]; then
    # Named by this night's moment: a quiet night leaves the snapshot (and its `listed`) as it was.
    local night="${as_of:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}"
    mkdir -p "$QCOMPAT_HISTORY"
    cp "$recorded" "$QCOMPAT_HISTORY/${night//:/}.snap.toml"
    qcompat report --history "$QCOMPAT_HISTORY" --output "$out/history.html"
  fi
}

run_plan() {
  [ -n "$as_of" ] || as_of=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  qcompat plan --matrix "$matrix" --shards "$shards" --as-of "$as_of" --format github \
    --output "$out/plan.json" "${extra[@]}" > "$out/shards.json"
  status=$?
  output shards "$(cat "$out/shards.json")"
  output plan "$out/plan.json"
  output as-of "$as_of"
}

run_merge() {
  local parts
  read -r -a parts <<< "${QCOMPAT_PARTS:-parts/*.snap.toml}"
  # The glob is the user's: expand it here.
  # shellcheck disable=SC2068
  qcompat merge ${parts[@]} --output "$out/$name.snap.toml"
  status=$?
  if [ "$status" -eq 0 ]; then
    qcompat report "$out/$name.snap.toml" --format markdown --output "$out/report.md" && say "$out/report.md"
  fi
}

status=0
diff_status=""
artifact="qcompat-$name"
case "$command" in
  "run --check") run_check ;;
  run | "run --update")
    if [ "$shards" -gt 1 ] || [ -n "$plan" ]; then
      run_shard
      artifact="qcompat-$name-shard-${shard%%/*}"
    else
      run_matrix
    fi
    ;;
  monitor) run_monitor; artifact="qcompat-$name-night" ;;
  plan) run_plan; artifact="qcompat-$name-plan" ;;
  merge) run_merge; artifact="qcompat-$name-merged" ;;
  *) fail "command: \`$command\` is none of run --check, run, run --update, monitor, plan, merge" ;;
esac

fail_on="${QCOMPAT_FAIL_ON:-}"
[ -n "$fail_on" ] || { [ "$command" = "run --check" ] && fail_on=difference || fail_on=regression; }
verdict=$status
if [ "$status" -eq 1 ]; then
  case "$fail_on" in
    never) verdict=0 ;;
    regression) [ -z "$diff_status" ] || verdict=$diff_status ;;
    difference) ;;
    *) fail "fail-on: \`$fail_on\` is none of difference, regression, never" ;;
  esac
fi
output exit-code "$status"
output out "$out"
output artifact "$artifact"
[ ! -f "$out/$name.snap.toml" ] || output snapshot "$out/$name.snap.toml"
exit "$verdict"
