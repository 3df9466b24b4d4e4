package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/reten/reten-relay/schema"
)

func TestIndex_RelayoutKeepsEveryEntryAndHint(t *testing.T) {
	ix := newIndex()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1000
	ids := make([]string, n)
	for k := range ids {
		ids[k] = fmt.Sprintf("t%04d", k)
	}
	for _, k := range rng.Perm(n) { // slots numbered in an order unrelated to the listing
		ix.put(ids[k], Entry{RawHash: uint64(k) + 1, ChangeNo: uint64(k)})
	}
	for k := 0; k < n; k += 7 { // tombstones, some dropped: free slots
		ix.put(ids[k], Entry{Deleted: true, DeletedAt: 1, ChangeNo: uint64(k)})
		if k%2 == 0 {
			ix.drop(ids[k])
		}
	}
	// The listing: pages of 10 in id order, every live task once.
	want := map[[2]int]string{}
	for k := range n {
		s := ix.get(ids[k])
		if s == nil || s.deleted {
			continue
		}
		page, pos := k/10+1, k%10
		h := ix.pageHints(page, 10)
		h[pos] = slotOf(ix, ids[k])
		want[[2]int{page, pos}] = ids[k]
	}
	ix.relayout()
	if len(ix.slots) != ix.ids || len(ix.free) != 0 {
		t.Fatalf("%d slots, %d ids, %d free after relayout", len(ix.slots), ix.ids, len(ix.free))
	}
	for k := range n {
		s := ix.get(ids[k])
		switch {
		case k%14 == 0:
			if s != nil {
				t.Fatalf("%s was dropped but is back", ids[k])
			}
		case k%7 == 0:
			if s == nil || !s.deleted || s.changeNo != uint64(k) {
				t.Fatalf("tombstone %s = %+v", ids[k], s)
			}
		default:
			if s == nil || s.raw != uint64(k)+1 || s.changeNo != uint64(k) || s.deleted {
				t.Fatalf("%s = %+v", ids[k], s)
			}
		}
	}
	last := int32(-1)
	for page, h := range ix.hints {
		for pos, j := range h {
			id, ok := want[[2]int{page, pos}]
			if !ok {
				continue
			}
			if slotOf(ix, id) != j {
				t.Fatalf("hint %d/%d leads to slot %d, %s is in slot %d", page, pos, j, id, slotOf(ix, id))
			}
			if j != last+1 {
				t.Fatalf("hint %d/%d: slot %d after %d, want the listing's order", page, pos, j, last)
			}
			last = j
		}
	}
}

func TestWalk_HintsNeverHideAChange(t *testing.T) {
	ix := newIndex()
	task := func(id, v string) schema.Task {
		return schema.Task{ID: id, Raw: []byte(fmt.Sprintf(`{"id":%q,"v":%q}`, id, v))}
	}
	list := func(ts ...schema.Task) (changed []string) {
		t.Helper()
		w := newWalk(ix, defaultChunkSize)
		if err := w.page(1, ts); err != nil {
			t.Fatal(err)
		}
		pl := w.plan(Meta{Synced: true}, true)
		for _, c := range pl.changes {
			changed = append(changed, string(c.op)+":"+c.id)
		}
		ix.apply(pl)
		return changed
	}
	list(task("a", "1"), task("b", "1"), task("c", "1"))
	list(task("a", "1"), task("b", "1"), task("c", "1")) // hints set
	for _, tc := range []struct {
		name string
		ts   []schema.Task
		want string
	}{
		{"unchanged where it was", []schema.Task{task("a", "1"), task("b", "1"), task("c", "1")}, "[]"},
		{"changed where it was", []schema.Task{task("a", "1"), task("b", "2"), task("c", "1")}, "[updated:b]"},
		{"moved, unchanged", []schema.Task{task("c", "1"), task("a", "1"), task("b", "2")}, "[]"},
		{"a new task where another was", []schema.Task{task("d", "1"), task("a", "1"), task("b", "2")}, "[created:d]"},
		{"listed twice", []schema.Task{task("d", "1"), task("d", "1"), task("a", "1")}, "[]"},
	} {
		if got := fmt.Sprint(list(tc.ts...)); got != tc.want {
			t.Fatalf("%s: changes %s, want %s", tc.name, got, tc.want)
		}
	}
	// A dropped tombstone's slot is reused by another task: the old hint must not match.
	ix.put("d", Entry{Deleted: true})
	ix.drop("d")
	ix.put("e", Entry{RawHash: rawHash(task("e", "1").Raw)})
	if slotOf(ix, "e") != ix.hints[1][0] {
		t.Fatalf("e is in slot %d, the hint says %d: the test does not test the reuse", slotOf(ix, "e"), ix.hints[1][0])
	}
	if got := fmt.Sprint(list(task("d", "1"), task("a", "1"))); got != "[created:d]" {
		t.Fatalf("after a reuse: changes %s, want [created:d]", got)
	}
}

