# shellcheck shell=bash disable=SC2034  # sourced; the arrays are used by the caller
# Sourced by demo.sh and test.sh: installs the Debian 12 packages Hermes needs.
# Uses sudo only when not root; does nothing when everything is present
# (only missing packages are installed). Extra packages: hermes_install_deps PKG...

HERMES_BUILD_DEPS=(gcc pkg-config meson ninja-build libwebsockets-dev libjansson-dev
                   libcyaml-dev libyaml-dev libcmocka-dev python3 python3-websockets
                   libhdf5-dev hdf5-tools python3-h5py)
# Extra tools of scripts/test.sh only (not needed to build or run the demo):
# clang + its fuzzer runtime for tests/fuzz, valgrind for the memcheck stage.
# gcc's ThreadSanitizer runtime (libtsan2) comes with gcc itself.
# GNU parallel runs the campaign test's runs; slurm-wlm + munge the Slurm check.
HERMES_TEST_DEPS=(clang libclang-rt-14-dev valgrind parallel slurm-wlm munge)

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

# meson setup only once; later runs let ninja reconfigure by itself.
hermes_setup() {
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@"
    fi
}
