// k6: one kind of request to an MCP endpoint or the REST API, for the front-door benchmark.
// Env: URL, KIND (mcp-2026 | mcp-2025 | rest), TOOL and ARGS (JSON) for MCP, TOKENS (bearer tokens, comma-separated,
// one per virtual user, optional), MODE (closed: VUS busy clients for DURATION; open: RATE requests/s for DURATION
// from VUS clients), SUMMARY_PATH.
import http from 'k6/http';
import { Rate } from 'k6/metrics';

// A call that did not succeed: an HTTP error, a JSON-RPC error or a tool error.
const failed = new Rate('call_failed');
// A call the rate limiter turned away (429): counted apart, so that the limits' share is visible.
const limited = new Rate('rate_limited');

const kind = __ENV.KIND || 'mcp-2026';
const closed = (__ENV.MODE || 'open') === 'closed';
export const options = {
  scenarios: {
    load: closed
      ? { executor: 'constant-vus', vus: Number(__ENV.VUS || 20), duration: __ENV.DURATION || '10s' }
      : {
          executor: 'constant-arrival-rate',
          rate: Number(__ENV.RATE || 200),
          timeUnit: '1s',
          duration: __ENV.DURATION || '10s',
          // A fixed pool: k6 hands iterations to idle clients in turn, so each token carries RATE / VUS.
          preAllocatedVUs: Number(__ENV.VUS || 20),
          maxVUs: Number(__ENV.VUS || 20),
        },
  },
  thresholds: { call_failed: ['rate<1.01'] },
};

const tokens = (__ENV.TOKENS || '').split(',').filter(Boolean);
// Each virtual user is one client with a token of its own, as the per-token rate limit expects.
const auth = () => (tokens.length > 0 ? { Authorization: `Bearer ${tokens[(__VU - 1) % tokens.length]}` } : {});
const tool = __ENV.TOOL || 'echo';
const args = JSON.parse(__ENV.ARGS || '{}');
const meta = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'k6', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

export default function () {
  let res;
  if (kind === 'rest') {
    res = http.get(__ENV.URL, { headers: auth(), timeout: '10s' });
    failed.add(res.status !== 200);
  } else {
    const modern = kind === 'mcp-2026';
    const params = modern ? { name: tool, arguments: args, _meta: meta } : { name: tool, arguments: args };
    const headers = {
      ...auth(),
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': modern ? '2026-07-28' : '2025-11-25',
      ...(modern ? { 'Mcp-Method': 'tools/call', 'Mcp-Name': tool } : {}),
    };
    res = http.post(__ENV.URL, JSON.stringify({ jsonrpc: '2.0', id: __ITER, method: 'tools/call', params }), {
      headers,
      timeout: '10s',
    });
    const body = String(res.body || '');
    failed.add(res.status !== 200 || body.includes('"isError":true') || body.includes('"error":'));
  }
  limited.add(res.status === 429);
}

export function handleSummary(data) {
  const m = data.metrics;
  return {
    [__ENV.SUMMARY_PATH]: JSON.stringify({
      requests: m.http_reqs.values.count,
      rate: m.http_reqs.values.rate,
      p95Ms: m.http_req_duration.values['p(95)'],
      failed: m.call_failed ? m.call_failed.values.rate : 0,
      rateLimited: m.rate_limited ? m.rate_limited.values.rate : 0,
      dropped: m.dropped_iterations ? m.dropped_iterations.values.count : 0,
    }),
  };
}
