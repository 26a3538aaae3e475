# syntax=docker/dockerfile:1
# clank: one self-contained binary on a distroless base, run as a non-root user.
#   docker build -t clank .
#   docker run --init -e TWITCH_OAUTH_TOKEN=... -v clank-data:/data -p 127.0.0.1:8080:8080 clank
ARG DENO_VERSION=2.9.6

# Build stage: compile main.ts, the built-in plugins, the sandbox Worker entry and the dashboard
# into dist/clank with `deno task compile`, so the binary gets exactly the permission flags of
# `deno task start` (tests/deploy_test.ts checks that the two tasks agree).
FROM denoland/deno:debian-${DENO_VERSION} AS build
WORKDIR /src
# Dependencies first: this layer is reused until deno.json or deno.lock change.
COPY deno.json deno.lock ./
RUN deno install
COPY . .
RUN deno task compile \
  && mkdir -p /out/data/plugins.d \
  && cp dist/clank /out/clank

# Runtime stage: glibc and libgcc only, no shell, no package manager, no Deno toolchain.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/clank /usr/local/bin/clank
# The volume's first mount copies this directory, so the non-root user owns /data.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
# config.toml (optional) and plugins.d/ are read from /data; environment variables override the file.
# The control plane stays on the container's loopback unless HTTP_LISTEN=0.0.0.0:8080 and a
# CONTROL_TOKEN are given (the compose files do); the health check reaches it either way.
ENV DATABASE_URL=/data/chatbot.db \
    HTTP_LISTEN=127.0.0.1:8080 \
    LOG_FORMAT=json \
    NO_COLOR=1 \
    HOME=/data \
    DENO_DIR=/data/.deno
USER nonroot:nonroot
EXPOSE 8080
VOLUME ["/data"]
# `clank healthcheck` exits 0 when GET /healthz on HTTP_LISTEN answers 200 (no curl in distroless).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/clank", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/clank"]
