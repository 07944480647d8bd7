// Package tracing is certhub's OpenTelemetry adapter: it decides from the
// standard OTEL_* variables whether traces are exported, builds the OTLP
// exporter and tracer provider, and wraps the document store so that its
// operations become spans. The database adapters (internal/postgres,
// internal/sqlite) and the HTTP adapter take the provider it returns.
//
// Tracing is off unless the environment asks for it (see Enabled). When it
// is off nothing is installed: no otelhttp handler, no pgx tracer, no
// document store wrapper, so requests pay nothing for it.
//
// Privacy: a span never carries a holder's id, a share token or a query
// string. Server spans are named by the route pattern; database spans
// carry the operation and the statement only when it holds no literal;
// document store spans carry the bucket and the kind of object, not its key.
package tracing

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME is not set.
const DefaultServiceName = "certhub"

// Enabled reports whether the environment (read through getenv, e.g.
// os.Getenv) asks for traces, by this rule:
//
//   - OTEL_SDK_DISABLED=true: off, whatever else is set;
//   - OTEL_TRACES_EXPORTER=none: off;
//   - OTEL_TRACES_EXPORTER=otlp: on;
//   - OTEL_TRACES_EXPORTER unset: on if OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, else off.
//
// Any other exporter (console, zipkin …) is an error, not a silent off: an
// operator who asked for traces should learn at start that none will come.
// The OpenTelemetry specification makes otlp the default exporter; certhub
// does not, so a hub with no collector configured never tries to reach one.
func Enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: certhub exports traces only by OTLP (otlp) or not at all (none)", exp)
	}
}

// Protocol is the OTLP transport the environment names:
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
// else http/protobuf. The answer is "http/protobuf" or "grpc"; http/json
// is refused (the Go exporter does not speak it).
func Protocol(getenv func(string) string) (string, error) {
	p := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	if p == "" {
		p = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	switch p {
	case "", "http/protobuf":
		return "http/protobuf", nil
	case "grpc":
		return "grpc", nil
	}
	return "", fmt.Errorf("OTLP protocol %q: use http/protobuf or grpc", p)
}

// Setup installs tracing when the environment asks for it (Enabled): an
// OTLP exporter configured by the OTEL_EXPORTER_OTLP_* variables, which it
// reads itself; a batching tracer provider whose sampler comes from
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (the SDK's default is
// parentbased_always_on); a resource with service.name (OTEL_SERVICE_NAME,
// default certhub), service.version and OTEL_RESOURCE_ATTRIBUTES. It makes
// that provider and the W3C trace context propagator the global ones, so
// a trace continues across hubs.
//
// When tracing is off it returns a nil provider and a shutdown that does
// nothing, and changes no global. Otherwise shutdown flushes the spans not
// yet exported; call it once on exit.
func Setup(ctx context.Context, getenv func(string) string, version string) (trace.TracerProvider, func(context.Context) error, error) {
	nothing := func(context.Context) error { return nil }
	on, err := Enabled(getenv)
	if err != nil || !on {
		return nil, nothing, err
	}
	proto, err := Protocol(getenv)
	if err != nil {
		return nil, nothing, err
	}
	var exp sdktrace.SpanExporter
	if proto == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, nothing, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := Resource(version)
	if err != nil {
		return nil, nothing, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	// Trace context only: baggage would carry whatever a caller put in it
	// on to other hubs and webhook receivers.
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp, tp.Shutdown, nil
}

// Resource describes this process: the SDK's defaults, service.name
// certhub and service.version, then what OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES say, which win.
func Resource(version string) (*resource.Resource, error) {
	if version == "" {
		version = "unknown"
	}
	res, err := resource.Merge(resource.Default(),
		resource.NewSchemaless(semconv.ServiceName(DefaultServiceName), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	res, err = resource.Merge(res, resource.Environment())
	if err != nil {
		return nil, fmt.Errorf("trace resource (OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	return res, nil
}
