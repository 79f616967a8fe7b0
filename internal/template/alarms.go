package template

// TypeAlarm is a CloudWatch alarm.
const TypeAlarm = "AWS::CloudWatch::Alarm"

// alarmDims returns an alarm's namespace, metric and dimension values (Name -> Value) as written.
func (t *Template) alarmDims(id string) (namespace, metric string, dims map[string]any) {
	props := t.Resources[id].Properties
	namespace, _ = props["Namespace"].(string)
	metric, _ = props["MetricName"].(string)
	dims = map[string]any{}
	for _, d := range asList(props["Dimensions"]) {
		if m, ok := d.(map[string]any); ok {
			if name, ok := m["Name"].(string); ok {
				dims[name] = m["Value"]
			}
		}
	}
	return namespace, metric, dims
}

// checkAlarms: every dead-letter queue has an alarm on ApproximateNumberOfMessagesVisible > 0,
// and every function an alarm on its Errors (Sum >= 1 over 5 minutes). Alarm actions, when set,
// go to the AlarmTopicArn parameter under a condition (an empty topic means no actions).
func checkAlarms(t *Template) []string {
	var p problems
	dlqAlarm, fnAlarm := map[string]bool{}, map[string]bool{}
	for _, id := range t.OfType(TypeAlarm) {
		props := t.Resources[id].Properties
		ns, metric, dims := t.alarmDims(id)
		n, _ := t.Int(props["Threshold"])
		period, _ := t.Int(props["Period"])
		op, _ := props["ComparisonOperator"].(string)
		stat, _ := props["Statistic"].(string)
		switch {
		case ns == "AWS/SQS" && metric == "ApproximateNumberOfMessagesVisible":
			q, attr, ok := GetAtt(dims["QueueName"])
			if !ok || attr != "QueueName" {
				p.addf("%s: dimension QueueName must be !GetAtt <DLQ>.QueueName, is %v", id, show(dims["QueueName"]))
				continue
			}
			if !(op == "GreaterThanThreshold" && n == 0) {
				p.addf("%s: must fire on more than 0 messages (ComparisonOperator: GreaterThanThreshold, Threshold: 0)", id)
				continue
			}
			dlqAlarm[q] = true
		case ns == "AWS/Lambda" && metric == "Errors":
			fn, ok := Ref(dims["FunctionName"])
			if !ok {
				p.addf("%s: dimension FunctionName must be !Ref <Function>, is %v", id, show(dims["FunctionName"]))
				continue
			}
			if !(stat == "Sum" && op == "GreaterThanOrEqualToThreshold" && n == 1 && period == 300) {
				p.addf("%s: must fire on Sum >= 1 over 300 s (Statistic: Sum, ComparisonOperator: GreaterThanOrEqualToThreshold, Threshold: 1, Period: 300)", id)
				continue
			}
			fnAlarm[fn] = true
		}
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if v, ok := props[key]; ok {
				m, _ := v.(map[string]any)
				if _, cond := m["Fn::If"]; !cond {
					p.addf("%s: %s must be !If [<condition on AlarmTopicArn>, [!Ref AlarmTopicArn], !Ref AWS::NoValue]", id, key)
				}
			}
		}
	}
	for _, q := range t.DLQs() {
		if !dlqAlarm[q] {
			p.addf("%s: dead-letter queue without an alarm; add an AWS::CloudWatch::Alarm on AWS/SQS ApproximateNumberOfMessagesVisible > 0 (QueueName: !GetAtt %s.QueueName)", q, q)
		}
	}
	for _, fn := range t.Functions() {
		if !fnAlarm[fn] {
			p.addf("%s: function without an errors alarm; add an AWS::CloudWatch::Alarm on AWS/Lambda Errors, Sum >= 1 over 300 s (FunctionName: !Ref %s)", fn, fn)
		}
	}
	return p.sorted()
}
