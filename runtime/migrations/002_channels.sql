-- Messages a channel's policy chose not to answer (not @-mentioned, groups disabled, …), with why.
CREATE TABLE ignored_messages (
  channel_id          text NOT NULL,
  platform_message_id text NOT NULL,
  conversation_id     text NOT NULL,
  sender_id           text NOT NULL,
  chat_type           text NOT NULL,
  reason              text NOT NULL,
  received_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_id, platform_message_id)
);
CREATE INDEX ignored_messages_recent ON ignored_messages (channel_id, received_at DESC);
