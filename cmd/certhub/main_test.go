package main

import (
	"testing"

	"github.com/alecthomas/kong"

	"github.com/certhub/certhub/internal/httpapi"
)

// TestMaxActiveDefault: serve admits at most 16 requests per core (at
// least 32) unless told otherwise, and 0 from the environment turns the
// limit off.
func TestMaxActiveDefault(t *testing.T) {
	parse := func(args ...string) ServeCmd {
		t.Helper()
		var cli CLI
		p, err := kong.New(&cli, options()...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Parse(args); err != nil {
			t.Fatalf("parse %q: %v", args, err)
		}
		return cli.Serve
	}
	want := httpapi.DefaultMaxActive()
	if want < 32 {
		t.Fatalf("DefaultMaxActive() = %d; want at least 32", want)
	}
	if got := parse("serve").MaxActive; got != want {
		t.Errorf("serve without --max-active: %d; want the default %d", got, want)
	}
	if got := parse("serve", "--max-active", "5").MaxActive; got != 5 {
		t.Errorf("--max-active 5: %d", got)
	}
	t.Setenv("CERTHUB_MAX_ACTIVE", "0")
	if got := parse("serve").MaxActive; got != 0 {
		t.Errorf("CERTHUB_MAX_ACTIVE=0: %d; want 0 (no limit)", got)
	}
}
