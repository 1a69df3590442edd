// The dashboard in headless Chromium (Debian's chromium driven by
// puppeteer-core, pinned in package-lock.json), as a user would use it:
// `orchestra serve --run --start examples/fanout/fanout.json`, the page
// shows the fanout (seed) DAG with its states; a workflow started from
// a file through the page's file input runs, and its node turns green
// without a reload; an id that is markup shows as text; screenshots at
// 1280x800 and at phone width go to the build directory.
//
// usage: node browser.mjs ORCHESTRA SOURCE_ROOT OUT_DIR   (prints TAP)
// A missing chromium or puppeteer-core fails under CI=true and skips
// (exit 77, with the reason) otherwise.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const [orchestra, root, outDir] = process.argv.slice(2);
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'browser-test-token';
const XSS = '<img src=x onerror=alert(1)>';

function missing(why) {
  console.log('1..0 # SKIP ' + why);
  console.error(why + (process.env.CI ? '' : ' (bash .ci/setup installs it)'));
  process.exit(process.env.CI ? 1 : 77);
}
if (!existsSync(chromium)) missing(chromium + ' is missing (Debian package chromium)');
let puppeteer;
try {
  puppeteer = createRequire(path.join(root, 'package.json'))('puppeteer-core');
} catch (e) {
  missing('puppeteer-core is missing: run npm ci in the source root');
}

let n = 0;
const plan = 7;
console.log('1..' + plan);
function ok(cond, what) {
  n++;
  console.log((cond ? 'ok ' : 'not ok ') + n + ' - ' + what);
  if (!cond) throw new Error('failed: ' + what);
}

const dir = mkdtempSync(path.join(tmpdir(), 'orc-browser-'));
const db = path.join(dir, 'dash.db');
let server = null;
let browser = null;

function serve() {
  return new Promise((resolve, reject) => {
    server = spawn(orchestra, ['serve', '--db', db, '--listen', '127.0.0.1:0', '--token', TOKEN,
      '--poll-ms', '200', '--start', path.join(root, 'examples', 'fanout', 'fanout.json')],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('serve printed no address')), 30000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    server.on('exit', (code) => reject(new Error('serve exited with ' + code)));
  });
}

// The states of the DAG's nodes, as the page labels them.
async function nodeStates(page) {
  return page.$$eval('#dag .node', (gs) => Object.fromEntries(gs.map((g) => [g.dataset.task,
    g.querySelectorAll('text')[1].textContent.split(' ')[0]])));
}

async function waitNode(page, task, state, ms) {
  await page.waitForFunction((t, s) => [...document.querySelectorAll('#dag .node')]
    .some((g) => g.dataset.task === t && g.dataset.state === s), { timeout: ms }, task, state);
}

