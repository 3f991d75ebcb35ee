package config

// GatewayConfig holds the settings of the gateway: accounts, the waiting
// room and admission.
type GatewayConfig struct{}

func defaultGateway() GatewayConfig { return GatewayConfig{} }

func (g *GatewayConfig) bind(b *binder) {}

func (g *GatewayConfig) validate() error { return nil }
