-- Pipelines (architecture §6): the draft the studio edits, and the versions published from it.
CREATE TABLE pipelines (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  description text NOT NULL DEFAULT '',
  -- the graph being edited: saved even when it cannot be published yet (validation is shown, not enforced)
  draft       jsonb NOT NULL,
  -- a disabled pipeline keeps its versions but takes no messages
  enabled     boolean NOT NULL DEFAULT true,
  source      text NOT NULL CHECK (source IN ('config', 'api')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL
);

-- Append-only: a version is never changed once published (a rollback publishes a new one), so the
-- version number a run recorded always names the graph it ran. They go only with their pipeline.
CREATE TABLE pipeline_versions (
  pipeline_id  text NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
  version      integer NOT NULL CHECK (version >= 1),
  graph        jsonb NOT NULL,
  note         text NOT NULL DEFAULT '',
  published_at timestamptz NOT NULL DEFAULT now(),
  published_by text NOT NULL,
  PRIMARY KEY (pipeline_id, version)
);
