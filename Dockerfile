# imflow: `docker compose` runs it as `api` and `worker` (docs/deploy.md). Debian-based on purpose:
# Temporal's native core module (@temporalio/core-bridge) has no Alpine (musl) build.

# ---- build: all dependencies, the studio bundle, then only what runs
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The postinstall installs the Temporal CLI for `npm start`'s dev server (through python3 -m venv, absent
# here); the image always talks to a Temporal cluster (TEMPORAL_ADDRESS), so skip it explicitly.
ENV IMFLOW_SKIP_TEMPORAL_INSTALL=1
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
COPY . .
RUN node scripts/build-studio.mjs \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf studio/src studio/node_modules

# ---- runtime
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production IMFLOW_DATA_DIR=/data PORT=3000
# Only the data dir is writable by the app. With DATABASE_URL and the secrets in the environment (as in
# docker-compose.yml) nothing is written there; without them imflow would keep generated ones there.
RUN mkdir /data && chown node:node /data
COPY --from=build /app /app
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "deploy/healthcheck.mjs", "api"]
# tsx compiles the TypeScript sources at start (as `npm start` does); the argument is the role.
ENTRYPOINT ["node", "--import", "tsx", "runtime/main.ts"]
CMD ["api"]
