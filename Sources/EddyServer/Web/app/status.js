// The server at a glance: open connections by protocol and events per second, pushed once a
// second by /.eddy/status (a server-sent event stream), drawn as a one-minute line.
import { readEventStream } from '../client.js';

const $ = (id) => document.getElementById(id);
/** Points on the chart: one per status event, a minute's worth. */
const window60 = 60;
const rates = [];

function draw() {
  const line = $('status-line');
  const width = 240, height = 48;
  const top = Math.max(1, ...rates);
  const step = width / (window60 - 1);
  const first = window60 - rates.length;
  line.setAttribute('points', rates
    .map((rate, index) => `${((first + index) * step).toFixed(1)},${(height - 2 - (rate / top) * (height - 4)).toFixed(1)}`)
    .join(' '));
  $('status-chart').dataset.points = String(rates.length);
  $('status-chart').dataset.max = String(top);
}

function show(status) {
  rates.push(status.eventsPerSecond);
  if (rates.length > window60) rates.shift();
  draw();
  $('status-rate').textContent = status.eventsPerSecond.toFixed(status.eventsPerSecond < 10 ? 1 : 0);
  $('status-head').textContent = String(status.head);
  const rows = Object.entries(status.connections).sort(([a], [b]) => a.localeCompare(b));
  const body = $('status-connections');
  body.replaceChildren(...rows.map(([name, count]) => {
    const row = document.createElement('tr');
    row.dataset.protocol = name;
    const label = document.createElement('td');
    label.textContent = name;
    const value = document.createElement('td');
    value.textContent = String(count);
    row.append(label, value);
    return row;
  }));
}

async function follow() {
  for (let attempt = 0; ; attempt++) {
    const headers = new Headers({ Accept: 'text/event-stream' });
    const token = localStorage.getItem('eddy_token');
    if (token) headers.set('Authorization', 'Bearer ' + token);
    try {
      const response = await fetch('/.eddy/status', { headers });
      if (response.ok) {
        $('status-state').textContent = 'live';
        attempt = 0;
        await readEventStream(response, ({ event, data }) => { if (event === 'status') show(JSON.parse(data)); });
      } else {
        $('status-state').textContent = response.status === 403 || response.status === 401 ? 'not permitted' : `HTTP ${response.status}`;
      }
    } catch {
      // The server went away; try again below.
    }
    if ($('status-state').textContent === 'live') $('status-state').textContent = 'reconnecting';
    await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5))));
  }
}

follow();
