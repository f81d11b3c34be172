-- HTTP tools the model may call (docs/tools.md). The allowlist lives in settings under 'tools'.
CREATE TABLE tools (
  id          text PRIMARY KEY,
  -- the function name the model calls: one tool per name
  name        text NOT NULL UNIQUE,
  -- everything else but the secrets, as the tool schema spells it
  definition  jsonb NOT NULL,
  -- JSON object of secret values, sealed with IMFLOW_SECRET_KEY
  secrets_enc text,
  source      text NOT NULL CHECK (source IN ('config', 'api')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
