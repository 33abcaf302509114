#!/bin/bash
# TUI: every shipped runbook, accepted by an operator. For each, its drill
# reproduces the incident (cockpit drill), the cockpit in assist mode shows
# the expected proposal on the Proposals screen, `a` (typing the target when
# the risk is high) runs it, and the Actions list shows the verification
# passed with what it measured; the audit chain verifies at the end.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/cockpit-tui-rb.XXXXXX)
chmod 755 "$tmp"
drill_pid=""
stop_drill() {
	if [ -n "$drill_pid" ]; then
		kill -INT "$drill_pid" 2>/dev/null
		for i in $(seq 100); do kill -0 "$drill_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$drill_pid" 2>/dev/null
		drill_pid=""
	fi
}
cleanup_rb() {
	stop_drill
	psql_su -c "ALTER ROLE postgres RESET ALL" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap 'tui_cleanup; cleanup_rb' EXIT

# accept NAME CONFIG ACTION TARGET_RE WAIT_S: drill NAME, accept ACTION on
# a target matching TARGET_RE, see the verification pass within WAIT_S.
accept() {
	rb=$1 extra=$2 action=$3 target_re=$4 wait_s=$5
	conf="$tmp/$rb.conf"
	printf 'paths:\n  state_dir: %s/state\n  audit_log: %s/audit.jsonl\n  runbooks_dir: %s/runbooks\n%b' \
		"$tmp" "$tmp" "$top" "$extra" >"$conf"
	"$COCKPIT_BIN" -c "$conf" -d "$COCKPIT_TEST_DSN" drill "$rb" --duration 300 \
		>"$tmp/drill-$rb.out" 2>&1 &
	drill_pid=$!
	for i in $(seq 200); do grep -q '^holding' "$tmp/drill-$rb.out" && break; sleep 0.1; done
	tui_start 160 50 "$COCKPIT_BIN -c '$conf' -d '$COCKPIT_TEST_DSN' --mode assist; echo \$? >'$tmp/exit-$rb'"
	tui_keys 7
	found=0
	for i in $(seq 60); do
		if tui_screen | grep -qE "^ $action on $target_re: risk"; then found=1; break; fi
		# Walk the list; back to the top when the end is reached.
		if [ $((i % 12)) -eq 0 ]; then tui_keys g; else tui_keys j; fi
		sleep 0.25
	done
	check "$rb: $action on /$target_re/ proposed" test $found = 1
	if [ $found = 1 ]; then
		line=$(tui_screen | grep -E "^ $action on $target_re: risk" | head -1)
		target=$(printf '%s' "$line" | sed -E "s/^ $action on (.*): risk .*/\1/")
		tui_keys a
		sleep 0.5
		if tui_screen | grep -q "type .* to run $action"; then
			tui_keys "$target" Enter
		fi
		check "$rb: $action on $target: verification passed" \
			tui_wait "$action on $target: done: verification passed" "$wait_s"
		[ -n "${SHOT_DIR:-}" ] && tui_screen >"$SHOT_DIR/accept-$rb.txt"
		tui_screen | grep -E "^ .*$action on .*verif" | head -1 | sed 's/^ */    measured: /'
	fi
	tui_keys q
	check "$rb: q quits" tui_exited 10
	check "$rb: exit status 0" sh -c "for i in \$(seq 50); do [ -s '$tmp/exit-$rb' ] && break; sleep 0.1; done; [ \"\$(cat '$tmp/exit-$rb')\" = 0 ]"
	stop_drill
}

accept lock-chain "" terminate_backend "pid [0-9]+" 30
accept idle-in-transaction "thresholds:\n  idle_in_transaction_s: 2\n" terminate_backend "pid [0-9]+" 30
accept bloat "" vacuum "public\.drill_bloat" 60
accept agent-hygiene "" alter_role_set "role agent_drill" 30
accept agent-runaway "" cancel_backend "pids? [0-9, ]+" 30
accept connection-exhaustion "thresholds:\n  connections_pct: 1\n" terminate_backend "pids? [0-9, ]+" 30
accept disk-space "thresholds:\n  disk_warn_pct: 1\n  disk_crit_pct: 99.9\n" drop_replication_slot "slot drill_disk_slot" 30
accept slow-query "thresholds:\n  slow_query_mean_ms: 50\n" create_index "public\.drill_slow_orders" 120
accept deadlock "" alter_role_set "role postgres" 30
psql_su -c "ALTER ROLE postgres RESET ALL" >/dev/null
check "audit chain verifies" "$COCKPIT_BIN" audit verify "$tmp/audit.jsonl"
[ -n "${SHOT_DIR:-}" ] && cp "$tmp/audit.jsonl" "$SHOT_DIR/audit-runbooks.jsonl"
check "audit: nine verify.pass records" sh -c "[ \$(grep -c '\"kind\":\"verify.pass\"' '$tmp/audit.jsonl') -ge 9 ]"
finish
