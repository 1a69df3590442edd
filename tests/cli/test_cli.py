#!/usr/bin/env python3
"""The orchestra command as a binary: usage errors, validate, graph, run
and status, resume after SIGKILL, timeouts, the fanout example.

usage: test_cli.py ORCHESTRA SOURCE_ROOT GROUP
Prints TAP. Every case runs in a fresh temporary directory. A missing tool
(node, python3) fails the case; nothing is skipped.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ORCHESTRA = os.path.abspath(sys.argv[1])
SOURCE_ROOT = os.path.abspath(sys.argv[2])
GROUP = sys.argv[3]


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run(args, cwd, timeout=60, **kw):
    """Run orchestra; returns (exit code, stdout, stderr)."""
    p = subprocess.run([ORCHESTRA] + args, cwd=cwd, capture_output=True,
                       text=True, timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


def expect(args, cwd, code, timeout=60):
    rc, out, err = run(args, cwd, timeout)
    check(rc == code, "orchestra %s: exit %d, expected %d\nstdout:\n%s\n"
          "stderr:\n%s" % (" ".join(args), rc, code, out, err))
    return out, err


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def write_json(path, doc):
    write(path, json.dumps(doc, indent=2) + "\n")


def sh(script):
    return ["sh", "-c", script]


def status_json(cwd, wf_id, db="t.db"):
    out, _ = expect(["status", wf_id, "--json", "--db", db], cwd, 0)
    try:
        return json.loads(out)
    except ValueError as e:
        raise Failure("status --json is not JSON (%s):\n%s" % (e, out))


def tasks_by_id(doc):
    return {t["id"]: t for t in doc["tasks"]}


def alive(pid):
    """Running (not a zombie) process with this pid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def group_alive(pgid):
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            return True
    return False


