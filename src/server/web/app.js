// Thoth's web UI: Status (live state, input level, the latest result), History (search,
// playback, delete, export) and Settings (the config, validated by the daemon).
// Everything user-supplied reaches the page through textContent, never as HTML.
import * as api from './api.js';

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('aria-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

// ------------------------------------------------------------------ tabs

const screens = ['status', 'history', 'settings'];
const loaders = {};

function showScreen(name, focus = false) {
  for (const s of screens) {
    const tab = $(`tab-${s}`);
    const on = s === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`screen-${s}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  document.body.dataset.screen = name;
  if (loaders[name]) loaders[name]();
}

function setupTabs() {
  screens.forEach((s, i) => {
    const tab = $(`tab-${s}`);
    tab.addEventListener('click', () => showScreen(s));
    tab.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (step) showScreen(screens[(i + step + screens.length) % screens.length], true);
    });
  });
}

// ------------------------------------------------------------------ status

const busyStates = new Set(['recording', 'transcribing', 'filtering', 'enhancing', 'outputting']);
let currentState = '';

function renderState(state) {
  currentState = state || 'unknown';
  const node = $('state');
  node.textContent = currentState;
  node.dataset.state = currentState;
  const recording = currentState === 'recording';
  $('btn-start').disabled = busyStates.has(currentState);
  $('btn-stop').disabled = !recording;
  $('btn-cancel').disabled = !busyStates.has(currentState);
  if (!recording) renderLevel(null);
}

// Hands-free mode: listening for speech, starting and stopping dictations by itself.
let handsFree = false;
function renderHandsFree(on, note = '') {
  handsFree = Boolean(on);
  const node = $('hands-free');
  node.textContent = handsFree ? 'listening' : 'off';
  node.dataset.on = String(handsFree);
  const button = $('btn-hands-free');
  button.textContent = handsFree ? 'Turn off' : 'Turn on';
  button.setAttribute('aria-pressed', String(handsFree));
  $('hands-free-note').textContent = note;
}

async function toggleHandsFree() {
  $('command-error').textContent = '';
  try {
    const reply = await api.json('/api/hands-free', { method: 'POST', body: { enabled: !handsFree } });
    renderHandsFree(reply.hands_free);
  } catch (e) {
    $('command-error').textContent = e.message;
  }
}

function renderStatus(status) {
  renderState(status.state);
  if ('hands_free' in status) {
    const note = status.hands_free_error ? status.hands_free_error
      : status.hands_free_dictation ? 'this dictation was started by speech' : '';
    renderHandsFree(status.hands_free, note);
  }
  $('fact-model').textContent = status.model ?? '–';
  $('fact-loaded').textContent = status.model_loaded ? 'yes' : 'on first dictation';
  $('fact-pid').textContent = status.pid ?? '–';
}

// dBFS -60..0 onto 0..100 % of the meter.
const levelPercent = (db) => (Number.isFinite(db) ? Math.max(0, Math.min(100, ((db + 60) / 60) * 100)) : 0);

function renderLevel(event) {
  const meter = $('meter');
  const rms = event ? event.rms_dbfs : -Infinity;
  const peak = event ? event.peak_dbfs : -Infinity;
  $('meter-rms').style.width = `${levelPercent(rms)}%`;
  $('meter-peak').style.left = `${levelPercent(peak)}%`;
  $('meter-peak').hidden = !Number.isFinite(peak);
  meter.setAttribute('aria-valuenow', String(Number.isFinite(rms) ? Math.round(rms) : -60));
  $('meter-text').textContent = Number.isFinite(rms) ? `${rms.toFixed(0)} dBFS` : '–∞ dBFS';
  if (event) meter.dataset.updates = String(Number(meter.dataset.updates) + 1);
}

const stageNames = [
  ['recording_ms', 'Recording'], ['record_ms', 'Recording'], ['drain_ms', 'Drain'],
  ['transcribe_ms', 'Transcription'], ['filter_ms', 'Filters'], ['enhance_ms', 'Enhancement'],
  ['output_ms', 'Output'], ['total_ms', 'Total after stop'],
];

// `r` is a pipeline result (from an event) or a history row (on load).
function renderLatest(r) {
  if (!r) return;
  $('latest-empty').hidden = true;
  const text = $('latest-text');
  text.hidden = false;
  text.textContent = r.text || r.raw_text || '(no text)';
  text.classList.toggle('muted', !(r.text || r.raw_text));
  const status = r.status || (r.cancelled ? 'cancelled' : r.final_state) || '';
  const seconds = r.audio_seconds ?? r.audio_duration_s;
  const parts = [r.created_at, status, Number.isFinite(seconds) ? `${seconds.toFixed(1)} s of audio` : null,
    r.transcription_model, r.history_id || r.id ? `#${r.history_id || r.id}` : null];
  $('latest-meta').textContent = parts.filter(Boolean).join(' · ');
  $('latest-error').textContent = r.error || '';
  const timings = r.timings || r.durations || {};
  const rows = stageNames.filter(([k]) => k in timings && (timings[k] > 0 || k === 'transcribe_ms'));
  const table = $('latest-timings');
  const body = table.tBodies[0];
  body.replaceChildren();
  const longest = Math.max(1, ...rows.filter(([k]) => k !== 'total_ms').map(([k]) => timings[k]));
  for (const [key, label] of rows) {
    const bar = el('div', { class: 'bar' });
    bar.style.width = key === 'total_ms' ? '0' : `${(timings[key] / longest) * 100}%`;
    body.append(el('tr', { dataset: { stage: key } },
      el('th', { scope: 'row', textContent: label }),
      el('td', { class: 'num', textContent: Math.round(timings[key]).toLocaleString() }),
      el('td', { class: 'bar-cell' }, bar)));
  }
  table.hidden = rows.length === 0;
}

async function loadLatest() {
  try {
    const rows = await api.json('/api/history?limit=1');
    if (rows.length) renderLatest(rows[0]);
  } catch (e) {
    $('latest-error').textContent = e.message;
  }
}

async function command(name) {
  $('command-error').textContent = '';
  try {
    const reply = await api.json(`/api/${name}`, { method: 'POST' });
    if (reply.state) renderState(reply.state);
  } catch (e) {
    $('command-error').textContent = e.message;
  }
}

function onEvent(name, data) {
  if (name === 'daemon-status') renderStatus(data.status || {});
  else if (name === 'hands-free') renderHandsFree(data.hands_free, data.message === 'on' || data.message === 'off' ? '' : data.message);
  else if (name === 'input-level') renderLevel(data);
  else {
    if (data.state) renderState(data.state);
    // "Transcribing", "Cancelled", "Ready", ...: what the pipeline says it is doing.
    if (data.message) $('state-message').textContent = data.message;
    if (data.state === 'idle') historyStale = true;  // a cancelled run has a row but no result event
    if (data.result) {
      renderLatest(data.result);
      historyStale = true;
      if (!$('screen-history').hidden) loadHistory();
    }
    if (name === 'pipeline-error' && !data.result) $('command-error').textContent = data.message || 'dictation failed';
  }
}

function setLive(live, text) {
  const pill = $('connection');
  pill.dataset.live = String(live);
  pill.textContent = text;
}

// The event stream, reopened after a drop (daemon restart) with a growing pause.
async function connectEvents() {
  let pause = 500;
  for (;;) {
    try {
      setLive(true, 'live');
      await api.streamEvents(onEvent, undefined);
      pause = 500;
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 401) {
        setLive(false, 'no access');
        return;
      }
    }
    setLive(false, 'reconnecting…');
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 10000);
    try {
      renderStatus(await api.json('/api/status'));
    } catch { /* still down */ }
  }
}

