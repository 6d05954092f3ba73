#!/usr/bin/env bash
# Side-by-side benchmarks of qmgr against curl, wget and aria2c, measured in
# one run on one machine, written to BENCHMARKS.md.
#
#   bash bench/run.sh                 # everything (about 15-20 minutes)
#   RUNS=7 bash bench/run.sh          # more runs per tool (default 5)
#   SKIP_CRITERION=1 bash bench/run.sh   # only the HTTP scenarios
#
# It installs what it lacks from Debian's packages (nginx, aria2, hyperfine,
# curl, wget, time, python3; root or sudo), builds the `qmgr` CLI in release
# mode, generates the files nginx serves (1 GiB of random bytes and 1,000
# files of 64 KiB, cached in bench/data/), starts nginx on 127.0.0.1 with a
# throwaway configuration, and measures three scenarios, each tool at least
# RUNS times, the tools alternating run by run (the starting tool rotates):
#
#   1. one 1 GiB file: qmgr, curl -o, wget -O, aria2c (one connection);
#   2. 1,000 files of 64 KiB in one job / one invocation: qmgr, curl (one
#      process, one reused connection), aria2c -i;
#   3. the 1 GiB file limited to 50 MiB/s: qmgr --max-bandwidth, curl --limit-rate,
#      aria2c --max-download-limit;
#   4. over an emulated WAN (bench/wanproxy.py: 25 ms each way, a 50 ms round
#      trip), 200 of the small files in one job: qmgr with its defaults and
#      with --connections 16, curl sequential and --parallel --parallel-max
#      16, aria2c -j16 (wan_small);
#   5. one 32 MiB file over the same WAN with each connection capped at
#      4 MiB/s, as CDNs do: qmgr (defaults and --connections 8), curl,
#      aria2c -x8 -s8 (wan_capped).
#
# Scenarios 1 and 2 run twice: writing to the disk (where users download
# to), and writing to tmpfs (/dev/shm), which shows what the clients
# themselves cost once the filesystem is out of the picture.
#
# Every run is timed by /usr/bin/time (user and system CPU, peak RSS) and by
# the shell's nanosecond clock (wall). Each run downloads for real into an
# empty directory that is deleted right after it; every output's size is
# checked, and its SHA-256 on each tool's first run of a scenario, so a
# failed download can never be timed as a fast one. Then `cargo bench --bench
# abi` runs the criterion micro-benchmarks, and bench/report.py writes
# BENCHMARKS.md with medians, ratios and the targets.
#
# `bash bench/run.sh daemon` measures qmgrd instead (issue 22): the same C
# calls (bench/daemon.c, built against include/qmgr.h and the release
# libqmgr.so) on a manager in the process (qm_manager_open with a state
# directory) and on one connected to a qmgrd (qm_manager_connect), the two
# alternating run by run, and prints Markdown tables of the medians and
# ratios (bench/daemon_report.py) instead of writing BENCHMARKS.md:
#
#   jobs       1,000 jobs of one 64 KiB file each from nginx: all created,
#              added and resumed, then each waited for and completed
#              (DAEMON_JOBS; RUNS runs each);
#   progress   qm_job_get_progress on an idle job: the proxy's copy fresh
#              (median over batches of 1,000 calls), the same call right
#              after a change (the copy refetched: one GetJob round trip),
#              that change (qm_job_set_description), and a call that always
#              round-trips (qm_manager_get_max_active_jobs: GetSettings);
#              RUNS runs each, the medians' median;
#   transfer   one 1 GiB file from nginx (DAEMON_BIG_MIB, DAEMON_BIG_RUNS
#              runs each, default 3);
#   rss        the idle daemon's memory: a fresh qmgrd right after start,
#              then after one connection and one job (completed) and
#              DAEMON_IDLE seconds (default 10) without clients; and the
#              qmgrd of the cases above after them, idle as long.
#
# qmgrd runs in user mode on a socket and state directory of its own under
# the temporary directory (--max-jobs-per-user raised above DAEMON_JOBS),
# and is stopped with SIGTERM at the end, or by the exit trap. Its state
# directory and the in-process one (new for each run) are on the same
# filesystem; downloads go to tmpfs (/dev/shm) when it exists, so that the
# disk's noise does not hide the daemon's cost. Each timed run is checked
# like the HTTP scenarios' (sizes, SHA-256 on the warm-up round). Wall time
# is the program's own clock from its first call on the open manager to
# its last complete; CPU is the client's user + system time plus, through
# the daemon, what qmgrd used meanwhile.
#
#   bash bench/run.sh daemon                        # everything (a few minutes)
#   DAEMON_JOBS=50 DAEMON_BIG_MIB=64 bash bench/run.sh daemon   # a quick try
#   DAEMON_CASES="progress rss" bash bench/run.sh daemon
#
# Environment of the daemon section: DAEMON_CASES (default "jobs progress
# transfer rss"), DAEMON_JOBS (1000, at most 1000: the small files),
# DAEMON_BIG_MIB (1024: a prefix of the 1 GiB file when smaller),
# DAEMON_BIG_RUNS (3), DAEMON_CALLS (2000000 fresh-copy reads per progress
# run), DAEMON_CHANGES (2000 changes and round trips per progress run),
# DAEMON_IDLE (10), QMGRD_BIN (the qmgrd to measure; default the release
# build), DAEMON_REPORT (the file the Markdown goes to as well; default
# bench/results/daemon.md, which BENCHMARKS-qmgrd.md quotes; the figures
# it comes from are kept beside it, as FILE.tsv and
# FILE.machine.txt, for `python3 bench/daemon_report.py --results FILE.tsv
# --machine FILE.machine.txt`),
# and RUNS, PORT, QMGR_BENCH_DATA, QMGR_BENCH_OUT (used when there is no
# /dev/shm), WAIT_IDLE and SETTLE_MAX as below.
#
# `bash bench/run.sh delta` measures delta downloads (issue 24) against the
# zsync 0.6.2 client on the same files from the same nginx: a 256 MiB image
# (random bytes; DELTA_MIB) whose previous version differs in DELTA_PCT% of
# it (default 2: 64 KiB stretches at random offsets) and has 64 KiB more at
# its start, and the control file zsyncmake makes for it, both in
# bench/data/delta/. Each run rebuilds the new image from the old one:
#
#   delta      on loopback: qmgr transfer --seed (defaults), zsync -i,
#              qmgr without seed (a full download), and qmgr --seed over
#              HTTPS (nginx with a throwaway CA; zsync 0.6.2 has no HTTPS);
#   delta_wan  through the WAN proxy (50 ms round trip): qmgr --seed,
#              zsync -i, qmgr without seed.
#
# Besides wall time and CPU, every run records the bytes nginx sent for
# it, headers included ($bytes_sent) and bodies alone ($body_bytes_sent;
# a multipart body's part headers count as body). bench/delta_report.py
# prints the medians as Markdown (to DELTA_REPORT as well, default
# bench/results/delta.md, its inputs beside it as FILE.tsv and
# FILE.machine.txt). DELTA_SCENARIOS (default "delta delta_wan") picks the
# scenarios; RUNS as for the others.
#
# `bash bench/run.sh upload` measures upload jobs (issue 25): one file of
# UPLOAD_MIB MiB (default 256; random bytes, bench/data/up.bin, read from
# the page cache) sent to servers on 127.0.0.1 that store it on tmpfs
# (/dev/shm when it exists), so that no disk's noise is timed:
#
#   upload      on loopback:
#     qmgr        `qmgr upload FILE URL` (tus 1.0, the default protocol) to
#                 @tus/server with @tus/file-store (Node; the tus reference
#                 server, tests/servers/tus-node, installed with npm ci);
#     curl-tus    curl to the same tus server: a creation (POST), then the
#                 whole file in one `curl -T FILE -X PATCH` (the same
#                 server and protocol, without pieces or resume);
#     curl-put    `curl -T FILE URL` to nginx (its dav module's PUT): a
#                 plain upload to the fastest server there is, the upper
#                 bound (curl cannot resume);
#     tuspy       the Python tus client (PyPI tuspy; bench/tus_upload.py,
#                 its defaults: the whole file in one PATCH) to the tus
#                 server;
#   upload_wan  the same four through the WAN proxy (50 ms round trip).
#
# Each run is checked on the server's side: exactly one file of the
# upload's size landed (its SHA-256 on the first run of each tool), and is
# deleted. The servers' CPU (node's, nginx's, the proxies') is recorded
# per run beside the clients'. bench/upload_report.py prints the medians
# and the ratios to curl as Markdown (to UPLOAD_REPORT as well, default
# bench/results/upload.md, its inputs beside it as FILE.tsv, FILE.server.tsv
# and FILE.machine.txt). UPLOAD_SCENARIOS (default "upload upload_wan")
# picks the scenarios, UPLOAD_TOOLS (default "qmgr curl-tus curl-put
# tuspy"; qmgr-state is qmgr with a state directory on the disk, and
# QMGR_BASELINE adds qmgr-before) the tools, QMGR_BIN the qmgr measured
# (default: the release build, built first); RUNS as for the others. The section installs what it
# lacks: nginx, node and npm (Debian's packages), the tus server's modules
# (npm ci, as .ci/run does) and tuspy (pip).
#
# QMGR_BASELINE=/path/to/another/qmgr adds that binary as the tool
# "qmgr-before" to the same runs (scenarios 1 and 2, and the delta
# section's qmgr --seed rows, alternating with the
# others): a before/after of a change, measured side by side.
#
# Environment: RUNS (default 5), PORT (default: a free one), QMGR_BENCH_DATA
# (default bench/data), QMGR_BENCH_OUT (where downloads land, default a
# directory under ${TMPDIR:-/tmp}; it holds at most 1 GiB at a time),
# SCENARIOS (default "big big_shm small small_shm limit"; the _shm ones
# write to /dev/shm instead of the disk), SKIP_CRITERION=1, REPORT (default
# BENCHMARKS.md), WAIT_IDLE (seconds to wait for the other processes of the
# machine to leave the CPUs at least 90% idle before measuring; default 300),
# SETTLE_MAX (seconds to wait before each run for a quieter half second, see
# settle; default 60), OTHERS_MAX (the share of one CPU, in %, that other
# processes may take during a run before it is thrown away and done again,
# up to 3 times; default 25: on a machine shared with builds, raise it and
# let the interleaving share the load alike).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# The section: the HTTP scenarios and criterion (no argument), or qmgrd.
SECTION=${1:-http}
case "$SECTION" in
http | daemon | delta | upload) ;;
*) echo "usage: bash bench/run.sh [daemon | delta | upload]" >&2; exit 2 ;;
esac

