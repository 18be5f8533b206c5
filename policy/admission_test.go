package policy

import (
	"fmt"
	"net"
	"testing"
	"time"
)

func mustBudget(t *testing.T, startups string, perSource int) *Budget {
	t.Helper()
	st, err := ParseStartups(startups)
	if err != nil {
		t.Fatal(err)
	}
	return NewBudget(Limits{Startups: st, MaxStartupsPerSource: perSource}, nil)
}

func TestBudget(t *testing.T) {
	a, b, c := net.ParseIP("10.0.0.1"), net.ParseIP("10.0.0.2"), net.ParseIP("10.0.0.3")
	bud := mustBudget(t, "2:50:4", 3)
	roll := 0
	bud.SetRand(func() int { return roll })

	// Below start: admitted.
	r1, err := bud.Admit(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bud.Admit(a); err != nil {
		t.Fatal(err)
	}
	// At start, a source with a connection in progress is dropped with
	// probability rate (50 %): a roll of 0 drops, 99 admits.
	if _, err := bud.Admit(a); err != ErrPreAuthDropped {
		t.Errorf("third from a at start with roll 0: got %v, want ErrPreAuthDropped", err)
	}
	roll = 99
	if _, err := bud.Admit(a); err != nil {
		t.Errorf("third from a with roll 99: got %v", err)
	}
	// Per source: a has 3.
	if _, err := bud.Admit(a); err != ErrPreAuthSource {
		t.Errorf("fourth from a: got %v, want ErrPreAuthSource", err)
	}
	// A source with none in progress is admitted whatever the roll,
	// until full.
	roll = 0
	if _, err := bud.Admit(b); err != nil {
		t.Errorf("first from b: got %v", err)
	}
	if _, err := bud.Admit(c); err != ErrPreAuthFull {
		t.Errorf("at full: got %v, want ErrPreAuthFull", err)
	}
	r1()
	r1() // idempotent
	if n := bud.InProgress(); n != 3 {
		t.Errorf("in progress after one release: %d, want 3", n)
	}
	if _, err := bud.Admit(c); err != nil {
		t.Errorf("after a release: got %v", err)
	}
}

func TestBudgetAllowList(t *testing.T) {
	a := net.ParseIP("10.0.0.1")
	st, _ := ParseStartups("1:100:10")
	bud := NewBudget(Limits{Startups: st, MaxStartupsPerSource: 1}, func(ip net.IP) bool { return ip.Equal(a) })
	for i := range 5 {
		if _, err := bud.Admit(a); err != nil {
			t.Fatalf("allowed source, connection %d: %v", i+1, err)
		}
	}
}

func TestParseStartups(t *testing.T) {
	for _, ok := range []string{"10:30:100", "5", "0:100:1"} {
		if _, err := ParseStartups(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a:b:c", "10:30", "10:101:100", "20:30:10", "0", "-1:2:3", "1:2:3:4"} {
		if _, err := ParseStartups(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// clock is a manual clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time       { return c.t }
func (c *clock) add(d time.Duration)  { c.t = c.t.Add(d) }
func newClock() *clock                { return &clock{t: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)} }
func ban(d *Defender, ip net.IP) bool { _, ok := d.Banned(ip); return ok }
func defender(p Penalties) (*Defender, *clock) {
	c := newClock()
	var cfg Config
	cfg.Penalties = p
	if err := cfg.fillPenalties(); err != nil {
		panic(err)
	}
	d := NewDefender(cfg.Penalties)
	d.Now = c.now
	return d, c
}

func TestDefenderBansGrow(t *testing.T) {
	d, clk := defender(Penalties{})
	var got []Ban
	d.OnBan = func(b Ban) { got = append(got, b) }
	ip := net.ParseIP("192.0.2.7")
	// Threshold 20, a failed password 2: the tenth bans.
	for i := 1; i <= 9; i++ {
		if d.Add(ip, EventPassword) {
			t.Fatalf("banned after %d failures", i)
		}
	}
	if !d.Add(ip, EventPassword) || !ban(d, ip) {
		t.Fatal("not banned after 10 failures")
	}
	if len(got) != 1 || got[0].Until != clk.t.Add(time.Minute) || got[0].Count != 1 || got[0].Reason != "failed password" {
		t.Errorf("first ban: %+v", got)
	}
	// Other sources are not affected.
	if ban(d, net.ParseIP("192.0.2.8")) {
		t.Error("another address banned")
	}
	// While banned, events do not extend the ban.
	d.Add(ip, EventPassword)
	clk.add(time.Minute)
	if ban(d, ip) {
		t.Fatal("still banned after 1m")
	}
	// The second ban lasts twice as long.
	for range 5 {
		d.Add(ip, EventUnknownUser)
	}
	if len(got) != 2 || got[1].Until != clk.t.Add(2*time.Minute) || got[1].Count != 2 {
		t.Errorf("second ban: %+v", got)
	}
	if bs := d.Bans(); len(bs) != 1 || bs[0].Source != "192.0.2.7" {
		t.Errorf("Bans: %+v", bs)
	}
	// Doubling, capped at max_ban_time.
	for range 8 {
		clk.t = got[len(got)-1].Until.Add(time.Second)
		for range 5 {
			d.Add(ip, EventUnknownUser)
		}
	}
	var durs []time.Duration
	for i, b := range got {
		if i > 0 {
			durs = append(durs, b.Until.Sub(got[i-1].Until.Add(time.Second)))
		}
	}
	want := []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour, time.Hour, time.Hour}
	if len(got) != 10 || fmt.Sprint(durs[1:]) != fmt.Sprint(want[1:]) { // the second ban was checked above
		t.Errorf("ban durations: got %v, want %v", durs, want)
	}
	// Repetition is forgotten after a quiet max_ban_time + observation.
	clk.t = got[len(got)-1].Until.Add(2 * time.Hour)
	for range 5 {
		d.Add(ip, EventUnknownUser)
	}
	if b := got[len(got)-1]; b.Count != 1 || b.Until != clk.t.Add(time.Minute) {
		t.Errorf("ban after a quiet time: %+v", b)
	}
}

func TestDefenderObservationAndAllow(t *testing.T) {
	d, clk := defender(Penalties{Allow: []string{"10.1.0.0/16", "::1"}})
	ip := net.ParseIP("198.51.100.1")
	// Points older than the observation window no longer count.
	for range 9 {
		d.Add(ip, EventPassword)
	}
	clk.add(11 * time.Minute)
	if d.Add(ip, EventPassword) {
		t.Error("banned by points older than the observation window")
	}
	for _, a := range []string{"10.1.2.3", "::1"} {
		ip := net.ParseIP(a)
		for range 50 {
			if d.Add(ip, EventUnknownUser) {
				t.Fatalf("allow-listed %s banned", a)
			}
		}
	}
	// IPv6 sources are /64s.
	x, y := net.ParseIP("2001:db8:1:2::1"), net.ParseIP("2001:db8:1:2:ffff::9")
	for range 5 {
		d.Add(x, EventUnknownUser)
	}
	if !ban(d, y) {
		t.Error("another address of the same /64 not banned")
	}
}

func TestDefenderOffAndOverflow(t *testing.T) {
	off := false
	d, _ := defender(Penalties{Enabled: &off})
	ip := net.ParseIP("198.51.100.2")
	for range 50 {
		if d.Add(ip, EventUnknownUser) {
			t.Fatal("banned with penalties off")
		}
	}
	d, _ = defender(Penalties{MaxSources: 2})
	d.Add(net.ParseIP("198.51.100.3"), EventPassword)
	d.Add(net.ParseIP("198.51.100.4"), EventPassword)
	third := net.ParseIP("198.51.100.5")
	for range 50 {
		if d.Add(third, EventUnknownUser) {
			t.Fatal("a source beyond max_sources scored")
		}
	}
}

func TestPenaltyConfig(t *testing.T) {
	c, err := Parse("/x/sluice.toml", []byte("[limits]\nhandshake_timeout = \"30s\"\nmax_startups = \"3:50:9\"\n[penalties]\nenabled = false\nallow = [\"127.0.0.1\", \"10.0.0.0/8\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.LoginGraceTime != 30*time.Second || c.Limits.Startups != (Startups{3, 50, 9}) || c.Penalties.On() || len(c.Penalties.AllowNets) != 2 {
		t.Errorf("got %+v %+v", c.Limits, c.Penalties)
	}
	for _, bad := range []string{
		"[limits]\nmax_startups = \"9:50:3\"\n",
		"[limits]\nlogin_grace_time = \"1m\"\nhandshake_timeout = \"2m\"\n",
		"[penalties]\nallow = [\"not-an-address\"]\n",
		"[penalties]\nmax_ban_time = \"1s\"\n",
		"[penalties]\nthreshold = -1\n",
	} {
		if _, err := Parse("/x/sluice.toml", []byte(bad)); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

// TestDefenderSetPenalties (reload of [penalties]): a lower threshold
// applies to the next event, counting the points already scored; the
// allow-list and off take effect at once; a ban given before stays.
func TestDefenderSetPenalties(t *testing.T) {
	d, _ := defender(Penalties{})
	a, b := net.ParseIP("192.0.2.1"), net.ParseIP("192.0.2.2")
	for range 3 { // 6 of the default threshold 20
		if d.Add(a, EventPassword) {
			t.Fatal("banned under the default threshold")
		}
	}
	var cfg Config
	cfg.Penalties = Penalties{Threshold: 8}
	if err := cfg.fillPenalties(); err != nil {
		t.Fatal(err)
	}
	d.SetPenalties(cfg.Penalties)
	if !d.Add(a, EventPassword) || !ban(d, a) {
		t.Fatal("not banned at 8 points after the threshold was lowered to 8")
	}
	off := false
	cfg.Penalties.Enabled = &off
	d.SetPenalties(cfg.Penalties)
	if ban(d, a) || d.Add(b, EventUnknownUser) {
		t.Error("penalties off: a ban or a score still counts")
	}
	on := true
	cfg.Penalties.Enabled = &on
	cfg.Penalties.Allow = []string{"192.0.2.2/32"}
	if err := cfg.fillPenalties(); err != nil {
		t.Fatal(err)
	}
	d.SetPenalties(cfg.Penalties)
	if !ban(d, a) {
		t.Error("penalties on again: the ban given before is gone")
	}
	for range 10 {
		if d.Add(b, EventUnknownUser) {
			t.Fatal("an allow-listed source was banned")
		}
	}
}
