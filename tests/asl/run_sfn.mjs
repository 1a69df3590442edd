// Validates and executes the state machines that asl_gen emits.
//
//   node run_sfn.mjs --gen ASL_GEN --emit ASL_EMIT
//       --workflows SEED.json HANDLERS.json [--counts GENERAL SP]
//
// ORC_SOURCE_ROOT (set by tests/asl/meson.build) is where package.json and
// node_modules are: `npm ci` there installs asl-validator and
// aws-local-stepfunctions. Without them this test fails; it never skips.
//
// Every machine must pass asl-validator. Every JSONPath machine is run by
// aws-local-stepfunctions with each Task state overridden by a local
// handler that plays lambda:invoke. Handlers run on a virtual clock: a
// call started at tick t finishes at tick t + duration, and the clock only
// moves when the machine can make no more progress, so the recorded
// start and end ticks are exact. Checked against the DAG (never against
// the emitter's report):
//   - every task runs once (or per its retries) and never before each of
//     its dependencies has ended;
//   - the payload is {workflowId, taskId, attempt, input, dependencies}
//     with exactly the task's dependencies, each carrying the output that
//     dependency's handler returned; FunctionName is the task's function;
//   - for a series-parallel DAG and the "sp" strategy, every task starts
//     exactly when its last dependency ends, both with equal durations
//     and with random ones;
//   - the expected outcome: success, or failure whose Cause names the
//     failed task, with no task downstream of it started;
//   - state names are unique in the machine and at most 80 characters.
// Then `orchestra asl` (ASL_EMIT) is run on the seed's workflow file.

// aws-local-stepfunctions 3 uses Promise.withResolvers (Node >= 22).
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';

const root = process.env.ORC_SOURCE_ROOT;
const args = { counts: [] };
for (let i = 2, key = null; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith('--')) {
    key = a.slice(2);
    args[key] = args[key] ?? [];
  } else if (key) {
    args[key].push(a);
  }
}
const genExe = args.gen?.[0];
const emitExe = args.emit?.[0];
const workflows = args.workflows ?? [];
if (!root || !genExe || !emitExe || workflows.length !== 2) {
  console.error('usage: ORC_SOURCE_ROOT=<source root> node run_sfn.mjs ' +
    '--gen ASL_GEN --emit ASL_EMIT --workflows SEED HANDLERS ' +
    '[--counts GENERAL SP]');
  process.exit(1);
}
const modules = join(root, 'node_modules');
for (const pkg of ['asl-validator', 'aws-local-stepfunctions']) {
  if (!existsSync(join(modules, pkg))) {
    console.error(`run_sfn: ${join(modules, pkg)} is missing: run ` +
      '`npm ci` in the source root');
    process.exit(1);
  }
}
const require = createRequire(join(root, 'package.json'));
const { StateMachine } = require('aws-local-stepfunctions');
// installed with asl-validator, which compiles JSONata expressions with it
const jsonata = require('jsonata');

