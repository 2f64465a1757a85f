-- pgbench script: top-10 nearest neighbours of a stored item's embedding (uses the HNSW index),
-- then the same search filtered by category.
\set id random(1, 20000)
\set cat random(0, 19)
SELECT id FROM items ORDER BY embedding <=> (SELECT embedding FROM items WHERE id = :id) LIMIT 10;
SELECT id FROM items WHERE category = :cat ORDER BY embedding <=> (SELECT embedding FROM items WHERE id = :id) LIMIT 10;
