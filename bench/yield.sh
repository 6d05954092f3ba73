#!/usr/bin/env bash
# Does "background" mean yielding? (issue 23) How much a background download
# slows the user's own small fetch over a slow link with a deep queue, and
# how much of the idle link the background takes back when the user is done:
# curl, aria2c and qmgr's priorities side by side, written to
# bench/results/yield.md (and printed).
#
#   bash bench/yield.sh                        # everything (see "Time" below)
#   QMGR=/path/to/qmgr bash bench/yield.sh     # measure that binary instead
#   RATES=20mbit SHAPES=one RUNS=2 FETCHES=5 bash bench/yield.sh   # ~8 min
#   RATES=20mbit BACKGROUNDS="curl qmgr-low" SCENARIOS=fetch bash bench/yield.sh
#   RATES=20mbit SHAPES=up bash bench/yield.sh  # uploads (see SHAPE=up), ~25 min
#
# It must run as root (network namespaces, tc). It installs what it lacks
# from Debian's packages (nginx, aria2, curl, iproute2, ethtool, python3),
# and builds the CLI (cargo build --release -p qmgr-cli) unless QMGR names a
# binary. Nothing leaves the machine: the traffic stays inside three network
# namespaces the script creates, and removes in its exit trap (also on
# Ctrl-C or failure), with every process started in them:
#
#   server (nginx) ── mid (a router, ip_forward) ── client (the downloads)
#
# joined by two veth pairs (10.203.1.0/24 and 10.203.2.0/24), with
# GSO/TSO/GRO off on every veth (ethtool), so that the shapers see packets
# of one MTU. The bottleneck is a tbf with a deep queue, so that a full
# queue is the delay the user feels:
#
#   tc qdisc ... root tbf rate RATE burst max(4000 B, RATE/250) latency 400ms
#
# With SHAPE=two a second, slower queue follows it: a tbf at SECOND_PCT
# (default 80) % of RATE with `latency 200ms`. Where the queues are
# (BOTTLENECK):
#
#   mid     (default) the first on mid's egress toward the client; the second
#           on the client's ingress (redirected through an IFB device in
#           the client's namespace, whose counters are then the ones
#           sampled). Both are after IP forwarding, like a router's queue.
#   server  the first on the server's own veth, the second on mid's egress
#           toward the client. Beware: a queue on the sender's own device
#           holds packets still charged to their socket, so TCP Small
#           Queues lets each connection keep only a couple of packets in
#           it, which starves a new connection next to a running one far
#           more than a router's queue would (measured by hand at 20mbit:
#           under one curl, the user's 256 KiB took 2.7 s while the queue
#           held only ~50 ms, the new connection keeping 4 packets in
#           flight). This script's figures at 20mbit come out close to
#           mid's all the same (2.7 against 2.5 s under curl), but for that
#           other reason, which matters once a controller keeps the queue
#           short. An IFB on mid's ingress behaves the same (the packets
#           are not yet forwarded), which is why the second queue is on
#           the client's side instead.
#
# With SHAPE=up the background is an upload and the queue is on the way
# out: the first tbf (rate RATE, latency 400ms, as above) on mid's egress
# toward the server, nothing on the way back. The client uploads the big
# file to a tus 1.0 server in the server's namespace (@tus/server with
# @tus/file-store, tests/servers/tus-node/server.mjs, on SRV_IP:1080,
# storing on tmpfs; its modules installed with npm ci when missing), and
# the link rate is the server's received bytes (its veth's rx_bytes,
# sampled in its namespace). The rows (UP_BACKGROUNDS, default "curl
# qmgr-low qmgr-foreground"): curl as a tus client (bench/tus_curl.sh: the
# creation POST, then the whole file in one PATCH, as bench/run.sh's
# upload section runs it), and `qmgr upload FILE URL --priority P` to the
# same server. The user's traffic is both ways: each of the FETCHES is the
# 256 KiB fetch above (its requests and ACKs cross the queue) followed,
# 1 s later, by an upload of the same 256 KiB, `curl -T FILE
# http://server/dav/NAME` (a plain PUT, nginx's dav module, onto tmpfs).
# The calibration is a curl tus upload, the regain scenario's "user's own
# download" a curl tus upload of the big file to a second tus server
# (port 1081, so that its bytes are counted apart from qmgr's). A row's
# rate is its upload's growth on the server. Regain there is the time until
# qmgr's own rate (its growth, counted as full frames: x 1514/1448) is back
# at 85%, not the link's: the killed upload's packets still queued (up to
# 400 ms of them) alone filled the first 0.5 s window.
#
# The TCP congestion control of the server (the sender) is TCP_CC, default
# cubic (Linux's default, what fills a deep queue), set on the server's
# route (`ip route ... congctl`: a namespace may not take another default
# than the host's allowed ones); TCP_CC=system leaves the host's default
# (bbr on some machines, which keeps a flow's queue short: at 20mbit, shape
# one, the user's fetch was 1.7x slower than idle under curl and 5.5x under
# qmgr LOW with TCP_CC=bbr, 22x and 33x with cubic). TCP metrics are neither saved nor reused
# between connections in the namespaces (tcp_no_metrics_save), so that a
# run's ssthresh does not carry into the next. SERVER_TIMESTAMPS=0 turns
# TCP timestamps off in the server's namespace (as Windows servers have
# them by default): the client's kernel then has no round trip that grows
# with the queue, and qmgr times TCP handshakes instead.
#
# nginx serves, from bench/data/ (cached there, gitignored): yield-big.bin,
# random bytes, RATE x 60 s for the highest RATE (at most 800 MB), so that
# no background finishes during a scenario (one that does fails the run),
# and yield-256k.bin, the user's fetch. Downloads go to tmpfs (/dev/shm).
#
# For each RATE in RATES and SHAPE in SHAPES, first a check of the
# bottleneck: a plain curl download of the big file for CAL_S (8) seconds;
# its link rate over the second half must be 85-105% of the bottleneck, or
# the script stops (printed, and in the report). Then RUNS times, the rows
# of each run in rotated order:
#
#   fetch   the user's fetch, `curl -s -o /dev/null -w '%{http_code}
#           %{size_download} %{time_total}' http://server/yield-256k.bin`
#           in the client's namespace, FETCHES times, 1 s between the end of
#           one and the start of the next: on the idle link (row idle),
#           then WARMUP seconds after each background download started, in
#           BACKGROUNDS: curl -o (curl), aria2c -x4 -s4 with no file
#           allocation nor disk cache (aria2c), qmgr transfer --priority
#           low / normal / high / foreground (qmgr-low ... qmgr-foreground;
#           qmgr's default 6 connections), and qmgr-low-noyield (--priority low
#           --no-yield) when `qmgr transfer --help` has --no-yield. A run's
#           figure is the median of its fetches; the report gives the
#           median over the runs (min-max), the slowdown (each run's median
#           over the same run's idle median), the link use during the
#           fetches (all the client received, in % of the bottleneck: the
#           background's and the fetches' bytes, headers included) and the
#           background's own rate then (its file's growth).
#   alone   each job of ALONE_ROWS (default qmgr-low qmgr-normal) alone for
#           ALONE_S (20) s: the time from its start until the link rate over
#           a sliding 1 s window first reaches 85% of the bottleneck, and
#           the mean link rate from ALONE_S/2 to ALONE_S s.
#   regain  each job of REGAIN_ROWS (default qmgr-low) alone REGAIN_ALONE_S
#           (10) s, then the user's own download (curl, the big file) for
#           REGAIN_USER_S (6) s, killed: the time from the kill until the
#           link rate over a 0.5 s window (wholly after the kill, so at
#           least 0.5 s; the killed connection's packets still queued count
#           too) is back at 85%, at most REGAIN_MAX_S (20) s; and qmgr's
#           share of the two downloads' bytes while the user's ran.
#
# The link rate is the client's received bytes (/sys/class/net/DEV/
# statistics/rx_bytes in its namespace, or the IFB's, sampled every 100 ms
# by bench/yield_report.py sample), in % of the bottleneck: RATE with
# SHAPE=one, SECOND_PCT % of it with two. A file's growth counts its
# allocated blocks (qmgr's partial file is sparse).
#
# Every download is checked: each user fetch must be HTTP 200 with 262144
# bytes; each background must still run when its window ends (one that
# exited early fails the script, with its log) and its file must have grown;
# the calibration must see the bottleneck's rate. Every command runs under
# `timeout`, every loop is bounded. A failed check stops the script (exit
# 1) with the reason; no failure is ever timed.
#
# Time, measured on a 2-CPU VM: one run of one RATE and SHAPE takes 3.5 to
# 6.5 minutes with the default rows and FETCHES (the longest at 5mbit,
# where a fetch under a background takes 3-6 s; the fetch scenario is
# three quarters of it), about 28 minutes for one run of each of the 6
# defaults. So the default, RUNS=5, takes about 2 h 20 min; RUNS=1 about
# 30 min; RATES=20mbit SHAPES="one two" RUNS=2 20 min; the quick try above
# about 8 min. SHAPE=up alone at one RATE takes about 5 minutes a run
# (20mbit; a turn of the user's is a fetch and an upload). The script
# prints its estimate before it starts.
#
# Environment: RATES (default "5mbit 20mbit 100mbit"; tc rates: Nkbit,
# Nmbit, Ngbit), SHAPES ("one two"; up too), RUNS (5), FETCHES (8), WARMUP (8),
# BACKGROUNDS (default curl aria2c qmgr-low qmgr-normal qmgr-foreground,
# plus qmgr-low-noyield when available; qmgr-high exists too), UP_BACKGROUNDS
# (SHAPE=up's rows: curl, qmgr-low ... qmgr-foreground), SCENARIOS
# ("fetch alone regain"), ALONE_ROWS, REGAIN_ROWS, ALONE_S, REGAIN_ALONE_S,
# REGAIN_USER_S, REGAIN_MAX_S, CAL_S, SECOND_PCT, TCP_CC (cubic; reno, bbr or
# system), SERVER_TIMESTAMPS (1; or 0), BOTTLENECK (mid; or server), QMGR (the binary; default the
# release build of this tree), QMGR_ARGS (more arguments for every qmgr
# transfer, e.g. "--connections 4"), YIELD_REPORT (default
# bench/results/yield.md; its figures are kept beside it as
# YIELD_REPORT.tsv and YIELD_REPORT.machine.txt, for `python3
# bench/yield_report.py report --results FILE.tsv --machine
# FILE.machine.txt`), YIELD_RAW (a directory to keep every raw sample in),
# QMGR_BENCH_DATA (default bench/data), PYTHON (python3).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RATES=${RATES:-5mbit 20mbit 100mbit}
SHAPES=${SHAPES:-one two}
RUNS=${RUNS:-5}
FETCHES=${FETCHES:-8}
WARMUP=${WARMUP:-8}
SCENARIOS=${SCENARIOS:-fetch alone regain}
ALONE_ROWS=${ALONE_ROWS:-qmgr-low qmgr-normal}
REGAIN_ROWS=${REGAIN_ROWS:-qmgr-low}
ALONE_S=${ALONE_S:-20}
REGAIN_ALONE_S=${REGAIN_ALONE_S:-10}
REGAIN_USER_S=${REGAIN_USER_S:-6}
REGAIN_MAX_S=${REGAIN_MAX_S:-20}
CAL_S=${CAL_S:-8}
SECOND_PCT=${SECOND_PCT:-80}
TCP_CC=${TCP_CC:-cubic}
SERVER_TIMESTAMPS=${SERVER_TIMESTAMPS:-1}
BOTTLENECK=${BOTTLENECK:-mid}
QMGR_ARGS=${QMGR_ARGS:-}
YIELD_REPORT=${YIELD_REPORT:-$ROOT/bench/results/yield.md}
DATA_DIR=${QMGR_BENCH_DATA:-$ROOT/bench/data}
PYTHON=${PYTHON:-python3}
HELPER=$ROOT/bench/yield_report.py
SETTLE=2 # seconds between scenarios: the queue (at most 0.6 s) drains
SMALL_BYTES=262144
MAX_BIG=800000000

