package reten

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/reten/reten-relay/schema"
)

// Meta is the pagination block of a task page. Reten's integration docs do not show it;
// every other Reten list has {page, limit, total, totalPages}, so the client reads that and
// works without it.
type Meta struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	Total      int `json:"total"`
	TotalPages int `json:"totalPages"`
}

// Page is one page of the task list.
type Page struct {
	// Tasks are the items, each with its raw JSON exactly as Reten sent it.
	Tasks []schema.Task
	// Meta is nil when the answer had none.
	Meta *Meta
}

// DecodePage decodes a task page leniently: unknown fields are ignored, only each item's
// string id is required, and each item's bytes are kept as sent.
func DecodePage(data []byte) (Page, error) {
	var env struct {
		Data *[]json.RawMessage `json:"data"`
		Meta *Meta              `json:"meta"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&env); err != nil {
		return Page{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if dec.More() {
		return Page{}, fmt.Errorf("%w: trailing data after the page", ErrBadResponse)
	}
	if env.Data == nil {
		return Page{}, fmt.Errorf("%w: no \"data\" array", ErrBadResponse)
	}
	p := Page{Meta: env.Meta, Tasks: make([]schema.Task, 0, len(*env.Data))}
	for i, raw := range *env.Data {
		var item struct {
			ID *string `json:"id"`
		}
		if err := json.Unmarshal(raw, &item); err != nil {
			return Page{}, fmt.Errorf("%w: item %d: %w", ErrBadResponse, i, err)
		}
		if item.ID == nil || *item.ID == "" {
			return Page{}, fmt.Errorf("%w: item %d has no id", ErrBadResponse, i)
		}
		p.Tasks = append(p.Tasks, schema.Task{ID: *item.ID, Raw: raw})
	}
	return p, nil
}
