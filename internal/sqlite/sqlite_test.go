package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunTests(t, func(t *testing.T) *sqlstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "certhub.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "certhub.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.NextSerial(ctx, "t", "a"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Migrations run again on open and must be a no-op.
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.NextSerial(ctx, "t", "a"); err != nil || n != 2 {
		t.Fatalf("after reopen NextSerial = %d, %v; want 2", n, err)
	}
}
