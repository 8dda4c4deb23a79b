package httpconn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/schema"
)

// BenchmarkSinkVsRawClient compares http-sink with a plain net/http client posting the same bodies with the
// same concurrency (4) to a local server, at batch.max.records 1 and 500: once with the bodies made before
// the clock starts, once marshalling the records with encoding/json as it goes. Each b.N iteration is one round of
// each, alternating, so drift on a shared machine hits both; the CPU steal of each round (from /proc/stat)
// is logged beside it. The sink is driven as the engine drives it: Put of 1000 records, then Flush.
//
//	go test -run '^$' -bench SinkVsRawClient -benchtime 5x -v ./plugins/connectors/http/
func BenchmarkSinkVsRawClient(b *testing.B) {
	for _, batch := range []int{1, 500} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			n := 20_000
			if batch > 1 {
				n = 200_000
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			defer srv.Close()
			records := make([]*schema.Record, n)
			for i := range records {
				records[i] = schema.NewRecord("bench", nil, nil, nil,
					map[string]any{"id": int64(i), "name": "customer-" + strconv.Itoa(i), "amount": 12.5, "currency": "EUR"})
			}
			bodies := rawBodies(b, records, batch)
			var sinkRates, rawRates, marshalRates []float64
			b.ResetTimer()
			for round := range b.N {
				st := readSteal()
				d := runSink(b, srv.URL, records, batch)
				sinkSteal := st.since()
				st = readSteal()
				dr := runRaw(b, srv.URL, func(out chan<- []byte) {
					for _, body := range bodies {
						out <- body
					}
				})
				rawSteal := st.since()
				st = readSteal()
				dm := runRaw(b, srv.URL, func(out chan<- []byte) { marshalBodies(b, records, batch, out) })
				marshalSteal := st.since()
				sr, rr, mr := float64(n)/d.Seconds(), float64(n)/dr.Seconds(), float64(n)/dm.Seconds()
				sinkRates, rawRates, marshalRates = append(sinkRates, sr), append(rawRates, rr), append(marshalRates, mr)
				b.Logf("round %d: http-sink %.0f rec/s (steal %.1f%%) | raw client, bodies ready %.0f rec/s (steal %.1f%%) | "+
					"raw client marshalling the records %.0f rec/s (steal %.1f%%) | sink/raw %.0f%%, sink/raw+marshal %.0f%%",
					round, sr, sinkSteal, rr, rawSteal, mr, marshalSteal, 100*sr/rr, 100*sr/mr)
			}
			b.StopTimer()
			s, r, m := median(sinkRates), median(rawRates), median(marshalRates)
			b.ReportMetric(s, "sink-rec/s")
			b.ReportMetric(r, "raw-rec/s")
			b.ReportMetric(m, "raw+marshal-rec/s")
			b.ReportMetric(100*s/r, "sink/raw-%")
			b.ReportMetric(100*s/m, "sink/raw+marshal-%")
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func runSink(b *testing.B, url string, records []*schema.Record, batch int) time.Duration {
	cfg := map[string]string{"url": url, "batch.max.records": strconv.Itoa(batch), "max.concurrent.requests": "4",
		"batch.max.bytes": strconv.Itoa(64 << 20)}
	c := httpconn.NewSinkConnector()
	task := httpconn.NewSinkTask()
	if err := task.Start(context.Background(), conformance.SinkContextFor(b, c.Spec(), cfg), cfg); err != nil {
		b.Fatal(err)
	}
	defer task.Stop(context.Background())
	start := time.Now()
	for i := 0; i < len(records); i += 1000 {
		if err := task.Put(context.Background(), records[i:min(i+1000, len(records))]); err != nil {
			b.Fatal(err)
		}
		if err := task.Flush(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// rawBodies are the bodies http-sink sends: each value, or JSON arrays of batch values.
func rawBodies(b *testing.B, records []*schema.Record, batch int) [][]byte {
	var out [][]byte
	for i := 0; i < len(records); i += batch {
		var buf bytes.Buffer
		if batch > 1 {
			buf.WriteByte('[')
		}
		for j := i; j < min(i+batch, len(records)); j++ {
			v := records[j].Value.(map[string]any)
			if j > i {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"amount":12.5,"currency":"EUR","id":%d,"name":%q}`, v["id"], v["name"])
		}
		if batch > 1 {
			buf.WriteByte(']')
		}
		out = append(out, buf.Bytes())
	}
	return out
}

// marshalBodies makes the same bodies from the records with encoding/json, as a hand-written client would.
func marshalBodies(b *testing.B, records []*schema.Record, batch int, out chan<- []byte) {
	for i := 0; i < len(records); i += batch {
		var buf []byte
		if batch > 1 {
			buf = append(buf, '[')
		}
		for j := i; j < min(i+batch, len(records)); j++ {
			v, err := json.Marshal(records[j].Value)
			if err != nil {
				b.Fatal(err)
			}
			if j > i {
				buf = append(buf, ',')
			}
			buf = append(buf, v...)
		}
		if batch > 1 {
			buf = append(buf, ']')
		}
		out <- buf
	}
}

// runRaw posts what produce sends with 4 goroutines.
func runRaw(b *testing.B, url string, produce func(chan<- []byte)) time.Duration {
	tr := &http.Transport{MaxIdleConns: 4, MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	work := make(chan []byte)
	var wg sync.WaitGroup
	var failed sync.Once
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range work {
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					failed.Do(func() { b.Error(err) })
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	produce(work)
	close(work)
	wg.Wait()
	return time.Since(start)
}

// steal is a /proc/stat sample: the CPU time stolen by the hypervisor and the total.
type steal struct{ stolen, total float64 }

func readSteal() steal {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return steal{}
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	var s steal
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		if i < 8 { // user nice system idle iowait irq softirq steal (guest time is already in user)
			s.total += x
		}
		if i == 7 {
			s.stolen = x
		}
	}
	return s
}

// since returns the percentage of CPU time stolen since s.
func (s steal) since() float64 {
	now := readSteal()
	if now.total <= s.total {
		return 0
	}
	return 100 * (now.stolen - s.stolen) / (now.total - s.total)
}

// BenchmarkSinkAddedLatency measures what http-sink adds to one request: a single record's Put+Flush against
// a raw client's POST of the same body, one at a time, alternating, 2000 of each per iteration. It reports
// p50 and p99 of both and the added p99.
//
//	go test -run '^$' -bench SinkAddedLatency -benchtime 3x -v ./plugins/connectors/http/
func BenchmarkSinkAddedLatency(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	cfg := map[string]string{"url": srv.URL, "max.concurrent.requests": "1"}
	task := httpconn.NewSinkTask()
	if err := task.Start(context.Background(), conformance.SinkContextFor(b, httpconn.NewSinkConnector().Spec(), cfg), cfg); err != nil {
		b.Fatal(err)
	}
	defer task.Stop(context.Background())
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	rec := schema.NewRecord("bench", nil, nil, nil, map[string]any{"id": int64(1), "name": "customer-1", "amount": 12.5, "currency": "EUR"})
	body := []byte(`{"amount":12.5,"currency":"EUR","id":1,"name":"customer-1"}`)
	var sinkLat, rawLat []time.Duration
	b.ResetTimer()
	for range b.N {
		for range 2000 {
			start := time.Now()
			if err := task.Put(context.Background(), []*schema.Record{rec}); err != nil {
				b.Fatal(err)
			}
			if err := task.Flush(context.Background(), nil); err != nil {
				b.Fatal(err)
			}
			sinkLat = append(sinkLat, time.Since(start))
			start = time.Now()
			resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			rawLat = append(rawLat, time.Since(start))
		}
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[int(p*float64(len(s)-1))].Microseconds())
	}
	b.ReportMetric(pct(sinkLat, 0.5), "sink-p50-µs")
	b.ReportMetric(pct(sinkLat, 0.99), "sink-p99-µs")
	b.ReportMetric(pct(rawLat, 0.5), "raw-p50-µs")
	b.ReportMetric(pct(rawLat, 0.99), "raw-p99-µs")
	b.ReportMetric(pct(sinkLat, 0.99)-pct(rawLat, 0.99), "added-p99-µs")
}
