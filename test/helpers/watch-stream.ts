// A watch stream read over plain HTTP in tests: each event, as `pick` makes it, as it arrives.
import { request } from 'node:http';
import type { AnyObject } from '../../shared/types.js';

export interface WatchEventLine {
  type: string;
  object: AnyObject;
}

/** Opens `url` with the bearer `token`; `until(n)` waits (up to 5 s) for n events. */
export function watchStream<T = WatchEventLine>(url: string, token: string, pick: (e: WatchEventLine) => T = (e) => e as T) {
  const events: T[] = [];
  let buf = '';
  const req = request(url, { headers: { authorization: `Bearer ${token}` } });
  const ready = new Promise<number>((ok, fail) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(pick(JSON.parse(buf.slice(0, i)) as WatchEventLine));
          buf = buf.slice(i + 1);
        }
      });
      ok(res.statusCode ?? 0);
    });
    req.on('error', fail);
  });
  req.end();
  const until = async (n: number) => {
    for (let i = 0; i < 500 && events.length < n; i++) await new Promise((ok) => setTimeout(ok, 10));
    return events;
  };
  return { ready, events, until, stop: () => req.destroy() };
}
