#!/bin/bash
# imap_vs_dovecot.sh - IMAP and POP3 of estafeta side by side with Dovecot 2.3 (Debian's),
# same machine, same clients (../shared/bench/), same Maildirs, same run.
#
# Both servers get their own copy of the same generated Maildirs (../shared/bench/gen_maildir.py,
# deterministic, ~3,000-byte messages, "S=" in the names), the same users (passwd-file, the same
# {SHA512-CRYPT} hash for every user) and run as nobody on loopback ports. Dovecot is a private
# instance equivalent to ../shared/bench/peers/dovecot_instance.sh (its config, with the ports, the
# users file and the process/client limits below adapted; Maildir with Dovecot's INDEX files in
# the Maildir itself, as by default); estafeta is `build/estafeta serve -c CONF` with `listen imap`,
# `listen pop3` and `mailbox maildir DIR/%n/Maildir`. Rounds alternate (odd rounds estafeta first).
#
#  1. ../shared/bench/imap_fetchall.py: LOGIN, SELECT INBOX, UID FETCH 1:* (UID FLAGS RFC822.SIZE
#     ENVELOPE) on MSGS messages (seen, in cur/), one run per invocation:
#     warm     - WARM_RUNS (2) unmeasured runs per server (Dovecot's first two runs on a mailbox are
#                both slow: it adds fields to dovecot.index.cache as clients ask for them), then
#                RUNS measured runs;
#     rebuilt  - before each run Dovecot's index files go (dovecot.index*, dovecot.list.index*; the
#                dovecot-uidlist stays), estafeta is stopped, its estafeta.index* go (its
#                dovecot-uidlist stays too) and it is started again; page cache kept;
#     first    - a fresh copy of the Maildir with every message in new/ and no dovecot-uidlist,
#                under a new user for every run (first1, first2, ...), servers not restarted.
#     BIG=1 repeats the three for BIG_MSGS messages (BIG_RUNS runs each).
#  2. ../shared/bench/imap_idle_mem.py: N concurrent LOGIN+SELECT+IDLE sessions (50 at a time,
#     users itest1..itest100 with 100 messages each, all selected once before) on a freshly
#     restarted server, held HOLD s: PSS (and RSS) per connection of the server's process tree,
#     and sessions/s of the set-up; then the same N sessions from bench/imap_idle_load.c (C, one
#     epoll loop, 50 at a time) on a restarted server for the set-up rate: the Python client
#     needs about as much CPU per session as estafeta (it shows in its client CPU line).
#  3. ../shared/bench/pop3_bench.py: USER/PASS, STAT, RETR of every one of the MSGS messages
#     (one unmeasured run per server, then RUNS measured runs), then the same with
#     bench/pop3_load.c (C: 11-16 us of its own CPU per message against 21-23 us for the
#     Python client, which is as much as a server's work). Each round also runs the same
#     client against bench/pop3_floor.c, a responder that reads no mail and answers RETR with a
#     fixed message of the mean size (one blocking read, one write per command): the cost of
#     the client's round trips on this machine, printed under the table. (A server still busy
#     when the next command comes, e.g. reading the next message ahead, can come in below it:
#     waking a sleeping process costs more on this VM than the responder's work.)
#  4. mixed: bench/imap_mixed_load.c (C, one epoll loop, its mix in its header: SELECT, UID FETCH
#     of the newest ~20 ENVELOPEs, FETCH of 10 headers, a whole message, UID SEARCH, UID STORE
#     \Seen/\Flagged, APPEND of 2-3 KB, UID STORE \Deleted + UID EXPUNGE of its own appended
#     messages, LOGOUT + LOGIN every 40-60 operations), one command in flight per connection, for
#     MIXED_SECS s with each CLIENTS of MIXED_CLIENTS; client i logs in as mix<i % MIXED_USERS + 1>
#     (MIXED_MSGS messages each). The mix boxes are copied once and prepared on each server (two
#     passes of SELECT, UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE) and three UID SEARCHes: UIDs
#     assigned, Dovecot's index and cache files made), then kept as that server's snapshot; before
#     every run the server is stopped, its mix boxes replaced by its snapshot, the server started
#     and one unmeasured warm-up pass made (SELECT, the UID FETCH 1:* and a UID SEARCH FROM per box;
#     each server keeps its index files from the snapshot). Rounds interleaved (odd rounds estafeta first);
#     round r uses PRNG seed r on both servers. Recorded: operations/s (tagged OKs in the
#     MIXED_SECS), protocol errors (tagged NO/BAD, untagged BAD, disconnects, parse failures,
#     10 s timeouts; any is a problem), latency p50/p99, server-tree CPU and the client's own CPU.
# For every client run the client's own CPU (bench/client_cpu.py: from its connect() on, kernel
# time included; the C client measures its own) and the server process tree's CPU
# (../shared/bench/cputree.py: Dovecot's master with all its children, estafeta's parent with
# its worker and auth service) are recorded, so a client-bound run shows.
#
# Env (defaults):   MSGS=10000 RUNS=5 WARM_RUNS=2 N=1000 IDLE_RUNS=2 HOLD=10 (s the idle sessions
#                   are held). Dovecot sets up 10-25 sessions/s here, so each of its idle rounds
#                   takes 1.5-3 minutes: the default run takes 7-12 minutes, IDLE_RUNS=3 adds 2-5.
#                   BIG=0 (1: also BIG_MSGS=100000 with BIG_RUNS=3, about 6 more minutes, 2.5 GB
#                   under $BENCH_ROOT while it runs; the 100k templates stay in $BENCH_ROOT/data)
#                   SECTIONS="fetch idle pop3 mixed" (any subset; "big" is added by BIG=1)
#                   MIXED_CLIENTS="10 50" MIXED_SECS=30 MIXED_RUNS=3 MIXED_MSGS=1000 MIXED_USERS=100
#                   (mixed: about 50 s per run with the restore and the warm-up, 5 minutes with the
#                   defaults; MIXED_USERS below the client count puts several clients on one mailbox)
#                   MIXED_QUIET=20 MIXED_QUIET_WAIT=600: before each mixed run, wait (at most
#                   MIXED_QUIET_WAIT s) until other processes use < MIXED_QUIET % of a CPU over 5 s
#                   (0: no wait). On a shared 2-CPU machine other load takes Dovecot's second CPU
#                   first (estafeta's IMAP runs on one thread); it is reported per run and in the table.
#                   MIXED_NOISY=25 MIXED_RETRIES=3: a run during which other processes used more than
#                   MIXED_NOISY % of a CPU is discarded and made again (restore, warm-up, run), at most
#                   MIXED_RETRIES times; the last try counts whatever its noise.
#                   BENCH_ROOT=/tmp/imapbench DC_IMAP_PORT=11143 DC_POP3_PORT=11110
#                   EST_IMAP_PORT=12143 EST_POP3_PORT=12110 EST_SMTP_PORT=12025
#                   CLIENT_TIMEOUT=900 (s per client run) NOBUILD=1 skips make; KEEP=1 keeps the
#                   servers' mail copies at the end (the generated templates are always kept
#                   under $BENCH_ROOT/data and reused)
#                   EST_CONF_EXTRA adds lines to estafeta's config (e.g. "auth_cache_ttl 0": its
#                   login cache off, every login hashes, as Dovecot's does); PEER_AUTH_CACHE=1
#                   turns Dovecot's auth cache on (off by default, as in the seeds)
#                   QUICK=1 is shorthand for MSGS=1000 N=200 RUNS=3 IDLE_RUNS=1 HOLD=3 MIXED_SECS=10
#                   MIXED_RUNS=1
# Quick check:      QUICK=1 bench/imap_vs_dovecot.sh
# Needs:            root; python3; installs dovecot-imapd and dovecot-pop3d with apt-get when
#                   missing (no service is started: a policy-rc.d that exits 101 while installing,
#                   and any system dovecot that shows up anyway is stopped).
# Output:           stdout; raw client outputs, configs and logs under $BENCH_ROOT/results/<timestamp>/.
# Notes:            estafeta creates the special-use folders (.Drafts .Sent .Trash .Junk .Archive)
#                   at a user's first login (Dovecot, as configured here, does not): not in the
#                   measured select+fetch. Dovecot's imap processes run out of inotify instances
#                   (fs.inotify.max_user_instances, 128 per uid by default; left alone here) and
#                   log a warning each: they then poll for IDLE; their PSS is not affected.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED_REL="$HERE/../../shared/bench"
for f in imap_fetchall.py imap_idle_mem.py pop3_bench.py gen_maildir.py cputree.py stats.py; do
	if [ ! -f "$SHARED_REL/$f" ]; then
		echo "imap_vs_dovecot: shared bench scripts not found at $SHARED_REL (no $f)" >&2
		exit 1
	fi