log() { printf '[yield %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
wanted() { [[ " $SCENARIOS " == *" $1 "* ]]; }
posint() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "${2:-1}" ]; }

[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces and tc)"
posint "$RUNS" || die "RUNS must be a positive integer"
posint "$FETCHES" || die "FETCHES must be a positive integer"
posint "$WARMUP" 0 || die "WARMUP must be a whole number of seconds"
for v in ALONE_S REGAIN_ALONE_S REGAIN_USER_S REGAIN_MAX_S CAL_S; do
    posint "${!v}" 2 || die "$v must be a whole number of seconds, at least 2"
done
posint "$SECOND_PCT" || die "SECOND_PCT must be a percentage"
case "$BOTTLENECK" in mid | server) ;; *) die "BOTTLENECK must be mid or server" ;; esac
for s in $SHAPES; do case "$s" in one | two | up) ;; *) die "unknown SHAPE $s (one, two, up)" ;; esac; done
uploads() { [[ " $SHAPES " == *" up "* ]]; }
for s in $SCENARIOS; do case "$s" in fetch | alone | regain) ;; *) die "unknown scenario $s (fetch alone regain)" ;; esac; done

# rate_bps RATE: tc's rate (SI units) in bit/s.
rate_bps() {
    local r=${1,,}
    [[ $r =~ ^([0-9]+)(k|m|g)?bit$ ]] || die "cannot read the rate $1 (Nkbit, Nmbit or Ngbit)"
    local n=${BASH_REMATCH[1]}
    case "${BASH_REMATCH[2]}" in
    k) n=$((n * 1000)) ;;
    m) n=$((n * 1000000)) ;;
    g) n=$((n * 1000000000)) ;;
    esac
    [ "$n" -ge 100000 ] || die "RATE $1 is too slow (at least 100kbit)"
    echo "$n"
}
max_bps=0
for r in $RATES; do
    b=$(rate_bps "$r")
    [ "$b" -le "$max_bps" ] || max_bps=$b
