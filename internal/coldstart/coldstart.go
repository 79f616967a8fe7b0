// Package coldstart is every function's main: JSON logs with the request id, the handler wired
// once per cold start (a configuration error stops the cold start, not a request), then the
// Lambda runtime loop.
package coldstart

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/referral-engine/referral-engine/internal/httpapi"
)

// Run wires the handler and starts the runtime; it does not return.
func Run(wire func(ctx context.Context, log *slog.Logger) (handler any, err error)) {
	log := lambdacontext.NewLogger()
	slog.SetDefault(log)
	h, err := wire(context.Background(), log)
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	// No lambda.WithEnableSIGTERM: it registers an internal extension with the Extensions API
	// during init, a round trip that cost 0.8 ms of every cold start (bench-coldstart), and with
	// no callback to run the process would only exit on SIGTERM, as it does on the SIGKILL Lambda
	// sends otherwise. Nothing here buffers: logs and EMF metrics are written a line at a time.
	// Add it back with the callback that needs it.
	lambda.Start(h)
}

// RunRouter is Run for an API function whose wiring builds an HTTP router.
func RunRouter(wire func(ctx context.Context, log *slog.Logger) (*httpapi.Router, error)) {
	Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		r, err := wire(ctx, log)
		if err != nil {
			return nil, err
		}
		return r.Serve, nil
	})
}
