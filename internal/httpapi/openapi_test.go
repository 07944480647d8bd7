package httpapi_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/certhub/certhub/internal/httpapi"
)

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml true: the same paths and
// methods as the router serves, each with the same owner roles, public
// operations marked security: [] and the rest needing a bearer token.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		OpenAPI string `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("docs/openapi.yaml does not parse: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.1") {
		t.Fatalf("openapi = %q, want 3.1.x", spec.OpenAPI)
	}
	type op struct {
		Roles    []string           `yaml:"x-roles"`
		Security []map[string][]any `yaml:"security"`
		Summary  string             `yaml:"summary"`
	}
	documented := map[string]op{}
	for path, item := range spec.Paths {
		for method, node := range item {
			if method == "parameters" {
				continue
			}
			var o op
			if err := node.Decode(&o); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			documented[strings.ToUpper(method)+" "+path] = o
		}
	}
	// Besides the API: /metrics, and the share page, which also answers JSON.
	served := map[string]httpapi.Route{"GET /metrics": {Method: "GET", Pattern: "/metrics"}, "GET /s/{token}": {Method: "GET", Pattern: "/s/{token}"}}
	for _, r := range httpapi.Routes {
		served[r.Method+" "+r.Pattern] = r
	}
	for key, r := range served {
		o, ok := documented[key]
		if !ok {
			t.Errorf("%s is served but not in docs/openapi.yaml", key)
			continue
		}
		var want []string
		for _, role := range r.Roles {
			want = append(want, string(role))
		}
		got := append([]string(nil), o.Roles...)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: x-roles %v, router allows %v", key, o.Roles, want)
		}
		public := o.Security != nil && len(o.Security) == 0
		if public != r.Public() {
			t.Errorf("%s: spec public=%v, router public=%v", key, public, r.Public())
		}
		if o.Summary == "" {
			t.Errorf("%s: no summary", key)
		}
	}
	for key := range documented {
		if _, ok := served[key]; !ok {
			t.Errorf("%s is in docs/openapi.yaml but not served", key)
		}
	}
}
