package config

// BookerConfig holds the settings of the booker: holds, orders, the sweeper
// and the outbox relay.
type BookerConfig struct{}

func defaultBooker() BookerConfig { return BookerConfig{} }

func (k *BookerConfig) bind(b *binder) {}

func (k *BookerConfig) validate() error { return nil }
