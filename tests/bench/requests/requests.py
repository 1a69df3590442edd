#!/usr/bin/env python3
"""DynamoDB requests per workflow run on every real path, counted by
operation through a counting proxy in front of moto.

Paths:
  orchestra run     `orchestra run WF.json --backend dynamodb --table T`,
                    command tasks (the seed's tasks once at 10 ms, once
                    at 2 s: the count must not depend on how long tasks
                    run)
  lambda streams    the example Lambda binaries (orchestrator, worker,
                    task) on the Streams path: the orchestrator gets the
                    records of moto's real stream, in Lambda's event
                    shape, after every invocation (lock step, so the
                    count is deterministic)
  dispatch next     the same with ORC_DISPATCH_NEXT=1, no stream
  worker linked     lambda-worker-linked (the task linked in), dispatching
                    next

Each runs the seed workflow A -> (B1, B2, B3) -> C and a 100-task layered
DAG (10 layers of 10, 2 dependencies each, tests/bench/layered.h's
generator with seed 7). Every run starts on a fresh table with fresh
function processes. Only the requests of the code under test go through
the proxy; the harness's own (table creation, stream reads, the final
check) go to moto directly.

One peer for every path: moto (the machine's python3 module; DynamoDB,
Streams and TransactWriteItems), behind tests/support/moto_server.py,
which serializes its requests. Without moto this prints why and exits 77
(skip), or 1 with CI=true.

Prints one table. Exit status 0 when every run SUCCEEDED; with --assert
also only when every path is within the budget (2V+E+3, the issue's 19
for the seed; `orchestra run` one more for its final read; plus the
seeding requests beyond one when V > 99, see budget()), no
ConditionalCheckFailed answer was counted, and the 2 s run cost what the
10 ms run cost.
"""
import argparse
import collections
import http.client
import http.server
import json
import os
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'lambda'))

REGION = 'us-east-1'
TASK_ARN = 'arn:aws:lambda:%s:123456789012:function:task' % REGION
SEED_SYSTEM = 44        # the seed system's own handlers, same harness
OPS = ('GetItem', 'Query', 'UpdateItem', 'PutItem', 'BatchWriteItem',
       'TransactWriteItems', 'DescribeTable')
LAYERED = (10, 10, 2, 7)  # layers, width, dependencies, seed


