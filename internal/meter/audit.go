package meter

import (
	"context"
	"log/slog"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// AuditEnvVar, when set, makes every client log each distinct (action, resource) it calls once
// per process, as {"message":"aws call","action":"dynamodb:PutItem","resource":"table/<name>"}.
// The local stack's tests set it to check that the template's policies allow every call the
// functions make (IAM is not enforced locally); it is never set on AWS.
const AuditEnvVar = "AWS_CALL_AUDIT"

var (
	auditMu   sync.Mutex
	auditSeen = map[string]bool{}
)

// AuditOn reports whether calls are audited in this process.
func AuditOn() bool { return os.Getenv(AuditEnvVar) != "" }

// DynamoDBAudit logs each distinct DynamoDB action and table (or index) once.
func DynamoDBAudit(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, Audit(dynamoDBAuditCalls))
}

// Call is an IAM action on a resource ("table/<name>", "table/<name>/index/<index>",
// "queue/<name>"; "*" when the call names none).
type Call struct{ Action, Resource string }

// Audit is a client API option that logs each distinct call once, as calls names them from the
// operation and its input. The SQS client's lives with it (sqsqueue), so that this package
// does not link the SQS package.
func Audit(calls func(op string, params any) []Call) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("audit", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			for _, c := range calls(middleware.GetOperationName(ctx), in.Parameters) {
				key := c.Action + " " + c.Resource
				auditMu.Lock()
				first := !auditSeen[key]
				auditSeen[key] = true
				auditMu.Unlock()
				if first {
					slog.Default().Info("aws call", "action", c.Action, "resource", c.Resource)
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	}
}

func table(name, index *string) string {
	if name == nil {
		return "*"
	}
	if index != nil && *index != "" {
		return "table/" + *name + "/index/" + *index
	}
	return "table/" + *name
}

// dynamoDBAuditCalls names the IAM actions a call needs: a transaction needs the action of each of
// its items on that item's table (there is no TransactWriteItems action).
func dynamoDBAuditCalls(op string, params any) []Call {
	one := func(r string) []Call { return []Call{{"dynamodb:" + op, r}} }
	switch p := params.(type) {
	case *dynamodb.GetItemInput:
		return one(table(p.TableName, nil))
	case *dynamodb.PutItemInput:
		return one(table(p.TableName, nil))
	case *dynamodb.UpdateItemInput:
		return one(table(p.TableName, nil))
	case *dynamodb.DeleteItemInput:
		return one(table(p.TableName, nil))
	case *dynamodb.QueryInput:
		return one(table(p.TableName, p.IndexName))
	case *dynamodb.ScanInput:
		return one(table(p.TableName, p.IndexName))
	case *dynamodb.BatchGetItemInput:
		var out []Call
		for t := range p.RequestItems {
			out = append(out, Call{"dynamodb:BatchGetItem", table(&t, nil)})
		}
		return out
	case *dynamodb.BatchWriteItemInput:
		var out []Call
		for t := range p.RequestItems {
			out = append(out, Call{"dynamodb:BatchWriteItem", table(&t, nil)})
		}
		return out
	case *dynamodb.TransactWriteItemsInput:
		var out []Call
		for _, it := range p.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, Call{"dynamodb:PutItem", table(it.Put.TableName, nil)})
			case it.Update != nil:
				out = append(out, Call{"dynamodb:UpdateItem", table(it.Update.TableName, nil)})
			case it.Delete != nil:
				out = append(out, Call{"dynamodb:DeleteItem", table(it.Delete.TableName, nil)})
			case it.ConditionCheck != nil:
				out = append(out, Call{"dynamodb:ConditionCheckItem", table(it.ConditionCheck.TableName, nil)})
			}
		}
		return out
	case *dynamodb.TransactGetItemsInput:
		var out []Call
		for _, it := range p.TransactItems {
			if it.Get != nil {
				out = append(out, Call{"dynamodb:GetItem", table(it.Get.TableName, nil)})
			}
		}
		return out
	}
	return one("*")
}
