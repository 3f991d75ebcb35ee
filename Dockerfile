# syntax=docker/dockerfile:1
#
# TicketVelo's one image. Every service is a subcommand of the one binary:
#   docker run IMAGE gateway | booker | notifier | migrate | seed | all
# The final image holds the binary and an empty data directory, nothing else.
# deploy/dockerfile_test.go checks this file (stages, flags, versions).

# 1. The web UI. A stage of its own so Node never reaches the final image.
# Without frontend/package.json (a Go-only checkout) it leaves only the
# marker file that the Go embed needs, and the gateway then serves its
# "UI not built" page.
FROM node:22-slim AS ui
WORKDIR /src/frontend
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 NPM_CONFIG_UPDATE_NOTIFIER=false
COPY frontend/ ./
RUN --mount=type=cache,target=/root/.npm \
    if [ -f package.json ]; then npm ci --no-audit --no-fund && npm run build; fi \
    && mkdir -p dist && touch dist/.keep

# 2. The binary: static (CGO_ENABLED=0, so distroless/static runs it) and
# reproducible (-trimpath drops this machine's paths). go.mod and go.sum are
# copied first so the module download stays cached while code changes.
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
COPY --from=ui /src/frontend/dist ./frontend/dist
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ticketvelo ./cmd/ticketvelo \
    && mkdir -p /out/data/keys

# 3. The runtime: no shell, no package manager, not root. The data directory
# is created here owned by the nonroot user, so the named volumes mounted on
# it (the shared signing keys) start out writable.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ticketvelo /ticketvelo
COPY --from=build --chown=65532:65532 /out/data /var/lib/ticketvelo
ENV TICKETVELO_DATA_DIR=/var/lib/ticketvelo
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/ticketvelo", "healthcheck"]
ENTRYPOINT ["/ticketvelo"]
CMD ["all"]
