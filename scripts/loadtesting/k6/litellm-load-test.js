// Load test of the gateway (the guide's): the three scenarios gradual_load, spike_test and
// constant_load one after another, or one of them, or the stress and soak profiles:
//   k6 run litellm-load-test.js                               # all three, about 9 minutes
//   k6 run -e SCENARIO=gradual_load litellm-load-test.js      # the guide's --scenario gradual_load
//   k6 run -e SCENARIO=spike_test litellm-load-test.js
//   k6 run -e SCENARIO=stress -e MAX_RATE=50 litellm-load-test.js
//   k6 run -e SCENARIO=soak -e SOAK_MINUTES=120 litellm-load-test.js
//   k6 run --vus 100 --duration 5m litellm-load-test.js      # k6's own flags replace the scenarios
// k6 1.1.0 has no --scenario flag ("unknown flag"): the scenario is chosen with SCENARIO.
// Every profile is bounded in time. Settings (k6 -e NAME=value):
//   VUS (10)            users at the top of gradual_load, and the spike's base x 10
//   RAMP_S (60), HOLD_S (180)   gradual_load's ramp and plateau
//   RATE (5), CONSTANT_S (180)  constant_load: requests per second (an open model), for how long
//   PREALLOCATED_VUS    VUs ready for the arrival-rate profiles (default: RATE x 20); too few and
//                       k6 drops iterations (dropped_iterations), which makes a run invalid
//   MAX_RATE (50), STEP_S (60)  stress: the rate climbs in 5 steps up to MAX_RATE
//   PEAK_S (60)         spike_test: how long the 10x peak lasts
//   SOAK_MINUTES (60)   soak: VUS users at a steady pace
//   P95_MS, MAX_ERROR_RATE  thresholds; lib/litellm.js lists the gateway and mix settings
import exec from 'k6/execution';
import { sleep } from 'k6';
import { chat, summary, thresholds, trafficMix } from './lib/litellm.js';

const VUS = Number(__ENV.VUS || 10);
const RAMP_S = Number(__ENV.RAMP_S || 60);
const HOLD_S = Number(__ENV.HOLD_S || 180);
const RATE = Number(__ENV.RATE || 5);
const CONSTANT_S = Number(__ENV.CONSTANT_S || 180);
const PREALLOCATED = Number(__ENV.PREALLOCATED_VUS || RATE * 20);
const MAX_RATE = Number(__ENV.MAX_RATE || 50);
const STEP_S = Number(__ENV.STEP_S || 60);
const SOAK_MINUTES = Number(__ENV.SOAK_MINUTES || 60);
const PEAK_S = Number(__ENV.PEAK_S || 60);

function gradual(start) {
  return {
    executor: 'ramping-vus',
    startTime: `${start}s`,
    startVUs: 0,
    stages: [
      { duration: `${RAMP_S}s`, target: VUS },
      { duration: `${HOLD_S}s`, target: VUS },
      { duration: '30s', target: 0 },
    ],
    gracefulRampDown: '30s',
  };
}

function spike(start) {
  const base = Math.max(1, Math.round(VUS / 5));
  return {
    executor: 'ramping-vus',
    startTime: `${start}s`,
    startVUs: base,
    stages: [
      { duration: '30s', target: base },
      { duration: '10s', target: base * 10 }, // the sudden 10x
      { duration: `${PEAK_S}s`, target: base * 10 },
      { duration: '10s', target: base },
      { duration: '30s', target: base }, // recovery
    ],
    gracefulRampDown: '30s',
  };
}

function constant(start) {
  return {
    executor: 'constant-arrival-rate',
    startTime: `${start}s`,
    rate: RATE,
    timeUnit: '1s',
    duration: `${CONSTANT_S}s`,
    preAllocatedVUs: PREALLOCATED,
    maxVUs: PREALLOCATED * 2,
  };
}

const gradualS = RAMP_S + HOLD_S + 30 + 30; // its stages and ramp-down
const spikeS = 80 + PEAK_S + 30;
const PROFILES = {
  gradual_load: { gradual_load: gradual(0) },
  spike_test: { spike_test: spike(0) },
  constant_load: { constant_load: constant(0) },
  all: {
    gradual_load: gradual(0),
    spike_test: spike(gradualS),
    constant_load: constant(gradualS + spikeS),
  },
  stress: {
    stress: {
      executor: 'ramping-arrival-rate',
      startRate: Math.max(1, Math.round(MAX_RATE / 5)),
      timeUnit: '1s',
      preAllocatedVUs: Number(__ENV.PREALLOCATED_VUS || MAX_RATE * 20),
      maxVUs: Number(__ENV.PREALLOCATED_VUS || MAX_RATE * 20) * 2,
      stages: [1, 2, 3, 4, 5].map((n) => ({ duration: `${STEP_S}s`, target: Math.round((MAX_RATE * n) / 5) })),
    },
  },
  soak: { soak: { executor: 'constant-vus', vus: VUS, duration: `${SOAK_MINUTES}m` } },
};

const chosen = __ENV.SCENARIO || 'all';
if (!(chosen in PROFILES)) {
  throw new Error(`SCENARIO=${chosen}: one of ${Object.keys(PROFILES).join(', ')}`);
}

export const options = {
  scenarios: PROFILES[chosen],
  thresholds: thresholds(),
};

export function setup() {
  return { mix: trafficMix() };
}

export default function (data) {
  chat(data.mix);
  // closed-loop users pause like people; the arrival-rate profiles pace themselves
  if (!exec.scenario.executor.endsWith('arrival-rate')) sleep(1 + Math.random() * 2);
}

export function handleSummary(data) {
  return summary(data);
}
