-- Model providers and channels: config-as-code upserts them at start; the console edits the same rows.
-- Secrets (API keys, app secrets, AES keys) are stored only encrypted with IMFLOW_SECRET_KEY.
CREATE TABLE model_providers (
  id          text PRIMARY KEY,
  base_url    text NOT NULL,
  api         text NOT NULL DEFAULT 'openai-completions',
  models      jsonb NOT NULL,
  api_key_enc text,
  source      text NOT NULL DEFAULT 'config',
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE channels (
  id          text PRIMARY KEY,
  type        text NOT NULL,
  name        text,
  enabled     boolean NOT NULL DEFAULT true,
  settings    jsonb NOT NULL,
  secrets_enc text,
  source      text NOT NULL DEFAULT 'config',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE settings (
  key        text PRIMARY KEY,
  value      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Session history, the source of truth (Redis only caches it). One row per turn; a retried save is a no-op.
CREATE TABLE session_messages (
  id          bigserial PRIMARY KEY,
  session_key text NOT NULL,
  role        text NOT NULL CHECK (role IN ('user', 'assistant')),
  content     text NOT NULL,
  message_id  text NOT NULL,
  sender_id   text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (session_key, message_id, role)
);
CREATE INDEX session_messages_recent ON session_messages (session_key, id DESC);

-- One row per message run, written when the run ends (live runs are read from Temporal).
CREATE TABLE runs (
  workflow_id     text PRIMARY KEY,
  channel_id      text NOT NULL,
  conversation_id text NOT NULL,
  sender_id       text NOT NULL,
  message_id      text NOT NULL,
  text            text NOT NULL,
  status          text NOT NULL,
  reply_text      text,
  model           text,
  pipeline_id     text,
  dry_run         boolean NOT NULL DEFAULT false,
  trace           jsonb NOT NULL,
  received_at     timestamptz NOT NULL,
  finished_at     timestamptz NOT NULL DEFAULT now(),
  duration_ms     integer NOT NULL
);
CREATE INDEX runs_recent ON runs (finished_at DESC);

-- Replies sent (or, for dry runs, recorded). The key makes a retried send a no-op.
CREATE TABLE replies (
  idempotency_key     text PRIMARY KEY,
  channel_id          text NOT NULL,
  conversation_id     text NOT NULL,
  text                text NOT NULL,
  dry_run             boolean NOT NULL,
  platform_message_id text,
  sent_at             timestamptz NOT NULL DEFAULT now()
);

-- Append-only, hash-chained: each row's hash covers the previous row's hash.
CREATE TABLE audit_log (
  id              bigserial PRIMARY KEY,
  at              timestamptz NOT NULL,
  actor           text NOT NULL,
  action          text NOT NULL,
  subject         text NOT NULL,
  detail          jsonb NOT NULL,
  idempotency_key text UNIQUE,
  prev_hash       text NOT NULL,
  hash            text NOT NULL
);
