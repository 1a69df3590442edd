#!/usr/bin/env python3
"""The orchestra command on DynamoDB: table create, then run, status,
list, cancel and resume with --backend dynamodb --table NAME, against
dynalite (node_modules/dynalite, pinned in package-lock.json) started here
on a free loopback port and stopped afterwards.

usage: test_cli_dynamodb.py ORCHESTRA SOURCE_ROOT dynamodb
Prints TAP. A missing node or dynalite fails every case; nothing is
skipped.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

# The TAP runner and helpers of test_cli.py, which reads ORCHESTRA,
# SOURCE_ROOT and the group from argv as this script does.
import test_cli
from test_cli import check, expect, run, write_json

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
            "AWS_EC2_METADATA_DISABLED": "true"})

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


DL = None


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


CASES = [test_table_create, test_fanout_on_dynamodb_and_status_agrees,
         test_failure_cancel_and_errors]


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
