-- Departments and who is in them (docs/knowledge-and-tools.md). A knowledge base, tool or pipeline
-- granted to one or more departments is theirs alone; one granted to none is open to every sender.
CREATE TABLE departments (
  id               text PRIMARY KEY,
  name             text NOT NULL,
  knowledge_bases  text[] NOT NULL DEFAULT '{}',
  tools            text[] NOT NULL DEFAULT '{}',
  pipelines        text[] NOT NULL DEFAULT '{}',
  source           text NOT NULL CHECK (source IN ('config', 'api', 'sync')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- A sender is identified per channel ('*' = the same id on every channel, e.g. a directory user id).
-- 'sync' rows are reserved for a later directory sync from DingTalk, Feishu or WeCom.
CREATE TABLE department_members (
  department_id  text NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
  channel_id     text NOT NULL DEFAULT '*',
  sender_id      text NOT NULL,
  role           text,
  source         text NOT NULL CHECK (source IN ('config', 'api', 'sync')),
  PRIMARY KEY (department_id, channel_id, sender_id)
);
CREATE INDEX department_members_sender ON department_members (sender_id, channel_id);
