package retensim

import (
	"context"
	"fmt"
	"time"
)

// Task is one task activity, with the fields Reten's list shows (reten-api.md §2). The
// fields after CommerceName are inferred: the docs were cut off there.
type Task struct {
	ID                    string  `json:"id"`
	ActivityOrigin        string  `json:"activityOrigin"`
	Type                  string  `json:"type"`
	Status                string  `json:"status"`
	Channel               string  `json:"channel"`
	ScheduledAt           string  `json:"scheduledAt"`
	OccurredAt            *string `json:"occurredAt"`
	CreatedAt             string  `json:"createdAt"`
	LifecycleStatus       string  `json:"lifecycleStatus"`
	LifecycleStatusLabel  string  `json:"lifecycleStatusLabel"`
	LifecycleStatusDetail *string `json:"lifecycleStatusDetail"`
	CanForceRetryDispatch bool    `json:"canForceRetryDispatch"`
	CommerceExternalID    string  `json:"commerceExternalId"`
	CommerceName          string  `json:"commerceName"`
	// Inferred fields.
	OperatorExternalID *string `json:"operatorExternalId"`
	ProviderActivityID *string `json:"providerActivityId"`
	ResultStatus       *string `json:"resultStatus"`
	ResultCode         *string `json:"resultCode"`

	// Tenant owns the task; keys see only their tenant's tasks. Not serialised.
	Tenant string `json:"-"`
	seq    int64
	pos    [2]int // slots in the list of every task and in its tenant's (see taskList)
}

var (
	channels = []string{"SALESMAN", "CALLCENTER", "WHATSAPP", "EMAIL"}
	statuses = []string{"PENDING", "PENDING", "PENDING", "IN_PROGRESS"}
)

const isoMillis = "2006-01-02T15:04:05.000Z07:00"

func iso(t time.Time) string { return t.UTC().Format(isoMillis) }

func (s *Sim) uuid() string {
	h := s.randHex(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randomTaskLocked makes a plausible pending task.
func (s *Sim) randomTaskLocked() Task {
	n := s.rnd.IntN(900) + 100
	return Task{
		Status:             statuses[s.rnd.IntN(len(statuses))],
		Channel:            channels[s.rnd.IntN(len(channels))],
		ScheduledAt:        iso(s.now().Add(time.Duration(s.rnd.IntN(14*24)) * time.Hour).Truncate(time.Hour)),
		CommerceExternalID: fmt.Sprintf("COM-%03d", n),
		CommerceName:       fmt.Sprintf("Almacén %d", n),
	}
}

// addLocked fills the defaults of t and appends it at the end of the list.
func (s *Sim) addLocked(t Task) Task {
	if t.ID == "" {
		t.ID = s.uuid()
	}
	if t.Tenant == "" {
		t.Tenant = DefaultTenant
	}
	if t.ActivityOrigin == "" {
		t.ActivityOrigin = "ACTIVITY"
	}
	if t.Type == "" {
		t.Type = "TASK"
	}
	if t.Status == "" {
		t.Status = "PENDING"
	}
	if t.Channel == "" {
		t.Channel = "SALESMAN"
	}
	if t.CreatedAt == "" {
		t.CreatedAt = iso(s.now())
	}
	if t.ScheduledAt == "" {
		t.ScheduledAt = iso(s.now().Add(24 * time.Hour))
	}
	if t.LifecycleStatus == "" {
		t.LifecycleStatus, t.LifecycleStatusLabel = "SCHEDULED", "Programada"
	}
	if t.CommerceExternalID == "" {
		t.CommerceExternalID = "COM-001"
	}
	s.seq++
	t.seq = s.seq
	p := &t
	s.all.push(p)
	s.tenantList(t.Tenant).push(p)
	s.byID[t.ID] = p
	return t
}

func (s *Sim) addTasksLocked(tenant string, n int) []Task {
	out := make([]Task, 0, n)
	for range n {
		t := s.randomTaskLocked()
		t.Tenant = tenant
		out = append(out, s.addLocked(t))
	}
	return out
}

// AddTask adds a task at the end of the list, filling id, createdAt and other empty
// required fields, and returns it.
func (s *Sim) AddTask(t Task) Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(t)
}

// AddTasks adds n random tasks of the default tenant.
func (s *Sim) AddTasks(n int) []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addTasksLocked(DefaultTenant, n)
}

// UpdateTask changes a task in place; false when there is no such task.
func (s *Sim) UpdateTask(id string, f func(*Task)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byID[id]
	if ok {
		tenant := t.Tenant
		f(t)
		t.ID = id
		if t.Tenant != tenant { // it moves to the end of its new tenant's list
			t.Tenant, tenant = tenant, t.Tenant
			s.tenantList(t.Tenant).remove(t)
			t.Tenant = tenant
			s.tenantList(t.Tenant).push(t)
		}
	}
	return ok
}

// tenantList is a tenant's tasks in list order.
func (s *Sim) tenantList(tenant string) *taskList {
	l := s.tenants[tenant]
	if l == nil {
		l = &taskList{which: 1}
		s.tenants[tenant] = l
	}
	return l
}

// DeleteTask removes a task, shifting the later ones to earlier pages; false when there is
// no such task.
func (s *Sim) DeleteTask(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(id)
}

func (s *Sim) deleteLocked(id string) bool {
	t, ok := s.byID[id]
	if !ok {
		return false
	}
	delete(s.byID, id)
	s.all.remove(t)
	s.tenantList(t.Tenant).remove(t)
	return true
}

// Task returns a copy of one task.
func (s *Sim) Task(id string) (Task, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byID[id]
	if !ok {
		return Task{}, false
	}
	return *t, true
}

// Tasks returns copies of every task, in list order.
func (s *Sim) Tasks() []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Task, 0, s.all.live)
	s.all.each(func(t *Task) bool {
		out = append(out, *t)
		return true
	})
	return out
}

// Churn makes n random changes: adds, updates (status or schedule) and deletes.
func (s *Sim) Churn(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		switch k := s.rnd.IntN(10); {
		case k < 3 || s.all.live == 0:
			s.addTasksLocked(DefaultTenant, 1)
		case k < 9:
			t := s.all.at(s.rnd.IntN(s.all.live))
			if s.rnd.IntN(2) == 0 {
				t.Status = statuses[s.rnd.IntN(len(statuses))]
			} else {
				t.ScheduledAt = iso(s.now().Add(time.Duration(s.rnd.IntN(14*24)) * time.Hour).Truncate(time.Hour))
			}
		default:
			s.deleteLocked(s.all.at(s.rnd.IntN(s.all.live)).ID)
		}
	}
}

// StartChurn calls Churn(n) every interval until ctx is done.
func (s *Sim) StartChurn(ctx context.Context, every time.Duration, n int) {
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.Churn(n)
			}
		}
	}()
}
