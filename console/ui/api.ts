/**
 * The console's client of the orchestrator API: the bearer token from sessionStorage on every
 * call, problem+json errors as messages, and the events stream read with fetch (EventSource
 * cannot send an Authorization header).
 */
const KEY = 'mixmesh.token';

export const token = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (t: string): void => sessionStorage.setItem(KEY, t),
  clear: (): void => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly body: Record<string, unknown>) {
    super(message);
  }
}

export interface Who { name: string; role: 'viewer' | 'deployer' | 'admin'; namespaces?: string[] }

export async function api<T = Record<string, unknown>>(method: string, path: string, body?: { text: string; type: string }, bearer = token.get()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body) headers['content-type'] = body.type;
  const res = await fetch(path, { method, headers, ...(body ? { body: body.text } : {}), cache: 'no-store' });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try { json = text ? (JSON.parse(text) as Record<string, unknown>) : {}; } catch { json = { detail: text }; }
  if (!res.ok) {
    const errors = Array.isArray(json.errors) ? (json.errors as { pointer: string; message: string }[]).map((e) => `${e.pointer || '/'}: ${e.message}`) : [];
    throw new ApiError(res.status, `${String(json.code ?? res.status)}: ${String(json.detail ?? json.title ?? res.statusText)}${errors.length > 1 ? `\n${errors.join('\n')}` : ''}`, json);
  }
  return json as T;
}

/** a one-time login code (from the link's #code=) → the token; throws when it is refused */
export async function redeemCode(code: string): Promise<string> {
  const r = await api<{ token: string }>('POST', '/ui/login', { text: JSON.stringify({ code }), type: 'application/json' }, null);
  return r.token;
}

/**
 * follow a service's events (SSE over fetch); calls onEvent for each, onState with the
 * connection state; reconnects with backoff (1 s doubling to 30 s) from the last id; returns stop
 */
export function followEvents(path: string, onEvent: (e: Record<string, unknown>) => void, onState: (s: 'live' | 'reconnecting') => void): () => void {
  let stopped = false;
  let lastId: string | undefined;
  let controller: AbortController | undefined;
  let delay = 1000;
  const run = async (): Promise<void> => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${token.get() ?? ''}` };
        if (lastId) headers['last-event-id'] = lastId;
        const res = await fetch(`${path}?watch=true`, { headers, signal: controller.signal, cache: 'no-store' });
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        onState('live');
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) lastId = line.slice(4);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data) {
              try { onEvent(JSON.parse(data) as Record<string, unknown>); } catch { /* not JSON: skip */ }
            }
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  };
  void run();
  return () => { stopped = true; controller?.abort(); };
}
