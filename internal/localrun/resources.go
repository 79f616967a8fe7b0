package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// createTables creates every table (concurrently: DynamoDB Local handles it fine). An existing
// table is left as it is.
func createTables(ctx context.Context, db *dynamodb.Client, tables []*tableSpec, logger *slog.Logger) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, t := range tables {
		wg.Go(func() {
			if err := createTable(ctx, db, t, logger); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("table %s: %w", t.LogicalID, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func createTable(ctx context.Context, db *dynamodb.Client, t *tableSpec, logger *slog.Logger) error {
	in, err := createTableInput(t)
	if err != nil {
		return err
	}
	_, err = db.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
		logger.Debug("table exists", "table", t.Name)
	case err != nil:
		return err
	}
	if ttl, ok := t.Props["TimeToLiveSpecification"].(map[string]any); ok {
		enabled, _ := toBool(ttl["Enabled"])
		attr := scalarString(ttl["AttributeName"])
		if enabled && attr != "" {
			_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName:               aws.String(t.Name),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
			})
			// Already enabled (a table kept from an earlier run) or not supported by the
			// emulator: neither matters locally, where nothing waits for items to expire.
			if err != nil {
				logger.Debug("TTL not set", "table", t.Name, "err", err)
			}
		}
	}
	return nil
}

func createTableInput(t *tableSpec) (*dynamodb.CreateTableInput, error) {
	p := t.Props
	in := &dynamodb.CreateTableInput{TableName: aws.String(t.Name)}
	for _, a := range list(p["AttributeDefinitions"]) {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(scalarString(a["AttributeName"])),
			AttributeType: ddbtypes.ScalarAttributeType(scalarString(a["AttributeType"])),
		})
	}
	in.KeySchema = keySchema(p["KeySchema"])
	if len(in.KeySchema) == 0 {
		return nil, errors.New("no KeySchema")
	}
	provisioned := scalarString(p["BillingMode"]) == "PROVISIONED"
	if provisioned {
		in.BillingMode = ddbtypes.BillingModeProvisioned
		in.ProvisionedThroughput = throughput(p["ProvisionedThroughput"])
	} else {
		in.BillingMode = ddbtypes.BillingModePayPerRequest
	}
	for _, g := range list(p["GlobalSecondaryIndexes"]) {
		gsi := ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(scalarString(g["IndexName"])),
			KeySchema:  keySchema(g["KeySchema"]),
			Projection: projection(g["Projection"]),
		}
		if provisioned {
			gsi.ProvisionedThroughput = throughput(g["ProvisionedThroughput"])
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	for _, l := range list(p["LocalSecondaryIndexes"]) {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, ddbtypes.LocalSecondaryIndex{
			IndexName:  aws.String(scalarString(l["IndexName"])),
			KeySchema:  keySchema(l["KeySchema"]),
			Projection: projection(l["Projection"]),
		})
	}
	if s, ok := p["StreamSpecification"].(map[string]any); ok {
		if vt := scalarString(s["StreamViewType"]); vt != "" {
			in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewType(vt)}
		}
	}
	return in, nil
}

func list(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func keySchema(v any) []ddbtypes.KeySchemaElement {
	var out []ddbtypes.KeySchemaElement
	for _, k := range list(v) {
		out = append(out, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(scalarString(k["AttributeName"])),
			KeyType:       ddbtypes.KeyType(scalarString(k["KeyType"])),
		})
	}
	return out
}

func projection(v any) *ddbtypes.Projection {
	m, _ := v.(map[string]any)
	p := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}
	if t := scalarString(m["ProjectionType"]); t != "" {
		p.ProjectionType = ddbtypes.ProjectionType(t)
	}
	if l, ok := m["NonKeyAttributes"].([]any); ok {
		for _, a := range l {
			p.NonKeyAttributes = append(p.NonKeyAttributes, scalarString(a))
		}
	}
	return p
}

func throughput(v any) *ddbtypes.ProvisionedThroughput {
	m, _ := v.(map[string]any)
	r, _ := toInt(m["ReadCapacityUnits"])
	w, _ := toInt(m["WriteCapacityUnits"])
	return &ddbtypes.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(int64(max(r, 1))), WriteCapacityUnits: aws.Int64(int64(max(w, 1)))}
}

// queueAttrs maps AWS::SQS::Queue properties to CreateQueue attributes.
var queueAttrs = map[string]string{
	"VisibilityTimeout":             "VisibilityTimeout",
	"MessageRetentionPeriod":        "MessageRetentionPeriod",
	"DelaySeconds":                  "DelaySeconds",
	"MaximumMessageSize":            "MaximumMessageSize",
	"ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
	"FifoQueue":                     "FifoQueue",
	"ContentBasedDeduplication":     "ContentBasedDeduplication",
	"DeduplicationScope":            "DeduplicationScope",
	"FifoThroughputLimit":           "FifoThroughputLimit",
}

// createQueues creates the queues in order (dead-letter queues first) and records their URLs
// in m.queueURLs. An existing queue gets its attributes updated.
func createQueues(ctx context.Context, q *sqs.Client, m *model, logger *slog.Logger) error {
	for _, spec := range m.queues {
		attrs := map[string]string{}
		for prop, attr := range queueAttrs {
			if v, ok := spec.Props[prop]; ok {
				attrs[attr] = scalarString(v)
			}
		}
		if attrs["FifoQueue"] == "false" {
			delete(attrs, "FifoQueue") // SQS rejects FifoQueue=false on CreateQueue
		}
		if rp, ok := spec.Props["RedrivePolicy"]; ok {
			var policy map[string]any
			switch x := rp.(type) {
			case string:
				_ = json.Unmarshal([]byte(x), &policy)
			case map[string]any:
				policy = x
			}
			// SQS wants maxReceiveCount as a number in the JSON (fauxqs compares it as one).
			if n, err := toInt(policy["maxReceiveCount"]); err == nil {
				policy["maxReceiveCount"] = n
			}
			b, _ := json.Marshal(policy)
			attrs["RedrivePolicy"] = string(b)
		}
		out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(spec.Name), Attributes: attrs})
		var exists *sqstypes.QueueNameExists
		if errors.As(err, &exists) || err != nil && strings.Contains(err.Error(), "QueueAlreadyExists") {
			u, gerr := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(spec.Name)})
			if gerr != nil {
				return fmt.Errorf("queue %s: %w", spec.LogicalID, gerr)
			}
			delete(attrs, "FifoQueue")
			if _, err := q.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: u.QueueUrl, Attributes: attrs}); err != nil {
				return fmt.Errorf("queue %s: update attributes: %w", spec.LogicalID, err)
			}
			m.queueURLs[spec.Name] = aws.ToString(u.QueueUrl)
			continue
		}
		if err != nil {
			return fmt.Errorf("queue %s: %w", spec.LogicalID, err)
		}
		m.queueURLs[spec.Name] = aws.ToString(out.QueueUrl)
		logger.Debug("queue created", "queue", spec.Name, "url", aws.ToString(out.QueueUrl))
	}
	return nil
}
