#!/usr/bin/env python3
"""Watch a tmux pane of the bench's tmux server until a line matches.

One tmux control-mode client (no process started per poll: on a loaded
machine a tmux client per 10 ms poll costs tens of ms by itself).

  ttywatch.py wait SOCKET PANE ERE LIMIT_MS T0_MS
      attached to PANE's session: capture the pane, and again at each
      %output of it, until a line matches ERE (Python re); prints the ms
      since T0_MS (epoch ms), or "timeout".

  ttywatch.py first SOCKET KEEP PANE ERE LIMIT_MS PIDFILE READYFILE
      started before PANE exists: attaches to session KEEP, creates
      READYFILE, then captures PANE every 5 ms (the pane's output reaches
      only clients of its own session) until a line matches; prints the ms
      from the program's exec — PIDFILE's mtime, written by the launching
      shell just before it execs the program — to the match, or "timeout".
      Neither tmux's nor script(1)'s start-up nor this client's is counted.
"""
import os, re, select, subprocess, sys, time

buf = b""


def client(sock, session):
    return subprocess.Popen(["tmux", "-L", sock, "-C", "attach", "-t", session],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)


def line(c, timeout):
    """The next line from the client; None on a timeout, False at its end."""
    global buf
    end = time.monotonic() + timeout
    while b"\n" not in buf:
        left = end - time.monotonic()
        if left <= 0 or not select.select([c.stdout], [], [], left)[0]:
            return None
        chunk = c.stdout.read1(65536)
        if not chunk:
            return False
        buf += chunk
    l, buf = buf.split(b"\n", 1)
    return l.decode("utf-8", "replace")


def command(c, cmd):
    """(ok, lines) of one command; (False, None) when the client is gone."""
    c.stdin.write((cmd + "\n").encode())
    c.stdin.flush()
    body, inside = [], False
    while True:
        l = line(c, 5)
        if l is None or l is False:
            return False, None
        if l.startswith("%begin"):
            inside, body = True, []
        elif l.startswith(("%end", "%error")) and inside:
            return l.startswith("%end"), body
        elif inside:
            body.append(l)


def settle(c):
    """Read what the attach itself prints, up to its %end."""
    while True:
        l = line(c, 5)
        if l is None or l is False or l.startswith(("%end", "%error")):
            return


def wait(sock, pane, ere, limit, t0):
    now = lambda: int(time.time() * 1000)
    c = client(sock, pane)
    settle(c)
    while now() - t0 <= limit:
        _, scr = command(c, "capture-pane -p -t " + pane)
        if scr is None:
            break
        if any(ere.search(x) for x in scr):
            return str(now() - t0)
        if line(c, 0.05) is False:  # the program's next output, or look again
            break
    return "timeout"


def first(sock, keep, pane, ere, limit, pidfile, ready):
    c = client(sock, keep)
    settle(c)
    open(ready, "w").close()
    end = time.monotonic() + limit / 1000
    while time.monotonic() < end:
        ok, scr = command(c, "capture-pane -p -t =" + pane + ":")
        if scr is None:
            break
        if ok and any(ere.search(x) for x in scr):
            t = time.time_ns()
            try:
                t0 = os.stat(pidfile).st_mtime_ns
            except OSError:
                break
            return "%d" % round((t - t0) / 1e6)
        time.sleep(0.005)
    return "timeout"


def main(a):
    if a[1] == "wait":
        print(wait(a[2], a[3], re.compile(a[4]), int(a[5]), int(a[6])))
    elif a[1] == "first":
        print(first(a[2], a[3], a[4], re.compile(a[5]), int(a[6]), a[7], a[8]))
    else:
        sys.exit("ttywatch.py: unknown mode " + a[1])


main(sys.argv)
