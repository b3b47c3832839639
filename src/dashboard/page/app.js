// The dashboard page: polls the JSON API and renders it. Every value from the
// server is put into the page as text (textContent, attribute setters), never
// parsed as markup, so a payload or worker id holding "<script>" shows as
// those characters.
'use strict';

const params = new URLSearchParams(location.search);
const refreshSeconds = Math.min(60, Math.max(1, Number(params.get('refresh')) || 5));
const state = { session: { admin: false }, before: null, pageStack: [], resources: [] };

// --- small helpers ---------------------------------------------------------

function $(id) { return document.getElementById(id); }

// An element with text content and attributes; children appended in order.
function el(tag, text, attributes, children) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children || []) node.appendChild(child);
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function seconds(value) {
  if (value === null || value === undefined) return '–';
  const s = Math.round(value);
  if (s < 90) return s + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}

function when(iso) {
  if (!iso) return '–';
  const date = new Date(iso.replace(' ', 'T').replace(/\+00$/, 'Z'));
  return isNaN(date) ? iso : date.toLocaleString();
}

function badge(status) {
  return el('span', status, { class: 'badge', 'data-status': status });
}

function figure(name, value) {
  for (const node of document.querySelectorAll('[data-figure="' + name + '"]')) node.textContent = value;
}

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new HttpError(response.status, body.error || response.statusText);
  return body;
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': state.session.csrf_token || '' },
    body: JSON.stringify(body),
  });
  const reply = await response.json().catch(() => ({}));
  if (!response.ok) throw new HttpError(response.status, reply.error || response.statusText);
  return reply;
}

function showMessage(text) {
  const banner = $('action-message');
  banner.textContent = text;
  banner.hidden = false;
}

function setReachable(reachable) {
  $('unreachable').hidden = reachable;
  const pill = $('connection');
  pill.dataset.state = reachable ? 'live' : 'down';
  pill.textContent = reachable ? 'live' : 'database unreachable';
}

// --- sections ----------------------------------------------------------------

function renderOverview(stats) {
  for (const name of ['queued', 'queued_high', 'queued_medium', 'queued_low', 'retrying', 'processing',
                      'effective_limit', 'completed', 'failed', 'cancelled']) {
    figure(name, stats[name]);
  }
  figure('oldest_queued', seconds(stats.oldest_queued_seconds));
  figure('avg_wait', seconds(stats.avg_wait_seconds));
  figure('avg_run', seconds(stats.avg_run_seconds));
  figure('stats_window', seconds(stats.stats_window_seconds));
  figure('completed_per_minute', stats.completed_per_minute === null ? '–'
         : Number(stats.completed_per_minute).toFixed(1));
  figure('failure_rate', stats.failure_rate === null ? '–'
         : (100 * stats.failure_rate).toFixed(1) + ' %');
  const peak = $('peak');
  peak.dataset.state = stats.is_peak ? 'on' : 'off';
  peak.textContent = stats.is_peak ? 'peak hours' : 'off-peak';

  const rows = $('resources');
  clear(rows);
  state.resources = Object.keys(stats.processing_by_resource || {}).sort();
  for (const name of state.resources) {
    const figures = stats.processing_by_resource[name];
    const full = figures.running >= figures.limit;
    rows.appendChild(el('tr', null, { 'data-resource': name, class: full ? 'full' : '' }, [
      el('th', name), el('td', figures.running + ' / ' + figures.limit)]));
  }
  const select = $('limit-resource');
  if (select.options.length !== state.resources.length + 1) {
    while (select.options.length > 1) select.remove(1);
    for (const name of state.resources) select.appendChild(el('option', name, { value: name }));
  }
}

