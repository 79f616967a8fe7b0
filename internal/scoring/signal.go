package scoring

// Signal is one source of engagement points (SPEC §2).
type Signal int

// The signals, in breakdown order. Their numbers are stored (codec.go): append, never renumber.
const (
	EmailOpen Signal = iota
	EmailClick
	Visit
	VisitDuration
	NPSPromoter
	NPSPassive
	NPSDetractor
	SurveyAnswer
	Review5Star
	Review4Star
	ReviewLow
	Comment
	Purchase
	AverageBasket
	ProfileField
	LoyaltyMember
	SocialFollow
	ReferralShare
	ReferralClick
	ReferralSignup
	SuccessfulReferral
	numSignals
)

type signalInfo struct {
	name string
	// event signals are dated events, decayed and capped per window; the others are states,
	// which the aggregate holds.
	event bool
	// organic signals show engagement that no reward bought (opportunist rule).
	organic bool
}

var signals = [numSignals]signalInfo{
	EmailOpen:          {"email_open", true, false}, // passive, and inflated by mail privacy proxies
	EmailClick:         {"email_click", true, true},
	Visit:              {"visit", true, true},
	VisitDuration:      {"visit_duration", true, true},
	NPSPromoter:        {"nps_promoter", true, true},
	NPSPassive:         {"nps_passive", true, true},
	NPSDetractor:       {"nps_detractor", true, true},
	SurveyAnswer:       {"survey_answer", true, true},
	Review5Star:        {"review_5_star", true, true},
	Review4Star:        {"review_4_star", true, true},
	ReviewLow:          {"review_low", true, true},
	Comment:            {"comment", true, true},
	Purchase:           {"purchase", true, false}, // full-price orders count as organic separately
	AverageBasket:      {"average_basket", false, false},
	ProfileField:       {"profile_field", false, true},
	LoyaltyMember:      {"loyalty_member", false, true},
	SocialFollow:       {"social_follow", false, true},
	ReferralShare:      {"referral_share", true, false}, // rewards may be what drives sharing
	ReferralClick:      {"referral_click", true, false},
	ReferralSignup:     {"referral_signup", true, false},
	SuccessfulReferral: {"successful_referral", true, false},
}

// String is the signal's name in configs and breakdowns.
func (s Signal) String() string {
	if s < 0 || s >= numSignals {
		return "unknown"
	}
	return signals[s].name
}

// Organic reports whether the signal shows engagement no reward paid for.
func (s Signal) Organic() bool { return s >= 0 && s < numSignals && signals[s].organic }

// Event reports whether the signal is made of dated events (decayed and capped per window),
// rather than a state.
func (s Signal) Event() bool { return s >= 0 && s < numSignals && signals[s].event }

// AllSignals lists every signal in breakdown order.
func AllSignals() []Signal {
	out := make([]Signal, numSignals)
	for i := range out {
		out[i] = Signal(i)
	}
	return out
}

// SignalNamed returns the signal with the given name.
func SignalNamed(name string) (Signal, bool) {
	for i, s := range signals {
		if s.name == name {
			return Signal(i), true
		}
	}
	return 0, false
}
