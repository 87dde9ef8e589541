// What every k6 script of the bundle sends: chat completions through the gateway, the inventory's
// traffic mix by weight, prompts of varied sizes that no cache answers, one id per request.
//
// Settings (k6 -e NAME=value, or the environment):
//   LITELLM_URL       the gateway (default http://localhost:4000)
//   LITELLM_API_KEY   its key (or LITELLM_MASTER_KEY; else /etc/litellm/litellm.env when readable)
//   MODELS            the mix, model=weight,... (default: MIX_FILE, else the gateway's first three
//                     models at 60/25/15)
//   MIX_FILE          [[model, weight], ...] as the load-test roles write it
//                     (default /etc/llmobs/traffic-mix.json)
//   MAX_TOKENS        answer length asked for (default: varied, 32 to 256)
//   TIMEOUT           per request (default 120s; k6's own default of 60 s cuts long generations)
//   RUN_ID, HOST      the request ids are RUN_ID-HOST-VU-ITERATION (x-litellm-call-id): the verdict
//                     joins them with the gateways' request logs
//   SUMMARY_FILE      the JSON summary the script writes (default k6-summary.json)
//
// k6 1.1.0 sees no stream chunks (no SSE client without a custom build): requests are not
// streamed and are timed end to end; TTFT comes from the gateway's log, joined by the id.
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

