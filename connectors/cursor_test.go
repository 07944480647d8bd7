package connectors_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/certhub/certhub/connectors"
)

func TestChangeTime(t *testing.T) {
	t.Parallel()
	sh := time.FixedZone("CST", 8*3600)
	want := time.Date(2026, 3, 1, 9, 30, 15, 0, sh)
	tests := []struct {
		name string
		in   any
		want time.Time
	}{
		{"RFC 3339 with offset", "2026-03-01T09:30:15+08:00", want},
		{"RFC 3339 in UTC", "2026-03-01T01:30:15Z", want},
		{"RFC 3339 with fraction", "2026-03-01T01:30:15.250Z", want.Add(250 * time.Millisecond)},
		{"space and offset", "2026-03-01 09:30:15+08:00", want},
		{"zoneless: the hub's zone", "2026-03-01 09:30:15", want},
		{"zoneless with T", "2026-03-01T09:30:15", want},
		{"zoneless with fraction", "2026-03-01 09:30:15.5", want.Add(500 * time.Millisecond)},
		{"slashes", "2026/03/01 09:30:15", want},
		{"a date", "2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, sh)},
		{"compact", "20260301093015", want},
		{"compact date", json.Number("20260301"), time.Date(2026, 3, 1, 0, 0, 0, 0, sh)},
		{"epoch seconds, number", json.Number("1772328615"), want},
		{"epoch seconds, string", "1772328615", want},
		{"epoch seconds, float", float64(1772328615), want},
		{"epoch seconds with fraction", "1772328615.25", want.Add(250 * time.Millisecond)},
		{"epoch milliseconds, number", json.Number("1772328615000"), want},
		{"epoch milliseconds, int64", int64(1772328615123), want.Add(123 * time.Millisecond)},
		{"epoch milliseconds, string", " 1772328615000 ", want},
		{"a driver's time", want, want},
	}
	for _, tt := range tests {
		got, err := connectors.ChangeTime(tt.in, sh)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("%s: ChangeTime(%v) = %v, %v; want %v", tt.name, tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []any{nil, "", "yesterday", "2026-13-01", "17723286150", json.Number("-1772328615"), "1772328615000000", true,
		map[string]any{"t": 1}, "2026-03-01T09:30:15+08:00x"} {
		if got, err := connectors.ChangeTime(bad, sh); err == nil {
			t.Errorf("ChangeTime(%#v) = %v, want an error", bad, got)
		}
	}
}