done
SHARED=$(cd "$SHARED_REL" && pwd)

if [ "${QUICK:-0}" = 1 ]; then
	MSGS=${MSGS:-1000}
	N=${N:-200}
	RUNS=${RUNS:-3}
	IDLE_RUNS=${IDLE_RUNS:-1}
	HOLD=${HOLD:-3}
	MIXED_SECS=${MIXED_SECS:-10}
	MIXED_RUNS=${MIXED_RUNS:-1}
fi
MSGS=${MSGS:-10000}
RUNS=${RUNS:-5}
WARM_RUNS=${WARM_RUNS:-2}	# unmeasured runs before the warm ones: Dovecot fills its cache file on the second
N=${N:-1000}
IDLE_RUNS=${IDLE_RUNS:-2}
HOLD=${HOLD:-10}
BIG=${BIG:-0}
BIG_MSGS=${BIG_MSGS:-100000}
BIG_RUNS=${BIG_RUNS:-3}
MIXED_CLIENTS=${MIXED_CLIENTS:-10 50}
MIXED_SECS=${MIXED_SECS:-30}
MIXED_RUNS=${MIXED_RUNS:-3}
MIXED_MSGS=${MIXED_MSGS:-1000}
MIXED_USERS=${MIXED_USERS:-100}
MIXED_QUIET=${MIXED_QUIET:-20}
MIXED_QUIET_WAIT=${MIXED_QUIET_WAIT:-600}
MIXED_NOISY=${MIXED_NOISY:-25}
MIXED_RETRIES=${MIXED_RETRIES:-3}
SECTIONS=${SECTIONS:-fetch idle pop3 mixed}
[ "$BIG" = 1 ] && SECTIONS="$SECTIONS big"
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-900}
EST_CONF_EXTRA=${EST_CONF_EXTRA:-}
PEER_AUTH_CACHE=${PEER_AUTH_CACHE:-0}
BENCH_ROOT=${BENCH_ROOT:-/tmp/imapbench}
DC_IMAP_PORT=${DC_IMAP_PORT:-11143}
DC_POP3_PORT=${DC_POP3_PORT:-11110}
EST_IMAP_PORT=${EST_IMAP_PORT:-12143}
EST_POP3_PORT=${EST_POP3_PORT:-12110}
EST_SMTP_PORT=${EST_SMTP_PORT:-12025}
BENCH_PASS=${BENCH_PASS:-bench-Passw0rd}
IDLE_USERS=100		# imap_idle_mem.py logs in as itest1..itest100
IDLE_MSGS=100
# process and connection limits: room for N idle sessions plus the ones being set up
LIMIT=$((N + 1000 > 2000 ? N + 1000 : 2000))
CLIENTS_LIMIT=$((4 * LIMIT > 5000 ? 4 * LIMIT : 5000))

die() { echo "imap_vs_dovecot: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (the private Dovecot instance and run_user need it)"
case "$BENCH_ROOT" in /tmp/?*) ;; *) die "BENCH_ROOT must be under /tmp (got $BENCH_ROOT)";; esac
command -v python3 >/dev/null || die "python3 missing"
PY=$(python3 -c 'import sys; print(sys.executable)')	# not a pyenv shim: a client's CPU is measured
[ -f "$HERE/client_cpu.py" ] || die "$HERE/client_cpu.py missing"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
[ "$(ulimit -n)" -gt $((N + 200)) ] || die "ulimit -n is $(ulimit -n), too low for N=$N idle connections"

port_busy() { "$PY" -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(0 if s.connect_ex(('127.0.0.1',$1))==0 else 1)"; }
for p in "$DC_IMAP_PORT" "$DC_POP3_PORT" "$EST_IMAP_PORT" "$EST_POP3_PORT" "$EST_SMTP_PORT"; do
	port_busy "$p" && die "127.0.0.1:$p already in use (an old instance? its Dovecot master pid is in $BENCH_ROOT/dc/run/master.pid)"
done

# ---------------------------------------------------------------- dovecot-imapd, dovecot-pop3d
D=$BENCH_ROOT/dc
# Dovecot master processes that are not ours (ours run with -c $D/dovecot.conf).
# The system's Dovecot (started by the package, /etc/dovecot): a private instance of another
# run (its own -c config elsewhere) is left alone, so runs with other BENCH_ROOTs can share
# the machine.
foreign_dovecots() {
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = dovecot ] || continue
		local cl
		cl=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)
		case "$cl" in *" -c /etc/dovecot/"* | "/usr/sbin/dovecot" | "/usr/sbin/dovecot "*" -F"*) ;;
		*" -c "*) continue ;; esac
		printf '%s ' "${d#/proc/}"
	done
}
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
missing=""
for p in dovecot-imapd dovecot-pop3d; do pkg_ok "$p" || missing="$missing $p"; done
if [ -n "$missing" ]; then
	echo "== installing$missing (no service is started)"
	before=$(foreign_dovecots)
	made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# bench/imap_vs_dovecot.sh: no service starts during the install\nexit 101\n' \
			>/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	rc=0
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
		$missing; } >/tmp/imap_vs_dovecot.apt.log 2>&1 || rc=$?
	[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	[ "$rc" = 0 ] || { tail -20 /tmp/imap_vs_dovecot.apt.log; die "apt-get install$missing failed"; }
	for pid in $(foreign_dovecots); do
		case " $before " in *" $pid "*) continue ;; esac
		echo "   the install started a system dovecot (pid $pid): stopping it"
		kill -TERM "$pid" 2>/dev/null || true
	done
fi
command -v dovecot >/dev/null || die "dovecot missing after the install"
[ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/pop3 ] || die "Dovecot's imap/pop3 binaries missing"
FOREIGN_BEFORE=$(foreign_dovecots)

# ---------------------------------------------------------------- build
if [ "${NOBUILD:-0}" != 1 ]; then
	echo "== make -j2 -C $REPO"
	make -j2 -C "$REPO" >/tmp/imap_vs_dovecot.make.log 2>&1 || { tail -30 /tmp/imap_vs_dovecot.make.log; die "build failed"; }
fi
BIN=$REPO/build/estafeta
[ -x "$BIN" ] || die "$BIN missing"
mkdir -p "$BENCH_ROOT"
LOADGEN=$BENCH_ROOT/imap_idle_load
cc -O2 -Wall -o "$LOADGEN" "$HERE/imap_idle_load.c" || die "cannot build bench/imap_idle_load.c (needs cc)"
MIXGEN=$BENCH_ROOT/imap_mixed_load
cc -O2 -Wall -Wextra -o "$MIXGEN" "$HERE/imap_mixed_load.c" || die "cannot build bench/imap_mixed_load.c (needs cc)"
POP3GEN=$BENCH_ROOT/pop3_load
cc -O2 -Wall -Wextra -o "$POP3GEN" "$HERE/pop3_load.c" || die "cannot build bench/pop3_load.c (needs cc)"
FLOORGEN=$BENCH_ROOT/pop3_floor
cc -O2 -Wall -Wextra -o "$FLOORGEN" "$HERE/pop3_floor.c" || die "cannot build bench/pop3_floor.c (needs cc)"
FLOOR_PORT=${FLOOR_PORT:-12111}

STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_ROOT/results/$STAMP
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
printf 'metric\ttarget\trun\tvalue\n' >"$RESULTS"
T_START=$(date +%s)

echo "== results/logs in $OUT"
echo "   estafeta: $BIN ($(sha256sum "$BIN" | cut -c1-12), $(stat -c %y "$BIN" | cut -d. -f1))"
echo "   dovecot:  $(dovecot --version)   python3: $("$PY" -c 'import platform; print(platform.python_version())')"
echo "   machine:  $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $BENCH_ROOT on $(df --output=source,fstype /tmp | tail -1 | tr -s ' ')"
echo "   load:     msgs=$MSGS runs=$RUNS idle N=$N x $IDLE_RUNS round(s) (hold ${HOLD}s) sections: $SECTIONS$([ "$BIG" = 1 ] && echo " (big: $BIG_MSGS msgs x $BIG_RUNS)")"
case " $SECTIONS " in *" mixed "*) echo "   mixed:    clients $MIXED_CLIENTS, ${MIXED_SECS}s x $MIXED_RUNS run(s), $MIXED_MSGS msgs per box, $MIXED_USERS user(s)" ;; esac
est_cache=$("$BIN" reference 2>/dev/null | grep -o '^| `auth_cache_ttl` | `[^`]*`' | cut -d'`' -f4 || true)
ov=$(sed -n 's/^auth_cache_ttl[ \t]*//p' <<<"$EST_CONF_EXTRA" | tail -1)
echo "   passwords: the same {SHA512-CRYPT} hash for every user, both servers; auth caches: estafeta auth_cache_ttl ${ov:-${est_cache:-(no such setting)}}${ov:+ (EST_CONF_EXTRA; default ${est_cache:-none})}, Dovecot $([ "$PEER_AUTH_CACHE" = 1 ] && echo "auth_cache_size 10M, ttl 1 hour" || echo "none (its default)")"

# ---------------------------------------------------------------- test data
# Templates (kept and reused: gen_maildir.py is deterministic): DATA/mCOUNT (cur/, seen) and
# DATA/mCOUNT-new (the same files in new/ without the ":2,S" info: never seen by any server).
DATA=$BENCH_ROOT/data
make_template() {	# count
	local n=$1 t=$DATA/m$1
	if [ ! -f "$t/.done" ]; then
		echo "   generating $n messages in $t"
		rm -rf "$t" "$t-new"
		"$PY" "$SHARED/gen_maildir.py" "$t" "$n" || die "gen_maildir.py $t $n failed"
		touch "$t/.done"
	fi
	if [ ! -f "$t-new/.done" ]; then
		rm -rf "$t-new"
		cp -a "$t" "$t-new"
		rm -f "$t-new/.done"
		"$PY" - "$t-new" <<'PY'
import os, sys
d = sys.argv[1]
for f in os.listdir(f"{d}/cur"):
    os.rename(f"{d}/cur/{f}", f"{d}/new/{f.split(':2,')[0]}")
PY
		touch "$t-new/.done"
	fi
	[ "$(find "$t/cur" -type f | wc -l)" = "$n" ] || die "$t/cur does not hold $n messages"
}
echo "== test data in $DATA"
mkdir -p "$DATA"
make_template "$MSGS"
make_template "$IDLE_MSGS"
case " $SECTIONS " in *" big "*) make_template "$BIG_MSGS" ;; esac
case " $SECTIONS " in *" mixed "*) make_template "$MIXED_MSGS" ;; esac

EST=$BENCH_ROOT/est
ESTM=$EST/mail		# estafeta: $ESTM/<user>/Maildir
DCM=$D/mail		# Dovecot:  $DCM/<user>/Maildir
copy_box() {	# template-dir dest-maildir
	rm -rf "$2"
	mkdir -p "$(dirname "$2")"
	cp -a "$1" "$2"
	rm -f "$2/.done"
	chown -R nobody:nogroup "$(dirname "$2")"
}
USERS="box $(seq -f 'first%g' 1 "$RUNS") $(seq -f 'itest%g' 1 "$IDLE_USERS")"
case " $SECTIONS " in *" big "*) USERS="$USERS bigbox $(seq -f 'bigfirst%g' 1 "$BIG_RUNS")" ;; esac
MIX_BOXES=0		# mix1..mixMIX_BOXES: the mailboxes the mixed clients log in to
case " $SECTIONS " in *" mixed "*)
	for mc in $MIXED_CLIENTS; do [ "$mc" -gt "$MIX_BOXES" ] && MIX_BOXES=$mc; done
	[ "$MIX_BOXES" -gt "$MIXED_USERS" ] && MIX_BOXES=$MIXED_USERS
	USERS="$USERS $(seq -f 'mix%g' 1 "$MIX_BOXES")"
	;;
esac
echo "   copying the Maildirs for both servers"
rm -rf "$ESTM" "$DCM"
for m in "$ESTM" "$DCM"; do
	copy_box "$DATA/m$MSGS" "$m/box/Maildir"
	for i in $(seq 1 "$IDLE_USERS"); do copy_box "$DATA/m$IDLE_MSGS" "$m/itest$i/Maildir"; done
	case " $SECTIONS " in *" big "*) copy_box "$DATA/m$BIG_MSGS" "$m/bigbox/Maildir" ;; esac
done
HASH=$(openssl passwd -6 "$BENCH_PASS" 2>/dev/null || "$PY" -c "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_SHA512)))" "$BENCH_PASS")
case "$HASH" in '$6$'*) ;; *) die "cannot make a SHA512-CRYPT hash";; esac

