package notifier

import "testing"

// BenchmarkRender measures one confirmation of two tickets: two signatures,
// two QR codes and the MIME message.
func BenchmarkRender(b *testing.B) {
	signer, _ := testRing(b)
	r, err := newRenderer(signer, "tickets@ticketvelo.test")
	if err != nil {
		b.Fatal(err)
	}
	ev := sampleEvent(sampleOrder, "ana@example.com")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.render(ev, renderNow); err != nil {
			b.Fatal(err)
		}
	}
}
