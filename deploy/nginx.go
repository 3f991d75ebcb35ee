package deploy

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// NginxConf is deploy/nginx.conf, the stack's reverse proxy, as the image
// runs it.
//
//go:embed nginx.conf
var NginxConf string

var (
	upstreamServer = regexp.MustCompile(`(?m)^(\s*)server\s+([a-z0-9-]+:\d+)([^;]*);`)
	resolveFlag    = regexp.MustCompile(`\s+resolve\b`)
)

// LocalNginxConf is NginxConf for processes on this machine: each upstream
// server (a container's name:port, such as gateway-1:8080) becomes the
// address servers gives for it, the proxy listens on listen, and its
// temporary files go under dir. The routes, timeouts, retries and error
// pages stay those of the stack.
func LocalNginxConf(servers map[string]string, listen, dir string) (string, error) {
	var missing []string
	src := upstreamServer.ReplaceAllStringFunc(NginxConf, func(line string) string {
		m := upstreamServer.FindStringSubmatch(line)
		addr, ok := servers[m[2]]
		if !ok {
			missing = append(missing, m[2])
		}
		// The `resolve` flag (Docker's DNS, nginx 1.27.3+) goes with the
		// name; the other parameters (max_fails, fail_timeout) stay.
		return m[1] + "server " + addr + resolveFlag.ReplaceAllString(m[3], "") + ";"
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("deploy/nginx.conf: no address for upstream servers %v", missing)
	}
	if !strings.Contains(src, "listen 8080;") {
		return "", fmt.Errorf("deploy/nginx.conf no longer says `listen 8080;`; update LocalNginxConf with it")
	}
	src = strings.Replace(src, "listen 8080;", "listen "+listen+";", 1)
	// Docker's resolver is not there outside compose.
	src = regexp.MustCompile(`(?m)^\s*resolver [^;]*;\n`).ReplaceAllString(src, "")
	temp := fmt.Sprintf("client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fastcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;", dir)
	return strings.Replace(src, "http {", "http {\n    "+temp, 1), nil
}
