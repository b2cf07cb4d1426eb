#!/bin/bash
# smtp_vs_postfix.sh - SMTP throughput of estafeta side by side with Postfix (Debian),
# same machine, same load generator, same run.
#
# Builds estafeta (make -C <repo>, default flags), starts a private Postfix instance
# (../shared/bench/peers/postfix_instance.sh, port $PF_PORT) and estafeta (port $EST_PORT)
# with an equivalent config (local domain bench.local, Maildir delivery, durable queue),
# then runs ../shared/bench/smtp_bench.py against each, alternating, one run at a time,
# and prints per-run lines, medians and the ratios estafeta/Postfix.
#
# Env (defaults):   SESSIONS=50 COUNT=20000 SIZE=2048 RUNS=3
#                   BENCH_ROOT=/tmp/mbench PF_PORT=2525 EST_PORT=2625 TIMEOUT=300 (s per run, e2e wait)
#                   NOBUILD=1 skips make; QUICK=1 is shorthand for COUNT=2000 RUNS=1;
#                   EST_SYNC=fsync|syncfs adds "sync_method X" to estafeta's config (default: the
#                   binary's own default, printed at start; Postfix fsyncs each file).
# Quick check:      COUNT=2000 RUNS=1 bench/smtp_vs_postfix.sh
# Needs:            postfix (smtp-source), python3; run as root (the Postfix instance needs it).
# Output:           stdout; raw logs under $BENCH_ROOT/results/<timestamp>/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED_REL="$HERE/../../shared/bench"
if [ ! -f "$SHARED_REL/smtp_bench.py" ] || [ ! -x "$SHARED_REL/peers/postfix_instance.sh" ]; then
	echo "smtp_vs_postfix: shared bench scripts not found at $SHARED_REL" >&2
	echo "  (expected ../shared/bench beside the repo with smtp_bench.py, cputree.py, stats.py," >&2
	echo "   peers/postfix_instance.sh)" >&2
	exit 1
fi
SHARED=$(cd "$SHARED_REL" && pwd)

if [ "${QUICK:-0}" = 1 ]; then
	COUNT=${COUNT:-2000}
	RUNS=${RUNS:-1}
fi
SESSIONS=${SESSIONS:-50}
COUNT=${COUNT:-20000}
SIZE=${SIZE:-2048}
RUNS=${RUNS:-3}
TIMEOUT=${TIMEOUT:-300}
export BENCH_ROOT=${BENCH_ROOT:-/tmp/mbench}
export PF_PORT=${PF_PORT:-2525}
EST_PORT=${EST_PORT:-2625}

die() { echo "smtp_vs_postfix: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (the private Postfix instance and run_user need it)"
command -v smtp-source >/dev/null || die "smtp-source missing: apt-get install postfix"
command -v postfix >/dev/null || die "postfix missing: apt-get install postfix"
case "$BENCH_ROOT" in /tmp/?*) ;; *) die "BENCH_ROOT must be under /tmp (got $BENCH_ROOT)";; esac

