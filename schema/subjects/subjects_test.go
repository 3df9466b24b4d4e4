package subjects

import "testing"

func TestOverlapAndCovers(t *testing.T) {
	tests := []struct {
		a, b           string
		overlap        bool
		aCovers, bCovr bool
	}{
		{"reten.tasks.>", "reten.tasks.*.*", true, true, false},
		{"reten.tasks.*", "reten.tasks.*.*", false, false, false},
		{"reten.tasks.*.*", "reten.tasks.created.WHATSAPP", true, true, false},
		{"reten.tasks.created.*", "reten.tasks.*.*", true, false, true},
		{"reten.>", "reten", false, false, false},
		{">", "a.b.c", true, true, false},
		{"a.b", "a.b", true, true, true},
		{"a.*.c", "a.b.*", true, false, false},
		{"a.b", "a.c", false, false, false},
		{"reten.dlq.results", "reten.results.>", false, false, false},
	}
	for _, tt := range tests {
		if got := Overlap(tt.a, tt.b); got != tt.overlap {
			t.Errorf("Overlap(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.overlap)
		}
		if got := Overlap(tt.b, tt.a); got != tt.overlap {
			t.Errorf("Overlap(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.overlap)
		}
		if got := Covers(tt.a, tt.b); got != tt.aCovers {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.aCovers)
		}
		if got := Covers(tt.b, tt.a); got != tt.bCovr {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.bCovr)
		}
	}
}
