package reten

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// benchPage is a page of n tasks of about 960 bytes each, shaped like Reten's items with
// the inferred fields, escapes and nested values.
func benchPage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"a1b2c3d4-e5f6-7890-abcd-%012d","activityOrigin":"ACTIVITY","type":"TASK","status":"PENDING",`+
			`"channel":"SALESMAN","scheduledAt":"2026-04-15T09:00:00.000Z","occurredAt":null,"createdAt":"2026-04-10T14:30:00.000Z",`+
			`"lifecycleStatus":"SCHEDULED","lifecycleStatusLabel":"Programada","lifecycleStatusDetail":null,"canForceRetryDispatch":false,`+
			`"commerceExternalId":"COM-%03d","commerceName":"Almac\u00e9n %d \"Centro\"","operatorExternalId":"OP-%04d","providerActivityId":null,`+
			`"resultStatus":null,"resultCode":null,"priority":%d,"score":%d.25,"tags":["ruta-norte","prioridad-alta","cliente-frecuente"],`+
			`"address":{"street":"Avenida Libertador Bernardo O'Higgins 1234","city":"Santiago","region":"Metropolitana","lat":-33.4489,"lng":-70.6693},`+
			`"notes":"Visitar antes del mediodía; el encargado atiende de lunes a viernes. Llevar catálogo de temporada y lista de precios actualizada.",`+
			`"metrics":{"lastOrderDays":12,"avgTicket":45123.5,"orders":[3,5,8,13,21]}}`,
			i, i%1000, i, i%10000, i%5, i)
	}
	fmt.Fprintf(&b, `],"meta":{"page":1,"limit":%d,"total":%d,"totalPages":1}}`, n, n)
	return []byte(b.String())
}

func reportTasks(b *testing.B, perOp int, data []byte, allocs float64) {
	b.ReportMetric(float64(b.N)*float64(perOp)/b.Elapsed().Seconds(), "tasks/s")
	b.ReportMetric(allocs/float64(perOp), "allocs/task")
	b.ReportMetric(float64(len(data))/float64(perOp), "bytes/task")
}

// BenchmarkDecodePage decodes a fresh page each time, as DecodePage's callers do.
func BenchmarkDecodePage(b *testing.B) {
	data := benchPage(100)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if p, err := DecodePage(data); err != nil || len(p.Tasks) != 100 {
			b.Fatal(err)
		}
	}
	reportTasks(b, 100, data, testing.AllocsPerRun(20, func() { _, _ = DecodePage(data) }))
}

// BenchmarkDecodePage_Walk decodes with a reused decoder, as a listing's workers do.
func BenchmarkDecodePage_Walk(b *testing.B) {
	data := benchPage(100)
	var d pageDecoder
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if p, err := d.decode(data); err != nil || len(p.Tasks) != 100 {
			b.Fatal(err)
		}
	}
	reportTasks(b, 100, data, testing.AllocsPerRun(20, func() { _, _ = d.decode(data) }))
}

// BenchmarkDecodePage_JSONValidAnchor is encoding/json's validating scan of the same
// page: the physical anchor a one-pass decoder is measured against.
func BenchmarkDecodePage_JSONValidAnchor(b *testing.B) {
	data := benchPage(100)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if !json.Valid(data) {
			b.Fatal("invalid")
		}
	}
	reportTasks(b, 100, data, 0)
}

// simPage is a page shaped like the simulator's: ~500-byte tasks, many nulls.
func simPage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"5f0c%04d-1e2d-4c3b-8a79-6d5e4f3a2b1c","activityOrigin":"ACTIVITY","type":"TASK","status":"PENDING","channel":"SALESMAN","scheduledAt":"2026-11-30T09:00:00.000Z","occurredAt":null,"createdAt":"2026-11-27T10:00:00.000Z","lifecycleStatus":"SCHEDULED","lifecycleStatusLabel":"Programada","lifecycleStatusDetail":null,"canForceRetryDispatch":false,"commerceExternalId":"COM-%03d","commerceName":"Almac\u00e9n %d","operatorExternalId":null,"providerActivityId":null,"resultStatus":null,"resultCode":null}`, i, i, i)
	}
	fmt.Fprintf(&b, `],"meta":{"page":1,"limit":%d,"total":%d,"totalPages":1}}`, n, n)
	return []byte(b.String())
}

// BenchmarkDecodePage_SimShape decodes pages of the simulator's shorter tasks: more
// members per byte, so the per-member cost shows.
func BenchmarkDecodePage_SimShape(b *testing.B) {
	data := simPage(100)
	var d pageDecoder
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if p, err := d.decode(data); err != nil || len(p.Tasks) != 100 {
			b.Fatal(err)
		}
	}
	reportTasks(b, 100, data, 0)
}
