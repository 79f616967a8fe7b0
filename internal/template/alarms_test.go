package template

import (
	"testing"
)

func TestAlarmsOnEveryDLQAndFunction(t *testing.T) {
	tmpl := loadProject(t)
	reportProblems(t, checkAlarms(tmpl))
	if _, ok := tmpl.Parameters["AlarmTopicArn"]; !ok {
		t.Error("template.yaml: no AlarmTopicArn parameter for the alarms' actions")
	}
}

// A template with a DLQ and a function but only half their alarms, and alarms of the wrong
// shape, fails the check naming each gap.
func TestAlarmsCheckCatchesGaps(t *testing.T) {
	const broken = `
Parameters:
  AlarmTopicArn: {Type: String, Default: ""}
Conditions:
  HasAlarmTopic: !Not [!Equals [!Ref AlarmTopicArn, ""]]
Resources:
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt WorkDLQ.Arn, maxReceiveCount: 5}
  WorkDLQ:
    Type: AWS::SQS::Queue
  OtherQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt OtherDLQ.Arn, maxReceiveCount: 5}
  OtherDLQ:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
  Reader:
    Type: AWS::Serverless::Function
  WorkDLQAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions: [{Name: QueueName, Value: !GetAtt WorkDLQ.QueueName}]
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
  OtherDLQAlarmTooLate:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions: [{Name: QueueName, Value: !GetAtt OtherDLQ.QueueName}]
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 10
      ComparisonOperator: GreaterThanThreshold
  WorkerErrors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{Name: FunctionName, Value: !Ref Worker}]
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      AlarmActions: [!Ref AlarmTopicArn]
`
	tmpl, err := Parse([]byte(broken))
	if err != nil {
		t.Fatal(err)
	}
	assertProblems(t, checkAlarms(tmpl), []string{
		"OtherDLQAlarmTooLate: must fire on more than 0 messages",
		"OtherDLQ: dead-letter queue without an alarm",
		"Reader: function without an errors alarm",
		"WorkerErrors: AlarmActions must be !If",
	})

	// The same with the gaps filled passes.
	fixed, err := Parse([]byte(broken + `
  OtherDLQAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions: [{Name: QueueName, Value: !GetAtt OtherDLQ.QueueName}]
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
  ReaderErrors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{Name: FunctionName, Value: !Ref Reader}]
      Statistic: Sum
      Period: 300
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
`))
	if err != nil {
		t.Fatal(err)
	}
	assertProblems(t, checkAlarms(fixed), []string{
		"OtherDLQAlarmTooLate: must fire on more than 0 messages",
		"WorkerErrors: AlarmActions must be !If",
	})
}
