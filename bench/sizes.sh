#!/usr/bin/env bash
# The stripped sizes of what we ship, one release build per feature set,
# as the README's "Firmware-sized builds" table gives them:
#
#   bash bench/sizes.sh            # the table (x86_64, this machine)
#   RELR=1 bash bench/sizes.sh     # also with DT_RELR (glibc >= 2.36)
#
# Builds go to target/sizes (not target/release, which `make` owns).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/sizes
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# size NAME CARGO-ARGS...: builds the library, prints its stripped size.
size() {
    local name=$1
    shift
    local target=${TDIR:-$dir}
    local profile=${PROFILE:-release}
    cargo build --quiet --profile "$profile" -p qmgr-capi --target-dir "$target" "$@"
    strip --strip-unneeded -o "$out/$name.so" "$target/$profile/libqmgr.so"
    cp "$target/$profile/libqmgr.a" "$out/$name.a"
    printf '| %s | %s |\n' "$name" "$(stat -c %s "$out/$name.so")"
}

echo "| build | libqmgr.so stripped, bytes |"
echo "|---|---|"
size "default (tls, state, service, upload, delta)"
# What uploads (issue 25) and delta downloads (issue 24) cost.
size "tls, state, service" --no-default-features --features tls,state,service
size "tls, state, service, upload" --no-default-features --features tls,state,service,upload
size "--no-default-features" --no-default-features
# The README's smallest library: the same, optimised for size alone.
PROFILE=minimal size "--no-default-features, --profile minimal" --no-default-features
size "tls alone" --no-default-features --features tls
size "state alone" --no-default-features --features state
if [ "${RELR:-0}" = 1 ]; then
    RUSTFLAGS="-C link-arg=-Wl,-z,pack-relative-relocs" TDIR="$dir-relr" \
        size "default, DT_RELR"
    RUSTFLAGS="-C link-arg=-Wl,-z,pack-relative-relocs" TDIR="$dir-relr" \
        size "--no-default-features, DT_RELR" --no-default-features
fi

# The CLI, and what the static library adds to the README's C program.
cargo build --quiet --release -p qmgr-cli --target-dir "$dir"
strip --strip-unneeded -o "$out/qmgr" "$dir/release/qmgr"
printf '| the qmgr tool | %s |\n' "$(stat -c %s "$out/qmgr")"
cargo build --quiet --release -p qmgrd --target-dir "$dir"
strip --strip-unneeded -o "$out/qmgrd" "$dir/release/qmgrd"
printf '| the qmgrd service | %s |\n' "$(stat -c %s "$out/qmgrd")"
# The README's first C block: its copy.c.
awk '/^```c$/ && !done {on=1; next} /^```$/ && on {on=0; done=1} on' README.md > "$out/copy.c"
cp "$out/default (tls, state, service).a" "$out/libqmgr.a"
cp "$out/default (tls, state, service).so" "$out/libqmgr.so"
cc -Os -Iinclude "$out/copy.c" -o "$out/copy-shared" -L"$out" -lqmgr
# The libraries the README's static link line names; and with
# --gc-sections, as firmware builds link.
libs="-lm -lpthread -ldl -lrt -lutil"
cc -Os -Iinclude "$out/copy.c" -o "$out/copy-static" "$out/libqmgr.a" $libs
cc -Os -Iinclude "$out/copy.c" -o "$out/copy-gc" -Wl,--gc-sections "$out/libqmgr.a" $libs
strip "$out/copy-shared" "$out/copy-static" "$out/copy-gc"
shared=$(stat -c %s "$out/copy-shared")
static=$(stat -c %s "$out/copy-static")
gc=$(stat -c %s "$out/copy-gc")
printf '| README copy.c: against libqmgr.so / libqmgr.a / libqmgr.a with --gc-sections | %s / %s / %s |\n' \
    "$shared" "$static" "$gc"
