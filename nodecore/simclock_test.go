package nodecore

import (
	"testing"
	"time"
)

func TestSimClockFollowsClockMessages(t *testing.T) {
	c := &SimClock{Period: time.Second}
	if !c.Now().IsZero() {
		t.Fatalf("before the first /clock message Now = %v, want zero", c.Now())
	}
	base := time.Unix(1000, 0)
	got := func() (time.Time, bool) {
		select {
		case tick := <-c.Ticks():
			return tick, true
		default:
			return time.Time{}, false
		}
	}
	c.Set(base)
	if _, ok := got(); ok {
		t.Fatal("the first clock message started a period, it must not tick")
	}
	c.Set(base.Add(500 * time.Millisecond))
	if _, ok := got(); ok {
		t.Fatal("ticked before a period had passed")
	}
	c.Set(base.Add(1000 * time.Millisecond))
	if tick, ok := got(); !ok || !tick.Equal(base.Add(time.Second)) {
		t.Fatalf("tick after one period = %v, %v; want %v", tick, ok, base.Add(time.Second))
	}
	// A jump of an hour (a gap in the bag) gives one tick, not 3600.
	c.Set(base.Add(time.Hour))
	c.Set(base.Add(time.Hour + time.Millisecond))
	if _, ok := got(); !ok {
		t.Fatal("no tick after the jump")
	}
	if _, ok := got(); ok {
		t.Fatal("more than one tick for one jump")
	}
	// Back in time (bag --loop): the period restarts there.
	c.Set(base)
	if !c.Now().Equal(base) {
		t.Fatalf("Now after a jump back = %v, want %v", c.Now(), base)
	}
	c.Set(base.Add(999 * time.Millisecond))
	if _, ok := got(); ok {
		t.Fatal("ticked within the first period after a jump back")
	}
	c.Set(base.Add(time.Second))
	if _, ok := got(); !ok {
		t.Fatal("no tick one period after a jump back")
	}
}

// Before the first /clock message, wall ticks stand in, so that the diagnostics can say nothing is
// published on /clock; after it, only sim time ticks.
func TestSimClockTicksOnTheWallClockUntilTheFirstClockMessage(t *testing.T) {
	c := &SimClock{Period: time.Second}
	c.WallTick()
	c.WallTick() // not queued twice
	select {
	case <-c.Ticks():
	default:
		t.Fatal("no tick from the wall clock while /clock is silent")
	}
	select {
	case <-c.Ticks():
		t.Fatal("two ticks queued")
	default:
	}
	c.Set(time.Unix(1000, 0))
	c.WallTick()
	select {
	case <-c.Ticks():
		t.Fatal("a wall tick passed on after the first /clock message")
	default:
	}
}

// /clock at ROS time 0 (a simulator publishing its clock before it starts) is no time yet, as for
// rclcpp: frames wait, and wall ticks stand in for the diagnostics.
func TestSimClockAtRosTimeZeroIsNoTimeYet(t *testing.T) {
	c := &SimClock{Period: time.Second}
	c.Set(time.Unix(5, 0))
	c.Set(time.Unix(0, 0))
	if !c.Now().IsZero() {
		t.Fatalf("at ROS time 0 Now = %v, want zero", c.Now())
	}
	select {
	case <-c.Ticks(): // the tick of the first message, if any
	default:
	}
	c.WallTick()
	select {
	case <-c.Ticks():
	default:
		t.Fatal("no wall tick while /clock stands at 0")
	}
	c.Set(time.Unix(7, 0))
	if !c.Now().Equal(time.Unix(7, 0)) {
		t.Fatalf("Now = %v, want %v", c.Now(), time.Unix(7, 0))
	}
}

// A /clock that stops (a bag played to its end) must not silence the diagnostics: after
// simTickGrace wall periods without a sim tick, wall ticks stand in again, until sim time ticks anew.
func TestSimClockTicksOnTheWallClockWhenTheClockStops(t *testing.T) {
	c := &SimClock{Period: time.Second}
	ticked := func() bool {
		select {
		case <-c.Ticks():
			return true
		default:
			return false
		}
	}
	base := time.Unix(1000, 0)
	c.Set(base)
	c.Set(base.Add(time.Second))
	if !ticked() {
		t.Fatal("no sim tick after a period")
	}
	// A clock at the wall's pace: each sim tick resets the count, no wall tick passes.
	for i := 2; i < 6; i++ {
		c.WallTick()
		c.Set(base.Add(time.Duration(i) * time.Second))
		if !ticked() {
			t.Fatalf("no sim tick at %d s", i)
		}
		if ticked() {
			t.Fatalf("a wall tick passed on while sim time ticks (at %d s)", i)
		}
	}
	// The clock stops.
	for i := range simTickGrace {
		c.WallTick()
		if ticked() {
			t.Fatalf("wall tick %d of the grace passed on", i+1)
		}
	}
	for i := range 3 {
		c.WallTick()
		if !ticked() {
			t.Fatalf("wall tick %d after the grace was not passed on: the diagnostics fall silent", i+1)
		}
	}
	// It runs again: sim time ticks, and wall ticks are held back once more.
	c.Set(base.Add(10 * time.Second))
	if !ticked() {
		t.Fatal("no sim tick when the clock runs again")
	}
	c.WallTick()
	if ticked() {
		t.Fatal("a wall tick passed on right after a sim tick")
	}
}

// Sim time at a quarter of the wall's pace (ros2 bag play --rate 0.25): the wall's stand-in ticks and
// the sim's never come moments apart, which gave a diagnostics window with nothing in it (WARN "no
// frame served" flapping with OK). Every gap between two ticks is at least a wall period.
func TestSimClockAtASlowRateNeverTicksTwiceInAPeriod(t *testing.T) {
	for _, rate := range []float64{0.1, 0.25, 0.3, 0.34, 0.5} {
		c := &SimClock{Period: time.Second}
		base := time.Unix(1000, 0)
		var ticks []time.Duration // wall time of each tick
		take := func(wall time.Duration) {
			select {
			case <-c.Ticks():
				ticks = append(ticks, wall)
			default:
			}
		}
		for wall := time.Duration(0); wall <= 40*time.Second; wall += 10 * time.Millisecond {
			c.Set(base.Add(time.Duration(float64(wall) * rate)))
			take(wall)
			if wall > 0 && wall%time.Second == 0 {
				c.WallTick()
				take(wall)
			}
		}
		if len(ticks) < 10 {
			t.Fatalf("rate %v: %d ticks in 40 s", rate, len(ticks))
		}
		for i := 1; i < len(ticks); i++ {
			if gap := ticks[i] - ticks[i-1]; gap < 990*time.Millisecond {
				t.Fatalf("rate %v: ticks %v apart at %v (all: %v)", rate, gap, ticks[i], ticks)
			}
		}
	}
}

// A period of 0 sends no diagnostics tick at all (SimClock.Period): none as sim time moves, however
// far, and no wall tick standing in, before the first /clock message or after it stopped.
func TestSimClockOfPeriodZeroSendsNoTicks(t *testing.T) {
	c := &SimClock{}
	c.WallTick()
	base := time.Unix(1000, 0)
	for _, at := range []time.Duration{0, time.Second, time.Hour} {
		c.Set(base.Add(at))
	}
	for range simTickGrace + 2 {
		c.WallTick()
	}
	select {
	case tick := <-c.Ticks():
		t.Fatalf("a tick (%v) with a period of 0", tick)
	default:
	}
}