// Queued, running and completions per minute over the last hour: x is the
// minute's time, so minutes without figures (server down) leave a gap.
function renderChart(minutes) {
  const svg = $('chart');
  clear(svg);
  const width = 600, height = 160, pad = 4, span = 3600 * 1000;
  const end = Date.now(), start = end - span;
  const series = [['depth', 'queued'], ['running', 'processing'], ['done', 'completed']];
  const points = minutes.map((m) => ({ t: new Date(m.minute.replace(' ', 'T').replace(/\+00$/, 'Z')), m }));
  const top = Math.max(1, ...points.flatMap(({ m }) => series.map(([, field]) => m[field] || 0)));
  const ns = 'http://www.w3.org/2000/svg';
  for (const [name, field] of series) {
    let path = '';
    let previous = null;
    for (const { t, m } of points) {
      if (m[field] === null || isNaN(t)) continue;
      const x = pad + Math.max(0, (t - start) / span) * (width - 2 * pad);
      const y = height - pad - (m[field] / top) * (height - 2 * pad);
      const joined = previous !== null && t - previous <= 60 * 1000;
      path += (joined ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1) + ' ';
      if (!joined) path += 'l4 0 ';  // a lone minute still shows
      previous = t;
    }
    const line = document.createElementNS(ns, 'path');
    line.setAttribute('d', path.trim() || 'M0 0');
    line.setAttribute('class', 'series ' + name);
    svg.appendChild(line);
  }
  $('chart-top').textContent = 'scale: 0 to ' + top;
}

function renderAlerts(alerts) {
  const active = $('alerts-active');
  clear(active);
  if (alerts.active.length === 0) active.appendChild(el('li', 'No alert is firing.', { class: 'ok' }));
  for (const alert of alerts.active) {
    active.appendChild(el('li', null, { class: 'firing', 'data-alert': alert.alert }, [
      el('b', alert.alert + (alert.subject ? ' · ' + alert.subject : '')),
      el('span', ' ' + alert.detail + ' (since ' + when(alert.started_at) + ')')]));
  }
  const recent = $('alerts-recent');
  clear(recent);
  for (const alert of alerts.recent) {
    recent.appendChild(el('tr', null, {}, [el('td', alert.alert), el('td', alert.subject),
      el('td', alert.detail), el('td', when(alert.started_at)), el('td', when(alert.cleared_at))]));
  }
}

