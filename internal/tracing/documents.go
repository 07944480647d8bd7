package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/certhub/certhub/certificates"
)

// ScopeName names the tracer of certhub's own spans (database and
// document store).
const ScopeName = "github.com/certhub/certhub"

// Documents returns docs with a span around every operation, or docs itself
// when tp is nil (tracing off). store names the backend ("s3",
// "directory") and bucket the S3 bucket (empty for a directory).
//
// Operations outside a trace are not traced (see Inside). The object key
// is not recorded: keys hold serial numbers, and the keys
// of copies other hubs push are theirs to choose. A span carries the key's
// first segment (documents, seals, batches …), which says what kind of
// object was read or written.
func Documents(docs certificates.DocumentStore, tp trace.TracerProvider, store, bucket string) certificates.DocumentStore {
	if tp == nil {
		return docs
	}
	attrs := []attribute.KeyValue{attribute.String("certhub.document_store", store)}
	if bucket != "" {
		attrs = append(attrs, attribute.String("aws.s3.bucket", bucket))
	}
	return &documents{next: docs, tracer: tp.Tracer(ScopeName), attrs: attrs}
}

type documents struct {
	next   certificates.DocumentStore
	tracer trace.Tracer
	attrs  []attribute.KeyValue
}

func (d *documents) start(ctx context.Context, op, key string) (context.Context, trace.Span) {
	if !Inside(ctx) {
		return ctx, trace.SpanFromContext(ctx)
	}
	kind, _, _ := strings.Cut(key, "/")
	return d.tracer.Start(ctx, "documents."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(d.attrs...), trace.WithAttributes(attribute.String("certhub.object_kind", kind)))
}

// Put implements certificates.DocumentStore.
func (d *documents) Put(ctx context.Context, key string, data []byte) error {
	ctx, span := d.start(ctx, "Put", key)
	span.SetAttributes(attribute.Int("certhub.object_bytes", len(data)))
	err := d.next.Put(ctx, key, data)
	End(span, err)
	return err
}

// Get implements certificates.DocumentStore.
func (d *documents) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, span := d.start(ctx, "Get", key)
	b, err := d.next.Get(ctx, key)
	End(span, err)
	return b, err
}

// GetRange implements certificates.DocumentStore.
func (d *documents) GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	ctx, span := d.start(ctx, "GetRange", key)
	b, err := d.next.GetRange(ctx, key, offset, length)
	End(span, err)
	return b, err
}

// Ping implements certificates.DocumentStore.
func (d *documents) Ping(ctx context.Context) error {
	ctx, span := d.start(ctx, "Ping", "")
	err := d.next.Ping(ctx)
	End(span, err)
	return err
}