// asl-validator compiles its schemas on every call (about 0.5 s), so the
// machines are validated on worker threads while the main thread runs
// them. The tool is used as it is, on a copy of each definition (it adds
// QueryLanguage to the states it checks).
const validatorSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createRequire } = require('node:module');
const validate = createRequire(workerData.pkg)('asl-validator');
const out = [];
for (const [i, text] of workerData.jobs) {
  const r = validate(JSON.parse(text));
  out.push([i, r.isValid, r.isValid ? '' : r.errorsText('; ')]);
}
parentPort.postMessage(out);
`;
function validateAll(machines) {
  const nworkers = Math.max(1, Math.min(2, availableParallelism()));
  const jobs = Array.from({ length: nworkers }, () => []);
  machines.forEach((m, i) => jobs[i % nworkers].push([i,
    JSON.stringify(m)]));
  return Promise.all(jobs.map((j) => new Promise((resolve, reject) => {
    const w = new Worker(validatorSource, { eval: true,
      workerData: { pkg: join(root, 'package.json'), jobs: j } });
    w.once('message', resolve);
    w.once('error', reject);
  }))).then((parts) => parts.flat());
}

let failures = 0;
function fail(where, msg) {
  failures++;
  if (failures <= 40)
    console.log(`not ok: ${where}: ${msg}`);
}

// ---- DAG facts computed here, independently of the emitter -----------

function dagInfo(c) {
  const byId = new Map(c.tasks.map((t) => [t.id, t]));
  const anc = new Map();
  const ancestors = (id) => {
    if (anc.has(id))
      return anc.get(id);
    const s = new Set();
    for (const d of byId.get(id).deps) {
      s.add(d);
      for (const a of ancestors(d))
        s.add(a);
    }
    anc.set(id, s);
    return s;
  };
  for (const t of c.tasks)
    ancestors(t.id);
  // longest path from a task without dependencies
  const level = new Map();
  const lev = (id) => {
    if (!level.has(id))
      level.set(id, Math.max(-1, ...byId.get(id).deps.map(lev)) + 1);
    return level.get(id);
  };
  for (const t of c.tasks)
    lev(t.id);
  return { byId, anc, level };
}

// ---- virtual-clock execution ------------------------------------------

function stateNames(asl, out = new Map()) {
  for (const [name, s] of Object.entries(asl.States)) {
    if (s.Type === 'Task')
      out.set(name, s);
    if (s.Type === 'Parallel')
      for (const b of s.Branches)
        stateNames(b, out);
  }
  return out;
}

const turn = () => new Promise((r) => setImmediate(r));
const timer = () => new Promise((r) => setTimeout(r, 0));

async function execute(c, machine, durations) {
  const asl = machine.asl;
  // asl-validator checks every machine (validateAll); the emulator's
  // own check is that same tool again, only slower
  const sm = new StateMachine(asl, {
    validationOptions: { noValidate: true },
  });
  const tasks = stateNames(asl);
  const byTaskId = new Map(c.tasks.map((t) => [t.id, t]));
  const handlers = {};
  const retryOverrides = {};
  const trace = new Map(); // task id -> {starts: [], end, calls}
  const outputs = new Map();
  const pending = [];
  let now = 0, waited = 0;
  let activity = 0;
  const payloadErrors = [];

  for (const [name, state] of tasks) {
    retryOverrides[name] = 0;
    handlers[name] = (params) => {
      activity++;
      const p = state.Resource === 'arn:aws:states:::lambda:invoke' ?
        params.Payload : params;
      const id = p && p.taskId;
      const t = byTaskId.get(id);
      if (!t) {
        payloadErrors.push(`state ${name}: unknown taskId ` +
          JSON.stringify(id));
        return Promise.reject(new Error('bad taskId'));
      }
      if (params.FunctionName !== t.function)
        payloadErrors.push(`${id}: FunctionName ` +
          `${params.FunctionName}, want ${t.function}`);
      const keys = Object.keys(p).sort();
      const want = ['attempt', 'dependencies', 'input', 'taskId',
        'workflowId'];
      if (!isDeepStrictEqual(keys, want))
        payloadErrors.push(`${id}: payload keys ${keys}`);
      if (p.workflowId !== c.name)
        payloadErrors.push(`${id}: workflowId ${p.workflowId}`);
      if (p.attempt !== 1)
        payloadErrors.push(`${id}: attempt ${p.attempt}`);
      if (!isDeepStrictEqual(p.input, c.input))
        payloadErrors.push(`${id}: input differs`);
      const depKeys = Object.keys(p.dependencies || {}).sort();
      if (!isDeepStrictEqual(depKeys, [...t.deps].sort()))
        payloadErrors.push(`${id}: dependencies ` +
          `${JSON.stringify(depKeys)}, want ` +
          JSON.stringify(t.deps));
      for (const d of t.deps)
        if (!isDeepStrictEqual(p.dependencies[d],
          outputs.get(d)))
          payloadErrors.push(`${id}: output of ${d} ` +
            'differs');
      let tr = trace.get(id);
      if (!tr) {
        tr = { starts: [], end: -1, calls: 0 };
        trace.set(id, tr);
      }
      tr.starts.push(now);
      tr.calls++;
      const failNow = tr.calls <= t.fail_times;
      if (t.fail_times < 0) // never answers: TimeoutSeconds ends it
        return new Promise(() => {});
      return new Promise((resolve, reject) => {
        pending.push({
          due: now + durations.get(id),
          done: () => {
            activity++;
            tr.end = now;
            if (failNow) {
              const e = new Error(`${id} failed on ` +
                `call ${tr.calls}`);
              e.name = 'TaskError';
              reject(e);
              return;
            }
            // a distinct, nested output per task
            const out = { from: id, at: now,
              nested: [id, { n: tr.calls }] };
            outputs.set(id, out);
            // what lambda:invoke returns; only Payload
            // may reach the state data
            resolve({ ExecutedVersion: '$LATEST',
              Payload: out, StatusCode: 200,
              SdkHttpMetadata: { HttpStatusCode: 200 } });
          },
        });
      });
    };
  }
  const run = sm.run(c.input, {
    overrides: { taskResourceLocalHandlers: handlers,
      retryIntervalOverrides: retryOverrides },
    // aws-local-stepfunctions has no $$.State: RetryCount stays 0
    context: { Execution: { Name: c.name }, State: { RetryCount: 0 } },
  });
  let transitions = 0;
  const events = (async () => {
    for await (const ev of run.eventLogs)
      if (ev.type === 'StateEntered')
        transitions++;
  })();
  let settled = null;
  run.result.then((v) => { settled = { ok: true, value: v }; },
    (e) => { settled = { ok: false, error: e }; });
  for (;;) {
    // let the machine run until nothing changes any more: a few
    // event-loop turns, then a timer turn (a retry waits on a timer)
    let seen = -1;
    while (seen !== activity) {
      seen = activity;
      for (let i = 0; i < 3; i++)
        await turn();
      if (seen === activity)
        await timer();
    }
    if (settled)
      break;
    if (pending.length === 0) {
      // only a task that never answers is left: wait (real time)
      // for the state's timeout, then give up
      if (c.tasks.some((t) => t.fail_times < 0) && waited < 5000) {
        await new Promise((r) => setTimeout(r, 50));
        waited += 50;
        continue;
      }
      settled = { ok: false, error: new Error('stuck: no task ' +
        'running and no result') };
      run.result.catch(() => {});
      run.abort();
      break;
    }
    now = Math.min(...pending.map((p) => p.due));
    for (let i = 0; i < pending.length;) {
      if (pending[i].due === now) {
        pending[i].done();
        pending.splice(i, 1);
      } else {
        i++;
      }
    }
  }
  // the event log closes with the execution; a stuck one never does
  await Promise.race([events, new Promise((r) => setTimeout(r, 200))]);
  return { settled, trace, outputs, transitions, payloadErrors,
    makespan: now };
}

// ---- JSONata data flow --------------------------------------------------
//
// aws-local-stepfunctions has no JSONata, so the data flow of a JSONata
// machine is checked by evaluating its expressions with the jsonata
// package along the Task / Parallel chain: Arguments with $states.input
// and $states.context, Output with $states.result too. Branches run one
// after the other (no timing is checked here), no Retry or Catch.

async function evalTemplate(v, states) {
  if (typeof v === 'string') {
    const m = /^\{%(.*)%\}$/s.exec(v);
    return m ? await jsonata(m[1]).evaluate({}, { states }) : v;
  }
  if (Array.isArray(v))
    return Promise.all(v.map((x) => evalTemplate(x, states)));
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v))
      o[k] = await evalTemplate(x, states);
    return o;
  }
  return v;
}

async function runJsonata(block, input, context, call) {
  let name = block.StartAt, data = input;
  for (;;) {
    const s = block.States[name];
    let result;
    if (s.Type === 'Task') {
      result = await call(await evalTemplate(s.Arguments,
        { input: data, context }));
    } else if (s.Type === 'Parallel') {
      result = [];
      for (const b of s.Branches)
        result.push(await runJsonata(b, data, context, call));
    } else {
      throw new Error(`state ${name}: unexpected ${s.Type}`);
    }
    data = s.Output === undefined ? result :
      await evalTemplate(s.Output, { input: data, result, context });
    if (s.End)
      return data;
    name = s.Next;
  }
}

async function checkJsonata(c, info, m) {
  const where = `${c.name} [${m.strategy}/jsonata]`;
  const outputs = new Map();
  const context = { Execution: { Name: c.name, Input: c.input },
    State: { RetryCount: 0 } };
  const call = async (args) => {
    const p = args.Payload;
    const t = info.byId.get(p?.taskId);
    if (!t) {
      fail(where, `unknown taskId ${JSON.stringify(p?.taskId)}`);
      return {};
    }
    if (args.FunctionName !== t.function)
      fail(where, `${t.id}: FunctionName ${args.FunctionName}`);
    const want = { workflowId: c.name, taskId: t.id, attempt: 1,
      input: c.input, dependencies: Object.fromEntries(
        t.deps.map((d) => [d, outputs.get(d)])) };
    if (!isDeepStrictEqual(p, want))
      fail(where, `${t.id}: payload ${JSON.stringify(p)}, want ` +
        JSON.stringify(want));
    const out = { from: t.id, nested: [1, { x: t.id }] };
    outputs.set(t.id, out);
    return { Payload: out, StatusCode: 200, ExecutedVersion: '$LATEST' };
  };
  let final;
  try {
    final = await runJsonata(m.asl, c.input, context, call);
  } catch (e) {
    fail(where, `JSONata evaluation: ${e.message}`);
    return;
  }
  // the output: every task's output under its id
  for (const t of c.tasks)
    if (!isDeepStrictEqual(final?.[t.id], outputs.get(t.id)))
      fail(where, `output lacks ${t.id}`);
  if (JSON.stringify(final).includes('StatusCode'))
    fail(where, 'invoke metadata leaked into the output');
}

// ---- checks -----------------------------------------------------------

function checkNames(where, asl, seen = new Set()) {
  for (const [name, s] of Object.entries(asl.States)) {
    if ([...name].length > 80)
      fail(where, `state name longer than 80: ${name}`);
    // what AWS documents as not allowed in names
    if (/[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f\ufffe\uffff]/u
      .test(name))
      fail(where, `state name with a forbidden character: ${name}`);
    if (seen.has(name))
      fail(where, `state name used twice: ${name}`);
    seen.add(name);
    for (const b of s.Branches ?? [])
      checkNames(where, b, seen);
  }
}

function checkRun(c, info, machine, durations, res, label) {
  const where = `${c.name} [${machine.strategy}, ${label}]`;
  for (const e of res.payloadErrors)
    fail(where, e);
  const { trace, settled } = res;
  const failed = c.expect !== 'succeeded' ? c.expect.failedTask : null;
  if (!failed) {
    if (!settled.ok) {
      fail(where, `execution failed: ${settled.error.message}`);
      return;
    }
    const text = JSON.stringify(settled.value);
    if (text.includes('StatusCode') || text.includes('SdkHttpMetadata'))
      fail(where, 'invoke metadata leaked into the output');
  } else {
    if (settled.ok) {
      fail(where, `succeeded; expected ${failed} to fail it`);
      return;
    }
    const cause = settled.error.cause || settled.error;
    const msg = `${cause.name} ${cause.message}`;
    if (machine.fail_states === 'none') {
      // No Fail state: the execution fails with the task's own error
      // (the handler's, or the timeout of a task that never answers).
      const own = info.byId.get(failed).fail_times < 0 ?
        'States.Timeout' : `${failed} failed on`;
      if (!msg.includes(own))
        fail(where, `failure is not ${failed}'s own error: ${msg}`);
    } else if (!msg.includes('ORC_EUSER') ||
      !msg.includes(`task ${JSON.stringify(failed)} failed`))
      fail(where, `failure does not name ${failed}: ${msg}`);
    const t = info.byId.get(failed);
    const calls = trace.get(failed)?.calls ?? 0;
    const want = t.fail_times < 0 ? t.max_attempts :
      Math.min(t.max_attempts, t.fail_times + 1);
    if (calls !== want)
      fail(where, `${failed} called ${calls} times with ` +
        `max_attempts ${t.max_attempts}`);
  }
  for (const t of c.tasks) {
    const tr = trace.get(t.id);
    const downstream = failed &&
      info.anc.get(t.id).has(failed);
    if (!tr) {
      if (!failed)
        fail(where, `${t.id} never ran`);
      continue;
    }
    if (downstream)
      fail(where, `${t.id} started after ${failed} failed`);
    if (tr.calls !== Math.min(t.fail_times + 1, t.max_attempts) &&
      t.id !== failed && !failed)
      fail(where, `${t.id} ran ${tr.calls} times`);
    let ready = 0;
    for (const d of t.deps) {
      const dt = trace.get(d);
      if (!dt || dt.end < 0 || dt.end > tr.starts[0]) {
        fail(where, `${t.id} started at ${tr.starts[0]} ` +
          `before ${d} ended (${dt ? dt.end : 'never'})`);
        continue;
      }
      ready = Math.max(ready, dt.end);
    }
    if (machine.report.series_parallel && !failed &&
      machine.strategy.startsWith('sp') &&
      tr.starts[0] !== ready)
      fail(where, `${t.id} started at ${tr.starts[0]}, its ` +
        `dependencies allow ${ready}`);
    // sp-latency: with equal durations no task waits past its level
    if (machine.strategy === 'sp-latency' && label === 'equal' &&
      c.tasks.every((x) => x.fail_times === 0) &&
      tr.starts[0] !== info.level.get(t.id))
      fail(where, `${t.id} started at ${tr.starts[0]}, its ` +
        `level is ${info.level.get(t.id)}`);
  }
}

