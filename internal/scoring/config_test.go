package scoring

import (
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	c := Default()
	if c.Version != 1 || c.HalfLifeDays != 90 || c.Segments.AmbassadorMinScore != 60 || c.Segments.OpportunistMaxScore != 25 {
		t.Errorf("defaults %+v", c)
	}
	for _, seg := range []string{"ambassador", "future_ambassador", "opportunist"} {
		if p, ok := c.ProgramFor(seg); !ok || p.ID == "" || len(p.Rewards) == 0 || p.FriendOffer.Type == "" || p.ReferrerReward.Type == "" {
			t.Errorf("program for %s: %+v", seg, p)
		}
	}
	if c.ID() != Default().ID() || !strings.HasPrefix(c.ID(), "1-") {
		t.Errorf("id %q", c.ID())
	}
}

func TestOverride(t *testing.T) {
	t.Run("a map merges key by key", func(t *testing.T) {
		c, err := Load(`{"signals":{"email_click":{"points":3}},"average_basket_target":{"CHF":7000}}`)
		if err != nil {
			t.Fatal(err)
		}
		if w := c.Weight(EmailClick); w.Points != 3 || w.Cap != Default().Weight(EmailClick).Cap {
			t.Errorf("email_click %+v", w)
		}
		if c.AverageBasketTarget["CHF"] != 7000 || c.AverageBasketTarget["EUR"] != 6000 {
			t.Errorf("targets %v", c.AverageBasketTarget)
		}
		if c.ID() == Default().ID() {
			t.Error("the id does not tell the override apart")
		}
	})
	t.Run("from the environment", func(t *testing.T) {
		t.Setenv(EnvVar, `{"saturation_points": 80}`)
		c, err := FromEnv()
		if err != nil || c.SaturationPoints != 80 {
			t.Fatalf("%v %v", c, err)
		}
		t.Setenv(EnvVar, `{"saturation_points": -1}`)
		if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), EnvVar) {
			t.Errorf("err %v", err)
		}
	})
	for _, tc := range []struct{ name, doc, want string }{
		{"not an object", `[1,2]`, "must be a JSON object, not a list"},
		{"not JSON", `{"a":`, "must be JSON"},
		{"YAML", "version: 2\nhalf_life_days: 60\n", "must be JSON (YAML is not read)"},
		{"unknown field", `{"half_life": 30}`, "scoring config: half_life: unknown field"},
		{"unknown nested field", `{"signals":{"visit":{"pts":1}}}`, "scoring config: signals.visit.pts: unknown field"},
		{"a key twice", `{"version":2,"version":3}`, "scoring config: version: duplicate key"},
		{"a key's case", `{"Half_Life_Days":30}`, "scoring config: Half_Life_Days: unknown field"},
		{"a wrong type", `{"segments":{"lapsed_days":"90"}}`, "scoring config: segments.lapsed_days: want an integer, not a string"},
		{"unknown signal", `{"signals":{"tiktok_dance":{"points":1}}}`, "tiktok_dance: unknown signal"},
		{"negative points", `{"signals":{"visit":{"points":-1}}}`, "signals.visit"},
		{"zero half-life", `{"half_life_days": 0}`, "half_life_days"},
		{"score threshold over 100", `{"segments":{"ambassador_min_score": 120}}`, "ambassador_min_score"},
		{"two programs for a segment", `{"programs":{"loyalty":{"segment":"ambassador"}}}`, "both target"},
		{"unknown segment", `{"programs":{"vip":{"name":"VIP","segment":"vip","objective":"x","rewards":[{"type":"discount","description":"d"}],"friend_offer":{"type":"percent_off","value":5,"description":"d"},"referrer_reward":{"type":"discount","description":"d"}}}}`, "unknown segment"},
		{"bad reward type", `{"programs":{"loyalty":{"rewards":[{"type":"Cash!","description":"d"}]}}}`, "rewards[0].type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
