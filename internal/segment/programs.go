package segment

import "github.com/referral-engine/referral-engine/internal/scoring"

// Program is a referral program (configured in the scoring config).
type Program = scoring.Program

// Programs lists the programs for GET /v1/programs, in segment order: Ambassador,
// Accelerator, Loyalty.
func Programs(cfg *scoring.Config) []Program {
	out := make([]Program, 0, 3)
	for _, seg := range []string{Ambassador, FutureAmbassador, Opportunist} {
		if p, ok := cfg.ProgramFor(seg); ok {
			out = append(out, p)
		}
	}
	return out
}

// Programs lists the evaluator's programs.
func (e *Evaluator) Programs() []Program { return Programs(e.cfg) }
