// The daemon's HTTP API from the page: the token hand-off, authenticated JSON calls and
// the event stream.
//
// `thoth ui` opens the page with #token=TOKEN appended. The fragment never reaches a server;
// it is moved into sessionStorage (this tab only, gone when it closes) and cleared from
// the address bar so it does not linger in history or on screen.

const TOKEN_KEY = 'thoth.token';

export function takeToken() {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function headers(extra = {}) {
  return { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ''}`, ...extra };
}

// fetch() with the token; an error status becomes an ApiError carrying the API's message.
export async function request(path, { method = 'GET', body, signal } = {}) {
  const init = { method, headers: headers(), signal, cache: 'no-store' };
  if (body !== undefined) {
    init.headers = headers({ 'Content-Type': 'application/json' });
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401) onUnauthorized();
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const j = await res.json();
      if (j && j.error) message = j.error;
    } catch { /* not JSON: keep the status line */ }
    throw new ApiError(res.status, message);
  }
  return res;
}

export async function json(path, options) {
  return (await request(path, options)).json();
}

export async function blob(path) {
  return (await request(path)).blob();
}

// Server-Sent Events read through fetch(), because EventSource cannot send the
// Authorization header (and the token must not travel in a URL). Calls onEvent(name, data)
// per event until `signal` aborts or the stream ends; resolves then, rejects on errors.
export async function streamEvents(onEvent, signal) {
  const res = await request('/api/events', { signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (!data.length) continue;  // a keep-alive comment
      try {
        onEvent(name, JSON.parse(data.join('\n')));
      } catch (e) {
        console.error('bad event', name, e);
      }
    }
  }
}