# ---------------------------------------------------------------- Dovecot instance
DC_PID=
DC_STARTED=0
EST_PID=
dc_master() { cat "$D/run/master.pid" 2>/dev/null; }
wait_gone() {	# pid seconds
	local i
	for i in $(seq $(($2 * 10))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

configure_dovecot() {
	mkdir -p "$D/run" "$D/state"
	: >"$D/users"
	for u in $USERS; do printf '%s:{SHA512-CRYPT}%s::::::\n' "$u" "$HASH" >>"$D/users"; done
	chmod 644 "$D/users"
	rm -f "$D/dovecot.log"
	# ../shared/bench/peers/dovecot_instance.sh's config, with: the bench users' SHA512-CRYPT hash
	# (passwd-file passdb, static userdb: uid/gid nobody, home = $DCM/<user>), our ports, limits
	# for N idle sessions, and the auth cache only when PEER_AUTH_CACHE=1.
	cat >"$D/dovecot.conf" <<CONF
instance_name = dovecot-imapbench
base_dir = $D/run
state_dir = $D/state
protocols = imap pop3
listen = 127.0.0.1
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 100
mail_location = maildir:~/Maildir
mail_privileged_group =
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = passwd-file
  args = $D/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$DCM/%u
}
$([ "$PEER_AUTH_CACHE" = 1 ] && printf 'auth_cache_size = 10M\nauth_cache_ttl = 1 hour\n')
namespace inbox {
  inbox = yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DC_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
  process_limit = $LIMIT
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DC_POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap {
  process_limit = $LIMIT
}
service anvil {
  client_limit = $CLIENTS_LIMIT
}
service auth {
  client_limit = $CLIENTS_LIMIT
}
default_client_limit = $CLIENTS_LIMIT
default_vsz_limit = 1G
mail_max_userip_connections = $CLIENTS_LIMIT
CONF
	cp "$D/dovecot.conf" "$OUT/dovecot.conf"
	doveconf -c "$D/dovecot.conf" -n >"$OUT/doveconf-n.txt" 2>&1 || { cat "$OUT/doveconf-n.txt"; die "doveconf rejects $D/dovecot.conf"; }
}

start_dovecot() {
	dovecot -c "$D/dovecot.conf" >>"$OUT/dovecot_start.log" 2>&1 || { cat "$OUT/dovecot_start.log"; tail "$D/dovecot.log" 2>/dev/null; die "dovecot start failed"; }
	DC_STARTED=1
	local i
	for i in $(seq 100); do port_busy "$DC_IMAP_PORT" && port_busy "$DC_POP3_PORT" && break; sleep 0.1; done
	port_busy "$DC_IMAP_PORT" || { tail "$D/dovecot.log"; die "Dovecot not listening on $DC_IMAP_PORT"; }
	DC_PID=$(dc_master)
}

tree_pids() { "$PY" -c '
import os, sys
ps = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try: s = open(f"/proc/{p}/stat").read()
        except OSError: continue
        ps[int(p)] = int(s[s.rindex(")") + 2:].split()[1])
tree = {int(sys.argv[1])} & set(ps); ch = True
while ch:
    ch = False
    for pid, pp in ps.items():
        if pp in tree and pid not in tree: tree.add(pid); ch = True
print(" ".join(map(str, sorted(tree))))' "$1"; }

stop_dovecot() {
	local pid kids k
	pid=$(dc_master)
	if [ "$DC_STARTED" = 1 ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kids=$(tree_pids "$pid")
		kill -TERM "$pid"
		wait_gone "$pid" 30 || echo "!! dovecot master $pid did not exit 30 s after TERM"
		for k in $kids; do	# its imap processes too, so the next round starts on a quiet machine
			wait_gone "$k" 30 || { echo "!! dovecot process $k still there 30 s after its master's TERM"; break; }
		done
	fi
	DC_STARTED=0
	DC_PID=
}

# ---------------------------------------------------------------- estafeta
EST_LOG=$EST/estafeta.log
configure_estafeta() {
	rm -rf "$EST/spool"
	mkdir -p "$EST/spool" "$ESTM"
	cp "$D/users" "$EST/users"
	chmod 644 "$EST/users"
	: >"$EST_LOG"
	local maxc=$((2 * N > 5000 ? 2 * N : 5000))
	cat >"$EST/estafeta.conf" <<CONF
hostname bench.localhost
domains bench.local
networks 127.0.0.1/32
users passwd-file $EST/users
mailbox maildir $ESTM/%n/Maildir
spool $EST/spool
run_user nobody
listen smtp 127.0.0.1:$EST_SMTP_PORT
listen imap 127.0.0.1:$EST_IMAP_PORT
listen pop3 127.0.0.1:$EST_POP3_PORT
plaintext_auth_loopback yes
auth_failure_delay 0
max_connections $maxc
max_connections_per_ip $maxc
CONF
	[ -n "$EST_CONF_EXTRA" ] && printf '%s\n' "$EST_CONF_EXTRA" >>"$EST/estafeta.conf"
	cp "$EST/estafeta.conf" "$OUT/estafeta.conf"
	chown -R nobody:nogroup "$ESTM" "$EST/spool"
	"$BIN" check -c "$EST/estafeta.conf" >"$OUT/estafeta_check.txt" 2>&1 || { cat "$OUT/estafeta_check.txt"; die "estafeta check failed"; }
}

start_estafeta() {
	local n0 i
	n0=$(grep -c "auth service started" "$EST_LOG" || true)
	set -m	# its own process group (job control gives one without another fork)
	"$BIN" serve -c "$EST/estafeta.conf" >>"$EST_LOG" 2>&1 &
	EST_PID=$!
	set +m
	for i in $(seq 200); do
		[ "$(grep -c "auth service started" "$EST_LOG" || true)" -gt "$n0" ] && port_busy "$EST_IMAP_PORT" && break
		kill -0 "$EST_PID" 2>/dev/null || break
		sleep 0.1
	done
	port_busy "$EST_IMAP_PORT" && port_busy "$EST_POP3_PORT" || { tail -20 "$EST_LOG"; die "estafeta not listening on $EST_IMAP_PORT/$EST_POP3_PORT"; }
}

stop_estafeta() {
	if [ -n "$EST_PID" ] && kill -0 "$EST_PID" 2>/dev/null; then
		kill -TERM "$EST_PID"
		if ! wait_gone "$EST_PID" 10; then
			echo "!! estafeta $EST_PID did not exit 10 s after TERM; KILL to its process group"
			kill -KILL -- "-$EST_PID" 2>/dev/null || kill -KILL "$EST_PID"
		fi
		wait "$EST_PID" 2>/dev/null || true
	fi
	EST_PID=
}

cleanup() {
	set +e
	stop_estafeta
	stop_dovecot
	local pid
	for pid in $(foreign_dovecots); do
		case " $FOREIGN_BEFORE " in *" $pid "*) continue ;; esac
		echo "!! a dovecot not started by this run is up (pid $pid): stopping it"
		kill -TERM "$pid" 2>/dev/null
	done
	[ "${KEEP:-0}" = 1 ] || rm -rf "$ESTM" "$DCM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting Dovecot (imap 127.0.0.1:$DC_IMAP_PORT, pop3 :$DC_POP3_PORT) and estafeta (imap :$EST_IMAP_PORT, pop3 :$EST_POP3_PORT)"
configure_dovecot
configure_estafeta
start_dovecot
start_estafeta
echo "   dovecot master pid=$DC_PID; estafeta parent pid=$EST_PID ($(grep -o 'worker pid=[0-9]*' "$EST_LOG" | tail -1), $(grep -o 'auth service pid=[0-9]*' "$EST_LOG" | tail -1))"

restart() {	# target
	if [ "$1" = dovecot ]; then stop_dovecot; start_dovecot; else stop_estafeta; start_estafeta; fi
}
srv_pid() { case $1 in dovecot) echo "$DC_PID" ;; floor) echo "$FLOOR_PID" ;; *) echo "$EST_PID" ;; esac; }
imap_port() { if [ "$1" = dovecot ]; then echo "$DC_IMAP_PORT"; else echo "$EST_IMAP_PORT"; fi; }
pop3_port() { case $1 in dovecot) echo "$DC_POP3_PORT" ;; floor) echo "$FLOOR_PORT" ;; *) echo "$EST_POP3_PORT" ;; esac; }
mailroot() { if [ "$1" = dovecot ]; then echo "$DCM"; else echo "$ESTM"; fi; }
srv_cpu() { "$PY" "$SHARED/cputree.py" "$(srv_pid "$1")" | cut -d' ' -f1; }
order() { if [ $(($1 % 2)) = 1 ]; then echo "estafeta dovecot"; else echo "dovecot estafeta"; fi; }
kv() { grep -oE "(^| )${2//+/\\+}=[0-9.]+" <<<"$1" | head -1 | cut -d= -f2; }	# line key -> value
sub() { "$PY" -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.2f}')" "$1" "$2"; }
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }
PROBLEMS=0
problem() { echo "!! $*"; PROBLEMS=$((PROBLEMS + 1)); }
server_log_tail() {	# target: the server's last log lines, for a failed client run
	if [ "$1" = dovecot ]; then tail -5 "$D/dovecot.log" 2>/dev/null | sed 's/^/   dovecot.log: /'
	else tail -8 "$EST_LOG" | sed 's/^/   estafeta.log: /'; fi
}

