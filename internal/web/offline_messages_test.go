package web

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestOfflineMessages: every key the offline page can show is sent, in
// both languages. The stale banner's key is "stale_" + the state that
// cqr.js's freshness returns; one state (missing, before the first
// download) had no message, and a clerk saw "stale_missing /".
func TestOfflineMessages(t *testing.T) {
	src, err := os.ReadFile("static/cqr.js")
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]bool{}
	for _, m := range regexp.MustCompile(`state: "([a-z]+)"|state = [^;]*?"([a-z]+)"`).FindAllSubmatch(src, -1) {
		for _, g := range m[1:] {
			if len(g) > 0 {
				states[string(g)] = true
			}
		}
	}
	for _, want := range []string{"missing", "ok"} {
		if !states[want] {
			t.Fatalf("freshness states found in cqr.js: %v; %q missing (did the code change shape?)", states, want)
		}
	}
	keys := slices.Clone(offlineMessages)
	for st := range states {
		if st != "ok" {
			keys = append(keys, "stale_"+st)
			if !slices.Contains(offlineMessages, "stale_"+st) {
				t.Errorf("the banner's key stale_%s is not among the offline page's messages", st)
			}
		}
	}
	for _, k := range keys {
		for _, lang := range []string{"zh", "en"} {
			if messages[lang][k] == "" {
				t.Errorf("offline message %q has no %s text", k, lang)
			}
		}
	}
}
