package robustness

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-oci/berth/tests/testkit"
)

// TestRaceCreateSameID: of parallel creates of one id exactly one wins; the
// others fail with "already exists" and leave nothing of theirs behind.
func TestRaceCreateSameID(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle("sleep", "1000")
	const rounds, racers = 3, 6
	for round := 0; round < rounds; round++ {
		id := w.NewID()
		results := make([]result, racers)
		testkit.Together(racers, func(i int) { results[i] = w.start(opts{}, "create", "--bundle", b.Dir, id).Wait() })
		won := 0
		for _, r := range results {
			switch {
			case r.OK():
				won++
			case r.TimedOut || r.Panicked() || !strings.Contains(r.Stderr, "already exists"):
				t.Errorf("round %d: a losing create must fail with \"already exists\": %s", round, r)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d of %d parallel creates of %s succeeded, want exactly 1", round, won, racers, id)
		}
		if st, r := w.state(id); st == nil || st.Status != "created" || !testkit.Alive(st.Pid) {
			t.Errorf("round %d: state after the race: want created with a live pid, got %+v: %s", round, st, r)
		}
		w.must("delete", id)
		w.checkClean(fmt.Sprintf("round %d: %d parallel creates of one id, then delete", round, racers), id)
	}
}

// TestRaceCreateManyIDs: parallel creates of distinct ids all succeed, and
// parallel deletes remove them all.
func TestRaceCreateManyIDs(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle("sleep", "1000")
	const n = 8
	cids := w.NewIDs(n)
	parallel := func(args func(id string) []string) []result {
		out := make([]result, n)
		testkit.Together(n, func(i int) { out[i] = w.start(opts{}, args(cids[i])...).Wait() })
		return out
	}
	for _, r := range parallel(func(id string) []string { return []string{"create", "--bundle", b.Dir, id} }) {
		if !r.OK() {
			t.Errorf("parallel create of distinct ids: %s", r)
		}
	}
	lr := w.must("list", "--format", "json")
	var all []testkit.State
	if err := json.Unmarshal([]byte(lr.Stdout), &all); err != nil {
		t.Fatalf("list: %v: %s", err, lr)
	}
	created := map[string]bool{}
	for _, s := range all {
		if s.Status == "created" && testkit.Alive(s.Pid) {
			created[s.ID] = true
		}
	}
	for _, id := range cids {
		if !created[id] {
			t.Errorf("list does not show %s as created with a live pid: %s", id, lr.Stdout)
		}
	}
	for _, r := range parallel(func(id string) []string { return []string{"delete", "--force", id} }) {
		if !r.OK() {
			t.Errorf("parallel delete --force: %s", r)
		}
	}
	w.checkClean("parallel creates and deletes of distinct ids", cids...)
}

// TestRaceStartDelete races start against delete --force on a created
// container: delete always succeeds, start succeeds or fails cleanly, and
// afterwards nothing of the container is left.
func TestRaceStartDelete(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle("sleep", "1000")
	const rounds = 12
	startWon := 0
	for round := 0; round < rounds; round++ {
		id := w.NewID()
		w.must("create", "--bundle", b.Dir, id)
		var wg sync.WaitGroup
		var sr, dr result
		wg.Add(2)
		go func() { defer wg.Done(); sr = w.start(opts{timeout: 15 * time.Second}, "start", id).Wait() }()
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(round%4) * time.Millisecond)
			dr = w.start(opts{timeout: 15 * time.Second}, "delete", "--force", id).Wait()
		}()
		wg.Wait()
		if !dr.OK() {
			t.Errorf("round %d: delete --force racing start: %s", round, dr)
		}
		if sr.OK() {
			startWon++
		} else if sr.TimedOut || sr.Panicked() || strings.TrimSpace(sr.Stderr) == "" {
			t.Errorf("round %d: start racing delete --force hung, panicked or failed silently: %s", round, sr)
		}
		if st, r := w.state(id); st != nil || !strings.Contains(r.Stderr, "does not exist") {
			t.Errorf("round %d: after the race: want \"does not exist\", got %+v: %s", round, st, r)
		}
		w.checkClean(fmt.Sprintf("round %d: start racing delete --force", round), id)
	}
	t.Logf("%d rounds: start finished first (succeeded) in %d", rounds, startWon)
}

// TestRaceSignalStateLoops hammers a running container with kill, state,
// list, ps and pause/resume from several goroutines: every state parses as
// JSON, nothing hangs or panics, and delete --force cleans up afterwards.
func TestRaceSignalStateLoops(t *testing.T) {
	w := newWorld(t)
	b := w.newBundle("sh", "-c", `trap "" USR1 HUP; while :; do sleep 1; done`)
	id := w.NewID()
	w.must("run", "--detach", "--bundle", b.Dir, id)
	first := w.waitStatus(id, "running", 10*time.Second)

	const loopFor = 3 * time.Second
	deadline := time.Now().Add(loopFor)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	loop := func(name string, op func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				mu.Lock()
				counts[name]++
				mu.Unlock()
			}
		}()
	}
	bounded := func(args ...string) result { return w.start(opts{timeout: 10 * time.Second}, args...).Wait() }
	nkill := 0
	loop("kill", func() error {
		nkill++
		sig := []string{"USR1", "HUP", "CONT"}[nkill%3]
		if r := bounded("kill", id, sig); !r.OK() {
			return fmt.Errorf("kill %s: %s", sig, r)
		}
		return nil
	})
	loop("state", func() error {
		r := bounded("state", id)
		var st testkit.State
		if !r.OK() || json.Unmarshal([]byte(r.Stdout), &st) != nil {
			return fmt.Errorf("state did not print a JSON state: %s", r)
		}
		if (st.Status != "running" && st.Status != "paused") || st.Pid != first.Pid {
			return fmt.Errorf("state says %+v, want running or paused with pid %d", st, first.Pid)
		}
		return nil
	})
	loop("list", func() error {
		r := bounded("list", "--format", "json")
		var all []testkit.State
		if !r.OK() || json.Unmarshal([]byte(r.Stdout), &all) != nil || len(all) != 1 {
			return fmt.Errorf("list did not print one container: %s", r)
		}
		return nil
	})
	loop("ps", func() error {
		r := bounded("ps", "--format", "json", id)
		var pids []int
		if !r.OK() || json.Unmarshal([]byte(r.Stdout), &pids) != nil || len(pids) == 0 {
			return fmt.Errorf("ps --format json: %s", r)
		}
		return nil
	})
	loop("pause/resume", func() error {
		if r := bounded("pause", id); !r.OK() {
			return fmt.Errorf("pause: %s", r)
		}
		if r := bounded("resume", id); !r.OK() {
			return fmt.Errorf("resume: %s", r)
		}
		return nil
	})
	wg.Wait()
	t.Logf("in %v: %v", loopFor, counts)
	if st, r := w.state(id); st == nil || st.Status != "running" || st.Pid != first.Pid {
		t.Errorf("after the loops: want running with pid %d, got %+v: %s", first.Pid, st, r)
	}
	w.must("delete", "--force", id)
	if testkit.Alive(first.Pid) {
		t.Errorf("init pid %d alive after delete --force", first.Pid)
	}
	w.checkClean("kill/state/list/ps/pause loops, then delete --force", id)
}
