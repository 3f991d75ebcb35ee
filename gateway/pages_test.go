package gateway

import (
	"bytes"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/catalog"
)

// TestEventPagesChangeWithWhatTheyShow: the encoded page is reused while
// nothing it shows changed, and encoded again when the waiting room, the
// catalog entry or the sale's state did.
func TestEventPagesChangeWithWhatTheyShow(t *testing.T) {
	now := time.Now()
	d := catalog.EventDetail{EventInfo: catalog.EventInfo{ID: 7, Name: "Night", SaleOpensAt: now.Add(time.Minute), StartsAt: now.Add(time.Hour), SeatsLeft: 2},
		Sections: []catalog.SectionLeft{{Name: "A", Capacity: 2, SeatsLeft: 2}}}
	o := admission.Overview{Draw: admission.DrawDone, QueueLength: 5}
	var p eventPages
	first := p.body(d, o, now)
	if again := p.body(d, o, now); &again[0] != &first[0] {
		t.Error("an unchanged page was encoded again")
	}
	soldOut := o
	soldOut.SoldOut = true
	reread := d
	reread.Sections = []catalog.SectionLeft{{Name: "A", Capacity: 2, SeatsLeft: 0}}
	for _, c := range []struct {
		name string
		d    catalog.EventDetail
		o    admission.Overview
		at   time.Time
		want string
	}{
		{"queue grew", d, admission.Overview{Draw: admission.DrawDone, QueueLength: 6}, now, `"queue_length":6`},
		{"sold out", d, soldOut, now, `"state":"sold_out"`},
		{"catalog re-read", reread, o, now, `"seats_left":0`},
		{"sale opened", d, o, now.Add(2 * time.Minute), `"sale_state":"open"`},
	} {
		if got := p.body(c.d, c.o, c.at); !bytes.Contains(got, []byte(c.want)) {
			t.Errorf("%s: page %s lacks %s", c.name, got, c.want)
		}
	}
}