RUNS=${RUNS:-5}
DATA_DIR=${QMGR_BENCH_DATA:-$ROOT/bench/data}
REPORT=${REPORT:-$ROOT/BENCHMARKS.md}
SKIP_CRITERION=${SKIP_CRITERION:-0}
SCENARIOS=${SCENARIOS:-big big_shm small small_shm limit wan_small wan_capped}
WAIT_IDLE=${WAIT_IDLE:-300}
BUSY_BEFORE_CRITERION=
LIMIT_BYTES=$((50 * 1024 * 1024))
BIG_SIZE=$((1024 * 1024 * 1024))
SMALL_COUNT=1000
SMALL_SIZE=$((64 * 1024))
WAN_COUNT=200
WAN_N=16
WAN_BIG_SIZE=$((32 * 1024 * 1024))
WAN_CAP=$((4 * 1024 * 1024))
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SETTLE_MAX=${SETTLE_MAX:-60}
DAEMON_CASES=${DAEMON_CASES:-jobs progress transfer rss}
DAEMON_JOBS=${DAEMON_JOBS:-1000}
DAEMON_BIG_MIB=${DAEMON_BIG_MIB:-1024}
DAEMON_BIG_RUNS=${DAEMON_BIG_RUNS:-3}
DAEMON_CALLS=${DAEMON_CALLS:-2000000}
DAEMON_CHANGES=${DAEMON_CHANGES:-2000}
DAEMON_IDLE=${DAEMON_IDLE:-10}
DAEMON_REPORT=${DAEMON_REPORT:-$ROOT/bench/results/daemon.md}
DELTA_MIB=${DELTA_MIB:-256}
DELTA_PCT=${DELTA_PCT:-2}
DELTA_SCENARIOS=${DELTA_SCENARIOS:-delta delta_wan}
DELTA_REPORT=${DELTA_REPORT:-$ROOT/bench/results/delta.md}
OTHERS_MAX=${OTHERS_MAX:-25}
UPLOAD_MIB=${UPLOAD_MIB:-256}
UPLOAD_SCENARIOS=${UPLOAD_SCENARIOS:-upload upload_wan}
UPLOAD_TOOLS=${UPLOAD_TOOLS:-qmgr curl-tus curl-put tuspy}
UPLOAD_REPORT=${UPLOAD_REPORT:-$ROOT/bench/results/upload.md}

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if { [ "$SECTION" = delta ] || [ "$SECTION" = upload ]; } && [ "$RUNS" -ge 1 ] 2>/dev/null; then
    [ "$RUNS" -ge 5 ] || echo "[bench] warning: RUNS=$RUNS: medians of fewer than 5 runs (say so with the figures)" >&2
else
    [ "$RUNS" -ge 5 ] 2>/dev/null || die "RUNS must be at least 5 (medians over at least 5 runs)"
fi
if [ "$SECTION" = daemon ]; then
    if ! { [ "$DAEMON_JOBS" -ge 1 ] && [ "$DAEMON_JOBS" -le "$SMALL_COUNT" ]; } 2>/dev/null; then
        die "DAEMON_JOBS must be between 1 and $SMALL_COUNT (one small file each)"
    fi
    if ! { [ "$DAEMON_BIG_MIB" -ge 1 ] && [ "$DAEMON_BIG_MIB" -le 1024 ]; } 2>/dev/null; then
        die "DAEMON_BIG_MIB must be between 1 and 1024 (a prefix of the 1 GiB file)"
    fi
    [ "$DAEMON_BIG_RUNS" -ge 1 ] 2>/dev/null || die "DAEMON_BIG_RUNS must be at least 1"
fi

# ---------------------------------------------------------------- tools
missing=()
have nginx || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "$SECTION" = http ]; then
    have aria2c || missing+=(aria2)
    have hyperfine || missing+=(hyperfine)
    have wget || missing+=(wget)
elif [ "$SECTION" = delta ]; then
    have zsync || missing+=(zsync)
    have zsyncmake || missing+=(zsync)
    have openssl || missing+=(openssl)
elif [ "$SECTION" = upload ]; then
    have node || missing+=(nodejs)
    have npm || missing+=(npm)
else
    have cc || missing+=(gcc) # bench/daemon.c
fi
have curl || missing+=(curl)
[ -x /usr/bin/time ] || missing+=(time)
have python3 || missing+=(python3)
have sha256sum || missing+=(coreutils)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
have cargo || die "cargo is not installed"

# ---------------------------------------------------------------- build
if [ "$SECTION" = daemon ]; then
    # qmgrd, and bench/daemon.c against the release library both sides use.
    log "building libqmgr and qmgrd (cargo build --release -p qmgr-capi -p qmgrd)"
    cargo build --release -p qmgr-capi -p qmgrd >&2 || die "libqmgr or qmgrd does not build"
    # QMGRD_BIN: another qmgrd to measure against the same library, such
    # as a static musl build (see BENCHMARKS-qmgrd.md).
    QMGRD_BIN=${QMGRD_BIN:-$TARGET_DIR/release/qmgrd}
    DAEMON_BENCH=$TARGET_DIR/release/daemon-bench
    log "building $DAEMON_BENCH from bench/daemon.c"
    cc -O2 -std=c11 -Wall -Wextra -Werror -I"$ROOT/include" "$ROOT/bench/daemon.c" -o "$DAEMON_BENCH" \
        -L"$TARGET_DIR/release" -lqmgr -Wl,-rpath,"$TARGET_DIR/release" >&2 ||
        die "bench/daemon.c does not build"
    SKIP_CRITERION=1
fi

# The CLI is the thing measured; while it does not exist yet, the quickstart
# example stands in for it in the single-file scenario only. (The daemon
# section does not use it.)
QMGR_MODE=cli
if [ "$SECTION" = delta ]; then
    # The CLI enables the library's `delta` feature.
    log "building the qmgr CLI (cargo build --release --bin qmgr)"
    cargo build --release --bin qmgr >&2 || die "the qmgr CLI does not build"
    QMGR_BIN=$TARGET_DIR/release/qmgr
    SKIP_CRITERION=1
fi
if [ "$SECTION" = upload ]; then
    # QMGR_BIN: another qmgr to measure (then nothing is built).
    if [ -z "${QMGR_BIN:-}" ]; then
        log "building the qmgr CLI (cargo build --release -p qmgr-cli)"
        cargo build --release -p qmgr-cli >&2 || die "the qmgr CLI does not build"
        QMGR_BIN=$TARGET_DIR/release/qmgr
    fi
    SKIP_CRITERION=1
    # The tus server (as .ci/run installs it for tests/it/upload.rs) and
    # the Python tus client.
    if [ ! -d "$ROOT/tests/servers/tus-node/node_modules/@tus/server" ]; then
        log "installing the tus server's modules (npm ci in tests/servers/tus-node)"
        (cd "$ROOT/tests/servers/tus-node" && npm ci --no-audit --no-fund) >&2 || die "npm ci failed"
    fi
    if ! python3 -c 'import tusclient' >/dev/null 2>&1; then
        log "installing tuspy (pip)"
        python3 -m pip install -q tuspy==1.1.0 >&2 ||
            python3 -m pip install -q --break-system-packages tuspy==1.1.0 >&2 || die "pip could not install tuspy"
    fi
fi
if [ "$SECTION" = http ]; then
    log "building the qmgr CLI (cargo build --release --bin qmgr)"
    if cargo build --release --bin qmgr >&2; then
        QMGR_BIN=$TARGET_DIR/release/qmgr
    else
        log "the qmgr CLI does not build: falling back to the quickstart example for scenario 1 only"
        QMGR_MODE=example
        cargo build --release --example quickstart >&2 || die "neither the CLI nor the quickstart example builds"
        QMGR_BIN=$TARGET_DIR/release/examples/quickstart
    fi
fi

# The micro-benchmarks are built now too: a tree that does not build fails
# here, not after twenty minutes of measuring.
if [ "$SKIP_CRITERION" != 1 ]; then
    log "building the micro-benchmarks (cargo bench -p qmgr-bench --bench abi --no-run)"
    cargo bench -p qmgr-bench --bench abi --no-run >&2 || die "the micro-benchmarks do not build"
fi

