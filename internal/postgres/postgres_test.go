package postgres_test

import (
	"context"
	"testing"

	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/storetest"
	"github.com/certhub/certhub/internal/testenv"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunTests(t, func(t *testing.T) *sqlstore.Store {
		s, err := postgres.Open(context.Background(), testenv.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}
