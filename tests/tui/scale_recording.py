#!/usr/bin/env python3
"""Make a large recording out of a real one, for tests/tui/test_scale.sh.

    python3 tests/tui/scale_recording.py REAL OUT [--sessions N] [--lock-nodes M] [--seed S]

REAL is a short `cockpit record` of the test cluster while it holds a small
lock chain (an agent-tagged root idle in transaction, waiters on its row).
Every frame of REAL becomes one frame of OUT: the same top-level fields
(server, disk, statements, collector, clocks), the non-client backends as
recorded, and N client backends cloned from the recorded ones (every key a
recorded session has, nothing else), with varied states, applications,
users and agent tags. M of them form a wait-for graph whose edges are clones
of the recorded edges (mode, lock type, relation): root blockers idle in
transaction with trees and chains of waiters behind them, sessions waiting
on two blockers, queued (soft) waits, and three deadlock cycles with waiters
behind them. The graph is the same in every frame; its waits get older from
frame to frame, and some sessions outside it change state.

What the TUI must show is computed here from the edges as written (wait-for
analysis: Tarjan's strongly connected components, roots, chain depths,
sessions blocked behind each root), not from the construction parameters,
and printed as shell assignments (SCALE_*=...) on stdout. The same analysis
fills the lock graph's nodes, cycles and roots in each frame, so OUT reads
like what `cockpit record` writes (the loader rebuilds the graph from the
edges anyway).
"""
import argparse
import json
import random
import sys

CYCLE_SIZES = (2, 3, 5)
APPS = ("web", "api", "checkout", "psql", "billing-worker", "reporting", "pgbench", "cron")
USERS = ("app_rw", "app_ro", "report", "batch")
AGENTS = ("report-bot", "etl-agent", "index-advisor", "support-copilot", "agent-pool-1",
          "agent-pool-2", "vacuum-planner", "migrator")
QUERIES = (
    "SELECT id, status, total FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20",
    "UPDATE carts SET updated_at = now() WHERE session_id = $1",
    "INSERT INTO events (kind, payload) VALUES ($1, $2)",
    "SELECT count(*) FROM line_items li JOIN orders o ON o.id = li.order_id WHERE o.day = $1",
    "COMMIT",
    "SELECT pg_sleep(0.5)",
    "DELETE FROM sessions WHERE expires_at < now()",
    "SELECT * FROM products WHERE sku = ANY($1)",
)


def fail(msg):
    sys.exit("scale_recording: " + msg)


def load(path):
    frames = []
    with open(path) as f:
        for line in f:
            if line.strip():
                frames.append(json.loads(line))
    if not frames:
        fail("%s: no frames" % path)
    return frames


def templates(frames):
    """The recorded client backends and edges the clones are made from."""
    for fr in reversed(frames):
        edges = fr["lock_graph"]["edges"]
        clients = [s for s in fr["sessions"] if s.get("backend_type") == "client backend"]
        by_pid = {s["pid"]: s for s in clients}
        blockers = {e["blocker"] for e in edges}
        waiters = {e["waiter"] for e in edges}
        roots = [by_pid[p] for p in blockers - waiters if p in by_pid]
        waiting = [by_pid[p] for p in waiters if p in by_pid]
        if edges and roots and waiting:
            return clients, roots[0], waiting, edges
    fail("no recorded frame has a lock chain with its sessions (root and waiters)")


