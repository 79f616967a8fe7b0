package interaction

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/apperr"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func item(typ, props string) string {
	return fmt.Sprintf(`{"event_id":"e1","customer_id":"c1","type":%q,"occurred_at":"2026-11-20T10:00:00Z","properties":%s}`, typ, props)
}

func TestParseValidTypes(t *testing.T) {
	cases := []struct {
		name, body string
		check      func(t *testing.T, in Interaction)
	}{
		{"purchase", item("purchase", `{"order_id":"o1","total":12050,"currency":"EUR","discount_used":true,"referral_code":"anna-7kq2xh"}`), func(t *testing.T, in Interaction) {
			if *in.Properties.Total != 12050 || !*in.Properties.DiscountUsed || in.Properties.ReferralCode != "ANNA-7KQ2XH" {
				t.Errorf("got %+v", in.Properties)
			}
		}},
		{"purchase total as 12.0", item("purchase", `{"order_id":"o1","total":12.0,"currency":"USD"}`), func(t *testing.T, in Interaction) {
			if *in.Properties.Total != 12 {
				t.Errorf("total %d", *in.Properties.Total)
			}
		}},
		{"refund", item("refund", `{"order_id":"o1","amount":500}`), nil},
		{"email_open", item("email_open", `{"campaign_id":"bf-2026"}`), nil},
		{"email_click", item("email_click", `{"campaign_id":"bf-2026","link_id":"hero"}`), nil},
		{"visit", item("visit", `{"duration_seconds":320,"pages":4}`), nil},
		{"nps", item("nps", `{"score":10}`), func(t *testing.T, in Interaction) {
			if *in.Properties.Score != 10 {
				t.Errorf("score %d", *in.Properties.Score)
			}
		}},
		{"nps zero", item("nps", `{"score":0}`), nil},
		{"survey_answer", item("survey_answer", `{"survey_id":"s1"}`), nil},
		{"review", item("review", `{"stars":5,"review_id":"r1"}`), nil},
		{"comment without properties", `{"event_id":"e1","customer_id":"c1","type":"comment","occurred_at":"2026-11-20T10:00:00+01:00"}`, func(t *testing.T, in Interaction) {
			if !in.OccurredAt.Equal(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)) || in.OccurredAt.Location() != time.UTC {
				t.Errorf("occurred_at %v", in.OccurredAt)
			}
		}},
		{"profile_update", item("profile_update", `{"fields":{"birthday":"02-29","preferences":["shoes","bags"],"newsletter":true}}`), func(t *testing.T, in Interaction) {
			if in.Properties.Fields["birthday"] != "02-29" || in.Properties.Fields["preferences"] != "shoes,bags" || in.Properties.Fields["newsletter"] != "true" {
				t.Errorf("fields %v", in.Properties.Fields)
			}
		}},
		{"loyalty_join", item("loyalty_join", `{}`), nil},
		{"social_follow", item("social_follow", `{"network":"instagram"}`), nil},
		{"referral_share", item("referral_share", `{"code":"ANNA-7KQ2XH","channel":"whatsapp"}`), nil},
		{"signup", item("signup", `{"referral_code":"ANNA-7KQ2XH"}`), nil},
		{"4 minutes ahead", strings.Replace(item("comment", `{}`), "2026-11-20T10:00:00Z", "2026-11-23T12:04:00Z", 1), nil},
		{"history import", strings.Replace(item("comment", `{}`), "2026-11-20T10:00:00Z", "2019-01-01T00:00:00Z", 1), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ins, err := Parse([]byte(tc.body), now)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(ins) != 1 {
				t.Fatalf("got %d interactions", len(ins))
			}
			if tc.check != nil {
				tc.check(t, ins[0])
			}
		})
	}
}