function falsePairsBound(c, info) {
  // pairs (u, v) with u not an ancestor of v, nor v of u: the most a
  // machine could wrongly order; used to sanity-check the report
  let n = 0;
  for (const u of c.tasks)
    for (const v of c.tasks)
      if (u.id !== v.id && !info.anc.get(v.id).has(u.id) &&
        !info.anc.get(u.id).has(v.id))
        n++;
  return n / 2;
}

function isSeriesParallel(c, info) {
  // N-free test of the order: no u<v, w<v, w<x with u, x incomparable
  // and u, w incomparable and v, x incomparable (an induced "N")
  const ids = c.tasks.map((t) => t.id);
  const lt = (a, b) => info.anc.get(b).has(a);
  const cmp = (a, b) => lt(a, b) || lt(b, a);
  for (const v of ids)
    for (const u of ids) {
      if (!lt(u, v))
        continue;
      for (const w of ids) {
        if (w === u || !lt(w, v) || cmp(u, w))
          continue;
        for (const x of ids)
          if (x !== v && lt(w, x) && !cmp(u, x) &&
            !cmp(v, x))
            return false;
      }
    }
  return true;
}

// ---- main -------------------------------------------------------------

const gen = spawnSync(genExe, args.counts, {
  maxBuffer: 1 << 30, encoding: 'utf8' });
