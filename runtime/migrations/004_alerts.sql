-- One row per admin alert per target (a webhook or a chat): what was announced, and whether it arrived.
CREATE TABLE alerts (
  id          bigserial PRIMARY KEY,
  alert_key   text NOT NULL UNIQUE,          -- state change id # target: one delivery per target, whichever worker tries
  at          timestamptz NOT NULL,          -- when the state changed
  event       text NOT NULL,                 -- 'model.breaker'
  subject     text NOT NULL,                 -- the model ref
  detail      jsonb NOT NULL,                -- { from, to, reason }
  target      text NOT NULL,                 -- 'webhooks[0] https://host' or 'chats[0] channel group id': never a secret
  status      text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_recent ON alerts (at DESC);
