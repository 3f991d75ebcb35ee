package httpapi_test

import (
	"errors"
	"strings"
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

// FuzzNoneMatch feeds arbitrary If-None-Match headers: never a panic, and
// a header that ends with the tag itself, after a list it can be read as,
// always matches.
func FuzzNoneMatch(f *testing.F) {
	for _, seed := range []string{`"2-abc"`, `W/"2-abc"`, `*`, `"x", W/"y"`, `"a,b"`, `W/`, `"`, ``} {
		f.Add([]byte(seed))
	}
	const etag = `"2-abc"`
	f.Fuzz(func(t *testing.T, header []byte) {
		got := httpapi.NoneMatch(header, etag)
		if httpapi.NoneMatch(append(header, `, `+etag...), etag) != (got || listOfTags(header)) {
			t.Fatalf("header %q then the tag: match %v, want %v", header, !got, got || listOfTags(header))
		}
	})
}

// listOfTags says whether h is a comma-separated list of quoted tags,
// perhaps W/-marked and empty.
func listOfTags(h []byte) bool {
	s := string(h)
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return true
		}
		s = strings.TrimPrefix(s, "W/")
		if !strings.HasPrefix(s, `"`) {
			return false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return false
		}
		s = s[end+2:]
	}
}