if (gen.status !== 0) {
  console.error(`run_sfn: ${genExe} failed: ${gen.stderr}`);
  process.exit(1);
}
const cases = gen.stdout.trim().split('\n').map((l) => JSON.parse(l));

const totals = { nonsp: 0, sp: 0 };
const fig = {};
const strategies = ['sp', 'sp-latency', 'levels'];
for (const s of strategies)
  fig[s] = { falseDeps: 0, transitions: 0, makespan: 0, states: 0 };
let idealMakespan = 0;
let executions = 0, jsonataRuns = 0;
const allMachines = [];
const machineWhere = [];
for (const c of cases)
  for (const m of c.machines) {
    allMachines.push(m.asl);
    machineWhere.push(`${c.name} [${m.strategy}/${m.language}]`);
  }

// ---- orchestra asl (the standalone ASL_EMIT) ---------------------------

const WORKER = 'arn:aws:lambda:eu-central-1:123456789012:function:worker';
const tmp = mkdtempSync(join(tmpdir(), 'orc-asl-'));
const cli = (argv) => spawnSync(emitExe, argv,
  { encoding: 'utf8' });
function expectExit(what, r, status, text) {
  if (r.status !== status)
    fail(`orchestra asl ${what}`, `exit ${r.status}, want ${status}: ` +
      r.stderr);
  else if (text && !(r.stdout + r.stderr).includes(text))
    fail(`orchestra asl ${what}`, `output lacks "${text}": ` +
      r.stdout + r.stderr);
}
const [seedFile, handlersFile] = workflows;
expectExit('--help', cli(['--help']), 0, 'usage: orchestra asl');
expectExit('(no file)', cli([]), 2, 'which workflow file');
expectExit('--strategy fast', cli([seedFile, '--strategy', 'fast']), 2,
  'fast');
