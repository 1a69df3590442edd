// The orchestra dashboard: the workflow list, a workflow's DAG laid out
// by level with each node coloured and labelled by its task's state, a
// task panel, and live updates (Server-Sent Events; polling where the
// server has none, as behind API Gateway). Every text from the server
// goes into the page through textContent, never as markup.
'use strict';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
// Relative URLs: the page works under a path prefix (an API stage).
const url = (p) => p;
let workflows = new Map();
let current = null; // workflow id shown
let detail = null;
let selectedTask = null;
let source = null;
let pollTimer = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function notice(text, bad) {
  const n = $('notice');
  n.textContent = text;
  n.className = bad ? 'bad' : '';
  n.hidden = !text;
}

function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  const t = sessionStorage.getItem('orc-token');
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

async function api(method, path, body) {
  const r = await fetch(url(path), { method, headers: headers(body !== undefined), body });
  let doc = null;
  try { doc = await r.json(); } catch (e) { doc = null; }
  if (!r.ok) {
    const msg = doc && doc.error ? doc.error : r.status + ' ' + r.statusText;
    throw new Error(msg + (doc && doc.field ? ' (' + doc.field + ')' : ''));
  }
  return doc;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : '';
}

function duration(w) {
  if (!w.createdMs) return '';
  const end = ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(w.status) ? w.updatedMs : Date.now();
  const s = Math.max(0, Math.round((end - w.createdMs) / 1000));
  return s < 60 ? s + 's' : Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
}

function renderList() {
  const rows = $('rows');
  const f = $('filter').value.toLowerCase();
  const st = $('state').value;
  const list = [...workflows.values()].sort((a, b) => (b.createdMs - a.createdMs) || (a.workflowId < b.workflowId ? -1 : 1));
  rows.replaceChildren();
  for (const w of list) {
    if (f && !w.workflowId.toLowerCase().includes(f)) continue;
    if (st && w.status !== st) continue;
    const tr = el('tr');
    tr.dataset.id = w.workflowId;
    if (w.workflowId === current) tr.className = 'sel';
    tr.append(el('td', w.workflowId));
    const td = el('td');
    td.append(el('span', w.status, 'badge s-' + w.status));
    tr.append(td, el('td', when(w.createdMs)), el('td', duration(w)));
    tr.addEventListener('click', () => select(w.workflowId));
    rows.append(tr);
  }
}

async function loadList() {
  try {
    const list = await api('GET', 'workflows');
    workflows = new Map(list.map((w) => [w.workflowId, w]));
    renderList();
  } catch (e) {
    notice('cannot list workflows: ' + e.message, true);
  }
}

