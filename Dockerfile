# The pgferry worker image: Node 20, psql 15 (the copy runs psql ... | psql ...) and setpriv (so a
# psql child dies with the worker, docs/design.md invariant 4). Build: docker build -t pgferry-worker .

# --- build: compile TypeScript with the dev dependencies, then drop them ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install script runs, so `prepare` cannot build before the sources exist;
# the native parts (Temporal core bridge, swc) ship prebuilt in their packages.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
COPY workflows/ workflows/
COPY activities/ activities/
# npm run build: tsc, then dist/workflow-bundle.js, which the worker loads instead of bundling at start.
RUN npm run build && npm prune --omit=dev

# --- runtime ---
FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends postgresql-client util-linux \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY bin/ bin/
# The image's own unprivileged user (uid 1000); the code stays root-owned and read-only to it.
USER node
CMD ["node", "bin/pgferry.js", "worker"]
