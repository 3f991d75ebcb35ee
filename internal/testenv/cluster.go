package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RedisCluster starts a Redis Cluster of masters nodes (redis-server from
// PATH, no persistence, each on a free loopback port) for the test, and
// returns the URL that reaches it; the nodes stop when the test ends. It
// fails the test when redis-server or redis-cli is missing: the cluster
// is part of what the project runs on.
func RedisCluster(tb testing.TB, masters int) string {
	tb.Helper()
	for _, tool := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("Redis Cluster: %s not on PATH (apt-get install redis-server)", tool)
		}
	}
	addrs := make([]string, masters)
	for i := range addrs {
		addrs[i] = FreeAddr(tb)
		startClusterNode(tb, addrs[i])
	}
	create := append([]string{"--cluster", "create"}, addrs...)
	create = append(create, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", create...).CombinedOutput(); err != nil {
		tb.Fatalf("creating the Redis Cluster: %v\n%s", err, out)
	}
	for _, a := range addrs {
		waitClusterOK(tb, a)
	}
	return "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
}

func startClusterNode(tb testing.TB, addr string) {
	tb.Helper()
	host, port, _ := strings.Cut(addr, ":")
	dir := tb.TempDir()
	cmd := exec.Command("redis-server", "--bind", host, "--port", port, "--cluster-enabled", "yes",
		"--cluster-config-file", dir+"/nodes.conf", "--dir", dir, "--save", "", "--appendonly", "no")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting redis-server on %s: %v", addr, err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	Eventually(tb, 10*time.Second, func() error {
		if err := exec.Command("redis-cli", "-h", host, "-p", port, "ping").Run(); err != nil {
			return fmt.Errorf("redis-server on %s not answering: %w\n%s", addr, err, out.String())
		}
		return nil
	})
}

func waitClusterOK(tb testing.TB, addr string) {
	tb.Helper()
	host, port, _ := strings.Cut(addr, ":")
	Eventually(tb, 15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "redis-cli", "-h", host, "-p", port, "cluster", "info").Output()
		if err != nil || !bytes.Contains(out, []byte("cluster_state:ok")) {
			return fmt.Errorf("cluster node %s not ready: %v %s", addr, err, out)
		}
		return nil
	})
}
