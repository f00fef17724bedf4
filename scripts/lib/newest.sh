# shellcheck shell=bash
# The newest Home Assistant stack (Python >= 3.14.2), next to the floor stack of bootstrap.sh.
#
# Where a Python >= 3.14.2 runs natively, its venv is .venv-newest. Elsewhere, on a
# Debian machine where we are root, a Debian forky root file system (a chroot, kept
# in the cache) provides Debian's python3.14; the checkout is bind-mounted at the
# same path inside it and the venvs live in the chroot's /opt. Every step is skipped
# when done; mounts are undone on exit. Source bootstrap.sh first.

NEWEST_REQ="$REPO_ROOT/requirements/newest.txt"
# Home Assistant releases newer than the harness pins, installed over the newest stack.
NEWEST_HA_OVERRIDE="$REPO_ROOT/requirements/ha-override.txt"
FORKY_ROOT="${FLUVIUS_FORKY_ROOT:-$CACHE_DIR/forkyroot}"
FORKY_MIRROR="http://deb.debian.org/debian"
# Set by ensure_newest: how to run a command in the newest stack's environment.
NEWEST_MODE=""          # "native" or "chroot"
NEWEST_WHY=""           # why the newest stack cannot be had, when it cannot

# Mounts are shared by every script that uses the chroot at the same time (say
# scripts/test in two checkouts): each holds a shared "user" lock while it runs, and
# the last one to leave unmounts. The checkout's own bind mount has a user lock per
# checkout. A short exclusive lock serialises mounting and leaving.
_forky_locks() { echo "$CACHE_DIR/forky-locks"; }

_forky_leave() {  # user-lock-fd mount...: unmount (in reverse) when no one else uses them
    local fd="$1" i
    shift
    local -a mounts=("$@")
    flock -x -n "$fd" || return 0
    for (( i=${#mounts[@]}-1; i>=0; i-- )); do
        mountpoint -q "${mounts[$i]}" || continue
        umount -R "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" 2>/dev/null || true
    done
}

_forky_umount_all() {
    [ -n "${_FORKY_MUTEX_FD:-}" ] || return 0
    flock -x "$_FORKY_MUTEX_FD"
    _forky_leave "$_FORKY_REPO_FD" "$FORKY_ROOT$REPO_ROOT"
    _forky_leave "$_FORKY_SYSTEM_FD" "${_FORKY_SYSTEM_MOUNTS[@]}"
    flock -u "$_FORKY_MUTEX_FD"
}

_forky_mount() {  # type-or-bind source target
    local how="$1" source="$2" target="$3"
    mkdir -p "$target"
    if mountpoint -q "$target"; then return 0; fi
    case "$how" in
        proc) mount -t proc proc "$target" ;;
        rbind) mount --rbind "$source" "$target" && mount --make-rslave "$target" ;;
        bind) mount --bind "$source" "$target" ;;
    esac
}

# Joins the chroot's users and mounts what is missing.
_forky_enter() {
    local locks
    locks="$(_forky_locks)"
    mkdir -p "$locks" "$CACHE_DIR/uv-cache"
    _FORKY_SYSTEM_MOUNTS=("$FORKY_ROOT/proc" "$FORKY_ROOT/dev" "$FORKY_ROOT/sys" "$FORKY_ROOT/root/.cache/uv")
    exec {_FORKY_MUTEX_FD}>"$locks/mount.lock"
    exec {_FORKY_SYSTEM_FD}>"$locks/system.lock"
    exec {_FORKY_REPO_FD}>"$locks/repo-$(echo "$REPO_ROOT" | sha256sum | cut -c1-16).lock"
    flock -x "$_FORKY_MUTEX_FD"
    flock -s "$_FORKY_SYSTEM_FD"
    flock -s "$_FORKY_REPO_FD"
    _forky_mount proc "" "$FORKY_ROOT/proc"
    _forky_mount rbind /dev "$FORKY_ROOT/dev"
    _forky_mount bind /sys "$FORKY_ROOT/sys"
    _forky_mount bind "$CACHE_DIR/uv-cache" "$FORKY_ROOT/root/.cache/uv"
    _forky_mount bind "$REPO_ROOT" "$FORKY_ROOT$REPO_ROOT"
    flock -u "$_FORKY_MUTEX_FD"
}