expectExit('--query-language xpath', cli([seedFile, '--query-language',
  'xpath']), 2, 'xpath');
expectExit('--bogus', cli([seedFile, '--bogus']), 2, '--bogus');
expectExit('--fail-states some', cli([seedFile, '--fail-states',
  'some']), 2, 'some');
expectExit('missing file', cli([join(tmp, 'none.json')]), 2, 'none.json');
expectExit('handler task', cli([handlersFile]), 2, 'prepare');
const cliMachines = []; // [label, asl]
{
  const out = join(tmp, 'seed.asl.json');
  const r = cli([seedFile, '--out', out, '--report']);
  expectExit('--out --report', r, 0, 'false dependencies 0');
  if (r.status === 0)
    cliMachines.push(['seed file', JSON.parse(readFileSync(out,
      'utf8'))]);
  const j = cli([seedFile, '--query-language=jsonata', '--type',
    'express', '--strategy', 'levels']);
  expectExit('jsonata express', j, 0);
  if (j.status === 0) {
    const m = JSON.parse(j.stdout);
    if (m.QueryLanguage !== 'JSONata' || !m.Comment.includes('EXPRESS'))
      fail('orchestra asl jsonata express', 'no JSONata or EXPRESS');
    cliMachines.push(['seed file jsonata', m]);
  }
  const n = cli([seedFile, '--fail-states', 'none', '--report']);
  expectExit('--fail-states none', n, 0, 'states 6');
  if (n.status === 0)
    cliMachines.push(['seed file without Fail states',
      JSON.parse(n.stdout)]);
  const h = cli([handlersFile, '--default-resource', WORKER]);
  expectExit('--default-resource', h, 0);
  if (h.status === 0)
    cliMachines.push(['handler file', JSON.parse(h.stdout)]);
}
rmSync(tmp, { recursive: true, force: true });
for (const [label, asl] of cliMachines) {
  allMachines.push(asl);
  machineWhere.push(`orchestra asl: ${label}`);
}

