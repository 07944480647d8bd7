package exchange

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// ReportRow is a count of one kind of use in one period (月报 / 季报 / 年报).
type ReportRow struct {
	Period    string `json:"period"` // 2026-03-01, 2026-03, 2026-Q1 or 2026
	Action    string `json:"action"` // lookup, document, match, verification, share_view, issuance, revision, lifecycle
	Actor     string `json:"actor"`  // who: consumer:…, issuer:…, connector:…, share:…
	Type      string `json:"type"`
	Authority string `json:"authority"`
	Purpose   string `json:"purpose"`
	Count     int64  `json:"count"`
}

// Periods a report can group by.
var Periods = []string{"day", "month", "quarter", "year"}

func periodOf(day, period string) string {
	switch period {
	case "month":
		return day[:7]
	case "quarter":
		m := (int(day[5]-'0')*10 + int(day[6]-'0') - 1) / 3
		return fmt.Sprintf("%s-Q%d", day[:4], m+1)
	case "year":
		return day[:4]
	}
	return day
}

// Report sums the daily usage counters of from..to (YYYY-MM-DD, inclusive)
// into periods, in a stable order.
func (l *Ledger) Report(ctx context.Context, period, from, to string) ([]ReportRow, error) {
	if err := checkRange(period, from, to); err != nil {
		return nil, err
	}
	// A report may be a moment behind: a read replica may answer it.
	days, err := l.Store.UsageReport(certificates.WithStaleReads(ctx), from, to)
	if err != nil {
		return nil, err
	}
	sums := map[ReportRow]int64{}
	for _, d := range days {
		k := ReportRow{Period: periodOf(d.Day, period), Action: d.Action, Actor: d.Actor, Type: d.Type, Authority: d.Authority, Purpose: d.Purpose}
		sums[k] += d.Count
	}
	out := make([]ReportRow, 0, len(sums))
	for k, n := range sums {
		k.Count = n
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		return fmt.Sprint(a.Action, a.Actor, a.Type, a.Authority, a.Purpose) < fmt.Sprint(b.Action, b.Actor, b.Type, b.Authority, b.Purpose)
	})
	return out, nil
}

// checkRange validates a report's period and days, naming the field.
func checkRange(period, from, to string) error {
	var list errs.List
	if !slices.Contains(Periods, period) {
		list.Add("period", "must be day, month, quarter or year, got %q", period)
	}
	f, err1 := time.Parse("2006-01-02", from)
	t, err2 := time.Parse("2006-01-02", to)
	if err1 != nil {
		list.Add("from", "must be a date YYYY-MM-DD")
	}
	if err2 != nil {
		list.Add("to", "must be a date YYYY-MM-DD")
	}
	if err1 == nil && err2 == nil {
		switch {
		case t.Before(f):
			list.Add("to", "is before from")
		case t.Sub(f) > 20*366*24*time.Hour:
			list.Add("to", "a report spans at most 20 years")
		}
	}
	return list.Err()
}

// ReportRange fills in a report's defaults: by month, from the first of
// January of today's year to today (YYYY-MM-DD in the hub's zone).
func ReportRange(period, from, to, today string) (string, string, string) {
	if period == "" {
		period = "month"
	}
	if from == "" {
		from = today[:4] + "-01-01"
	}
	if to == "" {
		to = today
	}
	return period, from, to
}

// ReportCSVName is the file name a report's CSV download carries.
func ReportCSVName(period, from, to string) string {
	return fmt.Sprintf("certhub-usage-%s-%s-%s.csv", period, from, to)
}

// WriteReportCSV writes rows as CSV that spreadsheet programs open with
// the Chinese intact (UTF-8 with a byte-order mark).
func WriteReportCSV(w io.Writer, rows []ReportRow) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"period", "action", "actor", "type", "authority", "purpose", "count"})
	for _, row := range rows {
		_ = cw.Write([]string{row.Period, row.Action, row.Actor, row.Type, row.Authority, row.Purpose, strconv.FormatInt(row.Count, 10)})
	}
	cw.Flush()
	return cw.Error()
}
