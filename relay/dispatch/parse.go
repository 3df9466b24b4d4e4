package dispatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// activity is one pushed activity: its id and its JSON exactly as received.
type activity struct {
	id  string
	raw json.RawMessage
}

// readBody reads the whole body, failing with *http.MaxBytesError past limit.
func readBody(req *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(nil, req.Body, limit))
}

// parseActivities accepts one JSON object with an id, or a non-empty array of them. The id
// may be a string or a number (reten-api.md: the payload's shape is not documented).
func parseActivities(body []byte) (acts []activity, isArray bool, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, false, errors.New("empty body: want an activity object or an array of them")
	}
	if !json.Valid(trimmed) {
		return nil, false, errors.New("malformed JSON")
	}
	var raws []json.RawMessage
	if trimmed[0] == '[' {
		isArray = true
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, true, fmt.Errorf("want an array of activity objects: %w", err)
		}
		if len(raws) == 0 {
			return nil, true, errors.New("empty array: no activity to publish")
		}
	} else {
		raws = []json.RawMessage{trimmed}
	}
	seen := make(map[string]bool, len(raws))
	for i, raw := range raws {
		id, err := activityID(raw)
		if err != nil {
			if isArray {
				return nil, true, fmt.Errorf("activity %d: %w", i, err)
			}
			return nil, false, err
		}
		if seen[id] {
			return nil, isArray, fmt.Errorf("activity %d: id %q appears twice in one push", i, id)
		}
		seen[id] = true
		acts = append(acts, activity{id: id, raw: raw})
	}
	return acts, isArray, nil
}

// activityID returns the object's id as a string.
func activityID(raw json.RawMessage) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return "", errors.New("want a JSON object with an id")
	}
	idRaw, ok := obj["id"]
	if !ok {
		return "", errors.New("activity has no id")
	}
	var s string
	if json.Unmarshal(idRaw, &s) == nil {
		if s == "" {
			return "", errors.New("activity id is empty")
		}
		return s, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(idRaw))
	dec.UseNumber()
	if dec.Decode(&n) == nil {
		if _, err := strconv.ParseFloat(n.String(), 64); err == nil {
			return n.String(), nil
		}
	}
	return "", errors.New("activity id must be a string or a number")
}

// problem is the JSON body of an error answer.
func problem(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

// answer is the body of a 200: {"id": ...} for one activity, {"ids": [...]} for an array.
func answer(acts []activity, isArray bool) []byte {
	var b []byte
	if isArray {
		ids := make([]string, len(acts))
		for i, a := range acts {
			ids[i] = a.id
		}
		b, _ = json.Marshal(map[string][]string{"ids": ids})
	} else {
		b, _ = json.Marshal(map[string]string{"id": acts[0].id})
	}
	return b
}
