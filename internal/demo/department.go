package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/certhub/certhub/certificates"
)

// Department is a stand-in for a market-supervision bureau's licence
// system (审批系统), served by `certhub demo` on loopback so that a newcomer
// sees a connector pull records in, changes become new versions, and bad
// rows wait in quarantine. Every couple of minutes one licence changes.
type Department struct {
	mu      sync.Mutex
	records []map[string]any
	URL     string
	srv     *http.Server
}

// StartDepartment serves the stand-in on a free loopback port.
func StartDepartment() (*Department, error) {
	d := &Department{}
	r := rand.New(rand.NewPCG(77, 77))
	base := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i := 1; i <= 40; i++ {
		o := NewOrg(r, 5000+i)
		rec := map[string]any{"license_no": fmt.Sprintf("JY13301%08d", 5000+i), "uscc": o.USCC, "operator": o.Name,
			"legal_rep": o.Legal, "biz_type": []string{"01", "02"}[i%2], "address": o.Address, "issue_date": "2025年3月1日",
			"expiry": "20300228", "state": "1", "updated_at": base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)}
		switch i {
		case 7: // a wrong check character
			rec["uscc"] = o.USCC[:17] + string(certificates.USCCCheck(o.USCC[:17])+1)
		case 19: // a business type code the mapping does not know
			rec["biz_type"] = "09"
		case 31: // date nonsense
			rec["expiry"] = "20301345"
		case 12:
			rec["state"] = "2" // 暂扣
		}
		d.records = append(d.records, rec)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.URL = "http://" + ln.Addr().String() + "/api/licences"
	d.srv = &http.Server{Handler: http.HandlerFunc(d.serve), ReadHeaderTimeout: 5 * time.Second}
	go d.srv.Serve(ln)
	go d.churn()
	return d, nil
}

// Close stops the stand-in.
func (d *Department) Close() { d.srv.Close() }

// churn changes one licence's address every two minutes.
func (d *Department) churn() {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for range time.Tick(2 * time.Minute) {
		d.mu.Lock()
		rec := d.records[r.IntN(len(d.records))]
		rec["address"] = fmt.Sprintf("浙江省杭州市上城区%s%d号", streets[r.IntN(len(streets))], 1+r.IntN(400))
		rec["updated_at"] = time.Now().UTC().Format(time.RFC3339)
		d.mu.Unlock()
	}
}

func (d *Department) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	size, _ := strconv.Atoi(q.Get("page_size"))
	if page < 1 {
		page = 1
	}
	if size < 1 {
		size = 20
	}
	d.mu.Lock()
	var list []map[string]any
	for _, rec := range d.records {
		if since := q.Get("updated_since"); since == "" || rec["updated_at"].(string) >= since {
			list = append(list, rec)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i]["updated_at"].(string) < list[j]["updated_at"].(string) })
	start := min((page-1)*size, len(list))
	body, _ := json.Marshal(map[string]any{"code": 0, "data": list[start:min(start+size, len(list))]})
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(body)
}

// APIConnector is the demo's http connector for the stand-in.
func APIConnector(url string) string {
	return fmt.Sprintf(`name: demo-scjg-api
kind: http
source:
  url: %s
  records: data
  pagination: {style: page, page_param: page, size_param: page_size}
  incremental: {param: updated_since, field: updated_at}
type: %s002
authority: %s
batch_size: 20
schedule: {every: 1m}
mapping:
  key: license_no
  holder:
    kind: {const: organisation}
    id: {field: uscc, trim: true, upper: true}
    name: {field: operator, trim: true}
  data:
    permit_no: {field: license_no}
    legal_representative: {field: legal_rep}
    operator_type: {field: biz_type, lookup: {"01": 餐饮服务经营者（小型餐馆）, "02": 食品销售经营者（便利店）}}
    business_items: {const: 热食类食品制售；预包装食品销售}
    address: {field: address, trim: true}
  valid_from: {field: issue_date, date: auto}
  valid_until: {field: expiry, date: "20060102"}
  status:
    field: state
    values: {"1": valid, "2": suspended, "3": revoked, "4": cancelled}
`, url, Market, Market)
}

// FileConnector is the demo's file-drop connector for dir.
func FileConnector(dir string) string {
	return fmt.Sprintf(`name: demo-file-drop
kind: file
source:
  dir: %s
  pattern: "*.*"
  encoding: gb18030
type: %s002
authority: %s
batch_size: 100
schedule: {every: 1m}
mapping:
  key: 许可证编号
  holder:
    kind: {const: organisation}
    id: {field: 统一社会信用代码, trim: true, upper: true}
    name: {field: 经营者名称, trim: true}
  data:
    permit_no: {field: 许可证编号}
    legal_representative: {field: 法定代表人}
    operator_type: {field: 主体业态}
    business_items: {field: 经营项目}
    address: {field: 经营场所}
  valid_from: {field: 发证日期, date: auto}
  valid_until: {field: 有效期至, date: auto}
`, dir, Market, Market)
}

// DropSamples writes a GB18030 CSV and an .xlsx, each with a bad row, into
// dir, as a department exporting from its own system would.
func DropSamples(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	header := []string{"许可证编号", "统一社会信用代码", "经营者名称", "法定代表人", "主体业态", "经营项目", "经营场所", "发证日期", "有效期至"}
	r := rand.New(rand.NewPCG(88, 88))
	row := func(i int) []string {
		o := NewOrg(r, 6000+i)
		return []string{fmt.Sprintf("JY23301%08d", 6000+i), o.USCC, o.Name, o.Legal, "单位食堂", "热食类食品制售", o.Address, "2025-06-01", "2030-05-31"}
	}
	csv := ""
	for _, h := range header {
		csv += h + ","
	}
	csv = csv[:len(csv)-1] + "\n"
	for i := 1; i <= 8; i++ {
		cells := row(i)
		if i == 5 {
			cells[1] = "91330102MA2XXXXXXX" // not a USCC
		}
		for j, c := range cells {
			if j > 0 {
				csv += ","
			}
			csv += c
		}
		csv += "\n"
	}
	enc, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(csv))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "2026-01-食品经营许可-导出.csv"), enc, 0o640); err != nil {
		return err
	}
	wb := excelize.NewFile()
	defer wb.Close()
	hdr := make([]any, len(header))
	for i, h := range header {
		hdr[i] = h
	}
	_ = wb.SetSheetRow("Sheet1", "A1", &hdr)
	for i := 1; i <= 6; i++ {
		cells := row(20 + i)
		if i == 3 {
			cells[8] = "明年" // date nonsense
		}
		vals := make([]any, len(cells))
		for j, c := range cells {
			vals[j] = c
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		_ = wb.SetSheetRow("Sheet1", cell, &vals)
	}
	return wb.SaveAs(filepath.Join(dir, "2026-02-食品经营许可-导出.xlsx"))
}