def wait_for(cond, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    raise Failure("timed out waiting for " + what)


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


# ---- usage and bad input ------------------------------------------------

def test_usage_top_level(d):
    out, err = expect([], d, 2)
    check("usage: orchestra" in err, "no usage text on stderr: " + err)
    out, _ = expect(["--help"], d, 0)
    for cmd in ("run", "resume", "status", "list", "cancel", "validate",
                "graph"):
        check(re.search(r"^\s+%s\s" % cmd, out, re.M),
              "--help does not list %s:\n%s" % (cmd, out))
    out, _ = expect(["--version"], d, 0)
    check(re.fullmatch(r"orchestra \d+\.\d+\.\d+\S*\n", out),
          "--version: " + out)
    _, err = expect(["frobnicate"], d, 2)
    check("unknown command 'frobnicate'" in err, err)


def test_usage_every_subcommand_has_help(d):
    cmds = ["run", "resume", "status", "list", "cancel", "validate", "graph"]
    listed, _ = expect(["--help"], d, 0)
    if re.search(r"^\s+asl\s", listed, re.M):
        cmds.append("asl")   # built with the ASL emitter
    else:
        _, err = expect(["asl"], d, 2)
        check("without the ASL emitter" in err, err)
    for cmd in cmds:
        out, err = expect([cmd, "--help"], d, 0)
        check(out.startswith("usage: orchestra " + cmd),
              "%s --help:\n%s" % (cmd, out))
        check(err == "", "%s --help wrote to stderr: %s" % (cmd, err))


def test_usage_bad_arguments(d):
    write_json(os.path.join(d, "ok.json"),
               {"tasks": [{"id": "A", "command": ["true"]}]})
    cases = [
        (["run"], "expected one workflow file"),
        (["run", "ok.json", "ok.json"], "expected one workflow file"),
        (["run", "ok.json", "--workers", "0"], "--workers wants a number"),
        (["run", "ok.json", "--workers", "many"], "--workers wants a number"),
        (["run", "ok.json", "--bogus"], "unknown option '--bogus'"),
        (["run", "ok.json", "--db"], "--db needs a value"),
        (["run", "ok.json", "--id", "a#b"], "bad workflow id"),
        (["status"], "expected one workflow id"),
        (["status", "x", "--format", "dot"], "unknown option '--format'"),
        (["list", "extra"], "expected no arguments"),
        (["graph", "ok.json", "--format", "png"], "dot or mermaid"),
        (["validate"], "expected one workflow file"),
        (["resume"], "expected one workflow id"),
    ]
    for args, msg in cases:
        _, err = expect(args, d, 2)
        check(msg in err, "orchestra %s: stderr lacks %r:\n%s" %
              (" ".join(args), msg, err))
    check(not os.path.exists(os.path.join(d, "orchestra.db")),
          "a usage error created the database")


def test_usage_bad_files_and_input(d):
    _, err = expect(["run", "missing.json"], d, 2)
    check("missing.json" in err, err)
    write(os.path.join(d, "bad.json"), '{\n  "tasks": [\n    {"id": "A",,\n')
    _, err = expect(["run", "bad.json"], d, 2)
    check(re.search(r"bad\.json:3:\d+: error:", err), err)
    write_json(os.path.join(d, "ok.json"),
               {"tasks": [{"id": "A", "command": ["true"]}]})
    _, err = expect(["run", "ok.json", "--input", "{\"a\": tru}"], d, 2)
    check(re.search(r"--input:1:\d+: error: input is not JSON", err), err)
    _, err = expect(["run", "ok.json", "--input", "@nofile.json"], d, 2)
    check("nofile.json" in err, err)
    # Handler and Lambda targets cannot run from the command line.
    write_json(os.path.join(d, "handlers.json"), {"tasks": [
        {"id": "A", "handler": "do_a"},
        {"id": "B", "lambda": "arn:aws:lambda:eu-central-1:1:function:b",
         "dependsOn": ["A"]}]})
    _, err = expect(["run", "handlers.json"], d, 2)
    check("task 'A' has a C handler target do_a" in err, err)
    check("task 'B' has a Lambda function target" in err, err)
    check(not os.path.exists(os.path.join(d, "orchestra.db")),
          "bad input created the database")


def test_usage_unknown_workflow_and_database(d):
    _, err = expect(["status", "nope", "--db", "none.db"], d, 3)
    check("no database none.db" in err, err)
    check(not os.path.exists(os.path.join(d, "none.db")),
          "status created a database")
    write_json(os.path.join(d, "ok.json"),
               {"id": "one", "tasks": [{"id": "A", "command": ["true"]}]})
    expect(["run", "ok.json", "--db", "t.db"], d, 0)
    for args in (["status", "nope"], ["resume", "nope"],
                 ["cancel", "nope"],
                 ["graph", "ok.json", "--state", "nope"]):
        _, err = expect(args + ["--db", "t.db"], d, 3)
        check("no workflow 'nope'" in err, err)


# ---- validate and graph -------------------------------------------------

def test_validate_reports_line_and_column(d):
    # Line 3, column 9 is the '@': six spaces, '{', a space (counted by
    # hand, not taken from the program).
    write(os.path.join(d, "bad.json"),
          '{\n  "tasks": [\n      { @ }\n  ]\n}\n')
    out, err = expect(["validate", "bad.json"], d, 2)
    m = re.search(r"bad\.json:(\d+):(\d+): error: ", err)
    check(m, "no file:line:column in: " + err)
    check(m.group(1) == "3", "line %s, expected 3" % m.group(1))
    check(m.group(2) == "9", "column %s, expected 9" % m.group(2))
    check(out == "", "validate printed a summary for a bad file")


def test_validate_rejects_bad_graphs(d):
    write_json(os.path.join(d, "cycle.json"), {"tasks": [
        {"id": "A", "command": ["true"]},
        {"id": "B", "command": ["true"], "dependsOn": ["A", "C"]},
        {"id": "C", "command": ["true"], "dependsOn": ["B"]}]})
    _, err = expect(["validate", "cycle.json"], d, 2)
    check(re.search(r"cycle: (B -> C -> B|C -> B -> C)", err), err)
    write_json(os.path.join(d, "unknown.json"), {"tasks": [
        {"id": "A", "command": ["true"], "dependsOn": ["Z"]}]})
    _, err = expect(["validate", "unknown.json"], d, 2)
    check("Z" in err, err)


def test_validate_summary(d):
    out, _ = expect(["validate", os.path.join(SOURCE_ROOT, "examples",
                                              "fanout", "fanout.json")], d, 0)
    # A -> (B1, B2, B3) -> C: 5 tasks, 6 edges, 3 levels.
    check("5 tasks, 6 edges, 3 levels" in out, out)
    write_json(os.path.join(d, "h.json"),
               {"tasks": [{"id": "A", "handler": "x"}]})
    out, _ = expect(["validate", "h.json"], d, 0)
    check("1 task, 0 edges, 1 level" in out, out)
    check("not command targets" in out, out)


FANOUT_EDGES = {("A", "B1"), ("A", "B2"), ("A", "B3"),
                ("B1", "C"), ("B2", "C"), ("B3", "C")}


def dot_edges(text):
    check(re.match(r"\s*digraph\b[^{]*\{", text), "not DOT:\n" + text)
    check(text.count("{") == text.count("}") and
          text.rstrip().endswith("}"), "unbalanced DOT:\n" + text)
    return set(re.findall(r'"([^"]+)"\s*->\s*"([^"]+)"', text))


def test_graph_dot_and_mermaid(d):
    wf = os.path.join(SOURCE_ROOT, "examples", "fanout", "fanout.json")
    out, _ = expect(["graph", wf, "--format", "dot"], d, 0)
    check(dot_edges(out) == FANOUT_EDGES, "edges: %s" % dot_edges(out))
    out2, _ = expect(["graph", wf], d, 0)
    check(out2 == out, "dot is not the default format")
    out, _ = expect(["graph", wf, "--format", "mermaid"], d, 0)
    check(out.startswith("flowchart"), out)
    # Mermaid names nodes n<index> with the id as label.
    labels = dict(re.findall(r'(n\d+)\["([^"]+)"\]', out))
    edges = {(labels.get(a), labels.get(b))
             for a, b in re.findall(r"(n\d+) --> (n\d+)", out)}
    check(edges == FANOUT_EDGES, "mermaid edges: %s" % edges)


def test_graph_with_state_colours_nodes(d):
    write_json(os.path.join(d, "wf.json"), {"id": "g1", "tasks": [
        {"id": "A", "command": sh("echo 1")},
        {"id": "B", "command": sh("echo bad >&2; exit 1"),
         "retry": {"maxAttempts": 1}, "dependsOn": ["A"]},
        {"id": "C", "command": sh("echo 2"), "dependsOn": ["B"]}]})
    expect(["run", "wf.json", "--db", "t.db"], d, 1)
    plain, _ = expect(["graph", "wf.json"], d, 0)
    check("fillcolor" not in plain, plain)
    out, _ = expect(["graph", "wf.json", "--state", "g1", "--db", "t.db"],
                    d, 0)
    check(dot_edges(out) == {("A", "B"), ("B", "C")}, out)
    colour = dict(re.findall(r'"([ABC])"\s*\[[^]]*fillcolor="([^"]+)"', out))
    check(len(colour) == 3, "not every node coloured:\n" + out)
    # succeeded, failed, canceled: three different colours.
    check(len(set(colour.values())) == 3, "colours: %s" % colour)
    out, _ = expect(["graph", "wf.json", "--format", "mermaid", "--state",
                     "g1", "--db", "t.db"], d, 0)
    check(re.search(r":::succeeded", out) and re.search(r":::failed", out)
          and re.search(r":::canceled", out), out)


# ---- run, status, list, cancel -----------------------------------------

def test_run_then_status_agree(d):
    write_json(os.path.join(d, "wf.json"), {"id": "rs1", "tasks": [
        {"id": "A", "command": sh('cat >/dev/null; echo \'{"n": 41}\'')},
        # B returns its whole payload: it shows what a task receives.
        {"id": "B", "command": ["cat"], "dependsOn": ["A"]},
        {"id": "C", "command": sh("cat >/dev/null; echo "
                                  "\"{\\\"t\\\": \\\"$ORC_TASK_ID\\\", "
                                  "\\\"a\\\": $ORC_ATTEMPT}\""),
         "dependsOn": ["A"]},
        {"id": "D", "command": sh("cat >/dev/null"),
         "dependsOn": ["B", "C"]}]})
    out, err = expect(["run", "wf.json", "--db", "t.db", "--input",
                       '{"order": 42}', "--workers", "2"], d, 0)
    lines = out.splitlines()
    check(lines[0] == "workflow rs1", out)
    check(lines[-1] == "workflow rs1 SUCCEEDED", out)
    for t in "ABCD":
        check("%s SUCCEEDED attempt 1" % t in lines, out)
    doc = status_json(d, "rs1")
    check(doc["workflowId"] == "rs1" and doc["state"] == "SUCCEEDED" and
          doc["error"] is None, doc)
    tasks = tasks_by_id(doc)
    check([t["id"] for t in doc["tasks"]] == ["A", "B", "C", "D"], doc)
    for t in tasks.values():
        check(t["state"] == "SUCCEEDED" and t["attempt"] == 1 and
              t["error"] is None, t)
        check(t["elapsedMs"] >= 0 and t["startedMs"] is not None, t)
    check(tasks["A"]["output"] == {"n": 41}, tasks["A"])
    check(tasks["C"]["output"] == {"t": "C", "a": 1}, tasks["C"])
    check(tasks["D"]["output"] is None, tasks["D"])
    payload = tasks["B"]["output"]
    check(payload["workflowId"] == "rs1" and payload["taskId"] == "B" and
          payload["attempt"] == 1, payload)
    check(payload["input"] == {"order": 42}, payload)
    check(payload["dependencies"] == {"A": {"n": 41}}, payload)
    # The table says the same.
    out, _ = expect(["status", "rs1", "--db", "t.db"], d, 0)
    check(out.startswith("workflow rs1: SUCCEEDED"), out)
    for t in "ABCD":
        check(re.search(r"^%s\s+SUCCEEDED\s+1\s+\d+\.\ds$" % t, out, re.M),
              out)
    # Without --input, the file's "input" is the input.
    write_json(os.path.join(d, "env.json"), {"id": "rs2", "input": [1, "x"],
               "tasks": [{"id": "P", "command": ["cat"]}]})
    expect(["run", "env.json", "--db", "t.db"], d, 0)
    check(tasks_by_id(status_json(d, "rs2"))["P"]["output"]["input"] ==
          [1, "x"], "the file's input was not used")
    # Running the same id and definition again changes nothing.
    out, _ = expect(["run", "wf.json", "--db", "t.db"], d, 0)
    check(out.splitlines()[-1] == "workflow rs1 SUCCEEDED", out)
    check(status_json(d, "rs1") == doc, "a repeated run changed the state")


def test_run_failure_is_exit_1_with_the_error(d):
    write_json(os.path.join(d, "wf.json"), {"id": "f1", "tasks": [
        {"id": "A", "command": sh("echo first >&2; echo 'oh no' >&2; "
                                  "exit 3"),
         "retry": {"maxAttempts": 2, "intervalMs": 10}},
        {"id": "B", "command": sh("echo 1"), "dependsOn": ["A"]}]})
    out, _ = expect(["run", "wf.json", "--db", "t.db"], d, 1)
    check(re.search(r"^workflow f1 FAILED: .*oh no", out, re.M), out)
    doc = status_json(d, "f1")
    tasks = tasks_by_id(doc)
    check(doc["state"] == "FAILED" and "oh no" in doc["error"], doc)
    check(tasks["A"]["state"] == "FAILED" and tasks["A"]["attempt"] == 2,
          tasks["A"])
    check("exited with status 3" in tasks["A"]["error"], tasks["A"])
    check(tasks["A"]["error"].rstrip().endswith("oh no"), tasks["A"])
    check(tasks["B"]["state"] == "CANCELED" and tasks["B"]["attempt"] == 0,
          tasks["B"])
    out, _ = expect(["status", "f1", "--db", "t.db"], d, 0)
    check(re.search(r"^A\s+FAILED\s+2\s", out, re.M), out)


def test_run_generated_id_and_relative_paths(d):
    # The task script lives beside the workflow file; run from elsewhere.
    wdir = os.path.join(d, "flows")
    write(os.path.join(wdir, "bin", "hello.sh"),
          "#!/bin/sh\ncat >/dev/null\necho '{\"hello\": \"'\"$1\"'\"}'\n")
    write_json(os.path.join(wdir, "hello.json"), {"tasks": [
        {"id": "H", "command": ["sh", "bin/hello.sh", "world"]}]})
    other = os.path.join(d, "elsewhere")
    os.makedirs(other)
    out, _ = expect(["run", "../flows/hello.json", "--db", "t.db"], other, 0)
    m = re.match(r"workflow (\S+)\n", out)
    check(m and m.group(1).startswith("hello-"), out)
    wf_id = m.group(1)
    doc = status_json(other, wf_id)
    check(tasks_by_id(doc)["H"]["output"] == {"hello": "world"}, doc)
    # --id wins, and a new id is a new run.
    out, _ = expect(["run", "../flows/hello.json", "--db", "t.db", "--id",
                     "mine"], other, 0)
    check(out.startswith("workflow mine\n"), out)
    # Same id, other definition: refused.
    write_json(os.path.join(wdir, "hello.json"), {"tasks": [
        {"id": "H2", "command": ["true"]}]})
    _, err = expect(["run", "../flows/hello.json", "--db", "t.db", "--id",
                     "mine"], other, 2)
    check("already exists with another definition" in err, err)


def test_list_and_cancel(d):
    write_json(os.path.join(d, "quick.json"), {"id": "q1", "tasks": [
        {"id": "A", "command": ["true"]}]})
    expect(["run", "quick.json", "--db", "t.db"], d, 0)
    write_json(os.path.join(d, "slow.json"), {"id": "s1", "tasks": [
        {"id": "A", "command": sh("cat >/dev/null; sleep 2")},
        {"id": "B", "command": ["true"], "dependsOn": ["A"]},
        {"id": "C", "command": ["true"], "dependsOn": ["B"]}]})
    p = subprocess.Popen([ORCHESTRA, "run", "slow.json", "--db", "t.db"],
                         cwd=d, stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: run(["status", "s1", "--db", "t.db", "--json"],
                             d)[0] == 0, 10, "s1 to start")
        out, _ = expect(["cancel", "s1", "--db", "t.db"], d, 0)
        check("workflow s1 CANCELED" in out, out)
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    check(p.returncode == 1, "run of a canceled workflow: exit %d\n%s" %
          (p.returncode, out))
    check(out.splitlines()[-1].startswith("workflow s1 CANCELED"), out)
    tasks = tasks_by_id(status_json(d, "s1"))
    check(tasks["B"]["state"] == "CANCELED" and
          tasks["C"]["state"] == "CANCELED", tasks)
    out, _ = expect(["cancel", "s1", "--db", "t.db"], d, 0)
    check("already CANCELED" in out, out)
    out, _ = expect(["list", "--db", "t.db"], d, 0)
    check(re.search(r"^q1\s+SUCCEEDED\s+1\s", out, re.M), out)
    check(re.search(r"^s1\s+CANCELED\s+3\s", out, re.M), out)
    out, _ = expect(["list", "--db", "t.db", "--json"], d, 0)
    ids = {w["workflowId"]: w["state"] for w in json.loads(out)}
    check(ids == {"q1": "SUCCEEDED", "s1": "CANCELED"}, ids)


# ---- crash and resume, timeouts ----------------------------------------

def log_task(name, log, work="", timeout_ms=None, deps=()):
    """A task that logs 'start' and 'done' lines around @work."""
    script = ('cat >/dev/null; echo "%s start $ORC_ATTEMPT" >> "%s"; %s '
              'echo "%s done $ORC_ATTEMPT" >> "%s"; echo \'{"t": "%s"}\'' %
              (name, log, work, name, log, name))
    t = {"id": name, "command": sh(script), "dependsOn": list(deps)}
    if timeout_ms:
        t["timeoutMs"] = timeout_ms
    return t


def test_resume_after_sigkill(d):
    log = os.path.join(d, "effects.log")
    spid = os.path.join(d, "s.pid")
    write_json(os.path.join(d, "wf.json"), {"id": "k1", "tasks": [
        log_task("A", log),
        # S records its pid, so the test can end it as a machine crash
        # would; its lease is its timeout (4 s).
        log_task("S", log, 'echo $$ > "%s"; sleep 3;' % spid, 4000,
                 ["A"]),
        log_task("Z", log, deps=["S"])]})
    p = subprocess.Popen([ORCHESTRA, "run", "wf.json", "--db", "t.db",
                          "--lease-ms", "1000"], cwd=d,
                         stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: "S start 1" in read_lines(log), 20, "S to start")
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    check(p.returncode == -signal.SIGKILL, "run exited by itself")
    wait_for(lambda: os.path.exists(spid) and
             os.path.getsize(spid) > 0, 5, "S's pid file")
    with open(spid) as f:
        os.killpg(int(f.read()), signal.SIGKILL)
    doc = status_json(d, "k1")
    check(doc["state"] == "RUNNING", doc)
    check(tasks_by_id(doc)["S"]["state"] == "RUNNING", doc)
    t0 = time.time()
    out, _ = expect(["resume", "k1", "--db", "t.db"], d, 0, timeout=60)
    check(out.splitlines()[-1] == "workflow k1 SUCCEEDED", out)
    check(time.time() - t0 < 30, "resume took too long")
    doc = status_json(d, "k1")
    tasks = tasks_by_id(doc)
    check(doc["state"] == "SUCCEEDED", doc)
    check(tasks["A"]["attempt"] == 1 and tasks["S"]["attempt"] == 2 and
          tasks["Z"]["attempt"] == 1, tasks)
    done = [l for l in read_lines(log) if " done " in l]
    check(sorted(done) == ["A done 1", "S done 2", "Z done 1"],
          "side effects: %s" % read_lines(log))
    # Resuming a finished workflow is a no-op that reports its state.
    out, _ = expect(["resume", "k1", "--db", "t.db"], d, 0)
    check(out.splitlines()[-1] == "workflow k1 SUCCEEDED", out)
    check(sorted(l for l in read_lines(log) if " done " in l) == done,
          "resume of a finished workflow ran tasks again")


KILL_SEED = int(os.environ.get("ORC_TEST_SEED", "20261127"), 0)


def integrity_ok(db):
    import sqlite3
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()


def kill_after(args, cwd, delay):
    """Start orchestra, SIGKILL it after @delay s; True if it was killed
    (False: it finished first)."""
    p = subprocess.Popen([ORCHESTRA] + args, cwd=cwd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        p.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
    p.wait()
    return p.returncode == -signal.SIGKILL


def test_sigkill_loop_then_resume(d):
    """kill -9 of run, then of resume, at random moments (a fixed seed)
    while tasks run and state is committed; then resume finishes each
    workflow, the file is intact, and each task succeeded exactly once:
    its winning attempt is in the side-effect log once, and no attempt
    ran after it. (Attempts cut off by a kill may have run too: commands
    are at-least-once, docs/cli.md.)"""
    import random
    rng = random.Random(KILL_SEED)
    log = os.path.join(d, "effects.log")
    # The sleep keeps a run (about 0.3 s) longer than most kill delays.
    cmd = sh('cat >/dev/null; sleep 0.03; echo "$ORC_WORKFLOW_ID '
             '$ORC_TASK_ID $ORC_ATTEMPT" >> "%s"' % log)
    bs = ["B%d" % i for i in range(16)]
    tasks = [{"id": "A", "command": cmd}]
    tasks += [{"id": b, "command": cmd, "dependsOn": ["A"]} for b in bs]
    tasks += [{"id": "C%d" % i, "command": cmd, "dependsOn": bs}
              for i in range(4)]
    write_json(os.path.join(d, "wf.json"), {
        "defaults": {"retry": {"maxAttempts": 20, "intervalMs": 0}},
        "tasks": tasks})
    opts = ["--db", "t.db", "--lease-ms", "300", "--plain"]
    kills = 0
    for i in range(8):
        wf = "kl%d" % i
        where = "seed %d (ORC_TEST_SEED repeats it), %s" % (KILL_SEED, wf)
        kills += kill_after(["run", "wf.json", "--id", wf] + opts, d,
                            rng.uniform(0.0, 0.25))
        check(integrity_ok(os.path.join(d, "t.db")), where)
        # A kill before the start was committed leaves nothing to resume.
        started = run(["status", wf, "--db", "t.db"], d)[0] == 0
        again = ["resume", wf] if started else ["run", "wf.json", "--id", wf]
        # resume waits up to one lease (0.3 s) before rerunning tasks.
        kills += kill_after(again + opts, d, rng.uniform(0.0, 0.5))
        check(integrity_ok(os.path.join(d, "t.db")), where)
        out, _ = expect(["resume", wf] + opts, d, 0)
        check(out.splitlines()[-1] == "workflow %s SUCCEEDED" % wf,
              where + "\n" + out)
        doc = status_json(d, wf)
        lines = [l.split() for l in read_lines(log)]
        for t in doc["tasks"]:
            ran = [int(a) for w, task, a in lines if w == wf and
                   task == t["id"]]
            check(t["state"] == "SUCCEEDED", "%s: %s" % (where, t))
            check(len(ran) == len(set(ran)), "%s: %s attempts ran twice: "
                  "%s" % (where, t["id"], ran))
            check(t["attempt"] in ran and max(ran) == t["attempt"],
                  "%s: %s succeeded in attempt %d, log has %s" %
                  (where, t["id"], t["attempt"], ran))
    check(integrity_ok(os.path.join(d, "t.db")), "seed %d" % KILL_SEED)
    check(kills >= 8, "seed %d: only %d of 16 runs were killed" %
          (KILL_SEED, kills))


def test_resume_after_sigint(d):
    log = os.path.join(d, "effects.log")
    spid = os.path.join(d, "s.pid")
    write_json(os.path.join(d, "wf.json"), {"id": "i1", "tasks": [
        log_task("A", log),
        log_task("S", log, 'echo $$ > "%s"; sleep 2;' % spid, 4000, ["A"]),
        log_task("Z", log, deps=["S"])]})
    # S's lease is its 4 s timeout: resume waits for it at most that long.
    p = subprocess.Popen([ORCHESTRA, "run", "wf.json", "--db", "t.db",
                          "--lease-ms", "1000"], cwd=d,
                         stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: "S start 1" in read_lines(log) and
                 os.path.getsize(spid) > 0, 20, "S to start")
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    check(p.returncode == 130, "SIGINT: exit %d, expected 130" % p.returncode)
    # The running command was stopped with orchestra, not left behind.
    with open(spid) as f:
        s_pid = int(f.read())
    wait_for(lambda: not group_alive(s_pid), 5, "S's processes to stop")
    check("S done 1" not in read_lines(log), "S finished after Ctrl-C")
    out, _ = expect(["resume", "i1", "--db", "t.db"], d, 0)
    check(out.splitlines()[-1] == "workflow i1 SUCCEEDED", out)
    done = sorted(l for l in read_lines(log) if " done " in l)
    check(done == ["A done 1", "S done 2", "Z done 1"],
          "side effects: %s" % read_lines(log))


def test_timeout_kills_task_and_children(d):
    lpid = os.path.join(d, "leader.pid")
    gpid = os.path.join(d, "grandchild.pid")
    write_json(os.path.join(d, "wf.json"), {"id": "t1", "tasks": [
        {"id": "T", "timeoutMs": 500, "retry": {"maxAttempts": 1},
         "command": sh('echo $$ > "%s"; sleep 100 & echo $! > "%s"; '
                       'sleep 100' % (lpid, gpid))}]})
    t0 = time.time()
    out, _ = expect(["run", "wf.json", "--db", "t.db"], d, 1, timeout=60)
    check(time.time() - t0 < 20, "the timeout did not stop the task")
    check(out.splitlines()[-1].startswith("workflow t1 FAILED"), out)
    task = tasks_by_id(status_json(d, "t1"))["T"]
    check(task["state"] == "FAILED" and "timed out" in task["error"], task)
    with open(lpid) as f:
        leader = int(f.read())
    with open(gpid) as f:
        grandchild = int(f.read())
    wait_for(lambda: not alive(grandchild), 5, "the grandchild to go")
    check(not group_alive(leader), "a process of the task's group survived")


# ---- the fanout example -------------------------------------------------

def test_fanout_example(d):
    for tool in ("node", "python3"):
        check(shutil.which(tool), "%s is needed by the fanout example "
              "(bash .ci/setup installs it)" % tool)
    wf = os.path.join("examples", "fanout", "fanout.json")
    db = os.path.join(d, "t.db")
    # From the repository root, as the docs say.
    out, _ = expect(["run", wf, "--db", db, "--id", "fan1", "--input",
                     '{"start": 4}'], SOURCE_ROOT, 0)
    check(out.splitlines()[-1] == "workflow fan1 SUCCEEDED", out)
    # The result, C's aggregate, is printed just before (C is the sink).
    check(out.splitlines()[-2].startswith("C output: "), out)
    check(json.loads(out.splitlines()[-2][len("C output: "):]) ==
          {"total": 40, "parts": {"B1": {"value": 8, "by": "node"},
                                  "B2": {"value": 12, "by": "python"},
                                  "B3": {"value": 20, "by": "sh"}}}, out)
    tasks = tasks_by_id(status_json(d, "fan1", db))
    check(tasks["A"]["output"] == {"seed": 4, "by": "node"}, tasks["A"])
    check(tasks["C"]["output"] == {"total": 4 * 2 + 4 * 3 + 4 * 5, "parts": {
        "B1": {"value": 8, "by": "node"},
        "B2": {"value": 12, "by": "python"},
        "B3": {"value": 20, "by": "sh"}}}, tasks["C"])
    # From another directory: paths are resolved beside the file.
    out, _ = expect(["run", os.path.join(SOURCE_ROOT, wf), "--db", db,
                     "--id", "fan2"], d, 0)
    check(out.splitlines()[-1] == "workflow fan2 SUCCEEDED", out)
    tasks = tasks_by_id(status_json(d, "fan2", db))
    check(tasks["C"]["output"]["total"] == 7 * 10, tasks["C"])


def test_live_view_on_a_terminal(d):
    import pty
    write_json(os.path.join(d, "wf.json"), {"id": "v1", "tasks": [
        {"id": "A", "command": sh("cat >/dev/null; sleep 0.6")},
        {"id": "B", "command": ["true"], "dependsOn": ["A"]}]})
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(d)
        os.execv(ORCHESTRA, [ORCHESTRA, "run", "wf.json", "--db", "t.db"])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", "replace")
    check(os.waitstatus_to_exitcode(status) == 0, text)
    # Redrawn in place: cursor up and line clears, cursor hidden and shown.
    check(re.search(r"\x1b\[\d+A", text), "no cursor movement: %r" % text)
    check("\x1b[2K" in text and "\x1b[?25l" in text and "\x1b[?25h" in text,
          repr(text))
    check(re.search(r"A\s+\S*RUNNING", text), "never showed A running")
    check(text.rstrip().endswith("workflow v1 SUCCEEDED"), repr(text[-200:]))


GROUPS = {
    "usage": [test_usage_top_level, test_usage_every_subcommand_has_help,
              test_usage_bad_arguments, test_usage_bad_files_and_input,
              test_usage_unknown_workflow_and_database],
    "validate": [test_validate_reports_line_and_column,
                 test_validate_rejects_bad_graphs, test_validate_summary],
    "graph": [test_graph_dot_and_mermaid, test_graph_with_state_colours_nodes],
    "run": [test_run_then_status_agree,
            test_run_failure_is_exit_1_with_the_error,
            test_run_generated_id_and_relative_paths, test_list_and_cancel,
            test_live_view_on_a_terminal],
    "resume": [test_resume_after_sigkill, test_resume_after_sigint],
    "killloop": [test_sigkill_loop_then_resume],
    "timeout": [test_timeout_kills_task_and_children],
    "fanout": [test_fanout_example],
}


def main():
    cases = GROUPS[GROUP]
    print("1..%d" % len(cases))
    failed = 0
    for i, case in enumerate(cases, 1):
        d = tempfile.mkdtemp(prefix="orc-cli-")
        try:
            case(d)
            print("ok %d - %s" % (i, case.__name__))
        except (Failure, subprocess.TimeoutExpired, OSError,
                ValueError, KeyError, TypeError) as e:
            failed += 1
            print("not ok %d - %s" % (i, case.__name__))
            for line in ("%s: %s" % (type(e).__name__, e)).splitlines():
                print("# " + line)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
