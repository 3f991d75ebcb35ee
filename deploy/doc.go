// Package deploy holds the checks of TicketVelo's deployment files, which
// run without Docker: docker-compose.yml is loaded by compose-go (the loader
// and validator of `docker compose config`) and cross-checked against the
// binary, the Dockerfile, deploy/nginx.conf, prometheus/ and grafana/. Where
// nginx and promtool are installed, the tests also run them on these files.
//
// The package has no code of its own, only tests: `go test ./deploy`.
package deploy
