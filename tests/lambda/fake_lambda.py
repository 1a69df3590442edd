#!/usr/bin/env python3
"""A loopback AWS Lambda for tests: the Runtime API and the Invoke API,
as documented, in Python 3's standard library only.

Functions. Each function has a name and, usually, a handler binary (a
program running orc_lambda_runtime_run()). The server keeps one process
per function ("slot"; more with concurrency=N), started at once and
started again when it exits. Every slot has its own Runtime API port,
given to its process as AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>, so an
invocation is always known to belong to one process. The slots of a
function share its queue of events. A function without a binary gets one
slot and no process: a test runs the runtime itself against that port.

Handler processes inherit this process's environment, plus the --env
values, plus AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME,
AWS_LAMBDA_FUNCTION_VERSION, AWS_REGION, AWS_ENDPOINT_URL_LAMBDA (this
server, so functions invoking functions loop back) and, when none are
set, fake credentials. Their stdout is captured line by line (see
"logs" below); their stderr is inherited.

Invoke API (one port for all functions), POST
/2015-03-31/functions/{name or ARN[:qualifier]}/invocations:
  - a valid SigV4 signature (service lambda) is required, by the access
    key of this process's environment, of --env, or the fake's default
    (403 MissingAuthenticationTokenException, UnrecognizedClientException
    or InvalidSignatureException otherwise);
  - X-Amz-Invocation-Type: RequestResponse (default) queues the event and
    blocks until the function's process posts its response (200, the
    response as body) or its error (200, X-Amz-Function-Error: Unhandled,
    the error document as body); a process that exits or passes the
    function's timeout (--timeout-s, counted from when a process takes
    the event) fails the invocation the same way, with errorType
    Runtime.ExitError or Sandbox.Timedout (the process is then killed),
    for Event invocations too;
  - Event queues the event and answers 202 at once; DryRun answers 204;
  - an unknown function: 404 ResourceNotFoundException; a payload over
    6 MB: 413 RequestTooLargeException;
  - X-Amzn-Trace-Id, when sent, becomes the invocation's trace id.

Runtime API (on each slot's port), under /2018-06-01/runtime/:
invocation/next (long poll), invocation/{id}/response,
invocation/{id}/error, init/error, with the documented headers and
status codes (202 accepted, 400 unknown or finished request id, 413 a
response over 6 MB).

Test-only endpoints on the Invoke port (not AWS):
  POST /_fake/functions/{fn}/throttle  body = N: the next N Invoke
       requests of fn answer 429 TooManyRequestsException (each is still
       listed by /_fake/invokes). Answers {"throttle": N}.
  POST /_fake/functions/{fn}/enqueue  body = the event; optional headers
       X-Fake-Trace-Id ("-" = no trace id), X-Fake-Deadline-Ms,
       X-Fake-Client-Context. Answers {"requestId": ...}.
  GET  /_fake/functions/{fn}?wait=N&timeout_ms=T  waits (at most T ms)
       until N invocations of fn have finished, then answers
       {"starts": processes started, "pids": live handler processes
       (a test may kill one), "invocations": [{"requestId",
       "state": queued|running|response|error, "event", "traceId",
       "deadlineMs", "arn", "type", "response", "errorType" (the
       Lambda-Runtime-Function-Error-Type header), "error" (the error
       document)}], "initErrors": [{"errorType", "error"}], "logs":
       [stdout lines]}. Bodies are text.
  GET  /_fake/invokes  every Invoke request: [{"function", "type",
       "headers": {lower-case name: value}}].

Command line (what C tests use):
  fake_lambda.py [--function NAME[=BINARY][,concurrency=N]]...
                 [--env KEY=VALUE]... [--timeout-s S] [--region R]
prints one JSON line on stdout when ready:
  {"invoke": "http://127.0.0.1:<port>",
   "runtimes": {"NAME": ["127.0.0.1:<port>", ...]}}
and serves until its stdin reaches end of file (the parent closed it or
died) or it gets SIGTERM/SIGINT; it then kills its handler processes.

As a module:
  fl = FakeLambda({"worker": "/path/worker",
                   "target": {"binary": "/path/t", "concurrency": 2},
                   "external": None}, env={...}, timeout_s=30)
  fl.start(); fl.invoke_endpoint; fl.runtime_apis("worker")
  fl.state("worker", wait=1, timeout_ms=5000)  # as GET /_fake/functions
  fl.stop()
"""
import argparse
import binascii
import collections
import hashlib
import hmac
import http.server
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

