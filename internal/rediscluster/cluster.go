// Package rediscluster runs a Redis Cluster of local redis-server processes
// (from PATH) on free loopback ports: masters, optionally with replicas, for
// tests and for the fault drill, which kills nodes and watches replicas take
// over.
package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options shape a cluster.
type Options struct {
	Dir      string // each node keeps its nodes.conf and log under Dir/<port>
	Masters  int
	Replicas int // per master
	// NodeTimeout is cluster-node-timeout: how long a master may be silent
	// before its replica is promoted. 0 is Redis's 15 s.
	NodeTimeout time.Duration
}

// Cluster is the running nodes.
type Cluster struct {
	opts  Options
	Nodes []*Node // masters first, then replicas, as created
}

// Node is one redis-server of the cluster.
type Node struct {
	Addr string
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts the nodes, creates the cluster and waits until every node
// says cluster_state:ok. On error the started nodes are stopped.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	for _, tool := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("redis cluster: %s not on PATH (apt-get install redis-server)", tool)
		}
	}
	c := &Cluster{opts: o}
	addrs := make([]string, 0, o.Masters*(1+o.Replicas))
	for range o.Masters * (1 + o.Replicas) {
		n, err := c.startNode(ctx)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
		addrs = append(addrs, n.Addr)
	}
	create := append([]string{"--cluster", "create"}, addrs...)
	create = append(create, "--cluster-replicas", strconv.Itoa(o.Replicas), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", create...).CombinedOutput(); err != nil {
		c.Close()
		return nil, fmt.Errorf("creating the Redis Cluster: %w\n%s", err, out)
	}
	if err := c.WaitOK(ctx, 30*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// WaitReplicated waits until every running replica has synchronised with
// its master: a replica that never has is not promoted when its master
// dies (it counts as disconnected since it started).
func (c *Cluster) WaitReplicated(ctx context.Context, within time.Duration) error {
	for _, n := range c.Nodes {
		if isDone(n.done) {
			continue
		}
		err := poll(ctx, within, func() error {
			out, err := n.Do(ctx, "info", "replication")
			if err != nil {
				return fmt.Errorf("node %s: %w", n.Addr, err)
			}
			if strings.Contains(out, "role:slave") && !strings.Contains(out, "master_link_status:up") {
				return fmt.Errorf("replica %s not in sync with its master yet", n.Addr)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// startNode starts a node on two free ports, its clients' and its cluster
// bus's. A port found free can be taken before redis-server binds it (by a
// test running beside this one), so a node that could not listen is tried
// again on others.
func (c *Cluster) startNode(ctx context.Context) (*Node, error) {
	for try := 1; ; try++ {
		n, err := c.newNode()
		if err != nil {
			return nil, err
		}
		err = n.start(ctx)
		if err == nil {
			return n, nil
		}
		n.Kill()
		if try == 3 || !strings.Contains(err.Error(), "Failed listening") {
			return nil, err
		}
	}
}

func (c *Cluster) newNode() (*Node, error) {
	// Both ports at once, so they differ; the bus's is set, not left to
	// Redis's port + 10000, which may be taken or past 65535.
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	port, bus := ports[0], ports[1]
	dir := filepath.Join(c.opts.Dir, port)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := []string{"--bind", "127.0.0.1", "--port", port, "--cluster-port", bus, "--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log")}
	if c.opts.NodeTimeout > 0 {
		args = append(args, "--cluster-node-timeout", strconv.FormatInt(c.opts.NodeTimeout.Milliseconds(), 10))
	}
	return &Node{Addr: "127.0.0.1:" + port, dir: dir, args: args}, nil
}

// freePorts finds n loopback ports free at the moment.
func freePorts(n int) ([]string, error) {
	ports := make([]string, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer ln.Close()
		_, ports[i], _ = strings.Cut(ln.Addr().String(), ":")
	}
	return ports, nil
}

// URL reaches the cluster through any node (the REDIS_URL form
// internal/redisconn reads).
func (c *Cluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
}

// Close kills every node.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// start runs the node's redis-server (again, after Kill: with its
// nodes.conf it rejoins the cluster) and waits for PING.
func (n *Node) start(ctx context.Context) error {
	n.cmd = exec.Command("redis-server", n.args...)
	// Killed with the process that started it, should that die first.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server on %s: %w", n.Addr, err)
	}
	n.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(n.cmd, n.done)
	return poll(ctx, 10*time.Second, func() error {
		if _, err := n.Do(ctx, "PING"); err != nil {
			return fmt.Errorf("redis-server on %s not answering: %w\n%s", n.Addr, err, n.logTail())
		}
		return nil
	})
}

// Restart starts a killed node again.
func (n *Node) Restart(ctx context.Context) error { return n.start(ctx) }

// Kill stops the node at once (SIGKILL), as a crash would.
func (n *Node) Kill() {
	if n.cmd == nil || n.done == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.done
}

// Running says whether the node's process is up.
func (n *Node) Running() bool { return !isDone(n.done) }

// Pid is the node's process id, 0 when it is not running.
func (n *Node) Pid() int {
	if !n.Running() {
		return 0
	}
	return n.cmd.Process.Pid
}

// Do runs one redis-cli command against the node and returns its output.
func (n *Node) Do(ctx context.Context, args ...string) (string, error) {
	host, port, _ := strings.Cut(n.Addr, ":")
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", host, "-p", port}, args...)...).Output()
	return string(out), err
}

func (n *Node) logTail() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "redis.log"))
	return string(b[max(0, len(b)-1500):])
}

// WaitOK waits until every running node says cluster_state:ok and every
// replica has synchronised with its master.
func (c *Cluster) WaitOK(ctx context.Context, within time.Duration) error {
	for _, n := range c.Nodes {
		if n.cmd == nil || isDone(n.done) {
			continue
		}
		err := poll(ctx, within, func() error {
			out, err := n.Do(ctx, "cluster", "info")
			if err != nil || !strings.Contains(out, "cluster_state:ok") {
				return fmt.Errorf("cluster node %s not ready: %v %s", n.Addr, err, out)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return c.WaitReplicated(ctx, within)
}

// Role is what a node is now, by CLUSTER NODES as it sees itself:
// "master" or "slave", with the master it replicates.
func (n *Node) Role(ctx context.Context) (role, masterAddr string, err error) {
	out, err := n.Do(ctx, "cluster", "nodes")
	if err != nil {
		return "", "", err
	}
	ids := map[string]string{}
	var mine []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		ids[f[0]] = addr
		if strings.Contains(f[2], "myself") {
			mine = f
		}
	}
	if mine == nil {
		return "", "", errors.New("cluster nodes: no line for myself")
	}
	if strings.Contains(mine[2], "slave") {
		return "slave", ids[mine[3]], nil
	}
	return "master", "", nil
}

// MasterWithReplica is a master node and one of its replicas, as the
// cluster is now.
func (c *Cluster) MasterWithReplica(ctx context.Context) (master, replica *Node, err error) {
	for _, n := range c.Nodes {
		if isDone(n.done) {
			continue
		}
		role, of, err := n.Role(ctx)
		if err != nil || role != "slave" {
			continue
		}
		for _, m := range c.Nodes {
			if m.Addr == of && !isDone(m.done) {
				return m, n, nil
			}
		}
	}
	return nil, nil, errors.New("no running master with a running replica")
}

// NodeFor is the node that serves key now (CLUSTER KEYSLOT, then the
// master of that slot by CLUSTER SLOTS as seen from the first running node).
func (c *Cluster) NodeFor(ctx context.Context, key string) (*Node, error) {
	var from *Node
	for _, n := range c.Nodes {
		if !isDone(n.done) {
			from = n
			break
		}
	}
	if from == nil {
		return nil, errors.New("no node running")
	}
	out, err := from.Do(ctx, "cluster", "keyslot", key)
	if err != nil {
		return nil, fmt.Errorf("cluster keyslot: %w", err)
	}
	slot, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return nil, fmt.Errorf("cluster keyslot answered %q", out)
	}
	for _, n := range c.Nodes {
		if isDone(n.done) {
			continue
		}
		role, _, err := n.Role(ctx)
		if err != nil || role != "master" {
			continue
		}
		if owns, err := n.ownsSlot(ctx, slot); err == nil && owns {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no running master serves slot %d", slot)
}

// ownsSlot reads the node's own slot ranges from CLUSTER NODES.
func (n *Node) ownsSlot(ctx context.Context, slot int) (bool, error) {
	out, err := n.Do(ctx, "cluster", "nodes")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.Contains(f[2], "myself") {
			continue
		}
		for _, r := range f[8:] {
			lo, hi, ranged := strings.Cut(r, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			var err2 error
			if ranged {
				b, err2 = strconv.Atoi(hi)
			}
			if err1 == nil && err2 == nil && a <= slot && slot <= b {
				return true, nil
			}
		}
	}
	return false, nil
}

// Replicas are the running nodes that replicate master now.
func (c *Cluster) Replicas(ctx context.Context, master *Node) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if isDone(n.done) || n == master {
			continue
		}
		if role, of, err := n.Role(ctx); err == nil && role == "slave" && of == master.Addr {
			out = append(out, n)
		}
	}
	return out
}

func isDone(done chan struct{}) bool {
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func poll(ctx context.Context, within time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
