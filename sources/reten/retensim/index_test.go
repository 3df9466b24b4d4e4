package retensim

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTaskList_AgreesWithASliceUnderRandomAddsAndDeletes checks positions, windows and
// compaction against the obvious implementation.
func TestTaskList_AgreesWithASliceUnderRandomAddsAndDeletes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var (
		l    taskList
		want []*Task
	)
	for step := range 20000 {
		if len(want) == 0 || rnd.IntN(3) > 0 && step < 12000 {
			task := &Task{ID: string(rune(step))}
			l.push(task)
			want = append(want, task)
		} else {
			i := rnd.IntN(len(want))
			l.remove(want[i])
			want = slices.Delete(want, i, i+1)
		}
		if l.live != len(want) {
			t.Fatalf("step %d: live %d, want %d", step, l.live, len(want))
		}
		if len(want) > 0 && step%97 == 0 {
			k := rnd.IntN(len(want))
			if l.at(k) != want[k] {
				t.Fatalf("step %d: position %d differs", step, k)
			}
			if got := l.window(k, 100); !slices.Equal(got, want[k:min(k+100, len(want))]) {
				t.Fatalf("step %d: window at %d differs", step, k)
			}
		}
	}
	if l.at(len(want)) != nil || l.window(len(want), 10) != nil {
		t.Fatal("positions past the end must be empty")
	}
}
