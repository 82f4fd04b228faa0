#!/usr/bin/env bash
# Build KenLM's n-gram estimation (lmplz) and binarisation (build_binary) programs.
#
# pip's `kenlm` package only ships the query-side Python module; the two programs that
# *build* an n-gram LM come from the C++ tree inside the `kenlm` source distribution on
# PyPI, which this script downloads, configures with CMake and compiles.
#
# Usage: utils/install_kenlm.sh [--install-deps] [PREFIX]
#   PREFIX          install prefix (default: <repo>/tools): binaries go to PREFIX/bin
#   --install-deps  (or KENLM_INSTALL_DEPS=1) apt-get install missing Debian build packages
#                   (needs root and apt-get); without it a missing prerequisite is an error
#                   naming the Debian package to install.
# Environment: PYTHON (python with pip used to fetch the sdist; default <repo>/.venv/bin/python,
#              else python3), KENLM_JOBS (parallel make jobs, default 2).
# Idempotent: does nothing when PREFIX/bin/lmplz and PREFIX/bin/build_binary exist and work.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
install_deps=${KENLM_INSTALL_DEPS:-0}
prefix=""
while [ $# -gt 0 ]; do
    case "$1" in
        --install-deps) install_deps=1 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "$0: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) [ -z "$prefix" ] || { echo "$0: only one PREFIX allowed" >&2; exit 2; }; prefix=$1 ;;
    esac
    shift
done
prefix=${prefix:-$repo/tools}
prefix=$(realpath -m "$prefix")
jobs=${KENLM_JOBS:-2}

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

# Estimate a bigram on two words and binarise it: proves both programs run.
binaries_work() {
    [ -x "$prefix/bin/lmplz" ] && [ -x "$prefix/bin/build_binary" ] || return 1
    printf 'a b\nb a\n' | "$prefix/bin/lmplz" -o 2 --discount_fallback -S 64M -T "$workdir" \
        >"$workdir/check.arpa" 2>/dev/null || return 1
    "$prefix/bin/build_binary" "$workdir/check.arpa" "$workdir/check.bin" >/dev/null 2>&1
}

if binaries_work; then
    echo "KenLM already installed: $prefix/bin/lmplz, $prefix/bin/build_binary"
    exit 0
fi

# Preprocess HEADER and link an empty program with -lLIB: checks dev headers and library.
can_link() {
    local header=$1 lib=$2
    printf '#include <%s>\n' "$header" | "$cxx" -x c++ -E - -o /dev/null >/dev/null 2>&1 &&
        printf 'int main() { return 0; }\n' |
        "$cxx" -x c++ - -o "$workdir/probe" "-l$lib" >/dev/null 2>&1
}

missing_pkgs() {
    local missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    cxx=$(command -v c++ || command -v g++ || true)
    if [ -z "$cxx" ] || ! command -v make >/dev/null 2>&1; then
        missing+=(build-essential)
        echo "${missing[@]}"
        return
    fi
    can_link boost/program_options.hpp boost_program_options ||
        missing+=(libboost-program-options-dev)
    can_link boost/system/error_code.hpp boost_system || missing+=(libboost-system-dev)
    can_link boost/thread/thread.hpp boost_thread || missing+=(libboost-thread-dev)
    can_link boost/test/unit_test.hpp boost_unit_test_framework || missing+=(libboost-test-dev)
    can_link zlib.h z || missing+=(zlib1g-dev)
    can_link bzlib.h bz2 || missing+=(libbz2-dev)
    can_link lzma.h lzma || missing+=(liblzma-dev)
    echo "${missing[@]}"
}

missing=$(missing_pkgs)
if [ -n "$missing" ]; then
    if [ "$install_deps" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing KenLM build prerequisites: $missing"
        apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
        missing=$(missing_pkgs)
    fi
    if [ -n "$missing" ]; then
        echo "ERROR: cannot build KenLM: missing build prerequisites." >&2
        echo "Install the Debian packages: apt-get install $missing" >&2
        echo "(or, as root with apt-get: $0 --install-deps)" >&2
        exit 1
    fi
fi

python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x "$repo/.venv/bin/python" ]; then python=$repo/.venv/bin/python; else python=python3; fi
fi
echo "Downloading the kenlm source distribution with $python -m pip"
# --no-binary only for kenlm: its build requirements (setuptools, wheel, cmake) may be wheels.
"$python" -m pip download --quiet --no-deps --no-binary kenlm --dest "$workdir" kenlm
tar -xzf "$workdir"/kenlm-*.tar.gz -C "$workdir"
src=$(find "$workdir" -mindepth 1 -maxdepth 1 -type d -name 'kenlm-*' | head -n 1)

echo "Building lmplz and build_binary in $workdir (make -j$jobs)"
cmake -S "$src" -B "$workdir/build" -DCMAKE_BUILD_TYPE=Release -DENABLE_PYTHON=OFF \
    -DCOMPILE_TESTS=OFF >"$workdir/cmake.log" 2>&1 || { cat "$workdir/cmake.log" >&2; exit 1; }
make -C "$workdir/build" -j"$jobs" lmplz build_binary
mkdir -p "$prefix/bin"
install -m 755 "$workdir/build/bin/lmplz" "$workdir/build/bin/build_binary" "$prefix/bin/"

binaries_work || { echo "ERROR: built KenLM binaries in $prefix/bin do not run" >&2; exit 1; }
echo "KenLM installed: $prefix/bin/lmplz, $prefix/bin/build_binary"