const validation = validateAll(allMachines);

for (const c of cases) {
  const info = dagInfo(c);
  const sp = isSeriesParallel(c, info);
  let seedRng = BigInt(c.seed) + 1n;
  const rand = () => {
    seedRng = (seedRng * 6364136223846793005n + 1442695040888963407n) &
      ((1n << 64n) - 1n);
    return Number(seedRng >> 33n) / 2 ** 31;
  };
  const unit = new Map(c.tasks.map((t) => [t.id, 1]));
  const random = new Map(c.tasks.map((t) => [t.id, 1 + Math.floor(
    rand() * 4)]));
  if (c.family === 'general')
    totals[sp ? 'sp' : 'nonsp']++;
  for (const m of c.machines) {
    const label = `${m.strategy}/${m.language}` +
      (m.fail_states === 'none' ? '/no-fail-states' : '');
    checkNames(`${c.name} [${label}]`, m.asl);
    if (m.report.series_parallel !== sp)
      fail(`${c.name} [${label}]`, `report says series_parallel ` +
        `${m.report.series_parallel}, the DAG is ${sp}`);
    if (m.report.false_dependencies > falsePairsBound(c, info))
      fail(`${c.name} [${label}]`, 'more false dependencies ' +
        'than incomparable pairs');
    if (m.strategy === 'sp' && sp && m.report.false_dependencies)
      fail(`${c.name} [${label}]`, 'false dependencies in a ' +
        'series-parallel DAG');
    if (m.fail_states === 'none' && (m.report.fail_states !== 0 ||
      m.report.states !== m.report.task_states +
        m.report.parallel_states))
      fail(`${c.name} [${label}]`, 'states other than one per task ' +
        'and one per Parallel');
    if (m.language !== 'jsonpath') {
      if (c.tasks.every((t) => t.fail_times === 0)) {
        await checkJsonata(c, info, m);
        jsonataRuns++;
      }
      continue; // the emulator has no JSONata
    }
    for (const [dl, durations] of [['equal', unit],
      ['random', random]]) {
      const res = await execute(c, m, durations);
      executions++;
      checkRun(c, info, m, durations, res, dl);
      if (c.family === 'general' && !sp && dl === 'random' &&
        m.fail_states !== 'none') {
        const f = fig[m.strategy];
        f.falseDeps += m.report.false_dependencies;
        f.transitions += res.transitions;
        f.makespan += res.makespan;
        f.states += m.report.states;
        if (m.strategy === 'sp') {
          // critical path with the same durations
          const fin = new Map();
          const finish = (id) => {
            if (!fin.has(id))
              fin.set(id, durations.get(id) + Math.max(0,
                ...info.byId.get(id).deps.map(finish)));
            return fin.get(id);
          };
          idealMakespan += Math.max(...c.tasks.map((t) =>
            finish(t.id)));
        }
      }
    }
  }
}

