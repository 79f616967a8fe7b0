// Package meter counts what a process consumes from DynamoDB (capacity units, from
// ReturnConsumedCapacity on every call) and SQS (requests), so that each invocation can log its
// cost and the benchmarks can add it up. It hooks the SDK clients once, as client options.
package meter

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Usage is a snapshot of the counters. Capacity is in thousandths of a unit, kept as integers so
// that concurrent adds are exact.
type Usage struct {
	ReadMilliUnits  int64
	WriteMilliUnits int64
	DynamoDBCalls   int64
	SQSRequests     int64
}

// ReadUnits is the read capacity consumed.
func (u Usage) ReadUnits() float64 { return float64(u.ReadMilliUnits) / 1000 }

// WriteUnits is the write capacity consumed.
func (u Usage) WriteUnits() float64 { return float64(u.WriteMilliUnits) / 1000 }

// Sub is u - v.
func (u Usage) Sub(v Usage) Usage {
	return Usage{u.ReadMilliUnits - v.ReadMilliUnits, u.WriteMilliUnits - v.WriteMilliUnits, u.DynamoDBCalls - v.DynamoDBCalls, u.SQSRequests - v.SQSRequests}
}

var read, write, ddbCalls, sqsCalls atomic.Int64

// Snapshot returns the process-wide counters.
func Snapshot() Usage {
	return Usage{read.Load(), write.Load(), ddbCalls.Load(), sqsCalls.Load()}
}

// Span is an invocation's time and consumption since Start, for its log line.
type Span struct {
	start time.Time
	used  Usage
}

// Start begins a span.
func Start() Span { return Span{start: time.Now(), used: Snapshot()} }

// Attrs are the span's log attributes: duration_ms, rcu, wcu, ddb_calls, sqs_requests (the
// names internal/usage reads back), after kv.
func (s Span) Attrs(kv ...any) []any {
	u := Snapshot().Sub(s.used)
	return append(kv, "duration_ms", time.Since(s.start).Milliseconds(), "rcu", u.ReadUnits(), "wcu", u.WriteUnits(),
		"ddb_calls", u.DynamoDBCalls, "sqs_requests", u.SQSRequests)
}

// DynamoDBOption asks every call for its consumed capacity and counts it.
func DynamoDBOption(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("meter", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			askCapacity(in.Parameters)
			out, md, err := next.HandleInitialize(ctx, in)
			ddbCalls.Add(1)
			if err == nil {
				countCapacity(out.Result)
			}
			return out, md, err
		}), middleware.After)
	})
}

// SQSRequests is an SQS client API option (sqs.Options.APIOptions) that counts every request.
// It names no SQS type, so that functions which never call SQS do not link the SQS package,
// whose init is part of every cold start (bench-coldstart).
func SQSRequests(s *middleware.Stack) error {
	return s.Initialize.Add(middleware.InitializeMiddlewareFunc("meter", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		sqsCalls.Add(1)
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

func askCapacity(params any) {
	const total = types.ReturnConsumedCapacityTotal
	switch p := params.(type) {
	case *dynamodb.GetItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.PutItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.UpdateItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.DeleteItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.QueryInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.ScanInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.BatchGetItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.BatchWriteItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.TransactWriteItemsInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.TransactGetItemsInput:
		p.ReturnConsumedCapacity = total
	}
}

func countCapacity(result any) {
	switch r := result.(type) {
	case *dynamodb.GetItemOutput:
		add(r.ConsumedCapacity, false)
	case *dynamodb.PutItemOutput:
		add(r.ConsumedCapacity, true)
	case *dynamodb.UpdateItemOutput:
		add(r.ConsumedCapacity, true)
	case *dynamodb.DeleteItemOutput:
		add(r.ConsumedCapacity, true)
	case *dynamodb.QueryOutput:
		add(r.ConsumedCapacity, false)
	case *dynamodb.ScanOutput:
		add(r.ConsumedCapacity, false)
	case *dynamodb.BatchGetItemOutput:
		for i := range r.ConsumedCapacity {
			add(&r.ConsumedCapacity[i], false)
		}
	case *dynamodb.BatchWriteItemOutput:
		for i := range r.ConsumedCapacity {
			add(&r.ConsumedCapacity[i], true)
		}
	case *dynamodb.TransactWriteItemsOutput:
		for i := range r.ConsumedCapacity {
			add(&r.ConsumedCapacity[i], true)
		}
	case *dynamodb.TransactGetItemsOutput:
		for i := range r.ConsumedCapacity {
			add(&r.ConsumedCapacity[i], false)
		}
	}
}

// add counts a call's units. DynamoDB Local reports only CapacityUnits, so writes and reads
// are told apart by the operation when the split is missing.
func add(cc *types.ConsumedCapacity, isWrite bool) {
	if cc == nil {
		return
	}
	r, w := val(cc.ReadCapacityUnits), val(cc.WriteCapacityUnits)
	if r == 0 && w == 0 {
		if isWrite {
			w = val(cc.CapacityUnits)
		} else {
			r = val(cc.CapacityUnits)
		}
	}
	read.Add(int64(math.Round(r * 1000)))
	write.Add(int64(math.Round(w * 1000)))
}

func val(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
