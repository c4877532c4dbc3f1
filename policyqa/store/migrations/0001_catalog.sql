-- The shared catalog: document registry, chunk texts and their lexical index, scoped by Chroma collection.
-- Mirrors the SQLite schema in policyqa/store/catalog.py; the FTS5 table becomes a tsvector column with a GIN index.
CREATE TABLE documents (
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    published TEXT,
    publisher TEXT,
    content_hash TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL CHECK (state IN ('pending', 'complete')),
    chunk_count INTEGER NOT NULL DEFAULT 0,
    ingested_at TEXT NOT NULL,
    PRIMARY KEY (collection, doc_id)
);
CREATE INDEX documents_source ON documents (collection, source);

CREATE TABLE chunks (
    id BIGSERIAL PRIMARY KEY,
    collection TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '',
    page INTEGER,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    headings TEXT NOT NULL DEFAULT '[]',
    doc_type TEXT NOT NULL,
    published_ord INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '|',
    dates TEXT NOT NULL DEFAULT '[]',
    body tsvector NOT NULL,
    UNIQUE (collection, chunk_id)
);
CREATE INDEX chunks_doc ON chunks (collection, doc_id);
CREATE INDEX chunks_body ON chunks USING GIN (body);

CREATE TABLE store_state (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (collection, key)
);