def analyse(edges):
    """The wait-for graph of edges (dicts with waiter, blocker) as lockgraph.h
    defines it: nodes, root blockers, cycles (strongly connected components
    of two or more nodes, or a self-loop), depths, sessions blocked behind
    each root and each cycle."""
    out, inn = {}, {}
    for e in edges:
        w, b = e["waiter"], e["blocker"]
        out.setdefault(w, set()).add(b)
        inn.setdefault(b, set()).add(w)
        out.setdefault(b, set())
        inn.setdefault(w, set())
    nodes = sorted(out)
    # Tarjan, iterative.
    index, low, comp, stack, comps = {}, {}, {}, [], []
    counter = 0
    for s in nodes:
        if s in index:
            continue
        work = [(s, iter(sorted(out[s])))]
        index[s] = low[s] = counter
        counter += 1
        stack.append(s)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    work.append((nxt, iter(sorted(out[nxt]))))
                elif nxt not in comp:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                members = []
                while True:
                    x = stack.pop()
                    comp[x] = len(comps)
                    members.append(x)
                    if x == v:
                        break
                comps.append(sorted(members))
    cycles = sorted((c for c in comps if len(c) > 1 or c[0] in out[c[0]]), key=lambda c: c[0])
    cycle_of = {p: i for i, c in enumerate(cycles) for p in c}
    roots = [p for p in nodes if not out[p]]
    # Depth: 0 for roots and cycle members, else one more than the deepest
    # blocker. Components come out of Tarjan sinks first: one pass in that order.
    depth = {}
    for c in comps:
        for v in c:
            if v in cycle_of or not out[v]:
                depth[v] = 0
            else:
                depth[v] = 1 + max(depth[b] for b in out[v])

    def behind(seeds):
        seen, todo = set(seeds), list(seeds)
        while todo:
            for w in inn[todo.pop()]:
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return len(seen) - len(seeds)

    blocked = {p: 0 for p in nodes}
    for r in roots:
        blocked[r] = behind([r])
    for c in cycles:
        n = behind(c)
        for p in c:
            blocked[p] = n
    roots.sort(key=lambda p: (-blocked[p], p))
    return {"nodes": nodes, "out": out, "inn": inn, "roots": roots, "cycles": cycles,
            "cycle_of": cycle_of, "depth": depth, "blocked": blocked,
            "max_depth": max(depth.values()) if depth else 0}


