-- One row per model call attempt, failed ones included: usage accounting and GET /api/models/health.
CREATE TABLE model_calls (
  id                bigserial PRIMARY KEY,
  at                timestamptz NOT NULL,            -- when the attempt started
  model             text NOT NULL,                   -- "<providerId>/<modelId>"
  provider_id       text NOT NULL,
  workflow_id       text,                            -- the message run
  attempt           integer NOT NULL,                -- Temporal's attempt number, from 1
  outcome           text NOT NULL CHECK (outcome IN ('ok', 'error', 'timeout', 'empty', 'cancelled')),
  error_type        text,                            -- ModelUnavailable, Unauthorized, FirstTokenTimeout, …
  error_message     text,
  -- null when the server produced nothing (refused, failed before the first token): nothing was spent
  prompt_tokens     integer,
  completion_tokens integer,
  tokens_estimated  boolean NOT NULL DEFAULT false,  -- the server sent no usage: imflow's estimate
  latency_ms        integer NOT NULL,
  first_token_ms    integer,
  streamed          boolean NOT NULL
);
CREATE INDEX model_calls_recent ON model_calls (model, at DESC);
