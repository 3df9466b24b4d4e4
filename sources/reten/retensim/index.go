package retensim

// taskList keeps tasks in list order with access by position in O(log n), so a page costs
// O(page + log n) rather than a scan of every task. A deleted task leaves a hole that a
// Fenwick tree of live counts skips; holes are compacted away once they are half the list.
// Each task is in two lists (every task, its tenant's); which says which position field
// of the task this list maintains.
type taskList struct {
	which int
	slots []*Task
	tree  []int32 // Fenwick tree, 1-based: tree[i] counts live slots in (i-lowbit(i), i]
	live  int
}

func lowbit(i int) int { return i & -i }

// prefix counts live slots among the first i.
func (l *taskList) prefix(i int) int {
	n := 0
	for ; i > 0; i -= lowbit(i) {
		n += int(l.tree[i])
	}
	return n
}

// push appends t at the end of the list.
func (l *taskList) push(t *Task) {
	if len(l.tree) == 0 {
		l.tree = append(l.tree, 0) // index 0 is unused
	}
	l.slots = append(l.slots, t)
	i := len(l.slots) // 1-based index of the new slot
	l.tree = append(l.tree, int32(1+l.prefix(i-1)-l.prefix(i-lowbit(i))))
	t.pos[l.which] = i - 1
	l.live++
}

// remove takes t out of the list; later tasks move one place to the front.
func (l *taskList) remove(t *Task) {
	at := t.pos[l.which]
	if at < 0 || at >= len(l.slots) || l.slots[at] != t {
		return
	}
	l.slots[at] = nil
	for i := at + 1; i < len(l.tree); i += lowbit(i) {
		l.tree[i]--
	}
	l.live--
	if holes := len(l.slots) - l.live; holes > 1024 && holes > l.live {
		l.compact()
	}
}

func (l *taskList) compact() {
	live := make([]*Task, 0, l.live)
	for _, t := range l.slots {
		if t != nil {
			live = append(live, t)
		}
	}
	l.slots, l.tree, l.live = l.slots[:0], l.tree[:0], 0
	clear(l.slots[:cap(l.slots)])
	for _, t := range live {
		l.push(t)
	}
}

// slot is the index of the live task at list position k (0-based), or -1.
func (l *taskList) slot(k int) int {
	if k < 0 || k >= l.live {
		return -1
	}
	pos, rem := 0, k+1
	for step := highBit(len(l.tree) - 1); step > 0; step >>= 1 {
		if next := pos + step; next < len(l.tree) && int(l.tree[next]) < rem {
			pos = next
			rem -= int(l.tree[next])
		}
	}
	return pos // 1-based pos+1 is the slot, 0-based it is pos
}

func highBit(n int) int {
	b := 1
	for b*2 <= n {
		b *= 2
	}
	if n == 0 {
		return 0
	}
	return b
}

// at is the task at list position k.
func (l *taskList) at(k int) *Task {
	if s := l.slot(k); s >= 0 {
		return l.slots[s]
	}
	return nil
}

// window returns up to n tasks from list position from on.
func (l *taskList) window(from, n int) []*Task {
	s := l.slot(from)
	if s < 0 {
		return nil
	}
	out := make([]*Task, 0, min(n, l.live-from))
	for ; s < len(l.slots) && len(out) < n; s++ {
		if t := l.slots[s]; t != nil {
			out = append(out, t)
		}
	}
	return out
}

// each calls f with every task in list order until f returns false.
func (l *taskList) each(f func(*Task) bool) {
	for _, t := range l.slots {
		if t != nil && !f(t) {
			return
		}
	}
}
