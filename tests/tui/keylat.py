#!/usr/bin/env python3
"""Key press -> changed screen latency of a program in tmux, for TUI tests.

    python3 tests/tui/keylat.py SOCKET PANE PLAN OUT

PLAN has one press a line, "KEY<TAB>MARKER": the key (a tmux send-keys key
name) and a fixed string the pane shows only once the key took effect (the
new screen's header, the replay's new frame number); an empty MARKER ("KEY"
and the tab alone) waits for any change of the pane instead (a terminal's
echo, for the floor). For each press the time runs from just before the key
is sent until a capture of the pane holds the marker (or differs). It is measured as bench/keylat.sh does: one tmux control-mode
client sends the key, waits for the pane's %output notifications and
captures the pane after each, all commands on the same client (a tmux
process spawned per poll would cost more than what is measured).

OUT gets one line per press, microseconds. stdout gets one summary line,
"presses=N missed=N p50_ms=X p99_ms=X max_ms=X": missed counts presses whose
marker did not show within 5 s (each counted as its wait, so they also push
p99 up). Exit status 2 on a harness problem (no tmux client, a marker
already on screen before its key, a bad plan line).
"""
import math
import os
import select
import subprocess
import sys
import time

TIMEOUT_S = 5


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: keylat.py SOCKET PANE PLAN OUT")
    sock, pane, plan_path, out = sys.argv[1:]
    plan = []
    with open(plan_path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            key, sep, marker = line.partition("\t")
            if not sep or not key or "'" in key:
                print("keylat: %s:%d: expected KEY<TAB>MARKER" % (plan_path, n), file=sys.stderr)
                sys.exit(2)
            plan.append((key, marker))

    c = subprocess.Popen(["tmux", "-L", sock, "-C", "attach", "-t", pane],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    fd = c.stdout.fileno()
    buf = b""
    pending = 0

    def line(deadline=None):
        """The client's next line; None when deadline (monotonic) passed first."""
        nonlocal buf
        while b"\n" not in buf:
            wait = None if deadline is None else max(0, deadline - time.monotonic())
            if not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                print("keylat: the tmux control client closed", file=sys.stderr)
                sys.exit(2)
            buf += chunk
        raw, buf = buf.split(b"\n", 1)
        return raw.decode("utf-8", "replace")

    def command(cmd):
        """Run a tmux command on the control client; return its output
        lines. %output notifications seen meanwhile are counted, not lost."""
        nonlocal pending
        c.stdin.write((cmd + "\n").encode())
        c.stdin.flush()
        body, inside = [], False
        while True:
            l = line()
            if l.startswith("%begin"):
                inside, body = True, []
            elif l.startswith(("%end", "%error")):
                if inside:
                    return body
            elif inside:
                body.append(l)
            elif l.startswith("%output"):
                pending += 1

    def capture():
        return "\n".join(command("capture-pane -p -t " + pane))

    def wait_output(deadline):
        nonlocal pending
        while pending == 0:
            l = line(deadline)
            if l is None:
                break
            if l.startswith("%output"):
                pending += 1
        pending = 0

    while not line().startswith(("%end", "%error")):  # the attach's own reply
        pass
    res, missed = [], 0
    for key, marker in plan:
        before = capture()
        if marker and marker in before:
            print("keylat: '%s' is on screen before its key %s: the plan cannot tell"
                  % (marker, key), file=sys.stderr)
            sys.exit(2)
        pending = 0
        t0 = time.monotonic()
        command("send-keys -t %s '%s'" % (pane, key))
        while True:
            scr = capture()
            if (marker in scr) if marker else (scr != before):
                break
            if time.monotonic() - t0 > TIMEOUT_S:
                missed += 1
                break
            # The next %output, or a moment: the capture may have come
            # between two writes of the same redraw.
            wait_output(time.monotonic() + 0.05)
        res.append(time.monotonic() - t0)
        time.sleep(0.02)
    c.stdin.close()
    c.wait()
    with open(out, "w") as f:
        for r in res:
            f.write("%d\n" % round(r * 1e6))
    v = sorted(res)

    def pct(p):
        return v[max(0, math.ceil(len(v) * p) - 1)] * 1000

    print("presses=%d missed=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f"
          % (len(v), missed, pct(0.50), pct(0.99), v[-1] * 1000))


if __name__ == "__main__":
    main()
