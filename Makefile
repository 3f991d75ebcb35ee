# TicketVelo: `make run` starts the whole system, `make test` runs every test.
GO      ?= go
BIN     := bin/ticketvelo
PKGS    := ./...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test test-go test-frontend bench lint frontend clean

all: build

## build: the binary, with the web UI embedded when Node is available
build: frontend
	$(GO) build -o $(BIN) ./cmd/ticketvelo

## run: build and start every module against PostgreSQL and Redis on loopback
run: build
	TICKETVELO_LOG_FORMAT=$${TICKETVELO_LOG_FORMAT:-console} ./$(BIN) all

## test: every test, unit and integration against the real services
test: test-go test-frontend

test-go:
	$(GO) test -count=1 -timeout 30m $(PKGS)

test-frontend:
	@if [ -f frontend/package.json ]; then $(MAKE) frontend && cd frontend && TV_E2E_SKIP_UI_BUILD=1 npm test; fi

## bench: the benchmarks written up in docs/BENCHMARKS.md
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x -count 1 -timeout 60m ./catalog/
	$(GO) test -run '^$$' -bench BenchmarkBooker -benchtime 1x -count 1 -timeout 60m -v ./booker/
	$(GO) test -run '^$$' -bench BenchmarkNotifier -benchtime 1x -count 1 -timeout 10m ./notifier/
	$(GO) test -run '^$$' -bench BenchmarkConfirmLatencyWithNotifier -benchtime 1x -count 1 -timeout 10m ./cmd/ticketvelo/
	$(GO) test -run '^$$' -bench BenchmarkProxyHop -benchtime 5s -count 3 ./deploy/
	$(GO) run ./cmd/ticketvelo loadgen
	$(GO) run ./cmd/ticketvelo edgebench
	$(GO) run ./cmd/ticketvelo drill
	$(GO) run ./cmd/ticketvelo drill -soak 10m
	@if [ -f frontend/package.json ]; then $(MAKE) frontend && cd frontend && npm run bench; fi

## lint: formatting, vet and staticcheck
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1)
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

## frontend: build the web UI into frontend/dist (skipped without npm)
frontend:
	@if [ -f frontend/package.json ] && command -v npm >/dev/null; then \
		cd frontend && { [ node_modules/.package-lock.json -nt package-lock.json ] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund; } && npm run build && touch dist/.keep; \
	elif [ -f frontend/package.json ]; then echo "npm not found: building without the web UI"; fi

clean:
	rm -rf bin frontend/dist/assets frontend/dist/index.html
