// Package apperr holds the project's typed errors in one place. Domain code returns them;
// handlers map them to HTTP statuses and the JSON error body of SPEC §5.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Codes of the JSON error body.
const (
	CodeInvalidField  = "invalid_field"
	CodeInvalidJSON   = "invalid_json"
	CodeTooLarge      = "too_large"
	CodeUnauthorized  = "unauthorized"
	CodeForbidden     = "forbidden"
	CodeNotFound      = "not_found"
	CodeConflict      = "conflict"
	CodeRateLimited   = "rate_limited"
	CodeInternal      = "internal"
	CodeUnavailable   = "unavailable"
	CodeMethodMissing = "route_not_found"
)

// Error is an error a client can act on: an HTTP status, a machine code, and the field at fault.
type Error struct {
	Status  int
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Invalid is a 400 naming the field at fault, e.g. "interactions[2].properties.stars".
func Invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidField, Field: field, Message: fmt.Sprintf(format, args...)}
}

// BadJSON is a 400 for a body that is not the JSON expected.
func BadJSON(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: field, Message: fmt.Sprintf(format, args...)}
}

// TooLarge is a 413.
func TooLarge(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound is a 404.
func NotFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict is a 409.
func Conflict(format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// Unauthorized is a 401.
func Unauthorized(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Field: "x-api-key", Message: msg}
}

// Forbidden is a 403.
func Forbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: "x-api-key", Message: msg}
}

// Refused is a 422 business refusal with its reason code (SPEC §4.3).
func Refused(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrConcurrentUpdate reports that an optimistic write lost a race; the caller retries.
var ErrConcurrentUpdate = errors.New("concurrent update")

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