func TestParseRefusals(t *testing.T) {
	batch := func(items ...string) string { return `{"interactions":[` + strings.Join(items, ",") + `]}` }
	good := item("email_open", `{"campaign_id":"c"}`)
	cases := []struct {
		name, body, field, code string
	}{
		{"not json", `{`, "body", apperr.CodeInvalidJSON},
		{"array root", `[]`, "body", apperr.CodeInvalidJSON},
		{"trailing data", good + `{}`, "body", apperr.CodeInvalidJSON},
		{"unknown top field", `{"event_id":"e","customer_id":"c","type":"comment","occurred_at":"2026-11-20T10:00:00Z","extra":1}`, "extra", apperr.CodeInvalidField},
		{"missing event_id", `{"customer_id":"c","type":"comment","occurred_at":"2026-11-20T10:00:00Z"}`, "event_id", apperr.CodeInvalidField},
		{"bad event_id chars", `{"event_id":"a b","customer_id":"c","type":"comment","occurred_at":"2026-11-20T10:00:00Z"}`, "event_id", apperr.CodeInvalidField},
		{"long customer_id", `{"event_id":"e","customer_id":"` + strings.Repeat("c", 129) + `","type":"comment","occurred_at":"2026-11-20T10:00:00Z"}`, "customer_id", apperr.CodeInvalidField},
		{"unknown type", item("tweet", `{}`), "type", apperr.CodeInvalidField},
		{"type not string", `{"event_id":"e","customer_id":"c","type":5,"occurred_at":"2026-11-20T10:00:00Z"}`, "type", apperr.CodeInvalidField},
		{"no time zone", strings.Replace(good, "2026-11-20T10:00:00Z", "2026-11-20T10:00:00", 1), "occurred_at", apperr.CodeInvalidField},
		{"date only", strings.Replace(good, "2026-11-20T10:00:00Z", "2026-11-20", 1), "occurred_at", apperr.CodeInvalidField},
		{"6 minutes ahead", strings.Replace(good, "2026-11-20T10:00:00Z", "2026-11-23T12:06:00Z", 1), "occurred_at", apperr.CodeInvalidField},
		{"year typo", strings.Replace(good, "2026-11-20T10:00:00Z", "0202-11-20T10:00:00Z", 1), "occurred_at", apperr.CodeInvalidField},
		{"properties not object", item("comment", `[]`), "properties", apperr.CodeInvalidField},
		{"purchase missing total", item("purchase", `{"order_id":"o","currency":"EUR"}`), "properties.total", apperr.CodeInvalidField},
		{"purchase negative total", item("purchase", `{"order_id":"o","total":-1,"currency":"EUR"}`), "properties.total", apperr.CodeInvalidField},
		{"purchase fractional total", item("purchase", `{"order_id":"o","total":12.5,"currency":"EUR"}`), "properties.total", apperr.CodeInvalidField},
		{"purchase total string", item("purchase", `{"order_id":"o","total":"12","currency":"EUR"}`), "properties.total", apperr.CodeInvalidField},
		{"purchase huge total", item("purchase", `{"order_id":"o","total":1e30,"currency":"EUR"}`), "properties.total", apperr.CodeInvalidField},
		{"purchase lower-case currency", item("purchase", `{"order_id":"o","total":1,"currency":"eur"}`), "properties.currency", apperr.CodeInvalidField},
		{"purchase unknown currency", item("purchase", `{"order_id":"o","total":1,"currency":"ABC"}`), "properties.currency", apperr.CodeInvalidField},
		{"purchase discount not bool", item("purchase", `{"order_id":"o","total":1,"currency":"EUR","discount_used":"yes"}`), "properties.discount_used", apperr.CodeInvalidField},
		{"purchase bad referral code", item("purchase", `{"order_id":"o","total":1,"currency":"EUR","referral_code":"a b"}`), "properties.referral_code", apperr.CodeInvalidField},
		{"purchase empty order id", item("purchase", `{"order_id":"","total":1,"currency":"EUR"}`), "properties.order_id", apperr.CodeInvalidField},
		{"purchase order id padded", item("purchase", `{"order_id":" o","total":1,"currency":"EUR"}`), "properties.order_id", apperr.CodeInvalidField},
		{"purchase unknown property", item("purchase", `{"order_id":"o","total":1,"currency":"EUR","coupon":"X"}`), "properties.coupon", apperr.CodeInvalidField},
		{"refund zero", item("refund", `{"order_id":"o","amount":0}`), "properties.amount", apperr.CodeInvalidField},
		{"visit too long", item("visit", `{"duration_seconds":86401}`), "properties.duration_seconds", apperr.CodeInvalidField},
		{"visit zero pages", item("visit", `{"duration_seconds":10,"pages":0}`), "properties.pages", apperr.CodeInvalidField},
		{"nps 11", item("nps", `{"score":11}`), "properties.score", apperr.CodeInvalidField},
		{"nps missing", item("nps", `{}`), "properties.score", apperr.CodeInvalidField},
		{"review 0 stars", item("review", `{"stars":0,"review_id":"r"}`), "properties.stars", apperr.CodeInvalidField},
		{"review 6 stars", item("review", `{"stars":6,"review_id":"r"}`), "properties.stars", apperr.CodeInvalidField},
		{"review without id", item("review", `{"stars":5}`), "properties.review_id", apperr.CodeInvalidField},
		{"email without campaign", item("email_open", `{}`), "properties.campaign_id", apperr.CodeInvalidField},
		{"profile without fields", item("profile_update", `{}`), "properties.fields", apperr.CodeInvalidField},
		{"profile bad birthday", item("profile_update", `{"fields":{"birthday":"13-01"}}`), "properties.fields.birthday", apperr.CodeInvalidField},
		{"profile birthday 02-30", item("profile_update", `{"fields":{"birthday":"02-30"}}`), "properties.fields.birthday", apperr.CodeInvalidField},
		{"profile bad field name", item("profile_update", `{"fields":{"Birth Day":"x"}}`), "properties.fields.Birth Day", apperr.CodeInvalidField},
		{"profile object value", item("profile_update", `{"fields":{"address":{"city":"Rome"}}}`), "properties.fields.address", apperr.CodeInvalidField},
		{"social bad network", item("social_follow", `{"network":"Insta Gram"}`), "properties.network", apperr.CodeInvalidField},
		{"share without channel", item("referral_share", `{"code":"ANNA-1"}`), "properties.channel", apperr.CodeInvalidField},
		{"empty batch", batch(), "interactions", apperr.CodeInvalidField},
		{"batch not array", `{"interactions":{}}`, "interactions", apperr.CodeInvalidField},
		{"batch extra key", `{"interactions":[` + good + `],"x":1}`, "x", apperr.CodeInvalidField},
		{"batch item not object", batch(good, `5`), "interactions[1]", apperr.CodeInvalidField},
		{"bad item 3 in batch", batch(good, good, good, item("review", `{"stars":9,"review_id":"r"}`)), "interactions[3].properties.stars", apperr.CodeInvalidField},
		{"batch of 101", batch(strings.Split(strings.Repeat(good+"\n", 101), "\n")[:101]...), "interactions", apperr.CodeTooLarge},
		{"body over limit", `{"interactions":[` + strings.Repeat(" ", MaxBody) + `]}`, "body", apperr.CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ins, err := Parse([]byte(tc.body), now)
			if err == nil {
				t.Fatalf("Parse accepted %d interactions; want refusal on %s", len(ins), tc.field)
			}
			e, ok := apperr.As(err)
			if !ok {
				t.Fatalf("error %v is not an *apperr.Error", err)
			}
			if e.Field != tc.field || e.Code != tc.code {
				t.Errorf("got field %q code %q (%s); want field %q code %q", e.Field, e.Code, e.Message, tc.field, tc.code)
			}
			if e.Status < 400 || e.Status > 499 {
				t.Errorf("status %d is not a 4xx", e.Status)
			}
		})
	}
}

func TestParseBatchOf100(t *testing.T) {
	items := make([]string, MaxBatch)
	for i := range items {
		items[i] = strings.Replace(item("visit", `{"duration_seconds":30}`), `"e1"`, fmt.Sprintf(`"e%d"`, i), 1)
	}
	ins, err := Parse([]byte(`{"interactions":[`+strings.Join(items, ",")+`]}`), now)
	if err != nil || len(ins) != MaxBatch {
		t.Fatalf("got %d, %v", len(ins), err)
	}
	if ins[99].EventID != "e99" {
		t.Errorf("order not kept: %s", ins[99].EventID)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(item("purchase", `{"order_id":"o1","total":12050,"currency":"EUR"}`)))
	f.Add([]byte(`{"interactions":[` + item("review", `{"stars":5,"review_id":"r"}`) + `]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ins, err := Parse(body, now)
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, in := range ins {
			if in.EventID == "" || in.CustomerID == "" || specs[in.Type] == nil || in.OccurredAt.After(now.Add(MaxFuture)) {
				t.Fatalf("accepted invalid %+v", in)
			}
		}
	})
}