MAX_PAYLOAD = 6 * 1024 * 1024
RUNTIME_PREFIX = '/2018-06-01/runtime/'
INVOKE_PREFIX = '/2015-03-31/functions/'
ACCOUNT = '123456789012'


def now_ms():
    return int(time.time() * 1000)


def new_trace_id():
    return 'Root=1-%08x-%s;Parent=%s;Sampled=0' % (
        int(time.time()), binascii.hexlify(os.urandom(12)).decode(),
        binascii.hexlify(os.urandom(8)).decode())


class Invocation:
    def __init__(self, fn, event, kind, trace_id, deadline_ms, arn,
                 client_context=None):
        self.request_id = str(uuid.uuid4())
        self.function = fn
        self.event = event
        self.type = kind
        self.trace_id = trace_id
        self.deadline_ms = deadline_ms
        self.arn = arn
        self.client_context = client_context
        self.state = 'queued'
        self.response = None
        self.error = None
        self.error_type = None
        self.done = threading.Event()

    def as_json(self):
        def text(b):
            return None if b is None else b.decode('utf-8', 'replace')
        return {'requestId': self.request_id, 'state': self.state,
                'event': text(self.event), 'traceId': self.trace_id,
                'deadlineMs': self.deadline_ms, 'arn': self.arn,
                'type': self.type, 'response': text(self.response),
                'errorType': self.error_type, 'error': text(self.error)}


class Slot:
    """One process of a function and its own Runtime API port."""

    def __init__(self, fn, index):
        self.function = fn
        self.index = index
        self.server = None
        self.proc = None
        self.current = None       # the invocation it is running
        self.init_error = False


class Function:
    def __init__(self, lam, name, binary, concurrency):
        self.lam = lam
        self.name = name
        self.binary = binary
        self.queue = collections.deque()
        self.invocations = []
        self.by_id = {}
        self.init_errors = []
        self.logs = []
        self.starts = 0
        self.throttle = 0
        self.slots = [Slot(self, i) for i in range(
            max(1, concurrency) if binary else 1)]

    def arn(self):
        return 'arn:aws:lambda:%s:%s:function:%s' % (
            self.lam.region, ACCOUNT, self.name)


