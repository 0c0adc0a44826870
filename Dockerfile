# syntax=docker/dockerfile:1
# Build stage: all dependencies, TypeScript compiled to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# Runtime stage: production dependencies, dist/ and the Avro schemas only.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
# Writable by the services: the token cache of trace workloads (engine-sim) lives in .cachesage.
RUN mkdir -p /app/.cachesage && chown node:node /app/.cachesage
USER node
EXPOSE 9464
CMD ["node", "dist/cli/main.js", "processor"]
