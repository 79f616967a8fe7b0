package scoring

import (
	"reflect"
	"testing"
)

// The defaults decoded directly (Load's path without an override) are the same configuration
// as the defaults merged with an empty override and printed again (the general path).
func TestLoadWithoutOverrideEqualsMergedPath(t *testing.T) {
	fast, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	slow, err := loadMerged("")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("the direct decode differs from the merged one:\n%+v\n%+v", fast, slow)
	}
	if braces, _ := Load(" {} "); !reflect.DeepEqual(braces, fast) {
		t.Fatal(`Load("{}") differs from Load("")`)
	}
}

func BenchmarkLoadDefaults(b *testing.B) {
	for b.Loop() {
		if _, err := Load("{}"); err != nil {
			b.Fatal(err)
		}
	}
}