# Runs a command inside the chroot with a clean environment; extra VAR=value pairs first.
forky_run() {
    local -a vars=()
    while [ $# -gt 0 ] && [[ "$1" == *=* ]]; do vars+=("$1"); shift; done
    chroot "$FORKY_ROOT" env -i HOME=/root LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
        UV_CACHE_DIR=/root/.cache/uv "${vars[@]}" "$@"
}

_forky_build() {
    step "Building a Debian forky root file system for Python 3.14 in $FORKY_ROOT (once per machine)"
    export DEBIAN_FRONTEND=noninteractive
    command -v debootstrap >/dev/null 2>&1 || { _apt_update_once; apt-get install -y -qq debootstrap >/dev/null; }
    rm -rf "$FORKY_ROOT.partial"
    # Bookworm's debootstrap has no forky script; sid's fits forky.
    if ! debootstrap --variant=minbase forky "$FORKY_ROOT.partial" "$FORKY_MIRROR" \
            /usr/share/debootstrap/scripts/sid > "$CACHE_DIR/debootstrap.log" 2>&1; then
        NEWEST_WHY="debootstrap of Debian forky failed (see $CACHE_DIR/debootstrap.log)"
        return 1
    fi
    # The forky index here can be a frozen snapshot whose Release files have expired.
    echo 'Acquire::Check-Valid-Until "false";' > "$FORKY_ROOT.partial/etc/apt/apt.conf.d/99no-valid-until"
    mv "$FORKY_ROOT.partial" "$FORKY_ROOT"
    done_step
}

_forky_prepare() {
    local crt
    cp /etc/resolv.conf "$FORKY_ROOT/etc/resolv.conf"
    _forky_enter
    if [ ! -x "$FORKY_ROOT/usr/bin/python3.14" ]; then
        step "Installing Debian's python3.14 inside the chroot"
        if ! forky_run DEBIAN_FRONTEND=noninteractive bash -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-venv python3-dev ca-certificates build-essential >/dev/null'; then
            NEWEST_WHY="Debian forky's python3.14 packages could not be installed"
            return 1
        fi
        done_step
    fi
    # A machine-local CA (an egress proxy's) must be trusted inside too; cheap, so every run.
    mkdir -p "$FORKY_ROOT/usr/local/share/ca-certificates"
    for crt in /usr/local/share/ca-certificates/*.crt; do
        [ -f "$crt" ] || continue
        if ! cmp -s "$crt" "$FORKY_ROOT/usr/local/share/ca-certificates/$(basename "$crt")"; then
            cp "$crt" "$FORKY_ROOT/usr/local/share/ca-certificates/"
            forky_run update-ca-certificates >/dev/null
        fi
    done
    cp "$UV" "$FORKY_ROOT/usr/local/bin/uv"
}

# Venv $1 (a path as the newest stack sees it) with requirements/newest.txt, plus overrides $2.
_newest_venv() {
    local venv="$1" override="${2:-}" host_venv stamp want
    host_venv="$venv"
    [ "$NEWEST_MODE" = chroot ] && host_venv="$FORKY_ROOT$venv"
    stamp="$host_venv/.fluvius-stack"
    want="$(sha256sum "$NEWEST_REQ" "$REPO_ROOT/requirements/common.txt" ${override:+"$override" "$REPO_ROOT/scripts/lib/ha-override.pth"} | awk '{print $1}' | tr '\n' ' ')"
    # (bin/python of a chroot venv links to the chroot's /usr/bin: test pyvenv.cfg instead)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$host_venv/pyvenv.cfg" ]; then
        echo "==> Virtual environment $venv is up to date"
        return 0
    fi
    step "Creating $venv with uv (requirements/newest.txt${override:+ + $(basename "$override")})"
    rm -f "$stamp"
    newest_exec uv venv --quiet --allow-existing --python "$NEWEST_PYTHON" "$venv" || return 1
    newest_exec VIRTUAL_ENV="$venv" uv pip install --quiet --python "$venv/bin/python" \
        -r "$NEWEST_REQ" ${override:+--override "$override"} || return 1
    if [ -n "$override" ]; then
        # The 0.13.375 harness predates HA 2026.11: see ha-override.pth.
        cp "$REPO_ROOT/scripts/lib/ha-override.pth" "$(echo "$host_venv"/lib/python3.*/site-packages)/00-fluvius-ha-first.pth"
    fi
    echo "$want" > "$stamp"
    done_step
}

