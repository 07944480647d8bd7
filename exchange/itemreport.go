package exchange

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/certhub/certhub/certificates"
)

// MaterialsRow is one line of the materials-avoided report (材料减少): for
// an item and its department in a period, the cases resolved, the
// materials they required, how many e-certificates made unnecessary, and
// how many more an agreement would have spared (materials answered
// not_permitted, 可通过共享协议免交): they are not counted as avoided, so the
// share stays honest and shows where agreements are missing.
type MaterialsRow struct {
	Period                 string  `json:"period"`
	Item                   string  `json:"item"`
	ItemName               string  `json:"item_name"`
	Department             string  `json:"department"`
	Cases                  int     `json:"cases"`
	Required               int     `json:"required"`
	Avoided                int     `json:"avoided"`
	Share                  float64 `json:"avoided_share"` // avoided / required, 0..1
	AvoidableWithAgreement int     `json:"avoidable_with_agreement"`
}

// MaterialsReport sums the resolved cases of from..to into periods. Each
// case counts once however often it was resolved: a case is an office's
// (consumer's) case id for an item, so two offices numbering alike are two
// cases.
func (r *Resolver) MaterialsReport(ctx context.Context, period, from, to string) ([]MaterialsRow, error) {
	if err := checkRange(period, from, to); err != nil {
		return nil, err
	}
	// A report may be a moment behind: a read replica may answer it.
	rs, err := r.Store.Resolutions(certificates.WithStaleReads(ctx), from, to)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	if items, err := r.Store.ListItems(ctx); err == nil {
		for _, it := range items {
			names[it.Code] = it.Name
		}
	}
	sums := map[[3]string]*MaterialsRow{}
	for _, x := range rs {
		k := [3]string{periodOf(x.Day, period), x.Item, x.Department}
		row := sums[k]
		if row == nil {
			row = &MaterialsRow{Period: k[0], Item: x.Item, ItemName: names[x.Item], Department: x.Department}
			sums[k] = row
		}
		row.Cases++
		row.Required += x.Required
		row.Avoided += x.Avoided
		row.AvoidableWithAgreement += x.Avoidable
	}
	out := make([]MaterialsRow, 0, len(sums))
	for _, row := range sums {
		if row.Required > 0 {
			row.Share = float64(row.Avoided) / float64(row.Required)
		}
		out = append(out, *row)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Period != out[j].Period {
			return out[i].Period < out[j].Period
		}
		if out[i].Item != out[j].Item {
			return out[i].Item < out[j].Item
		}
		return out[i].Department < out[j].Department
	})
	return out, nil
}

// MaterialsCSVName is the file name the report's CSV download carries.
func MaterialsCSVName(period, from, to string) string {
	return fmt.Sprintf("certhub-materials-%s-%s-%s.csv", period, from, to)
}

// WriteMaterialsCSV writes the report for spreadsheets (UTF-8 with a BOM).
// Columns are only ever added at the end, so existing sheets keep working.
func WriteMaterialsCSV(w io.Writer, rows []MaterialsRow) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"period", "item", "item_name", "department", "cases", "required", "avoided", "avoided_share", "avoidable_with_agreement"})
	for _, r := range rows {
		_ = cw.Write([]string{r.Period, r.Item, r.ItemName, r.Department, strconv.Itoa(r.Cases), strconv.Itoa(r.Required),
			strconv.Itoa(r.Avoided), fmt.Sprintf("%.1f%%", 100*r.Share), strconv.Itoa(r.AvoidableWithAgreement)})
	}
	cw.Flush()
	return cw.Error()
}
