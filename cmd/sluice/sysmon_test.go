package main

import (
	"slices"
	"testing"
)

func TestSysmonEnv(t *testing.T) {
	for _, c := range []struct {
		name    string
		env     []string
		want    []string
		changed bool
	}{
		{"no GODEBUG", []string{"PATH=/bin"}, []string{"PATH=/bin", "GODEBUG=" + sysmonSetting}, true},
		{"empty GODEBUG", []string{"GODEBUG=", "A=1"}, []string{"GODEBUG=" + sysmonSetting, "A=1"}, true},
		{"other settings kept", []string{"GODEBUG=madvdontneed=1,gctrace=0"}, []string{"GODEBUG=madvdontneed=1,gctrace=0," + sysmonSetting}, true},
		{"operator's schedtrace wins", []string{"GODEBUG=schedtrace=0"}, []string{"GODEBUG=schedtrace=0"}, false},
		{"schedtrace among others", []string{"GODEBUG=gctrace=0, schedtrace=1000"}, []string{"GODEBUG=gctrace=0, schedtrace=1000"}, false},
		{"scheddetail is not schedtrace", []string{"GODEBUG=scheddetail=1"}, []string{"GODEBUG=scheddetail=1," + sysmonSetting}, true},
		{"only the first GODEBUG counts", []string{"GODEBUG=a=1", "GODEBUG=schedtrace=0"}, []string{"GODEBUG=a=1," + sysmonSetting}, true},
		{"a name that ends in GODEBUG", []string{"XGODEBUG=schedtrace=0"}, []string{"XGODEBUG=schedtrace=0", "GODEBUG=" + sysmonSetting}, true},
	} {
		got, changed := sysmonEnv(c.env)
		if changed != c.changed || !slices.Equal(got, c.want) {
			t.Errorf("%s: sysmonEnv(%q) = %q, %v; want %q, %v", c.name, c.env, got, changed, c.want, c.changed)
		}
	}
}

// After the exec the environment has the setting: no second exec.
func TestSysmonEnvIdempotent(t *testing.T) {
	env, _ := sysmonEnv([]string{"GODEBUG=gctrace=0"})
	if again, changed := sysmonEnv(env); changed || !slices.Equal(again, env) {
		t.Errorf("second sysmonEnv(%q) = %q, %v; want it unchanged", env, again, changed)
	}
}
