// k6: MCP clients calling a tool of a service (2025-era Streamable HTTP, stateless), as a drill's load.
// Env: TARGET_URL (the service's /mcp), RATE (calls per second), VUS (at most this many in flight),
// DURATION, TOOLS (the mix, e.g. "add:20,refund:1"; the sample fleet's tools), THRESHOLDS (the drill's,
// as k6 writes them: JSON of metric -> expressions, e.g. {"mcp_call_failed":["rate<=0.01"]}), SUMMARY_PATH
// (where the JSON summary goes). An open model: calls keep arriving at RATE however slow the service
// gets, as users' do.
import http from 'k6/http';
import { Rate } from 'k6/metrics';

const failed = new Rate('mcp_call_failed');

export const options = {
  scenarios: {
    calls: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 20),
      timeUnit: '1s',
      duration: __ENV.DURATION || '10s',
      preAllocatedVUs: Math.min(Number(__ENV.VUS || 20), 10),
      maxVUs: Number(__ENV.VUS || 20),
    },
  },
  // The drill file's, for this phase: k6 keeps going when one is crossed, then exits 99 and the summary names it.
  thresholds: JSON.parse(__ENV.THRESHOLDS || '{}'),
};

const ARGS = {
  add: { a: 1, b: 2 },
  echo: { text: 'hello' },
  lookup_item: { sku: 'SKU-1' },
  refund: { orderId: 'o-1', amount: 5 },
  time: {},
};
// Cumulative weights, not one entry per unit of weight: a weight of a billion costs nothing.
let total = 0;
const MIX = (__ENV.TOOLS || 'add:1').split(',').map((entry) => {
  const [tool, weight] = entry.split(':');
  if (!(tool in ARGS)) throw new Error(`TOOLS: unknown tool ${tool}; known: ${Object.keys(ARGS).join(', ')}`);
  total += Number(weight || 1);
  return { tool, upTo: total };
});

const headers = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2025-11-25',
};

export default function () {
  const draw = Math.random() * total;
  const { tool } = MIX.find((entry) => draw < entry.upTo);
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: __ITER,
    method: 'tools/call',
    params: { name: tool, arguments: ARGS[tool] },
  });
  // Always bounded: k6's default request timeout is 60 s.
  const res = http.post(__ENV.TARGET_URL, body, { headers, timeout: '10s' });
  let ok = res.status === 200;
  if (ok) {
    const text = String(res.body || '');
    ok = !text.includes('"isError":true') && !text.includes('"error":');
  }
  failed.add(!ok);
}

export function handleSummary(data) {
  const m = data.metrics;
  const summary = {
    requests: m.http_reqs ? m.http_reqs.values.count : 0,
    p95Ms: m.http_req_duration ? m.http_req_duration.values['p(95)'] : 0,
    medianMs: m.http_req_duration ? m.http_req_duration.values.med : 0,
    errorRate: m.mcp_call_failed ? m.mcp_call_failed.values.rate : 0,
    thresholdsCrossed: Object.entries(m).flatMap(([metric, values]) =>
      Object.entries(values.thresholds || {})
        .filter(([, threshold]) => !threshold.ok)
        .map(([expression]) => `${metric} ${expression}`),
    ),
  };
  return {
    [__ENV.SUMMARY_PATH || 'summary.json']: JSON.stringify(summary),
    stdout:
      `k6: ${summary.requests} requests, p95 ${summary.p95Ms.toFixed(1)} ms, ` +
      `errors ${(summary.errorRate * 100).toFixed(1)} %` +
      `${summary.thresholdsCrossed.length ? `; thresholds crossed: ${summary.thresholdsCrossed.join(', ')}` : ''}\n`,
  };
}
