// The agent's link to the controller without a controller: the heartbeat schedule and the
// self-fencing clock, with a fake clock.
import t from 'tap';
import pino from 'pino';
import { ApiError } from '../shared/client.js';
import { AGENT_HEARTBEAT_INTERVAL_MS, AGENT_HEARTBEAT_RETRY_MAX_MS, AGENT_HEARTBEAT_TIMEOUT_MS, heartbeatDelay } from '../shared/heartbeat.js';
import { ControllerHealth, DisconnectClock } from '../agent/controller-client/health.js';

t.test('heartbeats: every 2 s while answered; retries start at 250 ms and never wait more than 2 s', async (t) => {
  t.equal(heartbeatDelay(0), AGENT_HEARTBEAT_INTERVAL_MS);
  t.same(
    [1, 2, 3, 4, 5, 10, 100, 10_000].map((n) => heartbeatDelay(n)),
    [250, 500, 1000, 2000, 2000, 2000, 2000, 2000],
  );
  t.equal(AGENT_HEARTBEAT_RETRY_MAX_MS, 2000);
  t.equal(heartbeatDelay(0, 500), 500, 'the interval is the pause after a success');
});

t.test('a half-open connection costs less than the default 5 s node grace period', async (t) => {
  // Last answered beat at 0; the next one (sent one interval later) hangs until the timeout;
  // the first retry goes out after the shortest pause on a new connection.
  const gap = AGENT_HEARTBEAT_INTERVAL_MS + AGENT_HEARTBEAT_TIMEOUT_MS + heartbeatDelay(1);
  t.ok(gap < 5000, `silence seen by the controller: ${gap} ms`);
});

t.test('the disconnect clock counts from the last successful contact, not from the failure', async (t) => {
  const c = new DisconnectClock(1000);
  t.equal(c.since, undefined, 'connected until a call fails');
  c.contact(5000);
  t.equal(c.since, undefined);
  // A call that hung for 12 s fails at 17 000: disconnected since the last contact.
  c.failure();
  t.equal(c.since, 5000);
  c.failure();
  t.equal(c.since, 5000, 'later failures do not move it');
  c.contact(20_000);
  t.equal(c.since, undefined, 'any success ends it');
  c.failure();
  t.equal(c.since, 20_000);
  c.contact(19_000);
  t.equal(c.lastContactAt, 20_000, 'a late answer to an older call does not move the last contact back');
});

t.test('an agent that never reached the controller counts from its start', async (t) => {
  const c = new DisconnectClock(7000);
  c.failure();
  t.equal(c.since, 7000);
});

t.test('ControllerHealth: failures of any call and watch events drive the same clock', async (t) => {
  let now = 100_000;
  const h = new ControllerHealth(pino({ level: 'silent' }), 'https://c', '/d', () => now);
  now = 102_000;
  h.ok(); // a heartbeat answered
  now = 103_500;
  h.contact(); // a watch event
  now = 115_500;
  t.equal(h.disconnectedSince, undefined);
  t.ok(h.failed(new ApiError(0, 'cannot reach'), 'heartbeat'), 'an outage');
  t.equal(h.disconnectedSince, 103_500, 'since the watch event');
  now = 116_000;
  t.notOk(h.failed(new ApiError(404, 'gone'), 'report pod status'), 'an answer of the controller is not an outage');
  t.equal(h.disconnectedSince, 103_500);
  now = 117_000;
  h.contact();
  t.equal(h.disconnectedSince, undefined, 'a watch event ends the outage');
  t.notOk(h.unreachable);
  now = 118_000;
  h.failed(new ApiError(401, 'unauthorized'), 'heartbeat');
  t.equal(h.disconnectedSince, 117_000, 'a rejected credential counts from the last contact too');
});
