package samfile

import (
	"reflect"
	"testing"
)

const doc = `
Parameters:
  Stage: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function: {Timeout: 5}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Condition: IsProd
    Properties:
      QueueName: !Sub "${AWS::StackName}-q"
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 5}
  Dlq:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: makefile}
    Properties:
      Environment: {Variables: {QUEUE_URL: !Ref Queue, ARN: !GetAtt [Dlq, Arn]}}
`

func TestParseLongForms(t *testing.T) {
	f, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Order, []string{"Queue", "Dlq", "Fn"}) {
		t.Errorf("order %v", f.Order)
	}
	q := f.Resources["Queue"]
	if q.Type != "AWS::SQS::Queue" || q.Condition != "IsProd" || q.Raw["Condition"] != "IsProd" {
		t.Errorf("queue %+v", q)
	}
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"!Sub", q.Properties["QueueName"], map[string]any{"Fn::Sub": "${AWS::StackName}-q"}},
		{"!GetAtt X.Y", q.Properties["RedrivePolicy"].(map[string]any)["deadLetterTargetArn"], map[string]any{"Fn::GetAtt": []any{"Dlq", "Arn"}}},
		{"number", q.Properties["RedrivePolicy"].(map[string]any)["maxReceiveCount"], 5},
		{"!Ref", f.Resources["Fn"].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)["QUEUE_URL"], map[string]any{"Ref": "Queue"}},
		{"!GetAtt [X, Y]", f.Resources["Fn"].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)["ARN"], map[string]any{"Fn::GetAtt": []any{"Dlq", "Arn"}}},
		{"!Equals [!Ref]", f.Conditions["IsProd"], map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Stage"}, "prod"}}},
		{"metadata", f.Resources["Fn"].Metadata, map[string]any{"BuildMethod": "makefile"}},
		{"no properties", f.Resources["Dlq"].Properties, map[string]any{}},
		{"parameter", f.Parameters["Stage"]["Default"], "dev"},
		{"globals", f.Globals["Function"], map[string]any{"Timeout": 5}},
	} {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	if err := f.KeepOnly([]string{"Fn", "Queue"}); err != nil || !reflect.DeepEqual(f.Order, []string{"Queue", "Fn"}) || f.Resources["Dlq"] != nil {
		t.Errorf("KeepOnly: %v %v", f.Order, err)
	}
	if err := f.KeepOnly([]string{"Nope"}); err == nil {
		t.Error("KeepOnly of an unknown id: no error")
	}
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"not mapping":  "- a\n- b\n",
		"no resources": "Parameters: {}\n",
		"bad yaml":     "Resources: [\n",
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
