#!/bin/sh
# Install the Debian packages estafeta needs to build and test, only those missing.
# postfix is a test peer (tests/integration/test_postfix_sasl.py, bench/): it is installed
# unconfigured ("No configuration") and no service is started, so there is no system MTA.
set -e
PKGS="build-essential pkg-config clang libevent-dev libssl-dev libbsd-dev libcrypt-dev
libcmocka-dev libclang-rt-14-dev zlib1g-dev libsqlite3-dev libargon2-dev sqlite3
python3 swaks bsd-mailx openssl postfix curl isync fetchmail mutt"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "estafeta: missing packages:$missing (run as root or install them)" >&2
	exit 1
fi

# Pids of Postfix master processes of the system instance (cwd /var/spool/postfix; the
# private test and bench instances have their queue directories under /tmp).
system_postfix() {
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = master ] || continue
		[ "$(readlink "$d/exe" 2>/dev/null)" = /usr/lib/postfix/sbin/master ] || continue
		[ "$(readlink "$d/cwd" 2>/dev/null)" = /var/spool/postfix ] || continue
		echo "${d#/proc/}"
	done
}

echo "estafeta: installing$missing"
export DEBIAN_FRONTEND=noninteractive
case " $missing " in *" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections ;;
esac
# No service may start during the install: a policy-rc.d that denies every start, only
# while we install and only if the machine has none of its own.
before=$(system_postfix | tr "\n" " ")
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# estafeta tools/deps.sh: no service starts during the install\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
if [ "$made_policy" = 1 ]; then
	rm -f "$policy"
	trap - EXIT
fi
# Verify: no system Postfix came up because of this install (one that ran before is left alone).
for pid in $(system_postfix); do
	case " $before " in *" $pid "*) continue ;; esac
	echo "estafeta: the install started a system Postfix (master pid $pid): stopping it" >&2
	kill -TERM "$pid" 2>/dev/null || true
done