# ---------------------------------------------------------------- work dirs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qmgr-bench.XXXXXX")
OUT=${QMGR_BENCH_OUT:-$WORK/out}
mkdir -p "$OUT"
# The *_shm scenarios write to tmpfs instead: what the clients cost without
# the filesystem and disk.
SHM_OUT=
if [ -d /dev/shm ] && [ -w /dev/shm ]; then SHM_OUT=$(mktemp -d /dev/shm/qmgr-bench.XXXXXX); fi
NGINX_PID=
PROXY_PIDS=()
SERVER_PIDS=()
QMGRD_PIDS=()
# alive PID: the process runs (a child that exited stays a zombie until
# waited for, which kill -0 would still find).
alive() { [ -e "/proc/$1/stat" ] && [ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# stop_qmgrd PID: SIGTERM, then (after 30 s) SIGKILL; sets STOP_S (seconds
# from SIGTERM to exit) and STOP_RC (its exit status).
stop_qmgrd() {
    local pid=$1 t0 i
    STOP_S='' STOP_RC=''
    kill -0 "$pid" 2>/dev/null || return 0
    t0=$(date +%s%N)
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 3000; i++)); do alive "$pid" || break; sleep 0.01; done
    if alive "$pid"; then
        log "qmgrd ($pid) still runs 30 s after SIGTERM: killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    STOP_RC=0
    wait "$pid" 2>/dev/null || STOP_RC=$?
    local left=() p
    for p in "${QMGRD_PIDS[@]}"; do [ "$p" = "$pid" ] || left+=("$p"); done
    QMGRD_PIDS=("${left[@]}")
    STOP_S=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
}
cleanup() {
    for pid in "${QMGRD_PIDS[@]}"; do stop_qmgrd "$pid"; done
    for pid in "${PROXY_PIDS[@]}" "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    [ -z "$SHM_OUT" ] || rm -rf "$SHM_OUT"
    [ -z "${QMGR_BENCH_OUT:-}" ] || rm -rf "${QMGR_BENCH_OUT:?}"/run-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- data
small_name() { printf 'f%04d.bin' "$1"; }
UP_BYTES=$((UPLOAD_MIB * 1024 * 1024))
if [ "$SECTION" = upload ]; then
    # The upload section's file only: random bytes of its own (not a
    # prefix of the 1 GiB file, which this section does not need).
    mkdir -p "$DATA_DIR"
    UP_FILE=$DATA_DIR/up.bin
    if [ "$(stat -c %s "$UP_FILE" 2>/dev/null || echo 0)" != "$UP_BYTES" ]; then
        log "generating $UP_FILE ($UPLOAD_MIB MiB from /dev/urandom)"
        head -c "$UP_BYTES" /dev/urandom >"$UP_FILE.tmp"
        mv "$UP_FILE.tmp" "$UP_FILE"
    fi
    UP_SHA=$(sha256sum "$UP_FILE" | cut -d' ' -f1)
else
mkdir -p "$DATA_DIR/small"
BIG=$DATA_DIR/big.bin
if [ "$(stat -c %s "$BIG" 2>/dev/null || echo 0)" != "$BIG_SIZE" ]; then
    log "generating $BIG (1 GiB from /dev/urandom)"
    head -c "$BIG_SIZE" /dev/urandom >"$BIG.tmp"
    mv "$BIG.tmp" "$BIG"
    rm -f "$BIG.sha256"
fi
if [ ! -s "$BIG.sha256" ] || [ "$BIG.sha256" -ot "$BIG" ]; then
    log "hashing $BIG"
    sha256sum "$BIG" | cut -d' ' -f1 >"$BIG.sha256"
fi
BIG_SHA=$(cat "$BIG.sha256")
n_small=$(find "$DATA_DIR/small" -maxdepth 1 -name 'f*.bin' -size "${SMALL_SIZE}c" | wc -l)
if [ "$n_small" != "$SMALL_COUNT" ] || [ ! -s "$DATA_DIR/small.sha256" ]; then
    log "generating $SMALL_COUNT files of 64 KiB in $DATA_DIR/small"
    rm -f "$DATA_DIR"/small/*
    for ((i = 0; i < SMALL_COUNT; i++)); do
        head -c "$SMALL_SIZE" /dev/urandom >"$DATA_DIR/small/$(small_name "$i")"
    done
    (cd "$DATA_DIR/small" && sha256sum f*.bin) >"$DATA_DIR/small.sha256"
fi
WAN_BIG=$DATA_DIR/wan32.bin
if [ "$(stat -c %s "$WAN_BIG" 2>/dev/null || echo 0)" != "$WAN_BIG_SIZE" ]; then
    head -c "$WAN_BIG_SIZE" "$BIG" >"$WAN_BIG.tmp"
    mv "$WAN_BIG.tmp" "$WAN_BIG"
fi
WAN_BIG_SHA=$(sha256sum "$WAN_BIG" | cut -d' ' -f1)
# The daemon section's big file: the 1 GiB file, or a prefix of it.
DAEMON_BIG_BYTES=$((DAEMON_BIG_MIB * 1024 * 1024))
DAEMON_BIG_NAME=big.bin
DAEMON_BIG_SHA=$BIG_SHA
if [ "$SECTION" = daemon ] && [ "$DAEMON_BIG_BYTES" != "$BIG_SIZE" ]; then
    DAEMON_BIG_NAME=big-${DAEMON_BIG_MIB}m.bin
    if [ "$(stat -c %s "$DATA_DIR/$DAEMON_BIG_NAME" 2>/dev/null || echo 0)" != "$DAEMON_BIG_BYTES" ]; then
        head -c "$DAEMON_BIG_BYTES" "$BIG" >"$DATA_DIR/$DAEMON_BIG_NAME.tmp"
        mv "$DATA_DIR/$DAEMON_BIG_NAME.tmp" "$DATA_DIR/$DAEMON_BIG_NAME"
    fi
    DAEMON_BIG_SHA=$(sha256sum "$DATA_DIR/$DAEMON_BIG_NAME" | cut -d' ' -f1)
fi
# The delta section's images: the new one (a prefix of the 1 GiB file), the
# old one (DELTA_PCT% of it replaced in 64 KiB stretches at random offsets,
# 64 KiB of other bytes inserted at its start), and zsyncmake's control file.
DELTA_DIR=$DATA_DIR/delta
DELTA_BYTES=$((DELTA_MIB * 1024 * 1024))
if [ "$SECTION" = delta ]; then
    mkdir -p "$DELTA_DIR"
    stamp="$DELTA_MIB $DELTA_PCT"
    if [ "$(cat "$DELTA_DIR/params" 2>/dev/null)" != "$stamp" ] || [ ! -s "$DELTA_DIR/new.img.zsync" ]; then
        log "generating the delta images ($DELTA_MIB MiB, $DELTA_PCT% changed) and their control file"
        head -c "$DELTA_BYTES" "$BIG" >"$DELTA_DIR/new.img"
        python3 - "$DELTA_DIR/new.img" "$DELTA_DIR/old.img" "$DELTA_PCT" <<'PY'
import os, random, sys
new, old, pct = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = bytearray(open(new, "rb").read())
rng = random.Random(24)
stretch = 64 * 1024
for _ in range(int(len(data) * pct / 100 / stretch)):
    at = rng.randrange(0, len(data) - stretch)
    data[at:at + stretch] = os.urandom(stretch)
with open(old, "wb") as f:
    f.write(os.urandom(64 * 1024))
    f.write(data)
PY
        (cd "$DELTA_DIR" && zsyncmake -o new.img.zsync -u new.img new.img) >&2
        echo "$stamp" >"$DELTA_DIR/params"
    fi
    DELTA_SHA=$(sha256sum "$DELTA_DIR/new.img" | cut -d' ' -f1)
    cat "$DELTA_DIR"/* >/dev/null
fi
# Warm the page cache, so every tool reads the source from memory.
cat "$BIG" "$DATA_DIR"/small/* >/dev/null
fi

# ---------------------------------------------------------------- nginx
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
mkdir -p "$WORK/nginx"
# The delta section counts the bytes nginx sends per run, and serves HTTPS
# too (a throwaway CA, which only qmgr is told to trust).
ACCESS_LOG="access_log off;"
TLS_SERVER=
if [ "$SECTION" = delta ]; then
    ACCESS_LOG="log_format sent '\$bytes_sent \$body_bytes_sent'; access_log $WORK/nginx/access.log sent;"
    TLS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/nginx/key.pem" -out "$WORK/nginx/cert.pem" 2>/dev/null ||
        die "openssl could not make a certificate"
    TLS_SERVER="server { listen 127.0.0.1:$TLS_PORT ssl; ssl_certificate $WORK/nginx/cert.pem; ssl_certificate_key $WORK/nginx/key.pem; root $DATA_DIR; }"
fi
# The upload section: nginx takes a plain PUT (its dav module) into
# UP_STORE/dav/, on tmpfs, its temporary body file on the same filesystem
# (renamed into place, not copied); the tus server stores into
# UP_STORE/tus/.
PUT_LOCATION=
PROBE=big.bin
NGINX_USER=
if [ "$SECTION" = upload ]; then
    UP_STORE=${SHM_OUT:-$OUT}/store
    mkdir -p "$UP_STORE/dav" "$UP_STORE/dav-body" "$UP_STORE/tus"
    PUT_LOCATION="location /dav/ { root $UP_STORE; dav_methods PUT; client_max_body_size 0; client_body_temp_path $UP_STORE/dav-body; }"
    PROBE=up.bin
    # nginx started as root runs its worker as nobody, which may not
    # write here: as the script's user instead.
    [ "$(id -u)" != 0 ] || NGINX_USER="user root root;"
fi
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    $ACCESS_LOG
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    default_type application/octet-stream;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $DATA_DIR;
        $PUT_LOCATION
    }
    $TLS_SERVER
}
EOF
log "starting nginx on 127.0.0.1:$PORT serving $DATA_DIR"
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
NGINX_PID=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 100); do
    curl -sf -r 0-0 -o /dev/null "$BASE/$PROBE" && break
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited: $(cat "$WORK/nginx/error.log")"
    sleep 0.1
done
curl -sf -r 0-0 -o /dev/null "$BASE/$PROBE" || die "nginx does not answer on $BASE"

# The emulated WAN: one proxy that only delays, one that also caps each
# connection's rate.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# start_proxy PORT ARGS...: a WAN proxy on PORT to nginx, or (with
# UPSTREAM and PROBE_ARGS, curl's arguments less the URL, which is
# http://127.0.0.1:PORT/PROBE_PATH) to another server.
start_proxy() {
    local port=$1
    shift
    python3 "$ROOT/bench/wanproxy.py" "$port" "${UPSTREAM:-$PORT}" "$@" >"$WORK/proxy-$port.log" 2>&1 &
    PROXY_PIDS+=($!)
    local probe=(-r 0-0)
    [ -z "${PROBE_ARGS:-}" ] || read -r -a probe <<<"$PROBE_ARGS"
    for _ in $(seq 100); do
        curl -sf "${probe[@]}" -o /dev/null "http://127.0.0.1:$port/${PROBE_PATH:-$PROBE}" && return 0
        sleep 0.1
    done
    die "the WAN proxy on port $port does not answer: $(cat "$WORK/proxy-$port.log")"
}
WAN_BASE='' WANCAP_BASE='' # the daemon section has no WAN
if [ "$SECTION" = delta ]; then
    WAN_PORT=$(free_port)
    start_proxy "$WAN_PORT" --delay-ms 25
    WAN_BASE=http://127.0.0.1:$WAN_PORT
fi
if [ "$SECTION" = http ]; then
    WAN_PORT=$(free_port)
    start_proxy "$WAN_PORT" --delay-ms 25
    WAN_BASE=http://127.0.0.1:$WAN_PORT
    WANCAP_PORT=$(free_port)
    start_proxy "$WANCAP_PORT" --delay-ms 25 --rate "$WAN_CAP"
    WANCAP_BASE=http://127.0.0.1:$WANCAP_PORT
fi
# The upload section's tus server (@tus/server with @tus/file-store, as
# tests/it/upload.rs runs it): it prints its port once it listens and
# exits when its standard input closes, here a FIFO this script holds open
# (so it ends with the script, or is stopped by its PID in cleanup).
if [ "$SECTION" = upload ]; then
    mkfifo "$WORK/tus.in"
    exec 7<>"$WORK/tus.in"
    node "$ROOT/tests/servers/tus-node/server.mjs" "$UP_STORE/tus" 0 <"$WORK/tus.in" >"$WORK/tus.port" 2>"$WORK/tus.log" &
    SERVER_PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$WORK/tus.port" ] && break
        alive "${SERVER_PIDS[0]}" || die "the tus server exited: $(cat "$WORK/tus.log")"
        sleep 0.1
    done
    TUS_PORT=$(head -n 1 "$WORK/tus.port")
    [ -n "$TUS_PORT" ] || die "the tus server does not start: $(cat "$WORK/tus.log")"
    TUS_URL=http://127.0.0.1:$TUS_PORT/files
    curl -sf -X OPTIONS -o /dev/null "$TUS_URL" || die "the tus server does not answer on $TUS_URL"
    log "the tus server (node $(node --version), @tus/server) on $TUS_URL, storing into $UP_STORE/tus"
    WAN_PORT=$(free_port)
    PROBE_PATH=up.bin start_proxy "$WAN_PORT" --delay-ms 25
    WAN_BASE=http://127.0.0.1:$WAN_PORT
    WANTUS_PORT=$(free_port)
    UPSTREAM=$TUS_PORT PROBE_PATH=files PROBE_ARGS="-X OPTIONS" start_proxy "$WANTUS_PORT" --delay-ms 25
    WAN_TUS_URL=http://127.0.0.1:$WANTUS_PORT/files
fi

# ---------------------------------------------------------------- measuring
RESULTS=$WORK/results.tsv
printf 'scenario\ttool\trun\twall_s\tuser_s\tsys_s\tmaxrss_kib\tothers_pct\n' >"$RESULTS"

# The URL list and argument vectors of scenario 2.
SMALL_URLS=()
for ((i = 0; i < SMALL_COUNT; i++)); do SMALL_URLS+=("$BASE/small/$(small_name "$i")"); done
ARIA_LIST=$WORK/aria2-input.txt
for ((i = 0; i < SMALL_COUNT; i++)); do
    printf '%s\n  out=%s\n' "${SMALL_URLS[i]}" "$(small_name "$i")"
done >"$ARIA_LIST"

WAN_URLS=()
WAN_LIST=$WORK/wan-list.txt
for ((i = 0; i < WAN_COUNT; i++)); do
    WAN_URLS+=("$WAN_BASE/small/$(small_name "$i")")
    printf '%s\n  out=%s\n' "${WAN_URLS[i]}" "$(small_name "$i")"
done >"$WAN_LIST"

ARIA_COMMON=(--quiet=true --console-log-level=error --summary-interval=0 --allow-overwrite=true
    --auto-file-renaming=false --file-allocation=none --check-certificate=false)

# cmd_for SCENARIO TOOL DIR: sets CMD to the command line that downloads the
# scenario's files into DIR (absolute, existing, empty).
cmd_for() {
    local scenario=$1 tool=$2 dir=$3 bin=$QMGR_BIN
    if [ "$tool" = qmgr-before ]; then bin=$QMGR_BASELINE tool=qmgr; fi
    case "${scenario%_shm}/$tool" in
    big/qmgr)
        if [ "$QMGR_MODE" = cli ]; then
            CMD=("$bin" transfer "$BASE/big.bin" "$dir/big.bin" --quiet)
        else
            CMD=("$bin" "$BASE/big.bin" "$dir/big.bin")
        fi ;;
    big/curl) CMD=(curl -sS --fail -o "$dir/big.bin" "$BASE/big.bin") ;;
    big/wget) CMD=(wget -q -O "$dir/big.bin" "$BASE/big.bin") ;;
    big/aria2c) CMD=(aria2c "${ARIA_COMMON[@]}" -x1 -s1 -j1 -d "$dir" -o big.bin "$BASE/big.bin") ;;
    small/qmgr)
        CMD=("$bin" transfer)
        local i
        for ((i = 0; i < SMALL_COUNT; i++)); do CMD+=("${SMALL_URLS[i]}" "$dir/$(small_name "$i")"); done
        CMD+=(--quiet) ;;
    small/curl) CMD=(curl -sS --fail --remote-name-all --output-dir "$dir" "${SMALL_URLS[@]}") ;;
    small/aria2c) CMD=(aria2c "${ARIA_COMMON[@]}" -d "$dir" -i "$ARIA_LIST") ;;
    limit/qmgr) CMD=("$QMGR_BIN" transfer "$BASE/big.bin" "$dir/big.bin" --max-bandwidth "$LIMIT_BYTES" --quiet) ;;
    limit/curl) CMD=(curl -sS --fail --limit-rate "$LIMIT_BYTES" -o "$dir/big.bin" "$BASE/big.bin") ;;
    limit/aria2c) CMD=(aria2c "${ARIA_COMMON[@]}" -x1 -s1 -j1 --max-download-limit="$LIMIT_BYTES"
        -d "$dir" -o big.bin "$BASE/big.bin") ;;
    wan_small/qmgr | wan_small/qmgr-16)
        CMD=("$bin" transfer)
        local i
        for ((i = 0; i < WAN_COUNT; i++)); do CMD+=("${WAN_URLS[i]}" "$dir/$(small_name "$i")"); done
        [ "$tool" = qmgr ] || CMD+=(--connections "$WAN_N")
        CMD+=(--quiet) ;;
    wan_small/curl) CMD=(curl -sS --fail --remote-name-all --output-dir "$dir" "${WAN_URLS[@]}") ;;
    wan_small/curl-16) CMD=(curl -sS --fail --parallel --parallel-max "$WAN_N" --remote-name-all
        --output-dir "$dir" "${WAN_URLS[@]}") ;;
    wan_small/aria2c-16) CMD=(aria2c "${ARIA_COMMON[@]}" -j"$WAN_N" -d "$dir" -i "$WAN_LIST") ;;
    wan_capped/qmgr) CMD=("$bin" transfer "$WANCAP_BASE/wan32.bin" "$dir/wan32.bin" --quiet) ;;
    wan_capped/qmgr-8) CMD=("$bin" transfer "$WANCAP_BASE/wan32.bin" "$dir/wan32.bin" --connections 8 --quiet) ;;
    wan_capped/curl) CMD=(curl -sS --fail -o "$dir/wan32.bin" "$WANCAP_BASE/wan32.bin") ;;
    wan_capped/aria2c-8) CMD=(aria2c "${ARIA_COMMON[@]}" -x8 -s8 -k1M -j1 -d "$dir" -o wan32.bin
        "$WANCAP_BASE/wan32.bin") ;;
    delta/qmgr) CMD=("$bin" transfer "$BASE/delta/new.img" "$dir/new.img" --seed "$DELTA_DIR/old.img" --quiet) ;;
    delta/qmgr-full) CMD=("$bin" transfer "$BASE/delta/new.img" "$dir/new.img" --quiet) ;;
    delta/qmgr-https) CMD=("$bin" transfer "https://127.0.0.1:$TLS_PORT/delta/new.img" "$dir/new.img"
        --seed "$DELTA_DIR/old.img" --ca-file "$WORK/nginx/cert.pem" --quiet) ;;
    delta/zsync) CMD=(sh -c 'cd "$1" && exec zsync -q -i "$2" -o new.img "$3"' zsync "$dir" "$DELTA_DIR/old.img"
        "$BASE/delta/new.img.zsync") ;;
    delta_wan/qmgr) CMD=("$bin" transfer "$WAN_BASE/delta/new.img" "$dir/new.img" --seed "$DELTA_DIR/old.img" --quiet) ;;
    delta_wan/qmgr-full) CMD=("$bin" transfer "$WAN_BASE/delta/new.img" "$dir/new.img" --quiet) ;;
    delta_wan/zsync) CMD=(sh -c 'cd "$1" && exec zsync -q -i "$2" -o new.img "$3"' zsync "$dir" "$DELTA_DIR/old.img"
        "$WAN_BASE/delta/new.img.zsync") ;;
    upload/qmgr) CMD=("$bin" upload "$UP_FILE" "$TUS_URL" --quiet) ;;
    upload_wan/qmgr) CMD=("$bin" upload "$UP_FILE" "$WAN_TUS_URL" --quiet) ;;
    # With a state directory (on the disk, new each run): the upload's URL
    # and every confirmed offset are written down, so a new process
    # resumes it.
    upload/qmgr-state | upload_wan/qmgr-state)
        rm -rf "$WORK/qmgr-state"
        local url=$TUS_URL
        [ "$scenario" = upload ] || url=$WAN_TUS_URL
        CMD=("$bin" --state "$WORK/qmgr-state" upload "$UP_FILE" "$url" --quiet) ;;
    upload/curl-tus | upload_wan/curl-tus)
        local url=$TUS_URL
        [ "$scenario" = upload ] || url=$WAN_TUS_URL
        # tus by hand: the creation, then the whole file in one PATCH.
        CMD=(sh "$ROOT/bench/tus_curl.sh" "$UP_FILE" "$UP_BYTES" "$url") ;;
    upload/curl-put) CMD=(curl -sS --fail -T "$UP_FILE" -o /dev/null "$BASE/dav/up.bin") ;;
    upload_wan/curl-put) CMD=(curl -sS --fail -T "$UP_FILE" -o /dev/null "$WAN_BASE/dav/up.bin") ;;
    upload/tuspy) CMD=(python3 "$ROOT/bench/tus_upload.py" "$UP_FILE" "$TUS_URL") ;;
    upload_wan/tuspy) CMD=(python3 "$ROOT/bench/tus_upload.py" "$UP_FILE" "$WAN_TUS_URL") ;;
    *) die "no command for $scenario/$tool" ;;
    esac
}

# upload_landed FULL: exactly one file of the upload's size landed on a
# server (the tus server's store, nginx's PUT directory), its SHA-256 the
# file's when FULL is 1; then the servers' stores are emptied.
upload_landed() {
    local full=$1 found n
    found=$(find "$UP_STORE/tus" "$UP_STORE/dav" -maxdepth 1 -type f -size "${UP_BYTES}c")
    n=$(printf '%s' "$found" | grep -c . || true)
    local ok=1
    if [ "$n" != 1 ]; then
        log "$n files of $UP_BYTES bytes landed on the servers: $(ls -l "$UP_STORE"/tus "$UP_STORE"/dav | head -5)"
        ok=0
    elif [ "$full" = 1 ] && [ "$(sha256sum "$found" | cut -d' ' -f1)" != "$UP_SHA" ]; then
        log "$found: SHA-256 mismatch"
        ok=0
    fi
    find "$UP_STORE/tus" "$UP_STORE/dav" -mindepth 1 -delete
    [ "$ok" = 1 ]
}

# small_files_landed DIR COUNT FULL: the first COUNT small files are in
# DIR, each of 64 KiB, and (FULL 1) their SHA-256 match.
small_files_landed() {
    local dir=$1 count=$2 full=$3 n
    n=$(find "$dir" -maxdepth 1 -type f -name 'f*.bin' -size "${SMALL_SIZE}c" | wc -l)
    [ "$n" = "$count" ] || { log "$n of $count files of 64 KiB landed"; return 1; }
    if [ "$full" = 1 ]; then
        (cd "$dir" && head -n "$count" "$DATA_DIR/small.sha256" | sha256sum --quiet -c -) ||
            { log "SHA-256 mismatch"; return 1; }
    fi
}

# verify SCENARIO DIR FULL: checks what landed in DIR: sizes always, SHA-256
# too when FULL is 1. Leftover temporary files count as a failure.
verify() {
    local scenario=$1 dir=$2 full=$3
    case "${scenario%_shm}" in
    big | limit)
        local size
        size=$(stat -c %s "$dir/big.bin" 2>/dev/null || echo missing)
        [ "$size" = "$BIG_SIZE" ] || { log "big.bin is $size bytes, not $BIG_SIZE"; return 1; }
        if [ "$full" = 1 ]; then
            [ "$(sha256sum "$dir/big.bin" | cut -d' ' -f1)" = "$BIG_SHA" ] || { log "big.bin: SHA-256 mismatch"; return 1; }
        fi ;;
    small) small_files_landed "$dir" "$SMALL_COUNT" "$full" || return 1 ;;
    wan_small) small_files_landed "$dir" "$WAN_COUNT" "$full" || return 1 ;;
    daemon_jobs) small_files_landed "$dir" "$DAEMON_JOBS" "$full" || return 1 ;;
    daemon_transfer)
        local size
        size=$(stat -c %s "$dir/big.bin" 2>/dev/null || echo missing)
        [ "$size" = "$DAEMON_BIG_BYTES" ] || { log "big.bin is $size bytes, not $DAEMON_BIG_BYTES"; return 1; }
        if [ "$full" = 1 ]; then
            [ "$(sha256sum "$dir/big.bin" | cut -d' ' -f1)" = "$DAEMON_BIG_SHA" ] || { log "big.bin: SHA-256 mismatch"; return 1; }
        fi ;;
    delta | delta_wan)
        local size
        size=$(stat -c %s "$dir/new.img" 2>/dev/null || echo missing)
        [ "$size" = "$DELTA_BYTES" ] || { log "new.img is $size bytes, not $DELTA_BYTES"; return 1; }
        # Always: a wrong rebuild must never be timed.
        [ "$(sha256sum "$dir/new.img" | cut -d' ' -f1)" = "$DELTA_SHA" ] || { log "new.img: SHA-256 mismatch"; return 1; }
        # zsync leaves its control file's copy and the old image's name behind.
        rm -f "$dir"/*.zsync "$dir"/new.img.zs-old ;;
    upload | upload_wan) upload_landed "$full" || return 1 ;;
    wan_capped)
        local size
        size=$(stat -c %s "$dir/wan32.bin" 2>/dev/null || echo missing)
        [ "$size" = "$WAN_BIG_SIZE" ] || { log "wan32.bin is $size bytes, not $WAN_BIG_SIZE"; return 1; }
        if [ "$full" = 1 ]; then
            [ "$(sha256sum "$dir/wan32.bin" | cut -d' ' -f1)" = "$WAN_BIG_SHA" ] || { log "wan32.bin: SHA-256 mismatch"; return 1; }
        fi ;;
    esac
    local extra
    extra=$(find "$dir" -mindepth 1 | grep -v '/f[0-9]*\.bin$' | grep -v '/big\.bin$' | grep -v '/wan32\.bin$' |
        grep -v '/new\.img$' || true)
    [ -z "$extra" ] || { log "unexpected files left: $(echo "$extra" | head -3)"; return 1; }
}

# Busy CPU ticks of the whole machine (user, nice, system, irq, softirq,
# steal), and of nginx's worker and the WAN proxies, in USER_HZ ticks.
machine_busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# The WAN proxies count as the server side too.
nginx_ticks() {
    local t=0 pid
    for pid in $(pgrep -P "$NGINX_PID" 2>/dev/null) "${PROXY_PIDS[@]}" "${SERVER_PIDS[@]}"; do
        t=$((t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
TICKS=$(getconf CLK_TCK)
NPROC=$(nproc)

# Before a run: wait (up to SETTLE_MAX seconds, default 60) until the last
# half second left the CPUs at least 85% idle, so that a run does not start
# in the middle of someone else's build.
settle() {
    local waited=0 b1 b2
    while :; do
        b1=$(machine_busy_ticks)
        sleep 0.5
        b2=$(machine_busy_ticks)
        # busy% = (b2 - b1) / (0.5 s * TICKS * NPROC) * 100
        [ $(((b2 - b1) * 200)) -gt $((15 * TICKS * NPROC)) ] || return 0
        [ "$waited" -lt $((SETTLE_MAX * 2)) ] || { log "warning: the machine stays busy; measuring anyway"; return 0; }
        waited=$((waited + 1))
    done
}

# run_one SCENARIO TOOL RUN FULL: one timed download into a fresh directory,
# verified, recorded, deleted. A run during which other processes used more
# than OTHERS_MAX% of one CPU (default 25) is thrown away and done again (up to 3 times);
# the share they took is recorded with every run.
run_one() {
    local scenario=$1 tool=$2 run=$3 full=$4 attempt
    for attempt in 1 2 3 4; do
        run_attempt "$scenario" "$tool" "$run" "$full" || return 1
        [ "$OTHERS_PCT" -gt "$OTHERS_MAX" ] && [ "$attempt" -lt 4 ] || break
        log "  other processes took ${OTHERS_PCT}% of a CPU during that run: doing it again"
        DISCARDED=$((DISCARDED + 1))
    done
    if [ "$run" -gt 0 ]; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$tool" "$run" "$WALL" "$USER_S" "$SYS_S" \
            "$RSS_KIB" "$OTHERS_PCT" >>"$RESULTS"
    fi
}
DISCARDED=0

run_attempt() {
    local scenario=$1 tool=$2 run=$3 full=$4
    local dir=$OUT/run-$scenario-$tool
    [[ "$scenario" != *_shm ]] || dir=$SHM_OUT/run-$scenario-$tool
    rm -rf "$dir"
    mkdir -p "$dir"
    cmd_for "$scenario" "$tool" "$dir"
    settle
    local t0 t1 b0 b1 n0 n1 rc=0 log0=0
    [ "$SECTION" != delta ] || log0=$(wc -l <"$WORK/nginx/access.log" 2>/dev/null || echo 0)
    b0=$(machine_busy_ticks)
    n0=$(nginx_ticks)
    t0=$(date +%s%N)
    /usr/bin/time -f '%U %S %M' -o "$WORK/time.txt" "${CMD[@]}" >"$WORK/stdout.txt" 2>"$WORK/stderr.txt" || rc=$?
    t1=$(date +%s%N)
    b1=$(machine_busy_ticks)
    n1=$(nginx_ticks)
    if [ "$rc" != 0 ]; then
        log "$tool ($scenario, run $run) exited $rc:"
        head -c 2000 "$WORK/stderr.txt" >&2
        return 1
    fi
    verify "$scenario" "$dir" "$full" || die "$tool ($scenario, run $run) did not deliver the right bytes"
    rm -rf "$dir"
    SENT=
    if [ "$SECTION" = delta ]; then
        read -r SENT BODY < <(tail -n +"$((log0 + 1))" "$WORK/nginx/access.log" |
            awk '{ s += $1; b += $2 } END { printf "%d %d\n", s, b }')
        [ "$run" = 0 ] || printf '%s\t%s\t%s\t%s\t%s\n' "$scenario" "$tool" "$run" "$SENT" "$BODY" >>"$WORK/sent.tsv"
    fi
    read -r USER_S SYS_S RSS_KIB < <(tail -n 1 "$WORK/time.txt")
    SERVER_S=
    if [ "$SECTION" = upload ]; then
        # The servers' CPU (node's or nginx's, and the WAN proxy's) for the run.
        SERVER_S=$(awk -v n="$((n1 - n0))" -v hz="$TICKS" 'BEGIN { printf "%.2f", n / hz }')
        [ "$run" = 0 ] || printf '%s\t%s\t%s\t%s\n' "$scenario" "$tool" "$run" "$SERVER_S" >>"$WORK/server.tsv"
    fi
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
    # What the rest of the machine used meanwhile, in % of one CPU: all busy
    # time, less the tool's and nginx's (the kernel's work on their behalf,
    # such as loopback networking in softirq, may land here too).
    OTHERS_PCT=$(awk -v b="$((b1 - b0))" -v n="$((n1 - n0))" -v u="$USER_S" -v s="$SYS_S" \
        -v hz="$TICKS" -v w="$WALL" 'BEGIN {
            o = (b - n) / hz - (u + s); if (o < 0) o = 0
            printf "%d", 100 * o / (w > 0 ? w : 1) }')
    log "$scenario $tool run $run: ${WALL}s wall, ${USER_S}s user, ${SYS_S}s sys, ${RSS_KIB} KiB${SENT:+, $SENT bytes sent}${SERVER_S:+, servers ${SERVER_S}s} (others: ${OTHERS_PCT}% of a CPU)"
}

# scenario NAME WARMUP TOOL...: runs 1..RUNS, tools alternating, the first
# tool rotating from run to run. WARMUP=1 adds an untimed round 0 first
# (which also checks the SHA-256s); otherwise run 1 checks them.
scenario() {
    local name=$1 warmup=$2
    shift 2
    local tools=("$@") n=$# run i
    log "scenario $name: ${tools[*]}, $RUNS runs each"
    if [ "$warmup" = 1 ]; then
        for tool in "${tools[@]}"; do run_one "$name" "$tool" 0 1 || die "$tool failed in scenario $name"; done
    fi
    for ((run = 1; run <= RUNS; run++)); do
        for ((i = 0; i < n; i++)); do
            local tool=${tools[(((run - 1) + i) % n)]}
            local full=0
            [ "$warmup" = 1 ] || [ "$run" != 1 ] || full=1
            run_one "$name" "$tool" "$run" "$full" || die "$tool failed in scenario $name"
        done
    done
}

# Other work on the machine skews every figure: wait (up to WAIT_IDLE
# seconds) until the CPUs are at least 90% idle, then note how busy they were.
cpu_busy_pct() {
    local _c u n s i w x y z b1 t1 b2 t2
    read -r _c u n s i w x y z _ </proc/stat
    b1=$((u + n + s + x + y + z)) t1=$((u + n + s + i + w + x + y + z))
    sleep 3
    read -r _c u n s i w x y z _ </proc/stat
    b2=$((u + n + s + x + y + z)) t2=$((u + n + s + i + w + x + y + z))
    echo $((100 * (b2 - b1) / (t2 - t1 > 0 ? t2 - t1 : 1)))
}
wait_idle() {
    local waited=0 busy
    busy=$(cpu_busy_pct)
    while [ "$busy" -gt 10 ] && [ "$waited" -lt "$WAIT_IDLE" ]; do
        log "the CPUs are ${busy}% busy with other work; waiting for them to calm down"
        sleep 12
        waited=$((waited + 15))
        busy=$(cpu_busy_pct)
    done
    [ "$busy" -le 10 ] || log "warning: measuring while the CPUs are ${busy}% busy with other work"
    echo "$busy"
}

# ---------------------------------------------------------------- daemon
# `bash bench/run.sh daemon`: in-process against through qmgrd (see the
# notes at the top), then exit: no HTTP scenarios, no criterion, no
# BENCHMARKS.md.
if [ "$SECTION" = daemon ]; then
    DRESULTS=$WORK/daemon.tsv
    printf 'case\tmode\trun\tmetric\tvalue\n' >"$DRESULTS"
    DOUT=${SHM_OUT:-$OUT}
    daemon_wanted() { [[ " $DAEMON_CASES " == *" $1 "* ]]; }
    record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$DRESULTS"; }
    # User and system CPU of process PID so far, in ticks.
    proc_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

    # start_qmgrd DIR: a user-mode qmgrd with its socket, state directory
    # and log in DIR; sets QMGRD_PID, and QMGRD_ADDRESS once it serves (it
    # says so on stderr after it listens and has opened its state: no
    # connection is made to find out, which would change what it holds).
    start_qmgrd() {
        local dir=$1 i
        mkdir -p "$dir"
        "$QMGRD_BIN" --user --socket "$dir/sock" --state "$dir/state" --idle-exit 0 \
            --max-jobs-per-user $((DAEMON_JOBS + 10)) </dev/null >"$dir/qmgrd.log" 2>&1 &
        QMGRD_PID=$!
        QMGRD_PIDS+=("$QMGRD_PID")
        QMGRD_ADDRESS=unix:$dir/sock
        for ((i = 0; i < 300; i++)); do
            grep -q ' daemon on ' "$dir/qmgrd.log" && return 0
            alive "$QMGRD_PID" || die "qmgrd exited: $(cat "$dir/qmgrd.log")"
            sleep 0.1
        done
        die "qmgrd does not start: $(cat "$dir/qmgrd.log")"
    }

    # memory LABEL PID: records what /proc says of qmgrd's memory (KiB) and
    # threads, as case rss, mode LABEL: the totals of its status, and its
    # resident pages by mapping (smaps): its own binary's, the shared
    # libraries', the [heap]'s, and the anonymous mappings' (the stacks of
    # its threads, and glibc's malloc arenas of other threads than the
    # first).
    memory() {
        local label=$1 pid=$2 key value
        while read -r key value _; do
            case "$key" in
            VmRSS: | VmHWM: | Threads:) record rss "$label" 0 "${key%:}" "$value" ;;
            esac
        done <"/proc/$pid/status"
        while read -r key value; do record rss "$label" 0 "$key" "$value"; done < <(
            awk -v bin="$(readlink "/proc/$pid/exe")" '
                /^[0-9a-f]+-[0-9a-f]+ / { name = $6 }
                /^Rss:/ {
                    if (name == bin) b += $2
                    else if (name == "[heap]") h += $2
                    else if (name == "") a += $2
                    else if (name ~ /^\//) l += $2
                    else o += $2
                }
                END { printf "rss_binary %d\nrss_libs %d\nrss_heap %d\nrss_anon_maps %d\nrss_other %d\n", b, l, h, a, o }
            ' "/proc/$pid/smaps")
        log "qmgrd $label: $(grep -E '^(VmRSS|RssAnon|RssFile|VmHWM|Threads):' "/proc/$pid/status" | tr -s ' \t\n' ' ')"
    }

    # daemon_run CASE MODE RUN FULL: one run of bench/daemon.c's CASE on a
    # manager in the process (MODE inproc; a new state directory) or on the
    # qmgrd (MODE qmgrd), into a fresh directory that is checked (SHA-256
    # too when FULL is 1) and deleted; run 0 is not recorded.
    daemon_run() {
        local what=$1 mode=$2 run=$3 full=$4
        local dir=$DOUT/run-daemon-$what-$mode state=$WORK/state-inproc target args
        rm -rf "$dir" "$state"
        mkdir -p "$dir"
        if [ "$mode" = inproc ]; then target=(open "$state"); else target=(connect "$QMGRD_ADDRESS"); fi
        case "$what" in
        jobs) args=("$DAEMON_JOBS" "$BASE/small" "$dir") ;;
        transfer) args=("$BASE/$DAEMON_BIG_NAME" "$dir/big.bin") ;;
        progress) args=("$DAEMON_CALLS" "$DAEMON_CHANGES" "$dir") ;;
        esac
        settle
        local b0 b1 n0 n1 d0 d1 rc=0
        b0=$(machine_busy_ticks)
        n0=$(nginx_ticks)
        d0=$(proc_ticks "$QMGRD_PID")
        /usr/bin/time -f '%U %S %e' -o "$WORK/time.txt" "$DAEMON_BENCH" "$what" "${target[@]}" "${args[@]}" \
            >"$WORK/stdout.txt" 2>"$WORK/stderr.txt" || rc=$?
        d1=$(proc_ticks "$QMGRD_PID")
        n1=$(nginx_ticks)
        b1=$(machine_busy_ticks)
        if [ "$rc" != 0 ]; then
            log "daemon-bench $what ($mode, run $run) exited $rc:"
            head -c 2000 "$WORK/stderr.txt" >&2
            tail -n 20 "$WORK/qmgrd/qmgrd.log" >&2
            die "the $what case failed"
        fi
        [ "$what" = progress ] || verify "daemon_$what" "$dir" "$full" ||
            die "daemon-bench $what ($mode, run $run) did not deliver the right bytes"
        rm -rf "$dir" "$state"
        [ "$run" -gt 0 ] || return 0
        local user sys elapsed daemon_s=0 metric value
        read -r user sys elapsed < <(tail -n 1 "$WORK/time.txt")
        # The daemon's CPU counts through the daemon only (idle otherwise).
        [ "$mode" = inproc ] || daemon_s=$(awk -v t="$((d1 - d0))" -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }')
        while read -r metric value; do record "$what" "$mode" "$run" "$metric" "$value"; done <"$WORK/stdout.txt"
        record "$what" "$mode" "$run" cpu_s "$(awk -v u="$user" -v s="$sys" -v d="$daemon_s" 'BEGIN { printf "%.2f", u + s + d }')"
        # What the rest of the machine used meanwhile, in % of one CPU (as
        # run_attempt's "others"): all busy time less the client's, qmgrd's
        # and nginx's.
        record "$what" "$mode" "$run" others_pct "$(awk -v b="$((b1 - b0))" -v n="$((n1 - n0))" -v d="$daemon_s" \
            -v u="$user" -v s="$sys" -v hz="$TICKS" -v w="$elapsed" 'BEGIN {
                o = (b - n) / hz - (u + s + d); if (o < 0) o = 0
                printf "%d", 100 * o / (w > 0 ? w : 1) }')"
        log "daemon $what $mode run $run: $(tr '\n' ' ' <"$WORK/stdout.txt")(client ${user}s user ${sys}s sys, qmgrd ${daemon_s}s)"
    }

    # daemon_case CASE RUNS: an untimed warm-up of each mode (which checks
    # the SHA-256s), then RUNS runs of each, the modes alternating and the
    # first one rotating from run to run.
    daemon_case() {
        local what=$1 runs=$2 run modes=(inproc qmgrd)
        log "daemon case $what: in-process and through qmgrd, $runs runs each"
        daemon_run "$what" inproc 0 1
        daemon_run "$what" qmgrd 0 1
        for ((run = 1; run <= runs; run++)); do
            daemon_run "$what" "${modes[(run - 1) % 2]}" "$run" 0
            daemon_run "$what" "${modes[run % 2]}" "$run" 0
        done
    }

    BUSY_BEFORE=$(wait_idle)
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
    start_qmgrd "$WORK/qmgrd"
    MAIN_QMGRD=$QMGRD_PID
    if daemon_wanted jobs; then daemon_case jobs "$RUNS"; fi
    if daemon_wanted progress; then daemon_case progress "$RUNS"; fi
    if daemon_wanted transfer; then daemon_case transfer "$DAEMON_BIG_RUNS"; fi
    if daemon_wanted rss; then
        # A fresh qmgrd: right after start; then after one connection and
        # one job (one small file, completed) and DAEMON_IDLE seconds alone.
        log "daemon case rss: a fresh qmgrd, then ${DAEMON_IDLE}s idle after one job"
        start_qmgrd "$WORK/qmgrd-rss"
        sleep 1
        memory start "$QMGRD_PID"
        mkdir -p "$DOUT/run-daemon-rss"
        "$DAEMON_BENCH" jobs connect "$QMGRD_ADDRESS" 1 "$BASE/small" "$DOUT/run-daemon-rss" >/dev/null ||
            die "the rss case's job failed"
        rm -rf "$DOUT/run-daemon-rss"
        sleep "$DAEMON_IDLE"
        memory one_job "$QMGRD_PID"
        stop_qmgrd "$QMGRD_PID"
        record rss one_job 0 stop_s "$STOP_S"
        record rss one_job 0 exit "$STOP_RC"
        # The qmgrd of the cases above, after them.
        if daemon_wanted jobs || daemon_wanted progress || daemon_wanted transfer; then
            QMGRD_PID=$MAIN_QMGRD
            sleep "$DAEMON_IDLE"
            memory after_cases "$MAIN_QMGRD"
        fi
    fi
    stop_qmgrd "$MAIN_QMGRD"
    record rss after_cases 0 stop_s "$STOP_S"
    record rss after_cases 0 exit "$STOP_RC"
    LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

    {
        echo "date=$STARTED"
        echo "nproc=$(nproc)"
        echo "cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
        echo "kernel=$(uname -sr)"
        echo "out_fs=$(df -T "$DOUT" | awk 'NR == 2 { print $2 }') ($DOUT)"
        echo "state_fs=$(df -T "$WORK" | awk 'NR == 2 { print $2 }') ($WORK)"
        echo "busy_before=$BUSY_BEFORE"
        echo "load_before=$LOAD_BEFORE"
        echo "load_after=$LOAD_AFTER"
        echo "runs=$RUNS"
        echo "big_runs=$DAEMON_BIG_RUNS"
        echo "jobs=$DAEMON_JOBS"
        echo "small_bytes=$SMALL_SIZE"
        echo "big_bytes=$DAEMON_BIG_BYTES"
        echo "calls=$DAEMON_CALLS"
        echo "changes=$DAEMON_CHANGES"
        echo "idle_s=$DAEMON_IDLE"
        echo "qmgrd=$("$QMGRD_BIN" --version | head -n 1) (git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown))"
        echo "qmgrd_bytes=$(stat -c %s "$QMGRD_BIN")"
        echo "nginx=$("$NGINX" -v 2>&1)"
    } >"$WORK/daemon-machine.txt"
    # The inputs are kept beside the report, so that
    # bench/daemon_report.py can render them again without measuring.
    report_args=(--results "$DRESULTS" --machine "$WORK/daemon-machine.txt")
    cp "$DRESULTS" "$DAEMON_REPORT.tsv"
    cp "$WORK/daemon-machine.txt" "$DAEMON_REPORT.machine.txt"
    report_args+=(--out "$DAEMON_REPORT")
    python3 "$ROOT/bench/daemon_report.py" "${report_args[@]}"
    exit 0
fi

# ---------------------------------------------------------------- delta
if [ "$SECTION" = delta ]; then
    : >"$WORK/sent.tsv"
    BEFORE=()
    if [ -n "${QMGR_BASELINE:-}" ]; then
        [ -x "$QMGR_BASELINE" ] || die "QMGR_BASELINE=$QMGR_BASELINE is not an executable"
        BEFORE=(qmgr-before)
    fi
    BUSY_BEFORE=$(wait_idle)
    STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
    for s in $DELTA_SCENARIOS; do
        case "$s" in
        delta) scenario delta 1 qmgr "${BEFORE[@]}" zsync qmgr-full qmgr-https ;;
        delta_wan) scenario delta_wan 0 qmgr "${BEFORE[@]}" zsync qmgr-full ;;
        *) die "unknown delta scenario $s" ;;
        esac
    done
    {
        echo "date=$STARTED"
        echo "nproc=$(nproc)"
        echo "cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
        echo "kernel=$(uname -sr)"
        echo "out_fs=$(df -T "$OUT" | awk 'NR == 2 { print $2 }') ($OUT)"
        echo "busy_before=$BUSY_BEFORE"
        echo "runs=$RUNS"
        echo "discarded=$DISCARDED"
        echo "image_bytes=$DELTA_BYTES"
        echo "changed_pct=$DELTA_PCT"
        echo "control=$(grep -a -m 1 '^Blocksize' "$DELTA_DIR/new.img.zsync") $(grep -a -m 1 '^Hash-Lengths' "$DELTA_DIR/new.img.zsync")"
        echo "control_bytes=$(stat -c %s "$DELTA_DIR/new.img.zsync")"
        echo "qmgr=$("$QMGR_BIN" --version | head -n 1) (git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown))"
        echo "zsync=$(zsync -V 2>&1 | head -n 1)"
        echo "nginx=$("$NGINX" -v 2>&1)"
        if [ -n "${QMGR_BASELINE:-}" ]; then echo "qmgr_before=$("$QMGR_BASELINE" --version 2>/dev/null | head -n 1) ($QMGR_BASELINE)"; fi
    } >"$WORK/delta-machine.txt"
    cp "$RESULTS" "$DELTA_REPORT.tsv"
    cp "$WORK/sent.tsv" "$DELTA_REPORT.sent.tsv"
    cp "$WORK/delta-machine.txt" "$DELTA_REPORT.machine.txt"
    python3 "$ROOT/bench/delta_report.py" --results "$RESULTS" --sent "$WORK/sent.tsv" \
        --machine "$WORK/delta-machine.txt" --out "$DELTA_REPORT"
    exit 0
fi

# ---------------------------------------------------------------- upload
if [ "$SECTION" = upload ]; then
    printf 'scenario\ttool\trun\tserver_s\n' >"$WORK/server.tsv"
    read -r -a UP_TOOLS <<<"$UPLOAD_TOOLS"
    if [ -n "${QMGR_BASELINE:-}" ]; then
        [ -x "$QMGR_BASELINE" ] || die "QMGR_BASELINE=$QMGR_BASELINE is not an executable"
        UP_TOOLS+=(qmgr-before)
    fi
    # The load: the machine is shared; say how busy it was.
    BUSY_BEFORE=$(wait_idle)
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
    for s in $UPLOAD_SCENARIOS; do
        case "$s" in
        upload) scenario upload 1 "${UP_TOOLS[@]}" ;;
        upload_wan) scenario upload_wan 0 "${UP_TOOLS[@]}" ;;
        *) die "unknown upload scenario $s" ;;
        esac
    done
    LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
    {
        echo "date=$STARTED"
        echo "nproc=$(nproc)"
        echo "cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
        echo "kernel=$(uname -sr)"
        echo "store_fs=$(df -T "$UP_STORE" | awk 'NR == 2 { print $2 }') ($UP_STORE)"
        echo "busy_before=$BUSY_BEFORE"
        echo "load_before=$LOAD_BEFORE"
        echo "load_after=$LOAD_AFTER"
        echo "runs=$RUNS"
        echo "discarded=$DISCARDED"
        echo "others_max=$OTHERS_MAX"
        echo "upload_bytes=$UP_BYTES"
        echo "qmgr=$("$QMGR_BIN" --version | head -n 1) (git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown))"
        if [ -n "${QMGR_BASELINE:-}" ]; then echo "qmgr_before=$("$QMGR_BASELINE" --version | head -n 1) ($QMGR_BASELINE)"; fi
        echo "curl=$(curl --version | head -n 1 | awk '{ print $1, $2 }')"
        echo "tuspy=tuspy $(python3 -c 'import importlib.metadata as m; print(m.version("tuspy"))') (Python $(python3 -c 'import platform; print(platform.python_version())'), requests $(python3 -c 'import requests; print(requests.__version__)'))"
        echo "tus_server=@tus/server $(node -p 'require("./tests/servers/tus-node/node_modules/@tus/server/package.json").version') with @tus/file-store $(node -p 'require("./tests/servers/tus-node/node_modules/@tus/file-store/package.json").version'), node $(node --version)"
        echo "nginx=$("$NGINX" -v 2>&1)"
    } >"$WORK/upload-machine.txt"
    cp "$RESULTS" "$UPLOAD_REPORT.tsv"
    cp "$WORK/server.tsv" "$UPLOAD_REPORT.server.tsv"
    cp "$WORK/upload-machine.txt" "$UPLOAD_REPORT.machine.txt"
    python3 "$ROOT/bench/upload_report.py" --results "$RESULTS" --server "$WORK/server.tsv" \
        --machine "$WORK/upload-machine.txt" --out "$UPLOAD_REPORT"
    exit 0
fi

BUSY_BEFORE=$(wait_idle)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
wanted() { [[ " $SCENARIOS " == *" $1 "* ]]; }
BEFORE=()
if [ -n "${QMGR_BASELINE:-}" ]; then
    [ -x "$QMGR_BASELINE" ] || die "QMGR_BASELINE=$QMGR_BASELINE is not an executable"
    BEFORE=(qmgr-before)
fi
if wanted big; then scenario big 1 qmgr "${BEFORE[@]}" curl wget aria2c; fi
if wanted big_shm && [ -n "$SHM_OUT" ]; then scenario big_shm 1 qmgr "${BEFORE[@]}" curl wget aria2c; fi
if [ "$QMGR_MODE" = cli ]; then
    if wanted small; then scenario small 1 qmgr "${BEFORE[@]}" curl aria2c; fi
    if wanted small_shm && [ -n "$SHM_OUT" ]; then scenario small_shm 1 qmgr "${BEFORE[@]}" curl aria2c; fi
    if wanted limit; then scenario limit 0 qmgr curl aria2c; fi
    if wanted wan_small; then scenario wan_small 0 qmgr qmgr-16 curl curl-16 aria2c-16; fi
    if wanted wan_capped; then scenario wan_capped 0 qmgr qmgr-8 curl aria2c-8; fi
else
    log "scenarios 2 and 3 need the qmgr CLI: skipped"
fi
LOAD_AFTER_HTTP=$(cut -d' ' -f1-3 /proc/loadavg)

kill "$NGINX_PID" 2>/dev/null || true
wait "$NGINX_PID" 2>/dev/null || true
NGINX_PID=

# ---------------------------------------------------------------- criterion
IMPACT_JSON=$WORK/impact.json
CRITERION_LOG=$WORK/criterion.log
CRITERION_DIR=$WORK/no-criterion # nothing stale is reported when skipped
if [ "$SKIP_CRITERION" != 1 ]; then
    CRITERION_DIR=$TARGET_DIR/criterion
    cargo bench -p qmgr-bench --bench abi --no-run >&2
    BUSY_BEFORE_CRITERION=$(wait_idle)
    log "cargo bench -p qmgr-bench --bench abi (a few minutes)"
    rm -rf "$TARGET_DIR/criterion/get_progress" "$TARGET_DIR/criterion/job" "$TARGET_DIR/criterion/enum_jobs_10000"
    QMGR_BENCH_REPORT=$IMPACT_JSON cargo bench -p qmgr-bench --bench abi 2>&1 | tee "$CRITERION_LOG" >&2
fi

# ---------------------------------------------------------------- report
mem_total=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
fs_type=$(df -T "$OUT" | awk 'NR == 2 { print $2 }')
{
    echo "date=$STARTED"
    echo "nproc=$(nproc)"
    echo "cpu=$cpu_model"
    echo "memory=$mem_total"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "out_fs=$fs_type ($OUT)"
    echo "busy_before=$BUSY_BEFORE"
    echo "busy_before_criterion=$BUSY_BEFORE_CRITERION"
    echo "load_before=$LOAD_BEFORE"
    echo "load_after_http=$LOAD_AFTER_HTTP"
    echo "runs=$RUNS"
    echo "discarded=$DISCARDED"
    echo "qmgr_mode=$QMGR_MODE"
    echo "qmgr=$(if [ "$QMGR_MODE" = cli ]; then "$QMGR_BIN" --version 2>/dev/null | head -n 1; else echo "quickstart example"; fi) (git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown))"
    if [ -n "${QMGR_BASELINE:-}" ]; then echo "qmgr_before=$("$QMGR_BASELINE" --version 2>/dev/null | head -n 1) ($QMGR_BASELINE)"; fi
    echo "rustc=$(rustc --version)"
    echo "curl=$(curl --version | head -n 1 | awk '{ print $1, $2, $4, $5 }')"
    echo "wget=$(wget --version | head -n 1 | awk '{ print $1, $2, $3 }')"
    echo "aria2c=$(aria2c --version | head -n 1)"
    echo "nginx=$("$NGINX" -v 2>&1)"
    echo "hyperfine=$(hyperfine --version)"
    echo "time=GNU time $(dpkg-query -W -f='${Version}' time 2>/dev/null || echo '(version unknown)')"
    echo "limit_bytes=$LIMIT_BYTES"
    echo "big_bytes=$BIG_SIZE"
    echo "small_count=$SMALL_COUNT"
    echo "small_bytes=$SMALL_SIZE"
    echo "wan_count=$WAN_COUNT"
    echo "wan_n=$WAN_N"
    echo "wan_big_bytes=$WAN_BIG_SIZE"
    echo "wan_cap_bytes=$WAN_CAP"
} >"$WORK/machine.txt"

# The inputs are kept in bench/results/, so that `python3 bench/report.py`
# can write the report again (say, after editing bench/analysis.md) without
# measuring again.
python3 "$ROOT/bench/report.py" \
    --results "$RESULTS" --machine "$WORK/machine.txt" \
    --criterion "$CRITERION_DIR" --impact "$IMPACT_JSON" \
    --save "$ROOT/bench/results" --analysis "$ROOT/bench/analysis.md" --out "$REPORT"
log "wrote $REPORT (its inputs are in bench/results/)"
