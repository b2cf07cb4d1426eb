#!/bin/bash
# submission_vs_postfix.sh - authenticated submission (port 587 style) of estafeta side by side
# with Postfix + Dovecot SASL (Debian's), same machine, same load generator, same run.
#
# Each session: connect, EHLO, STARTTLS (full handshake, no resumption), EHLO, AUTH PLAIN with
# an initial response, MAIL, RCPT, DATA (SIZE bytes), QUIT. bench/submission_load.c (C, OpenSSL,
# one epoll loop; see there why not Python) keeps CONC sessions going until COUNT are done and
# prints sessions/s; the server's process-tree CPU (and the client's own) is measured around it.
# Memory: the same client opens IDLE1, then IDLE2 authenticated idle TLS sessions and the
# script reads PSS/RSS of the server's process tree (../shared/bench/cputree.py) at 0, IDLE1
# and IDLE2 sessions; per connection = (IDLE2 - IDLE1) / (IDLE2 - IDLE1 sessions), taken on
# freshly restarted servers so memory freed by earlier rounds does not hide the growth.
#
# Peer (configured as in the seed documents: submission with smtpd_tls_security_level=encrypt,
# smtpd_sasl_type=dovecot, smtpd_sasl_path=private/auth, Dovecot auth_mechanisms plain login
# and its unix_listener in Postfix's private/ mode 0666 user postfix): the private Postfix
# instance of ../shared/bench/peers/postfix_instance.sh (virtual(8) Maildir delivery) plus a
# submission service on 127.0.0.1:$PF_SUB_PORT, and a private Dovecot (auth service only,
# passwd-file passdb) under $BENCH_ROOT/dovecot. estafeta: `listen submission
# 127.0.0.1:$EST_PORT`, passwd-file user, Maildir delivery. Both get the same RSA-2048
# self-signed certificate and the same {SHA512-CRYPT} hash of the bench user's password.
#
# Env (defaults):   CONC=50 COUNT=3000 SIZE=2048 RUNS=3 IDLE1=50 IDLE2=350 WARMUP=300 (sessions
#                   to each server before the measured rounds)
#                   BENCH_ROOT=/tmp/subbench PF_PORT=2725 (the instance's port 25 stand-in)
#                   PF_SUB_PORT=2787 EST_PORT=2887 DRAIN_TIMEOUT=300 (s to wait for delivery)
#                   PF_DELIVERY=virtual|discard (Postfix delivers to Maildir with virtual(8),
#                   as estafeta does, or discards after queueing); NOBUILD=1 skips make;
#                   QUICK=1 is shorthand for COUNT=500 RUNS=1 IDLE2=150 WARMUP=100;
#                   PEER_AUTH_CACHE=1 turns Dovecot's auth cache on (auth_cache_size 10M, ttl 1 hour;
#                   off by default, as in the seeds); EST_CONF_EXTRA adds lines to estafeta's
#                   config, e.g. EST_CONF_EXTRA="auth_cache_ttl 0" (its login cache off).
# Quick check:      QUICK=1 bench/submission_vs_postfix.sh
# Needs:            root; postfix (apt-get install postfix, see tools/deps.sh); dovecot-core
#                   (installed here when missing, with no service started); cc, libssl-dev.
# Output:           stdout; raw logs under $BENCH_ROOT/results/<timestamp>/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED_REL="$HERE/../../shared/bench"
if [ ! -f "$SHARED_REL/cputree.py" ] || [ ! -x "$SHARED_REL/peers/postfix_instance.sh" ]; then
	echo "submission_vs_postfix: shared bench scripts not found at $SHARED_REL" >&2
	exit 1
fi
SHARED=$(cd "$SHARED_REL" && pwd)

if [ "${QUICK:-0}" = 1 ]; then
	COUNT=${COUNT:-500}
	RUNS=${RUNS:-1}
	IDLE2=${IDLE2:-150}
	WARMUP=${WARMUP:-100}
