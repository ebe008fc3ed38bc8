# The ThreatMesh image for users' CI (docker build -t threatmesh .). Equivalent to what
# e2e/image/build.ts builds here without a container engine: the pinned Node.js runtime (stripped)
# and its shared libraries, the app with pruned production dependencies, user 65532, no shell, entrypoint
# `node /app/bin/threatmesh.mjs`, `threatmesh` on PATH for ingest Jobs.
ARG NODE_VERSION=24.21.0
FROM docker.io/library/node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# What Node never loads from production dependencies (the list is PRUNE in e2e/image/build.ts;
# e2e/integration/image.test.ts checks this line against it).
RUN find node_modules '(' -type d '(' -name test -o -name tests -o -name __tests__ -o -name example -o -name examples -o -name docs ')' -prune -exec rm -rf '{}' + ')' -o '(' -type f '(' -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' -o -name .jsii -o -name .jsii.gz -o '(' -name '*.md' '!' -iname 'license*' ')' ')' -exec rm -f '{}' + ')'
# client-node's JavaScript without comments and whitespace (MINIFY in e2e/image/build.ts; checked too).
RUN npx --yes esbuild@0.28.2 'node_modules/@kubernetes/client-node/dist/**/*.js' '--outdir=node_modules/@kubernetes/client-node/dist' '--outbase=node_modules/@kubernetes/client-node/dist' --allow-overwrite --minify-whitespace '--legal-comments=none' '--format=esm' '--log-level=warning'
# The release binary's symbols and debug info (18 MB) are not needed at run time.
RUN apt-get update && apt-get install -y --no-install-recommends binutils && strip --strip-all /usr/local/bin/node
COPY bin/ bin/
COPY operator/src/ operator/src/
COPY cdk8s/ cdk8s/
COPY charts/threatmesh/files/ charts/threatmesh/files/
RUN find operator/src cdk8s -name '*.test.ts' -delete && rm -rf operator/src/controllers/testdata && find cdk8s/imports -name '*.d.ts' -delete

# distroless/cc: glibc, libstdc++ and libgcc (what node links, see ldd), no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /usr/bin/env /usr/bin/env
COPY --from=build /app /app
USER 65532:65532
ENV NODE_ENV=production PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /app
# Ingest Jobs run `threatmesh ingest ...` (bin/threatmesh.mjs starts with #!/usr/bin/env node).
COPY --from=build --chmod=0755 /app/bin/threatmesh.mjs /usr/local/bin/threatmesh
ENTRYPOINT ["/usr/local/bin/node", "/app/bin/threatmesh.mjs"]
CMD ["--help"]
