// Eddy's live page: browse, watch and edit resources, and look at the raw events of any protocol.
import { LiveResource, SolidSubscription, ConcrntSubscription, rawEvents, readEventStream } from '../client.js';

const $ = (id) => document.getElementById(id);
const state = { token: localStorage.getItem('eddy_token') || null, resource: null, raw: null, tree: null };

// ---- identity -------------------------------------------------------------------------------

function subjectOf(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub ?? '(no sub)';
  } catch {
    return '(unreadable token)';
  }
}

/** Fetches get the Authorization header; WebSockets cannot, so the token is also a cookie. */
function setToken(token) {
  state.token = token || null;
  if (state.token) {
    localStorage.setItem('eddy_token', state.token);
    document.cookie = `eddy_token=${state.token}; path=/; SameSite=Strict`;
  } else {
    localStorage.removeItem('eddy_token');
    document.cookie = 'eddy_token=; path=/; max-age=0';
  }
  $('who').textContent = state.token ? 'signed in as ' + subjectOf(state.token) : 'anonymous';
  loadTree();
  if (state.resource) open(state.resource.url.pathname);
}

function api(path, init = {}) {
  const headers = new Headers(init.headers);
  if (state.token) headers.set('Authorization', 'Bearer ' + state.token);
  return fetch(path, { ...init, headers });
}

function showError(message) { $('error').textContent = message || ''; }

async function check(response) {
  if (response.ok) return showError('');
  const text = await response.text();
  let detail = text;
  try { detail = JSON.parse(text).detail ?? text; } catch { /* not a problem body */ }
  showError(`${response.status}: ${detail}`);
}

// ---- the resource tree, from the change log --------------------------------------------------

async function loadTree() {
  state.tree?.abort();
  const abort = new AbortController();
  state.tree = abort;
  const objects = new Set();
  $('tree').replaceChildren();
  $('tree-status').textContent = 'reading the change log…';
  try {
    const response = await api('/.eddy/events?path=/&mode=subtree&after=0', { headers: { Accept: 'text/event-stream' }, signal: abort.signal });
    if (!response.ok) {
      $('tree-status').textContent = `the tree needs read access to / (${response.status}); open a path above`;
      return;
    }
    $('tree-status').textContent = '';
    let pending = null;
    await readEventStream(response, ({ event, data }) => {
      if (event === 'reset') { $('tree-status').textContent = 'the log no longer holds everything: the tree may be partial'; return; }
      const change = JSON.parse(data);
      if (change.kind === 'deleted') objects.delete(change.path); else objects.add(change.path);
      // Replaying a long log would redraw once per event: draw once per frame instead.
      pending ??= requestAnimationFrame(() => { pending = null; drawTree(objects); });
    });
  } catch (error) {
    if (!abort.signal.aborted) $('tree-status').textContent = 'the change log stream ended: ' + error.message;
  }
}

function drawTree(objects) {
  const root = { children: new Map(), objects: [] };
  for (const path of [...objects].sort()) {
    const segments = path.split('/').slice(1);
    let node = root;
    for (const segment of segments.slice(0, -1)) {
      if (!node.children.has(segment)) node.children.set(segment, { children: new Map(), objects: [] });
      node = node.children.get(segment);
    }
    node.objects.push(segments.at(-1));
  }
  const list = (node, prefix) => {
    const ul = document.createElement('ul');
    for (const [name, child] of node.children) {
      const li = document.createElement('li');
      li.append(link(prefix + name + '/', name + '/'), list(child, prefix + name + '/'));
      ul.append(li);
    }
    for (const name of node.objects) {
      const li = document.createElement('li');
      li.append(link(prefix + name, name));
      ul.append(li);
    }
    return ul;
  };
  const top = document.createElement('li');
  top.append(link('/', '/'), list(root, '/'));
  $('tree').replaceChildren(top);
}

function link(path, label) {
  const a = document.createElement('a');
  a.href = '#' + path;
  a.textContent = decodeURIComponent(label);
  return a;
}

// ---- the open resource -----------------------------------------------------------------------

function open(path) {
  state.resource?.close();
  showError('');
  $('path').value = path;
  $('notice').textContent = '';
  const transport = $('transport').value;
  const resource = new LiveResource(path, { token: state.token, ...(transport ? { transports: [transport] } : {}) });
  state.resource = resource;
  $('object-view').hidden = resource.isCollection;
  $('collection-view').hidden = !resource.isCollection;
  $('value').textContent = '';
  $('children').replaceChildren();
  $('via').textContent = '…';
  const current = () => state.resource === resource;
  const showPosition = () => { $('position').textContent = resource.resumeToken ? 'at ' + resource.resumeToken : 'no position yet'; };
  resource.on('transport', (kind) => { if (current()) $('via').textContent = kind; });
  resource.on('error', (error) => { if (current()) showError(error.message ?? error.detail ?? JSON.stringify(error)); });
  resource.on('resync', (why) => { if (current()) $('notice').textContent = 'resynced from scratch: ' + why; });
  if (resource.isCollection) {
    resource.on('value', (items) => { if (current()) { for (const item of items) row(item, false); showPosition(); } });
    resource.on('child-added', (item) => { if (current()) { row(item, true); showPosition(); } });
    resource.on('child-changed', (item) => { if (current()) { row(item, true); showPosition(); } });
    resource.on('child-removed', (id) => { if (current()) { rowFor(id)?.remove(); showPosition(); } });
  } else {
    resource.on('value', (value) => {
      if (!current()) return;
      $('value').textContent = JSON.stringify(value, null, 2);
      $('value').className = 'flash';
      $('editor').value = JSON.stringify(value, null, 2);
      showPosition();
      requestAnimationFrame(() => { $('value').className = ''; });
    });
    resource.on('removed', () => { if (current()) { $('value').textContent = '(does not exist)'; showPosition(); } });
    resource.ready.then(() => { if (current() && !resource.exists) $('value').textContent = '(does not exist)'; });
  }
}