# run_client OUTFILE SCRIPT ARGS...: runs a ../shared/bench client through bench/client_cpu.py (its
# own CPU without the interpreter's start-up) under timeout; sets CLIENT_CPU (from its first
# connect() to its first output line: the measured run, or the idle set-up) and CLIENT_CPU_TOTAL
run_client() {
	local f=$1 rc=0 cl
	shift
	timeout "$CLIENT_TIMEOUT" "$PY" "$HERE/client_cpu.py" "$@" >"$f" 2>&1 || rc=$?
	[ "$rc" = 124 ] && echo "client timed out after ${CLIENT_TIMEOUT}s" >>"$f"
	cl=$(grep '^CLIENT_CPU ' "$f" | tail -1)
	CLIENT_CPU=$(kv "$cl" from_connect)
	CLIENT_CPU_TOTAL=$(kv "$cl" total)
	CLIENT_CPU=${CLIENT_CPU:-0}
	CLIENT_CPU_TOTAL=${CLIENT_CPU_TOTAL:-0}
	return "$rc"
}

# ---------------------------------------------------------------- IMAP SELECT + FETCH
fetch_once() {	# target case user run expected-msgs measure(0|1) [RESET_CMD for imap_fetchall.py]
	local t=$1 c=$2 u=$3 r=$4 want=$5 measure=$6 f c0 c1 line ok=1
	f=$OUT/fetch.$c.$t.$r.out
	c0=$(srv_cpu "$t")
	[ -n "${7:-}" ] && export RESET_CMD="$7"
	run_client "$f" "$SHARED/imap_fetchall.py" 127.0.0.1 "$(imap_port "$t")" "$u" "$BENCH_PASS" 1 || ok=0
	unset RESET_CMD
	if [ "$ok" = 0 ]; then
		problem "$t $c run $r: imap_fetchall.py 127.0.0.1 $(imap_port "$t") $u failed: $(grep -v '^ *File\|^ *\^' "$f" | tail -2 | tr '\n' ' ')"
		server_log_tail "$t"
		return 1
	fi
	c1=$(srv_cpu "$t")
	line=$(grep '^run1 ' "$f")
	local n sel fet sf scpu
	n=$(kv "$line" msgs); sel=$(kv "$line" select); fet=$(kv "$line" fetch); sf=$(kv "$line" select+fetch)
	scpu=$(sub "$c1" "$c0")
	[ "$n" = "$want" ] || problem "$t $c run $r: SELECT says $n EXISTS, expected $want"
	printf '%-8s %-12s run %-2s %s: select %6.3fs fetch %6.3fs select+fetch %6.3fs  bytes %s  server CPU %5.2fs  client CPU %5.3fs\n' \
		"$t" "$c" "$r" "$([ "$measure" = 1 ] && echo "   " || echo "(w)")" "$sel" "$fet" "$sf" "$(kv "$line" bytes)" "$scpu" "$CLIENT_CPU"
	if [ "$measure" = 1 ]; then
		row "$c select" "$t" "$r" "$sel"
		row "$c fetch" "$t" "$r" "$fet"
		row "$c select+fetch" "$t" "$r" "$sf"
		row "$c server CPU" "$t" "$r" "$scpu"
		row "$c client CPU" "$t" "$r" "$CLIENT_CPU"
	fi
}

dc_reset_cmd() {	# user: RESET_CMD for Dovecot's "index rebuilt" runs: its index files go, dovecot-uidlist stays
	printf "find '%s' -maxdepth 2 \\( -name 'dovecot.index*' -o -name 'dovecot.list.index*' \\) -type f -delete; sync" \
		"$DCM/$1/Maildir"
}

fetch_section() {	# label template-count user firstuser-prefix runs
	local lb=$1 cnt=$2 u=$3 fp=$4 runs=$5 r t
	echo "== IMAP SELECT + UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE), $cnt messages"
	echo "-- warm: $WARM_RUNS unmeasured run(s) (w) each, then $runs"
	for r in $(seq 1 "$WARM_RUNS"); do
		for t in estafeta dovecot; do fetch_once "$t" "$lb warm" "$u" 0 "$cnt" 0 || true; done
	done
	for r in $(seq 1 "$runs"); do
		for t in $(order "$r"); do fetch_once "$t" "$lb warm" "$u" "$r" "$cnt" 1 || true; done
	done
	echo "-- index rebuilt: Dovecot without dovecot.index* and dovecot.list.index*, estafeta restarted without estafeta.index* (uidlists kept)"
	for r in $(seq 1 "$runs"); do
		for t in $(order "$r"); do
			if [ "$t" = dovecot ]; then
				fetch_once "$t" "$lb rebuilt" "$u" "$r" "$cnt" 1 "$(dc_reset_cmd "$u")" || true
			else
				stop_estafeta	# it writes its index when it stops
				rm -f "$ESTM/$u/Maildir/estafeta.index"*
				start_estafeta
				sync
				fetch_once "$t" "$lb rebuilt" "$u" "$r" "$cnt" 1 || true
			fi
		done
	done
	ls -a "$DCM/$u/Maildir" | tr '\n' ' ' | sed 's/^/   dovecot Maildir now: /'; echo
	ls -a "$ESTM/$u/Maildir" | tr '\n' ' ' | sed 's/^/   estafeta Maildir now: /'; echo
	echo "-- first access: a fresh copy with every message in new/, no dovecot-uidlist, a new user each run"
	for r in $(seq 1 "$runs"); do
		for t in $(order "$r"); do
			copy_box "$DATA/m$cnt-new" "$(mailroot "$t")/$fp$r/Maildir"
			sync
			fetch_once "$t" "$lb first" "$fp$r" "$r" "$cnt" 1 || true
			local left
			left=$(find "$(mailroot "$t")/$fp$r/Maildir/new" -type f | wc -l)
			[ "$left" = 0 ] || echo "   ($t left $left messages in new/)"
			# the disk space; the server forgets the user's box on its own (an index it
			# writes meanwhile can make the first rm find the directory not empty)
			rm -rf "$(mailroot "$t")/${fp:?}$r" 2>/dev/null || { sleep 2; rm -rf "$(mailroot "$t")/${fp:?}$r"; } || true
		done
	done
}

case " $SECTIONS " in *" fetch "*) fetch_section "imap$((MSGS / 1000))k" "$MSGS" box first "$RUNS" ;; esac

# ---------------------------------------------------------------- IDLE sessions: memory and set-up rate
idle_once() {	# target run
	local t=$1 r=$2 f c0 c1 line
	restart "$t"
	sleep 1
	f=$OUT/idle.$t.$r.out
	c0=$(srv_cpu "$t")
	if ! run_client "$f" "$SHARED/imap_idle_mem.py" 127.0.0.1 "$(imap_port "$t")" 'itest%d' "$BENCH_PASS" "$N" "$(srv_pid "$t")" "$HOLD"; then
		problem "$t idle run $r: imap_idle_mem.py failed: $(tail -2 "$f" | tr '\n' ' ')"
		server_log_tail "$t"
		return 1
	fi
	c1=$(srv_cpu "$t")
	line=$(grep '^idle_conns=' "$f" || true)
	[ -n "$line" ] || { problem "$t idle run $r: no result: $(tail -2 "$f")"; return 1; }
	local n errs setup rate pss rss pssall scpu
	n=$(kv "$line" idle_conns); errs=$(kv "$line" errors); setup=$(grep -oE 'setup=[0-9.]+' <<<"$line" | cut -d= -f2)
	rate=$(grep -oE '\(([0-9]+) login\+select\+idle/s\)' <<<"$line" | grep -oE '[0-9]+' | head -1)
	# the client's own figure is n / unrounded set-up time, printed as an integer; for slow set-ups
	# n / the printed set-up time (0.1 s steps) is the finer one
	[ "${rate:-0}" -ge 100 ] || rate=$("$PY" -c "print(f'{$n / max($setup, 1e-9):.1f}')")
	pss=$(grep -oE 'per_conn RSS=[0-9]+ KiB PSS=[0-9]+' <<<"$line" | grep -oE 'PSS=[0-9]+' | cut -d= -f2)
	rss=$(grep -oE 'per_conn RSS=[0-9]+' <<<"$line" | cut -d= -f2)
	pssall=$(grep -oE 'total/conn RSS=[0-9]+ KiB PSS=[0-9]+' <<<"$line" | grep -oE 'PSS=[0-9]+' | cut -d= -f2)
	scpu=$(sub "$c1" "$c0")
	[ "$n" = "$N" ] && [ "$errs" = 0 ] || problem "$t idle run $r: $n of $N sessions, $errs errors: $(grep -oE 'errors=[0-9]+ \[.*\] setup' <<<"$line")"
	echo "$t idle run $r: $line"
	printf '   -> %s sessions in %ss = %s sessions/s, PSS %s KiB/conn (total/conn %s), server CPU %ss (%.2f ms/session), client CPU %ss (%.0f%% of the set-up time)\n' \
		"$n" "$setup" "$rate" "$pss" "$pssall" "$scpu" "$("$PY" -c "print(1000 * $scpu / max($n, 1))")" "$CLIENT_CPU" \
		"$("$PY" -c "print(100 * $CLIENT_CPU / max($setup, 1e-9))")"
	row "idle PSS KiB/conn" "$t" "$r" "$pss"
	row "idle RSS KiB/conn" "$t" "$r" "$rss"
	row "idle PSS KiB/conn (total)" "$t" "$r" "$pssall"
	row "idle setup sessions/s, py client" "$t" "$r" "$rate"
	row "idle server CPU ms/session, py client" "$t" "$r" "$("$PY" -c "print(f'{1000 * $scpu / max($n, 1):.3f}')")"
		row "idle client CPU/setup %, py client" "$t" "$r" "$("$PY" -c "print(f'{100 * $CLIENT_CPU / max($setup, 1e-9):.0f}')")"
}

