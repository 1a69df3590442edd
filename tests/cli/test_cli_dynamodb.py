#!/usr/bin/env python3
"""The orchestra command on DynamoDB: table create, then run, status,
list, cancel and resume with --backend dynamodb --table NAME, against
dynalite (node_modules/dynalite, pinned in package-lock.json) started here
on a free loopback port and stopped afterwards. Request counts and storage
faults go through a proxy in front of dynalite (Proxy below) that counts
every request by operation and, given a seed, injects faults.

usage: test_cli_dynamodb.py ORCHESTRA SOURCE_ROOT dynamodb
Prints TAP. A missing node or dynalite fails every case; nothing is
skipped.
"""
import collections
import http.client
import http.server
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

# The TAP runner and helpers of test_cli.py, which reads ORCHESTRA,
# SOURCE_ROOT and the group from argv as this script does.
import test_cli
from test_cli import check, expect, read_lines, run, write_json

ORCHESTRA = test_cli.ORCHESTRA
SOURCE_ROOT = test_cli.SOURCE_ROOT
FANOUT = os.path.join(SOURCE_ROOT, "examples", "fanout", "fanout.json")
SECRET = "cli-test-secret"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Dynalite:
    """dynalite on 127.0.0.1; os.environ as the SDKs read it, so every
    orchestra started from here talks to it."""

    def __init__(self):
        cli = os.path.join(SOURCE_ROOT, "node_modules", "dynalite",
                           "cli.js")
        self.proc = None
        self.error = None
        if not shutil.which("node"):
            self.error = "node is needed (bash .ci/setup)"
            return
        if not os.path.exists(cli):
            self.error = cli + " missing: run `npm ci`"
            return
        port = free_port()
        self.proc = subprocess.Popen(
            ["node", cli, "--port", str(port), "--host", "127.0.0.1",
             "--createTableMs", "0"], stdout=subprocess.DEVNULL)
        end = time.time() + 15
        while self.error is None:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    self.error = "dynalite exited"
                elif time.time() > end:
                    self.error = "dynalite does not answer"
                time.sleep(0.05)
        for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(k, None)
        os.environ.update({
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:%d" % port,
            "AWS_ACCESS_KEY_ID": "AKIDCLITEST",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            # dynalite has no TransactWriteItems: without this, each
            # process's first start asks once and is refused (one more
            # request). The transaction path is counted on moto by
            # tests/bench/requests.
            "ORC_DYNAMODB_TRANSACTIONS": "off"})

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


DL = None