function rowFor(id) { return [...$('children').rows].find((tr) => tr.dataset.id === id); }

function row(item, flash) {
  const id = String(item.id);
  const tr = rowFor(id) ?? $('children').insertRow();
  tr.dataset.id = id;
  const { id: _, ...value } = item;
  const path = state.resource.url.pathname + encodeURIComponent(id);
  const remove = document.createElement('button');
  remove.textContent = 'delete';
  remove.className = 'danger';
  remove.onclick = async () => check(await api(path, { method: 'DELETE' }));
  const cells = [link(path, id), Object.assign(document.createElement('code'), { textContent: JSON.stringify(value) }), remove];
  tr.replaceChildren(...cells.map((content) => { const td = document.createElement('td'); td.append(content); return td; }));
  if (flash) { tr.className = 'flash'; requestAnimationFrame(() => { tr.className = ''; }); }
}

async function write(method, contentType, body) {
  const path = state.resource.url.pathname;
  try {
    if (body !== undefined) JSON.parse(body);
  } catch (error) {
    return showError('not JSON: ' + error.message);
  }
  const headers = contentType ? { 'Content-Type': contentType } : {};
  check(await api(path, { method, headers, body }));
}

// ---- raw events ------------------------------------------------------------------------------

function logRaw(protocol, direction, data) {
  const line = `${new Date().toISOString().slice(11, 23)} ${protocol} ${direction === 'out' ? '→' : '←'} ${data}\n`;
  const log = $('raw-log');
  log.textContent = (log.textContent + line).slice(-100_000);
  log.scrollTop = log.scrollHeight;
}

rawEvents.on('frame', ({ protocol, direction, data }) => {
  if (state.raw === 'liveresource' && protocol.startsWith('liveresource')) logRaw(protocol, direction, data);
  if (state.raw?.protocol && protocol === state.raw.protocol) logRaw(protocol, direction, data);
});

async function watchRaw(kind, target) {
  if (state.raw?.close) state.raw.close();
  state.raw = null;
  const topic = new URL(target || state.resource?.url.pathname || '/', location.href).href;
  if (kind === 'liveresource') {
    state.raw = 'liveresource';
  } else if (kind === 'log') {
    const abort = new AbortController();
    state.raw = { close: () => abort.abort() };
    const path = new URL(topic).pathname;
    const response = await api(`/.eddy/events?path=${encodeURIComponent(path)}`, { headers: { Accept: 'text/event-stream' }, signal: abort.signal });
    if (!response.ok) return check(response);
    readEventStream(response, ({ id, event, data }) => logRaw('eddy-log', 'in', `${event !== 'message' ? event + ' ' : ''}#${id} ${data}`))
      .catch((error) => { if (!abort.signal.aborted) logRaw('eddy-log', 'in', 'ended: ' + error.message); });
  } else if (kind === 'concrnt') {
    if (!target?.startsWith('cc://')) return showError('Concrnt realtime subscribes by cc:// URI');
    const subscription = new ConcrntSubscription(target);
    state.raw = { protocol: 'concrnt', close: () => subscription.close() };
  } else {
    const channel = kind === 'solid-ws' ? 'WebSocketChannel2023' : 'EventSourceChannel2023';
    const subscription = new SolidSubscription(topic, { channel, token: state.token });
    subscription.on('error', (error) => logRaw('solid', 'in', 'error: ' + error.message));
    subscription.on('open', () => logRaw('solid', 'in', '(receiving)'));
    state.raw = { protocol: 'solid', close: () => subscription.close() };
  }
}

// ---- wiring ----------------------------------------------------------------------------------

function route() {
  const path = decodeURIComponent(location.hash.slice(1)) || '/';
  if (path !== state.resource?.url.pathname) open(path);
}

$('signin').onsubmit = (event) => { event.preventDefault(); setToken($('token').value.trim()); $('token').value = ''; };
$('signout').onclick = () => setToken(null);
$('open').onsubmit = (event) => {
  event.preventDefault();
  const path = $('path').value.trim() || '/';
  if (location.hash === '#' + path) open(path); else location.hash = path;
};
$('transport').onchange = () => state.resource && open(state.resource.url.pathname);
$('put').onclick = () => write('PUT', 'application/json', $('editor').value);
$('patch').onclick = () => write('PATCH', 'application/merge-patch+json', $('editor').value);
$('delete').onclick = () => write('DELETE');
$('append').onclick = () => write('POST', 'application/json', $('new-child').value);
$('raw-form').onsubmit = (event) => { event.preventDefault(); watchRaw($('raw-protocol').value, $('raw-target').value.trim()); };
$('raw-clear').onclick = () => { $('raw-log').textContent = ''; };
window.addEventListener('hashchange', route);

setToken(state.token);
route();