# The same sessions from bench/imap_idle_load.c (C, one epoll loop, 50 being set up at a time):
# the set-up rate with a client that is not a large part of what is measured.
idle_rate_once() {	# target run
	local t=$1 r=$2 f c0 c1 line rc=0
	restart "$t"
	sleep 1
	f=$OUT/idle_rate.$t.$r.out
	c0=$(srv_cpu "$t")
	timeout "$CLIENT_TIMEOUT" "$LOADGEN" 127.0.0.1 "$(imap_port "$t")" 'itest%d' "$BENCH_PASS" "$N" 50 0 >"$f" 2>&1 || rc=$?
	c1=$(srv_cpu "$t")
	line=$(grep '^result ' "$f" || true)
	[ -n "$line" ] || { problem "$t idle rate run $r: no result (rc $rc): $(tail -2 "$f")"; server_log_tail "$t"; return 1; }
	[ "$rc" = 0 ] || { problem "$t idle rate run $r: $line"; server_log_tail "$t"; }
	local ok rate setup ccpu scpu
	ok=$(kv "$line" ok); rate=$(kv "$line" rate); setup=$(kv "$line" setup); ccpu=$(kv "$line" client_cpu)
	scpu=$(sub "$c1" "$c0")
	printf '%-8s idle rate run %s (C client): %s sessions in %ss = %s sessions/s, latency p50 %s ms p99 %s ms, server CPU %ss (%.2f ms/session, incl. LOGOUT), client CPU %ss (%.0f%% of the set-up time)\n' \
		"$t" "$r" "$ok" "$setup" "$rate" "$(kv "$line" lat_p50_ms)" "$(kv "$line" lat_p99_ms)" "$scpu" \
		"$("$PY" -c "print(1000 * $scpu / max($ok, 1))")" "$ccpu" "$("$PY" -c "print(100 * $ccpu / max($setup, 1e-9))")"
	row "idle setup sessions/s, C client" "$t" "$r" "$rate"
	row "idle server CPU ms/session, C client" "$t" "$r" "$("$PY" -c "print(f'{1000 * $scpu / max($ok, 1):.3f}')")"
	row "idle client CPU/setup %, C client" "$t" "$r" "$("$PY" -c "print(f'{100 * $ccpu / max($setup, 1e-9):.0f}')")"
}

case " $SECTIONS " in *" idle "*)
	echo "== IDLE: $N concurrent LOGIN+SELECT+IDLE sessions (50 at a time, users itest1..itest$IDLE_USERS), server restarted before each round, held ${HOLD}s"
	# not measured: every server's first access of the itest boxes (UIDs assigned, dovecot-uidlist
	# written, Dovecot's index files made), so the rounds measure logins to known mailboxes
	for t in estafeta dovecot; do
		"$PY" - "$(imap_port "$t")" "$BENCH_PASS" "$IDLE_USERS" >"$OUT/idle.prepare.$t.out" 2>&1 <<'PY' || problem "$t: preparing the itest boxes failed: $(tail -1 "$OUT/idle.prepare.$t.out")"
import imaplib, sys, time
port, pw, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
t0 = time.monotonic()
for i in range(1, n + 1):
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(f"itest{i}", pw)
    typ, d = c.select("INBOX")
    assert typ == "OK", d
    c.logout()
print(f"{n} boxes selected once in {time.monotonic() - t0:.1f}s")
PY
		echo "   $t: $(tail -1 "$OUT/idle.prepare.$t.out") (not measured)"
	done
	for r in $(seq 1 "$IDLE_RUNS"); do
		for t in $(order "$r"); do
			idle_once "$t" "$r" || true
			idle_rate_once "$t" "$r" || true
		done
	done
	# the last round's sessions gone (Dovecot: its N imap processes) before anything else is measured
	restart dovecot
	restart estafeta
	sleep 2
	;;
esac

# ---------------------------------------------------------------- POP3
pop3_once() {	# target run measure(0|1)
	local t=$1 r=$2 measure=$3 f c0 c1 line
	f=$OUT/pop3.$t.$r.out
	c0=$(srv_cpu "$t")
	if ! run_client "$f" "$SHARED/pop3_bench.py" 127.0.0.1 "$(pop3_port "$t")" box "$BENCH_PASS" 1; then
		problem "$t pop3 run $r: pop3_bench.py failed: $(grep -v '^ *File\|^ *\^' "$f" | tail -2 | tr '\n' ' ')"
		server_log_tail "$t"
		return 1
	fi
	c1=$(srv_cpu "$t")
	line=$(grep '^run1 ' "$f")
	local n retr tot scpu
	n=$(kv "$line" msgs); retr=$(kv "$line" retr_all); tot=$(kv "$line" total); scpu=$(sub "$c1" "$c0")
	[ "$n" = "$MSGS" ] || problem "$t pop3 run $r: STAT says $n messages, expected $MSGS"
	printf '%-8s pop3 run %-2s %s: login+stat %ss retr_all %6.3fs total %6.3fs  %s  server CPU %5.2fs  client CPU %5.3fs\n' \
		"$t" "$r" "$([ "$measure" = 1 ] && echo "   " || echo "(w)")" "$(kv "$line" login+stat)" "$retr" "$tot" \
		"$(grep -oE '[0-9]+ msg/s [0-9.]+ MB/s' <<<"$line")" "$scpu" "$CLIENT_CPU"
	if [ "$measure" = 1 ]; then
		row "pop3 retr_all" "$t" "$r" "$retr"
		row "pop3 total" "$t" "$r" "$tot"
		row "pop3 server CPU" "$t" "$r" "$scpu"
		row "pop3 client CPU" "$t" "$r" "$CLIENT_CPU"
	fi
	# the same with the C client (bench/pop3_load.c), whose own CPU is a fraction of the Python one's
	f=$OUT/pop3c.$t.$r.out
	c0=$(srv_cpu "$t")
	if ! timeout "$CLIENT_TIMEOUT" "$POP3GEN" 127.0.0.1 "$(pop3_port "$t")" box "$BENCH_PASS" 1 >"$f" 2>&1; then
		problem "$t pop3 run $r: pop3_load failed: $(tail -2 "$f" | tr '\n' ' ')"
		return 1
	fi
	c1=$(srv_cpu "$t")
	line=$(grep '^run=1 ' "$f")
	n=$(kv "$line" msgs); retr=$(kv "$line" retr_all); tot=$(kv "$line" total); scpu=$(sub "$c1" "$c0")
	[ "$n" = "$MSGS" ] || problem "$t pop3 (C) run $r: STAT says $n messages, expected $MSGS"
	printf '%-8s pop3 run %-2s %s: C client: login+stat %ss retr_all %6.3fs total %6.3fs  server CPU %5.2fs  client CPU %5.3fs\n' \
		"$t" "$r" "$([ "$measure" = 1 ] && echo "   " || echo "(w)")" "$(kv "$line" login+stat)" "$retr" "$tot" "$scpu" \
		"$(kv "$line" client_cpu)"
	if [ "$measure" = 1 ]; then
		row "pop3 C client retr_all" "$t" "$r" "$retr"
		row "pop3 C client total" "$t" "$r" "$tot"
		row "pop3 C client server CPU" "$t" "$r" "$scpu"
		row "pop3 C client client CPU" "$t" "$r" "$(kv "$line" client_cpu)"
	fi
}

