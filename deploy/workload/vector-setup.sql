-- Vector demo data: 20 000 random 64-dimensional embeddings with an HNSW index (cosine), plus a
-- deliberately duplicated btree index so "Indexes & tables" has a finding to show. Idempotent.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS items (
  id bigint PRIMARY KEY,
  category int NOT NULL,
  embedding vector(64) NOT NULL
);

-- The correlated subquery (WHERE i > 0) makes PostgreSQL draw fresh random numbers for every row.
INSERT INTO items (id, category, embedding)
SELECT i, i % 20, (SELECT array_agg(random())::real[] FROM generate_series(1, 64) WHERE i > 0)::vector(64)
FROM generate_series(1, 20000) AS i
ON CONFLICT (id) DO NOTHING;

CREATE INDEX IF NOT EXISTS items_embedding_hnsw ON items USING hnsw (embedding vector_cosine_ops);
CREATE INDEX IF NOT EXISTS items_category_idx ON items (category);
CREATE INDEX IF NOT EXISTS items_category_dup_idx ON items (category);
ANALYZE items;
