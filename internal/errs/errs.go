// Package errs is certhub's one error type. Every package returns *Error (or
// wraps one) for failures a caller should act on; the HTTP adapter maps Code to
// a status in exactly one place.
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error. The set is small on purpose: a caller decides what
// to do from the code, a person reads the message.
type Code string

// The error codes.
const (
	Invalid      Code = "invalid"      // the request is malformed; Field names what
	NotFound     Code = "not_found"    // the named thing does not exist (or is not visible)
	Conflict     Code = "conflict"     // the request contradicts current state
	Gone         Code = "gone"         // the thing existed but may no longer be used (expired, revoked)
	Unauthorized Code = "unauthorized" // no or bad credentials
	Forbidden    Code = "forbidden"    // credentials fine, permission missing
	TooLarge     Code = "too_large"    // body or upload over the limit
	RateLimited  Code = "rate_limited" // slow down
	Unavailable  Code = "unavailable"  // a dependency is down
	Internal     Code = "internal"     // a bug or an unexpected failure; detail only in logs
)

// RetryAfterSeconds is the Retry-After an Unavailable answer carries: long
// enough for a restarted database or S3 server to come back, short enough
// for a department system's retry to land in the same minute.
const RetryAfterSeconds = "5"

// FieldError is one problem with one input field.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is the error type. Field and Reason describe the first problem; Fields
// lists every problem when validation found several.
type Error struct {
	Code    Code
	Field   string
	Message string
	Fields  []FieldError
	Err     error // underlying cause, never shown to clients for Internal
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error with a code and a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field builds an Invalid error for one field.
func Field(field, format string, args ...any) *Error {
	reason := fmt.Sprintf(format, args...)
	return &Error{Code: Invalid, Field: field, Message: reason, Fields: []FieldError{{Field: field, Reason: reason}}}
}

// Wrap marks an unexpected failure as Internal, keeping the cause for logs.
func Wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: Internal, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code of err, Internal for errors that are not *Error.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// List collects field problems during validation.
type List []FieldError

// Add records a problem.
func (l *List) Add(field, format string, args ...any) {
	*l = append(*l, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// Err returns nil when no problem was recorded, otherwise one Invalid error
// naming the first field and listing all of them.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	msg := l[0].Reason
	if len(l) > 1 {
		more := "problems"
		if len(l) == 2 {
			more = "problem"
		}
		msg = fmt.Sprintf("%s (and %d more %s; see fields)", l[0].Reason, len(l)-1, more)
	}
	return &Error{Code: Invalid, Field: l[0].Field, Message: msg, Fields: l}
}
