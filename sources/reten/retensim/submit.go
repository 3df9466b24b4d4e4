package retensim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/reten/reten-relay/schema"
)

// RecordedResult is a result the simulator accepted.
type RecordedResult struct {
	ID         string
	TaskID     string
	Status     string
	Result     string
	Body       []byte
	At         time.Time
	Standalone bool
	Override   bool
}

// Results returns every accepted result, in arrival order.
func (s *Sim) Results() []RecordedResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RecordedResult(nil), s.results...)
}

// ResultsFor returns the accepted results of one task.
func (s *Sim) ResultsFor(taskID string) []RecordedResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RecordedResult
	for _, r := range s.results {
		if r.TaskID == taskID {
			out = append(out, r)
		}
	}
	return out
}

// SetResultTypes replaces the tenant's result types.
func (s *Sim) SetResultTypes(types ...schema.ResultType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resultTypes = append([]schema.ResultType(nil), types...)
}

// submitResult is POST /api/integration/activity-results/tasks, validated the way Reten's
// class-validator DTO would: 400 with every problem, 404 for an unknown activity, 409 when
// the activity already has a result (unless hard_override), 201 with the result.
func (s *Sim) submitResult(w http.ResponseWriter, r *http.Request) {
	ep := EndpointSubmit
	key, ok := s.authorize(w, r, ep, PermSubmitActivityResult)
	if !ok {
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, ep, http.StatusBadRequest, "could not read body")
		return
	}
	var msg schema.ResultMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&msg); err != nil {
		s.writeError(w, ep, http.StatusBadRequest, fmt.Sprintf("Unexpected token in JSON: %v", err))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if problems := s.validateLocked(msg); len(problems) > 0 {
		s.writeError(w, ep, http.StatusBadRequest, problems)
		return
	}
	var task *Task
	if msg.ActivityID != "" {
		task = s.byID[msg.ActivityID]
	} else {
		s.all.each(func(t *Task) bool {
			if t.ProviderActivityID != nil && *t.ProviderActivityID == msg.ProviderActivityID {
				task = t
			}
			return task == nil
		})
	}
	if task != nil && task.Tenant != key.tenant {
		task = nil // another tenant's task does not exist for this key
	}
	if task == nil && !s.standalone {
		s.writeError(w, ep, http.StatusNotFound, "Activity not found")
		return
	}
	taskID := ""
	if task != nil {
		taskID = task.ID
		if s.resultByTask[taskID] > 0 && !msg.HardOverride {
			s.writeError(w, ep, http.StatusConflict, "Activity already has a registered result")
			return
		}
		s.resultByTask[taskID]++
		occurred := msg.OccurredAt
		task.OccurredAt = &occurred
		status, code := msg.Status, msg.TaskResult.Result
		task.ResultStatus, task.ResultCode = &status, &code
		if msg.Status == schema.ResultPending {
			task.Status = "IN_PROGRESS"
		} else {
			task.Status = "COMPLETED"
		}
	}
	rec := RecordedResult{ID: s.uuid(), TaskID: taskID, Status: msg.Status, Result: msg.TaskResult.Result, Body: body,
		At: s.now(), Standalone: task == nil, Override: msg.HardOverride}
	s.results = append(s.results, rec)
	source := "RETEN_ACTIVITY"
	if rec.Standalone {
		source = "STANDALONE"
	}
	s.writeJSON(w, ep, http.StatusCreated, map[string]any{
		"id": rec.ID, "activityId": nilIfEmpty(taskID), "status": msg.Status, "resultTypeCode": msg.TaskResult.Result,
		"occurredAt": msg.OccurredAt, "source": source, "createdAt": iso(rec.At),
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// validateLocked returns class-validator style messages for everything wrong in msg.
func (s *Sim) validateLocked(msg schema.ResultMessage) []string {
	var p []string
	if msg.ActivityID == "" && msg.ProviderActivityID == "" {
		p = append(p, "activity_id or provider_activity_id must be provided")
	}
	if msg.CommerceExternalID == "" {
		p = append(p, "commerce_external_id should not be empty")
	}
	if _, err := time.Parse(time.RFC3339Nano, msg.OccurredAt); err != nil {
		p = append(p, "occurred_at must be a valid ISO 8601 date string")
	}
	switch msg.Status {
	case schema.ResultEffective, schema.ResultNotEffective, schema.ResultPending:
	default:
		p = append(p, "status must be one of the following values: EFFECTIVE, NOT_EFFECTIVE, PENDING")
	}
	tr := msg.TaskResult
	if tr.Result == "" {
		p = append(p, "task_result.result should not be empty")
		return p
	}
	if tr.ContactType != "" && tr.ContactType != "INBOUND" && tr.ContactType != "OUTBOUND" {
		p = append(p, "task_result.contact_type must be one of the following values: INBOUND, OUTBOUND")
	}
	var rt *schema.ResultType
	for i := range s.resultTypes {
		if strings.EqualFold(s.resultTypes[i].Code, tr.Result) {
			rt = &s.resultTypes[i]
		}
	}
	if rt == nil {
		p = append(p, fmt.Sprintf("task_result.result %q is not a valid result type for this tenant", tr.Result))
		return p
	}
	if rt.RequiresFutureScheduledAt {
		at, err := time.Parse(time.RFC3339Nano, tr.FutureScheduledAt)
		switch {
		case tr.FutureScheduledAt == "":
			p = append(p, fmt.Sprintf("task_result.future_scheduled_at is required for result %s", rt.Code))
		case err != nil:
			p = append(p, "task_result.future_scheduled_at must be a valid ISO 8601 date string")
		case !at.After(s.now()):
			p = append(p, "task_result.future_scheduled_at must be a future date")
		}
	}
	return p
}
