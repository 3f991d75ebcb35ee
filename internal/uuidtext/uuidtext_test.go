package uuidtext

import "testing"

func TestValid(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"0b7e7a8c-3f0e-4a5e-9d6b-2c1f0e9a8b7c", true},
		{"0B7E7A8C-3F0E-4A5E-9D6B-2C1F0E9A8B7C", true},
		{"", false},
		{"0b7e7a8c3f0e4a5e9d6b2c1f0e9a8b7c", false},       // no dashes
		{"0b7e7a8c-3f0e-4a5e-9d6b-2c1f0e9a8b7", false},    // short
		{"0b7e7a8c-3f0e-4a5e-9d6b-2c1f0e9a8b7g", false},   // not hex
		{"0b7e7a8c-3f0e-4a5e-9d6b_2c1f0e9a8b7c", false},   // wrong separator
		{"'; DROP TABLE holds; --aaaaaaaaaaaaaaa", false}, // 36 bytes of anything
	}
	for _, c := range cases {
		if got := Valid(c.in); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestNewIsValidVersion4(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if !Valid(id) {
			t.Fatalf("New() = %q, not a valid UUID", id)
		}
		if id[14] != '4' || !(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') {
			t.Fatalf("New() = %q, want version 4, variant 10", id)
		}
		if seen[id] {
			t.Fatalf("New() repeated %q", id)
		}
		seen[id] = true
	}
}
