-- Console users, their sessions and API tokens (docs/console.md). Only hashes are stored: scrypt for
-- passwords, SHA-256 for session ids and API tokens (random, 256 bits: nothing to stretch).
CREATE TABLE console_users (
  id             text PRIMARY KEY,                       -- the login name
  display_name   text,
  role           text NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer', 'auditor')),
  password_hash  text NOT NULL,
  disabled       boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz
);

-- user_id NULL: a session opened with the ADMIN_TOKEN (role admin).
CREATE TABLE console_sessions (
  id_hash      text PRIMARY KEY,
  user_id      text REFERENCES console_users (id) ON DELETE CASCADE,
  csrf_token   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

CREATE TABLE api_tokens (
  id           text PRIMARY KEY,
  user_id      text NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
  name         text NOT NULL,
  token_hash   text NOT NULL UNIQUE,
  prefix       text NOT NULL,                            -- the first characters, to tell tokens apart
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- The platform's inbound request behind a run, as verified and decrypted, secrets removed and size
-- bounded: the first link of the run's chain in the console.
CREATE TABLE run_requests (
  workflow_id text PRIMARY KEY,
  channel_id  text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  headers     jsonb NOT NULL,
  body        jsonb,
  truncated   boolean NOT NULL DEFAULT false
);

CREATE INDEX runs_received ON runs (received_at DESC);
CREATE INDEX audit_log_subject ON audit_log (subject);
