# Debian-based on purpose: Temporal's native worker module has no Alpine (musl) build.
FROM node:20-bookworm-slim
WORKDIR /app
ENV IMFLOW_SKIP_TEMPORAL_INSTALL=1 IMFLOW_DATA_DIR=/data
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
COPY . .
RUN node scripts/build-studio.mjs && npm prune --omit=dev --no-audit --no-fund
ENV NODE_ENV=production
EXPOSE 3000
CMD ["node", "--import", "tsx", "runtime/main.ts", "all"]
