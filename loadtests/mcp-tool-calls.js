// k6: MCP clients calling a tool of a service (2025-era Streamable HTTP, stateless), as a drill's load.
// Env: TARGET_URL (the service's /mcp), VUS, DURATION, SUMMARY_PATH (where the JSON summary goes).
import http from 'k6/http';
import { Rate } from 'k6/metrics';
import { sleep } from 'k6';

const failed = new Rate('mcp_call_failed');

export const options = {
  vus: Number(__ENV.VUS || 4),
  duration: __ENV.DURATION || '10s',
  // Drills judge the figures themselves; k6 keeps going whatever happens.
  thresholds: { mcp_call_failed: ['rate<1.01'] },
};

const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25' };

export default function () {
  const body = JSON.stringify({ jsonrpc: '2.0', id: __ITER, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } });
  // Always bounded: k6's default request timeout is 60 s.
  const res = http.post(__ENV.TARGET_URL, body, { headers, timeout: '10s' });
  let ok = res.status === 200;
  if (ok) {
    const text = String(res.body || '');
    ok = !text.includes('"isError":true') && !text.includes('"error":');
  }
  failed.add(!ok);
  sleep(0.05);
}

export function handleSummary(data) {
  const m = data.metrics;
  const summary = {
    requests: m.http_reqs ? m.http_reqs.values.count : 0,
    p95Ms: m.http_req_duration ? m.http_req_duration.values['p(95)'] : 0,
    medianMs: m.http_req_duration ? m.http_req_duration.values.med : 0,
    errorRate: m.mcp_call_failed ? m.mcp_call_failed.values.rate : 0,
  };
  return { [__ENV.SUMMARY_PATH || 'summary.json']: JSON.stringify(summary), stdout: `k6: ${summary.requests} requests, p95 ${summary.p95Ms.toFixed(1)} ms, errors ${(summary.errorRate * 100).toFixed(1)} %\n` };
}
