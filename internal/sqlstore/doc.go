// Package sqlstore implements the stores of the domain packages
// (certificates.Store, signing.KeyStore, exchange.TokenStore) once, in SQL
// that PostgreSQL and SQLite both run, against the small DB interface below.
//
// The adapters internal/postgres (pgx, natively) and internal/sqlite
// (modernc.org/sqlite through database/sql) implement DB: they own their
// connections, migrations, placeholder style and the translation of their
// driver's errors (no rows → errs.NotFound, unique violation →
// errs.Conflict), so no driver type leaks out of them. Statements here use
// $N placeholders; the SQLite adapter rewrites them to ?N.
package sqlstore
