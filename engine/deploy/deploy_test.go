package deploy

import (
	"testing"
	"time"

	"github.com/gridflow/gridflow/engine/store"
)

func TestTimeoutsDefaults(t *testing.T) {
	got := Timeouts{Write: time.Minute}.WithDefaults()
	if got.Write != time.Minute || got.Boot != DefaultTimeouts.Boot || got.Of(store.StepCheck) != DefaultTimeouts.Check {
		t.Fatalf("%+v", got)
	}
	if one, three := got.Total(0), got.Total(2); three != 3*one || one < got.Write+got.Boot {
		t.Fatalf("Total(0) = %s, Total(2) = %s", one, three)
	}
}

func TestVisibility(t *testing.T) {
	alice := Viewer{Name: "alice", Projects: []string{"hpc"}}
	for _, c := range []struct {
		env  store.Environment
		want bool
	}{
		{store.Environment{Owner: PublicOwner, Visibility: store.VisibilityPublic}, true},
		{store.Environment{Owner: "alice", Visibility: store.VisibilityPrivate}, true},
		{store.Environment{Owner: "bob", Visibility: store.VisibilityPrivate}, false},
		{store.Environment{Owner: "bob", Project: "hpc", Visibility: store.VisibilityProject}, true},
		{store.Environment{Owner: "bob", Project: "ml", Visibility: store.VisibilityProject}, false},
	} {
		if got := alice.Visible(c.env); got != c.want {
			t.Errorf("Visible(%+v) = %v", c.env, got)
		}
	}
	if !(Viewer{Name: "root", Admin: true}).Visible(store.Environment{Owner: "bob", Visibility: store.VisibilityPrivate}) {
		t.Error("an administrator does not see a private environment")
	}
}

func TestSplitRefAndChecksum(t *testing.T) {
	if n, v := SplitRef("debian12-min@2024.1"); n != "debian12-min" || v != "2024.1" {
		t.Fatalf("%q %q", n, v)
	}
	if n, v := SplitRef("debian12-min"); n != "debian12-min" || v != "" {
		t.Fatalf("%q %q", n, v)
	}
	if CheckChecksum("sha256:nothex") == nil || CheckChecksum("md5:"+"00112233445566778899aabbccddeeff") != nil {
		t.Fatal("CheckChecksum")
	}
}

func TestTotalLeavesTimeForThePowerCycle(t *testing.T) {
	tmo := Timeouts{Boot: time.Minute}.WithDefaults()
	// The power cycle (bounded by the boot timeout) and the boot tried
	// once more after it.
	if got, want := tmo.TotalWithPowerCycle(2)-tmo.Total(2), 2*time.Minute; got != want {
		t.Fatalf("TotalWithPowerCycle adds %s, want %s", got, want)
	}
}