class FakeLambda:
    def __init__(self, functions, env=None, timeout_s=30,
                 region='us-east-1'):
        self.region = region
        self.timeout_s = timeout_s
        self.env = dict(env or {})
        self.lock = threading.Condition()
        self.stopping = False
        self.invokes = []
        self.functions = {}
        for name, spec in functions.items():
            if isinstance(spec, dict):
                binary = spec.get('binary')
                conc = int(spec.get('concurrency', 1))
            else:
                binary, conc = spec, 1
            self.functions[name] = Function(self, name, binary, conc)
        self.invoke_server = None
        self.threads = []

    # -- life cycle -------------------------------------------------------
    def start(self):
        self.invoke_server = _serve(InvokeHandler, self, None)
        self.invoke_endpoint = 'http://127.0.0.1:%d' % (
            self.invoke_server.server_address[1])
        for fn in self.functions.values():
            for slot in fn.slots:
                slot.server = _serve(RuntimeHandler, self, slot)
        t = threading.Thread(target=self._watchdog, daemon=True)
        t.start()
        self.threads.append(t)
        for fn in self.functions.values():
            if fn.binary:
                for slot in fn.slots:
                    t = threading.Thread(target=self._supervise,
                                         args=(slot,), daemon=True)
                    t.start()
                    self.threads.append(t)
        return self

    def secrets(self):
        """Access key -> secret: this process's, --env's, the fake's."""
        out = {'AKIDFAKELAMBDA': 'fake-secret'}
        for env in (os.environ, self.env):
            if env.get('AWS_ACCESS_KEY_ID'):
                out[env['AWS_ACCESS_KEY_ID']] = \
                    env.get('AWS_SECRET_ACCESS_KEY', '')
        return out

    def runtime_apis(self, name):
        return ['127.0.0.1:%d' % s.server.server_address[1]
                for s in self.functions[name].slots]

    def stop(self):
        with self.lock:
            self.stopping = True
            self.lock.notify_all()
        for fn in self.functions.values():
            for slot in fn.slots:
                if slot.proc and slot.proc.poll() is None:
                    slot.proc.kill()
        for t in self.threads:
            t.join(timeout=5)
        for fn in self.functions.values():
            for slot in fn.slots:
                slot.server.shutdown()
                slot.server.server_close()
        self.invoke_server.shutdown()
        self.invoke_server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- handler processes ------------------------------------------------
    def _child_env(self, slot):
        env = dict(os.environ)
        if not any(k in env or k in self.env for k in
                   ('AWS_ACCESS_KEY_ID', 'AWS_PROFILE')):
            env['AWS_ACCESS_KEY_ID'] = 'AKIDFAKELAMBDA'
            env['AWS_SECRET_ACCESS_KEY'] = 'fake-secret'
        env.update({
            'AWS_REGION': self.region,
            'AWS_DEFAULT_REGION': self.region,
            'AWS_ENDPOINT_URL_LAMBDA': self.invoke_endpoint,
            'AWS_LAMBDA_FUNCTION_NAME': slot.function.name,
            'AWS_LAMBDA_FUNCTION_VERSION': '$LATEST',
            'AWS_LAMBDA_FUNCTION_MEMORY_SIZE': '128',
        })
        env.update(self.env)
        env['AWS_LAMBDA_RUNTIME_API'] = '127.0.0.1:%d' % (
            slot.server.server_address[1])
        return env

    def _supervise(self, slot):
        fn = slot.function
        while True:
            with self.lock:
                if self.stopping:
                    return
                slot.init_error = False
                fn.starts += 1
            try:
                proc = subprocess.Popen([fn.binary],
                                        env=self._child_env(slot),
                                        stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE)
            except OSError as e:
                proc, code = None, 127
                with self.lock:
                    slot.init_error = True
                    fn.init_errors.append({
                        'errorType': 'Runtime.InvalidEntrypoint',
                        'error': json.dumps({
                            'errorMessage': str(e),
                            'errorType': 'Runtime.InvalidEntrypoint'})})
            if proc:
                slot.proc = proc
                reader = threading.Thread(target=self._read_logs,
                                          args=(fn, proc), daemon=True)
                reader.start()
                code = proc.wait()
                reader.join(timeout=5)
            with self.lock:
                inv = slot.current
                slot.current = None
                if inv and not inv.done.is_set():
                    self._fail(inv, 'Runtime.ExitError',
                               'RequestId: %s Error: Runtime exited with '
                               'status %d' % (inv.request_id, code))
                if slot.init_error:
                    # Lambda fails the events waiting for this init.
                    while fn.queue:
                        self._fail(fn.queue.popleft(), 'Runtime.InitError',
                                   'the runtime reported an init error')
                # Start again when there is work, as Lambda does.
                while not self.stopping and not fn.queue:
                    self.lock.wait()
                if self.stopping:
                    return

    def _read_logs(self, fn, proc):
        for line in proc.stdout:
            with self.lock:
                if len(fn.logs) < 100000:
                    fn.logs.append(line.decode('utf-8', 'replace')
                                   .rstrip('\n'))

    # -- invocations (caller holds self.lock) ------------------------------
    def _fail(self, inv, kind, message):
        inv.state = 'error'
        inv.error_type = kind
        inv.error = json.dumps({'errorMessage': message,
                                'errorType': kind}).encode()
        inv.done.set()
        self.lock.notify_all()

    def enqueue(self, fn, event, kind='RequestResponse', trace_id=None,
                deadline_ms=None, arn=None, client_context=None):
        with self.lock:
            # The deadline starts when a process takes the event.
            inv = Invocation(fn.name, event, kind, trace_id, deadline_ms,
                             arn or fn.arn(), client_context)
            fn.invocations.append(inv)
            fn.by_id[inv.request_id] = inv
            fn.queue.append(inv)
            self.lock.notify_all()
            return inv

    def wait_result(self, fn, inv):
        """Wait until inv is done (the watchdog enforces timeouts)."""
        while not inv.done.wait(timeout=0.1):
            with self.lock:
                if self.stopping and not inv.done.is_set():
                    self._fail(inv, 'ServiceException', 'shutting down')

    def _watchdog(self):
        """Fail and kill what runs past its deadline, as Lambda does."""
        while True:
            with self.lock:
                if self.stopping:
                    return
                for fn in self.functions.values():
                    for slot in fn.slots:
                        inv = slot.current
                        if not inv or inv.done.is_set() or \
                                now_ms() <= inv.deadline_ms + 100:
                            continue
                        slot.current = None
                        if slot.proc and slot.proc.poll() is None:
                            slot.proc.kill()
                        self._fail(inv, 'Sandbox.Timedout',
                                   'RequestId: %s Error: Task timed out '
                                   'after %.2f seconds' % (inv.request_id,
                                                           self.timeout_s))
                self.lock.wait(timeout=0.05)

    def state(self, name, wait=0, timeout_ms=0):
        fn = self.functions[name]
        limit = time.time() + timeout_ms / 1000.0
        with self.lock:
            while True:
                done = sum(1 for i in fn.invocations if i.done.is_set())
                left = limit - time.time()
                if done >= wait or left <= 0:
                    break
                self.lock.wait(timeout=left)
            return {'starts': fn.starts,
                    'pids': [s.proc.pid for s in fn.slots
                             if s.proc and s.proc.poll() is None],
                    'invocations': [i.as_json() for i in fn.invocations],
                    'initErrors': list(fn.init_errors),
                    'logs': list(fn.logs)}

    def resolve(self, ident):
        """Function of a name, partial ARN or ARN (with a qualifier)."""
        parts = ident.split(':')
        if ident.startswith('arn:'):
            name = parts[6] if len(parts) >= 7 else ''
        elif len(parts) >= 3 and parts[1] == 'function':
            name = parts[2]       # account:function:name
        else:
            name = parts[0]
        return self.functions.get(name)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that goes away (a killed handler) is no error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _serve(handler, lam, slot):
    srv = Server(('127.0.0.1', 0), handler)
    srv.lam = lam
    srv.slot = slot
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def body(self):
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n) if n else b''

    def answer(self, status, body=b'', headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body and not any(k.lower() == 'content-type'
                            for k in (headers or {})):
            self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def aws_error(self, status, kind, message):
        self.answer(status, {'Type': 'User', 'message': message},
                    {'x-amzn-ErrorType': kind})


class RuntimeHandler(Handler):
    def do_GET(self):
        lam, slot = self.server.lam, self.server.slot
        if self.path != RUNTIME_PREFIX + 'invocation/next':
            return self.answer(404, {'errorMessage': 'not found',
                                     'errorType': 'NotFound'})
        fn = slot.function
        with lam.lock:
            while not fn.queue and not lam.stopping:
                lam.lock.wait()
            if lam.stopping:
                inv = None
            else:
                inv = fn.queue.popleft()
                inv.state = 'running'
                if inv.deadline_ms is None:
                    inv.deadline_ms = now_ms() + int(lam.timeout_s * 1000)
                slot.current = inv
        if inv is None:
            return self.answer(500, {'errorMessage': 'shutting down',
                                     'errorType': 'ServiceException'})
        hdrs = {'Lambda-Runtime-Aws-Request-Id': inv.request_id,
                'Lambda-Runtime-Deadline-Ms': str(inv.deadline_ms),
                'Lambda-Runtime-Invoked-Function-Arn': inv.arn}
        if inv.trace_id:
            hdrs['Lambda-Runtime-Trace-Id'] = inv.trace_id
        if inv.client_context:
            hdrs['Lambda-Runtime-Client-Context'] = inv.client_context
        self.answer(200, inv.event, hdrs)

    def do_POST(self):
        lam, slot = self.server.lam, self.server.slot
        fn = slot.function
        body = self.body()
        path = self.path
        if not path.startswith(RUNTIME_PREFIX):
            return self.answer(404, {'errorMessage': 'not found',
                                     'errorType': 'NotFound'})
        rest = path[len(RUNTIME_PREFIX):]
        kind = self.headers.get('Lambda-Runtime-Function-Error-Type')
        if rest == 'init/error':
            with lam.lock:
                slot.init_error = True
                fn.init_errors.append({
                    'errorType': kind,
                    'error': body.decode('utf-8', 'replace')})
                lam.lock.notify_all()
            return self.answer(202, {'status': 'OK'})
        parts = rest.split('/')
        if len(parts) != 3 or parts[0] != 'invocation' or \
                parts[2] not in ('response', 'error'):
            return self.answer(404, {'errorMessage': 'not found',
                                     'errorType': 'NotFound'})
        rid = urllib.parse.unquote(parts[1])
        with lam.lock:
            inv = fn.by_id.get(rid)
            if inv is None or inv.state != 'running':
                return self.answer(400, {
                    'errorMessage': 'Invalid request ID',
                    'errorType': 'InvalidRequestID'})
            if parts[2] == 'response' and len(body) > MAX_PAYLOAD:
                return self.answer(413, {
                    'errorMessage': 'Exceeded maximum allowed payload '
                                    'size (6291556 bytes).',
                    'errorType': 'RequestEntityTooLarge'})
            if parts[2] == 'response':
                inv.state = 'response'
                inv.response = body
            else:
                inv.state = 'error'
                inv.error = body
                inv.error_type = kind
            if slot.current is inv:
                slot.current = None
            inv.done.set()
            lam.lock.notify_all()
        self.answer(202, {'status': 'OK'})


class InvokeHandler(Handler):
    def check_sigv4(self, body):
        """None when the request carries a valid SigV4 signature for
        service lambda by a known key; else (error type, message)."""
        auth = self.headers.get('Authorization') or ''
        date = self.headers.get('X-Amz-Date') or ''
        fields = dict(f.strip().split('=', 1) for f in
                      auth[len('AWS4-HMAC-SHA256 '):].split(',')
                      if '=' in f)
        scope = fields.get('Credential', '').split('/')
        if not auth.startswith('AWS4-HMAC-SHA256 ') or len(scope) != 5 \
                or scope[3] != 'lambda' or scope[4] != 'aws4_request' \
                or 'SignedHeaders' not in fields \
                or 'Signature' not in fields or not date.startswith(
                    scope[1]):
            return ('MissingAuthenticationTokenException',
                    'Missing or malformed SigV4 Authorization')
        secret = self.server.lam.secrets().get(scope[0])
        if secret is None:
            return ('UnrecognizedClientException',
                    'The security token included in the request is '
                    'invalid.')
        url = urllib.parse.urlsplit(self.path)
        names = fields['SignedHeaders'].split(';')
        canon = ''.join('%s:%s\n' % (n, ' '.join(
            (self.headers.get(n) or '').split())) for n in names)
        query = '&'.join(sorted(
            '%s=%s' % (urllib.parse.quote(k, safe='-_.~'),
                       urllib.parse.quote(v, safe='-_.~'))
            for k, v in urllib.parse.parse_qsl(url.query,
                                               keep_blank_values=True)))
        creq = '\n'.join([
            self.command,
            # Not S3: the path as sent is encoded once more.
            urllib.parse.quote(url.path, safe='/-_.~'),
            query, canon, fields['SignedHeaders'],
            hashlib.sha256(body).hexdigest()])
        sts = '\n'.join(['AWS4-HMAC-SHA256', date, '/'.join(scope[1:]),
                         hashlib.sha256(creq.encode()).hexdigest()])
        key = ('AWS4' + secret).encode()
        for part in scope[1:]:
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, fields['Signature']):
            return ('InvalidSignatureException',
                    'The request signature we calculated does not match '
                    'the signature you provided.')
        return None

    def do_GET(self):
        lam = self.server.lam
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == '/_fake/invokes':
            with lam.lock:
                return self.answer(200, list(lam.invokes))
        prefix = '/_fake/functions/'
        if url.path.startswith(prefix):
            name = urllib.parse.unquote(url.path[len(prefix):])
            if name in lam.functions:
                return self.answer(200, lam.state(
                    name, int(q.get('wait', ['0'])[0]),
                    int(q.get('timeout_ms', ['0'])[0])))
        self.answer(404, {'message': 'not found'})

    def do_POST(self):
        lam = self.server.lam
        body = self.body()
        path = urllib.parse.urlsplit(self.path).path
        prefix = '/_fake/functions/'
        if path.startswith(prefix) and path.endswith('/throttle'):
            fn = lam.functions.get(urllib.parse.unquote(
                path[len(prefix):-len('/throttle')]))
            if not fn:
                return self.answer(404, {'message': 'no such function'})
            with lam.lock:
                fn.throttle = int(body or b'0')
            return self.answer(200, {'throttle': fn.throttle})
        if path.startswith(prefix) and path.endswith('/enqueue'):
            fn = lam.functions.get(urllib.parse.unquote(
                path[len(prefix):-len('/enqueue')]))
            if not fn:
                return self.answer(404, {'message': 'no such function'})
            trace = self.headers.get('X-Fake-Trace-Id') or new_trace_id()
            deadline = self.headers.get('X-Fake-Deadline-Ms')
            inv = lam.enqueue(fn, body, 'Event',
                              None if trace == '-' else trace,
                              int(deadline) if deadline else None, None,
                              self.headers.get('X-Fake-Client-Context'))
            return self.answer(200, {'requestId': inv.request_id})
        if not (path.startswith(INVOKE_PREFIX) and
                path.endswith('/invocations')):
            return self.aws_error(404, 'UnknownOperationException',
                                  'Unknown operation')
        ident = urllib.parse.unquote(
            path[len(INVOKE_PREFIX):-len('/invocations')])
        kind = self.headers.get('X-Amz-Invocation-Type') or \
            'RequestResponse'
        with lam.lock:
            lam.invokes.append({
                'function': ident, 'type': kind,
                'headers': {k.lower(): v for k, v in self.headers.items()}})
        problem = self.check_sigv4(body)
        if problem:
            return self.aws_error(403, problem[0], problem[1])
        fn = lam.resolve(ident)
        if fn is None:
            return self.aws_error(404, 'ResourceNotFoundException',
                                  'Function not found: %s' % ident)
        if len(body) > MAX_PAYLOAD:
            return self.aws_error(413, 'RequestTooLargeException',
                                  'Request must be smaller than 6291456 '
                                  'bytes for the InvokeFunction operation')
        with lam.lock:
            throttled = fn.throttle > 0
            if throttled:
                fn.throttle -= 1
        if throttled:
            return self.aws_error(429, 'TooManyRequestsException',
                                  'Rate Exceeded.')
        if kind == 'DryRun':
            return self.answer(204)
        if kind not in ('RequestResponse', 'Event'):
            return self.aws_error(400, 'InvalidParameterValueException',
                                  'Invalid invocation type: %s' % kind)
        arn = ident if ident.startswith('arn:') else fn.arn()
        inv = lam.enqueue(fn, body, kind,
                          self.headers.get('X-Amzn-Trace-Id') or
                          new_trace_id(), None, arn)
        if kind == 'Event':
            return self.answer(202)
        lam.wait_result(fn, inv)
        if inv.state == 'error':
            return self.answer(200, inv.error,
                               {'X-Amz-Function-Error': 'Unhandled',
                                'X-Amz-Executed-Version': '$LATEST'})
        self.answer(200, inv.response or b'',
                    {'X-Amz-Executed-Version': '$LATEST'})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--function', action='append', default=[],
                    help='NAME[=BINARY][,concurrency=N]')
    ap.add_argument('--env', action='append', default=[],
                    help='KEY=VALUE for the handler processes')
    ap.add_argument('--timeout-s', type=float, default=30,
                    help='function timeout, from when a process takes '
                    'the event')
    ap.add_argument('--region', default='us-east-1')
    args = ap.parse_args()
    functions = {}
    for spec in args.function:
        spec, _, opt = spec.partition(',')
        name, _, binary = spec.partition('=')
        conc = 1
        if opt.startswith('concurrency='):
            conc = int(opt.split('=', 1)[1])
        functions[name] = {'binary': binary or None, 'concurrency': conc}
    env = dict(e.split('=', 1) for e in args.env)
    lam = FakeLambda(functions, env, args.timeout_s, args.region).start()
    print(json.dumps({'invoke': lam.invoke_endpoint,
                      'runtimes': {n: lam.runtime_apis(n)
                                   for n in functions}}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        done.set()
    threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    lam.stop()


if __name__ == '__main__':
    main()
