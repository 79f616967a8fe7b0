// Command benchrescore measures one scheduled rescoring run on the local stack: it seeds N
// customers of which a fixed number is due for review, fires the daily schedule, and prints the
// DynamoDB reads and writes of the run (the fan-out and every review it caused) beside N and
// the due count, for growing N in one run. The cost must follow the due count, not N.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/usage"
)

func main() {
	sizes := flag.String("n", "1000,5000,20000", "customer base sizes, growing")
	due := flag.Int("due", 200, "customers due for review in each run")
	flag.Parse()
	if err := run(*sizes, *due); err != nil {
		fmt.Fprintln(os.Stderr, "bench-rescore:", err)
		os.Exit(1)
	}
}

func run(sizes string, due int) error {
	ctx := context.Background()
	fmt.Println("starting the local stack...")
	st, err := localrun.Start(ctx, localrun.Config{Quiet: true, ManualSchedules: true, ResourcePrefix: "benchrs-"})
	if err != nil {
		return err
	}
	defer st.Close()
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(st.DynamoDBEndpoint) }, awsclient.DynamoDBOptions)
	q := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(st.SQSEndpoint) })
	table := st.Resources["CustomersTable"]

	fmt.Printf("\nbench-rescore: one scheduled run, %d customers due each time\n\n", due)
	fmt.Printf("%8s %6s %10s %10s %10s %10s %12s %12s\n", "base N", "due", "read RU", "write WU", "reads/due", "writes/due", "DDB calls", "calls/due")
	seeded := 0
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < due {
			return fmt.Errorf("bad size %q", f)
		}
		now := time.Now().UTC()
		// The base grows with customers whose review is a month away; each round adds `due`
		// customers whose review has come.
		if err := seed(ctx, db, table, "base", seeded, n-due-seeded, now.Add(30*24*time.Hour)); err != nil {
			return err
		}
		round := fmt.Sprintf("due%d", n)
		if err := seed(ctx, db, table, round, 0, due, now.Add(-time.Hour)); err != nil {
			return err
		}
		seeded = n - due

		mark := usage.Start(st)
		payload := []byte(`{"version":"0","id":"bench","detail-type":"Scheduled Event","source":"aws.events","account":"000000000000","time":"` + now.Format(time.RFC3339) + `","region":"us-east-1","resources":[],"detail":{}}`)
		if _, err := st.Invoke(ctx, "ScheduleRescoreFunction", payload); err != nil {
			return err
		}
		waitIdle(ctx, q, st.Resources["RescoreQueue"])
		time.Sleep(500 * time.Millisecond) // the last batch's log line
		tot := usage.Sum(mark.Since(st))
		fmt.Printf("%8d %6d %10.1f %10.1f %10.2f %10.2f %12.0f %12.2f\n", n, due, tot.ReadUnits, tot.WriteUnits,
			tot.ReadUnits/float64(due), tot.WriteUnits/float64(due), tot.DynamoDBCalls, tot.DynamoDBCalls/float64(due))
	}
	fmt.Println("\nreads: the review index pages plus one strongly consistent read of each due customer;")
	fmt.Println("writes: one conditional write of each due customer (its next review moves forward).")
	return nil
}

// seed writes count minimal customer items (one purchase 10 days ago) with their next review at
// review, in batches of 25.
func seed(ctx context.Context, db *dynamodb.Client, table, prefix string, from, count int, review time.Time) error {
	purchase := strconv.FormatInt(time.Now().Add(-10*24*time.Hour).Unix(), 10)
	var batch []types.WriteRequest
	flush := func() error {
		for len(batch) > 0 {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}})
			if err != nil {
				return err
			}
			batch = out.UnprocessedItems[table]
		}
		return nil
	}
	for i := from; i < from+count; i++ {
		id := fmt.Sprintf("%s-%07d", prefix, i)
		s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
		n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"customer_id": s(id), "sk": s(dynamostore.ProfileSK), "v": n("1"), "n": n("1"), "o": n("1"),
			"fs": n(purchase), "lse": n(purchase), "fp": n(purchase), "lp": n(purchase),
			"sp":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"EUR": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"t": n("5000"), "o": n("1")}}}},
			"rv":  &types.AttributeValueMemberL{Value: []types.AttributeValue{n("0"), n("0"), n("0"), n("0"), n("0")}},
			"seg": s("future_ambassador"), "seg_shard": s(dynamostore.SegmentShard("future_ambassador", id)),
			"rv_shard": s(dynamostore.ReviewShard(id)), "rv_at": n(strconv.FormatInt(review.Unix(), 10)),
			"upd": n(purchase),
		}}})
		if len(batch) == 25 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func waitIdle(ctx context.Context, q *sqs.Client, url string) {
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
		if err == nil && out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			return
		}
	}
}