// ------------------------------------------------------------------ history

let historyStale = true;
let searchTimer = 0;
let searchSeq = 0;
let playerUrl = '';

function historyItem(row) {
  const play = el('button', { type: 'button', textContent: 'Play', dataset: { action: 'play' } });
  play.setAttribute('aria-label', `Play dictation ${row.id}`);
  play.disabled = !row.audio_path;
  play.addEventListener('click', () => playAudio(row));
  const del = el('button', { type: 'button', class: 'danger', textContent: 'Delete', dataset: { action: 'delete' } });
  del.setAttribute('aria-label', `Delete dictation ${row.id}`);
  del.addEventListener('click', () => deleteRow(row));
  const meta = [row.created_at, `${(row.audio_duration_s || 0).toFixed(1)} s`, row.transcription_model,
    row.enhanced ? `enhanced by ${row.enhancement_model}` : null].filter(Boolean).join(' · ');
  return el('li', { class: 'entry card', dataset: { id: String(row.id), status: row.status } },
    el('div', { class: 'entry-head' },
      el('span', { class: `badge ${row.status}`, textContent: row.status }),
      el('span', { class: 'muted', textContent: meta }),
      el('span', { class: 'spacer' }),
      play, del),
    el('p', { class: row.text ? 'entry-text' : 'entry-text muted', textContent: row.text || '(no text)' }),
    row.error ? el('p', { class: 'error-text small', textContent: row.error }) : '');
}

