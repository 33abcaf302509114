#!/bin/bash
# TUI: help overlay, filter, resize down to 40x12 (and below: a clear
# message) and back, and Ctrl-C leaving the terminal restored.
. "$(dirname "$0")/lib.sh"

tui_start 100 30 "$COCKPIT_BIN -d '$COCKPIT_TEST_MONITOR_DSN'; echo EXIT=\$?; stty -a | tr ' ' '\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\n' ' '; echo; sleep 30"
check "first screen" tui_wait "Health" 10
tui_keys '?'
check "help overlay" tui_wait "Keys (any key closes this)" 3
check "help lists screen switching" tui_wait "switch screen" 1
tui_keys x
sleep 0.3
check "any key closes help" sh -c "! $TMUX_CMD capture-pane -t t -p | grep -q 'any key closes'"

# Filter: the Sessions screen, filter on application_name.
tui_keys 2
check "sessions screen" tui_wait "QUERY AGE" 3
tui_keys / c o c k p i t Enter
check "filter applied" tui_wait "match 'cockpit'" 3
check "filter shown in the status line" tui_wait "filter: cockpit" 2
tui_keys Enter
check "detail pane of the selected session" tui_wait " connected " 3
tui_keys Enter
tui_keys / Escape
sleep 0.3
check "filter cleared" sh -c "! $TMUX_CMD capture-pane -t t -p | grep -q \"match 'cockpit'\""

# Resize: 40x12 still works, smaller says so, back to normal.
tui_resize 40 12
sleep 0.5
check "40x12 still draws tabs" tui_wait "1 Overview" 3
check "40x12 is not too small" sh -c "! $TMUX_CMD capture-pane -t t -p | grep -q 'too small'"
tui_resize 30 10
check "30x10 says the terminal is too small" tui_wait "terminal too small (30x10)" 3
tui_resize 100 30
check "back to 100x30" tui_wait "QUERY AGE" 3

# Ctrl-C: clean exit, terminal restored (canonical mode and echo back on).
tui_keys C-c
check "Ctrl-C exits with 0" tui_wait "EXIT=0" 5
check "terminal restored (icanon echo)" tui_wait "icanon echo" 3
finish
