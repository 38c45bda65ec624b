# shellcheck shell=bash disable=SC2034  # sourced; the arrays are used by the caller
# Sourced by demo.sh and test.sh: installs the Debian 12 packages Hermes needs.
# Uses sudo only when not root; does nothing when everything is present
# (only missing packages are installed). Extra packages: hermes_install_deps PKG...

HERMES_BUILD_DEPS=(gcc pkg-config meson ninja-build libwebsockets-dev libjansson-dev
                   libcyaml-dev libyaml-dev libcmocka-dev python3 python3-websockets
                   libhdf5-dev hdf5-tools python3-h5py libzip-dev libexpat1-dev
                   libzstd-dev liblz4-dev)
# Extra tools of scripts/test.sh only (not needed to build or run the demo):
# clang + its fuzzer runtime for tests/fuzz, valgrind for the memcheck stage.
# gcc's ThreadSanitizer runtime (libtsan2) comes with gcc itself. Node.js + npm
# (viewer build, browser and Foxglove tests) come from hermes_viewer_setup below,
# which installs Debian's nodejs/npm only when no npm is on the PATH.
# chromium: the viewer's browser test; GNU parallel: the campaign test's runs;
# slurm-wlm + munge: the Slurm check; bc + time: bench/campaign.sh.
# python3-venv/pip/wheel/pytest/numpy: meson test python_pkg (the Python package).
HERMES_TEST_DEPS=(clang libclang-rt-14-dev valgrind chromium parallel slurm-wlm munge bc time
                  python3-venv python3-pip python3-wheel python3-pytest python3-numpy)

hermes_install_deps() {
    local missing=()
    local p
    for p in "${HERMES_BUILD_DEPS[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Built-in viewer: node + npm (Debian's npm only when no npm is on PATH, as
# NodeSource's nodejs bundles its own), then `npm ci --prefix viewer` (uPlot for
# the page, playwright-core + ws for the browser test) unless node_modules is
# newer than the lockfile. Build dirs given as arguments that were configured
# without the page are reconfigured so they compile it in.
hermes_viewer_setup() {
    command -v npm >/dev/null || hermes_install_deps nodejs npm || return 1
    if [ ! viewer/node_modules/.package-lock.json -nt viewer/package-lock.json ]; then
        npm ci --prefix viewer --no-audit --no-fund --loglevel=error || return 1
    fi
    local d
    for d in "$@"; do
        if [ -f "$d/build.ninja" ] && ! grep -q viewer_assets "$d/build.ninja"; then
            meson setup --reconfigure "$d" >/dev/null || return 1
        fi
    done
}

# meson setup only once; later runs let ninja reconfigure by itself.
hermes_setup() {
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@"
    fi
}