async function loadHistory() {
  const query = $('search').value.trim();
  const seq = ++searchSeq;
  $('history-error').textContent = '';
  try {
    const rows = await api.json(`/api/history?limit=200&search=${encodeURIComponent(query)}`);
    if (seq !== searchSeq) return;  // a newer search answered first
    const list = $('history-list');
    list.replaceChildren(...rows.map(historyItem));
    if (!rows.length) list.append(el('li', { class: 'muted empty', textContent: query ? 'No dictation matches.' : 'No dictations yet.' }));
    $('history-count').textContent = `${rows.length} ${rows.length === 1 ? 'dictation' : 'dictations'}`;
    list.dataset.query = query;
    list.dataset.loaded = String(seq);
    historyStale = false;
  } catch (e) {
    if (seq === searchSeq) $('history-error').textContent = e.message;
  }
}

// <audio> cannot send the token, so the WAV is fetched and played from a blob: URL.
async function playAudio(row) {
  $('history-error').textContent = '';
  try {
    const data = await api.blob(`/api/history/${row.id}/audio`);
    if (playerUrl) URL.revokeObjectURL(playerUrl);
    playerUrl = URL.createObjectURL(data);
    const player = $('player');
    player.dataset.id = String(row.id);
    player.src = playerUrl;
    $('player-label').textContent = `Dictation #${row.id}`;
    $('player-box').hidden = false;
    await player.play().catch(() => {});  // autoplay may be refused; the controls remain
  } catch (e) {
    $('history-error').textContent = e.message;
  }
}

async function deleteRow(row) {
  if (!confirm(`Delete dictation #${row.id} and its recording?`)) return;
  try {
    await api.json(`/api/history/${row.id}`, { method: 'DELETE' });
    await loadHistory();
  } catch (e) {
    $('history-error').textContent = e.message;
  }
}

