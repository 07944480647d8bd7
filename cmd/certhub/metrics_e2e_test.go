package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/certhub/certhub/internal/httpapi"
	"github.com/certhub/certhub/internal/metricstest"
)

const (
	metricsDoc    = "../../docs/metrics.md"
	dashboard     = "../../docs/grafana/certhub-dashboard.json"
	operationsDoc = "../../docs/operations.md"
)

// docMetric is one row of a table in docs/metrics.md.
type docMetric struct {
	name, typ string
	labels    []string // sorted
	always    bool     // Present is "always"
	line      int
}

var metricName = regexp.MustCompile("^`([a-zA-Z_:][a-zA-Z0-9_:]*)`$")

// readMetricsDoc parses the tables of docs/metrics.md: a row whose first
// cell is a backquoted metric name, under a header naming the columns
// Metric, Type, Labels and Present.
func readMetricsDoc(t *testing.T) map[string]docMetric {
	t.Helper()
	f, err := os.Open(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cells := func(line string) []string {
		parts := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	doc := map[string]docMetric{}
	var col map[string]int
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !strings.HasPrefix(line, "|") {
			col = nil
			continue
		}
		c := cells(line)
		if c[0] == "Metric" {
			col = map[string]int{}
			for i, h := range c {
				col[h] = i
			}
			for _, h := range []string{"Type", "Labels", "Present"} {
				if _, ok := col[h]; !ok {
					t.Fatalf("%s:%d: a metrics table without a %s column", metricsDoc, n, h)
				}
			}
			continue
		}
		m := metricName.FindStringSubmatch(c[0])
		if m == nil {
			continue // the header's separator row
		}
		if col == nil {
			t.Fatalf("%s:%d: a metric row outside a metrics table", metricsDoc, n)
		}
		if len(c) != len(col) {
			t.Fatalf("%s:%d: %d cells, the header has %d", metricsDoc, n, len(c), len(col))
		}
		d := docMetric{name: m[1], typ: c[col["Type"]], line: n, labels: []string{}}
		if l := c[col["Labels"]]; l != "—" {
			for _, name := range strings.Split(l, ",") {
				d.labels = append(d.labels, strings.Trim(strings.TrimSpace(name), "`"))
			}
			sort.Strings(d.labels)
		}
		switch p := c[col["Present"]]; {
		case p == "always":
			d.always = true
		case strings.HasPrefix(p, "after "):
		default:
			t.Fatalf("%s:%d: Present is %q; want always or after …", metricsDoc, n, p)
		}
		if _, dup := doc[d.name]; dup {
			t.Fatalf("%s:%d: %s is listed twice", metricsDoc, n, d.name)
		}
		doc[d.name] = d
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(doc) == 0 {
		t.Fatalf("no metrics found in %s", metricsDoc)
	}
	return doc
}

// exported describes a scraped family as the doc does: its type and its
// label names (without le and quantile, which the type implies).
func exported(f *dto.MetricFamily) (typ string, labels []string) {
	typ = strings.ToLower(f.GetType().String())
	seen := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if n := l.GetName(); n != "le" && n != "quantile" && !seen[n] {
				seen[n] = true
				labels = append(labels, n)
			}
		}
	}
	sort.Strings(labels)
	if labels == nil {
		labels = []string{}
	}
	return typ, labels
}

