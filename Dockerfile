# The pgpulse sidecar image, built from this repository. It also carries the built Grafana plugin
# (/app/dist), which docker-compose.yaml copies into Grafana's plugin folder.
# Node 24 LTS in both stages. The build stage needs no compiler: better-sqlite3 >= 13 ships prebuilt
# Node-API binaries (linux x64/arm64, glibc and musl), and every other install step is plain node.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# dependencies first: this layer is reused until package*.json change
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PGPULSE_HTTP_ADDR=0.0.0.0:7700 \
    PGPULSE_GRPC_ADDR=0.0.0.0:7701 \
    PGPULSE_DATA_DIR=/data
WORKDIR /app
# jemalloc: bin/pgpulse.js preloads it for `serve` (glibc's malloc keeps ≈120 MB of freed native
# memory after an hour with 5,000 statements; docs/benchmarks.md §8.1). PGPULSE_ALLOCATOR=system opts out.
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app /app
# the SQLite history lives on a volume owned by the unprivileged runtime user
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 7700 7701
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7700/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# bin/pgpulse.js's own serve flags, given here (it still re-executes once, in place, to preload jemalloc):
# --max-semi-space-size=2: a cycle's short-lived rows otherwise grow V8's young generation and heap
# to ~270 MB (RSS 345 → ~210 MB with 5,000 statements); --liftoff-only: V8 does not optimise the SQL
# parser's WebAssembly with TurboFan, whose compile took RSS to ~860 MB when the advisor parsed
# 5,000 texts. Both: docs/benchmarks.md section 8.
CMD ["node", "--liftoff-only", "--max-semi-space-size=2", "bin/pgpulse.js", "serve"]