async function exportHistory(format) {
  $('history-error').textContent = '';
  try {
    const data = await api.blob(`/api/history/export?format=${format}`);
    const url = URL.createObjectURL(data);
    const a = el('a', { href: url, download: `thoth-history.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    $('history-error').textContent = e.message;
  }
}

function setupHistory() {
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadHistory, 200);
  });
  for (const b of document.querySelectorAll('[data-export]'))
    b.addEventListener('click', () => exportHistory(b.dataset.export));
  loaders.history = () => { if (historyStale) loadHistory(); };
}

// ------------------------------------------------------------------ settings

let config = null;  // the last config the daemon returned; fields not on the form ride along

const getPath = (obj, key) => key.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
function setPath(obj, key, value) {
  const parts = key.split('.');
  let node = obj;
  for (const p of parts.slice(0, -1)) node = node[p] ??= {};
  node[parts.at(-1)] = value;
}

function dictRow(rule = { from: '', to: '', caseSensitive: false, regex: false }) {
  const cell = (input) => el('td', {}, input);
  const from = el('input', { value: rule.from, className: 'from' });
  from.setAttribute('aria-label', 'Replace');
  const to = el('input', { value: rule.to, className: 'to' });
  to.setAttribute('aria-label', 'With');
  const cs = el('input', { type: 'checkbox', checked: !!rule.caseSensitive, className: 'case' });
  cs.setAttribute('aria-label', 'Case sensitive');
  const re = el('input', { type: 'checkbox', checked: !!rule.regex, className: 'regex' });
  re.setAttribute('aria-label', 'Regular expression');
  const remove = el('button', { type: 'button', class: 'danger small', textContent: '×' });
  remove.setAttribute('aria-label', 'Remove rule');
  const tr = el('tr', {}, cell(from), cell(to), cell(cs), cell(re), cell(remove));
  remove.addEventListener('click', () => tr.remove());
  return tr;
}

function fillForm(c) {
  for (const input of document.querySelectorAll('#settings-form [data-key]')) {
    const value = getPath(c, input.dataset.key);
    if (input.dataset.key === 'filters.dictionary') continue;
    if (input.type === 'checkbox') input.checked = !!value;
    else if (input.dataset.type === 'words') input.value = (value || []).join(', ');
    else input.value = value ?? '';
  }
  $('dict-rows').replaceChildren(...(c.filters?.dictionary || []).map(dictRow));
}

function readForm() {
  const doc = structuredClone(config);
  for (const input of document.querySelectorAll('#settings-form [data-key]')) {
    const key = input.dataset.key;
    if (key === 'filters.dictionary') continue;
    let value;
    if (input.type === 'checkbox') value = input.checked;
    else if (input.dataset.type === 'words') value = input.value.split(/[\s,]+/).filter(Boolean);
    // Not a number: sent as typed, so the daemon's message names the key.
    else if (input.dataset.type === 'number') value = input.value.trim() !== '' && Number.isFinite(Number(input.value)) ? Number(input.value) : input.value;
    else value = input.value;
    setPath(doc, key, value);
  }
  setPath(doc, 'filters.dictionary', [...$('dict-rows').rows].map((tr) => ({
    from: tr.querySelector('.from').value,
    to: tr.querySelector('.to').value,
    caseSensitive: tr.querySelector('.case').checked,
    regex: tr.querySelector('.regex').checked,
  })));
  return doc;
}

function clearFieldErrors() {
  for (const n of document.querySelectorAll('#settings-form .field-error')) n.remove();
  for (const n of document.querySelectorAll('#settings-form [aria-invalid]')) {
    n.removeAttribute('aria-invalid');
    n.removeAttribute('aria-describedby');
  }
}

// The daemon's errors name the key ("...: enhancement.base_url: ..."): the message goes
// under that field. Returns whether a field took it.
function showFieldError(message) {
  let best = null;
  let from = 0;
  for (const input of document.querySelectorAll('#settings-form [data-key]')) {
    const key = input.dataset.key;
    const at = message.indexOf(key);
    const next = message[at + key.length];
    if (at >= 0 && (next === ':' || next === '[' || next === undefined || next === ' ') &&
        (!best || key.length > best.dataset.key.length)) {
      best = input;
      from = at;
    }
  }
  if (!best) return false;
  message = message.slice(from);  // from the key on: the config file's path is noise here
  const id = `err-${best.dataset.key.replaceAll('.', '-')}`;
  const note = el('p', { class: 'field-error error-text', id, role: 'alert', textContent: message });
  const anchor = best.closest('label.check') || best;
  anchor.after(note);
  best.setAttribute('aria-invalid', 'true');
  best.setAttribute('aria-describedby', id);
  best.focus({ preventScroll: true });
  // Centred, so the sticky Save bar does not cover it.
  best.scrollIntoView({ block: 'center' });
  return true;
}

// The device choice: the system default, the audio server's inputs, and the configured
// device even when it is not plugged in now (so a save does not silently drop it).
function fillDevices(devices, configured, error) {
  const select = $('f-audio-device');
  const options = [el('option', { value: '', textContent: 'System default' })];
  for (const d of devices) {
    const label = `${d.description || d.name}${d.is_default ? ' (default)' : ''}${d.is_monitor ? ' – monitor of an output' : ''}`;
    options.push(el('option', { value: d.name, textContent: label }));
  }
  if (configured && !devices.some((d) => d.name === configured))
    options.push(el('option', { value: configured, textContent: `${configured} (not connected)` }));
  select.replaceChildren(...options);
  $('device-hint').textContent = error ? `Cannot list devices: ${error}` : `${devices.length} input ${devices.length === 1 ? 'device' : 'devices'} (thoth devices lists them too).`;
}

async function loadSettings() {
  const status = $('settings-status');
  try {
    const [loaded, devices] = await Promise.allSettled([api.json('/api/config'), api.json('/api/devices')]);
    if (loaded.status === 'rejected') throw loaded.reason;
    config = loaded.value;
    fillDevices(devices.status === 'fulfilled' ? devices.value.devices : [], config.audio?.device,
      devices.status === 'rejected' ? devices.reason.message : '');
    clearFieldErrors();
    fillForm(config);
    document.getElementById('settings-form').dataset.loaded = 'true';
    status.textContent = '';
  } catch (e) {
    status.textContent = `Cannot load the settings: ${e.message}`;
  }
  try {
    const models = await api.json('/api/models');
    $('model-names').replaceChildren(...models.models.map((m) => el('option', { value: m.name, textContent: m.installed ? 'installed' : 'not installed' })));
    $('model-hint').textContent = models.resolved ? `In use: ${models.resolved}` : models.resolve_error || '';
  } catch { /* the list is a convenience */ }
}

async function saveSettings(e) {
  e.preventDefault();
  if (!config) return;
  const status = $('settings-status');
  status.dataset.result = '';
  clearFieldErrors();
  try {
    config = await api.json('/api/config', { method: 'PUT', body: readForm() });
    fillForm(config);
    status.textContent = 'Saved; used from the next dictation.';
    status.dataset.result = 'saved';
  } catch (err) {
    status.textContent = showFieldError(err.message) ? 'Not saved: see the marked field.' : `Not saved: ${err.message}`;
    status.dataset.result = 'error';
  }
}

function setupSettings() {
  $('settings-form').addEventListener('submit', saveSettings);
  $('settings-revert').addEventListener('click', loadSettings);
  $('dict-add').addEventListener('click', () => {
    const row = dictRow();
    $('dict-rows').append(row);
    row.querySelector('input').focus();
  });
  let loaded = false;
  loaders.settings = () => {
    if (!loaded) loadSettings();
    loaded = true;
  };
}

// ------------------------------------------------------------------ start

function main() {
  api.setUnauthorizedHandler(() => { $('auth-error').hidden = false; });
  if (!api.takeToken()) $('auth-error').hidden = false;
  setupTabs();
  setupHistory();
  setupSettings();
  $('btn-start').addEventListener('click', () => command('start'));
  $('btn-stop').addEventListener('click', () => command('stop'));
  $('btn-cancel').addEventListener('click', () => command('cancel'));
  $('btn-hands-free').addEventListener('click', toggleHandsFree);
  showScreen('status');
  loadLatest();
  connectEvents();
}

main();