async function main() {
  const base = await serve();
  browser = await puppeteer.launch({
    executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage();
  const dialogs = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  const failed = [];
  page.on('requestfailed', (r) => { if (!r.url().includes('/events')) failed.push(r.url()); });
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(base + '#fanout', { waitUntil: 'load' });

  // The fanout (seed) DAG: A -> B1, B2, B3 -> C, each node labelled with
  // its state; the run started by --start ends with every node green.
  await page.waitForSelector('#dag .node');
  await waitNode(page, 'C', 'SUCCEEDED', 60000);
  const states = await nodeStates(page);
  ok(JSON.stringify(Object.keys(states).sort()) === JSON.stringify(['A', 'B1', 'B2', 'B3', 'C']) &&
     Object.values(states).every((s) => s === 'SUCCEEDED'),
  'the fanout DAG shows its five tasks, labelled SUCCEEDED: ' + JSON.stringify(states));
  const fill = await page.$eval('#dag .node[data-task="A"] rect', (r) => getComputedStyle(r).fill);
  ok(fill === 'rgb(47, 158, 85)', 'a SUCCEEDED node is green (' + fill + ')');
  const cols = await page.$$eval('#dag .node', (gs) => Object.fromEntries(gs.map((g) => [g.dataset.task,
    g.transform.baseVal[0].matrix.e])));
  ok(cols.A < cols.B1 && cols.B1 === cols.B2 && cols.B2 === cols.B3 && cols.B3 < cols.C,
    'laid out by level: A, then B1 B2 B3 in one column, then C');

  // Start a workflow from a file through the page; watch its first node
  // go from RUNNING to SUCCEEDED with no reload.
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.type('#token', TOKEN);
  await page.$eval('#token', (e) => e.dispatchEvent(new Event('change')));
  const file = path.join(dir, 'slow.json');
  writeFileSync(file, JSON.stringify({
    workflowId: 'from-file',
    tasks: [
      { id: 'prepare', command: ['sh', '-c', 'sleep 2; echo \'{"ready": true}\''] },
      { id: 'finish', dependsOn: ['prepare'], command: ['sh', '-c', 'echo \'{"done": 1}\''] },
    ],
  }));
  const input = await page.$('#file');
  await input.uploadFile(file);
  await waitNode(page, 'prepare', 'RUNNING', 20000);
  await waitNode(page, 'prepare', 'SUCCEEDED', 30000);
  await waitNode(page, 'finish', 'SUCCEEDED', 30000);
  const same = await page.evaluate(() => window.__sameDocument === true);
  const title = await page.$eval('#wfid', (e) => e.textContent);
  ok(same && title === 'from-file', 'a workflow started from a file turned green live, without reload');

  // The task panel: the output the command printed.
  await page.click('#dag .node[data-task="finish"]');
  await page.waitForFunction(() => document.querySelector('#taskoutput').textContent.includes('"done"'));
  ok(true, 'the task panel shows the task output');

  // The screenshot of the README: the fanout run (no task open: its
  // command paths are this machine's).
  await page.goto(base + '#fanout', { waitUntil: 'load' });
  await waitNode(page, 'C', 'SUCCEEDED', 10000);
  await page.screenshot({ path: path.join(outDir, 'dashboard.png') });

  // An id that is markup: started through the API, shown as text.
  const r = await fetch(base + 'workflows', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + TOKEN },
    body: JSON.stringify({ workflowId: XSS, tasks: [{ id: XSS, command: ['true'] }] }),
  });
  await page.goto(base + '#' + encodeURIComponent(XSS), { waitUntil: 'load' });
  await waitNode(page, XSS, 'SUCCEEDED', 30000);
  const shown = await page.$eval('#wfid', (e) => e.textContent);
  const imgs = await page.$$eval('img', (x) => x.length);
  const inList = await page.$$eval('#rows td:first-child', (tds) => tds.some((t) => t.textContent === '<img src=x onerror=alert(1)>'));
  ok(r.status === 202 && shown === XSS && inList && imgs === 0 && dialogs.length === 0,
    'an id like ' + XSS + ' shows as text (no img element, no dialog)');

  // Phone width: nothing wider than the screen but the scrollable DAG.
  await page.setViewport({ width: 390, height: 844, isMobile: true });
  await page.goto(base + '#fanout', { waitUntil: 'load' });
  await page.waitForSelector('#dag .node');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.screenshot({ path: path.join(outDir, 'dashboard-phone.png'), fullPage: true });
  ok(wide <= 390 && failed.length === 0, 'usable at phone width (page width ' + wide + ', failed requests ' +
    JSON.stringify(failed) + ')');
}

let code = 0;
try {
  await main();
} catch (e) {
  console.log('# ' + String(e.stack || e).split('\n').join('\n# '));
  code = 1;
} finally {
  if (browser) await browser.close();
  if (server) {
    // Stopped with no run in progress, serve exits 0 (and under ASan
    // leaks nothing, or its exit status says so).
    server.removeAllListeners('exit');
    const exited = new Promise((resolve) => server.on('exit', (c, sig) => resolve(c === null ? sig : c)));
    server.kill('SIGTERM');
    const status = await exited;
    if (status !== 0) {
      console.log('# orchestra serve exited with ' + status);
      code = 1;
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
if (n < plan) code = 1;
process.exit(code);
