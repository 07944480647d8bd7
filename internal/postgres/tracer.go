package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/certhub/certhub/internal/tracing"
)

// Option changes how Open connects.
type Option func(*pgxpool.Config)

// Traced makes every statement a span of tp (nil: tracing off, no tracer
// installed at all).
func Traced(tp trace.TracerProvider) Option {
	return func(cfg *pgxpool.Config) {
		if tp != nil {
			cfg.ConnConfig.Tracer = &tracer{t: tp.Tracer(tracing.ScopeName)}
		}
	}
}

// tracer implements pgx's QueryTracer, BatchTracer and CopyFromTracer: a
// span per statement, batch and COPY inside a trace, with no arguments
// (tracing.StartQuery).
type tracer struct{ t trace.Tracer }

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	ctx, _ = tracing.StartQuery(ctx, t.t, tracing.PostgreSQL, data.SQL)
	return ctx
}

func (t *tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	tracing.End(trace.SpanFromContext(ctx), translate(data.Err))
}

func (t *tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !tracing.Inside(ctx) {
		return ctx
	}
	ctx, span := t.t.Start(ctx, "BATCH", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(tracing.PostgreSQL, semconv.DBOperationName("BATCH")))
	if data.Batch != nil {
		span.SetAttributes(semconv.DBOperationBatchSize(data.Batch.Len()))
	}
	return ctx
}

// TraceBatchQuery records nothing of its own: the batch's span covers its
// statements, whose texts would only repeat.
func (t *tracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (t *tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	tracing.End(trace.SpanFromContext(ctx), translate(data.Err))
}

func (t *tracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	if !tracing.Inside(ctx) {
		return ctx
	}
	ctx, _ = t.t.Start(ctx, "COPY", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(tracing.PostgreSQL, semconv.DBOperationName("COPY"),
			semconv.DBCollectionName(strings.Join(data.TableName, "."))))
	return ctx
}

func (t *tracer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromEndData) {
	tracing.End(trace.SpanFromContext(ctx), translate(data.Err))
}
