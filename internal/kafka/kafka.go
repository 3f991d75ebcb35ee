// Package kafka connects TicketVelo to Kafka with franz-go and runs the
// embedded Kafka-protocol broker (franz-go's kfake) when no broker is
// configured, so a laptop and the tests speak the real protocol over TCP.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics every TicketVelo install has.
const (
	// BookingEvents carries booking.confirmed and booking.canceled, keyed by
	// order id so one order's events keep their order.
	BookingEvents = "booking.events"
	// BookingDeadLetters holds events the notifier gave up on, with the reason.
	BookingDeadLetters = "booking.events.dlq"
)

// Topic is a topic to create at start-up.
type Topic struct {
	Name       string
	Partitions int32
}

// DefaultTopics are the topics created at start-up.
var DefaultTopics = []Topic{
	{Name: BookingEvents, Partitions: 6},
	{Name: BookingDeadLetters, Partitions: 1},
}

// Embedded is the in-process Kafka-protocol broker.
type Embedded struct {
	cluster *kfake.Cluster
}

// StartEmbedded runs a one-node broker listening on addr (host:port, port 0
// picks a free one). With dataDir set it keeps its log, offsets and topics
// there, so a restart loses nothing.
func StartEmbedded(addr, dataDir string) (*Embedded, error) {
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("embedded broker port %q: %w", portText, err)
	}
	opts := []kfake.Opt{kfake.Ports(port), kfake.ClusterID("ticketvelo")}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting the embedded broker on %s: %w", addr, err)
	}
	return &Embedded{cluster: cluster}, nil
}

// Addrs are the broker's listen addresses, for KAFKA_BROKERS.
func (e *Embedded) Addrs() []string { return e.cluster.ListenAddrs() }

// Close stops the broker, flushing its log to disk.
func (e *Embedded) Close() { e.cluster.Close() }

// NewClient returns a franz-go client for brokers with TicketVelo's defaults
// plus opts.
func NewClient(brokers []string, opts ...kgo.Opt) (*kgo.Client, error) {
	all := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)
	client, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka client for %v: %w", brokers, err)
	}
	return client, nil
}

// EnsureTopics creates the topics that do not exist yet; existing ones are
// left as they are.
func EnsureTopics(ctx context.Context, client *kgo.Client, topics []Topic) error {
	adm := kadm.NewClient(client)
	for _, t := range topics {
		resp, err := adm.CreateTopic(ctx, t.Partitions, -1, nil, t.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", t.Name, err)
		}
	}
	return nil
}

// Ping checks that a broker answers.
func Ping(ctx context.Context, client *kgo.Client) error {
	return client.Ping(ctx)
}
