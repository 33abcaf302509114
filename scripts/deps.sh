#!/bin/sh
# Install the Debian packages cockpit needs to build, test, demo and bench.
# Only missing packages are installed; sudo is used when not root.
#   scripts/deps.sh          build, test and demo (python3: the TUI tests'
#                            recording generator and key-latency harness)
#   scripts/deps.sh bench    the same, plus the peers make bench compares
#                            against, pg_activity (pg-activity) and pg_top
#                            (pgtop) and strace (round trips)
set -eu
PKGS="build-essential pkg-config clang libpq-dev libncurses-dev libjansson-dev libyaml-dev
libcurl4-openssl-dev libssl-dev libpg-query-dev libcmocka-dev libmicrohttpd-dev
postgresql-15 postgresql-contrib postgresql-15-hypopg tmux procps util-linux valgrind time python3"
case "${1:-}" in
"") ;;
bench) PKGS="$PKGS pg-activity pgtop strace" ;;
*) echo "deps: unknown package set '$1'; use no argument or 'bench'" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && { echo "deps: all packages present"; exit 0; }
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
