# shellcheck shell=bash
# Shared set-up for scripts/develop, scripts/test and scripts/e2e.
#
# Finds (or builds) a Python that runs the pinned Home Assistant stack, creates
# the project's virtual environment with uv and installs the pinned
# requirements. Every step prints what it does and how long it took; a second
# run skips what is already done.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${FLUVIUS_DEV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fluvius-dev}"
VENV_DIR="${FLUVIUS_VENV:-$REPO_ROOT/.venv}"
# CPython built from Debian's source package when no suitable one exists.
DEBIAN_PY_SOURCE="python3.13"
DEBIAN_SRC_SUITE="trixie"

# The recorder-backed tests: run once more on HA 2026.11.0 (scripts/test) and on
# MariaDB and PostgreSQL (scripts/test-databases).
RECORDER_TESTS=(
    tests/integration/test_statistics.py
    tests/integration/test_statistics_boundaries.py
    tests/integration/test_fault_matrix.py
    tests/integration/test_history_import.py
    tests/integration/test_services.py
    tests/integration/test_late_data.py
    tests/integration/test_site_names.py
    tests/integration/test_costs.py
)

_step_started=0
step() {
    _step_started=$(date +%s)
    printf '==> %s\n' "$*"
}
done_step() {
    printf '    done in %ss\n' "$(( $(date +%s) - _step_started ))"
}

# Prints "major minor micro" for an interpreter, or nothing when it does not run.
_py_version() {
    "$1" -c 'import sys; print(*sys.version_info[:3])' 2>/dev/null || true
}

# True when the interpreter at $1 is at least $2.$3.$4 and has the modules HA needs.
_py_at_least() {
    local v
    v="$(_py_version "$1")"
    [ -n "$v" ] || return 1
    # shellcheck disable=SC2086
    set -- "$1" "$2" "$3" "$4" $v
    if [ "$5" -ne "$2" ]; then [ "$5" -gt "$2" ] || return 1
    elif [ "$6" -ne "$3" ]; then [ "$6" -gt "$3" ] || return 1
    else [ "$7" -ge "$4" ] || return 1
    fi
    "$1" -c 'import ssl, sqlite3, ctypes, zlib, bz2, lzma, venv' 2>/dev/null
}

# Candidate interpreters: PATH, pyenv, uv's store and our own build cache.
_py_candidates() {
    local name dir
    for name in python3.14 python3.13 python3; do
        command -v "$name" 2>/dev/null || true
    done
    for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]* \
               "$HOME"/.local/share/uv/python/cpython-3.1[3-9]* \
               "$CACHE_DIR"/python-3.1[3-9]*; do
        [ -d "$dir" ] || continue
        for name in python3.14 python3.13 python3; do
            [ -x "$dir/bin/$name" ] && echo "$dir/bin/$name"
        done
    done
    return 0
}

# Sets PYTHON for the floor stack (requirements/ha-2026.2.txt): a 3.13 from 3.13.2 on
# where one exists, else any Python >= 3.13.2. The newest stack is scripts/lib/newest.sh's.
_pick_python() {
    local cand
    PYTHON="${FLUVIUS_PYTHON:-}"
    STACK="ha-2026.2"
    if [ -n "$PYTHON" ]; then return 0; fi
    while read -r cand; do
        if _py_at_least "$cand" 3 13 2 && ! _py_at_least "$cand" 3 14 0; then PYTHON="$cand"; return 0; fi
    done < <(_py_candidates)
    while read -r cand; do
        if _py_at_least "$cand" 3 13 2; then PYTHON="$cand"; return 0; fi
    done < <(_py_candidates)
    return 1
}

# uv from PyPI, in a small venv of its own, made with whatever python3 exists.
ensure_uv() {
    UV="$CACHE_DIR/uv-venv/bin/uv"
    if [ -x "$UV" ]; then return 0; fi
    if command -v uv >/dev/null 2>&1; then UV="$(command -v uv)"; return 0; fi
    step "Installing uv from PyPI into $CACHE_DIR/uv-venv"
    mkdir -p "$CACHE_DIR"
    python3 -m venv "$CACHE_DIR/uv-venv"
    "$CACHE_DIR/uv-venv/bin/python" -m pip install --quiet --disable-pip-version-check uv
    done_step
}

_apt_update_once() {
    if [ -z "${_APT_UPDATED:-}" ]; then
        apt-get update -qq
        _APT_UPDATED=1
    fi
}

