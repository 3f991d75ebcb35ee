package deploy

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkProxyHop measures what the stack's proxy costs: the same
// requests straight to gateway-1, and through nginx (deploy/nginx.conf) in
// front of gateway-1 and gateway-2, all real processes started from
// docker-compose.yml as TestStackRunsAsProcesses starts them. /healthz is
// the cheapest answer a gateway has (so the hop's own cost shows);
// /api/v1/events is the cached event list every fan loads. Each op is one
// request each way; the figures are the mean time of one request under 32
// concurrent clients, and their ratio.
//
//	go test -run '^$' -bench BenchmarkProxyHop -benchtime 5s ./deploy/
func BenchmarkProxyHop(b *testing.B) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		b.Skip("nginx is not installed (apt-get install nginx)")
	}
	stores := newLocalStores(b)
	procs := startStack(b, stores, func(s service) bool {
		return s.role == "migrate" || s.role == "seed" || s.role == "gateway"
	})
	servers := map[string]string{}
	for _, p := range procs {
		servers[p.name+":"+p.port] = p.addr
	}
	// The booker upstream must resolve for nginx to start; nothing here
	// sends it a request.
	for _, upstream := range nginxUpstreams(b)["bookers"] {
		servers[upstream] = freePort(b)
	}
	proxy := startNginx(b, nginx, servers)
	direct := "http://" + procs["gateway-1"].addr

	// Each client alternates: one request straight to gateway-1, the same
	// through nginx, timing each. Pairing them makes the ratio robust to the
	// load that comes and goes on a shared machine.
	for _, path := range []string{"/healthz", "/api/v1/events"} {
		b.Run(strings.TrimPrefix(path, "/"), func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			var directNs, proxiedNs atomic.Int64
			b.SetParallelism(16) // 32 clients on 2 cores, each with kept-alive connections
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					for _, target := range []struct {
						base string
						ns   *atomic.Int64
					}{{direct, &directNs}, {proxy, &proxiedNs}} {
						start := time.Now()
						resp, err := client.Get(target.base + path)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						target.ns.Add(int64(time.Since(start)))
						if resp.StatusCode != http.StatusOK {
							b.Errorf("GET %s%s: %d", target.base, path, resp.StatusCode)
							return
						}
					}
				}
			})
			n := float64(b.N)
			b.ReportMetric(float64(directNs.Load())/n/1e3, "direct-µs/req")
			b.ReportMetric(float64(proxiedNs.Load())/n/1e3, "nginx-µs/req")
			b.ReportMetric(float64(proxiedNs.Load())/float64(directNs.Load()), "nginx/direct")
		})
	}
}
