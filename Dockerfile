# syntax=docker/dockerfile:1
# osmo-node-validator: one image for the agent (DaemonSet) and the aggregator (Deployment).
#   docker build --build-arg GIT_REVISION="$(git rev-parse HEAD)" -t REGISTRY/osmo-node-validator:TAG .
# The build stage compiles TypeScript to dist/ and drops dev dependencies; the runtime stage holds only
# dist/, the production node_modules and package.json.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install scripts in the lockfile are dev-only (the `node` dev dependency, which
# would download a second Node binary, and esbuild's, which tsx needs, not the build); no runtime
# dependency has one (test/manifests/dockerfile.test.ts checks the lockfile).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY agent ./agent
COPY aggregator ./aggregator
COPY cli ./cli
COPY report ./report
COPY spec ./spec
# package.json's "build" script, run with the image's Node 24 directly: `npm run` would put
# node_modules/.bin first on PATH, where the `node` dev dependency's (uninstalled) binary shadows it.
# The git revision `version` and the build_info metric report: the context has no .git, so it comes in as a
# build argument (docker build --build-arg GIT_REVISION=$(git rev-parse HEAD) .), in RUN's environment;
# "unknown" without one.
ARG GIT_REVISION=
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json && node scripts/copy-assets.mjs \
    && node scripts/write-build-info.mjs \
    && npm prune --omit=dev --ignore-scripts --no-audit --no-fund
# What the runtime never reads, out of the production node_modules (~100 MB -> ~43 MB): type declarations
# and TypeScript sources (mostly @kubernetes/client-node's generated models), source maps, READMEs and
# changelogs (license and notice files stay), addons prebuilt for the Bare runtime (*.bare; Node never
# loads them), and the test directories at packages' roots. scripts/image-smoke.sh runs the result.
RUN find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
      -o -name '*.bare' -o \( -iname '*.md' ! -iname 'licen[cs]e*' ! -iname 'notice*' \) \) -delete \
    && find node_modules -depth -type d \( -name test -o -name tests -o -name __tests__ \) \
      -exec sh -c 'if [ -f "$1/../package.json" ]; then rm -rf "$1"; fi' sh {} \;

FROM node:24-bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="osmo-node-validator" \
      org.opencontainers.image.description="Validates Kubernetes nodes against the NVIDIA OSMO on-prem backend baseline" \
      org.opencontainers.image.source="https://github.com/NVIDIA/osmo-node-validator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The agent runs host commands with `chroot /host ...`: chroot is /usr/sbin/chroot from coreutils, which
# is Essential in Debian and so present in bookworm-slim. Fail the build if that ever changes.
RUN command -v chroot
# Unprivileged by default (the aggregator). The agent DaemonSet sets runAsUser: 0 and privileged.
USER 10001:10001
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