// The seed's file through `orchestra asl`: Task A -> Parallel(B1, B2,
// B3) -> Task C, and it runs like the generated seed case.
if (cliMachines.length && cliMachines[0][0] === 'seed file') {
  const asl = cliMachines[0][1];
  const st = asl.States;
  const par = st[st.A?.Next];
  const single = (b, id) => b.StartAt === id &&
    b.States[id]?.Type === 'Task' && b.States[id].End === true &&
    Object.keys(b.States).length === 2;
  if (asl.StartAt !== 'A' || st.A.Type !== 'Task' ||
    par?.Type !== 'Parallel' || par.Branches.length !== 3 ||
    !['B1', 'B2', 'B3'].every((id, i) => single(par.Branches[i], id)) ||
    par.Next !== 'C' || st.C?.Type !== 'Task' || st.C.End !== true)
    fail('orchestra asl seed', 'not A -> Parallel(B1, B2, B3) -> C');
  checkNames('orchestra asl seed', asl);
  const wf = JSON.parse(readFileSync(seedFile, 'utf8'));
  const c = {
    name: wf.workflowId, input: { from: 'cli' }, expect: 'succeeded',
    tasks: wf.graph.map((g) => ({ id: g.taskId, deps: g.dependsOn,
      function: g.targetLambdaArn, fail_times: 0,
      max_attempts: 3 })),
  };
  const m = { asl, strategy: 'sp', report: { series_parallel: true } };
  const info = dagInfo(c);
  const unit = new Map(c.tasks.map((t) => [t.id, 1]));
  const res = await execute(c, m, unit);
  executions++;
  checkRun(c, info, m, unit, res, 'equal');
  if (res.transitions !== 6)
    fail('orchestra asl seed', `${res.transitions} state ` +
      'transitions, want 6 (5 Task states and 1 Parallel)');
}

let validated = 0;
for (const [i, ok, text] of await validation) {
  validated++;
  if (!ok)
    fail(machineWhere[i], `asl-validator: ${text}`);
}
if (validated !== allMachines.length)
  fail('asl-validator', `${validated} of ${allMachines.length} checked`);
console.log(`run_sfn: ${cases.length} cases, ${validated} machines ` +
  `validated, ${executions} executions, ${jsonataRuns} JSONata data ` +
  'flows');
console.log(`random DAGs: ${totals.nonsp} not series-parallel, ` +
  `${totals.sp} series-parallel (family "general"), plus ` +
  `${cases.filter((c) => c.family === 'sp').length} generated ` +
  'series-parallel');
for (const s of strategies)
  console.log(`non-SP DAGs, strategy ${s}: false dependencies ` +
    `${fig[s].falseDeps}, state transitions ${fig[s].transitions}, ` +
    `states ${fig[s].states}, makespan ${fig[s].makespan} ticks`);
console.log(`non-SP DAGs: critical-path makespan ${idealMakespan} ticks`);
if (failures) {
  console.log(`run_sfn: ${failures} failure(s)`);
  process.exit(1);
}
console.log('run_sfn: all checks passed');
