package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// QuickRecovery are client options for the services that must notice a
// broker coming back within about a second: franz-go's defaults back off up
// to 5 s between retries and refresh metadata at most every 5 s, which
// stretches a short broker restart into many seconds of stalled events.
func QuickRecovery() []kgo.Opt {
	return []kgo.Opt{
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(time.Second, 50*time.Millisecond<<min(tries, 5))
		}),
	}
}
