import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'imflow_' });

export const messagesReceived = new client.Counter({
  name: 'imflow_messages_received_total',
  help: 'Inbound messages accepted and handed to a conversation workflow',
  labelNames: ['channel'] as const,
  registers: [registry],
});

export const inboundRejected = new client.Counter({
  name: 'imflow_inbound_rejected_total',
  help: 'Inbound requests rejected before any workflow started',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const runsFinished = new client.Counter({
  name: 'imflow_runs_total',
  help: 'Message runs that ended, by outcome',
  labelNames: ['channel', 'status'] as const,
  registers: [registry],
});

export const runDuration = new client.Histogram({
  name: 'imflow_run_duration_seconds',
  help: 'Time from receiving a message to the end of its run',
  labelNames: ['channel'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
  registers: [registry],
});

export const modelCalls = new client.Counter({
  name: 'imflow_model_calls_total',
  help: 'Model call attempts by model and outcome (ok, error, timeout, empty, cancelled)',
  labelNames: ['model', 'outcome'] as const,
  registers: [registry],
});

export const modelLatency = new client.Histogram({
  name: 'imflow_model_call_seconds',
  help: 'Model call duration (successful calls)',
  labelNames: ['model'] as const,
  buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64],
  registers: [registry],
});

export const modelFirstToken = new client.Histogram({
  name: 'imflow_model_first_token_seconds',
  help: 'Time from sending a model call to its first streamed token',
  labelNames: ['model'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16],
  registers: [registry],
});

export const modelTokens = new client.Counter({
  name: 'imflow_model_tokens_total',
  help: "Tokens spent per model, kind prompt or completion (the server's usage, else imflow's estimate)",
  labelNames: ['model', 'kind'] as const,
  registers: [registry],
});

export const modelBreakerState = new client.Gauge({
  name: 'imflow_model_breaker_state',
  help: 'Circuit breaker per model as this process last saw it: 0 closed, 1 half-open, 2 open',
  labelNames: ['model'] as const,
  registers: [registry],
});

export const modelBreakerTransitions = new client.Counter({
  name: 'imflow_model_breaker_transitions_total',
  help: 'Breaker state changes decided by this process (each change is decided by exactly one process)',
  labelNames: ['model', 'from', 'to'] as const,
  registers: [registry],
});

export const modelBreakerRejected = new client.Counter({
  name: 'imflow_model_breaker_rejected_total',
  help: 'Model calls not made because the breaker was open (the next model in the chain took them)',
  labelNames: ['model'] as const,
  registers: [registry],
});

export const alertsDelivered = new client.Counter({
  name: 'imflow_alerts_total',
  help: 'Admin alerts by target kind (webhook, chat) and result (delivered, failed)',
  labelNames: ['kind', 'status'] as const,
  registers: [registry],
});
