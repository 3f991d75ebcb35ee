package admission

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/rueidis"
)

// AdmissionOrder reads an event's admission log: the fans the steps
// admitted, in the order they admitted them (a fan admitted twice appears
// twice). An admission's expiry is whole seconds, so it cannot tell the
// two hundred fans of one second apart; the log can, which is what the
// drop simulator's fairness figure needs. It reads the client's own
// gateway-independent record, so the order is the server's, not the order
// in which the fans' polls happened to see their admissions.
func AdmissionOrder(ctx context.Context, client rueidis.Client, prefix string, eventID int64) ([]int64, error) {
	key := newEventKeys(prefix, eventID).log
	var order []int64
	start := "-"
	for {
		entries, err := client.Do(ctx, client.B().Xrange().Key(key).Start(start).End("+").Count(10000).Build()).AsXRange()
		if err != nil {
			return nil, fmt.Errorf("reading the admission log of event %d: %w", eventID, err)
		}
		for _, e := range entries {
			id, err := strconv.ParseInt(e.FieldValues["u"], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("admission log of event %d: entry %s: %w", eventID, e.ID, err)
			}
			order = append(order, id)
		}
		if len(entries) < 10000 {
			return order, nil
		}
		start = "(" + entries[len(entries)-1].ID
	}
}
