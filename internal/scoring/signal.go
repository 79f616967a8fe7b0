package scoring

// Signal is one source of engagement points (SPEC §2).
type Signal int

// The signals, in breakdown order.
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
	// key names the signal's windows in Signals.Windows; "" for states, which the aggregate holds.
	key string
	// organic signals show engagement that no reward bought (opportunist rule).
	organic bool
}

var signals = [numSignals]signalInfo{
	EmailOpen:          {"email_open", "eo", false}, // passive, and inflated by mail privacy proxies
	EmailClick:         {"email_click", "ec", true},
	Visit:              {"visit", "vi", true},
	VisitDuration:      {"visit_duration", "vd", true},
	NPSPromoter:        {"nps_promoter", "n9", true},
	NPSPassive:         {"nps_passive", "n7", true},
	NPSDetractor:       {"nps_detractor", "n0", true},
	SurveyAnswer:       {"survey_answer", "sa", true},
	Review5Star:        {"review_5_star", "r5", true},
	Review4Star:        {"review_4_star", "r4", true},
	ReviewLow:          {"review_low", "r1", true},
	Comment:            {"comment", "cm", true},
	Purchase:           {"purchase", "pu", false}, // full-price orders count as organic separately
	AverageBasket:      {"average_basket", "", false},
	ProfileField:       {"profile_field", "", true},
	LoyaltyMember:      {"loyalty_member", "", true},
	SocialFollow:       {"social_follow", "", true},
	ReferralShare:      {"referral_share", "sh", false}, // rewards may be what drives sharing
	ReferralClick:      {"referral_click", "rc", false},
	ReferralSignup:     {"referral_signup", "rs", false},
	SuccessfulReferral: {"successful_referral", "rr", false},
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
func (s Signal) Event() bool { return s >= 0 && s < numSignals && signals[s].key != "" }

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