port_busy() { python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(0 if s.connect_ex(('127.0.0.1',$1))==0 else 1)"; }
port_busy "$PF_PORT" && die "127.0.0.1:$PF_PORT already in use (old Postfix bench instance? '$SHARED/peers/postfix_instance.sh stop')"
port_busy "$EST_PORT" && die "127.0.0.1:$EST_PORT already in use"

# ---------------------------------------------------------------- build
if [ "${NOBUILD:-0}" != 1 ]; then
	echo "== make -C $REPO"
	make -C "$REPO" >/tmp/smtp_vs_postfix.make.log 2>&1 || { tail -30 /tmp/smtp_vs_postfix.make.log; die "build failed"; }
fi
BIN=$REPO/build/estafeta
[ -x "$BIN" ] || die "$BIN missing"

STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_ROOT/results/$STAMP
mkdir -p "$OUT"
echo "== results/logs in $OUT"
echo "   estafeta: $BIN ($(sha256sum "$BIN" | cut -c1-12), $(stat -c %y "$BIN" | cut -d. -f1))"
"$BIN" reference >"$OUT/estafeta_reference.md" 2>&1 || true
echo "   estafeta sync_method default: $(grep -o '^| `sync_method` | `[a-z]*`' "$OUT/estafeta_reference.md" | cut -d'`' -f4 || true)${EST_SYNC:+ (overridden: $EST_SYNC)}"
echo "   postfix:  $(postconf -d -h mail_version 2>/dev/null)   smtp-source: $(command -v smtp-source)"
echo "   machine:  $(nproc) CPUs, $(uname -r), $BENCH_ROOT on $(df --output=source,fstype "$BENCH_ROOT" | tail -1)"
echo "   load:     sessions=$SESSIONS count=$COUNT size=$SIZE runs=$RUNS (1 msg per connection)"

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

# ---------------------------------------------------------------- servers
EST=$BENCH_ROOT/est
EST_PID=
PF_STARTED=0
cleanup() {
	set +e
	if [ -n "$EST_PID" ] && kill -0 "$EST_PID" 2>/dev/null; then
		kill -TERM "$EST_PID"
		for _ in $(seq 50); do kill -0 "$EST_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$EST_PID" 2>/dev/null && { echo "estafeta $EST_PID did not exit on TERM, KILL"; kill -KILL "$EST_PID"; }
		wait "$EST_PID" 2>/dev/null
	fi
	if [ "$PF_STARTED" = 1 ]; then
		"$SHARED/peers/postfix_instance.sh" stop >/dev/null 2>&1
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting Postfix peer on 127.0.0.1:$PF_PORT"
"$SHARED/peers/postfix_instance.sh" start >"$OUT/postfix_start.log" 2>&1 || { cat "$OUT/postfix_start.log"; die "postfix start failed"; }
PF_STARTED=1
for _ in $(seq 100); do port_busy "$PF_PORT" && break; sleep 0.1; done
port_busy "$PF_PORT" || die "Postfix not listening on $PF_PORT"
PF_PID=$("$SHARED/peers/postfix_instance.sh" master-pid)
PF_MAILDIR=$BENCH_ROOT/vmail/bench.local/bench/
PF_LOG=$BENCH_ROOT/postfix/maillog
PF_LOG0=$(lines "$PF_LOG")	# the instance's maillog persists across invocations

echo "== starting estafeta on 127.0.0.1:$EST_PORT"
rm -rf "$EST"
mkdir -p "$EST/mail" "$EST/spool"
printf 'bench:{PLAIN}x::::::\n' >"$EST/users"
cat >"$EST/estafeta.conf" <<CONF
hostname bench.localhost
domains bench.local
networks 127.0.0.0/8
users passwd-file $EST/users
mailbox maildir $EST/mail/%d/%n/Maildir
spool $EST/spool
run_user nobody
listen smtp 127.0.0.1:$EST_PORT
delivery_threads 4
CONF
[ -n "${EST_SYNC:-}" ] && echo "sync_method $EST_SYNC" >>"$EST/estafeta.conf"
cp "$EST/estafeta.conf" "$OUT/estafeta.conf"
chown -R nobody:nogroup "$EST/mail" "$EST/spool" "$EST/users"
EST_LOG=$EST/estafeta.log
"$BIN" serve -c "$EST/estafeta.conf" >"$EST_LOG" 2>&1 &
EST_PID=$!
for _ in $(seq 100); do port_busy "$EST_PORT" && break; kill -0 "$EST_PID" 2>/dev/null || break; sleep 0.1; done
port_busy "$EST_PORT" || { cat "$EST_LOG"; die "estafeta not listening on $EST_PORT"; }
EST_WORKER=$(cat /proc/"$EST_PID"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | tr '\n' ' ' || true)
EST_MAILDIR=$EST/mail/bench.local/bench/Maildir
echo "   postfix master pid=$PF_PID; estafeta parent pid=$EST_PID, children: ${EST_WORKER:-none}"
echo "   estafeta worker threads: $(for w in $EST_WORKER; do ls /proc/"$w"/task | wc -l; done | tr '\n' ' ')"

# ---------------------------------------------------------------- measurement helpers
# user and system CPU seconds (incl. reaped children) of the process tree under $1
cpu_split() {
	python3 - "$1" <<'PY'
import os, sys
hz = os.sysconf("SC_CLK_TCK"); ps = {}
for p in os.listdir("/proc"):
    if not p.isdigit(): continue
    try: s = open(f"/proc/{p}/stat").read()
    except OSError: continue
    r = s[s.rindex(")") + 2:].split(); ps[int(p)] = (int(r[1]), r)
tree = {int(sys.argv[1])} & set(ps); ch = True
while ch:
    ch = False
    for pid, (pp, _) in ps.items():
        if pp in tree and pid not in tree: tree.add(pid); ch = True
u = sum(int(ps[p][1][11]) + int(ps[p][1][13]) for p in tree) / hz
s = sum(int(ps[p][1][12]) + int(ps[p][1][14]) for p in tree) / hz
print(f"{u:.2f} {s:.2f}")
PY
}
mdcount() { find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l; }
others() { sed -E 's/.*server_cpu ([0-9.]+)s.*machine_busy ([0-9.]+)s client_cpu ([0-9.]+)s.*/\2 \1 \3/' <<<"$1" | awk '{printf "%.1f", $1-$2-$3}'; }

RESULTS=$OUT/results.tsv
printf 'target\tround\taccept\te2e\tt_accept\tt_e2e\tserver_cpu\tcpu_user\tcpu_sys\tundelivered\trc\tfiles\tqueued\twarn\terr\treject\n' >"$RESULTS"

run_one() {	# target round
	local t=$1 r=$2 port pid md log
	if [ "$t" = postfix ]; then port=$PF_PORT pid=$PF_PID md=$PF_MAILDIR log=$PF_LOG
	else port=$EST_PORT pid=$EST_PID md=$EST_MAILDIR log=$EST_LOG; fi
	kill -0 "$pid" 2>/dev/null || { echo "!! $t server pid $pid is gone"; return 1; }
	local l0 la0 c0 c1 line
	l0=$(lines "$log")
	la0=$(cut -d' ' -f1-3 /proc/loadavg)
	c0=$(cpu_split "$pid")
	python3 "$SHARED/smtp_bench.py" --host 127.0.0.1 --port "$port" --rcpt bench@bench.local \
		--sessions "$SESSIONS" --count "$COUNT" --size "$SIZE" --runs 1 --timeout "$TIMEOUT" \
		--maildir "$md" --server-pid "$pid" --label "$t" >"$OUT/$t.$r.out" 2>&1 || true
	c1=$(cpu_split "$pid")
	sleep 1
	line=$(grep '^run1 ' "$OUT/$t.$r.out" || true)
	[ -n "$line" ] || { echo "!! $t round $r: smtp_bench produced no result:"; cat "$OUT/$t.$r.out"; return 1; }
	echo "$t round $r: ${line#run1 }"
	echo "    loadavg before: $la0 | after: $(cut -d' ' -f1-3 /proc/loadavg) | CPU not server/client (others + kernel threads): $(others "$line")s"
	local files queued=0 seg warn err rej
	files=$(mdcount "$md")
	if [ "$t" = estafeta ]; then
		queued=$(find "$EST/spool/queue" -type f 2>/dev/null | wc -l)
		seg=$(tail -n +"$((l0 + 1))" "$log")
		warn=$(grep -c ': warning: ' <<<"$seg" || true); err=$(grep -c ': error: ' <<<"$seg" || true)
		rej=$(grep -c ' reject: ' <<<"$seg" || true)
	else
		queued=$(find "$BENCH_ROOT/postfix/spool/"{incoming,active,deferred,maildrop} -type f 2>/dev/null | wc -l)
		seg=$(tail -n +"$((l0 + 1))" "$log")
		warn=$(grep -cE 'warning:' <<<"$seg" || true); err=$(grep -cE '(error|fatal|panic):' <<<"$seg" || true)
		rej=$(grep -c ' reject: ' <<<"$seg" || true)
	fi
	python3 - "$t" "$r" "$line" "$c0" "$c1" "$files" "$queued" "$warn" "$err" "$rej" >>"$RESULTS" <<'PY'
import re, sys
t, r, line, c0, c1, files, queued, warn, err, rej = sys.argv[1:]
g = lambda pat: re.search(pat, line).group(1)
u0, s0 = map(float, c0.split()); u1, s1 = map(float, c1.split())
print("\t".join([t, r, g(r"accept (\d+) msg/s"), g(r"e2e (\d+) msg/s"), g(r"accept \d+ msg/s \(([\d.]+)s\)"),
    g(r"e2e \d+ msg/s \(([\d.]+)s\)"), g(r"server_cpu ([\d.]+)s"), f"{u1-u0:.2f}", f"{s1-s0:.2f}",
    g(r"undelivered=(-?\d+)"), g(r"rc=(-?\d+)"), files, queued, warn, err, rej]))
PY
	echo "    cpu user/sys ${c0} -> ${c1} | maildir files now $files, still queued $queued, log: warning=$warn error=$err reject=$rej"
}

# ---------------------------------------------------------------- runs
echo "== runs (alternating; odd rounds Postfix first, even rounds estafeta first)"
for r in $(seq 1 "$RUNS"); do
	if [ $((r % 2)) = 1 ]; then order="postfix estafeta"; else order="estafeta postfix"; fi
	for t in $order; do run_one "$t" "$r" || true; done
done

# ---------------------------------------------------------------- summary
echo
echo "== summary (sessions=$SESSIONS count=$COUNT size=$SIZE runs=$RUNS)"
python3 - "$RESULTS" "$COUNT" "$SHARED/stats.py" <<'PY'
import csv, statistics, subprocess, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t")); count = int(sys.argv[2]); stats = sys.argv[3]
med = {}
for t in ("postfix", "estafeta"):
    rs = [x for x in rows if x["target"] == t]
    if not rs:
        print(f"{t}: no results"); continue
    for k, f in (("accept", lambda x: float(x["accept"])), ("e2e", lambda x: float(x["e2e"])),
                 ("cpu_ms_per_msg", lambda x: 1000 * float(x["server_cpu"]) / count),
                 ("user_ms_per_msg", lambda x: 1000 * float(x["cpu_user"]) / count),
                 ("sys_ms_per_msg", lambda x: 1000 * float(x["cpu_sys"]) / count)):
        v = [f(x) for x in rs]
        med[(t, k)] = statistics.median(v)
        print(subprocess.run([sys.executable, stats, f"{t:8s} {k:16s}"] + [repr(x) for x in v],
                             capture_output=True, text=True).stdout.rstrip())
    bad = [x for x in rs if x["undelivered"] != "0" or x["rc"] != "0" or x["files"] != str(count) or x["queued"] != "0"]
    print(f"{t:8s} problems: {len(bad)} run(s) with undelivered mail, smtp-source rc!=0, file count!=COUNT or mail left queued; "
          f"server log: warnings={sum(int(x['warn']) for x in rs)} errors={sum(int(x['err']) for x in rs)} "
          f"rejects={sum(int(x['reject']) for x in rs)}")
print()
for k, what in (("accept", "accepted msg/s"), ("e2e", "delivered (e2e) msg/s"),
                ("cpu_ms_per_msg", "server CPU ms/msg"), ("user_ms_per_msg", "  of which user"),
                ("sys_ms_per_msg", "  of which sys")):
    p, e = med.get(("postfix", k)), med.get(("estafeta", k))
    if p is None or e is None: continue
    ratio = f"{e / p:.2f}" if p else "n/a"
    print(f"RATIO estafeta/postfix {what:22s}: {e:9.3f} / {p:9.3f} = {ratio}")
PY
echo
echo "== estafeta log: $(lines "$EST_LOG") lines; warnings/errors (distinct, up to 15):"
grep -E ': (warning|error): ' "$EST_LOG" | sed -E 's/^[^ ]+ [^ ]+ //; s/[0-9A-Za-z]{16}/ID/g; s/[0-9]+/N/g' \
	| sort | uniq -c | sort -rn | head -15 || true
echo "== postfix maillog warnings/errors (distinct, up to 10):"
tail -n +"$((PF_LOG0 + 1))" "$PF_LOG" 2>/dev/null | grep -E '(warning|error|fatal|panic):'  | sed -E 's/^[^ ]+ [^ ]+ //; s/[0-9]+/N/g' \
	| sort | uniq -c | sort -rn | head -10 || true
kill -0 "$EST_PID" 2>/dev/null && echo "estafeta still running at end (pid $EST_PID, tree: $(python3 "$SHARED/cputree.py" "$EST_PID"))" \
	|| echo "!! estafeta exited during the benchmark"
echo "== raw: $RESULTS"