// TestMetricsReference holds docs/metrics.md and the Grafana dashboard to
// what the built binary exports: it scrapes a fresh hub, produces the
// traffic after which every metric exists (requests, issuance,
// verification, a connector run), and scrapes again.
func TestMetricsReference(t *testing.T) {
	t.Parallel()
	doc := readMetricsDoc(t)
	data, drop := t.TempDir(), t.TempDir()
	// No scheduled runs: the connector runs once, when the test says.
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT=", "CERTHUB_SCHEDULE_EVERY=0"}
	p := start(t, env, "--data", data)

	fresh := metricstest.Scrape(t, p.base)
	for _, d := range doc {
		_, there := fresh[d.name]
		switch {
		case d.always && !there:
			t.Errorf("%s:%d: %s is marked always present, but a fresh hub does not export it", metricsDoc, d.line, d.name)
		case !d.always && there:
			t.Errorf("%s:%d: %s is marked as appearing after traffic, but a fresh hub exports it: mark it always", metricsDoc, d.line, d.name)
		}
	}

	issuer, _ := setup(t, p)
	issued := p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY13301020000077"))
	if v := p.verify(map[string]string{"document": issued["document"].(string)}); v["valid"] != true {
		t.Fatalf("verify the issued document: %v", v)
	}
	if v := p.verify(map[string]string{"id": issued["id"].(string)}); v["valid"] != true {
		t.Fatalf("verify by id: %v", v)
	}
	if err := os.WriteFile(filepath.Join(drop, "permits.jsonl"), []byte(
		`{"no":"JY13301020000078","uscc":"`+company+`","name":"福建某某餐饮有限公司","addr":"福州市鼓楼区五四路2号","from":"2025-01-01","until":"2029-12-31"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.must(201, "POST", "/api/v1/connectors", admin, fmt.Sprintf(`name: permits
kind: file
source: {dir: %q, pattern: "*.jsonl"}
type: %s
authority: %s
mapping:
  key: no
  holder: {kind: {const: organisation}, id: {field: uscc}, name: {field: name}}
  data: {permit_no: {field: no}, address: {field: addr}}
  valid_from: {field: from, date: auto}
  valid_until: {field: until, date: auto}
`, drop, licence, market))
	if run := p.must(200, "POST", "/api/v1/connectors/permits/run", admin, nil); run["status"] != "succeeded" {
		t.Fatalf("connector run: %v", run)
	}

	after := metricstest.Scrape(t, p.base)
	// The label values the dashboard selects on are the real ones: the
	// issuance above is counted under its route pattern, the verification
	// by its input, the connector's record by its connector and outcome.
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"certhub_http_requests_total", []string{"route", "/api/v1/certificates", "method", "POST", "status", "201"}},
		{"certhub_verifications_total", []string{"input", "document", "outcome", "valid"}},
		{"certhub_connector_records_total", []string{"connector", "permits", "outcome", "issued"}},
	} {
		if got := metricstest.Value(after, c.name, c.labels...); got != 1 {
			t.Errorf("%s%v = %v, want 1", c.name, c.labels, got)
		}
	}
	for name, f := range after {
		d, ok := doc[name]
		if !ok {
			if strings.HasPrefix(name, "certhub_") {
				t.Errorf("%s is exported but not in %s", name, metricsDoc)
			}
			continue
		}
		typ, labels := exported(f)
		if typ != d.typ {
			t.Errorf("%s:%d: %s is a %s, the doc says %s", metricsDoc, d.line, name, typ, d.typ)
		}
		if !slices.Equal(labels, d.labels) {
			t.Errorf("%s:%d: %s has labels %v, the doc says %v", metricsDoc, d.line, name, labels, d.labels)
		}
	}
	for _, d := range doc {
		if _, ok := after[d.name]; !ok {
			t.Errorf("%s:%d: %s is documented but not exported, even after traffic", metricsDoc, d.line, d.name)
		}
	}

	// The dashboard uses only metrics the hub exports, and every certhub
	// metric has a panel.
	used := map[string]bool{}
	for _, q := range dashboardQueries(t, readDashboard(t)) {
		names := promMetrics(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: %q uses no metric", q.where, q.expr)
		}
		for _, n := range names {
			base, ok := family(after, n)
			if !ok {
				t.Errorf("%s: %s is not exported by the hub", q.where, n)
				continue
			}
			used[base] = true
		}
	}
	for _, d := range doc {
		if strings.HasPrefix(d.name, "certhub_") && !used[d.name] {
			t.Errorf("%s has no panel in the dashboard", d.name)
		}
	}
	// The alert rules suggested in docs/operations.md, too, use only
	// exported metrics (up is the one series Prometheus makes itself).
	for _, q := range alertRules(t) {
		for _, n := range promMetrics(q.expr) {
			if _, ok := family(after, n); !ok && n != "up" {
				t.Errorf("%s: %s is not exported by the hub", q.where, n)
			}
		}
	}
	// Route matchers name routes the hub serves.
	for _, q := range append(dashboardQueries(t, readDashboard(t)), alertRules(t)...) {
		for _, m := range routeMatcher.FindAllStringSubmatch(q.expr, -1) {
			if !knownRoute(m[1], m[2]) {
				t.Errorf("%s: no route is %s%q", q.where, m[1], m[2])
			}
		}
	}
}

// alertRules are the expr: lines of docs/operations.md.
func alertRules(t *testing.T) []promQuery {
	t.Helper()
	raw, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	var qs []promQuery
	for i, line := range strings.Split(string(raw), "\n") {
		if expr, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:"); ok {
			qs = append(qs, promQuery{fmt.Sprintf("%s:%d", operationsDoc, i+1), strings.TrimSpace(expr)})
		}
	}
	if len(qs) == 0 {
		t.Fatalf("no alert rules in %s", operationsDoc)
	}
	return qs
}

var routeMatcher = regexp.MustCompile(`\broute(=~?)"([^"]*)"`)

// knownRoute tells whether a route matcher of the dashboard (= or =~)
// selects a pattern the API serves, so a typo in a route shows.
func knownRoute(op, value string) bool {
	var re *regexp.Regexp
	if op == "=~" {
		re = regexp.MustCompile("^(?:" + value + ")$")
	}
	for _, r := range httpapi.Routes {
		if (re == nil && r.Pattern == value) || (re != nil && re.MatchString(r.Pattern)) {
			return true
		}
	}
	return false
}

// family resolves a name used in PromQL to the scraped family it reads: the
// name itself, or a histogram's _bucket, _sum or _count series, or a
// summary's _sum or _count.
func family(families map[string]*dto.MetricFamily, name string) (string, bool) {
	if _, ok := families[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		switch families[base].GetType() {
		case dto.MetricType_HISTOGRAM:
			return base, true
		case dto.MetricType_SUMMARY:
			return base, suffix != "_bucket"
		}
	}
	return "", false
}

// grafanaDashboard is the part of a dashboard the tests read.
type grafanaDashboard struct {
	SchemaVersion int            `json:"schemaVersion"`
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string           `json:"name"`
			Type       string           `json:"type"`
			Query      json.RawMessage  `json:"query"`
			Datasource *json.RawMessage `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *grafanaDS      `json:"datasource"`
	Panels     []grafanaPanel  `json:"panels"` // a collapsed row's
	Targets    []grafanaTarget `json:"targets"`
	GridPos    *grafanaGrid    `json:"gridPos"`
}

type grafanaGrid struct{ X, Y, W, H int }

type grafanaTarget struct {
	RefID      string     `json:"refId"`
	Expr       string     `json:"expr"`
	Datasource *grafanaDS `json:"datasource"`
}

type grafanaDS struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboard, err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

type promQuery struct{ where, expr string }

// dashboardQueries are the PromQL expressions of every panel target and
// every query variable.
func dashboardQueries(t *testing.T, d grafanaDashboard) []promQuery {
	t.Helper()
	var qs []promQuery
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			qs = append(qs, promQuery{fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID), tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query is not {\"query\": …}: %v", v.Name, err)
		}
		qs = append(qs, promQuery{"variable " + v.Name, q.Query})
	}
	return qs
}

// TestGrafanaDashboard checks the dashboard is one Grafana imports and
// that every query goes to the chosen Prometheus data source, filtered to
// the chosen job and instances.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	if d.SchemaVersion < 36 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d, uid %q, title %q", d.SchemaVersion, d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["job"] != "query" || vars["instance"] != "query" {
		t.Fatalf("variables %v; want datasource (a data source), job and instance (queries)", vars)
	}
	const ds = "${datasource}"
	ids := map[int]string{}
	targets := 0
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("panel %q: id %d (also %q)", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		if g := p.GridPos; g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %d %q: gridPos %+v; want a place within the 24 columns", p.ID, p.Title, g)
		} else {
			for _, o := range allPanels(d.Panels) {
				if h := o.GridPos; o.ID < p.ID && h != nil && g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
					t.Errorf("panel %d %q overlaps panel %d %q", p.ID, p.Title, o.ID, o.Title)
				}
			}
		}
		if p.Type == "row" {
			continue // a row queries nothing
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != ds {
			t.Errorf("panel %d %q: datasource %+v, want prometheus %s", p.ID, p.Title, p.Datasource, ds)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d %q has no query", p.ID, p.Title)
		}
		for _, tg := range p.Targets {
			targets++
			if tg.Datasource != nil && tg.Datasource.UID != ds {
				t.Errorf("panel %d target %s: datasource %+v", p.ID, tg.RefID, tg.Datasource)
			}
		}
	}
	for _, q := range dashboardQueries(t, d) {
		if strings.HasPrefix(q.where, "variable job") {
			continue // the job variable lists the jobs
		}
		for _, sel := range []string{`job=~"$job"`, `instance=~"$instance"`} {
			if strings.HasPrefix(q.where, "variable instance") && strings.HasPrefix(sel, "instance") {
				continue
			}
			if strings.Count(q.expr, sel) != strings.Count(q.expr, "{") {
				t.Errorf("%s: a selector without %s: %s", q.where, sel, q.expr)
			}
		}
		for _, name := range promMetrics(q.expr) {
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `(?:[^{\w:]|$)`).MatchString(q.expr) {
				t.Errorf("%s: %s without a selector: %s", q.where, name, q.expr)
			}
		}
	}
	if targets < 20 {
		t.Errorf("only %d queries", targets)
	}
}

var (
	promStringLit = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	grafanaVars   = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	labelValues   = regexp.MustCompile(`\blabel_values\(([^,()]*),[^()]*\)`)
	promIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords  = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
		"group_right": true, "and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
		"inf": true, "nan": true, "Inf": true, "NaN": true}
)

// promMetrics lists the metric names a PromQL expression (or a Grafana
// label_values query) reads: the identifiers left once strings, label
// matchers, ranges, grouping labels and Grafana variables are removed,
// that are not followed by "(" (functions, aggregations) and are not
// keywords or parts of numbers.
func promMetrics(expr string) []string {
	s := promStringLit.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	s = grafanaVars.ReplaceAllString(s, " ")
	s = labelValues.ReplaceAllString(s, "($1)")
	var names []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(s[loc[0]-1:loc[0]], "0123456789.") {
			continue // 1e3, 0x1f
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") || promKeywords[name] {
			continue
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func TestPromMetrics(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, expr string
		want       []string
	}{
		{"selector", `certhub_http_requests_total{job=~"$job", status=~"5.."}`, []string{"certhub_http_requests_total"}},
		{"rate and grouping", `sum by (route, le) (rate(a_bucket{x="y"}[$__rate_interval]))`, []string{"a_bucket"}},
		{"quantile and number", `histogram_quantile(0.99, sum without (instance) (rate(h_bucket[5m]))) > 1e3`, []string{"h_bucket"}},
		{"binary operation", `rate(x_sum[5m]) / on (instance) group_left rate(x_count[5m])`, []string{"x_sum", "x_count"}},
		{"bare names", `process_open_fds / process_max_fds`, []string{"process_open_fds", "process_max_fds"}},
		{"time and offset", `time() - m offset 1h`, []string{"m"}},
		{"label value with braces", `count(m{route="/a/{id}", q='x)y'})`, []string{"m"}},
		{"label_values", `label_values(certhub_http_requests_total{job=~"$job"}, instance)`, []string{"certhub_http_requests_total"}},
		{"label_values without selector", `label_values(m, job)`, []string{"m"}},
		{"no metric", `vector(1)`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := promMetrics(c.expr); !slices.Equal(got, c.want) {
				t.Errorf("promMetrics(%q) = %v, want %v", c.expr, got, c.want)
			}
		})
	}
}
