package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// materialsData is the materials-avoided page.
type materialsData struct {
	Periods          []string
	Period, From, To string
	Error            string
	Rows             []exchange.MaterialsRow
	Bars             []shareBar // one per item and department, over the whole range
	Height           float64
	CSV              string
	Cases            int
	Required         int
	Avoided          int
	Share            string
	// Avoidable is how many more materials agreements would have spared
	// (可通过共享协议免交): not part of the share.
	Avoidable int
}

// shareBar is a horizontal bar of the avoided share, drawn as SVG on the
// server.
type shareBar struct {
	Y, W              float64
	Label, Share      string
	Required, Avoided int
}

const barWidth = 420.0

// materialsPage shows the 材料减少 figures per item and department: a chart
// of the avoided share and the table by period.
func (s *Server) materialsPage(w http.ResponseWriter, r *http.Request) {
	if s.Items == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "no service item catalog"))
		return
	}
	q := r.URL.Query()
	d := materialsData{Periods: []string{"month", "quarter", "year"}}
	d.Period, d.From, d.To = exchange.ReportRange(q.Get("period"), q.Get("from"), q.Get("to"), s.Certs.Today().String())
	rows, err := s.Items.MaterialsReport(r.Context(), d.Period, d.From, d.To)
	if err != nil {
		if errs.CodeOf(err) != errs.Invalid {
			s.fail(w, r, err)
			return
		}
		d.Error = err.(*errs.Error).Message
		s.render(w, r, http.StatusBadRequest, "materials", "materials_report", d)
		return
	}
	d.Rows = rows
	d.CSV = "/admin/materials.csv?" + url.Values{"period": {d.Period}, "from": {d.From}, "to": {d.To}}.Encode()
	type key struct{ item, name, dept string }
	sums := map[key]*shareBar{}
	for _, row := range rows {
		k := key{row.Item, row.ItemName, row.Department}
		b := sums[k]
		if b == nil {
			b = &shareBar{Label: row.ItemName + " · " + row.Department}
			if row.ItemName == "" {
				b.Label = row.Item + " · " + row.Department
			}
			sums[k] = b
		}
		b.Required += row.Required
		b.Avoided += row.Avoided
		d.Cases += row.Cases
		d.Required += row.Required
		d.Avoided += row.Avoided
		d.Avoidable += row.AvoidableWithAgreement
	}
	for _, b := range sums {
		d.Bars = append(d.Bars, *b)
	}
	sort.Slice(d.Bars, func(i, j int) bool { return share(d.Bars[i]) > share(d.Bars[j]) })
	for i := range d.Bars {
		b := &d.Bars[i]
		b.Y = float64(i) * 34
		b.W = barWidth * share(*b)
		b.Share = fmt.Sprintf("%.1f%%", 100*share(*b))
	}
	d.Height = float64(len(d.Bars))*34 + 4
	if d.Required > 0 {
		d.Share = fmt.Sprintf("%.1f%%", 100*float64(d.Avoided)/float64(d.Required))
	}
	s.render(w, r, http.StatusOK, "materials", "materials_report", d)
}

func share(b shareBar) float64 {
	if b.Required == 0 {
		return 0
	}
	return float64(b.Avoided) / float64(b.Required)
}

// materialsCSV downloads the rows behind the page.
func (s *Server) materialsCSV(w http.ResponseWriter, r *http.Request) {
	if s.Items == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "no service item catalog"))
		return
	}
	csvDownload(s, w, r, s.Items.MaterialsReport, exchange.MaterialsCSVName, exchange.WriteMaterialsCSV)
}

// itemsPage lists the service item catalog: each item's materials, which
// e-certificates satisfy them, and the flags raised on import.
func (s *Server) itemsPage(w http.ResponseWriter, r *http.Request) {
	if s.Items == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "no service item catalog"))
		return
	}
	items, err := s.Items.Store.ListItems(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := map[string]string{}
	for _, it := range items {
		for _, m := range it.Materials {
			for _, code := range m.Types {
				if t, err := s.Certs.Type(r.Context(), code); err == nil {
					names[code] = t.Name
				}
			}
		}
	}
	s.render(w, r, http.StatusOK, "items", "service_items", itemsData{Items: items, TypeNames: names, Imported: r.URL.Query().Get("imported")})
}

// itemsData is the catalog page.
type itemsData struct {
	Items     []*exchange.ServiceItem
	TypeNames map[string]string
	Imported  string            // how many items the last upload brought
	Problems  []errs.FieldError // why the last upload was refused
}

// importItems takes an uploaded catalog file (YAML, JSON, CSV or .xlsx):
// all of it, or nothing with every problem listed.
func (s *Server) importItems(w http.ResponseWriter, r *http.Request) {
	if s.Items == nil || r.MultipartForm == nil {
		s.errorPage(w, r, http.StatusBadRequest, "bad_request", "")
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, hdr, err := r.FormFile("catalog")
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "bad_request", T(langOf(r), "choose_catalog"))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil || len(data) > maxUpload {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
		return
	}
	items, err := s.Items.ImportFile(r.Context(), adminOf(r), hdr.Filename, data)
	var e *errs.Error
	if errors.As(err, &e) && e.Code == errs.Invalid {
		problems := e.Fields
		if len(problems) == 0 {
			problems = []errs.FieldError{{Field: e.Field, Reason: e.Message}}
		}
		list, _ := s.Items.Store.ListItems(r.Context())
		s.render(w, r, http.StatusBadRequest, "items", "service_items", itemsData{Items: list, TypeNames: map[string]string{}, Problems: problems})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/items?imported=%d", len(items)), http.StatusSeeOther)
}
