package httpapi_test

import (
	"errors"
	"testing"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
)

// FuzzDecodeJSON feeds arbitrary bodies to the strict decoder: it must never
// panic, and every failure must be a 4xx the client can act on.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{"seat_ids":[1,2],"section":"A","quantity":2,"together":true}`, `{`, `[]`, `null`, `{"x":1}`, `{"quantity":1e400}`, "\xff"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst struct {
			SeatIDs  []int  `json:"seat_ids"`
			Section  string `json:"section"`
			Quantity int    `json:"quantity"`
			Together bool   `json:"together"`
		}
		err := httpapi.DecodeJSONBytes(body, &dst)
		if err == nil {
			return
		}
		var e *apperr.Error
		if !errors.As(err, &e) {
			t.Fatalf("body %q: error %v is not an *apperr.Error", body, err)
		}
		if status := httpapi.StatusOf(err); status < 400 || status > 499 {
			t.Fatalf("body %q: status %d, want 4xx", body, status)
		}
	})
}