export const BASE_URL = (__ENV.LITELLM_URL || 'http://localhost:4000').replace(/\/+$/, '');
// the gateway's env file, as the other tools read it, when k6 runs on the gateway host as root
function envFileKey() {
  try {
    for (const line of open('/etc/litellm/litellm.env').split('\n')) {
      const at = line.indexOf('=');
      if (at > 0 && line.slice(0, at).trim() === 'LITELLM_MASTER_KEY') {
        return line.slice(at + 1).trim().replace(/^['"]|['"]$/g, '');
      }
    }
  } catch (error) {
    // absent or not readable: no key from here
  }
  return '';
}
const KEY = __ENV.LITELLM_API_KEY || __ENV.LITELLM_MASTER_KEY || envFileKey();
export const RUN_ID = __ENV.RUN_ID || `k6-${Date.now()}`;
const HOST = __ENV.HOST || 'k6';
const TIMEOUT = __ENV.TIMEOUT || '120s';
const GUIDE_SHARES = [60, 25, 15]; // primary, secondary, specialized
const PROMPT_SIZES = [[16, 0.5], [128, 0.35], [1024, 0.15]]; // words, share of requests
const MAX_TOKENS = __ENV.MAX_TOKENS ? [Number(__ENV.MAX_TOKENS)] : [32, 64, 128, 256];
const WORDS = ('please write a short plain answer about the weather the river the mountain the city ' +
  'the market the garden the library the station the harbour and the school in this quiet town').split(' ');

export const outputTokens = new Counter('llm_output_tokens');
export const promptTokens = new Counter('llm_prompt_tokens');
export const outputTokensPerSecond = new Trend('llm_output_tokens_per_second');

// open() works only while the script loads: the mix file is read here, used in setup()
const MIX_TEXT = (() => {
  try {
    return open(__ENV.MIX_FILE || '/etc/llmobs/traffic-mix.json');
  } catch (error) {
    return null;
  }
})();

function headers(id) {
  const h = { 'Content-Type': 'application/json', 'x-litellm-call-id': id };
  if (KEY) h.Authorization = `Bearer ${KEY}`;
  return h;
}

function parseModels(text) {
  const mix = text.split(',').map((s) => s.trim()).filter((s) => s).map((item) => {
    const at = item.lastIndexOf('=');
    const name = at < 0 ? item : item.slice(0, at);
    const weight = at < 0 ? 1 : Number(item.slice(at + 1));
    if (!name || !(weight >= 0 && weight < 1e9)) throw new Error(`MODELS: '${item}' is not model=weight`);
    return [name, weight];
  });
  return mix;
}

// The traffic mix, once per test (setup() runs once; its result reaches every VU).
export function trafficMix() {
  let mix;
  if (__ENV.MODELS) {
    mix = parseModels(__ENV.MODELS);
  } else if (MIX_TEXT !== null) {
    mix = JSON.parse(MIX_TEXT);
  } else {
    const res = http.get(`${BASE_URL}/v1/models`, { headers: headers(`${RUN_ID}-${HOST}-setup`), timeout: '30s' });
    if (res.status !== 200) {
      exec.test.abort(`cannot list the gateway's models at ${BASE_URL}/v1/models: status ${res.status} ${res.error || ''}`);
    }
    mix = (res.json('data') || []).slice(0, 3).map((m, i) => [m.id, GUIDE_SHARES[i]]);
  }
  mix = mix.filter((pair) => pair[1] > 0);
  if (mix.length === 0) exec.test.abort('no model with a weight above 0 in the traffic mix');
  return mix;
}

function pick(pairs) {
  const total = pairs.reduce((sum, pair) => sum + pair[1], 0);
  let r = Math.random() * total;
  for (const pair of pairs) {
    r -= pair[1];
    if (r < 0) return pair[0];
  }
  return pairs[pairs.length - 1][0];
}

function prompt(words, nonce) {
  const out = [`[${nonce}]`];
  while (out.length < words) out.push(WORDS[out.length % WORDS.length]);
  return out.join(' ');
}

// One chat completion; returns the response. Tagged with its id and model for the verdict.
export function chat(mix) {
  const model = pick(mix);
  const id = `${RUN_ID}-${HOST}-${exec.vu.idInTest}-${exec.vu.iterationInInstance}`;
  const body = {
    model: model,
    messages: [{ role: 'user', content: prompt(pick(PROMPT_SIZES), id) }],
    max_tokens: MAX_TOKENS[Math.floor(Math.random() * MAX_TOKENS.length)],
    stream: false,
  };
  const res = http.post(`${BASE_URL}/v1/chat/completions`, JSON.stringify(body), {
    headers: headers(id),
    timeout: TIMEOUT,
    tags: { name: model, model: model, call_id: id },
  });
  const ok = check(res, { 'status is 200': (r) => r.status === 200 });
  if (ok) {
    let usage = {};
    try {
      usage = res.json('usage') || {};
    } catch (error) {
      // a 200 whose body is not JSON: no token counts (the status check passed; the verdict sees it)
    }
    const tags = { model: model, call_id: id }; // the id joins the counts to the request in k6-export
    if (Number.isInteger(usage.completion_tokens)) {
      outputTokens.add(usage.completion_tokens, tags);
      if (res.timings.duration > 0) {
        outputTokensPerSecond.add(usage.completion_tokens / (res.timings.duration / 1000), tags);
      }
    }
    if (Number.isInteger(usage.prompt_tokens)) promptTokens.add(usage.prompt_tokens, tags);
  }
  return res;
}

const ORDER = ['count', 'rate', 'value', 'passes', 'fails', 'avg', 'min', 'med', 'max', 'p(90)', 'p(95)'];

function fmt(value) {
  return typeof value === 'number' ? value.toFixed(1) : String(value);
}

// The summary k6 prints and the JSON one the script writes itself (k6's textSummary helper is a
// remote import, which fails where there is no Internet).
export function summary(data) {
  const lines = [];
  for (const [name, metric] of Object.entries(data.metrics).sort()) {
    const values = Object.keys(metric.values)
      .sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b))
      .map((k) => `${k}=${fmt(metric.values[k])}`)
      .join(' ');
    const verdict = metric.thresholds
      ? ' ' + Object.entries(metric.thresholds).map(([t, r]) => `${r.ok ? 'ok' : 'FAILED'}: ${t}`).join(', ')
      : '';
    lines.push(`${name.padEnd(32)} ${values}${verdict}`);
  }
  return {
    stdout: lines.join('\n') + '\n',
    [__ENV.SUMMARY_FILE || 'k6-summary.json']: JSON.stringify(data, null, 2),
  };
}

// Thresholds every script shares: P95 end to end and the share of failed requests.
export function thresholds() {
  return {
    http_req_failed: [`rate<${__ENV.MAX_ERROR_RATE || 0.01}`],
    http_req_duration: [`p(95)<${__ENV.P95_MS || 10000}`],
  };
}
