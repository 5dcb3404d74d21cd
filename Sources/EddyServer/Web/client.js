// Eddy's JavaScript client: LiveResource objects and collections, Solid channels, Concrnt realtime.
// One dependency-free ES module, served by Eddy at /.eddy/client.js.
//
//   import { LiveResource } from 'https://eddy.example/.eddy/client.js';
//   const note = new LiveResource('https://eddy.example/notes/first');
//   note.on('value', (value) => …).on('removed', () => …);
//
// Every resume position Eddy hands out (ETags, after= checkpoints, SSE ids) is `<epoch>-<seq36>`,
// a place in one change log. Each resource remembers the newest position it has applied, so the
// same change arriving twice (a replayed stream, a catch-up read racing a socket) is applied once.

const DEFAULTS = { transports: ['ws', 'sse', 'poll'], wait: 55, minBackoff: 250, maxBackoff: 10000, token: null };

export class Emitter {
  #handlers = new Map();
  on(type, fn) { (this.#handlers.get(type) ?? this.#handlers.set(type, new Set()).get(type)).add(fn); return this; }
  off(type, fn) { this.#handlers.get(type)?.delete(fn); return this; }
  emit(type, ...args) {
    for (const fn of [...(this.#handlers.get(type) ?? [])]) {
      try { fn(...args); } catch (error) { setTimeout(() => { throw error; }); }
    }
  }
}

/** Every frame any subscription sends or receives, for debugging views: `frame` events. */
export const rawEvents = new Emitter();
const raw = (protocol, direction, data) => rawEvents.emit('frame', { protocol, direction, data, at: Date.now() });

/** `<epoch>-<seq36>` (quoted or not) as {epoch, seq}; null when it is not one of Eddy's positions. */
export function position(token) {
  if (!token) return null;
  const text = String(token).replace(/^W\//, '').replace(/^"|"$/g, '');
  const dash = text.lastIndexOf('-');
  const seq = dash > 0 ? parseInt(text.slice(dash + 1), 36) : NaN;
  return Number.isFinite(seq) ? { epoch: text.slice(0, dash), seq, token: text } : null;
}

/** Link header(s) as {rel: absolute URL}. */
export function parseLinks(header, base) {
  const links = {};
  for (const match of (header ?? '').matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+(?:"[^"]*")?)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/.exec(match[2]);
    for (const name of (rel?.[1] ?? rel?.[2] ?? '').split(/\s+/).filter(Boolean)) links[name] ??= new URL(match[1], base).href;
  }
  return links;
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

/** Exponential backoff with jitter, so a restarted server is not hit by every client at once. */
class Backoff {
  constructor(options) { this.options = options; this.failures = 0; }
  next() {
    const ms = Math.min(this.options.maxBackoff, this.options.minBackoff * 2 ** this.failures++);
    return ms / 2 + Math.random() * ms / 2;
  }
  reset() { this.failures = 0; }
}

function request(options, url, init = {}) {
  const headers = new Headers(init.headers);
  if (options.token) headers.set('Authorization', 'Bearer ' + options.token);
  return fetch(url, { ...init, headers, cache: 'no-store' });
}

/** Reads a text/event-stream body, calling onEvent({id, event, data}) per event. */
export async function readEventStream(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { id: null, event: 'message', data: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') event.data.push(text);
        else if (field === 'id') event.id = text;
        else if (field === 'event') event.event = text;
      }
      if (event.data.length) await onEvent({ ...event, data: event.data.join('\n') });
    }
  }
}

/**
 * An object or a collection, kept in sync. Objects emit `value` (initially and on each change)
 * and `removed`; collections emit `value` (the initial listing, an array), then `child-added`,
 * `child-changed` and `child-removed`. Both emit `resync` when the server could not resume them
 * and they were read again from scratch, `transport` when they move to another mechanism, and
 * `error`. Options: `transports` (allowed mechanisms, best first: 'ws', 'sse', 'poll'), `token`
 * (a bearer token), `wait` (long-poll seconds), `minBackoff`/`maxBackoff` (ms).
 */
export class LiveResource extends Emitter {
  constructor(target, options = {}) {
    super();
    this.options = { ...DEFAULTS, ...options };
    const base = globalThis.location?.href;
    this.fromUpdates = typeof target === 'object' && Boolean(target.updates);
    const updates = this.fromUpdates && new URL(target.updates, base);
    this.url = updates ? new URL(updates.pathname, updates) : new URL(target, base);
    this.isCollection = this.url.pathname.endsWith('/');
    if (updates) {
      this.changesURL = updates.href;
      this.#at(position(updates.searchParams.get('after')));
    }
    this.exists = false;
    this.value = undefined;
    this.children = new Map();
    this.links = {};
    this.transport = null;
    this.closed = false;
    this.ready = new Promise((resolve) => { this.#resolveReady = resolve; });
    queueMicrotask(() => this.#start());
  }

  #resolveReady;
  #channel = null;
  #upgrade = null;

  close() {
    this.closed = true;
    this.#channel?.remove(this);
    this.#upgrade?.remove(this);
  }

  async #start() {
    const backoff = new Backoff(this.options);
    while (!this.closed) {
      try {
        await (this.fromUpdates ? this.#discover() : this.#load(false));
        break;
      } catch (error) {
        this.emit('error', error);
        await sleep(backoff.next());
      }
    }
    this.#resolveReady();
    if (!this.closed) this.#attach();
  }

  /** Constructed from an updates URL: learn the links without reading the collection. */
  async #discover() {
    const response = await request(this.options, this.url, { method: 'HEAD' });
    this.initialRequest = { status: response.status, headers: response.headers };
    this.links = parseLinks(response.headers.get('Link'), this.url);
  }

  /** Reads the resource; on a resync, emits what differs from what was known. */
  async #load(resync) {
    const response = await request(this.options, this.url);
    if (response.status >= 500) throw new Error(`${this.url}: ${response.status}`);
    if (!resync) this.initialRequest = { status: response.status, headers: response.headers };
    const links = parseLinks(response.headers.get('Link'), this.url);
    this.links = Object.keys(links).length ? links : { ...this.#eddyLinks(), ...this.links };
    if (response.status === 404 && !this.isCollection) {
      this.epoch = null;
      this.seq = -1;
      this.#gone();
      return;
    }
    // Eddy answers an empty collection with 404 and its links: watch it from there.
    const empty = response.status === 404 && this.isCollection && links.changes;
    if (!response.ok && !empty) throw new Error(`${this.url}: ${response.status} ${await response.text()}`);
    const body = empty ? [] : await response.json();
    if (!this.isCollection) {
      this.#at(position(response.headers.get('ETag')));
      if (!resync || !this.exists || JSON.stringify(body) !== JSON.stringify(this.value)) this.#set(body);
      return;
    }
    this.changesURL = links.changes ?? links['changes-wait'];
    this.#at(position(new URL(this.changesURL).searchParams.get('after')));
    const fresh = new Map(body.map((item) => [String(item.id), item]));
    if (resync) {
      for (const id of [...this.children.keys()]) if (!fresh.has(id)) this.#child({ id, deleted: true });
      for (const item of fresh.values()) this.#child(item);
    } else {
      this.children = fresh;
      this.emit('value', body);
    }
  }

  /** Eddy's endpoints, for an object that does not exist yet and so announced nothing. */
  #eddyLinks() {
    const origin = this.url.origin;
    return {
      'multiplex-wait': origin + '/.eddy/multi/',
      'multiplex-stream': origin + '/.eddy/multi-stream/',
      'multiplex-ws': origin.replace(/^http/, 'ws') + '/.eddy/ws',
    };
  }

  #at(where) {
    if (!where) return;
    this.epoch = where.epoch;
    this.seq = where.seq;
    this.covered = Math.max(this.covered ?? -1, where.seq);
    if (this.isCollection) {
      const next = new URL(this.changesURL ?? this.url);
      next.searchParams.set('after', where.token);
      this.changesURL = next.href;
    }
  }

  /** The position to resume from, as a token. */
  get resumeToken() {
    return this.epoch == null ? null : `${this.epoch}-${Math.max(this.seq, this.covered ?? -1).toString(36)}`;
  }

  #set(value) {
    this.exists = true;
    this.value = value;
    this.emit('value', value);
  }

  #gone() {
    if (!this.exists) return;
    this.exists = false;
    this.value = undefined;
    this.emit('removed');
  }

  #child(item) {
    const id = String(item.id);
    if (item.deleted) {
      if (this.children.delete(id)) this.emit('child-removed', id);
    } else {
      const known = this.children.get(id);
      // A catch-up page may repeat a change a stream already delivered (pages carry no
      // per-item position): the same state again is not a change.
      if (known && JSON.stringify(known) === JSON.stringify(item)) return;
      this.children.set(id, item);
      this.emit(known ? 'child-changed' : 'child-added', item);
    }
  }

  /** Whether a change at `where` is new to this resource; a foreign epoch means start over. */
  #fresh(where) {
    if (!where) return true;
    if (this.epoch != null && where.epoch !== this.epoch) {
      this.resync(`the server's change log is new (epoch ${where.epoch})`);
      return false;
    }
    return this.epoch == null || where.seq > this.seq;
  }

  /** An object's new state: a value, or null when it was deleted. */
  applyValue(token, value) {
    if (this.closed || this.resyncing) return;
    const where = position(token);
    if (!this.#fresh(where)) return;
    this.#at(where);
    if (value == null) this.#gone(); else this.#set(value);
  }

  /** A page of a collection's changes up to `token`. */
  applyChanges(token, items, changesURL) {
    if (this.closed || this.resyncing) return;
    const where = position(token);
    if (!this.#fresh(where)) return;
    this.#at(where);
    if (changesURL) this.changesURL = changesURL;
    for (const item of items) this.#child(item);
  }

  /** A stream carried every change up to seq, whether or not any was this resource's. */
  cover(seq) { this.covered = Math.max(this.covered ?? -1, seq); }

  /** Reads the resource again from scratch, because its resume position is gone. */
  resync(reason) {
    if (this.resyncing) return this.resyncing;
    this.emit('resync', reason);
    this.resyncing = (async () => {
      const backoff = new Backoff(this.options);
      for (;;) {
        try {
          this.epoch = null;
          this.seq = -1;
          this.covered = -1;
          return await this.#load(true);
        } catch (error) {
          this.emit('error', error);
          await sleep(backoff.next());
        }
      }
    })().finally(() => { this.resyncing = null; });
    return this.resyncing;
  }

  /** Reads what changed since the known position: a socket subscription does not replay. */
  async catchUp() {
    if (!this.isCollection) {
      const headers = this.exists && this.epoch != null ? { 'If-None-Match': `"${this.epoch}-${this.seq.toString(36)}"` } : {};
      const response = await request(this.options, this.url, { headers });
      if (response.status === 404) { this.#gone(); return; }
      if (response.status === 200) this.applyValue(response.headers.get('ETag'), await response.json());
      else if (response.status !== 304) throw new Error(`${this.url}: ${response.status}`);
      return;
    }
    for (;;) {
      const response = await request(this.options, this.changesURL);
      if (response.status === 404) return this.resync('the changes URI expired');
      if (!response.ok) throw new Error(`${this.changesURL}: ${response.status}`);
      const next = parseLinks(response.headers.get('Link'), this.url).changes;
      const items = await response.json();
      this.applyChanges(new URL(next).searchParams.get('after'), items, next);
      if (!items.length) return;
    }
  }

  /** Joins the best allowed mechanism; when that is not long-polling, polls until it is live. */
  #attach() {
    const best = channelFor(this, this.options.transports);
    if (!best) return this.emit('error', new Error('no allowed transport is offered by ' + this.url));
    const poll = best.kind !== 'poll' && this.options.transports.includes('poll') && channelFor(this, ['poll']);
    if (poll) {
      this.#channel = poll;
      this.#upgrade = best;
      poll.add(this);
    } else {
      this.#channel = best;
    }
    best.add(this);
  }

  /** Called by a channel once it delivers this resource's changes. */
  live(channel) {
    if (channel === this.#upgrade) {
      this.#channel.remove(this);
      this.#channel = channel;
      this.#upgrade = null;
    }
    if (channel === this.#channel && this.transport !== channel.kind) {
      this.transport = channel.kind;
      this.emit('transport', channel.kind);
    }
  }
}

const channels = new Map();

function channelFor(resource, allowed) {
  const kinds = { ws: 'multiplex-ws', sse: 'multiplex-stream', poll: 'multiplex-wait' };
  for (const kind of allowed) {
    const endpoint = resource.links[kinds[kind]];
    if (!endpoint || (kind === 'ws' && typeof WebSocket === 'undefined')) continue;
    const key = `${kind} ${endpoint} ${resource.options.token ?? ''}`;
    if (!channels.has(key)) {
      const Kind = { ws: SocketChannel, sse: StreamChannel, poll: PollChannel }[kind];
      channels.set(key, new Kind(endpoint, resource.options, () => channels.delete(key)));
    }
    return channels.get(key);
  }
  return null;
}

/** Shared by every resource of one endpoint: add/remove resources; ends itself when empty. */
class Channel {
  constructor(kind, endpoint, options, onEmpty) {
    Object.assign(this, { kind, endpoint, options, onEmpty });
    this.resources = new Set();
    this.backoff = new Backoff(options);
  }
  add(resource) { this.resources.add(resource); this.changed(); }
  remove(resource) {
    if (!this.resources.delete(resource)) return;
    if (!this.resources.size) this.onEmpty();
    this.changed();
  }
  /** Restarts the running request with the new set of resources. */
  changed() {
    this.abort?.abort();
    if (!this.running) {
      this.running = true;
      queueMicrotask(() => this.run().finally(() => {
        this.running = false;
        if (this.resources.size) this.changed();
      }));
    }
  }
  async run() {
    while (this.resources.size) {
      this.abort = new AbortController();
      try {
        await this.cycle(this.abort.signal);
      } catch (error) {
        if (this.abort.signal.aborted) continue;
        for (const resource of this.resources) resource.emit('error', error);
        await sleep(this.backoff.next(), this.abort.signal);
      }
    }
  }
}

/** multiplex-wait: one long-poll for every resource of the endpoint. */
class PollChannel extends Channel {
  constructor(...args) { super('poll', ...args); }
  async cycle(signal) {
    const url = new URL(this.endpoint);
    const byURI = new Map();
    const absent = [];
    for (const resource of this.resources) {
      if (resource.resyncing) continue;
      if (!resource.isCollection && !resource.exists) { absent.push(resource); continue; }
      const uri = resource.isCollection ? resource.changesURL : resource.url.href;
      if (!byURI.has(uri)) {
        byURI.set(uri, []);
        url.searchParams.append('u', uri);
        if (!resource.isCollection) url.searchParams.append('inm', `"${resource.epoch}-${resource.seq.toString(36)}"`);
      }
      byURI.get(uri).push(resource);
    }
    // Long-polling cannot watch what does not exist: look again every few seconds.
    for (const resource of absent) { await resource.catchUp(); resource.live(this); }
    if (!byURI.size) return sleep(2000, signal);
    const wait = absent.length ? Math.min(3, this.options.wait) : this.options.wait;
    raw('liveresource-poll', 'out', 'GET ' + url.href);
    for (const resource of [...byURI.values()].flat()) resource.live(this);
    const response = await request(this.options, url, { headers: { Wait: String(wait) }, signal });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    const text = await response.text();
    raw('liveresource-poll', 'in', text);
    this.backoff.reset();
    for (const [uri, entry] of Object.entries(JSON.parse(text || '{}'))) {
      for (const resource of byURI.get(uri) ?? []) await this.deliver(resource, entry);
    }
  }
  async deliver(resource, entry) {
    if (resource.isCollection && entry.code === 404) return resource.resync('the changes URI expired');
    if (resource.isCollection && entry.code === 200) {
      const next = parseLinks(entry.headers?.Link, resource.url);
      const changes = next.changes ?? next['changes-wait'];
      resource.applyChanges(new URL(changes).searchParams.get('after'), entry.body, changes);
    } else if (!resource.isCollection && entry.code === 200) {
      resource.applyValue(entry.headers?.ETag, entry.body);
    } else if (!resource.isCollection && entry.code === 404) {
      resource.applyValue(null, null);
    } else {
      resource.emit('error', entry.body);
    }
  }
}

/** multiplex-stream: one SSE stream for every resource, resumed with Last-Event-ID. */
class StreamChannel extends Channel {
  constructor(...args) { super('sse', ...args); }
  async cycle(signal) {
    const members = [...this.resources];
    for (const resource of members) if (resource.resyncing) await resource.resyncing;
    const url = new URL(this.endpoint);
    const byURI = new Map();
    for (const resource of members) {
      if (!byURI.has(resource.url.href)) url.searchParams.append('u', resource.url.href);
      byURI.set(resource.url.href, [...(byURI.get(resource.url.href) ?? []), resource]);
    }
    // Replay from the oldest position any member has: newer members drop what they already saw.
    const tokens = members.map((resource) => position(resource.resumeToken)).filter(Boolean);
    const oldest = tokens.sort((a, b) => a.seq - b.seq)[0];
    const headers = { Accept: 'text/event-stream' };
    if (oldest) headers['Last-Event-ID'] = oldest.token;
    raw('liveresource-sse', 'out', 'GET ' + url.href + (oldest ? ' Last-Event-ID: ' + oldest.token : ''));
    const response = await request(this.options, url, { headers, signal });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    // Without a position nothing is replayed: read what may have happened before the stream opened.
    for (const resource of members) if (!resource.resumeToken) await resource.catchUp();
    for (const resource of members) resource.live(this);
    let reset = false;
    await readEventStream(response, async ({ id, event, data }) => {
      raw('liveresource-sse', 'in', (id ? `id: ${id}\n` : '') + (event !== 'message' ? `event: ${event}\n` : '') + data);
      this.backoff.reset();
      if (event === 'reset') { reset = true; return; }
      const message = JSON.parse(data);
      for (const resource of byURI.get(message.uri) ?? []) {
        if (event === 'error') resource.emit('error', message);
        else if (resource.isCollection) resource.applyChanges(id, message.body ?? []);
        else resource.applyValue(id, message.body);
      }
      const where = position(id);
      if (where) for (const member of members) if (member.epoch === where.epoch) member.cover(where.seq);
    });
    if (reset) { await Promise.all(members.map((resource) => resource.resync('the stream could not resume'))); return; }
    if (!signal.aborted) throw new Error('the event stream ended');
  }
}

/** multiplex-ws: one socket; subscriptions do not replay, so each is followed by a catch-up read. */
class SocketChannel extends Channel {
  constructor(...args) { super('ws', ...args); this.nextId = 1; this.pending = new Map(); }
  add(resource) { this.resources.add(resource); this.subscribe(resource); if (!this.socket) this.connect(); }
  remove(resource) {
    if (!this.resources.delete(resource)) return;
    const shared = [...this.resources].some((other) => other.url.href === resource.url.href && other.isCollection === resource.isCollection);
    if (!shared) this.send({ id: this.nextId++, type: 'unsubscribe', mode: resource.isCollection ? 'changes' : 'value', uri: resource.url.href });
    if (!this.resources.size) { this.onEmpty(); this.socket?.close(); this.socket = null; }
  }
  send(message) {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(message);
    raw('liveresource-ws', 'out', text);
    this.socket.send(text);
  }
  subscribe(resource) {
    const id = this.nextId++;
    resource.buffer = [];
    this.pending.set(id, resource);
    this.send({ id, type: 'subscribe', mode: resource.isCollection ? 'changes' : 'value', uri: resource.url.href });
  }
  connect() {
    const socket = new WebSocket(this.endpoint, ['liveresource']);
    this.socket = socket;
    socket.onopen = () => {
      this.backoff.reset();
      this.pending.clear();
      for (const resource of this.resources) this.subscribe(resource);
    };
    socket.onmessage = (message) => {
      raw('liveresource-ws', 'in', message.data);
      this.handle(JSON.parse(message.data));
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      for (const resource of this.resources) resource.buffer = [];
      if (this.resources.size) setTimeout(() => { if (!this.socket && this.resources.size) this.connect(); }, this.backoff.next());
    };
  }
  async handle(message) {
    const resource = this.pending.get(message.id);
    if (message.type === 'subscribed' && resource) {
      this.pending.delete(message.id);
      try {
        await resource.catchUp();
      } catch (error) {
        resource.emit('error', error);
        this.socket?.close();
        return;
      }
      const buffered = resource.buffer ?? [];
      resource.buffer = null;
      for (const event of buffered) this.deliver(resource, event);
      resource.live(this);
    } else if (message.type === 'event') {
      const mode = message.headers?.Link ? 'changes' : 'value';
      for (const target of this.resources) {
        if (target.url.href !== message.uri || target.isCollection !== (mode === 'changes')) continue;
        if (target.buffer) target.buffer.push(message); else this.deliver(target, message);
      }
    } else if (message.type === 'error') {
      this.pending.delete(message.id);
      // A refused subscription (a socket carries no bearer token, only the cookie) leaves the
      // resource where it is: on long-polling when it was upgrading, else reporting the error.
      if (resource) {
        resource.buffer = null;
        this.resources.delete(resource);
      }
      (resource ?? [...this.resources][0])?.emit('error', message);
      // A dropped subscription (the reader fell behind) is recovered by reconnecting.
      if (message.code === 410) this.socket?.close();
    }
  }
  deliver(resource, message) {
    if (resource.isCollection) {
      const next = parseLinks(message.headers.Link, resource.url).changes;
      resource.applyChanges(new URL(next).searchParams.get('after'), message.body, next);
    } else {
      resource.applyValue(message.headers?.ETag, message.body);
    }
  }
}

/**
 * A Solid Notifications channel on a topic: `notification` events carry the Activity Streams
 * object; `open` when notifications flow. Options: `channel` ('EventSourceChannel2023' or
 * 'WebSocketChannel2023'), `token`.
 */
export class SolidSubscription extends Emitter {
  constructor(topic, options = {}) {
    super();
    this.topic = new URL(topic, globalThis.location?.href).href;
    this.options = { ...DEFAULTS, channel: 'EventSourceChannel2023', ...options };
    this.abort = new AbortController();
    queueMicrotask(() => this.#start().catch((error) => this.emit('error', error)));
  }

  close() {
    this.abort.abort();
    this.socket?.close();
    if (this.channel?.id) request(this.options, this.channel.id, { method: 'DELETE' }).catch(() => {});
  }

  async #start() {
    const head = await request(this.options, this.topic, { method: 'HEAD' });
    const links = parseLinks(head.headers.get('Link'), this.topic);
    const descriptionURL = links['http://www.w3.org/ns/solid/terms#storageDescription'] ?? new URL('/.well-known/solid', this.topic).href;
    const description = await (await request(this.options, descriptionURL, { headers: { Accept: 'application/ld+json' } })).json();
    const service = [].concat(description.subscription ?? [])
      .find((entry) => String(entry.channelType).endsWith(this.options.channel));
    if (!service) throw new Error(`${descriptionURL} offers no ${this.options.channel}`);
    const body = { '@context': ['https://www.w3.org/ns/solid/notification/v1'], type: this.options.channel, topic: this.topic };
    raw('solid', 'out', 'POST ' + service.id + ' ' + JSON.stringify(body));
    const response = await request(this.options, service.id, {
      method: 'POST', headers: { 'Content-Type': 'application/ld+json' }, body: JSON.stringify(body), signal: this.abort.signal,
    });
    if (!response.ok) throw new Error(`${service.id}: ${response.status} ${await response.text()}`);
    this.channel = await response.json();
    raw('solid', 'in', JSON.stringify(this.channel));
    const receiveFrom = this.channel.receiveFrom ?? this.channel.source;
    if (receiveFrom.startsWith('ws')) this.#socket(receiveFrom); else await this.#stream(receiveFrom);
  }

  #notify(text) {
    raw('solid', 'in', text);
    this.emit('notification', JSON.parse(text));
  }

  async #stream(url) {
    const backoff = new Backoff(this.options);
    let lastId = null;
    while (!this.abort.signal.aborted) {
      try {
        const headers = { Accept: 'text/event-stream', ...(lastId ? { 'Last-Event-ID': lastId } : {}) };
        const response = await fetch(url, { headers, signal: this.abort.signal, cache: 'no-store' });
        if (response.status === 404) throw Object.assign(new Error('the channel ended'), { final: true });
        if (!response.ok) throw new Error(`${url}: ${response.status}`);
        this.emit('open');
        await readEventStream(response, ({ id, data }) => { backoff.reset(); lastId = id ?? lastId; this.#notify(data); });
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.emit('error', error);
        if (error.final) return;
      }
      await sleep(backoff.next(), this.abort.signal);
    }
  }

  #socket(url) {
    this.socket = new WebSocket(url);
    this.socket.onopen = () => this.emit('open');
    this.socket.onmessage = (message) => this.#notify(message.data);
    this.socket.onclose = () => { if (!this.abort.signal.aborted) this.emit('error', new Error('the channel socket closed')); };
  }
}

const concrntSockets = new Map();

/**
 * Concrnt realtime for one `cc://` URI: `created` and `deleted` events carry the server's message
 * (with its `signed_document`), `open` when the socket is (re)connected. Subscriptions to one
 * server share a socket; Concrnt has no replay, so nothing missed while disconnected is resent. Options: `server`
 * (Eddy's base URL; defaults to the page's origin).
 */
export class ConcrntSubscription extends Emitter {
  constructor(uri, options = {}) {
    super();
    this.uri = uri;
    this.options = { ...DEFAULTS, ...options };
    const server = new URL(this.options.server ?? '/', globalThis.location?.href);
    const endpoint = server.origin.replace(/^http/, 'ws') + '/.eddy/concrnt/realtime';
    if (!concrntSockets.has(endpoint)) concrntSockets.set(endpoint, new ConcrntSocket(endpoint, this.options));
    this.socket = concrntSockets.get(endpoint);
    this.socket.add(this);
  }
  close() { this.socket.remove(this); }
}

class ConcrntSocket {
  constructor(endpoint, options) { Object.assign(this, { endpoint, options, members: new Set(), backoff: new Backoff(options) }); }
  add(member) { this.members.add(member); if (this.ws) this.#list(); else this.#connect(); }
  remove(member) {
    this.members.delete(member);
    if (this.members.size) return this.#list();
    this.ws?.close();
    this.ws = null;
  }
  /** The spec's dialect: each subscribe message replaces the whole list. */
  #list() {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify({ action: 'subscribe', resources: [...new Set([...this.members].map((member) => member.uri))] });
    raw('concrnt', 'out', text);
    this.ws.send(text);
  }
  #connect() {
    const ws = new WebSocket(this.endpoint);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff.reset();
      this.#list();
      for (const member of this.members) member.emit('open');
    };
    ws.onmessage = (message) => {
      raw('concrnt', 'in', message.data);
      const event = JSON.parse(message.data);
      for (const member of this.members) {
        if (event.source === member.uri || String(event.resource ?? '').startsWith(member.uri)) member.emit(event.event ?? event.type, event);
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.members.size) setTimeout(() => { if (!this.ws && this.members.size) this.#connect(); }, this.backoff.next());
    };
  }
}
