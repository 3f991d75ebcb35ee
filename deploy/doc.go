// Package deploy holds the checks of TicketVelo's deployment files, which
// run without Docker: docker-compose.yml is loaded by compose-go (the loader
// and validator of `docker compose config`) and cross-checked against the
// binary, the Dockerfile, deploy/nginx.conf, prometheus/ and grafana/. Where
// nginx and promtool are installed, the tests also run them on these files.
//
// Its one piece of code is LocalNginxConf, deploy/nginx.conf pointed at
// local processes, which its tests and `ticketvelo drill` run; the rest is
// tests: `go test ./deploy`.
package deploy