fi
CONC=${CONC:-50}
COUNT=${COUNT:-3000}
SIZE=${SIZE:-2048}
RUNS=${RUNS:-3}
IDLE1=${IDLE1:-50}
IDLE2=${IDLE2:-350}
WARMUP=${WARMUP:-300}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
PF_DELIVERY=${PF_DELIVERY:-virtual}
PEER_AUTH_CACHE=${PEER_AUTH_CACHE:-0}
EST_CONF_EXTRA=${EST_CONF_EXTRA:-}
export BENCH_ROOT=${BENCH_ROOT:-/tmp/subbench}
export PF_PORT=${PF_PORT:-2725}
PF_SUB_PORT=${PF_SUB_PORT:-2787}
EST_PORT=${EST_PORT:-2887}
BENCH_USER=bench
BENCH_PASS=${BENCH_PASS:-bench-Passw0rd}
RCPT=bench@bench.local

die() { echo "submission_vs_postfix: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (the private Postfix and Dovecot instances need it)"
command -v postfix >/dev/null || die "postfix missing: apt-get install postfix (or tools/deps.sh)"
case "$BENCH_ROOT" in /tmp/?*) ;; *) die "BENCH_ROOT must be under /tmp (got $BENCH_ROOT)";; esac
case "$PF_DELIVERY" in virtual|discard) ;; *) die "PF_DELIVERY must be virtual or discard";; esac
[ "$IDLE2" -gt "$IDLE1" ] || die "IDLE2 must be larger than IDLE1"

port_busy() { python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(0 if s.connect_ex(('127.0.0.1',$1))==0 else 1)"; }
for p in "$PF_PORT" "$PF_SUB_PORT" "$EST_PORT"; do
	port_busy "$p" && die "127.0.0.1:$p already in use (an old instance? '$SHARED/peers/postfix_instance.sh stop' with BENCH_ROOT=$BENCH_ROOT)"
done

# ---------------------------------------------------------------- dovecot-core
# Dovecot master processes that are not ours (ours run with -c $BENCH_ROOT/dovecot/...).
foreign_dovecots() {
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = dovecot ] || continue
		tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF "$BENCH_ROOT/dovecot/" && continue
		printf '%s ' "${d#/proc/}"
	done
}
if ! command -v dovecot >/dev/null; then
	echo "== installing dovecot-core (no service is started)"
	before=$(foreign_dovecots)
	made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	rc=0
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends dovecot-core; } \
		>/tmp/submission_vs_postfix.apt.log 2>&1 || rc=$?
	[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	[ "$rc" = 0 ] || { tail -20 /tmp/submission_vs_postfix.apt.log; die "apt-get install dovecot-core failed"; }
	for pid in $(foreign_dovecots); do
		case " $before " in *" $pid "*) continue ;; esac
		echo "   the install started a system dovecot (pid $pid): stopping it"
		kill -TERM "$pid" 2>/dev/null || true
	done
fi
command -v dovecot >/dev/null || die "dovecot missing after the install"

# ---------------------------------------------------------------- build
if [ "${NOBUILD:-0}" != 1 ]; then
	echo "== make -C $REPO"
	make -C "$REPO" >/tmp/submission_vs_postfix.make.log 2>&1 || { tail -30 /tmp/submission_vs_postfix.make.log; die "build failed"; }
fi
BIN=$REPO/build/estafeta
[ -x "$BIN" ] || die "$BIN missing"
mkdir -p "$BENCH_ROOT"
LOADGEN=$BENCH_ROOT/submission_load
cc -O2 -Wall -o "$LOADGEN" "$HERE/submission_load.c" -lssl -lcrypto -lpthread \
	|| die "cannot build bench/submission_load.c (needs cc and libssl-dev)"

STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_ROOT/results/$STAMP
mkdir -p "$OUT"

