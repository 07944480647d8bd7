package web

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

func (s *Server) adminLoginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "admin_login", "admin_login", nil)
}

// adminLogin signs an administrator in with the bootstrap admin token or
// an API token of role admin.
func (s *Server) adminLogin(w http.ResponseWriter, r *http.Request) {
	s.tokenLogin(w, r, exchange.RoleAdmin, "/admin/reports", "admin_login", map[string]bool{"Failed": true})
}

func (s *Server) isBootstrapAdmin(hash string) bool {
	return s.AdminTokenHash != "" && subtle.ConstantTimeCompare([]byte(hash), []byte(s.AdminTokenHash)) == 1
}

// tokenStillValid reports whether the token a clerk or administrator
// signed in with still grants their role: revoking it ends the session.
func (s *Server) tokenStillValid(r *http.Request, sess *session) bool {
	if sess.Kind == "admin" && s.isBootstrapAdmin(sess.TokenHash) {
		return true
	}
	t, err := s.Tokens.TokenByHash(r.Context(), sess.TokenHash)
	return err == nil && t.RevokedAt == nil && string(t.Role) == sess.Kind
}

// reportData is the usage report page.
type reportData struct {
	Periods          []string
	Period, From, To string
	Error            string
	Rows             []exchange.ReportRow
	Chart            chart
	Table            []periodRow
	Actions          []string
	Actors           []actorRow
	CSV              string
	Total            int64
}

type periodRow struct {
	Period string
	Counts []int64
	Total  int64
}

type actorRow struct {
	Actor, Action string
	Count         int64
}

// chart is a stacked bar chart drawn as SVG on the server: no script, no
// library, nothing fetched.
type chart struct {
	Width, Height, Base float64
	Bars                []bar
	Ticks               []tick
	Legend              []legend
}

type bar struct {
	X, W, LabelX float64
	Label        string
	Segments     []segment
}

type segment struct {
	Y, H          float64
	Action, Class string
	Count         int64
}

type tick struct {
	Y     float64
	Label string
}

type legend struct {
	Action, Class string
}

// reportsPage shows the usage statistics by period as a chart and tables.
func (s *Server) reportsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := reportData{Actions: exchange.UsageCategories, Periods: exchange.Periods}
	d.Period, d.From, d.To = exchange.ReportRange(q.Get("period"), q.Get("from"), q.Get("to"), s.Certs.Today().String())
	rows, err := s.report(r.Context(), d.Period, d.From, d.To)
	if err != nil {
		if errs.CodeOf(err) != errs.Invalid {
			s.fail(w, r, err)
			return
		}
		d.Error = err.(*errs.Error).Message
		s.render(w, r, http.StatusBadRequest, "reports", "reports", d)
		return
	}
	d.Rows = rows
	d.CSV = "/admin/reports.csv?" + url.Values{"period": {d.Period}, "from": {d.From}, "to": {d.To}}.Encode()
	d.Table, d.Actors, d.Total = tabulate(rows)
	d.Chart = drawChart(d.Table)
	s.render(w, r, http.StatusOK, "reports", "reports", d)
}

// reportsCSV downloads the rows behind the page.
func (s *Server) reportsCSV(w http.ResponseWriter, r *http.Request) {
	csvDownload(s, w, r, s.report, exchange.ReportCSVName, exchange.WriteReportCSV)
}

// csvDownload sends a report over the page's range as a CSV file.
func csvDownload[Row any](s *Server, w http.ResponseWriter, r *http.Request,
	report func(ctx context.Context, period, from, to string) ([]Row, error),
	name func(period, from, to string) string, write func(io.Writer, []Row) error) {
	q := r.URL.Query()
	period, from, to := exchange.ReportRange(q.Get("period"), q.Get("from"), q.Get("to"), s.Certs.Today().String())
	rows, err := report(r.Context(), period, from, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name(period, from, to)+`"`)
	if err := write(w, rows); err != nil {
		s.Log.ErrorContext(r.Context(), "write report CSV", "err", err)
	}
}

func (s *Server) report(ctx context.Context, period, from, to string) ([]exchange.ReportRow, error) {
	if s.Shares.Ledger == nil {
		return nil, errs.E(errs.Unavailable, "the audit ledger is not configured")
	}
	return s.Shares.Ledger.Report(ctx, period, from, to)
}

// tabulate sums rows per period and action, and per actor and action
// (largest first, the first 20).
func tabulate(rows []exchange.ReportRow) ([]periodRow, []actorRow, int64) {
	col := map[string]int{}
	for i, a := range exchange.UsageCategories {
		col[a] = i
	}
	var table []periodRow
	byActor := map[[2]string]int64{}
	var total int64
	for _, row := range rows {
		if len(table) == 0 || table[len(table)-1].Period != row.Period {
			table = append(table, periodRow{Period: row.Period, Counts: make([]int64, len(exchange.UsageCategories))})
		}
		p := &table[len(table)-1]
		if i, ok := col[row.Action]; ok {
			p.Counts[i] += row.Count
		}
		p.Total += row.Count
		total += row.Count
		byActor[[2]string{row.Actor, row.Action}] += row.Count
	}
	actors := make([]actorRow, 0, len(byActor))
	for k, n := range byActor {
		actors = append(actors, actorRow{Actor: k[0], Action: k[1], Count: n})
	}
	sort.Slice(actors, func(i, j int) bool {
		if actors[i].Count != actors[j].Count {
			return actors[i].Count > actors[j].Count
		}
		return actors[i].Actor+actors[i].Action < actors[j].Actor+actors[j].Action
	})
	if len(actors) > 20 {
		actors = actors[:20]
	}
	return table, actors, total
}

// drawChart lays out one stacked bar per period.
func drawChart(table []periodRow) chart {
	c := chart{Width: 760, Height: 276, Base: 250}
	const left, top = 56.0, 16.0
	var max int64
	for _, p := range table {
		if p.Total > max {
			max = p.Total
		}
	}
	scale := niceCeil(max)
	for i := 0; i <= 4; i++ {
		v := scale * int64(i) / 4
		c.Ticks = append(c.Ticks, tick{Y: c.Base - float64(v)/float64(scale)*(c.Base-top), Label: fmt.Sprint(v)})
	}
	if n := len(table); n > 0 {
		slot := (c.Width - left - 8) / float64(n)
		w := min(slot*0.7, 120)
		for i, p := range table {
			b := bar{X: left + float64(i)*slot + (slot-w)/2, W: w, LabelX: left + float64(i)*slot + slot/2, Label: p.Period}
			y := c.Base
			for j, n := range p.Counts {
				if n == 0 {
					continue
				}
				h := float64(n) / float64(scale) * (c.Base - top)
				y -= h
				b.Segments = append(b.Segments, segment{Y: y, H: h, Action: exchange.UsageCategories[j], Class: fmt.Sprintf("s%d", j), Count: n})
			}
			c.Bars = append(c.Bars, b)
		}
	}
	for j, a := range exchange.UsageCategories {
		c.Legend = append(c.Legend, legend{Action: a, Class: fmt.Sprintf("s%d", j)})
	}
	return c
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten (at least 4, so
// the four ticks are whole numbers).
func niceCeil(n int64) int64 {
	if n <= 4 {
		return 4
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if v := m * p * 4; v >= n {
				return v
			}
		}
	}
}