case " $SECTIONS " in *" pop3 "*)
	echo "== POP3: USER/PASS, STAT, RETR 1..$MSGS (no DELE): one unmeasured run (w) each, then $RUNS"
	# the floor: the same client against a responder that does no work, messages of the mean size
	msize=$(find "$DATA/m$MSGS/cur" -type f -printf '%s\n' | awk '{ s += $1 } END { print int(s / NR) }')
	"$FLOORGEN" "$FLOOR_PORT" "$MSGS" "$msize" >"$OUT/pop3_floor.log" 2>&1 &
	FLOOR_PID=$!
	sleep 0.3
	for t in estafeta dovecot floor; do pop3_once "$t" 0 0 || true; done
	for r in $(seq 1 "$RUNS"); do
		for t in $(order "$r") floor; do pop3_once "$t" "$r" 1 || true; done
	done
	kill "$FLOOR_PID" 2>/dev/null || true
	wait "$FLOOR_PID" 2>/dev/null || true
	;;
esac

case " $SECTIONS " in *" big "*) fetch_section "imap$((BIG_MSGS / 1000))k" "$BIG_MSGS" bigbox bigfirst "$BIG_RUNS" ;; esac

# ---------------------------------------------------------------- mixed load
MIXSNAP=$BENCH_ROOT/mixsnap	# MIXSNAP/<target>/mix<i>: the prepared boxes every run starts from
# mix_pass target prepare|warm: every mix box once (prepare: twice) with imaplib, unmeasured
mix_pass() {
	"$PY" - "$(imap_port "$1")" "$BENCH_PASS" "$MIX_BOXES" "$2" >"$OUT/mixed.$2.$1.out" 2>&1 <<'PY'
import imaplib, sys, time
port, pw, n, mode = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
t0 = time.monotonic()
for rnd in range(2 if mode == "prepare" else 1):
    for i in range(1, n + 1):
        c = imaplib.IMAP4("127.0.0.1", port)
        c.login(f"mix{i}", pw)
        typ, d = c.select("INBOX")
        assert typ == "OK", d
        typ, d = c.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE ENVELOPE)")
        assert typ == "OK", d
        searches = (['FROM "sender1"', 'SUBJECT "invoice"', "SINCE 15-Nov-2023"] if mode == "prepare"
                    else ['FROM "sender1"'])
        for q in searches:
            typ, d = c.uid("SEARCH", q)
            assert typ == "OK", d
        c.logout()
print(f"{mode}: {n} boxes in {time.monotonic() - t0:.1f}s")
PY
}

mixed_restore() {	# target: the server stopped, its mix boxes replaced by its snapshot, started again
	local t=$1 m i
	m=$(mailroot "$t")
	if [ "$t" = dovecot ]; then stop_dovecot; else stop_estafeta; fi
	for i in $(seq 1 "$MIX_BOXES"); do
		rm -rf "${m:?}/mix$i"
		cp -a "$MIXSNAP/$t/mix$i" "$m/mix$i"
	done
	sync
	if [ "$t" = dovecot ]; then start_dovecot; else start_estafeta; fi
}

busy_cpu() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f\n", ($2+$3+$4+$7+$8+$9)/hz; exit}' /proc/stat; }	# s, all CPUs

wait_quiet() {	# before a measured run (our servers idle): other processes' CPU below MIXED_QUIET %
	[ "$MIXED_QUIET" -gt 0 ] || return 0
	local a b u waited=0
	while :; do
		a=$(busy_cpu); sleep 5; b=$(busy_cpu)
		u=$("$PY" -c "print(int(100 * ($b - $a) / 5))")
		[ "$u" -lt "$MIXED_QUIET" ] && break
		waited=$((waited + 5))
		if [ "$waited" -ge "$MIXED_QUIET_WAIT" ]; then
			echo "   (the machine is still busy after ${waited}s: ${u}% of a CPU; measuring anyway)"
			return 0
		fi
	done
	[ "$waited" = 0 ] || echo "   (waited ${waited}s for other processes to go below ${MIXED_QUIET}% of a CPU)"
}

mixed_once() {	# target clients run: mixed_try until a try is quiet enough (or the last one)
	local try rc
	for try in $(seq 1 $((MIXED_RETRIES + 1))); do
		rc=0
		mixed_try "$1" "$2" "$3" "$try" "$([ "$try" -gt "$MIXED_RETRIES" ] && echo 1 || echo 0)" || rc=$?
		[ "$rc" = 2 ] || return "$rc"
	done
}

mixed_try() {	# target clients run try last(0|1); 2: too noisy, not recorded
	local t=$1 cl=$2 r=$3 try=$4 last=$5 f c0 c1 b0 b1 line rc=0 scpu m other
	mixed_restore "$t"
	mix_pass "$t" warm || { problem "$t mixed $cl run $r: warm-up failed: $(tail -1 "$OUT/mixed.warm.$t.out")"; return 1; }
	f=$OUT/mixed.$cl.$t.$r.try$try.out
	wait_quiet
	c0=$(srv_cpu "$t")
	b0=$(busy_cpu)
	timeout $((MIXED_SECS + 60)) "$MIXGEN" 127.0.0.1 "$(imap_port "$t")" 'mix%d' "$BENCH_PASS" "$cl" "$MIXED_SECS" "$r" "$MIXED_USERS" \
		>"$f" 2>&1 || rc=$?
	b1=$(busy_cpu)
	c1=$(srv_cpu "$t")
	line=$(grep '^result ' "$f" || true)
	[ -n "$line" ] || { problem "$t mixed $cl run $r: no result (rc $rc): $(tail -2 "$f" | tr '\n' ' ')"; server_log_tail "$t"; return 1; }
	local opss errs ccpu ops
	opss=$(kv "$line" ops_per_s); errs=$(kv "$line" errors); ccpu=$(kv "$line" client_cpu); ops=$(kv "$line" ops)
	scpu=$(sub "$c1" "$c0")
	# the machine's other CPU use meanwhile (all CPUs' busy time - server tree - client, from the
	# client's start to its exit, a little longer than MIXED_SECS): other benchmarks show here
	other=$("$PY" -c "print(f'{max(0.0, 100 * ($b1 - $b0 - $scpu - $ccpu) / $MIXED_SECS):.0f}')")
	printf '%-8s mixed %2s clients run %s%s: %6s ops in %ss = %7s ops/s, errors %s (%s), latency p50 %s ms p99 %s ms, server CPU %ss (%.0f%% of a CPU, %.3f ms/op), client CPU %ss (%s%% of a CPU)\n' \
		"$t" "$cl" "$r" "$([ "$try" = 1 ] || echo " (try $try)")" "$ops" "$MIXED_SECS" "$opss" "$errs" "$(grep '^errors ' "$f" | cut -d' ' -f2- )" \
		"$(kv "$line" lat_p50_ms)" "$(kv "$line" lat_p99_ms)" "$scpu" \
		"$("$PY" -c "print(100 * $scpu / $MIXED_SECS)")" "$("$PY" -c "print(1000 * $scpu / max($ops, 1))")" \
		"$ccpu" "$(kv "$line" client_cpu_pct)"
	echo "         $(grep '^ops ' "$f")"
	echo "         other processes' CPU meanwhile: ${other}% of a CPU$([ "$other" -gt "$MIXED_NOISY" ] && echo " (noisy)")"
	if [ "$errs" != 0 ] || [ "$rc" != 0 ]; then
		problem "$t mixed $cl run $r: $errs protocol error(s) (rc $rc); the first ones:"
		grep '^error ' "$f" | head -5 | sed 's/^/   /'
		server_log_tail "$t"
	fi
	if [ "$other" -gt "$MIXED_NOISY" ] && [ "$last" = 0 ]; then
		echo "         -> discarded: other processes used more than ${MIXED_NOISY}% of a CPU; measuring again"
		return 2
	fi
	m="mixed $cl clients"
	row "$m ops/s" "$t" "$r" "$opss"
	row "$m errors" "$t" "$r" "$errs"
	row "$m lat p50 ms" "$t" "$r" "$(kv "$line" lat_p50_ms)"
	row "$m lat p99 ms" "$t" "$r" "$(kv "$line" lat_p99_ms)"
	row "$m server CPU ms/op" "$t" "$r" "$("$PY" -c "print(f'{1000 * $scpu / max($ops, 1):.3f}')")"
	row "$m server CPU % of a CPU" "$t" "$r" "$("$PY" -c "print(f'{100 * $scpu / $MIXED_SECS:.1f}')")"
	row "$m client CPU % of a CPU" "$t" "$r" "$(kv "$line" client_cpu_pct)"
	row "$m other processes' CPU % of a CPU" "$t" "$r" "$other"
}

