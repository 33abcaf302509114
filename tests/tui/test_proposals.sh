#!/bin/bash
# TUI: the Proposals screen, end to end on a real lock chain. In assist
# mode the terminate_backend proposal for the root blocker is shown with its
# diff; accepting it ends the blocker, the waiter proceeds, verification
# passes on screen, and the audit log (which verifies as a chain) holds the
# decision, the execution and the verification. In observe mode accept is
# refused with the reason, an edit that changes the function is refused,
# and a rejection with a typed reason is audited.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/cockpit-tui-prop.XXXXXX)
chmod 755 "$tmp"
cleanup_prop() { rm -rf "$tmp"; psql_su -c "DROP TABLE IF EXISTS tui_prop" >/dev/null 2>&1; }
trap 'tui_cleanup; cleanup_prop' EXIT

conf="$tmp/cockpit.conf"
cat >"$conf" <<EOF
paths:
  state_dir: $tmp/state
  audit_log: $tmp/audit.jsonl
  runbooks_dir: $top/runbooks
EOF

pid_of() { psql_su -A -t -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'"; }
alive() { [ "$(psql_su -A -t -c "SELECT count(*) FROM pg_stat_activity WHERE pid = $1")" = 1 ]; }
gone() { ! alive "$1"; }
wait_gone() { # wait_gone PID SECONDS
	i=0; while [ $i -lt $(($2 * 10)) ]; do gone "$1" && return 0; sleep 0.1; i=$((i + 1)); done; return 1
}
audit_has() { grep -q "\"kind\":\"$1\"" "$tmp/audit.jsonl"; }

# chain NAME: a root blocker idle in transaction (psql on a FIFO held open
# on fd 3) and one waiter; sets root and waiter.
chain() {
	psql_su -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'tui-prop-%'" >/dev/null
	psql_su -c "DROP TABLE IF EXISTS tui_prop; CREATE TABLE tui_prop (id int PRIMARY KEY, v int); INSERT INTO tui_prop VALUES (1, 0)"
	fifo=$(mktemp -u /tmp/cockpit-tui-fifo.XXXXXX)
	mkfifo "$fifo"
	"$PGBIN/psql" -X -q -d "$COCKPIT_TEST_DSN" <"$fifo" >/dev/null 2>&1 &
	bg_pids="$bg_pids $!"
	exec 3>"$fifo"
	rm -f "$fifo"
	echo "SET application_name = 'tui-prop-root'; BEGIN; UPDATE tui_prop SET v = 1 WHERE id = 1;" >&3
	sleep 0.5
	"$PGBIN/psql" -X -q -d "$COCKPIT_TEST_DSN" -c "SET application_name = 'tui-prop-waiter'" \
		-c "UPDATE tui_prop SET v = 2 WHERE id = 1" >/dev/null 2>&1 &
	waiter_psql=$!
	bg_pids="$bg_pids $waiter_psql"
	for i in $(seq 50); do
		n=$(psql_su -A -t -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tui-prop-waiter' AND wait_event_type = 'Lock'")
		[ "$n" = 1 ] && break; sleep 0.1
	done
	root=$(pid_of tui-prop-root)
	waiter=$(pid_of tui-prop-waiter)
}

# ---- assist: accept runs it -------------------------------------------------
chain
tui_start 120 40 "$COCKPIT_BIN -c '$conf' -d '$COCKPIT_TEST_DSN' --mode assist; echo \$? >'$tmp/exit-assist'"
check "overview lists the open incident" tui_wait "terminate_backend pid $root" 15
tui_keys 7
check "proposals screen shows the mode" tui_wait "mode ASSIST" 5
check "terminate_backend proposed for the blocker $root" tui_wait "terminate_backend on pid $root" 10
check "the diff shows the session that ends" sh -c "$TMUX_CMD capture-pane -t t -p | grep -A30 '^ *Diff ' | grep -qE '^ +- .*$root'"
[ -n "${SHOT_DIR:-}" ] && tui_screen >"$SHOT_DIR/proposals.txt"
check "the waiter $waiter is not a target" sh -c "! $TMUX_CMD capture-pane -t t -p | grep -q 'terminate_backend on pid $waiter'"
tui_keys a
sleep 0.5
if tui_screen | grep -q "type pid $root"; then
	tui_keys "$root" Enter
fi
check "the blocker's session $root is ended" wait_gone "$root" 15
check "the waiter proceeds" sh -c "for i in \$(seq 100); do kill -0 $waiter_psql 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
check "the screen shows verification passed" tui_wait "verification passed" 30
[ -n "${SHOT_DIR:-}" ] && tui_screen >"$SHOT_DIR/proposals-after-accept.txt"
tui_keys q
check "q quits" tui_exited 10
exit_is() { for i in $(seq 50); do [ -s "$1" ] && break; sleep 0.1; done; [ "$(cat "$1" 2>/dev/null)" = 0 ]; }
check "exit status 0 (no sanitizer report)" exit_is "$tmp/exit-assist"
exec 3>&-
check "audit chain verifies" "$COCKPIT_BIN" audit verify "$tmp/audit.jsonl"
check "audit: incident.open" audit_has incident.open
check "audit: proposal" audit_has proposal
check "audit: decision.accept" audit_has decision.accept
check "audit: exec.start" audit_has exec.start
check "audit: exec.done" audit_has exec.done
check "audit: verify.pass" audit_has verify.pass

# ---- observe: accept refused, edits checked, reject audited -----------------
chain
# An "editor" that turns the terminate into a cancel: another function,
# so the edit must be refused and the original kept.
tui_start 120 40 "EDITOR='sed -i s/pg_terminate_backend/pg_cancel_backend/' $COCKPIT_BIN -c '$conf' -d '$COCKPIT_TEST_DSN' --mode observe; echo \$? >'$tmp/exit-observe'"
tui_keys 7
check "observe mode is shown" tui_wait "mode OBSERVE" 10
check "observe: the proposal is shown" tui_wait "terminate_backend on pid $root" 15
tui_keys a
check "observe refuses accept with the reason" tui_wait "observe mode: nothing can run (start with --mode assist)" 5
check "observe: the blocker $root lives" alive "$root"
tui_keys e
check "an edit to another function is refused" tui_wait "edit refused" 5
tui_keys r
check "reject asks for a reason" tui_wait "why reject terminate_backend" 5
tui_keys "not during the drill" Enter
check "reject confirmed" tui_wait "is in the audit log" 5
tui_keys q
check "q quits (observe)" tui_exited 10
check "exit status 0 (observe)" exit_is "$tmp/exit-observe"
check "audit: decision.reject with the reason" grep -q '"kind":"decision.reject".*not during the drill\|not during the drill.*"kind":"decision.reject"' "$tmp/audit.jsonl"
check "audit chain still verifies" "$COCKPIT_BIN" audit verify "$tmp/audit.jsonl"
exec 3>&-
check "observe: nothing was executed for $root" sh -c "! grep '\"kind\":\"exec.start\"' '$tmp/audit.jsonl' | grep -q 'pid $root'"
# ---- sessions: x proposes, the Proposals screen runs it ------------------
"$PGBIN/psql" -X -q -d "$COCKPIT_TEST_DSN" -c "SET application_name = 'tui-prop-manual'" \
	-c "SELECT pg_sleep(300)" >/dev/null 2>&1 &
bg_pids="$bg_pids $!"
for i in $(seq 50); do manual=$(pid_of tui-prop-manual); [ -n "$manual" ] && break; sleep 0.1; done
tui_start 120 40 "$COCKPIT_BIN -c '$conf' -d '$COCKPIT_TEST_DSN' --mode assist; echo \$? >'$tmp/exit-manual'"
tui_keys 2
sleep 1
tui_keys / tui-prop-manual Enter
check "sessions: the session $manual is listed" tui_wait "$manual" 10
tui_keys x
check "sessions: x says where the proposal went" tui_wait "terminate_backend of pid $manual proposed" 5
tui_keys 7
found=0
for i in $(seq 20); do
	tui_screen | grep -q "^ terminate_backend on pid $manual: risk" && { found=1; break; }
	tui_keys j; sleep 0.3
done
check "proposals: the operator's terminate_backend on pid $manual" test $found = 1
tui_keys a
sleep 0.5
if tui_screen | grep -q "type pid $manual"; then tui_keys "$manual" Enter; fi
check "the session $manual is ended" wait_gone "$manual" 15
check "verification passed" tui_wait "terminate_backend on pid $manual: done: verification passed" 20
tui_keys q
check "q quits (manual)" tui_exited 10
check "exit status 0 (manual)" exit_is "$tmp/exit-manual"
check "audit: the operator's proposal was accepted" sh -c "grep '\"kind\":\"decision.accept\"' '$tmp/audit.jsonl' | grep -q 'operator'"
finish