_as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Builds CPython from Debian's source package into the cache (once per machine).
build_python_from_debian() {
    local src_dir build_dir list_file tarball version prefix
    step "Building CPython 3.13 from Debian's source package (once per machine, several minutes)"
    export DEBIAN_FRONTEND=noninteractive
    _as_root apt-get update -qq
    _APT_UPDATED=1
    _as_root apt-get install -y -qq --no-install-recommends \
        build-essential pkg-config xz-utils dpkg-dev \
        libssl-dev libffi-dev libsqlite3-dev zlib1g-dev libbz2-dev liblzma-dev \
        uuid-dev libreadline-dev libncurses-dev libgdbm-dev libexpat1-dev >/dev/null
    list_file=/etc/apt/sources.list.d/fluvius-dev-${DEBIAN_SRC_SUITE}-src.list
    if [ ! -f "$list_file" ]; then
        echo "deb-src http://deb.debian.org/debian ${DEBIAN_SRC_SUITE} main" | _as_root tee "$list_file" >/dev/null
    fi
    _as_root apt-get update -qq
    src_dir="$CACHE_DIR/src"
    mkdir -p "$src_dir"
    if ! ls "$src_dir"/${DEBIAN_PY_SOURCE}_*.orig.tar.xz >/dev/null 2>&1; then
        (cd "$src_dir" && apt-get source --download-only -qq -o APT::Sandbox::User=root "$DEBIAN_PY_SOURCE")
    fi
    tarball="$(ls "$src_dir"/${DEBIAN_PY_SOURCE}_*.orig.tar.xz | sort -V | tail -n 1)"
    version="$(basename "$tarball" | sed -E 's/^python3\.13_([0-9.]+)\.orig.*/\1/')"
    prefix="$CACHE_DIR/python-$version"
    build_dir="$src_dir/build-$version"
    rm -rf "$build_dir"
    mkdir -p "$build_dir"
    tar -xf "$tarball" -C "$build_dir" --strip-components=1
    (
        cd "$build_dir"
        ./configure --prefix="$prefix" --with-ensurepip=install --enable-loadable-sqlite-extensions >/dev/null
        make -j"$(nproc)" >/dev/null 2>"$build_dir/make.log" || { tail -n 40 "$build_dir/make.log"; exit 1; }
        make install >/dev/null 2>>"$build_dir/make.log"
    )
    rm -rf "$build_dir"
    done_step
}

ensure_python() {
    step "Looking for Python >= 3.13.2"
    if _pick_python; then
        echo "    using $PYTHON ($(_py_version "$PYTHON" | tr ' ' .)), stack $STACK"
        done_step
        return 0
    fi
    echo "    none found"
    ensure_uv
    step "Trying 'uv python install 3.13'"
    if timeout 120 "$UV" python install 3.13 >/dev/null 2>&1 && _pick_python; then
        echo "    using $PYTHON"
        done_step
        return 0
    fi
    echo "    not available here"
    build_python_from_debian
    _pick_python || { echo "error: no usable Python after the build" >&2; exit 1; }
    echo "    using $PYTHON ($(_py_version "$PYTHON" | tr ' ' .)), stack $STACK"
}

# Creates .venv with uv and installs the pinned stack; skipped when unchanged.
ensure_venv() {
    local req stamp want
    ensure_python
    ensure_uv
    req="$REPO_ROOT/requirements/$STACK.txt"
    stamp="$VENV_DIR/.fluvius-stack"
    want="$PYTHON $(sha256sum "$req" "$REPO_ROOT/requirements/common.txt" | awk '{print $1}' | tr '\n' ' ')"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV_DIR/bin/python" ]; then
        echo "==> Virtual environment $VENV_DIR is up to date ($STACK)"
        return 0
    fi
    step "Creating $VENV_DIR with uv ($STACK)"
    "$UV" venv --quiet --allow-existing --python "$PYTHON" "$VENV_DIR"
    done_step
    step "Installing requirements/$STACK.txt with uv"
    VIRTUAL_ENV="$VENV_DIR" "$UV" pip install --quiet --python "$VENV_DIR/bin/python" -r "$req"
    done_step
    echo "$want" > "$stamp"
}

# The frontend and friends for a browsable Home Assistant (scripts/develop, scripts/e2e).
ensure_develop_extras() {
    local stamp="$VENV_DIR/.fluvius-develop"
    local want
    want="$(sha256sum "$REPO_ROOT/requirements/develop.txt" | awk '{print $1}')"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    step "Installing requirements/develop.txt with uv"
    VIRTUAL_ENV="$VENV_DIR" "$UV" pip install --quiet --python "$VENV_DIR/bin/python" -r "$REPO_ROOT/requirements/develop.txt"
    done_step
    echo "$want" > "$stamp"
}

# Playwright for scripts/e2e, and Debian's chromium for it to drive (no browser download).
CHROMIUM_BIN="/usr/bin/chromium"
ensure_e2e_extras() {
    local stamp="$VENV_DIR/.fluvius-e2e"
    local want
    ensure_develop_extras
    want="$(sha256sum "$REPO_ROOT/requirements/e2e.txt" | awk '{print $1}')"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        step "Installing requirements/e2e.txt with uv"
        VIRTUAL_ENV="$VENV_DIR" "$UV" pip install --quiet --python "$VENV_DIR/bin/python" -r "$REPO_ROOT/requirements/e2e.txt"
        done_step
        echo "$want" > "$stamp"
    fi
    if [ -x "$CHROMIUM_BIN" ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: $CHROMIUM_BIN is missing. scripts/e2e drives Debian's chromium package;" >&2
        echo "       install it as root ('sudo apt-get install -y chromium') and run scripts/e2e again." >&2
        exit 1
    fi
    step "Installing Debian's chromium package"
    export DEBIAN_FRONTEND=noninteractive
    _apt_update_once
    apt-get install -y -qq chromium >/dev/null
    done_step
}