func slotOf(ix *index, id string) int32 {
	j, _ := ix.lookup(id)
	return j
}

// TestIndex_TableAgreesWithAMap puts, drops and relays out random ids and checks every
// lookup against a plain map, through table growth, back-shifting removals and arena
// rewrites.
func TestIndex_TableAgreesWithAMap(t *testing.T) {
	ix := newIndex()
	ix.minGarbage = 1000
	model := map[string]uint64{}
	rng := rand.New(rand.NewPCG(3, 4))
	id := func() string { return fmt.Sprintf("task-%d-%s", rng.IntN(30_000), strings.Repeat("x", rng.IntN(40))) }
	for step := range 200_000 {
		k := id()
		switch r := rng.IntN(10); {
		case r < 6:
			ix.put(k, Entry{RawHash: uint64(step)})
			model[k] = uint64(step)
		case r < 9:
			ix.put(k, Entry{Deleted: true, RawHash: uint64(step)})
			ix.drop(k)
			delete(model, k)
		default:
			if s := ix.get(k); (s != nil) != hasKey(model, k) || s != nil && s.raw != model[k] {
				t.Fatalf("step %d: get(%q) = %+v, model %d", step, k, s, model[k])
			}
		}
		if step%50_000 == 0 {
			ix.relayout()
		}
	}
	n := 0
	for k := range model { // most go: the arena is rewritten
		if n++; n%10 != 0 {
			ix.drop(k)
			delete(model, k)
		}
	}
	if ix.ids != len(model) || len(ix.slots)-len(ix.free) != len(model) {
		t.Fatalf("%d ids, %d slots (%d free), model %d", ix.ids, len(ix.slots), len(ix.free), len(model))
	}
	for k, v := range model {
		s := ix.get(k)
		if s == nil || s.raw != v || ix.idString(slotOf(ix, k)) != k {
			t.Fatalf("%q = %+v, want raw %d", k, s, v)
		}
	}
	if 2*ix.garbage > len(ix.arena) {
		t.Fatalf("arena %d bytes, %d garbage: never rewritten", len(ix.arena), ix.garbage)
	}
}

func hasKey(m map[string]uint64, k string) bool {
	_, ok := m[k]
	return ok
}

// A walk's found tasks come out in the order of their ids as strings, whether their
// 8-byte prefix keys tell them apart or not.
func TestWalk_IdOrderIsStringOrder(t *testing.T) {
	ids := []string{"b", "abcdefgh1", "ab", "ab\x00x", "abcdefgh0", "ab\x00", "a", "\xff", "abcdefgh", "abcdefg"}
	w := &walk{}
	for _, id := range ids {
		w.found = append(w.found, found{id: id})
	}
	var got []string
	for _, o := range w.idOrder() {
		got = append(got, w.found[o.i].id)
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
}
