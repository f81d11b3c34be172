-- Knowledge bases, their documents and the indexed chunks (docs/knowledge.md).
CREATE TABLE knowledge_bases (
  id                   text PRIMARY KEY,
  name                 text NOT NULL,
  description          text NOT NULL DEFAULT '',
  -- the default pipeline retrieves from these until pipelines name their bases
  attach_to_default    boolean NOT NULL DEFAULT true,
  -- null: lexical retrieval only. Vectors of different models are not comparable, so the model belongs to the index
  embedding_model      text,
  embedding_dimensions integer,
  chunk_size           integer NOT NULL,
  chunk_overlap        integer NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE knowledge_documents (
  id           text PRIMARY KEY,
  base_id      text NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
  name         text NOT NULL,
  content_type text NOT NULL,
  bytes        integer NOT NULL,
  -- the upload itself: an indexing job interrupted by a restart starts again from it
  source       bytea NOT NULL,
  status       text NOT NULL CHECK (status IN ('queued', 'indexing', 'ready', 'failed')),
  progress     real NOT NULL DEFAULT 0,
  error        text,
  chunks       integer NOT NULL DEFAULT 0,
  -- bumped by every replace: a job for an older upload must not write its chunks
  generation   integer NOT NULL DEFAULT 1,
  -- the process indexing it renews this; an expired lease means the job died and may be taken over
  lease_until  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  indexed_at   timestamptz
);
CREATE INDEX knowledge_documents_base ON knowledge_documents (base_id, created_at);
CREATE INDEX knowledge_documents_unfinished ON knowledge_documents (updated_at) WHERE status IN ('queued', 'indexing');

CREATE TABLE knowledge_chunks (
  document_id  text NOT NULL REFERENCES knowledge_documents (id) ON DELETE CASCADE,
  base_id      text NOT NULL,
  ordinal      integer NOT NULL,
  start_offset integer NOT NULL,
  end_offset   integer NOT NULL,
  text         text NOT NULL,
  -- jieba tokens joined by spaces, indexed with the language-neutral `simple` configuration
  tsv          tsvector NOT NULL,
  -- unit-length embedding where pgvector is missing (exact scan: the dot product is the cosine)
  embedding    real[],
  PRIMARY KEY (document_id, ordinal)
);
CREATE INDEX knowledge_chunks_base ON knowledge_chunks (base_id);
CREATE INDEX knowledge_chunks_tsv ON knowledge_chunks USING gin (tsv);

-- pgvector where the server has it (PGlite with the extension loaded, a pgvector image); plain
-- Postgres without it keeps only the real[] column. Without the privilege to create it, likewise.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS vector;
      ALTER TABLE knowledge_chunks ADD COLUMN embedding_vec vector;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pgvector is available but cannot be created here: dense retrieval uses the exact scan';
    END;
  END IF;
END $$;
