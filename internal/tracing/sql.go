package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/certhub/certhub/internal/errs"
)

// Database systems, as the semantic conventions name them.
var (
	PostgreSQL = semconv.DBSystemNamePostgreSQL
	SQLite     = semconv.DBSystemNameSQLite
)

// maxStatement bounds the statement text a span carries.
const maxStatement = 300

// Operation is the first word of a statement, upper-cased (SELECT, INSERT,
// WITH, BEGIN …): what a database span is named after.
func Operation(sql string) string {
	sql = strings.TrimLeft(sql, " \t\r\n(")
	end := strings.IndexFunc(sql, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') })
	if end < 0 {
		end = len(sql)
	}
	if end == 0 {
		return "SQL"
	}
	return strings.ToUpper(sql[:end])
}

// StartQuery starts the span of one statement: named by its operation,
// with the database system and the statement's text, cut to 300 bytes.
// The arguments are never recorded, and neither is a statement with a
// quote in it, since a string literal could be a value (certhub's own
// statements pass every value as a placeholder argument).
//
// A statement outside any trace is not traced (see Inside).
func StartQuery(ctx context.Context, tracer trace.Tracer, system attribute.KeyValue, sql string) (context.Context, trace.Span) {
	if !Inside(ctx) {
		return ctx, trace.SpanFromContext(ctx)
	}
	op := Operation(sql)
	attrs := []attribute.KeyValue{system, semconv.DBOperationName(op)}
	if !strings.ContainsAny(sql, `'"`) && !strings.Contains(sql, "$$") {
		text := strings.Join(strings.Fields(sql), " ")
		if len(text) > maxStatement {
			text = text[:maxStatement]
		}
		attrs = append(attrs, semconv.DBQueryText(text))
	}
	return tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// Inside reports whether ctx belongs to a trace, which the database and
// document store spans then join. Outside one (migrations, and the loops
// that poll every few seconds: webhook delivery, the push to the parent
// hub, pruning) a statement would be a trace of its own, and a collector
// would fill with them.
func Inside(ctx context.Context) bool { return trace.SpanContextFromContext(ctx).IsValid() }

// End ends span, marking it failed when err is an error other than a
// refusal the caller expects to handle (not found, conflict). The error's
// text is not recorded: drivers quote the values of a violated constraint.
func End(span trace.Span, err error) {
	if err != nil && !errs.Is(err, errs.NotFound) && !errs.Is(err, errs.Conflict) {
		span.SetStatus(codes.Error, string(errs.CodeOf(err)))
	}
	span.End()
}
