#!/usr/bin/env bash
# Cross builds for the devices qmgr's users ship: aarch64 and armv7 Linux,
# with Debian's cross compilers. For each target it builds the release
# library (`make TARGET=...`), compiles the C and C++ programs of ctests/
# against include/qmgr.h and that library with the target's compiler and
# -Wall -Wextra -Werror -pedantic, runs each under qemu-user, and prints a
# table: build time, stripped library size, each program's result and time.
#
#   bash cross/run.sh                      # both targets
#   bash cross/run.sh aarch64-unknown-linux-gnu
#
# Installs what it lacks (apt: gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu,
# gcc-arm-linux-gnueabihf, g++-arm-linux-gnueabihf, qemu-user; rustup target
# add). Takes 2 to 3 minutes per target on 2 cores (the release build is
# most of it), so CI does not run it. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
fi
# Each program may take this long under emulation.
LIMIT=${QMGR_CROSS_LIMIT:-900}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
log() { printf 'cross: %s\n' "$*" >&2; }

# target triple -> Debian's GNU triple, qemu binary
gnu_of() {
    case $1 in
        aarch64-unknown-linux-gnu) echo aarch64-linux-gnu ;;
        armv7-unknown-linux-gnueabihf) echo arm-linux-gnueabihf ;;
        *) echo "cross/run.sh: unknown target $1" >&2; exit 2 ;;
    esac
}
qemu_of() {
    case $1 in
        aarch64-*) echo qemu-aarch64 ;;
        armv7-*) echo qemu-arm ;;
    esac
}

missing=()
for t in "${TARGETS[@]}"; do
    gnu=$(gnu_of "$t")
    command -v "$gnu-gcc" >/dev/null || missing+=("gcc-$gnu")
    command -v "$gnu-g++" >/dev/null || missing+=("g++-$gnu")
    command -v "$(qemu_of "$t")" >/dev/null || missing+=(qemu-user)
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
installed=$(rustup target list --installed)
for t in "${TARGETS[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

WORK=$ROOT/target/cross-work
rm -rf "$WORK"
mkdir -p "$WORK"
failed=0
summary=()

for t in "${TARGETS[@]}"; do
    gnu=$(gnu_of "$t")
    qemu=$(qemu_of "$t")
    upper=$(tr 'a-z-' 'A-Z_' <<<"$t")
    lower=$(tr '-' '_' <<<"$t")
    # The linker for rustc, the C compiler for the cc crate (bundled SQLite,
    # ring), and a runner so `cargo test --target` would work too.
    export "CARGO_TARGET_${upper}_LINKER=$gnu-gcc"
    export "CARGO_TARGET_${upper}_RUNNER=$qemu -L /usr/$gnu"
    export "CC_${lower}=$gnu-gcc" "CXX_${lower}=$gnu-g++" "AR_${lower}=$gnu-ar"

    log "$t: make TARGET=$t (release library)"
    start=$(date +%s)
    make TARGET="$t" CARGOFLAGS="-p qmgr-capi" >&2
    build_s=$(( $(date +%s) - start ))
    out=$ROOT/target/$t/release
    "$gnu-strip" --strip-unneeded "$out/libqmgr.so" -o "$WORK/libqmgr-$t.so"
    so_size=$(stat -c %s "$WORK/libqmgr-$t.so")
    a_size=$(stat -c %s "$out/libqmgr.a")
    file "$WORK/libqmgr-$t.so" | sed 's/^/cross: /' >&2
    summary+=("$t: build ${build_s}s, libqmgr.so stripped $so_size bytes, libqmgr.a $a_size bytes")

    # 32-bit ARM: the C tests make a 4.5 GiB (sparse) file.
    cflags=(-Wall -Wextra -Werror -pedantic -D_FILE_OFFSET_BITS=64 -I"$ROOT/include" -I"$ROOT/ctests")
    ldflags=(-L"$out" -lqmgr -Wl,-rpath,"$out" -pthread)
    for src in ctests/*.c ctests/*.cpp; do
        name=$(basename "$src")
        [ "$name" = common.c ] && continue
        # features.c checks what a --no-default-features library refuses
        # (tests/it/features.rs builds one and runs it, with a test server);
        # this script cross-builds the default library.
        [ "$name" = features.c ] && continue
        exe=$WORK/$t-${name%.*}
        case $name in
            *.cpp) "$gnu-g++" -std=c++11 "${cflags[@]}" "$src" -o "$exe" "${ldflags[@]}" ;;
            *) "$gnu-gcc" -std=c99 "${cflags[@]}" "$src" ctests/common.c -o "$exe" "${ldflags[@]}" ;;
        esac
        scratch=$WORK/$t-${name%.*}.d
        mkdir -p "$scratch"
        start=$(date +%s)
        if timeout "$LIMIT" "$qemu" -L "/usr/$gnu" "$exe" "$scratch" >"$exe.log" 2>&1; then
            result=ok
        else
            result="FAILED ($?; see $exe.log)"
            failed=1
            tail -n 20 "$exe.log" >&2
        fi
        secs=$(( $(date +%s) - start ))
        rm -rf "$scratch"
        log "$t: $name: $result in ${secs}s"
        summary+=("$t: $name $result in ${secs}s")
    done
done

printf '%s\n' "${summary[@]}"
exit $failed
