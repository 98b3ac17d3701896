# riskpipe: one image for every stage; the stage is the command
#   docker build -t riskpipe . && docker run --rm riskpipe doctor
# compose/docker-compose.yml runs serve-ingest, screen-worker and index-worker from it.

# ---- build: full install (dev dependencies for tsc), build dist/, then drop dev dependencies
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
# Native modules (usearch, onnxruntime-node) ship prebuilt binaries; python3/make/g++ only
# matter if one has to compile from source on an unusual architecture.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY bin ./bin
COPY data ./data
# `npm ci` runs the prepare script, which builds dist/ from src/.
RUN npm ci \
 && npm prune --omit=dev \
 && npm cache clean --force

# ---- runtime: no compilers, no npm cache, no sources; runs as the unprivileged `node` user
FROM node:20.20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    RISKPIPE_DATA_DIR=/var/lib/riskpipe
WORKDIR /app
# Owned by root and world-readable: the node user reads the code and data but cannot change them.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/data ./data
RUN chmod -R a+rX /app \
 && ln -s /app/bin/riskpipe /usr/local/bin/riskpipe \
 && mkdir -p /var/lib/riskpipe \
 && chown node:node /var/lib/riskpipe
USER node
# 8001 ingest, 8002 screening, 8003 index
EXPOSE 8001 8002 8003
VOLUME ["/var/lib/riskpipe"]
ENTRYPOINT ["riskpipe"]
CMD ["--help"]
