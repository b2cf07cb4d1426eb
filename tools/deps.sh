#!/bin/sh
# Install the Debian packages estafeta needs to build and test, only those missing.
set -e
PKGS="build-essential pkg-config clang libevent-dev libssl-dev libbsd-dev libcrypt-dev
libcmocka-dev libclang-rt-14-dev zlib1g-dev python3 swaks bsd-mailx openssl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "estafeta: missing packages:$missing (run as root or install them)" >&2
	exit 1
fi
echo "estafeta: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