// Columns by level (0 = no dependencies), nodes in definition order.
function layout(d) {
  const cols = [];
  for (const t of d.tasks) {
    const lv = d.levels[t.taskId] || 0;
    (cols[lv] = cols[lv] || []).push(t.taskId);
  }
  const W = 150, H = 54, GX = 60, GY = 18;
  const pos = {};
  const rows = Math.max(1, ...cols.map((c) => (c ? c.length : 0)));
  const height = rows * (H + GY) + GY;
  cols.forEach((c, i) => {
    if (!c) return;
    const top = (height - c.length * (H + GY) + GY) / 2;
    c.forEach((id, j) => { pos[id] = { x: GX / 2 + i * (W + GX), y: top + j * (H + GY) }; });
  });
  return { pos, W, H, width: cols.length * (W + GX), height };
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

function renderDag(d) {
  const svg = $('dag');
  const L = layout(d);
  svg.replaceChildren();
  svg.setAttribute('width', L.width);
  svg.setAttribute('height', L.height);
  svg.setAttribute('viewBox', '0 0 ' + L.width + ' ' + L.height);
  for (const from in d.dag) {
    for (const to of d.dag[from]) {
      const a = L.pos[from], b = L.pos[to];
      if (!a || !b) continue;
      const x1 = a.x + L.W, y1 = a.y + L.H / 2, x2 = b.x, y2 = b.y + L.H / 2;
      const mx = (x1 + x2) / 2;
      svg.append(svgEl('path', { class: 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
    }
  }
  for (const t of d.tasks) {
    const p = L.pos[t.taskId];
    const g = svgEl('g', { class: 'node' + (t.taskId === selectedTask ? ' sel' : ''), transform: `translate(${p.x},${p.y})`, tabindex: '0', role: 'button' });
    g.dataset.task = t.taskId;
    g.dataset.state = t.status;
    g.append(svgEl('title', {}, t.taskId + ': ' + t.status));
    g.append(svgEl('rect', { width: L.W, height: L.H, rx: 6, class: 'n-' + t.status }));
    const label = t.taskId.length > 18 ? t.taskId.slice(0, 17) + '…' : t.taskId;
    g.append(svgEl('text', { x: 10, y: 21, class: 'id' }, label));
    const tries = t.attempt ? ' · try ' + t.attempt + '/' + t.maxAttempts : '';
    g.append(svgEl('text', { x: 10, y: 40 }, t.status + tries));
    const open = () => showTask(t.taskId);
    g.addEventListener('click', open);
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
    svg.append(g);
  }
}

function renderDetail(d) {
  detail = d;
  $('empty').hidden = true;
  $('wf').hidden = false;
  $('wfid').textContent = d.workflowId;
  $('wfstate').textContent = d.status;
  $('wfstate').className = 'badge s-' + d.status;
  $('wferror').hidden = !d.error;
  $('wferror').textContent = d.error || '';
  $('cancel').disabled = ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(d.status);
  renderDag(d);
  workflows.set(d.workflowId, Object.assign(workflows.get(d.workflowId) || {}, {
    workflowId: d.workflowId, status: d.status, createdMs: d.createdMs, updatedMs: d.updatedMs, tasks: d.tasks.length }));
  renderList();
  if (selectedTask) showTask(selectedTask, true);
}

function show(pre, v) {
  pre.textContent = v === null || v === undefined ? '—' : (typeof v === 'string' ? v : JSON.stringify(v, null, 2));
}

async function showTask(id, quiet) {
  selectedTask = id;
  try {
    const t = await api('GET', 'workflows/' + encodeURIComponent(current) + '/tasks/' + encodeURIComponent(id));
    $('task').hidden = false;
    $('taskid').textContent = t.taskId;
    $('taskstate').textContent = t.status;
    $('taskattempts').textContent = t.attempt + ' of ' + t.maxAttempts;
    $('tasktarget').textContent = t.command ? t.command.join(' ') : (t.target || '—');
    show($('taskinput'), t.input);
    show($('taskoutput'), t.output);
    show($('taskerror'), t.error);
    for (const g of $('dag').querySelectorAll('.node')) g.classList.toggle('sel', g.dataset.task === id);
  } catch (e) {
    if (!quiet) notice('task ' + id + ': ' + e.message, true);
  }
}

function setLive(on, text) {
  $('live').textContent = text;
  $('live').className = 'live' + (on ? ' on' : '');
}

// Live updates: one stream per page, for the list and the workflow shown.
function watch() {
  if (source) source.close();
  clearInterval(pollTimer);
  if (!window.EventSource) return poll();
  let failures = 0;
  source = new EventSource(url('events' + (current ? '?workflowId=' + encodeURIComponent(current) : '')));
  source.onopen = () => { failures = 0; setLive(true, 'live'); loadList(); };
  source.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type !== 'workflow_update') return;
    if (m.data && m.data.dag) {
      if (m.workflow_id === current) renderDetail(m.data);
    } else if (m.data) {
      workflows.set(m.workflow_id, m.data);
      renderList();
    }
  };
  source.onerror = () => {
    setLive(false, 'reconnecting');
    // No stream here (API Gateway answers 404, which closes it), or
    // one that keeps failing: poll instead.
    if (source.readyState === EventSource.CLOSED || ++failures >= 3) {
      source.close();
      source = null;
      poll();
    }
  };
}

function poll() {
  setLive(true, 'polling');
  clearInterval(pollTimer);
  pollTimer = setInterval(async () => {
    await loadList();
    if (current) {
      try { renderDetail(await api('GET', 'workflows/' + encodeURIComponent(current))); } catch (e) { /* shown on next success */ }
    }
  }, 3000);
}

async function select(id) {
  current = id;
  selectedTask = null;
  $('task').hidden = true;
  if (location.hash !== '#' + encodeURIComponent(id)) history.replaceState(null, '', '#' + encodeURIComponent(id));
  try {
    renderDetail(await api('GET', 'workflows/' + encodeURIComponent(id)));
    notice('');
  } catch (e) {
    notice('workflow ' + id + ': ' + e.message, true);
  }
  if (!pollTimer) watch();
}

$('file').addEventListener('change', async (ev) => {
  const f = ev.target.files[0];
  ev.target.value = '';
  if (!f) return;
  try {
    const text = await f.text();
    const r = await api('POST', 'workflows', text);
    notice('started ' + r.workflowId);
    await loadList();
    select(r.workflowId);
  } catch (e) {
    notice('cannot start ' + f.name + ': ' + e.message, true);
  }
});

$('cancel').addEventListener('click', async () => {
  if (!current) return;
  try {
    const r = await api('POST', 'workflows/' + encodeURIComponent(current) + '/cancel', '{}');
    notice('workflow ' + r.workflowId + ' ' + r.status);
    renderDetail(await api('GET', 'workflows/' + encodeURIComponent(current)));
  } catch (e) {
    notice('cannot cancel: ' + e.message, true);
  }
});

$('token').value = sessionStorage.getItem('orc-token') || '';
$('token').addEventListener('change', () => sessionStorage.setItem('orc-token', $('token').value));
$('filter').addEventListener('input', renderList);
$('state').addEventListener('change', renderList);

window.addEventListener('hashchange', () => {
  const h = decodeURIComponent(location.hash.slice(1));
  if (h && h !== current) select(h);
});

loadList().then(() => {
  const h = decodeURIComponent(location.hash.slice(1));
  if (h) select(h); else watch();
});