function adminButton(label, action) {
  const button = el('button', label, { type: 'button', class: 'admin-only' });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await action();
      await refresh();
    } catch (error) {
      showMessage(label + ' failed: ' + error.message);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function renderWorkers(workers) {
  const rows = $('workers');
  clear(rows);
  for (const worker of workers) {
    const cell = el('td', null, { class: 'admin-only' });
    if (state.session.admin && worker.state === 'active') {
      cell.appendChild(adminButton('Drain', () => postJson('/api/admin/drain', { worker_id: worker.worker_id })));
    }
    rows.appendChild(el('tr', null, { 'data-worker': worker.worker_id }, [
      el('td', worker.worker_id, { class: 'ident' }), el('td', null, {}, [badge(worker.state)]),
      el('td', worker.running + ' / ' + worker.capacity),
      el('td', worker.resources ? worker.resources.join(', ') : 'any'),
      el('td', seconds(worker.silent_for_seconds)), cell]));
  }
}

function jobFilters() {
  const query = new URLSearchParams();
  for (const [name, id] of [['status', 'filter-status'], ['type', 'filter-type'], ['user', 'filter-user']]) {
    if ($(id).value) query.set(name, $(id).value);
  }
  query.set('limit', '50');
  if (state.before !== null) query.set('before', state.before);
  return query;
}

function renderJobs(page) {
  const rows = $('jobs');
  clear(rows);
  for (const job of page.jobs) {
    const cell = el('td', null, { class: 'admin-only' });
    if (state.session.admin && ['queued', 'retrying', 'processing'].includes(job.status) && !job.cancel_requested) {
      cell.appendChild(adminButton('Cancel', () => postJson('/api/admin/cancel', { job_id: job.id })));
    }
    rows.appendChild(el('tr', null, { 'data-job-id': String(job.id) }, [
      el('td', null, {}, [el('a', job.id, { href: '#/job/' + job.id })]),
      el('td', job.job_type), el('td', job.priority), el('td', job.resource || '–'),
      el('td', null, {}, [badge(job.status)]), el('td', job.user_id || '–', { class: 'ident' }),
      el('td', job.worker_id || '–', { class: 'ident' }), el('td', job.attempts + ' / ' + job.max_attempts),
      el('td', when(job.enqueued_at)), el('td', job.last_error || '', { class: 'error' }), cell]));
  }
  state.nextBefore = page.next_before;
  $('older').hidden = page.next_before === null;
  $('newest').hidden = state.before === null;
}

async function renderJobPage(id) {
  const detail = await getJson('/api/jobs/' + encodeURIComponent(id));
  const job = detail.job;
  $('job-id').textContent = job.id;
  const status = $('job-status');
  status.textContent = job.status;
  status.dataset.status = job.status;
  const fields = $('job-fields');
  clear(fields);
  for (const name of ['job_type', 'priority', 'resource', 'user_id', 'worker_id', 'attempts', 'max_attempts',
                      'enqueued_at', 'run_at', 'started_at', 'deadline', 'finished_at', 'cancel_requested',
                      'last_error']) {
    fields.appendChild(el('dt', name));
    fields.appendChild(el('dd', job[name] === null ? '–' : String(job[name]), { 'data-field': name }));
  }
  $('job-payload').textContent = JSON.stringify(job.payload, null, 2);
  $('job-result').textContent = job.result === null ? '–' : JSON.stringify(job.result, null, 2);
  const events = $('job-events');
  clear(events);
  for (const event of detail.events) {
    events.appendChild(el('tr', null, {}, [el('td', when(event.at)), el('td', event.from_status || '–'),
      el('td', null, {}, [badge(event.to_status)]), el('td', event.worker_id || '–', { class: 'ident' }),
      el('td', event.detail || '')]));
  }
}

// --- the loop ------------------------------------------------------------------

function currentJobId() {
  const match = location.hash.match(/^#\/job\/(\d+)$/);
  return match ? match[1] : null;
}

async function refresh() {
  try {
    const jobId = currentJobId();
    $('overview-page').hidden = jobId !== null;
    $('job-page').hidden = jobId === null;
    if (jobId !== null) {
      await renderJobPage(jobId);
    } else {
      const [overview, history, alerts, workers, jobs] = await Promise.all([
        getJson('/api/overview'), getJson('/api/history?minutes=60'), getJson('/api/alerts'),
        getJson('/api/workers'), getJson('/api/jobs?' + jobFilters())]);
      renderOverview(overview);
      renderChart(history.minutes);
      renderAlerts(alerts);
      renderWorkers(workers.workers);
      renderJobs(jobs);
    }
    setReachable(true);
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (error) {
    if (error instanceof HttpError && error.status !== 503) {
      showMessage(error.message);
      setReachable(true);
    } else {
      setReachable(false);
    }
  }
}

async function start() {
  try {
    state.session = await getJson('/api/session');
  } catch (error) {
    state.session = { admin: false };
  }
  document.body.classList.toggle('admin', Boolean(state.session.admin));
  $('who').textContent = (state.session.user ? 'signed in as ' + state.session.user : '') +
    (state.session.admin ? ' · admin actions on' : ' · read-only');

  $('job-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    state.before = null;
    state.pageStack = [];
    refresh();
  });
  $('older').addEventListener('click', () => {
    state.pageStack.push(state.before);
    state.before = state.nextBefore;
    refresh();
  });
  $('newest').addEventListener('click', () => {
    state.before = null;
    state.pageStack = [];
    refresh();
  });
  $('limit-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const resource = $('limit-resource').value;
    try {
      const reply = await postJson('/api/admin/limit', {
        resource: resource === '' ? null : resource, max_concurrent: Number($('limit-value').value) });
      showMessage('Limit of ' + (resource || 'the queue') + ' changed from ' + reply.result + '.');
      await refresh();
    } catch (error) {
      showMessage('Changing the limit failed: ' + error.message);
    }
  });
  window.addEventListener('hashchange', refresh);
  await refresh();
  setInterval(refresh, refreshSeconds * 1000);
}

start();