# Runs a command in the newest stack's world (natively, or in the chroot at the repo root).
newest_exec() {
    local -a vars=()
    while [ $# -gt 0 ] && [[ "$1" == *=* ]]; do vars+=("$1"); shift; done
    if [ "$NEWEST_MODE" = chroot ]; then
        forky_run "${vars[@]}" bash -c 'cd "$0" && exec "$@"' "$REPO_ROOT" "$@"
    elif [ "$1" = uv ]; then
        shift
        env "${vars[@]}" "$UV" "$@"
    else
        (cd "$REPO_ROOT" && env "${vars[@]}" "$@")
    fi
}

# Finds or makes the newest stack; returns 1 (with NEWEST_WHY) where it cannot be had.
ensure_newest() {
    local cand
    ensure_uv
    NEWEST_PYTHON=""
    while read -r cand; do
        if _py_at_least "$cand" 3 14 2; then NEWEST_PYTHON="$cand"; break; fi
    done < <(_py_candidates)
    if [ -n "$NEWEST_PYTHON" ]; then
        NEWEST_MODE=native
        NEWEST_VENV="$REPO_ROOT/.venv-newest"
        NEWEST_OVERRIDE_VENV="$REPO_ROOT/.venv-ha-override"
    else
        if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
            NEWEST_WHY="no Python >= 3.14.2 on this machine, and a Debian chroot needs root and apt-get"
            return 1
        fi
        NEWEST_MODE=chroot
        NEWEST_PYTHON=/usr/bin/python3.14
        NEWEST_VENV=/opt/fluvius/venv-newest
        NEWEST_OVERRIDE_VENV=/opt/fluvius/venv-ha-override
        trap _forky_umount_all EXIT
        if [ ! -d "$FORKY_ROOT/usr" ]; then _forky_build || return 1; fi
        _forky_prepare || return 1
    fi
    _newest_venv "$NEWEST_VENV" || { NEWEST_WHY="installing requirements/newest.txt failed"; return 1; }
}

# The newest stack with the Home Assistant release of requirements/ha-override.txt on top.
ensure_newest_override() {
    _newest_venv "$NEWEST_OVERRIDE_VENV" "$NEWEST_HA_OVERRIDE"
}

# The frontend for a browsable newest-stack Home Assistant (FLUVIUS_STACK=newest).
ensure_newest_develop_extras() {
    local host_venv="$NEWEST_VENV" stamp want req="$REPO_ROOT/requirements/develop-newest.txt"
    [ "$NEWEST_MODE" = chroot ] && host_venv="$FORKY_ROOT$NEWEST_VENV"
    stamp="$host_venv/.fluvius-develop"
    want="$(sha256sum "$req" | awk '{print $1}')"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    step "Installing requirements/develop-newest.txt with uv"
    newest_exec VIRTUAL_ENV="$NEWEST_VENV" uv pip install --quiet --python "$NEWEST_VENV/bin/python" -r "$req" || return 1
    echo "$want" > "$stamp"
    done_step
}

# Writes an executable that runs the newest stack's `hass` (for scripts/develop.py and
# scripts/e2e.py, which read its path from FLUVIUS_HASS) and prints its path. It execs,
# so signals reach Home Assistant; the chroot's mounts belong to the calling script.
newest_hass_wrapper() {
    local wrapper="$CACHE_DIR/newest-hass"
    if [ "$NEWEST_MODE" = native ]; then
        printf '#!/bin/sh\nPYTHONPATH="%s" exec "%s/bin/hass" "$@"\n' "$REPO_ROOT" "$NEWEST_VENV" > "$wrapper"
    else
        printf '#!/bin/sh\nexec chroot "%s" env -i HOME=/root LANG=C.UTF-8 PATH=/usr/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PYTHONPATH="%s" "%s/bin/hass" "$@"\n' \
            "$FORKY_ROOT" "$REPO_ROOT" "$NEWEST_VENV" > "$wrapper"
    fi
    chmod +x "$wrapper"
    echo "$wrapper"
}

# For scripts/develop and scripts/e2e: FLUVIUS_STACK=newest runs Home Assistant on the
# newest stack (the simulator and the browser stay on the floor venv).
use_stack_for_hass() {
    [ "${FLUVIUS_STACK:-floor}" = newest ] || return 0
    ensure_newest || { echo "error: the newest stack cannot be had here: $NEWEST_WHY" >&2; exit 1; }
    ensure_newest_develop_extras || { echo "error: installing requirements/develop-newest.txt failed" >&2; exit 1; }
    FLUVIUS_HASS="$(newest_hass_wrapper)"
    export FLUVIUS_HASS
    echo "==> Home Assistant runs on the newest stack ($NEWEST_MODE)"
}
