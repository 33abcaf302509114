#!/bin/bash
# TUI: replay of a recording, with pause, step back/forward and speed; no
# database needed once recorded.
. "$(dirname "$0")/lib.sh"

rec=$(mktemp /tmp/cockpit-rec.XXXXXX)
"$COCKPIT_BIN" record -o "$rec" --interval 0.3 --duration 2 -d "$COCKPIT_TEST_MONITOR_DSN" 2>/dev/null
n=$(wc -l <"$rec")
check "recorded several frames ($n)" test "$n" -ge 4

tui_start 110 30 "$COCKPIT_BIN replay $rec"
check "replay header" tui_wait "REPLAY " 5
tui_keys p
check "pause" tui_wait "PAUSED" 3
tui_keys '['
tui_keys '['
tui_keys '['
tui_keys '['
tui_keys '['
tui_keys '['
check "step back to the first frame" tui_wait "REPLAY 1/$n" 3
tui_keys ']'
check "step forward" tui_wait "REPLAY 2/$n x1 PAUSED" 3
tui_keys '+'
check "speed up" tui_wait "REPLAY 2/$n x2 PAUSED" 3
tui_keys 3
check "replayed screens work (Locks)" tui_wait "Wait-for graph" 3
tui_keys q
check "q quits" tui_exited 10

bad=$(mktemp /tmp/cockpit-bad.XXXXXX)
head -n 2 "$rec" >"$bad"; echo '{"version": 1, "sessions": 5}' >>"$bad"
out=$("$COCKPIT_BIN" replay "$bad" 2>&1); rc=$?
check "a bad recording names its line" sh -c "echo \"\$0\" | grep -q ':3: field .sessions.'" "$out"
check "and exits 1" test "$rc" -eq 1
rm -f "$rec" "$bad"
finish
