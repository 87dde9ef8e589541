// Smoke test (the guide's): 5 users for 30 seconds, does the gateway answer every model?
//   k6 run smoke-test.js
//   k6 run -e LITELLM_URL=http://gateway:4000 -e LITELLM_API_KEY=sk-... smoke-test.js
// VUS and DURATION override the load; lib/litellm.js lists the other settings.
import { sleep } from 'k6';
import { chat, summary, thresholds, trafficMix } from './lib/litellm.js';

export const options = {
  scenarios: {
    smoke: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 5),
      duration: __ENV.DURATION || '30s',
    },
  },
  thresholds: thresholds(),
};

export function setup() {
  return { mix: trafficMix() };
}

export default function (data) {
  chat(data.mix);
  sleep(1);
}

export function handleSummary(data) {
  return summary(data);
}