# ---------------------------------------------------------------- shared material
TLS=$BENCH_ROOT/tls
if [ ! -s "$TLS/cert.pem" ] || [ ! -s "$TLS/key.pem" ]; then
	mkdir -p "$TLS"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS/key.pem" -out "$TLS/cert.pem" \
		-days 365 -subj "/CN=bench.localhost" -addext "subjectAltName=DNS:bench.localhost" \
		>/dev/null 2>&1 || die "openssl req failed"
	chmod 600 "$TLS/key.pem"
fi
HASH=$(openssl passwd -6 "$BENCH_PASS")

echo "== results/logs in $OUT"
echo "   estafeta: $BIN ($(sha256sum "$BIN" | cut -c1-12), $(stat -c %y "$BIN" | cut -d. -f1))"
echo "   postfix:  $(postconf -d -h mail_version 2>/dev/null)   dovecot: $(dovecot --version)   openssl: $(openssl version | cut -d' ' -f2)"
echo "   machine:  $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   load:     conc=$CONC count=$COUNT size=$SIZE runs=$RUNS warmup=$WARMUP idle=$IDLE1->$IDLE2; certificate RSA-2048 self-signed (both); password {SHA512-CRYPT} (same hash, both)"
est_cache=$("$BIN" reference 2>/dev/null | grep -o '^| `auth_cache_ttl` | `[^`]*`' | cut -d'`' -f4 || true)
ov=$(sed -n 's/^auth_cache_ttl[ \t]*//p' <<<"$EST_CONF_EXTRA" | tail -1)
echo "   auth caches: estafeta auth_cache_ttl ${ov:-${est_cache:-(no such setting)}}${ov:+ (EST_CONF_EXTRA; default ${est_cache:-none})}; Dovecot auth cache $([ "$PEER_AUTH_CACHE" = 1 ] && echo "on (auth_cache_size 10M, auth_cache_ttl 1 hour)" || echo "off (its default, as in the seeds)")"
echo "   peer delivery: $([ "$PF_DELIVERY" = virtual ] && echo "Postfix delivers to Maildir with virtual(8) ($BENCH_ROOT/vmail/bench.local/bench/)" || echo "Postfix queues durably, then the discard(8) transport drops the message"); estafeta delivers to Maildir"

# ---------------------------------------------------------------- peer: Postfix + Dovecot
CF=$BENCH_ROOT/postfix/etc
SP=$BENCH_ROOT/postfix/spool
D=$BENCH_ROOT/dovecot
PF_MAILDIR=$BENCH_ROOT/vmail/bench.local/bench
PF_STARTED=0
DC_STARTED=0
EST_PID=

