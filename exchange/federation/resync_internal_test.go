package federation

import (
	"strings"
	"testing"
)

// TestStartOver: a parent that answers 409 behind this hub's cursor is
// caught up by events when this hub still holds every event after the
// parent's point and the parent has the end of the backfill; otherwise the
// backfill starts over.
func TestStartOver(t *testing.T) {
	done := &Backfill{Round: 1, EventsMark: 30, Done: true}
	tests := []struct {
		name                    string
		cursor, applied, pruned int64
		b                       *Backfill
		backfilling             bool
		want                    string // a part of the reason; "" resumes
	}{
		{"parent ahead: this hub's record was behind", 40, 45, 44, done, false, ""},
		{"behind, every event after it still held", 60, 40, 35, done, false, ""},
		{"behind, held from the very next event", 60, 40, 40, done, false, ""},
		{"behind the pruned point", 60, 40, 41, done, false, "pruned"},
		{"far behind the pruned point", 60, 0, 50, &Backfill{Round: 1, Done: true}, false, "pruned"},
		{"behind the backfill's mark, nothing pruned", 60, 20, 0, done, false, "before the mark"},
		{"a page refused: the parent lost pages", 30, 10, 0, &Backfill{Round: 1, EventsMark: 30}, true, "lost pages"},
		{"a page refused, the parent ahead", 10, 12, 0, &Backfill{Round: 1, EventsMark: 30}, true, ""},
		{"no backfill recorded, behind the pruned point", 60, 40, 50, nil, false, "pruned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := startOver(tt.cursor, tt.applied, tt.pruned, tt.b, tt.backfilling)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("startOver(cursor %d, applied %d, pruned %d) = %q, want %q", tt.cursor, tt.applied, tt.pruned, got, tt.want)
			}
		})
	}
}
