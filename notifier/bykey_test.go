package notifier

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// One order's events stay in offset order within their group, so a
// cancellation is never mailed before its confirmation.
func TestByKeyKeepsEachOrdersEventsInOrder(t *testing.T) {
	t.Parallel()
	var records []*kgo.Record
	for _, k := range []string{"a", "b", "a", "c", "b", "a"} {
		records = append(records, &kgo.Record{Key: []byte(k)})
	}
	got := byKey(records)
	want := [][]int{{0, 2, 5}, {1, 4}, {3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("byKey = %v, want %v", got, want)
	}
}
