package referralstore

import "sort"

func sortLeaders(l []Leader) {
	sort.Slice(l, func(i, j int) bool {
		if l[i].SuccessfulReferrals != l[j].SuccessfulReferrals {
			return l[i].SuccessfulReferrals > l[j].SuccessfulReferrals
		}
		return l[i].CustomerID < l[j].CustomerID
	})
}
