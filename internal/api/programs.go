package api

import (
	"time"

	"github.com/referral-engine/referral-engine/internal/referral"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// ProgramRules are the terms a program's vouchers and rewards run under, as configured for
// this stack (VOUCHER_LIMITS, ReturnWindowDays, ReferrerMonthlyCap, ReferrerPoints): what a
// marketing tool needs to describe the program to customers.
type ProgramRules struct {
	VoucherValidDays   int    `json:"voucher_valid_days"`
	VoucherUseLimit    int    `json:"voucher_use_limit"`
	CodePrefix         string `json:"code_prefix,omitempty"`
	ReturnWindowDays   int    `json:"return_window_days"`   // the referrer's reward is held this long
	ReferrerMonthlyCap int    `json:"referrer_monthly_cap"` // rewarded referrals per referrer and month
	// ReferrerPoints are the loyalty points of a successful referral when the program's
	// referrer reward is not a number of points itself.
	ReferrerPoints int64 `json:"referrer_points"`
}

// RulesOf combines the voucher rules and the referral terms per program.
func RulesOf(vr *voucher.Rules, rt referral.Terms) map[string]ProgramRules {
	out := map[string]ProgramRules{}
	for _, id := range vr.Programs() {
		t, _ := vr.Terms(id)
		out[id] = ProgramRules{
			VoucherValidDays: int(t.ValidFor / (24 * time.Hour)), VoucherUseLimit: t.UseLimit, CodePrefix: t.Prefix,
			ReturnWindowDays: int(rt.ReturnWindow / (24 * time.Hour)), ReferrerMonthlyCap: rt.MonthlyCap, ReferrerPoints: rt.Points[id],
		}
	}
	return out
}

// programView is a program of GET /v1/programs: its definition and its rules.
type programView struct {
	scoring.Program
	Rules ProgramRules `json:"rules"`
}

func programViews(ps []scoring.Program, rules map[string]ProgramRules) []programView {
	out := make([]programView, len(ps))
	for i, p := range ps {
		out[i] = programView{Program: p, Rules: rules[p.ID]}
	}
	return out
}
