#!/usr/bin/env bash
# Builds the Python plugins: every plugins/python/NAME/app.py becomes the component
# target/wasm/python/NAME.wasm of the world `plugin` in wit/v0.3.0 (wasp:plugin@0.3.0).
#
# componentize-py (pinned below) is installed into the venv target/py-venv the first
# time; later runs reuse it. A plugin is rebuilt only when one of its inputs (its
# folder, the WIT, this script, the tool) is newer than its .wasm.
#
# Exit codes: 0 built or up to date; 0 also when the tool cannot be installed at all
# (no network, no python3): then it prints `python plugins skipped: REASON` and writes
# REASON to target/wasm/python/SKIPPED, which the tests read (tests/all/python.rs);
# 1 when a build fails.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script="$root/scripts/$(basename "${BASH_SOURCE[0]}")"
cd "$root"

venv=target/py-venv
tool="$venv/bin/componentize-py"
out=target/wasm/python
wit=wit/v0.3.0
marker="$out/SKIPPED"

mkdir -p "$out"

skip() {
    printf '%s\n' "$1" >"$marker"
    echo "python plugins skipped: $1"
    exit 0
}

installed_version() {
    [ -x "$tool" ] && "$tool" --version 2>/dev/null | awk '{print $2}'
}

if [ "$(installed_version || true)" != "$COMPONENTIZE_PY_VERSION" ]; then
    # A fresh Debian has python3 but not always its venv module: install what is
    # missing when we may (root with apt-get), as `make test` installs what it needs.
    need_packages() {
        command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' >/dev/null 2>&1
    }
    if ! need_packages && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing python3 and python3-venv with apt-get"
        apt-get install -y -qq python3 python3-venv >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq python3 python3-venv >/dev/null 2>&1; } \
            || true
    fi
    command -v python3 >/dev/null || skip "python3 not found (needed to install componentize-py)"
    echo "installing componentize-py $COMPONENTIZE_PY_VERSION into $venv"
    rm -rf "$venv"
    log="$(mktemp)"
    if ! python3 -m venv "$venv" >"$log" 2>&1; then
        reason="python3 -m venv failed: $(grep -v '^\s*$' "$log" | tail -n 1)"
        rm -rf "$venv" "$log"
        skip "$reason"
    fi
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
        --quiet --retries 2 --timeout 20 "componentize-py==$COMPONENTIZE_PY_VERSION" >"$log" 2>&1; then
        reason="pip could not install componentize-py==$COMPONENTIZE_PY_VERSION: $(grep -v '^\s*$' "$log" | tail -n 1)"
        rm -rf "$venv" "$log"
        skip "$reason"
    fi
    rm -f "$log"
    [ "$(installed_version || true)" = "$COMPONENTIZE_PY_VERSION" ] \
        || { echo "error: $tool does not report version $COMPONENTIZE_PY_VERSION after install" >&2; exit 1; }
fi

# The tool is here: whatever happens next, the plugins were not skipped.
rm -f "$marker"

# componentize-py adds $VIRTUAL_ENV's site-packages to the plugin's Python path, or
# else whatever `site` of the python3 on PATH finds; pin it to our venv.
export VIRTUAL_ENV="$root/$venv"

# True when $1 is missing or older than any of the plugin's inputs.
stale() {
    local wasm="$1" dir="$2"
    [ -f "$wasm" ] || return 0
    [ -n "$(find "$dir" "$wit" "$script" "$tool" -newer "$wasm" -not -path '*/__pycache__*' -print -quit)" ]
}

shopt -s nullglob
apps=(plugins/python/*/app.py)
[ ${#apps[@]} -gt 0 ] || { echo "no plugins/python/*/app.py to build"; exit 0; }

failed=()
for app in "${apps[@]}"; do
    dir="$(dirname "$app")"
    name="$(basename "$dir")"
    wasm="$out/$name.wasm"
    if ! stale "$wasm" "$dir"; then
        echo "python plugin $name: up to date ($wasm)"
        continue
    fi
    echo "python plugin $name: building $wasm"
    # Build from a copy: the interpreter that runs app.py at build time would leave
    # __pycache__ in the source folder.
    work="$(mktemp -d)"
    (cd "$dir" && tar --exclude=__pycache__ -cf - .) | (cd "$work" && tar -xf -)
    start=$SECONDS
    if (cd "$work" && RUST_BACKTRACE=0 "$root/$tool" --quiet -d "$root/$wit" -w plugin \
        componentize app -o "$root/$wasm.tmp"); then
        mv -f "$wasm.tmp" "$wasm"
        echo "python plugin $name: built in $((SECONDS - start))s, $(stat -c %s "$wasm") bytes"
    else
        rm -f "$wasm.tmp" "$wasm"
        echo "error: python plugin $name: componentize-py failed on $app (see above)" >&2
        failed+=("$name")
    fi
    rm -rf "$work"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "error: python plugins failed to build: ${failed[*]}" >&2
    exit 1
fi