def budget(v, e, path):
    """What --assert allows. The issue's target is "2V+E+2, 19 for the
    seed"; 19 is what the engine's own run spends on the seed (the
    workflow record, its tasks in one batch, a claim and a completion per
    task, a mark per edge, the workflow's end), which is 2V+E+3. `orchestra
    run` may add one final read.

    Seeding is one request only while the workflow record and its tasks
    fit in one TransactWriteItems (at most 100 items, so V <= 99).
    Beyond that the backend writes the record with one PutItem and the
    tasks in BatchWriteItems of 25 (DynamoDB cannot write more in one
    request), so the budget grows by the ceil(V/25) seeding requests
    beyond the first: 4 for the 100-task layered DAG."""
    seeding = -(-v // 25) if v > 99 else 0
    return 2 * v + e + 3 + (1 if path == 'orchestra run' else 0) + seeding


def sink_reads(dag):
    """The known gap to budget(): a workflow ends when its last sink (a
    task nothing depends on) succeeds, and the engine learns that by
    reading, at each sink's completion, the next sink it has not seen
    succeed (check_sinks() in lib/workflow.c): up to one GetItem per sink
    when there are several. The seed has one sink, so none; the layered
    DAG has 22. --assert allows them so that the test catches any other
    growth; the target (budget()) is not met there, and
    docs/performance.md says so."""
    deps = set(d for _, ds in dag for d in ds)
    sinks = sum(1 for t, _ in dag if t not in deps)
    return sinks if sinks > 1 else 0


# ---- workflows ------------------------------------------------------------

def seed_dag():
    return [('A', []), ('B1', ['A']), ('B2', ['A']), ('B3', ['A']),
            ('C', ['B1', 'B2', 'B3'])]


def layered_dag(layers, width, deps, seed):
    """tests/bench/layered.h's bench_build_layered(), ids t<index>."""
    mask = (1 << 64) - 1
    state = [seed]

    def rand():
        state[0] = (state[0] + 0x9e3779b97f4a7c15) & mask
        z = state[0]
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & mask
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & mask
        return z ^ (z >> 31)

    tasks = []
    for layer in range(layers):
        for j in range(width):
            picked = []
            for _ in range(deps if layer else 0):
                while True:
                    p = rand() % width
                    if p not in picked:
                        break
                picked.append(p)
            tasks.append(('t%d' % (layer * width + j),
                          ['t%d' % ((layer - 1) * width + p)
                           for p in picked]))
    return tasks


def edges(dag):
    return sum(len(d) for _, d in dag)


# ---- moto and the counting proxy ------------------------------------------

def aws(endpoint, target, body):
    """A call straight to moto (the harness's own, not counted). moto
    reads the service from the credential scope and checks no
    signature."""
    req = urllib.request.Request(
        endpoint + '/', data=json.dumps(body).encode(), method='POST',
        headers={'Content-Type': 'application/x-amz-json-1.0',
                 'X-Amz-Target': target,
                 'Authorization': 'AWS4-HMAC-SHA256 Credential=AKIDMOTO/'
                 '20260101/%s/dynamodb/aws4_request, SignedHeaders=host, '
                 'Signature=0' % REGION})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=30) as r:
        return json.loads(r.read())


class Moto:
    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, 'tests', 'support',
                                          'moto_server.py')],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith('PORT '):
            self.proc.wait()
            self.endpoint = None
            self.absent = self.proc.returncode == 3
            return
        self.absent = False
        self.port = int(line.split()[1])
        self.endpoint = 'http://127.0.0.1:%d' % self.port

    def stop(self):
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.ops = collections.Counter()
            self.errors = collections.Counter()

    def take(self):
        with self.lock:
            out = (dict(self.ops), dict(self.errors))
        self.reset()
        return out


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    # Headers and body leave in two writes: without TCP_NODELAY each
    # answer on a kept-alive connection waits for a delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        srv = self.server
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        target = self.headers.get('X-Amz-Target', '')
        op = target.split('.', 1)[-1] or '?'
        if not hasattr(self, 'upstream'):
            self.upstream = http.client.HTTPConnection('127.0.0.1',
                                                       srv.moto_port,
                                                       timeout=60)
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() not in ('connection', 'expect')}
        self.upstream.request('POST', self.path, body, hdrs)
        resp = self.upstream.getresponse()
        data = resp.read()
        with srv.counter.lock:
            srv.counter.ops[op] += 1
            if resp.status >= 400:
                try:
                    kind = json.loads(data).get('__type', '?')
                except ValueError:
                    kind = 'HTTP %d' % resp.status
                srv.counter.errors[kind.split('#')[-1]] += 1
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ('connection', 'content-length',
                                 'transfer-encoding', 'date', 'server'):
                self.send_header(k, v)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Proxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, moto_port):
        super().__init__(('127.0.0.1', 0), ProxyHandler)
        self.moto_port = moto_port
        self.counter = Counter()
        self.endpoint = 'http://127.0.0.1:%d' % self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


# ---- the harness's own view of the table ----------------------------------