def build_graph(rng, pids, edge_tmpl, now):
    """Edges over pids (the lock graph's sessions, len(pids) of them), waits
    begun up to 15 minutes before now."""
    m = len(pids)
    ncycle = sum(CYCLE_SIZES)
    nroots = max(1, m // 25)
    if m < nroots + ncycle + 3 * len(CYCLE_SIZES) + nroots + 1:
        fail("%d lock nodes are too few for the graph's shape" % m)
    hard = [e for e in edge_tmpl if e.get("kind") == "hard"] or edge_tmpl
    first = [e for e in hard if e.get("locktype") == "transactionid"] or hard
    edges = []

    def edge(w, b, tmpl):
        e = dict(tmpl)
        e["waiter"], e["blocker"] = pids[w], pids[b]
        e["kind"] = "soft" if rng.random() < 0.08 else "hard"
        e["wait_start"] = round(now - rng.uniform(1, 900), 6)
        edges.append(e)

    roots = list(range(nroots))
    nxt = nroots
    cycle_members = []
    for size in CYCLE_SIZES:
        ms = list(range(nxt, nxt + size))
        nxt += size
        for i, v in enumerate(ms):
            edge(v, ms[(i + 1) % size], rng.choice(hard))
        if size > 3:
            edge(ms[0], ms[2], rng.choice(hard))  # a chord: still one cycle
        cycle_members.append(ms)
    # Waiters behind each cycle: two on members, one chained, one that also
    # waits for a root (a join of a cycle and a tree).
    for ms in cycle_members:
        a, b, c, d = nxt, nxt + 1, nxt + 2, nxt + 3
        nxt += 4
        edge(a, ms[0], rng.choice(first))
        edge(b, ms[-1], rng.choice(first))
        edge(c, a, rng.choice(edge_tmpl))
        edge(d, ms[1], rng.choice(first))
        edge(d, rng.choice(roots), rng.choice(first))
    # Trees: every root gets a waiter first, then each new waiter waits for
    # the previous one (chains) or any earlier tree node, sometimes for a
    # second one (joins). Blockers are always created earlier: no cycle here.
    tree = list(roots)
    for r in roots:
        edge(nxt, r, rng.choice(first))
        tree.append(nxt)
        nxt += 1
    # One long chain from the first root.
    prev = roots[0]
    for _ in range(min(40, (m - nxt) // 4)):
        edge(nxt, prev, rng.choice(edge_tmpl))
        tree.append(nxt)
        prev = nxt
        nxt += 1
    while nxt < m:
        b = tree[-1] if rng.random() < 0.3 else rng.choice(tree)
        edge(nxt, b, rng.choice(first if b in roots else edge_tmpl))
        if rng.random() < 0.06:
            b2 = rng.choice(tree)
            if b2 != b:
                edge(nxt, b2, rng.choice(edge_tmpl))
        tree.append(nxt)
        nxt += 1
    return edges


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("real")
    ap.add_argument("out")
    ap.add_argument("--sessions", type=int, default=5000)
    ap.add_argument("--lock-nodes", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=5000)
    a = ap.parse_args()
    if a.lock_nodes > a.sessions:
        fail("more lock nodes than sessions")
    rng = random.Random(a.seed)
    frames = load(a.real)
    clients, root_tmpl, wait_tmpls, edge_tmpl = templates(frames)
    others = [s for s in clients if s is not root_tmpl and s not in wait_tmpls]
    plain_tmpls = others or wait_tmpls

    now0 = frames[0]["server"]["now"] or frames[0]["collected_at_epoch"]
    top = max(s["pid"] for fr in frames for s in fr["sessions"])
    pids, p = [], top + 1000
    for _ in range(a.sessions):
        p += rng.randint(1, 3)
        pids.append(p)
    lock_pids = rng.sample(pids, a.lock_nodes)
    edges = build_graph(rng, lock_pids, edge_tmpl, now0)
    g = analyse(edges)
    if len(g["nodes"]) != a.lock_nodes:
        fail("the graph has %d nodes, not %d" % (len(g["nodes"]), a.lock_nodes))
    first_wait = {}
    for e in edges:
        first_wait.setdefault(e["waiter"], e)

    # Who each client backend is, the same in every frame.
    people = []
    for pid in pids:
        tagged = rng.random() < 0.3
        people.append({
            "pid": pid,
            "user": rng.choice(USERS + (root_tmpl["user"],)),
            "app": rng.choice(APPS),
            "agent": (rng.choice(AGENTS), "t-%d" % rng.randint(1, 400),
                      rng.choice(("plan", "fetch", "write", "verify"))) if tagged else None,
            "start": now0 - rng.uniform(5, 86400),
            "age": rng.uniform(0, 3600),
            "query": rng.choice(QUERIES),
            "state": rng.choices(("idle", "active", "idle in transaction",
                                  "idle in transaction (aborted)"), (60, 30, 8, 2))[0],
        })

    def rng_pick(tmpls, pid):
        return tmpls[pid % len(tmpls)]

    def session(person, now, fi):
        pid = person["pid"]
        if pid in g["out"] and not g["out"][pid]:
            x = dict(root_tmpl)  # a root blocker: idle in transaction, holding its row
            x["state_change"] = now0 - person["age"] / 4 - 30
            x["xact_start"] = x["query_start"] = x["state_change"] - 1
        elif pid in g["out"]:
            e = first_wait[pid]
            x = dict(rng_pick(wait_tmpls, pid))
            x["wait_event_type"], x["wait_event"] = "Lock", e.get("locktype") or "relation"
            x["xact_start"] = x["query_start"] = x["state_change"] = e["wait_start"] - 0.01
        else:
            x = dict(rng_pick(plain_tmpls, pid))
            state = person["state"]
            if (pid + fi) % 9 == 0:  # some sessions change state from frame to frame
                state = "active" if state != "active" else "idle"
            x["state"] = state
            x["wait_event_type"], x["wait_event"] = {
                "idle": ("Client", "ClientRead"),
                "active": (None, None) if pid % 3 else ("IO", "DataFileRead"),
            }.get(state, ("Client", "ClientRead"))
            changed = now - person["age"] if (pid + fi) % 9 else now - 0.2
            x["state_change"] = changed
            x["query_start"] = changed
            x["xact_start"] = changed if state != "idle" else None
        q = person["query"] if pid not in g["out"] else x["query"]
        if q.startswith("/*"):  # the recorded tag: the clone gets its own, or none
            q = q.split("*/", 1)[1].strip()
        x.update(pid=pid, leader_pid=None, user=person["user"], application=person["app"],
                 backend_type="client backend", backend_start=person["start"],
                 agent_id=None, task_id=None, step=None)
        if person["agent"]:
            ag, task, step = person["agent"]
            q = "/* agent_id=%s, task_id=%s, step=%s */ %s" % (ag, task, step, q)
            x.update(agent_id=ag, task_id=task, step=step)
        x["query"] = q
        x["xmin_age"] = None if x["state"] == "idle" else 1 + pid % 50
        for k in ("xact_start", "query_start", "state_change"):
            if x[k] is not None:
                x[k] = round(min(x[k], now), 6)
        return x

    def lock_graph():
        nodes = [{"pid": p, "root": not g["out"][p], "waiting": bool(g["out"][p]),
                  "blocking": len(g["inn"][p]), "depth": g["depth"][p],
                  "cycle": g["cycle_of"].get(p), "blocked_total":
                  g["blocked"][p], "prepared_xact": False} for p in g["nodes"]]
        return {"nodes": nodes, "edges": edges, "cycles": g["cycles"], "roots": g["roots"],
                "max_depth": g["max_depth"]}

    def agents(sessions, now):
        by = {}
        active_total = 0
        for x in sessions:
            active = x["state"] == "active"
            if active and x["backend_type"] == "client backend":
                active_total += 1
            if not x["agent_id"]:
                continue
            ag = by.setdefault(x["agent_id"], {
                "agent_id": x["agent_id"], "sessions": 0, "active": 0, "idle": 0,
                "idle_in_transaction": 0, "waiting": 0, "longest_idle_in_xact_s": 0,
                "longest_query_s": 0, "task_id": None, "step": None, "db_time_share": 0,
                "db_time_ms": 0, "active_share": 0})
            ag["sessions"] += 1
            if x["wait_event_type"] == "Lock":
                ag["waiting"] += 1
            if active:
                ag["active"] += 1
                ag["longest_query_s"] = max(ag["longest_query_s"], round(now - x["query_start"], 3))
            elif x["state"] == "idle":
                ag["idle"] += 1
            elif x["state"].startswith("idle in transaction"):
                ag["idle_in_transaction"] += 1
                ag["longest_idle_in_xact_s"] = max(ag["longest_idle_in_xact_s"],
                                                   round(now - x["state_change"], 3))
            if x["task_id"] and (not ag["task_id"] or active):
                ag["task_id"], ag["step"] = x["task_id"], x["step"]
        for ag in by.values():
            ag["active_share"] = round(ag["active"] / active_total, 3) if active_total else 0
        return sorted(by.values(), key=lambda ag: (-ag["sessions"], ag["agent_id"]))

    with open(a.out, "w") as f:
        for fi, fr in enumerate(frames):
            now = fr["server"]["now"] or fr["collected_at_epoch"]
            fr = dict(fr)
            sessions = [s for s in fr["sessions"] if s.get("backend_type") != "client backend"]
            sessions += [session(person, now, fi) for person in people]
            fr["sessions"] = sessions
            fr["lock_graph"] = lock_graph()
            fr["agents"] = agents(sessions, now)
            # A server holding this many backends allows them, with room.
            fr["server"] = dict(fr["server"], max_connections=max(
                fr["server"]["max_connections"] or 0, 2 * a.sessions))
            f.write(json.dumps(fr, separators=(",", ":")) + "\n")

    last = g["cycles"][-1]
    print("SCALE_FRAMES=%d" % len(frames))
    print("SCALE_SESSIONS=%d" % len(pids))
    print("SCALE_MIN_PID=%d" % min(pids))
    print("SCALE_MAX_PID=%d" % max(pids))
    print("SCALE_NODES=%d" % len(g["nodes"]))
    print("SCALE_ROOTS=%d" % len(g["roots"]))
    print("SCALE_CYCLES=%d" % len(g["cycles"]))
    print("SCALE_WAITING=%d" % (len(g["nodes"]) - len(g["roots"])))
    print("SCALE_DEPTH=%d" % g["max_depth"])
    print("SCALE_TOP_ROOT=%d" % g["roots"][0])
    print("SCALE_TOP_BLOCKS=%d" % g["blocked"][g["roots"][0]])
    print("SCALE_LAST_CYCLE='%s'" % " ".join(str(p) for p in last[:8]))
    print("SCALE_LAST_CYCLE_BLOCKS=%d" % g["blocked"][last[0]])


if __name__ == "__main__":
    main()
