package main_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDeployFiles keeps compose.yaml and the Containerfile true to the
// binary: every CERTHUB_ variable they set is one `certhub serve` reads,
// the two hub replicas share the master key and the admin token, and the
// image runs as a non-root user with its data in a volume. (The image
// itself is built and run from its own filesystem by `bash .ci/image
// --check` in CI.)
func TestDeployFiles(t *testing.T) {
	t.Parallel()
	help, code := certhubEnv(t, nil, "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help: %d %s", code, help)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$(CERTHUB_[A-Z0-9_]+)`).FindAllStringSubmatch(help, -1) {
		known[m[1]] = true
	}
	if len(known) < 20 {
		t.Fatalf("serve --help names %d variables: %s", len(known), help)
	}

	raw, err := os.ReadFile("../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			DependsOn   map[string]any    `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	hubs := []string{"hub-1", "hub-2"}
	for _, name := range append([]string{"postgres", "minio"}, hubs...) {
		if compose.Services[name].Image == "" {
			t.Fatalf("compose.yaml: service %s has no image", name)
		}
	}
	ports := map[string]bool{}
	for _, name := range hubs {
		s := compose.Services[name]
		if s.Image != "localhost/certhub:dev" || len(s.Ports) != 1 || ports[s.Ports[0]] || s.DependsOn["postgres"] == nil || s.DependsOn["minio"] == nil {
			t.Fatalf("compose.yaml: %s is %+v", name, s)
		}
		ports[s.Ports[0]] = true
		for k := range s.Environment {
			if strings.HasPrefix(k, "CERTHUB_") && !known[k] {
				t.Errorf("compose.yaml: %s sets %s, which certhub serve does not read", name, k)
			}
		}
		for _, k := range []string{"CERTHUB_DATABASE_URL", "CERTHUB_S3_ENDPOINT", "CERTHUB_MASTER_KEY", "CERTHUB_ADMIN_TOKEN", "CERTHUB_PUBLIC_URL"} {
			if s.Environment[k] == "" || s.Environment[k] != compose.Services[hubs[0]].Environment[k] {
				t.Errorf("compose.yaml: %s's %s is %q; both replicas need the same", name, k, s.Environment[k])
			}
		}
	}

	cf, err := os.ReadFile("../../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(cf)
	for _, m := range regexp.MustCompile(`(?m)\b(CERTHUB_[A-Z0-9_]+)=`).FindAllStringSubmatch(text, -1) {
		if !known[m[1]] {
			t.Errorf("Containerfile sets %s, which certhub serve does not read", m[1])
		}
	}
	for _, want := range []string{"FROM scratch", "USER 10001:10001", `VOLUME ["/data"]`, "CERTHUB_DATA=/data", "CERTHUB_LICENCE_FONT=", "SSL_CERT_FILE="} {
		if !strings.Contains(text, want) {
			t.Errorf("Containerfile lacks %s", want)
		}
	}
}