done
[ "$max_bps" -gt 0 ] || die "RATES is empty"

# ---------------------------------------------------------------- tools
missing=()
have nginx || [ -x /usr/sbin/nginx ] || missing+=(nginx)
have aria2c || missing+=(aria2)
have curl || missing+=(curl)
have ip || missing+=(iproute2)
have tc || missing+=(iproute2)
have ethtool || [ -x /usr/sbin/ethtool ] || missing+=(ethtool)
have "$PYTHON" || missing+=(python3)
if uploads; then
    have node || missing+=(nodejs)
    have npm || missing+=(npm)
fi
have timeout || missing+=(coreutils)
if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing ${missing[*]}"
    timeout 600 apt-get update -q >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q "${missing[@]}" >&2 ||
        die "cannot install ${missing[*]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ETHTOOL=$(command -v ethtool || echo /usr/sbin/ethtool)
PYTHON=$(command -v "$PYTHON")
TUS_SERVER=$ROOT/tests/servers/tus-node/server.mjs
if uploads && [ ! -d "$ROOT/tests/servers/tus-node/node_modules/@tus/server" ]; then
    log "installing the tus server's modules (npm ci in tests/servers/tus-node)"
    (cd "$ROOT/tests/servers/tus-node" && timeout 900 npm ci --no-audit --no-fund) >&2 || die "npm ci failed"
fi

# ---------------------------------------------------------------- qmgr
if [ -n "${QMGR:-}" ]; then
    [ -x "$QMGR" ] || die "QMGR=$QMGR is not an executable"
    QMGR=$(cd "$(dirname "$QMGR")" && pwd)/$(basename "$QMGR")
else
    have cargo || die "cargo is not installed (or set QMGR=/path/to/qmgr)"
    log "building the qmgr CLI (cargo build --release -p qmgr-cli)"
    timeout 3600 cargo build --release -p qmgr-cli >&2 || die "the qmgr CLI does not build"
    QMGR=${CARGO_TARGET_DIR:-$ROOT/target}/release/qmgr
    [ -x "$QMGR" ] || die "no $QMGR after the build"
fi
QMGR_VERSION=$(timeout 10 "$QMGR" --version 2>/dev/null | head -n 1) || die "$QMGR --version fails"
NO_YIELD=no
if timeout 10 "$QMGR" transfer --help 2>/dev/null | grep -q -- '--no-yield'; then NO_YIELD=yes; fi
if [ -z "${BACKGROUNDS:-}" ]; then
    BACKGROUNDS="curl aria2c qmgr-low qmgr-normal qmgr-foreground"
    [ "$NO_YIELD" = no ] || BACKGROUNDS+=" qmgr-low-noyield"
fi
UP_BACKGROUNDS=${UP_BACKGROUNDS:-curl qmgr-low qmgr-foreground}
read -r -a QARGS <<<"$QMGR_ARGS"
for row in $UP_BACKGROUNDS; do
    case "$row" in
    curl | qmgr-low | qmgr-normal | qmgr-high | qmgr-foreground) ;;
    *) die "unknown upload background $row (curl qmgr-low qmgr-normal qmgr-high qmgr-foreground)" ;;
    esac
done
for row in $BACKGROUNDS $ALONE_ROWS $REGAIN_ROWS; do
    case "$row" in
    curl | aria2c | qmgr-low | qmgr-normal | qmgr-high | qmgr-foreground) ;;
    qmgr-low-noyield) [ "$NO_YIELD" = yes ] || die "$row: $QMGR transfer has no --no-yield" ;;
    *) die "unknown background $row (curl aria2c qmgr-low qmgr-normal qmgr-high qmgr-foreground qmgr-low-noyield)" ;;
    esac
done
for row in $ALONE_ROWS $REGAIN_ROWS; do
    [[ $row == qmgr-* ]] || die "ALONE_ROWS and REGAIN_ROWS take qmgr rows only, not $row"
done
# rows SHAPE: sets ROWS, the backgrounds of that shape.
rows() {
    if [ "$1" = up ]; then read -r -a ROWS <<<"$UP_BACKGROUNDS"; else read -r -a ROWS <<<"$BACKGROUNDS"; fi
}