class Harness:
    def __init__(self, args, moto, proxy):
        self.args = args
        self.moto = moto
        self.proxy = proxy
        self.tables = 0
        self.tmp = tempfile.mkdtemp(prefix='orc-requests-')

    def env(self, endpoint):
        e = dict(os.environ)
        for k in ('AWS_ENDPOINT_URL', 'AWS_PROFILE', 'AWS_SESSION_TOKEN'):
            e.pop(k, None)
        e.update({'AWS_ENDPOINT_URL_DYNAMODB': endpoint,
                  'AWS_ENDPOINT_URL_DYNAMODB_STREAMS': self.moto.endpoint,
                  'AWS_ACCESS_KEY_ID': 'AKIDMOTO',
                  'AWS_SECRET_ACCESS_KEY': 'moto-secret',
                  'AWS_REGION': REGION,
                  'AWS_EC2_METADATA_DISABLED': 'true'})
        return e

    def new_table(self):
        self.tables += 1
        name = 'requests-%d' % self.tables
        subprocess.run([self.args.orchestra, 'table', 'create', name],
                       env=self.env(self.moto.endpoint), check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        return name

    def items(self, table, wf_id):
        out, start = [], None
        while True:
            body = {'TableName': table, 'ConsistentRead': True,
                    'KeyConditionExpression': 'pk = :p',
                    'ExpressionAttributeValues': {
                        ':p': {'S': 'WORKFLOW#' + wf_id}}}
            if start:
                body['ExclusiveStartKey'] = start
            page = aws(self.moto.endpoint, 'DynamoDB_20120810.Query', body)
            out += page.get('Items', [])
            start = page.get('LastEvaluatedKey')
            if not start:
                return out

    def state(self, table, wf_id):
        for it in self.items(table, wf_id):
            if it['sk']['S'] == 'META#WORKFLOW':
                return it['state']['S']
        return None

    def check_succeeded(self, table, wf_id, dag):
        """The workflow and every task SUCCEEDED; a message if not."""
        items = self.items(table, wf_id)
        states = {it['sk']['S']: it.get('state', {}).get('S')
                  for it in items}
        if states.get('META#WORKFLOW') != 'SUCCEEDED':
            return 'workflow %s is %s' % (wf_id,
                                          states.get('META#WORKFLOW'))
        bad = [t for t, _ in dag if states.get('TASK#' + t) != 'SUCCEEDED']
        if bad:
            return 'tasks not SUCCEEDED: %s' % ', '.join(bad[:5])
        return None


# ---- stream records in Lambda's event shape -------------------------------

class Stream:
    """The table's real stream, read to its end on each read()."""

    def __init__(self, h, table):
        self.h = h
        desc = aws(h.moto.endpoint, 'DynamoDB_20120810.DescribeTable',
                   {'TableName': table})
        self.arn = desc['Table']['LatestStreamArn']
        self.iters = {}

    def call(self, op, body):
        return aws(self.h.moto.endpoint, 'DynamoDBStreams_20120810.' + op,
                   body)

    def read(self):
        out = []
        desc = self.call('DescribeStream', {'StreamArn': self.arn})
        for shard in desc['StreamDescription']['Shards']:
            sid = shard['ShardId']
            if sid not in self.iters:
                self.iters[sid] = self.call('GetShardIterator', {
                    'StreamArn': self.arn, 'ShardId': sid,
                    'ShardIteratorType': 'TRIM_HORIZON'})['ShardIterator']
        for sid, it in self.iters.items():
            while it:
                page = self.call('GetRecords', {'ShardIterator': it})
                it = page.get('NextShardIterator')
                self.iters[sid] = it
                if not page.get('Records'):
                    break
                for r in page['Records']:
                    d = dict(r['dynamodb'])
                    when = d.get('ApproximateCreationDateTime')
                    if isinstance(when, (int, float)):
                        d['ApproximateCreationDateTime'] = int(when)
                    out.append({'eventID': r['eventID'],
                                'eventName': r['eventName'],
                                'eventVersion': '1.1',
                                'eventSource': 'aws:dynamodb',
                                'awsRegion': REGION,
                                'dynamodb': d,
                                'eventSourceARN': self.arn})
        return out


# ---- the paths ------------------------------------------------------------

def run_cli(h, dag, sleep_s, wf_id):
    table = h.new_table()
    wf = {'tasks': [{'id': t, 'dependsOn': d,
                     'command': ['sh', '-c', 'cat >/dev/null; sleep %s; '
                                 'echo "{}"' % sleep_s]}
                    for t, d in dag]}
    path = os.path.join(h.tmp, wf_id + '.json')
    with open(path, 'w') as f:
        json.dump(wf, f)
    h.proxy.counter.reset()
    p = subprocess.run([h.args.orchestra, 'run', path, '--id', wf_id,
                        '--backend', 'dynamodb', '--table', table,
                        '--plain'], env=h.env(h.proxy.endpoint),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    counts = h.proxy.counter.take()
    problem = None
    if p.returncode != 0:
        problem = 'orchestra run exited %d: %s' % (
            p.returncode, p.stderr.decode(errors='replace')[-500:])
    return counts, problem or h.check_succeeded(table, wf_id, dag)


def start_event(wf_id, dag):
    return json.dumps({'mode': 'start', 'workflowId': wf_id, 'input': {},
                       'graph': [{'taskId': t, 'targetLambdaArn': TASK_ARN,
                                  'dependsOn': d} for t, d in dag]}).encode()


def invoke(lam, name, event):
    """A RequestResponse invocation, straight into the fake's queue."""
    fn = lam.functions[name]
    inv = lam.enqueue(fn, event)
    lam.wait_result(fn, inv)
    if inv.state != 'response':
        raise RuntimeError('%s failed: %s' % (name, inv.error))
    return json.loads(inv.response or b'null')


def idle(lam, skip=()):
    with lam.lock:
        for fn in lam.functions.values():
            if fn.name in skip:
                continue
            if fn.queue or any(not i.done.is_set()
                               for i in fn.invocations):
                return False
    return True


def run_lambda(h, dag, mode, wf_id):
    from fake_lambda import FakeLambda
    a = h.args
    table = h.new_table()
    env = {'ORC_TABLE': table,
           'AWS_ENDPOINT_URL_DYNAMODB': h.proxy.endpoint}
    fns = {'orchestrator': a.orchestrator, 'task': a.task}
    if mode == 'streams':
        # "worker" has no process: what the orchestrator dispatches waits
        # there until the harness hands it to "worker-bin".
        fns.update({'worker': None, 'worker-bin': a.worker})
        env['ORC_WORKER_FUNCTION'] = 'worker'
    elif mode == 'next':
        fns['worker'] = a.worker
        env.update({'ORC_WORKER_FUNCTION': 'worker',
                    'ORC_DISPATCH_NEXT': '1'})
    else:
        fns['worker-linked'] = a.worker_linked
        env.update({'ORC_WORKER_FUNCTION': 'worker-linked',
                    'ORC_DISPATCH_NEXT': '1'})
    lam = FakeLambda(fns, env=env, timeout_s=60).start()
    problem = None
    try:
        stream = Stream(h, table) if mode == 'streams' else None
        h.proxy.counter.reset()
        invoke(lam, 'orchestrator', start_event(wf_id, dag))
        if mode == 'streams':
            taken = 0
            worker = lam.functions['worker']
            for _ in range(20 * len(dag) + 100):
                recs = stream.read()
                if recs:
                    # The event source mapping's default batch size.
                    for i in range(0, len(recs), 100):
                        ans = invoke(lam, 'orchestrator', json.dumps(
                            {'Records': recs[i:i + 100]}).encode())
                        if ans.get('batchItemFailures'):
                            problem = 'stream batch failures: %s' % ans
                    continue
                with lam.lock:
                    nxt = worker.invocations[taken] \
                        if taken < len(worker.invocations) else None
                if nxt is None:
                    break
                taken += 1
                fn = lam.functions['worker-bin']
                inv = lam.enqueue(fn, nxt.event, 'Event')
                lam.wait_result(fn, inv)
        else:
            end = time.time() + 30 + 1.5 * len(dag)
            while time.time() < end:
                if idle(lam) and h.state(table, wf_id) in (
                        'SUCCEEDED', 'FAILED', 'CANCELED'):
                    break
                time.sleep(0.05)
        time.sleep(0.1)
        if not idle(lam, skip=('worker',)):
            problem = 'functions still busy at the end'
    finally:
        counts = h.proxy.counter.take()
        lam.stop()
    return counts, problem or h.check_succeeded(table, wf_id, dag)


def self_check(h):
    """Known requests through the proxy are counted as sent: two GetItem
    and a PutItem whose condition fails. A message if not."""
    table = h.new_table()
    key = {'pk': {'S': 'WORKFLOW#check'}, 'sk': {'S': 'META#WORKFLOW'}}
    h.proxy.counter.reset()
    for _ in range(2):
        aws(h.proxy.endpoint, 'DynamoDB_20120810.GetItem',
            {'TableName': table, 'Key': key})
    try:
        aws(h.proxy.endpoint, 'DynamoDB_20120810.PutItem',
            {'TableName': table, 'Item': key,
             'ConditionExpression': 'attribute_exists(pk)'})
    except urllib.error.HTTPError:
        pass
    ops, errors = h.proxy.counter.take()
    if ops != {'GetItem': 2, 'PutItem': 1} or \
            errors != {'ConditionalCheckFailedException': 1}:
        return 'counted %s, errors %s' % (ops, errors)
    return None


# ---- the table ------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--orchestra', required=True)
    ap.add_argument('--orchestrator', required=True)
    ap.add_argument('--worker', required=True)
    ap.add_argument('--task', required=True)
    ap.add_argument('--worker-linked', required=True)
    ap.add_argument('--assert', dest='check', action='store_true',
                    help='fail unless every path is within budget, with '
                    'no ConditionalCheckFailed, and the 2 s run cost the '
                    'same as the 10 ms run')
    ap.add_argument('--only', help='comma-separated path names')
    args = ap.parse_args()
    for k in ('orchestra', 'orchestrator', 'worker', 'task',
              'worker_linked'):
        setattr(args, k, os.path.abspath(getattr(args, k)))

    moto = Moto()
    if not moto.endpoint:
        why = 'moto (python3 module) is not installed' if moto.absent \
            else 'moto did not start'
        if os.environ.get('CI') == 'true' or not moto.absent:
            print('FAIL: %s' % why)
            return 1
        print('SKIP: %s; install python3 with moto to count requests'
              % why)
        return 77
    proxy = Proxy(moto.port)
    h = Harness(args, moto, proxy)
    # This process's environment is the harness's (straight to moto);
    # what is measured gets the proxy's address on top.
    os.environ.clear()
    os.environ.update(h.env(moto.endpoint))
    problem = self_check(h)
    if problem:
        print('FAIL: the counting proxy: %s' % problem)
        proxy.shutdown()
        moto.stop()
        return 1
    seed, layered = seed_dag(), layered_dag(*LAYERED)
    runs = [
        ('orchestra run', 'seed, 10 ms tasks', seed,
         lambda w: run_cli(h, seed, '0.01', w)),
        ('orchestra run', 'seed, 2 s tasks', seed,
         lambda w: run_cli(h, seed, '2', w)),
        ('orchestra run', 'layered 100', layered,
         lambda w: run_cli(h, layered, '0.01', w)),
    ]
    for path, mode in (('lambda streams', 'streams'),
                       ('dispatch next', 'next'),
                       ('worker linked', 'linked')):
        runs += [(path, 'seed', seed,
                  lambda w, m=mode: run_lambda(h, seed, m, w)),
                 (path, 'layered 100', layered,
                  lambda w, m=mode: run_lambda(h, layered, m, w))]
    if args.only:
        keep = args.only.split(',')
        unknown = set(keep) - {r[0] for r in runs}
        if unknown:
            ap.error('--only: no path %s' % ', '.join(sorted(unknown)))
        runs = [r for r in runs if r[0] in keep]

    rows, failures = [], []
    try:
        for i, (path, name, dag, fn) in enumerate(runs):
            t0 = time.time()
            try:
                (ops, errors), problem = fn('wf-%d' % i)
            except (RuntimeError, OSError, subprocess.SubprocessError,
                    urllib.error.URLError) as e:
                (ops, errors), problem = proxy.counter.take(), repr(e)
            rows.append((path, name, dag, ops, errors, problem,
                         time.time() - t0))
            print('# %s, %s: %d requests, %.0f s%s' % (
                path, name, sum(ops.values()), time.time() - t0,
                ', ' + problem if problem else ''), flush=True)
            if problem:
                failures.append('%s, %s: %s' % (path, name, problem))
    finally:
        proxy.shutdown()
        moto.stop()

    cols = OPS + ('other',)
    print('DynamoDB requests per run, every path (proxy in front of moto; '
          'ConditionalCheckFailed answers in "CCF")')
    head = ('%-15s %-18s %4s %4s %7s %6s %6s %5s ' % (
        'path', 'workflow', 'V', 'E', '2V+E+2', 'budget', 'seed', 'total')
        + ' '.join('%*s' % (max(5, len(c)), c) for c in cols)
        + '   CCF  s')
    print(head)
    print('-' * len(head))
    for path, name, dag, ops, errors, problem, secs in rows:
        v, e = len(dag), edges(dag)
        other = sum(n for op, n in ops.items() if op not in OPS)
        vals = [ops.get(op, 0) for op in OPS] + [other]
        ccf = sum(n for k, n in errors.items()
                  if 'ConditionalCheckFailed' in k)
        print('%-15s %-18s %4d %4d %7d %6d %6s %5d ' % (
            path, name, v, e, 2 * v + e + 2, budget(v, e, path),
            SEED_SYSTEM if dag is seed else '-', sum(ops.values()))
            + ' '.join('%*d' % (max(5, len(c)), n)
                       for c, n in zip(cols, vals))
            + ' %5d %2.0f%s' % (ccf, secs, '  FAILED' if problem else ''))
        others = {k: n for k, n in errors.items()
                  if 'ConditionalCheckFailed' not in k}
        if others:
            print('%36s other errors: %s' % ('', others))
    if failures:
        print('\n'.join('FAIL: ' + f for f in failures))
        return 1
    if not args.check:
        print('every run SUCCEEDED (budgets not asserted: --assert)')
        return 0
    bad = []
    for path, name, dag, ops, errors, _, _ in rows:
        total = sum(ops.values())
        target = budget(len(dag), edges(dag), path)
        limit = target + sink_reads(dag)
        if total > limit:
            bad.append('%s, %s: %d requests > %d' % (path, name, total,
                                                      limit))
        elif total > target:
            print('KNOWN GAP: %s, %s: %d requests, %d over the target %d '
                  '(sink reads, at most %d)' % (path, name, total,
                                                total - target, target,
                                                sink_reads(dag)))
        ccf = sum(n for k, n in errors.items()
                  if 'ConditionalCheckFailed' in k)
        if ccf:
            bad.append('%s, %s: %d ConditionalCheckFailed' % (path, name,
                                                              ccf))
    by = {(r[0], r[1]): sum(r[3].values()) for r in rows}
    fast = by.get(('orchestra run', 'seed, 10 ms tasks'))
    slow = by.get(('orchestra run', 'seed, 2 s tasks'))
    if fast is not None and slow is not None and fast != slow:
        bad.append('orchestra run: %d requests with 2 s tasks, %d with '
                   '10 ms tasks' % (slow, fast))
    print('\n'.join('FAIL: ' + b for b in bad) or
          'every path within budget (known gaps above), no '
          'ConditionalCheckFailed, the same count at 10 ms and 2 s')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
