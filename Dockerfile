# mixmesh: one image for the CLI, `mixmesh serve` (orchestrator + webhook) and `mixmesh serve-injector`.
#   docker build -t mixmesh .                      # from a checkout: npm ci + tsc inside the build
#   docker run --rm mixmesh validate /descriptors/x.yaml
# Runs as a non-root user on a read-only root filesystem (mount an emptyDir or tmpfs on /tmp).
# BASE_IMAGE: any image with node 20 at /usr/local/bin/node and a /bin/sh (the tests pass one made locally).
ARG BASE_IMAGE=node:20-bookworm-slim

# ---- build: dependencies and JavaScript. A context that already holds dist/ and production
# node_modules (a CI step made them, e.g. `npm run build && npm prune --omit=dev`) is used as it is.
FROM ${BASE_IMAGE} AS build
COPY . /src
RUN cd /src && if [ -f dist/cli/bin.js ] && [ -d node_modules ] && [ ! -d node_modules/typescript ]; then \
      echo "using the context's dist/ and production node_modules"; \
    else \
      npm ci --ignore-scripts --no-audit --no-fund && npx tsc -p tsconfig.build.json && npm prune --omit=dev --no-audit --no-fund; \
    fi \
 && rm -rf node_modules/.cache && mkdir -p /out && mv dist node_modules package.json /out/ \
 && mkdir -p /out/vm-sidecar-injector/tacker-plugin && cp vm-sidecar-injector/tacker-plugin/mixmesh_instantiate_end.py /out/vm-sidecar-injector/tacker-plugin/

# ---- runtime: only what runs. The settings come before the COPY: the classic builder commits a
# layer for each instruction, so each one made after the COPY would copy node_modules once more
# (with a copying storage driver such as vfs, every layer is a full copy).
FROM ${BASE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production \
    MIXMESH_LISTEN=0.0.0.0:7070 \
    MIXMESH_INJECTOR_LISTEN=0.0.0.0:7071
USER 65532:65532
EXPOSE 7070 7071 9443
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/cli/bin.js"]
CMD ["--help"]
COPY --from=build --chown=0:0 /out/ /app/