case " $SECTIONS " in *" mixed "*)
	echo "== mixed load: $MIXED_CLIENTS clients x ${MIXED_SECS}s, $MIXED_RUNS run(s) each (bench/imap_mixed_load.c; users mix1..mix$MIX_BOXES, $MIXED_MSGS messages each)"
	rm -rf "$MIXSNAP"
	for t in estafeta dovecot; do
		m=$(mailroot "$t")
		for i in $(seq 1 "$MIX_BOXES"); do copy_box "$DATA/m$MIXED_MSGS" "$m/mix$i/Maildir"; done
		sync
		mix_pass "$t" prepare || die "$t: preparing the mix boxes failed: $(tail -3 "$OUT/mixed.prepare.$t.out")"
		echo "   $t: $(tail -1 "$OUT/mixed.prepare.$t.out") (not measured)"
		if [ "$t" = dovecot ]; then stop_dovecot; else stop_estafeta; fi	# its files settled
		mkdir -p "$MIXSNAP/$t"
		for i in $(seq 1 "$MIX_BOXES"); do cp -a "$m/mix$i" "$MIXSNAP/$t/mix$i"; done
		if [ "$t" = dovecot ]; then start_dovecot; else start_estafeta; fi
	done
	for cl in $MIXED_CLIENTS; do
		for r in $(seq 1 "$MIXED_RUNS"); do
			for t in $(order "$r"); do mixed_once "$t" "$cl" "$r" || true; done
		done
	done
	[ "${KEEP:-0}" = 1 ] || rm -rf "$MIXSNAP"
	;;
esac

# ---------------------------------------------------------------- summary
echo
echo "== summary (msgs=$MSGS runs=$RUNS, idle N=$N x $IDLE_RUNS, mixed $MIXED_CLIENTS clients x ${MIXED_SECS}s x $MIXED_RUNS; $(($(date +%s) - T_START)) s; load now $(cut -d' ' -f1-3 /proc/loadavg))"
"$PY" - "$RESULTS" "$SHARED/stats.py" <<'PY'
import csv, statistics, subprocess, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
stats = sys.argv[2]
metrics = []
for x in rows:
    if x["metric"] not in metrics:
        metrics.append(x["metric"])
vals = {}
for x in rows:
    vals.setdefault((x["metric"], x["target"]), []).append(float(x["value"]))
for m in metrics:
    for t in ("estafeta", "dovecot", "floor"):
        v = vals.get((m, t))
        if v:
            print(subprocess.run([sys.executable, stats, f"{t:8s} {m:40s}"] + [repr(a) for a in v],
                                 capture_output=True, text=True).stdout.rstrip())
print()
unit = lambda m: ("/s, higher is better" if "sessions/s" in m or "ops/s" in m else "KiB" if "KiB" in m else
                  "ms" if "ms/" in m or m.endswith(" ms") else "%" if "%" in m else
                  "count" if m.endswith("errors") else "s")
W = max(len(f"{m} ({unit(m)})") for m in metrics)
print(f"| {'metric':{W}s} | {'estafeta':>10s} | {'dovecot':>10s} | {'est/dc':>7s} |")
print(f"|{'-' * (W + 2)}|{'-' * 12}|{'-' * 12}|{'-' * 9}|")
for m in metrics:
    e, d = vals.get((m, "estafeta")), vals.get((m, "dovecot"))
    if not e or not d:
        continue
    me, md = statistics.median(e), statistics.median(d)
    fmt = lambda v: f"{v:10.3f}" if abs(v) < 10 else f"{v:10.1f}"
    ratio = f"{me / md:7.3f}" if md else f"{'n/a':>7s}"
    print(f"| {m + ' (' + unit(m) + ')':{W}s} | {fmt(me)} | {fmt(md)} | {ratio} |")
for m in metrics:
    f, d = vals.get((m, "floor")), vals.get((m, "dovecot"))
    if f and d and "CPU" not in m:
        mf, md = statistics.median(f), statistics.median(d)
        print(f"   {m} of a responder that does no work (bench/pop3_floor.c): {mf:.3f} s = "
              f"{mf / md:.3f} of Dovecot's (the client's round trips alone; a server that sleeps between "
              f"commands wakes up slower than one still busy)")
PY
echo
echo "   ratio = estafeta median / Dovecot median: for times, CPU, latency and memory lower is better, for"
echo "   sessions/s and ops/s higher is better (docs/IMAP.md goals: select+fetch and POP3 <= 0.5, idle PSS"
echo "   <= 50 KiB per connection, >= 1,000 login+select+idle sessions/s, mixed load ops/s >= 2 with 0 errors)."
echo "   Client CPU near 100% of a run's time would mean the client, not the server, set the pace (the"
echo "   fetch/POP3 client CPU: from its connect() to the end of the run, kernel time included; the mixed"
echo "   load's: its own during the MIXED_SECS, in % of one CPU, as is the server's; server CPU is counted in"
echo "   clock ticks, 0.01 s)."
echo "   problems: $PROBLEMS"
echo "== estafeta log: warnings/errors (distinct, up to 10):"
grep -E ': (warning|error|fatal): ' "$EST_LOG" | sed -E 's/^[^ ]+ [^ ]+ //; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -10 || true
echo "== dovecot log: errors/warnings (distinct, up to 10):"
grep -iE 'error|fatal|panic|warning' "$D/dovecot.log" 2>/dev/null | sed -E 's/^[A-Za-z]+ [0-9]+ [0-9:]+ //; s/<[^>]*>//g; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -10 || true
cp "$EST_LOG" "$OUT/estafeta.log" 2>/dev/null || true
cp "$D/dovecot.log" "$OUT/dovecot.log" 2>/dev/null || true
echo "== raw: $RESULTS"