pf_master() { head -1 "$SP/pid/master.pid" 2>/dev/null | tr -d ' '; }
dc_master() { cat "$D/run/master.pid" 2>/dev/null; }
wait_gone() {	# pid seconds
	local i
	for i in $(seq $(($2 * 10))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

configure_peer() {
	"$SHARED/peers/postfix_instance.sh" start >"$OUT/postfix_start.log" 2>&1 \
		|| { cat "$OUT/postfix_start.log"; die "postfix start failed"; }
	PF_STARTED=1
	postconf -c "$CF" -e \
		"smtpd_tls_cert_file = $TLS/cert.pem" \
		"smtpd_tls_key_file = $TLS/key.pem" \
		"smtpd_sasl_type = dovecot" \
		"smtpd_sasl_path = private/auth" \
		"smtpd_sasl_security_options = noanonymous" \
		"smtpd_sasl_local_domain = \$myhostname" \
		"smtpd_recipient_restrictions = permit_sasl_authenticated, reject_unauth_destination" \
		"alias_maps =" "alias_database ="	# no /etc/aliases.db here: an error per smtpd otherwise
	if [ "$PF_DELIVERY" = discard ]; then
		postconf -c "$CF" -e "transport_maps = inline:{ bench.local=discard:bench }"
	fi
	cat >>"$CF/master.cf" <<CONF
127.0.0.1:$PF_SUB_PORT inet n - n - 1000 smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
CONF
	postfix -c "$CF" check >"$OUT/postfix_check.log" 2>&1 || { cat "$OUT/postfix_check.log"; die "postfix check failed"; }

	mkdir -p "$D/run" "$D/state"
	printf '%s:{SHA512-CRYPT}%s::::::\n' "$BENCH_USER" "$HASH" >"$D/users"
	chmod 644 "$D/users"
	cat >"$D/dovecot.conf" <<CONF
# private Dovecot for submission_vs_postfix.sh: the auth service only (Postfix SASL)
instance_name = dovecot-subbench
base_dir = $D/run
state_dir = $D/state
protocols =
listen = 127.0.0.1
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
ssl = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = $D/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$BENCH_ROOT/vmail/bench.local/%u
}
$([ "$PEER_AUTH_CACHE" = 1 ] && printf 'auth_cache_size = 10M\nauth_cache_ttl = 1 hour\n')
service auth {
  unix_listener $SP/private/auth {
    mode = 0666
    user = postfix
    group = postfix
  }
  client_limit = 2000
}
service anvil {
  client_limit = 2000
}
CONF
	start_peer_daemons
}

start_peer_daemons() {
	if ! kill -0 "$(pf_master)" 2>/dev/null; then
		postfix -c "$CF" start >>"$OUT/postfix_start.log" 2>&1 || { cat "$OUT/postfix_start.log"; die "postfix start failed"; }
		PF_STARTED=1
	else
		postfix -c "$CF" reload >>"$OUT/postfix_start.log" 2>&1
	fi
	dovecot -c "$D/dovecot.conf" >"$OUT/dovecot_start.log" 2>&1 || { cat "$OUT/dovecot_start.log"; tail "$D/dovecot.log" 2>/dev/null; die "dovecot start failed"; }
	DC_STARTED=1
	local i
	for i in $(seq 100); do
		port_busy "$PF_SUB_PORT" && [ -S "$SP/private/auth" ] && break
		sleep 0.1
	done
	port_busy "$PF_SUB_PORT" || die "Postfix submission not listening on $PF_SUB_PORT"
	[ -S "$SP/private/auth" ] || { tail "$D/dovecot.log"; die "no Dovecot auth socket $SP/private/auth"; }
	PF_PID=$(pf_master)
	DC_PID=$(dc_master)
}

stop_peer_daemons() {
	local pid
	pid=$(dc_master)
	if [ "$DC_STARTED" = 1 ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait_gone "$pid" 15 || echo "!! dovecot master $pid did not exit"
	fi
	DC_STARTED=0
	pid=$(pf_master)
	if [ "$PF_STARTED" = 1 ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		postfix -c "$CF" stop >/dev/null 2>&1 || true
		wait_gone "$pid" 30 || echo "!! postfix master $pid did not exit"
	fi
	PF_STARTED=0
}

# ---------------------------------------------------------------- estafeta
EST=$BENCH_ROOT/est
EST_MAILDIR=$EST/mail/bench.local/bench/Maildir
EST_LOG=$EST/estafeta.log

configure_estafeta() {
	rm -rf "$EST"
	mkdir -p "$EST/mail" "$EST/spool"
	printf '%s:{SHA512-CRYPT}%s::::::\n' "$BENCH_USER" "$HASH" >"$EST/users"
	cat >"$EST/estafeta.conf" <<CONF
hostname bench.localhost
domains bench.local
networks 127.0.0.0/8
users passwd-file $EST/users
mailbox maildir $EST/mail/%d/%n/Maildir
spool $EST/spool
run_user nobody
listen submission 127.0.0.1:$EST_PORT
tls_cert $TLS/cert.pem
tls_key $TLS/key.pem
max_connections 2000
max_connections_per_ip 2000
CONF
	[ -n "$EST_CONF_EXTRA" ] && printf '%s\n' "$EST_CONF_EXTRA" >>"$EST/estafeta.conf"
	cp "$EST/estafeta.conf" "$OUT/estafeta.conf"
	chown -R nobody:nogroup "$EST/mail" "$EST/spool"
	chmod 644 "$EST/users"
}

start_estafeta() {
	"$BIN" serve -c "$EST/estafeta.conf" >>"$EST_LOG" 2>&1 &
	EST_PID=$!
	local i
	for i in $(seq 100); do
		port_busy "$EST_PORT" && grep -q "auth service started" "$EST_LOG" && break
		kill -0 "$EST_PID" 2>/dev/null || break
		sleep 0.1
	done
	port_busy "$EST_PORT" || { tail -20 "$EST_LOG"; die "estafeta not listening on $EST_PORT"; }
}

stop_estafeta() {
	if [ -n "$EST_PID" ] && kill -0 "$EST_PID" 2>/dev/null; then
		kill -TERM "$EST_PID"
		if ! wait_gone "$EST_PID" 10; then
			echo "!! estafeta $EST_PID did not exit 10 s after TERM; KILL to its process group"
			kill -KILL -- "-$(ps -o pgid= "$EST_PID" | tr -d ' ')" 2>/dev/null || kill -KILL "$EST_PID"
		fi
		wait "$EST_PID" 2>/dev/null || true
	fi
	EST_PID=
}

CLIENT_PID=
cleanup() {
	set +e
	[ -n "$CLIENT_PID" ] && kill -TERM "$CLIENT_PID" 2>/dev/null
	stop_estafeta
	stop_peer_daemons
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# estafeta runs in its own process group (setsid would fork; job control gives one)
set -m
echo "== starting Postfix (submission 127.0.0.1:$PF_SUB_PORT) + Dovecot auth, and estafeta (127.0.0.1:$EST_PORT)"
rm -rf "$PF_MAILDIR"
rm -f "$BENCH_ROOT/postfix/maillog"	# the instance's log persists across invocations
configure_peer
configure_estafeta
start_estafeta
set +m
echo "   postfix master pid=$PF_PID, dovecot master pid=$DC_PID, estafeta parent pid=$EST_PID"

server_pids() { if [ "$1" = postfix ]; then echo "$PF_PID $DC_PID"; else echo "$EST_PID"; fi; }
port_of() { if [ "$1" = postfix ]; then echo "$PF_SUB_PORT"; else echo "$EST_PORT"; fi; }
maildir_of() { if [ "$1" = postfix ]; then echo "$PF_MAILDIR"; else echo "$EST_MAILDIR"; fi; }
mdcount() { find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l; }
queued() {
	if [ "$1" = postfix ]; then
		find "$SP/incoming" "$SP/active" "$SP/deferred" "$SP/maildrop" -type f 2>/dev/null | wc -l
	else
		find "$EST/spool/queue" -type f 2>/dev/null | wc -l
	fi
}
delivered() {	# target: messages that reached the mailbox (or were discarded)
	if [ "$1" = postfix ] && [ "$PF_DELIVERY" = discard ]; then
		grep -c 'status=sent (bench)' "$BENCH_ROOT/postfix/maillog" 2>/dev/null || true
	else
		mdcount "$(maildir_of "$1")"
	fi
}

# ---------------------------------------------------------------- check, then warm up
EXPECT_est=0
EXPECT_pf=0
drain() {	# target expected-total: wait until delivered and nothing queued
	local _
	for _ in $(seq $((DRAIN_TIMEOUT * 5))); do
		[ "$(delivered "$1")" -ge "$2" ] && [ "$(queued "$1")" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}
for t in estafeta postfix; do
	r=$("$LOADGEN" load 127.0.0.1 "$(port_of $t)" "$BENCH_USER" "$BENCH_PASS" "$RCPT" 1 1 "$SIZE" 2>&1) \
		|| die "$t: a single session failed: $r"
	echo "   $t: one session ok (${r#*tls=})"
	if [ "$WARMUP" -gt 0 ]; then	# not measured: Postfix starts its smtpd processes, caches fill
		r=$("$LOADGEN" load 127.0.0.1 "$(port_of $t)" "$BENCH_USER" "$BENCH_PASS" "$RCPT" \
			"$CONC" "$WARMUP" "$SIZE" 2>&1 | grep '^result ' || true)
		echo "   $t: warm-up ${r#result }" | cut -c1-120
	else
		r="ok=0"
	fi
	n=$(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$r")
	if [ "$t" = postfix ]; then EXPECT_pf=$((1 + n)); else EXPECT_est=$((1 + n)); fi
done
drain estafeta "$EXPECT_est" || echo "!! estafeta: warm-up mail not delivered"
drain postfix "$EXPECT_pf" || echo "!! postfix: warm-up mail not delivered"

# ---------------------------------------------------------------- throughput rounds
RESULTS=$OUT/results.tsv
printf 'kind\ttarget\tround\trate\telapsed\tok\tfail\tserver_cpu\tclient_cpu\tp50\tp99\tdrain_s\tdelivered\tnprocs\textra\n' >"$RESULTS"

# CPU seconds by process name in the trees under PIDs ("reaped by X": children that exited)
cpu_by_name() {
	python3 - "$@" <<'PY'
import json, os, sys
hz = os.sysconf("SC_CLK_TCK"); ps = {}
for p in os.listdir("/proc"):
    if not p.isdigit(): continue
    try: s = open(f"/proc/{p}/stat").read()
    except OSError: continue
    r = s[s.rindex(")") + 2:].split(); ps[int(p)] = (int(r[1]), s[s.index("(") + 1:s.rindex(")")], r)
tree = {int(x) for x in sys.argv[1:]} & set(ps); ch = True
while ch:
    ch = False
    for pid, (pp, _, _) in ps.items():
        if pp in tree and pid not in tree: tree.add(pid); ch = True
out = {}
for p in tree:
    _, comm, r = ps[p]
    out[comm] = out.get(comm, 0) + (int(r[11]) + int(r[12])) / hz
    out["reaped by " + comm] = out.get("reaped by " + comm, 0) + (int(r[13]) + int(r[14])) / hz
print(json.dumps(out))
PY
}
cpu_by_name_delta() {	# before-json after-json -> "name s, name s, ..." (largest first)
	python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
d = sorted(((b[k] - a.get(k, 0), k) for k in b), reverse=True)
print(", ".join(f"{k} {v:.2f}" for v, k in d[:7] if v >= 0.05))' "$1" "$2"
}

run_load() {	# target round
	local t=$1 r=$2 pids c0 c1 line n0
	pids=$(server_pids "$t")
	n0=$(cpu_by_name $pids)
	c0=$(python3 "$SHARED/cputree.py" $pids | cut -d' ' -f1)
	line=$("$LOADGEN" load 127.0.0.1 "$(port_of "$t")" "$BENCH_USER" "$BENCH_PASS" "$RCPT" \
		"$CONC" "$COUNT" "$SIZE" 2>&1 | tee "$OUT/$t.load.$r.out" | grep '^result ' || true)
	c1=$(python3 "$SHARED/cputree.py" $pids)
	local byname
	byname=$(cpu_by_name_delta "$n0" "$(cpu_by_name $pids)")
	[ -n "$line" ] || { echo "!! $t round $r: no result: $(tail -3 "$OUT/$t.load.$r.out")"; return 1; }
	# wait until the round's mail is delivered, so the next round starts on an idle machine
	local want ok t0 drain_s n
	ok=$(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$line")
	if [ "$t" = postfix ]; then EXPECT_pf=$((EXPECT_pf + ok)); want=$EXPECT_pf; else EXPECT_est=$((EXPECT_est + ok)); want=$EXPECT_est; fi
	t0=$(date +%s.%N)
	drain "$t" "$want" || true
	drain_s=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
	n=$(delivered "$t")
	echo "$t round $r: ${line#result } | server_cpu $(python3 -c "print(f'{${c1%% *} - $c0:.2f}')")s | delivered $n/$want (+${drain_s}s after the last session), still queued $(queued "$t")"
	echo "    server CPU s by process: $byname"
	python3 - "$t" "$r" "$line" "$c0" "$c1" "$drain_s" "$n" "$want" >>"$RESULTS" <<'PY'
import re, sys
t, r, line, c0, c1, drain, n, want = sys.argv[1:]
g = lambda k: re.search(k + r"=([-\d.]+)", line).group(1)
cpu1, _, _, nprocs = c1.split()
print("\t".join(["load", t, r, g("rate"), g("elapsed"), g("ok"), g("fail"), f"{float(cpu1) - float(c0):.2f}",
                 g("client_cpu"), g("lat_p50_ms"), g("lat_p99_ms"), drain, n, nprocs, str(int(want) - int(n))]))
PY
}

echo "== throughput: $COUNT sessions, $CONC concurrent, alternating (odd rounds Postfix first)"
for r in $(seq 1 "$RUNS"); do
	if [ $((r % 2)) = 1 ]; then order="postfix estafeta"; else order="estafeta postfix"; fi
	for t in $order; do run_load "$t" "$r" || true; done
done

# ---------------------------------------------------------------- memory rounds
mem_of() { python3 "$SHARED/cputree.py" $(server_pids "$1"); }	# cpu rss pss nprocs

restart() {
	set -m
	if [ "$1" = postfix ]; then
		stop_peer_daemons
		start_peer_daemons
	else
		stop_estafeta
		start_estafeta
	fi
	set +m
	sleep 1
}

run_idle() {	# target round
	local t=$1 r=$2 m0 m1 m2 f l
	restart "$t"
	m0=$(mem_of "$t")
	f=$OUT/$t.idle.$r.out
	: >"$f"
	"$LOADGEN" idle 127.0.0.1 "$(port_of "$t")" "$BENCH_USER" "$BENCH_PASS" "$IDLE1" "$IDLE2" >"$f" 2>&1 &
	CLIENT_PID=$!
	for _ in $(seq 600); do grep -q "^ready $IDLE1 " "$f" && break; kill -0 "$CLIENT_PID" 2>/dev/null || break; sleep 0.1; done
	sleep 1
	m1=$(mem_of "$t")
	kill -USR1 "$CLIENT_PID" 2>/dev/null
	for _ in $(seq 1200); do grep -q "^ready $IDLE2 " "$f" && break; kill -0 "$CLIENT_PID" 2>/dev/null || break; sleep 0.1; done
	sleep 1
	m2=$(mem_of "$t")
	kill -USR1 "$CLIENT_PID" 2>/dev/null
	wait "$CLIENT_PID" 2>/dev/null || true
	CLIENT_PID=
	l=$(grep '^ready' "$f" | tail -1)
	echo "$t idle round $r: $l | tree rss/pss/procs: 0: $(cut -d' ' -f2-4 <<<"$m0") | $IDLE1: $(cut -d' ' -f2-4 <<<"$m1") | $IDLE2: $(cut -d' ' -f2-4 <<<"$m2")"
	python3 - "$t" "$r" "$m0" "$m1" "$m2" "$IDLE1" "$IDLE2" "$l" >>"$RESULTS" <<'PY'
import re, sys
t, r, m0, m1, m2, n1, n2, l = sys.argv[1:]
n1, n2 = int(n1), int(n2)
_, r0, p0, _ = m0.split(); _, r1, p1, _ = m1.split(); _, r2, p2, np2 = m2.split()
fail = re.search(r"fail=(\d+)", l).group(1) if "fail=" in l else "?"
pss = (int(p2) - int(p1)) / (n2 - n1); rss = (int(r2) - int(r1)) / (n2 - n1)
pss_all = (int(p2) - int(p0)) / n2
print("\t".join(["idle", t, r, f"{pss:.1f}", f"{rss:.1f}", "", "", "", "", "", "", "", "", np2,
                 f"{fail} {pss_all:.1f}"]))
PY
	echo "    per connection ($IDLE1 -> $IDLE2): $(tail -1 "$RESULTS" | cut -f4) KiB PSS, $(tail -1 "$RESULTS" | cut -f5) KiB RSS; all-in (0 -> $IDLE2): $(tail -1 "$RESULTS" | cut -f15 | cut -d' ' -f2) KiB PSS"
}

echo "== memory: $IDLE1 then $IDLE2 idle authenticated TLS sessions, servers restarted before each round"
for r in $(seq 1 "$RUNS"); do
	if [ $((r % 2)) = 1 ]; then order="estafeta postfix"; else order="postfix estafeta"; fi
	for t in $order; do run_idle "$t" "$r" || true; done
done

# ---------------------------------------------------------------- summary
echo
echo "== summary (conc=$CONC count=$COUNT size=$SIZE runs=$RUNS idle=$IDLE1->$IDLE2; peer = Postfix + Dovecot, $PF_DELIVERY delivery)"
python3 - "$RESULTS" "$COUNT" "$SHARED/stats.py" <<'PY'
import csv, statistics, subprocess, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t")); count = int(sys.argv[2]); stats = sys.argv[3]
med = {}
def show(label, vals):
    print(subprocess.run([sys.executable, stats, label] + [repr(v) for v in vals],
                         capture_output=True, text=True).stdout.rstrip())
for t in ("postfix", "estafeta"):
    ld = [x for x in rows if x["kind"] == "load" and x["target"] == t]
    im = [x for x in rows if x["kind"] == "idle" and x["target"] == t]
    for k, f, rs in (("sessions_per_s", lambda x: float(x["rate"]), ld),
                     ("server_cpu_ms", lambda x: 1000 * float(x["server_cpu"]) / int(x["ok"] or 1), ld),
                     ("client_cpu_ms", lambda x: 1000 * float(x["client_cpu"]) / int(x["ok"] or 1), ld),
                     ("latency_p50_ms", lambda x: float(x["p50"]), ld),
                     ("latency_p99_ms", lambda x: float(x["p99"]), ld),
                     ("idle_pss_kib", lambda x: float(x["rate"]), im),
                     ("idle_rss_kib", lambda x: float(x["elapsed"]), im)):
        if not rs:
            continue
        v = [f(x) for x in rs]
        med[(t, k)] = statistics.median(v)
        show(f"{t:8s} {k:15s}", v)
    bad = [x for x in ld if x["fail"] != "0" or x["extra"] != "0"]
    badi = [x for x in im if not x["extra"].startswith("0 ")]
    print(f"{t:8s} problems: {len(bad)} load round(s) with failed sessions or undelivered mail, "
          f"{len(badi)} idle round(s) with failed sessions")
print()
for k, what, goal in (("sessions_per_s", "sessions/s", "goal >= 2"), ("server_cpu_ms", "server CPU ms/session", ""),
                      ("client_cpu_ms", "client CPU ms/session", ""),
                      ("idle_pss_kib", "PSS KiB per idle TLS conn", "goal <= 0.2"),
                      ("idle_rss_kib", "RSS KiB per idle TLS conn", "")):
    p, e = med.get(("postfix", k)), med.get(("estafeta", k))
    if p is None or e is None:
        continue
    ratio = f"{e / p:.2f}" if p else "n/a"
    print(f"RATIO estafeta/postfix {what:26s}: {e:9.2f} / {p:9.2f} = {ratio} {goal}")
PY
echo
echo "== estafeta log: warnings/errors (distinct, up to 10):"
grep -E ': (warning|error): ' "$EST_LOG" | sed -E 's/^[^ ]+ [^ ]+ //; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -10 || true
echo "== postfix maillog warnings/errors (distinct, up to 10):"
grep -E '(warning|error|fatal|panic):' "$BENCH_ROOT/postfix/maillog" 2>/dev/null | sed -E 's/^[^ ]+ +[^ ]+ [^ ]+ [^ ]+ //; s/[0-9]+/N/g' \
	| sort | uniq -c | sort -rn | head -10 || true
echo "== dovecot log errors (distinct, up to 5):"
grep -iE 'error|fatal|panic' "$D/dovecot.log" 2>/dev/null | sed -E 's/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -5 || true
echo "== raw: $RESULTS"