# ---------------------------------------------------------------- estimate
n_rates=$(wc -w <<<"$RATES")
est=0
for SHAPE in $SHAPES; do
    rows "$SHAPE"
    f=$FETCHES
    [ "$SHAPE" != up ] || f=$((FETCHES * 2)) # a fetch and an upload each time
    est=$((est + CAL_S + 5))
    if wanted fetch; then est=$((est + RUNS * (f * 2 + SETTLE + ${#ROWS[@]} * (WARMUP + f * 4 + SETTLE + 3)))); fi
    if wanted alone; then est=$((est + RUNS * $(wc -w <<<"$ALONE_ROWS") * (ALONE_S + SETTLE + 1))); fi
    if wanted regain; then est=$((est + RUNS * $(wc -w <<<"$REGAIN_ROWS") * (REGAIN_ALONE_S + REGAIN_USER_S + 3 + SETTLE + 1))); fi
done
est=$((est * n_rates))
log "qmgr: $QMGR ($QMGR_VERSION; --no-yield: $NO_YIELD)"
log "RATES=\"$RATES\" SHAPES=\"$SHAPES\" RUNS=$RUNS FETCHES=$FETCHES WARMUP=$WARMUP BACKGROUNDS=\"$BACKGROUNDS\" UP_BACKGROUNDS=\"$UP_BACKGROUNDS\" TCP_CC=$TCP_CC BOTTLENECK=$BOTTLENECK"
log "this takes roughly $((est / 60)) minutes (more on slow links)"

# ---------------------------------------------------------------- data
# Long enough for the longest scenario at the highest rate: a background
# that finishes would leave the link idle, so it fails the run instead.
longest=$((WARMUP + FETCHES * 5 + 10))
! uploads || longest=$((WARMUP + FETCHES * 10 + 10)) # a fetch and an upload each time
for x in $((REGAIN_ALONE_S + REGAIN_USER_S + REGAIN_MAX_S + 5)) $((ALONE_S + 5)) 60; do
    [ "$x" -le "$longest" ] || longest=$x
done
BIG_BYTES=$((max_bps * longest / 8))
[ "$BIG_BYTES" -le "$MAX_BIG" ] || BIG_BYTES=$MAX_BIG
mkdir -p "$DATA_DIR"
BIG=$DATA_DIR/yield-big.bin
SMALL=$DATA_DIR/yield-256k.bin
have_big=$(stat -c %s "$BIG" 2>/dev/null || echo 0)
if [ "$have_big" -lt "$BIG_BYTES" ]; then
    log "generating $BIG ($((BIG_BYTES / 1000000)) MB of random bytes)"
    head -c "$BIG_BYTES" /dev/urandom >"$BIG.tmp"
    mv "$BIG.tmp" "$BIG"
else
    BIG_BYTES=$have_big
fi
if [ "$(stat -c %s "$SMALL" 2>/dev/null || echo 0)" != "$SMALL_BYTES" ]; then
    head -c "$SMALL_BYTES" /dev/urandom >"$SMALL.tmp"
    mv "$SMALL.tmp" "$SMALL"
fi
cat "$BIG" "$SMALL" >/dev/null # into the page cache

# ---------------------------------------------------------------- cleanup
P=qy$$
NS_SRV=$P-srv NS_MID=$P-mid NS_CLI=$P-cli
DEV_S=${P}s DEV_MS=${P}ms DEV_MC=${P}mc DEV_C=${P}c DEV_IFB=${P}i
SRV_IP=10.203.1.1 MID_IP1=10.203.1.2 MID_IP2=10.203.2.1 CLI_IP=10.203.2.2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qmgr-yield.XXXXXX")
SHM_BASE=/dev/shm
[ -d "$SHM_BASE" ] && [ -w "$SHM_BASE" ] || SHM_BASE=$WORK
SHM=$(mktemp -d "$SHM_BASE/qmgr-yield.XXXXXX")
# SHAPE=up: what the servers store (the tus servers' uploads, nginx's PUTs).
STORE=$(mktemp -d "$SHM_BASE/qmgr-yield-store.XXXXXX")
NAMESPACES=()
PIDS=() # every process started, for the exit trap
SERVERS=" " # the servers' among them (nginx, the tus servers), which stay

alive() { [ -e "/proc/$1/stat" ] && [ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
forget() {
    local left=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || left+=("$p"); done
    PIDS=("${left[@]}")
}
# stop PID: SIGTERM, SIGKILL after 5 s, then reap it.
stop() {
    local pid=$1 i
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}
cleanup() {
    local rc=$? pid ns i
    set +e
    trap - INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 30; i++)); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    # Whatever still runs in our namespaces (nginx's workers, a child that
    # outlived its timeout) is ours too.
    for ns in "${NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [ -n "${YIELD_RAW:-}" ] && [ -d "$WORK/raw" ]; then
        mkdir -p "$YIELD_RAW" && cp -r "$WORK/raw/." "$YIELD_RAW/" && log "raw samples kept in $YIELD_RAW"
    fi
    rm -rf "$WORK" "$SHM" "$STORE"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ---------------------------------------------------------------- topology
nsx() { local ns=$1; shift; timeout 30 ip netns exec "$ns" "$@"; }
log "creating the namespaces $NS_SRV, $NS_MID, $NS_CLI"
for ns in "$NS_SRV" "$NS_MID" "$NS_CLI"; do
    ip netns add "$ns" || die "cannot create the network namespace $ns"
    NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
done
ip link add "$DEV_S" netns "$NS_SRV" type veth peer name "$DEV_MS" netns "$NS_MID" || die "cannot create a veth pair"
ip link add "$DEV_MC" netns "$NS_MID" type veth peer name "$DEV_C" netns "$NS_CLI" || die "cannot create a veth pair"
ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "$DEV_S"
ip -n "$NS_MID" addr add "$MID_IP1/24" dev "$DEV_MS"
ip -n "$NS_MID" addr add "$MID_IP2/24" dev "$DEV_MC"
ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "$DEV_C"
for pair in "$NS_SRV $DEV_S" "$NS_MID $DEV_MS" "$NS_MID $DEV_MC" "$NS_CLI $DEV_C"; do
    read -r ns dev <<<"$pair"
    nsx "$ns" "$ETHTOOL" -K "$dev" tso off gso off gro off >/dev/null 2>&1 ||
        die "cannot turn the offloads of $dev off (ethtool -K)"
    nsx "$ns" "$ETHTOOL" -k "$dev" | grep -Eq '^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload): on' &&
        die "$dev still has offloads on: $(nsx "$ns" "$ETHTOOL" -k "$dev" | grep -E 'segmentation-offload|receive-offload')"
    ip -n "$ns" link set "$dev" up
done
nsx "$NS_MID" sysctl -qw net.ipv4.ip_forward=1
for ns in "$NS_SRV" "$NS_CLI"; do nsx "$ns" sysctl -qw net.ipv4.tcp_no_metrics_save=1; done
nsx "$NS_SRV" sysctl -qw net.ipv4.tcp_timestamps="$SERVER_TIMESTAMPS"
CONGCTL=()
CC_EFFECTIVE=$(nsx "$NS_SRV" sysctl -n net.ipv4.tcp_congestion_control)
if [ "$TCP_CC" != system ]; then
    grep -qw "$TCP_CC" /proc/sys/net/ipv4/tcp_available_congestion_control || modprobe "tcp_$TCP_CC" 2>/dev/null ||
        die "the congestion control $TCP_CC is not available ($(cat /proc/sys/net/ipv4/tcp_available_congestion_control))"
    CONGCTL=(congctl lock "$TCP_CC")
    CC_EFFECTIVE="$TCP_CC (route congctl; the host's default is $CC_EFFECTIVE)"
fi
ip -n "$NS_SRV" route add default via "$MID_IP1" "${CONGCTL[@]}" || die "cannot set the server's route (congctl $TCP_CC?)"
ip -n "$NS_CLI" route add default via "$MID_IP2" "${CONGCTL[@]}" || die "cannot set the client's route"
SAMPLE_NS=$NS_CLI SAMPLE_DEV=$DEV_C
if [ "$BOTTLENECK" = mid ] && [[ " $SHAPES " == *" two "* ]]; then
    ip -n "$NS_CLI" link add "$DEV_IFB" type ifb || die "cannot create an IFB device (modprobe ifb?) for SHAPE=two"
    nsx "$NS_CLI" "$ETHTOOL" -K "$DEV_IFB" tso off gso off gro off >/dev/null 2>&1 || true
    ip -n "$NS_CLI" link set "$DEV_IFB" up
fi

# shape RATE SHAPE: sets the queues; CAP_BPS is the bottleneck (the slower
# queue) in bit/s, CAP_DESC how it is made, SAMPLE_DEV the device (in
# SAMPLE_NS: the client's, or the server's with SHAPE=up) whose received
# bytes are the link rate.
clear_qdiscs() {
    nsx "$NS_SRV" tc qdisc del dev "$DEV_S" root 2>/dev/null || true
    nsx "$NS_MID" tc qdisc del dev "$DEV_MS" root 2>/dev/null || true
    nsx "$NS_MID" tc qdisc del dev "$DEV_MC" root 2>/dev/null || true
    nsx "$NS_CLI" tc qdisc del dev "$DEV_C" ingress 2>/dev/null || true
    if ip -n "$NS_CLI" link show "$DEV_IFB" >/dev/null 2>&1; then
        nsx "$NS_CLI" tc qdisc del dev "$DEV_IFB" root 2>/dev/null || true
    fi
}
tbf() { # NS DEV BPS LATENCY
    local burst=$(($3 / 250 / 8))
    [ "$burst" -ge 4000 ] || burst=4000
    nsx "$1" tc qdisc add dev "$2" root tbf rate "$3bit" burst "$burst" latency "$4" ||
        die "tc cannot add a tbf on $2"
    echo "tbf rate $3bit burst ${burst}B latency $4 on $2"
}
shape() {
    local bps=$1 shp=$2 second=$(($1 * SECOND_PCT / 100)) d1 d2
    clear_qdiscs
    CAP_BPS=$bps
    if [ "$shp" = up ]; then
        d1=$(tbf "$NS_MID" "$DEV_MS" "$bps" 400ms)
        CAP_DESC="$d1 (mid's egress toward the server)"
        SAMPLE_NS=$NS_SRV SAMPLE_DEV=$DEV_S
        return 0
    fi
    SAMPLE_NS=$NS_CLI
    if [ "$BOTTLENECK" = server ]; then
        d1=$(tbf "$NS_SRV" "$DEV_S" "$bps" 400ms)
        SAMPLE_DEV=$DEV_C
    else
        d1=$(tbf "$NS_MID" "$DEV_MC" "$bps" 400ms)
        SAMPLE_DEV=$DEV_C
    fi
    CAP_DESC="$d1 (server's veth)"
    [ "$BOTTLENECK" = server ] || CAP_DESC="$d1 (mid's egress toward the client)"
    [ "$shp" = two ] || return 0
    if [ "$BOTTLENECK" = server ]; then
        d2=$(tbf "$NS_MID" "$DEV_MC" "$second" 200ms)
        CAP_DESC+=", then $d2 (mid's egress toward the client)"
    else
        nsx "$NS_CLI" tc qdisc add dev "$DEV_C" handle ffff: ingress || die "tc cannot add an ingress qdisc"
        nsx "$NS_CLI" tc filter add dev "$DEV_C" parent ffff: protocol all u32 match u32 0 0 \
            action mirred egress redirect dev "$DEV_IFB" || die "tc cannot redirect the client's ingress to $DEV_IFB"
        d2=$(tbf "$NS_CLI" "$DEV_IFB" "$second" 200ms)
        CAP_DESC+=", then $d2 (the client's ingress)"
        SAMPLE_DEV=$DEV_IFB
    fi
    CAP_BPS=$second
}

# ---------------------------------------------------------------- nginx
mkdir -p "$WORK/nginx"
# SHAPE=up: the user's uploads, plain PUTs into STORE/dav/ (nginx's dav
# module), by a worker that may write there (nginx started as root runs
# its workers as nobody).
NGINX_USER= PUT_LOCATION=
if uploads; then
    mkdir -p "$STORE/dav" "$STORE/dav-body"
    NGINX_USER="user root root;"
    PUT_LOCATION="location /dav/ { root $STORE; dav_methods PUT; client_max_body_size 0; client_body_temp_path $STORE/dav-body; }"
fi
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_timeout 60s;
    default_type application/octet-stream;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen $SRV_IP:80;
        root $DATA_DIR;
        $PUT_LOCATION
    }
}
EOF
log "starting nginx in $NS_SRV on $SRV_IP:80 serving $DATA_DIR"
ip netns exec "$NS_SRV" "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
    </dev/null >"$WORK/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
SERVERS+="$NGINX_PID "
BIG_URL=http://$SRV_IP/yield-big.bin
SMALL_URL=http://$SRV_IP/yield-256k.bin
for ((i = 0; i < 100; i++)); do
    nsx "$NS_CLI" curl -sf --max-time 2 -r 0-0 -o /dev/null "$BIG_URL" && break
    alive "$NGINX_PID" || die "nginx exited: $(cat "$WORK/nginx/error.log")"
    sleep 0.1
done
got=$(nsx "$NS_CLI" curl -s --max-time 5 -o /dev/null -w '%{http_code} %{size_download}' "$SMALL_URL") ||
    die "the client cannot reach nginx through $NS_MID"
[ "$got" = "200 $SMALL_BYTES" ] || die "the client's first fetch got '$got', not '200 $SMALL_BYTES'"

# SHAPE=up: two tus servers in the server's namespace, one for the
# background uploads (TUS_URL, into STORE/tus-bg), one for the regain
# scenario's user (TUS_USER_URL, into STORE/tus-user). Each exits when its
# standard input, a FIFO this script holds open, closes.
# start_tus PORT NAME: starts one, waits until it answers.
start_tus() {
    local port=$1 name=$2 fifo=$WORK/$2.in i pid
    mkdir -p "$STORE/$name"
    mkfifo "$fifo"
    exec {TUS_FD}<>"$fifo"
    ip netns exec "$NS_SRV" node "$TUS_SERVER" "$STORE/$name" "$port" "$SRV_IP" <"$fifo" \
        >"$WORK/$name.port" 2>"$WORK/$name.log" &
    pid=$!
    PIDS+=("$pid")
    SERVERS+="$pid "
    for ((i = 0; i < 100; i++)); do
        [ -s "$WORK/$name.port" ] && break
        alive "$pid" || die "the tus server $name exited: $(cat "$WORK/$name.log")"
        sleep 0.1
    done
    nsx "$NS_CLI" curl -sf --max-time 5 -X OPTIONS -o /dev/null "http://$SRV_IP:$port/files" ||
        die "the tus server $name does not answer on http://$SRV_IP:$port/files: $(cat "$WORK/$name.log")"
}
if uploads; then
    TUS_URL=http://$SRV_IP:1080/files
    TUS_USER_URL=http://$SRV_IP:1081/files
    start_tus 1080 tus-bg
    start_tus 1081 tus-user
    PUT_URL=http://$SRV_IP/dav/yield-256k.bin
    got=$(nsx "$NS_CLI" curl -s --max-time 5 -T "$SMALL" -o /dev/null -w '%{http_code} %{size_upload}' "$PUT_URL") ||
        die "the client cannot upload to nginx"
    [[ $got == 20[14]" $SMALL_BYTES" ]] || die "the client's first upload got '$got', not '201 $SMALL_BYTES'"
    log "tus servers (node $(node --version), @tus/server) on $TUS_URL and $TUS_USER_URL; PUTs to $PUT_URL"
fi

# ---------------------------------------------------------------- measuring
RESULTS=$WORK/results.tsv
printf 'rate\tshape\tscenario\trow\trun\tmetric\tvalue\n' >"$RESULTS"
ARIA=(aria2c --quiet=true --console-log-level=error --summary-interval=0 --allow-overwrite=true
    --auto-file-renaming=false --file-allocation=none --check-certificate=false -x4 -s4 -j1
    --disk-cache=0) # written as it arrives, so that its file's growth is its rate
MAX_BG=$((longest + REGAIN_MAX_S + 120)) # a background's own timeout, seconds

mark() { printf '%s %s\n' "$1" "$EPOCHREALTIME" >>"$DIR/marks"; }

# start_sampler ARGS...: bench/yield_report.py sample in the client's
# namespace, writing $DIR/samples.tsv; sets SAMPLER_PID once it has sampled.
start_sampler() {
    local i
    timeout -k 2 $((MAX_BG + 60)) ip netns exec "$SAMPLE_NS" "$PYTHON" "$HELPER" sample --dev "$SAMPLE_DEV" \
        --out "$DIR/samples.tsv" "$@" </dev/null 2>"$DIR/sampler.log" &
    SAMPLER_PID=$!
    PIDS+=("$SAMPLER_PID")
    for ((i = 0; i < 100; i++)); do
        [ -f "$DIR/samples.tsv" ] && [ "$(wc -l <"$DIR/samples.tsv")" -ge 2 ] && return 0
        alive "$SAMPLER_PID" || die "the sampler exited: $(cat "$DIR/sampler.log")"
        sleep 0.05
    done
    die "the sampler does not sample: $(cat "$DIR/sampler.log")"
}
# wait_sampler SECONDS: waits (at most SECONDS) for the sampler to stop by itself.
wait_sampler() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do alive "$SAMPLER_PID" || break; sleep 0.1; done
    alive "$SAMPLER_PID" && log "warning: the sampler did not stop by itself in $1 s"
    stop "$SAMPLER_PID"
}

# start_bg ROW OUTDIR: starts that download of the big file into OUTDIR
# (with SHAPE=up, that upload of it; OUTDIR then only names its log) in
# the client's namespace; sets BG_PID. ROW user is the regain scenario's
# user: curl, to the second tus server with SHAPE=up.
start_bg() {
    local row=$1 out=$2 cmd
    case "$SHAPE/$row" in
    up/curl) cmd=(sh "$ROOT/bench/tus_curl.sh" "$BIG" "$BIG_BYTES" "$TUS_URL") ;;
    up/user) cmd=(sh "$ROOT/bench/tus_curl.sh" "$BIG" "$BIG_BYTES" "$TUS_USER_URL") ;;
    up/qmgr-*) cmd=("$QMGR" upload "$BIG" "$TUS_URL" --priority "${row#qmgr-}" --quiet "${QARGS[@]}") ;;
    */curl | */user) cmd=(curl -sS -o "$out/big.bin" "$BIG_URL") ;;
    */aria2c) cmd=("${ARIA[@]}" -d "$out" -o big.bin "$BIG_URL") ;;
    */qmgr-low-noyield) cmd=("$QMGR" transfer "$BIG_URL" "$out/big.bin" --priority low --no-yield --quiet "${QARGS[@]}") ;;
    */qmgr-*) cmd=("$QMGR" transfer "$BIG_URL" "$out/big.bin" --priority "${row#qmgr-}" --quiet "${QARGS[@]}") ;;
    esac
    mkdir -p "$out"
    timeout -k 5 "$MAX_BG" ip netns exec "$NS_CLI" "${cmd[@]}" </dev/null >"$out.log" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
}
# grows ROW OUTDIR: the directory whose growth is that background's
# progress: OUTDIR, or with SHAPE=up the tus server's store.
grows() {
    case "$SHAPE/$1" in
    up/user) echo "$STORE/tus-user" ;;
    up/*) echo "$STORE/tus-bg" ;;
    *) echo "$2" ;;
    esac
}
# check_bg ROW PID OUTDIR: the download must still run. If a signal from
# outside this script ended it (another program on the machine killing
# "qmgr" or "curl" processes: status 143 or 137), it sets KILLED and
# returns 1, and the scenario starts again (see attempt); any other exit
# fails the script.
check_bg() {
    alive "$2" && return 0
    local rc=0
    wait "$2" 2>/dev/null || rc=$?
    forget "$2"
    if [ "$rc" = 143 ] || [ "$rc" = 137 ]; then
        log "warning: the background $1 was killed by a signal from outside this script (status $rc)"
        KILLED=1
        return 1
    fi
    die "the background $1 exited (status $rc) before its window ended: $(head -c 2000 "$3.log")$(ls -la "$3" 2>&1)"
}
# abandon: stops the scenario's processes (all but the servers) and removes its files.
abandon() {
    local pid
    for pid in "${PIDS[@]}"; do [[ $SERVERS == *" $pid "* ]] || stop "$pid"; done
    rm -rf "${SHM:?}"/*
    tidy
}
# tidy PATH...: removes these (a scenario's output directories, with their
# logs) and, with SHAPE=up, what the servers stored.
tidy() {
    local p
    for p in "$@"; do rm -rf "$p" "$p.log"; done
    [ "$SHAPE" != up ] || rm -rf "${STORE:?}"/tus-bg/* "$STORE"/tus-user/* "$STORE"/dav/*
}
# attempt SCENARIO ARGS...: runs it; again (at most 3 times in all) when a
# background was killed from outside.
RETRIED=0
attempt() {
    local try
    for ((try = 1; try <= 3; try++)); do
        KILLED=
        "$@"
        [ -n "$KILLED" ] || return 0
        RETRIED=$((RETRIED + 1))
        log "starting $* again"
        sleep "$SETTLE"
    done
    die "$*: a background was killed from outside 3 times; is another program killing qmgr or curl processes?"
}
# user_fetch [put]: one fetch of the 256 KiB file (with put: one upload of
# it), checked, appended to $DIR/fetches.tsv as "get|put CODE SIZE SECONDS".
user_fetch() {
    local got kind=${1:-get} args=("$SMALL_URL") codes=200 what=fetch size=size_download
    if [ "$kind" = put ]; then args=(-T "$SMALL" "$PUT_URL") codes="201 204" what=upload size=size_upload; fi
    got=$(timeout 70 ip netns exec "$NS_CLI" curl -s -o /dev/null --max-time 60 \
        -w "%{http_code} %{$size} %{time_total}" "${args[@]}") || die "the user's $what failed ($got)"
    read -r code size total <<<"$got"
    if [[ " $codes " != *" $code "* ]] || [ "$size" != "$SMALL_BYTES" ]; then
        die "the user's $what returned HTTP $code with $size bytes, not $codes with $SMALL_BYTES"
    fi
    printf '%s %s %s %s\n' "$kind" "$code" "$size" "$total" >>"$DIR/fetches.tsv"
}
# fetches: the user's FETCHES fetches, 1 s apart; with SHAPE=up each
# followed, 1 s later, by an upload.
fetches() {
    local i
    mark fetch_start
    for ((i = 1; i <= FETCHES; i++)); do
        user_fetch
        if [ "$SHAPE" = up ]; then sleep 1; user_fetch put; fi
        [ "$i" = "$FETCHES" ] || sleep 1
    done
    mark fetch_end
}
# analyze SCENARIO ROW RUN: the figures of $DIR, into $RESULTS and the log.
analyze() {
    local line
    line=$("$PYTHON" "$HELPER" analyze "$1" --dir "$DIR" --results "$RESULTS" --rate "$RATE" --shape "$SHAPE" \
        --row "$2" --run "$3" --cap-bps "$CAP_BPS" --fetches "$FETCHES" --alone-s "$ALONE_S" \
        --regain-max "$REGAIN_MAX_S") || die "$1 $2 (run $3): $line (raw data: $DIR)"
    log "  $1 $2: $line"
}
new_dir() { DIR=$WORK/raw/$RATE-$SHAPE/$1/$2; rm -rf "$DIR"; mkdir -p "$DIR"; }

calibrate() {
    new_dir cal curl
    local out=$SHM/cal
    start_sampler --dir "$(grows curl "$out")" --duration "$CAL_S"
    mark bg_start
    start_bg curl "$out"
    wait_sampler $((CAL_S + 10))
    check_bg curl "$BG_PID" "$out" || { abandon; return 0; }
    stop "$BG_PID"
    tidy "$out"
    analyze calibrate curl 0
    sleep "$SETTLE"
}
idle_fetches() {
    new_dir "$1" idle
    start_sampler
    fetches
    stop "$SAMPLER_PID"
    analyze fetch idle "$1"
    sleep 1
}
bg_fetches() { # RUN ROW
    new_dir "$1" "fetch-$2"
    local out=$SHM/$2
    start_sampler --dir "$(grows "$2" "$out")"
    mark bg_start
    start_bg "$2" "$out"
    sleep "$WARMUP"
    check_bg "$2" "$BG_PID" "$out" || { abandon; return 0; }
    fetches
    check_bg "$2" "$BG_PID" "$out" || { abandon; return 0; }
    stop "$SAMPLER_PID" # first: qmgr deletes its partial file when stopped
    stop "$BG_PID"
    tidy "$out"
    analyze fetch "$2" "$1"
    sleep "$SETTLE"
}
alone() { # RUN ROW
    new_dir "$1" "alone-$2"
    local out=$SHM/$2
    start_sampler --dir "$(grows "$2" "$out")" --duration $((ALONE_S + 1))
    mark bg_start
    start_bg "$2" "$out"
    wait_sampler $((ALONE_S + 10))
    check_bg "$2" "$BG_PID" "$out" || { abandon; return 0; }
    stop "$BG_PID"
    tidy "$out"
    analyze alone "$2" "$1"
    sleep "$SETTLE"
}
regain() { # RUN ROW
    new_dir "$1" "regain-$2"
    local out=$SHM/$2 user=$SHM/user qpid upid t own=()
    # Uploads: back at 85% is the job's own rate (see yield_report.py).
    [ "$SHAPE" != up ] || own=(--until-dir 0)
    start_sampler --dir "$(grows "$2" "$out")" --dir "$(grows user "$user")" --until-rate $((CAP_BPS * 85 / 800)) --window 0.5 \
        --after-file "$DIR/stopped" --max-after "$REGAIN_MAX_S" --linger 0.5 "${own[@]}"
    mark bg_start
    start_bg "$2" "$out"
    qpid=$BG_PID
    sleep "$REGAIN_ALONE_S"
    check_bg "$2" "$qpid" "$out" || { abandon; return 0; }
    mark user_start
    start_bg user "$user"
    upid=$BG_PID
    sleep "$REGAIN_USER_S"
    check_bg "user's curl" "$upid" "$user" || { abandon; return 0; }
    check_bg "$2" "$qpid" "$out" || { abandon; return 0; }
    t=$EPOCHREALTIME
    printf 'user_stop %s\n' "$t" >>"$DIR/marks"
    kill -TERM "$upid" 2>/dev/null || true
    printf '%s\n' "$t" >"$DIR/stopped.tmp"
    mv "$DIR/stopped.tmp" "$DIR/stopped"
    stop "$upid"
    wait_sampler $((REGAIN_MAX_S + 10))
    check_bg "$2" "$qpid" "$out" || { abandon; return 0; }
    stop "$qpid"
    tidy "$out" "$user"
    analyze regain "$2" "$1"
    sleep "$SETTLE"
}

cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
read -r busy0 total0 < <(cpu_ticks)
T0=$SECONDS
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
CAPS=()
for RATE in $RATES; do
    bps=$(rate_bps "$RATE")
    for SHAPE in $SHAPES; do
        shape "$bps" "$SHAPE"
        CAPS+=("cap_${RATE}_${SHAPE}=$CAP_DESC")
        log "RATE $RATE, shape $SHAPE: $CAP_DESC; the link rate is $SAMPLE_DEV's"
        rows "$SHAPE"
        attempt calibrate
        for ((run = 1; run <= RUNS; run++)); do
            log "RATE $RATE, shape $SHAPE, run $run of $RUNS"
            if wanted fetch; then
                attempt idle_fetches "$run"
                n=${#ROWS[@]}
                for ((i = 0; i < n; i++)); do attempt bg_fetches "$run" "${ROWS[((run - 1 + i) % n)]}"; done
            fi
            if wanted alone; then for row in $ALONE_ROWS; do attempt alone "$run" "$row"; done; fi
            if wanted regain; then for row in $REGAIN_ROWS; do attempt regain "$run" "$row"; done; fi
        done
        for q in "$NS_SRV $DEV_S" "$NS_MID $DEV_MS" "$NS_MID $DEV_MC" "$NS_CLI $DEV_IFB"; do
            read -r ns dev <<<"$q"
            ip -n "$ns" link show "$dev" >/dev/null 2>&1 || continue
            nsx "$ns" tc -s qdisc show dev "$dev" | grep -A1 '^qdisc tbf' | tr -s ' \n' ' ' |
                sed "s/^/  $dev: /" >&2 && echo >&2
        done
    done
done
ELAPSED=$((SECONDS - T0))
read -r busy1 total1 < <(cpu_ticks)

# ---------------------------------------------------------------- report
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || commit+=-dirty
{
    echo "date=$STARTED"
    echo "elapsed=$((ELAPSED / 60)) min $((ELAPSED % 60)) s (CPUs $((100 * (busy1 - busy0) / (total1 - total0 > 0 ? total1 - total0 : 1)))% busy meanwhile, all processes)"
    echo "commit=$commit"
    echo "retried=$RETRIED"
    echo "qmgr=$QMGR_VERSION"
    echo "qmgr_bin=$QMGR${QMGR_ARGS:+ $QMGR_ARGS}"
    echo "no_yield=$NO_YIELD"
    echo "kernel=$(uname -sr)"
    echo "nproc=$(nproc)"
    echo "cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "curl=$(curl --version | head -n 1 | awk '{ print $1, $2 }')"
    echo "aria2c=$(aria2c --version | head -n 1)"
    echo "nginx=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
    echo "rates=$RATES"
    echo "shapes=$SHAPES"
    echo "runs=$RUNS"
    echo "fetches=$FETCHES"
    echo "warmup=$WARMUP"
    echo "backgrounds=$BACKGROUNDS"
    echo "up_backgrounds=$(uploads && echo "$UP_BACKGROUNDS")"
    if uploads; then
        echo "tus=node $(node --version), @tus/server $(sed -n 's/^ *"version": *"\(.*\)".*/\1/p' \
            "$ROOT/tests/servers/tus-node/node_modules/@tus/server/package.json" | head -n 1) (tests/servers/tus-node)"
    fi
    echo "scenarios=$SCENARIOS"
    echo "alone_rows=$(wanted alone && echo "$ALONE_ROWS")"
    echo "regain_rows=$(wanted regain && echo "$REGAIN_ROWS")"
    echo "alone_s=$ALONE_S"
    echo "regain_alone_s=$REGAIN_ALONE_S"
    echo "regain_user_s=$REGAIN_USER_S"
    echo "regain_max_s=$REGAIN_MAX_S"
    echo "second_pct=$SECOND_PCT"
    echo "cc=$TCP_CC"
    echo "server_timestamps=$SERVER_TIMESTAMPS"
    echo "cc_effective=$CC_EFFECTIVE"
    echo "bottleneck=$BOTTLENECK"
    echo "big_bytes=$BIG_BYTES"
    echo "topology=server ($SRV_IP, nginx) ── veth ── mid (router) ── veth ── client ($CLI_IP); GSO/TSO/GRO off"
    printf '%s\n' "${CAPS[@]}"
} >"$WORK/machine.txt"
mkdir -p "$(dirname "$YIELD_REPORT")"
cp "$RESULTS" "$YIELD_REPORT.tsv"
cp "$WORK/machine.txt" "$YIELD_REPORT.machine.txt"
"$PYTHON" "$HELPER" report --results "$RESULTS" --machine "$WORK/machine.txt" --out "$YIELD_REPORT" ||
    die "the report failed (its inputs: $YIELD_REPORT.tsv, $YIELD_REPORT.machine.txt)"
log "wrote $YIELD_REPORT in $((ELAPSED / 60)) min $((ELAPSED % 60)) s"
