# Helpers for TUI tests: the real binary in tmux, screens read with
# capture-pane. Sourced by tests/tui/test_*.sh (run by tests/run.sh with
# COCKPIT_BIN and the cluster's COCKPIT_TEST_* variables exported).
set -u
: "${COCKPIT_BIN:?run through tests/run.sh}"
: "${COCKPIT_TEST_DSN:?run through tests/run.sh}"
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
SOCK="cockpit-tui-$$"
# A config read before the first session exists: panes stay after their
# command exits (so its last words and exit can be read), 256 colours.
TMUX_CONF=$(mktemp /tmp/cockpit-tmux.XXXXXX)
printf 'set -g remain-on-exit on\nset -g default-terminal xterm-256color\n' >"$TMUX_CONF"
TMUX_CMD="tmux -L $SOCK -f $TMUX_CONF"
passed=0
failed=0
bg_pids=""

tui_cleanup() {
	$TMUX_CMD kill-server 2>/dev/null || true
	rm -f "$TMUX_CONF"
	for p in $bg_pids; do kill "$p" 2>/dev/null || true; done
	exec 3>&- 2>/dev/null || true
}
trap tui_cleanup EXIT

psql_su() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$COCKPIT_TEST_DSN" "$@"; }

# tui_start W H COMMAND...: run COMMAND in a fresh tmux session of W x H; the
# pane stays after the command exits so its last words can be read.
tui_start() {
	w=$1; h=$2; shift 2
	$TMUX_CMD kill-server 2>/dev/null || true
	$TMUX_CMD new-session -d -s t -x "$w" -y "$h" "$*"
}
tui_keys() { $TMUX_CMD send-keys -t t "$@"; }
tui_screen() { $TMUX_CMD capture-pane -t t -p; }
tui_resize() { $TMUX_CMD resize-window -t t -x "$1" -y "$2"; }

# tui_wait TEXT [SECONDS]: wait until TEXT (a fixed string) is on screen.
tui_wait() {
	text=$1; secs=${2:-10}; i=0
	while [ $i -lt $((secs * 10)) ]; do
		if tui_screen | grep -qF -- "$text"; then return 0; fi
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# tui_exited [SECONDS]: wait until the pane's command has exited.
tui_exited() {
	secs=${1:-5}; i=0
	while [ $i -lt $((secs * 10)) ]; do
		[ "$($TMUX_CMD display-message -p -t t '#{pane_dead}' 2>/dev/null)" = 1 ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

ok() { passed=$((passed + 1)); echo "ok   $1"; }
not_ok() {
	failed=$((failed + 1)); echo "FAIL $1"
	echo "---- screen ----"; tui_screen | sed 's/^/| /'; echo "----------------"
}
check() { # check NAME COMMAND...: pass when COMMAND succeeds
	name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
finish() {
	echo "$(basename "$0"): $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}