class Proxy:
    """An HTTP proxy on 127.0.0.1 in front of dynalite: counts requests
    by operation (X-Amz-Target) and, with @seed, injects faults in the
    order requests arrive: 10 % throttles (400 ThrottlingException or
    ProvisionedThroughputExceededException), 10 % HTTP 500, 5 % dropped
    connections (closed without an answer, not forwarded), 5 % writes
    applied by dynalite and then answered 500."""

    WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")

    def __init__(self, target, seed=None):
        self.target = target
        self.rng = random.Random(seed) if seed is not None else None
        self.lock = threading.Lock()
        self.ops = collections.Counter()
        self.faults = collections.Counter()
        self.local = threading.local()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                proxy.handle(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def decide(self, op):
        with self.lock:
            self.ops[op] += 1
            if not self.rng:
                return None
            r = self.rng.random()
            if r < 0.05:
                f = "ThrottlingException"
            elif r < 0.10:
                f = "ProvisionedThroughputExceededException"
            elif r < 0.20:
                f = "500"
            elif r < 0.25:
                f = "drop"
            elif r < 0.30 and op in self.WRITES:
                f = "applied-500"
            else:
                return None
            self.faults[f] += 1
            return f

    def forward(self, h, body):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(
                "127.0.0.1", self.target, timeout=30)
        headers = {k: v for k, v in h.headers.items()
                   if k.lower() not in ("connection", "keep-alive")}
        try:
            conn.request("POST", h.path, body, headers)
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            raise

    @staticmethod
    def answer(h, status, body, headers=()):
        h.send_response(status)
        skip = ("content-length", "connection", "transfer-encoding",
                "keep-alive", "date", "server")
        for k, v in headers:
            if k.lower() not in skip:
                h.send_header(k, v)
        if not any(k.lower() == "content-type" for k, _ in headers):
            h.send_header("Content-Type", "application/x-amz-json-1.0")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    @staticmethod
    def error(h, status, kind, msg):
        Proxy.answer(h, status, json.dumps({
            "__type": "com.amazonaws.dynamodb.v20120810#" + kind,
            "message": msg}).encode())

    def handle(self, h):
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        op = (h.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
        fault = self.decide(op)
        if fault == "drop":
            h.close_connection = True
            return
        if fault in ("ThrottlingException",
                     "ProvisionedThroughputExceededException"):
            return self.error(h, 400, fault, "injected throttle")
        if fault == "500":
            return self.error(h, 500, "InternalServerError", "injected")
        status, headers, data = self.forward(h, body)
        if fault == "applied-500":
            return self.error(h, 500, "InternalServerError",
                              "injected after the write was applied")
        self.answer(h, status, data, headers)

    def env(self):
        return dict(os.environ, AWS_ENDPOINT_URL_DYNAMODB=self.url)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def dynalite_port():
    return int(os.environ["AWS_ENDPOINT_URL_DYNAMODB"].rsplit(":", 1)[1])


def seed_workflow(wf_id, work, log=None):
    """The seed A -> (B1, B2, B3) -> C as sh commands doing @work, each
    appending its id to @log when given."""
    def task(tid, deps):
        script = "cat >/dev/null; %s" % work
        if log:
            script += '; echo "$ORC_TASK_ID $ORC_ATTEMPT" >> "%s"' % log
        script += "; echo '{\"t\": \"%s\"}'" % tid
        return {"id": tid, "command": ["sh", "-c", script],
                "dependsOn": deps}
    return {"id": wf_id, "tasks": [
        task("A", []), task("B1", ["A"]), task("B2", ["A"]),
        task("B3", ["A"]), task("C", ["B1", "B2", "B3"])]}


def counted_run(d, table, path, wf_id, extra=()):
    """orchestra run through a counting proxy; the counts by operation."""
    check(DL.error is None, DL.error)
    px = Proxy(dynalite_port())
    try:
        rc, out, err = run(["run", path, "--id", wf_id, "--plain"] +
                           list(extra) + ddb(table), d, 120, env=px.env())
    finally:
        px.stop()
    check(rc == 0, "run %s: exit %d\n%s\n%s" % (wf_id, rc, out, err))
    check(out.splitlines()[-1] == "workflow %s SUCCEEDED" % wf_id, out)
    return dict(px.ops)


def ddb_expect(args, cwd, code, timeout=60):
    check(DL.error is None, DL.error)
    out, err = expect(args, cwd, code, timeout)
    check(SECRET not in out + err, "the secret was printed")
    return out, err


def ddb(table):
    return ["--backend", "dynamodb", "--table", table]


def status_json(cwd, wf_id, table):
    out, _ = ddb_expect(["status", wf_id, "--json"] + ddb(table), cwd, 0)
    return json.loads(out)


# ---- cases --------------------------------------------------------------

def test_table_create(d):
    out, _ = ddb_expect(["table", "create", "orc-cli-t1"], d, 0)
    check(out.strip() == "table orc-cli-t1 created", out)
    _, err = ddb_expect(["table", "create", "orc-cli-t1"], d, 2)
    check("already exists" in err, err)
    _, err = ddb_expect(["table", "drop", "orc-cli-t1"], d, 2)
    check("unknown action 'drop'" in err, err)
    _, err = ddb_expect(["table", "create"], d, 2)
    check("expected 'create NAME'" in err, err)
    out, _ = ddb_expect(["table", "--help"], d, 0)
    check("usage: orchestra table create NAME" in out, out)


def test_fanout_on_dynamodb_and_status_agrees(d):
    for tool in ("node", "python3"):
        check(shutil.which(tool), tool + " is needed by the fanout example")
    ddb_expect(["table", "create", "orc-cli-fan"], d, 0)
    out, _ = ddb_expect(["run", FANOUT, "--id", "fan1", "--input",
                     '{"start": 4}', "--plain"] + ddb("orc-cli-fan"), d, 0)
    lines = out.splitlines()
    check(lines[0] == "workflow fan1", out)
    check(lines[-1] == "workflow fan1 SUCCEEDED", out)
    check(not os.path.exists(os.path.join(d, "orchestra.db")),
          "a SQLite file was made")
    doc = status_json(d, "fan1", "orc-cli-fan")
    check(doc["workflowId"] == "fan1" and doc["state"] == "SUCCEEDED", doc)
    tasks = {t["id"]: t for t in doc["tasks"]}
    check(sorted(tasks) == ["A", "B1", "B2", "B3", "C"], doc)
    for t in tasks.values():
        check(t["state"] == "SUCCEEDED" and t["attempt"] == 1, t)
        check(t["startedMs"] and t["endedMs"] >= t["startedMs"], t)
    check(tasks["A"]["output"] == {"seed": 4, "by": "node"}, tasks["A"])
    check(tasks["C"]["output"] == {"total": 4 * 2 + 4 * 3 + 4 * 5,
                                   "parts": {
                                       "B1": {"value": 8, "by": "node"},
                                       "B2": {"value": 12, "by": "python"},
                                       "B3": {"value": 20, "by": "sh"}}},
          tasks["C"])
    # The plain progress lines and the stored states agree.
    for tid in tasks:
        check("%s SUCCEEDED attempt 1" % tid in lines, (tid, out))
    out, _ = ddb_expect(["list", "--json"] + ddb("orc-cli-fan"), d, 0)
    listed = json.loads(out)
    check([(w["workflowId"], w["state"], w["tasks"]) for w in listed] ==
          [("fan1", "SUCCEEDED", 5)], listed)
    # Finished: resume has nothing to do, cancel changes nothing.
    out, _ = ddb_expect(["resume", "fan1", "--plain"] + ddb("orc-cli-fan"),
                        d, 0)
    check(out.splitlines()[-1] == "workflow fan1 SUCCEEDED", out)
    out, _ = ddb_expect(["cancel", "fan1"] + ddb("orc-cli-fan"), d, 0)
    check("already SUCCEEDED" in out, out)
    out, _ = ddb_expect(["graph", FANOUT, "--state", "fan1"] +
                    ddb("orc-cli-fan"), d, 0)
    check("digraph" in out, out)


def test_failure_cancel_and_errors(d):
    ddb_expect(["table", "create", "orc-cli-err"], d, 0)
    write_json(os.path.join(d, "bad.json"), {"id": "bad", "tasks": [
        {"id": "A", "command": ["sh", "-c", "echo broke >&2; exit 3"]},
        {"id": "B", "command": ["true"], "dependsOn": ["A"]}]})
    out, _ = ddb_expect(["run", "bad.json", "--plain"] + ddb("orc-cli-err"),
                    d, 1)
    check(out.splitlines()[-1].startswith("workflow bad FAILED"), out)
    doc = status_json(d, "bad", "orc-cli-err")
    tasks = {t["id"]: t for t in doc["tasks"]}
    check(doc["state"] == "FAILED" and "broke" in doc["error"], doc)
    check(tasks["A"]["state"] == "FAILED" and
          tasks["B"]["state"] == "CANCELED", doc)
    # A workflow that waits on a PENDING task it never gets: cancel it
    # through the table while nothing runs.
    write_json(os.path.join(d, "slow.json"), {"id": "slow", "tasks": [
        {"id": "A", "command": ["sh", "-c", "cat >/dev/null; sleep 30"],
         "timeoutMs": 60000}]})
    p = subprocess.Popen([ORCHESTRA, "run", "slow.json", "--plain"] +
                         ddb("orc-cli-err"), cwd=d,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        end = time.time() + 20
        while True:
            rc, out, _ = run(["status", "slow", "--json"] +
                             ddb("orc-cli-err"), d)
            if rc == 0 and json.loads(out)["tasks"][0]["state"] == \
                    "RUNNING":
                break
            check(time.time() < end, "slow never started")
            time.sleep(0.1)
        out, _ = ddb_expect(["cancel", "slow"] + ddb("orc-cli-err"), d, 0)
        check(out.strip() == "workflow slow CANCELED", out)
        doc = status_json(d, "slow", "orc-cli-err")
        check(doc["state"] == "CANCELED", doc)
    finally:
        p.kill()
        p.communicate()
    # Not there: the workflow, the table.
    _, err = ddb_expect(["status", "nope"] + ddb("orc-cli-err"), d, 3)
    check("no workflow 'nope' in DynamoDB table orc-cli-err" in err, err)
    _, err = ddb_expect(["status", "nope"] + ddb("orc-cli-none"), d, 3)
    check("no DynamoDB table orc-cli-none" in err, err)
    _, err = ddb_expect(["list"] + ddb("orc-cli-none"), d, 3)
    check("ResourceNotFoundException" in err, err)
    # Options that do not go together.
    for args, words in (
            (["status", "x", "--backend", "dynamodb"], "needs --table"),
            (["status", "x", "--table", "t"], "needs --backend dynamodb"),
            (["status", "x", "--backend", "dynamodb", "--table", "t",
              "--db", "x.db"], "--db is for the sqlite backend"),
            (["list", "--backend", "mysql"], "sqlite or dynamodb")):
        _, err = ddb_expect(args, d, 2)
        check(words in err, err)


# The seed: V = 5 tasks, E = 6 edges; the engine's budget 2V+E+2, and
# orchestra run may add one final read.
SEED_BUDGET = 2 * 5 + 6 + 2


def test_seed_run_request_count(d):
    """orchestra run of the seed through the counting proxy: the
    engine's 19 requests and no read (its own completions wake the
    runner; storage is polled at a quarter lease, here 15 s, which the
    runs never reach), and the same count whether tasks take 10 ms or
    2 s."""
    ddb_expect(["table", "create", "orc-cli-count"], d, 0)
    counts = {}
    for name, work in (("fast", "sleep 0.01"), ("slow", "sleep 2")):
        write_json(os.path.join(d, name + ".json"),
                   seed_workflow("seed-" + name, work))
        counts[name] = counted_run(d, "orc-cli-count", name + ".json",
                                   "seed-" + name,
                                   ["--lease-ms", "60000"])
    want = {"PutItem": 1, "BatchWriteItem": 1, "UpdateItem": 17}
    check(counts["fast"] == want, "10 ms tasks: %s, expected %s" %
          (counts["fast"], want))
    check(counts["slow"] == counts["fast"], "2 s tasks: %s, 10 ms tasks: "
          "%s" % (counts["slow"], counts["fast"]))
    check(sum(counts["fast"].values()) <= SEED_BUDGET + 1, counts)
    for name in counts:
        doc = status_json(d, "seed-" + name, "orc-cli-count")
        check(doc["state"] == "SUCCEEDED", doc)
    # The fanout example (node and python tasks, timeoutMs 60000): the
    # same 19, printed for docs/performance.md.
    if shutil.which("node"):
        ops = counted_run(d, "orc-cli-count", FANOUT, "fan-count",
                          ["--input", '{"start": 4}'])
        print("# orchestra run examples/fanout/fanout.json: %d requests "
              "%s" % (sum(ops.values()), json.dumps(ops, sort_keys=True)))
        check(ops == want, ops)


FAULT_SEEDS = [int(x, 0) for x in os.environ.get(
    "ORC_FAULT_SEEDS", "11,22,33,44,55").split(",")]


def test_run_rides_out_storage_faults(d):
    """Through the fault proxy (throttles, 500s, dropped connections,
    writes applied then answered 500), five fixed seeds, each run twice:
    with the SDKs' default of 3 attempts per request, and with
    AWS_MAX_ATTEMPTS=1 so that every fault reaches the runner, which
    backs off and tries the step again (a write applied then answered
    500 then meets its own version and is recognized). Every run exits
    0 with the workflow SUCCEEDED and each task's side effect in the log
    exactly once."""
    ddb_expect(["table", "create", "orc-cli-faults"], d, 0)
    check(DL.error is None, DL.error)
    for seed, attempts in [(s, a) for s in FAULT_SEEDS for a in ("3", "1")]:
        wf = "faults-%d-%s" % (seed, attempts)
        log = os.path.join(d, wf + ".log")
        where = "seed %d, AWS_MAX_ATTEMPTS=%s (ORC_FAULT_SEEDS=%d " \
                "repeats it)" % (seed, attempts, seed)
        write_json(os.path.join(d, wf + ".json"),
                   seed_workflow(wf, "sleep 0.05", log))
        px = Proxy(dynalite_port(), seed)
        try:
            rc, out, err = run(["run", wf + ".json", "--plain"] +
                               ddb("orc-cli-faults"), d, 280,
                               env=dict(px.env(),
                                        AWS_MAX_ATTEMPTS=attempts))
        finally:
            px.stop()
        print("# %s: %d requests, faults %s" % (
            where, sum(px.ops.values()), dict(px.faults)))
        check(rc == 0, "%s: exit %d\n%s\n%s" % (where, rc, out, err))
        check(out.splitlines()[-1] == "workflow %s SUCCEEDED" % wf,
              where + "\n" + out)
        doc = status_json(d, wf, "orc-cli-faults")
        check(doc["state"] == "SUCCEEDED", "%s: %s" % (where, doc))
        lines = sorted(l.split()[0] for l in read_lines(log))
        check(lines == ["A", "B1", "B2", "B3", "C"],
              "%s: side effects %s" % (where, read_lines(log)))
        check(sum(px.faults.values()) > 0, where + ": no fault injected")


CASES = [test_table_create, test_fanout_on_dynamodb_and_status_agrees,
         test_failure_cancel_and_errors, test_seed_run_request_count,
         test_run_rides_out_storage_faults]


def main():
    global DL
    DL = Dynalite()
    test_cli.GROUPS[test_cli.GROUP] = CASES
    try:
        return test_cli.main()
    finally:
        DL.stop()


if __name__ == "__main__":
    sys.exit(main())
