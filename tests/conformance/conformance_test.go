package conformance

// Conformance of the pgpulse backend with Grafana's plugin protocol, checked with Grafana's own
// SDK: the locator is launched through go-plugin with the SDK's handshake, every frame is
// decoded with data.UnmarshalArrowFrames, and answers are compared with the sidecar's HTTP API.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

func TestMain(m *testing.M) {
	cfg = loadConfig()
	if cfg.token == "" {
		fmt.Fprintln(os.Stderr, "conformance: PGPULSE_TOKEN must be set (run tests/conformance/run.sh)")
		os.Exit(2)
	}
	if err := side.start(); err != nil {
		side.stop()
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	if w, err := time.ParseDuration(envOr("PGPULSE_WARMUP_SECONDS", "0") + "s"); err == nil && w > 0 {
		// let the sidecar take a few samples so series have points to compare
		time.Sleep(w)
	}
	code := m.Run()
	side.stop()
	os.Exit(code)
}

// ---- query helpers ----

type window struct{ from, to time.Time }

func lastMinutes(n int) window {
	to := time.Now().Truncate(time.Second)
	return window{from: to.Add(-time.Duration(n) * time.Minute), to: to}
}

func dataQuery(refID string, model map[string]any, w window) *pluginv2.DataQuery {
	raw, _ := json.Marshal(model)
	return &pluginv2.DataQuery{
		RefId: refID, MaxDataPoints: 120, IntervalMS: 15000, Json: raw,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: w.from.UnixMilli(), ToEpochMS: w.to.UnixMilli()},
	}
}

func queryData(t *testing.T, pc *pluginClients, token string, headers map[string]string, qs ...*pluginv2.DataQuery) *pluginv2.QueryDataResponse {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	res, err := pc.data.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pluginCtx(token, ""), Headers: headers, Queries: qs})
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	return res
}

// ---- shape checks: what Grafana's server-side expressions (alerting) accept ----

func checkSeriesFrame(t *testing.T, where string, f *data.Frame) {
	t.Helper()
	if len(f.Fields) == 0 {
		return // "no data" frame
	}
	if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
		t.Errorf("%s: series frame must have meta.type timeseries-multi, got %+v", where, f.Meta)
		return
	}
	if f.Meta.TypeVersion != (data.FrameTypeVersion{0, 1}) {
		t.Errorf("%s: typeVersion %v, want [0 1]", where, f.Meta.TypeVersion)
	}
	if len(f.Fields) != 2 {
		t.Errorf("%s: timeseries-multi frame needs exactly [time, value], got %d fields", where, len(f.Fields))
		return
	}
	if f.Fields[0].Type() != data.FieldTypeTime {
		t.Errorf("%s: first field must be non-nullable time, got %s", where, f.Fields[0].Type())
	}
	if f.Fields[1].Type() != data.FieldTypeNullableFloat64 {
		t.Errorf("%s: value field must be nullable float64, got %s", where, f.Fields[1].Type())
	}
	if schema := f.TimeSeriesSchema(); schema.Type != data.TimeSeriesTypeWide {
		t.Errorf("%s: SDK TimeSeriesSchema says %s, alerting needs a wide series", where, schema.Type)
	}
	var prev time.Time
	for i := 0; i < f.Rows(); i++ {
		ts, ok := f.Fields[0].ConcreteAt(i)
		if !ok {
			t.Errorf("%s: null time at row %d", where, i)
			return
		}
		tt := ts.(time.Time)
		if i > 0 && !tt.After(prev) {
			t.Errorf("%s: time not strictly ascending at row %d", where, i)
			return
		}
		if tt.Year() < 2000 {
			t.Errorf("%s: time %s looks like a unit error (ms read as ns?)", where, tt)
			return
		}
		prev = tt
	}
}

func checkNumericFrame(t *testing.T, where string, f *data.Frame) {
	t.Helper()
	if len(f.Fields) == 0 {
		return
	}
	if f.Meta == nil || f.Meta.Type != data.FrameTypeNumericMulti {
		t.Errorf("%s: instant frame must have meta.type numeric-multi, got %+v", where, f.Meta)
		return
	}
	if len(f.Fields) != 1 || f.Rows() != 1 {
		t.Errorf("%s: numeric-multi frame needs one numeric field and one row, got %d fields × %d rows", where, len(f.Fields), f.Rows())
		return
	}
	if !f.Fields[0].Type().Numeric() {
		t.Errorf("%s: numeric-multi field type %s is not numeric", where, f.Fields[0].Type())
	}
}

func checkTableFrame(t *testing.T, where string, f *data.Frame) {
	t.Helper()
	if len(f.Fields) == 0 {
		return
	}
	if f.Meta == nil || f.Meta.Type != data.FrameType("table") {
		t.Errorf("%s: table frame must have meta.type table, got %+v", where, f.Meta)
	}
}

func checkShapes(t *testing.T, m catalogMetric, frames data.Frames) {
	for i, f := range frames {
		where := fmt.Sprintf("metric %s frame %d", m.ID, i)
		if len(f.Fields) > 0 && (m.Kind == "series" || m.Kind == "instant") {
			// every figure says how it was derived, and carries the catalog's unit
			if f.Meta == nil || f.Meta.ExecutedQueryString == "" {
				t.Errorf("%s: meta.executedQueryString is empty", where)
			}
			v := f.Fields[len(f.Fields)-1]
			if m.Unit != "" && (v.Config == nil || v.Config.Unit != m.Unit) {
				t.Errorf("%s: value field unit %v, catalog says %q", where, v.Config, m.Unit)
			}
		}
		switch m.Kind {
		case "series":
			checkSeriesFrame(t, where, f)
		case "instant":
			checkNumericFrame(t, where, f)
		case "table":
			checkTableFrame(t, where, f)
		default:
			t.Errorf("%s: unknown catalog kind %q", where, m.Kind)
		}
	}
}

// ---- ground truth: the HTTP API's answer for the same query ----

type httpFrame struct {
	Schema struct {
		Name   string `json:"name"`
		RefID  string `json:"refId"`
		Fields []struct {
			Name   string            `json:"name"`
			Type   string            `json:"type"`
			Labels map[string]string `json:"labels"`
		} `json:"fields"`
	} `json:"schema"`
	Data struct {
		Values [][]any `json:"values"`
	} `json:"data"`
}

type httpResult struct {
	Frames []httpFrame `json:"frames"`
	Error  string      `json:"error"`
}

func httpQuery(w window, refID string, model map[string]any) (httpResult, error) {
	q := map[string]any{"refId": refID}
	for k, v := range model {
		q[k] = v
	}
	var out struct {
		Results map[string]httpResult `json:"results"`
	}
	code, err := httpJSON("POST", "/api/v1/query", map[string]any{
		"from": w.from.UnixMilli(), "to": w.to.UnixMilli(), "maxDataPoints": 120, "intervalMs": compareStep.Milliseconds(),
		"queries": []any{q},
	}, &out)
	if err != nil {
		return httpResult{}, err
	}
	r, ok := out.Results[refID]
	if !ok {
		return httpResult{}, fmt.Errorf("POST /api/v1/query: code %d, no result for %s", code, refID)
	}
	return r, nil
}

// sameAnswer explains the first difference between the gRPC frames and the HTTP frames, or "".
func sameAnswer(dr *pluginv2.DataResponse, frames data.Frames, h httpResult) string {
	if (dr.Error != "") != (h.Error != "") {
		return fmt.Sprintf("error differs: grpc %q, http %q", dr.Error, h.Error)
	}
	if len(frames) != len(h.Frames) {
		return fmt.Sprintf("grpc has %d frames, http %d", len(frames), len(h.Frames))
	}
	for i, f := range frames {
		hf := h.Frames[i]
		if len(f.Fields) != len(hf.Schema.Fields) {
			return fmt.Sprintf("frame %d: %d fields vs %d", i, len(f.Fields), len(hf.Schema.Fields))
		}
		for j, fld := range f.Fields {
			hfld := hf.Schema.Fields[j]
			if fld.Name != hfld.Name {
				return fmt.Sprintf("frame %d field %d: name %q vs %q", i, j, fld.Name, hfld.Name)
			}
			if !sameLabels(fld.Labels, hfld.Labels) {
				return fmt.Sprintf("frame %d field %s: labels %v vs %v", i, fld.Name, fld.Labels, hfld.Labels)
			}
			if j >= len(hf.Data.Values) || len(hf.Data.Values[j]) != fld.Len() {
				return fmt.Sprintf("frame %d field %s: %d values, http has a different count", i, fld.Name, fld.Len())
			}
			for k := 0; k < fld.Len(); k++ {
				if d := sameValue(fld, k, hf.Data.Values[j][k]); d != "" {
					return fmt.Sprintf("frame %d field %s row %d: %s", i, fld.Name, k, d)
				}
			}
		}
	}
	return ""
}

func sameLabels(a data.Labels, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sameValue(fld *data.Field, i int, hv any) string {
	v, ok := fld.ConcreteAt(i)
	if !ok || v == nil {
		if hv != nil {
			return fmt.Sprintf("grpc null, http %v", hv)
		}
		return ""
	}
	switch x := v.(type) {
	case time.Time:
		hn, ok := hv.(float64)
		if !ok || int64(hn) != x.UnixMilli() {
			return fmt.Sprintf("time %d ms vs http %v", x.UnixMilli(), hv)
		}
	case float64:
		if hv == nil && (math.IsNaN(x) || math.IsInf(x, 0)) {
			return "" // JSON has no NaN/Inf
		}
		hn, ok := hv.(float64)
		if !ok || hn != x {
			return fmt.Sprintf("%v vs http %v", x, hv)
		}
	case string:
		if hs, ok := hv.(string); !ok || hs != x {
			return fmt.Sprintf("%q vs http %v", x, hv)
		}
	case bool:
		if hb, ok := hv.(bool); !ok || hb != x {
			return fmt.Sprintf("%v vs http %v", x, hv)
		}
	default:
		return fmt.Sprintf("unexpected type %T", v)
	}
	return ""
}

// ---- remote mode ----

func TestRemoteMode(t *testing.T) {
	pc := launch(t, remoteEnv())
	defer pc.client.Kill()

	t.Run("CheckHealth", func(t *testing.T) {
		ctx, cancel := ctxTimeout()
		defer cancel()
		res, err := pc.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pluginCtx(cfg.token, "")})
		if err != nil {
			t.Fatalf("CheckHealth: %v", err)
		}
		if res.Status == pluginv2.CheckHealthResponse_UNKNOWN || res.Message == "" {
			t.Fatalf("CheckHealth: status %s message %q", res.Status, res.Message)
		}
		if strings.Contains(strings.ToLower(res.Message), "token") {
			t.Errorf("CheckHealth with the right token mentions the token: %q", res.Message)
		}
		var details map[string]any
		if err := json.Unmarshal(res.JsonDetails, &details); err != nil {
			t.Errorf("jsonDetails is not JSON: %v", err)
		}
		t.Logf("CheckHealth: %s: %s", res.Status, res.Message)
	})

	t.Run("WrongTokenRefused", func(t *testing.T) {
		for _, tok := range []string{"", "wrong-" + cfg.token} {
			ctx, cancel := ctxTimeout()
			h, err := pc.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pluginCtx(tok, "")})
			cancel()
			if err != nil || h.Status != pluginv2.CheckHealthResponse_ERROR || !strings.Contains(h.Message, "token") {
				t.Errorf("token %q: CheckHealth %v %+v, want ERROR naming the token", redactTok(tok), err, h)
			}
			res := queryData(t, pc, tok, nil, dataQuery("A", map[string]any{"metric": "tps"}, lastMinutes(5)), dataQuery("B", map[string]any{"metric": "connections"}, lastMinutes(5)))
			for _, ref := range []string{"A", "B"} {
				r := res.Responses[ref]
				if r == nil || r.Status != 401 || r.ErrorSource != "plugin" || !strings.Contains(r.Error, "token") || len(r.Frames) != 0 {
					t.Errorf("token %q refId %s: %+v, want 401 naming the token and no frames", redactTok(tok), ref, r)
				}
			}
			code, body, _ := callResource(t, pc, tok, "catalog")
			if code != 401 {
				t.Errorf("token %q: CallResource catalog code %d body %s, want 401", redactTok(tok), code, truncate(string(body), 200))
			}
		}
	})

	t.Run("CallResource", func(t *testing.T) {
		code, body, headers := callResource(t, pc, cfg.token, "catalog")
		if code != 200 {
			t.Fatalf("catalog: code %d: %s", code, truncate(string(body), 300))
		}
		if ct := headers["Content-Type"]; len(ct) == 0 || !strings.HasPrefix(ct[0], "application/json") {
			t.Errorf("catalog: content type %v", ct)
		}
		var cat struct {
			Metrics []catalogMetric `json:"metrics"`
		}
		if err := json.Unmarshal(body, &cat); err != nil {
			t.Fatalf("catalog body: %v", err)
		}
		want := httpCatalog(t)
		if ids(cat.Metrics) != ids(want) {
			t.Errorf("resource catalog %s != HTTP catalog %s", ids(cat.Metrics), ids(want))
		}
		// editor helpers: each answers JSON; 2xx or a 4xx whose error says what is missing
		for _, p := range []string{"targets", "databases", "schemas", "tables", "indexes", "queryids"} {
			code, body, _ := callResource(t, pc, cfg.token, p)
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Errorf("%s: body is not JSON (code %d): %s", p, code, truncate(string(body), 200))
				continue
			}
			if code >= 500 {
				t.Errorf("%s: code %d: %s", p, code, truncate(string(body), 300))
			}
			t.Logf("resource %s: %d %s", p, code, truncate(string(body), 160))
		}
		code, body, _ = callResource(t, pc, cfg.token, "no-such-resource")
		if code != 404 {
			t.Errorf("unknown resource: code %d: %s", code, truncate(string(body), 200))
		}
	})

	t.Run("QueryEveryCatalogMetric", func(t *testing.T) {
		queryEveryMetric(t, pc, true)
	})

	t.Run("AlertEvaluationHeader", func(t *testing.T) {
		// Alert rules carry FromAlert and no user; answers must keep the alerting shape.
		for _, m := range httpCatalog(t) {
			if m.Kind != "series" && m.Kind != "instant" {
				continue
			}
			res := queryData(t, pc, cfg.token, map[string]string{"FromAlert": "true"}, dataQuery("A", map[string]any{"metric": m.ID}, lastMinutes(10)))
			r := res.Responses["A"]
			if r == nil {
				t.Errorf("%s: refId A not answered", m.ID)
				continue
			}
			frames, err := data.UnmarshalArrowFrames(r.Frames)
			if err != nil {
				t.Errorf("%s: UnmarshalArrowFrames: %v", m.ID, err)
				continue
			}
			checkShapes(t, m, frames)
		}
	})

	t.Run("EveryRefIdAnsweredWithPerQueryErrors", func(t *testing.T) {
		w := lastMinutes(5)
		bad := dataQuery("BAD", nil, w)
		bad.Json = []byte(`{"metric": "tps",`)
		res := queryData(t, pc, cfg.token, nil,
			dataQuery("A", map[string]any{"metric": httpCatalog(t)[0].ID}, w),
			bad,
			dataQuery("U", map[string]any{"metric": "no_such_metric"}, w),
			dataQuery("S", map[string]any{"metric": "tps", "database": "x'; DROP TABLE pg_class; --"}, w),
		)
		for _, ref := range []string{"A", "BAD", "U", "S"} {
			if res.Responses[ref] == nil {
				t.Errorf("refId %s not answered", ref)
			}
		}
		if r := res.Responses["BAD"]; r != nil && (r.Error == "" || r.Status != 400 || r.ErrorSource == "") {
			t.Errorf("bad JSON: %+v, want a 400 error with errorSource", r)
		}
		if r := res.Responses["U"]; r != nil && (r.Error == "" || !strings.Contains(r.Error, "no_such_metric")) {
			t.Errorf("unknown metric: %+v, want an error naming it", r)
		}
		if r := res.Responses["A"]; r != nil && r.Error != "" && r.Status == 400 {
			t.Errorf("a good query failed next to bad ones: %+v", r)
		}
	})

	t.Run("JSONFramesOnlyWhenAsked", func(t *testing.T) {
		// Grafana builds with SDK >= v0.290 may ask for JSON frames; they must decode like the SDK does.
		w := lastMinutes(30)
		for _, m := range httpCatalog(t) {
			q := dataQuery("A", map[string]any{"metric": m.ID}, w)
			ctx, cancel := ctxTimeout()
			res, err := pc.data.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pluginCtx(cfg.token, ""), Queries: []*pluginv2.DataQuery{q}, Format: pluginv2.DataFrameFormat_JSON})
			cancel()
			if err != nil {
				t.Fatalf("%s: QueryData JSON: %v", m.ID, err)
			}
			r := res.Responses["A"]
			if r == nil || r.Format != pluginv2.DataFrameFormat_JSON {
				t.Fatalf("%s: JSON asked, got %+v", m.ID, r)
			}
			for i, b := range r.Frames {
				var f *data.Frame
				if err := json.Unmarshal(b, &f); err != nil {
					t.Fatalf("%s frame %d: SDK cannot decode the JSON frame: %v: %s", m.ID, i, err, truncate(string(b), 200))
				}
				if f.RefID != "A" {
					t.Errorf("%s frame %d: refId %q", m.ID, i, f.RefID)
				}
			}
			// the same query as Arrow decodes to the same frames (sampling may move on in between)
			arrowRes := queryData(t, pc, cfg.token, nil, q)
			arrowFrames, err := data.UnmarshalArrowFrames(arrowRes.Responses["A"].Frames)
			if err != nil {
				t.Fatalf("%s: arrow: %v", m.ID, err)
			}
			if len(arrowFrames) == len(r.Frames) {
				for i, b := range r.Frames {
					var f *data.Frame
					_ = json.Unmarshal(b, &f)
					if d := sameFrame(f, arrowFrames[i]); d != "" {
						t.Logf("%s frame %d: JSON and Arrow differ (new sample in between?): %s", m.ID, i, d)
					}
				}
			}
		}
	})

	t.Run("SidecarRestartRecovers", func(t *testing.T) {
		if cfg.sidecarCmd == "" {
			t.Skip("PGPULSE_SIDECAR_CMD not set: the harness does not own the sidecar")
		}
		side.stop()
		if err := side.start(); err != nil {
			t.Fatalf("restart sidecar: %v", err)
		}
		// Grafana keeps the same plugin client: gRPC reconnects underneath, calls recover.
		deadline := time.Now().Add(60 * time.Second)
		var lastErr error
		for time.Now().Before(deadline) {
			ctx, cancel := ctxTimeout()
			h, err := pc.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pluginCtx(cfg.token, "")})
			cancel()
			if err == nil && h.Status != pluginv2.CheckHealthResponse_UNKNOWN {
				lastErr = nil
				break
			}
			lastErr = err
			time.Sleep(500 * time.Millisecond)
		}
		if lastErr != nil {
			t.Fatalf("calls did not recover after a sidecar restart: %v", lastErr)
		}
		res := queryData(t, pc, cfg.token, nil, dataQuery("A", map[string]any{"metric": httpCatalog(t)[0].ID}, lastMinutes(5)))
		if res.Responses["A"] == nil {
			t.Fatal("QueryData after restart: refId A not answered")
		}
	})
}

func redactTok(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

func ids(ms []catalogMetric) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// compareStep is the step of the queries compared with the HTTP API.
const compareStep = 5 * time.Second

// queryEveryMetric runs QueryData for each catalog metric (one request, one refId per metric),
// decodes with the SDK, checks shapes and, when compareHTTP, the numbers against the HTTP API.
func queryEveryMetric(t *testing.T, pc *pluginClients, compareHTTP bool) {
	cat := httpCatalog(t)
	var failed []string
	for attempt := 1; attempt <= 3; attempt++ {
		failed = failed[:0]
		compared := 0
		// End the window more than one step in the past: a step that ends after "now" is still
		// changing (sampler_staleness, for one, measures up to the evaluation moment there).
		w := lastMinutes(10)
		w.to = w.to.Add(-2 * compareStep)
		var qs []*pluginv2.DataQuery
		for i, m := range cat {
			q := dataQuery(fmt.Sprintf("M%d", i), map[string]any{"metric": m.ID}, w)
			q.IntervalMS = compareStep.Milliseconds()
			qs = append(qs, q)
		}
		res := queryData(t, pc, cfg.token, nil, qs...)
		for i, m := range cat {
			ref := fmt.Sprintf("M%d", i)
			r := res.Responses[ref]
			if r == nil {
				t.Fatalf("metric %s: refId %s not answered", m.ID, ref)
			}
			frames, err := data.UnmarshalArrowFrames(r.Frames)
			if err != nil {
				t.Fatalf("metric %s: data.UnmarshalArrowFrames: %v", m.ID, err)
			}
			if r.Error != "" && r.ErrorSource == "" {
				t.Errorf("metric %s: error without errorSource: %q", m.ID, r.Error)
			}
			checkShapes(t, m, frames)
			if attempt == 1 {
				t.Logf("metric %-28s kind %-7s frames %2d error %q", m.ID, m.Kind, len(frames), truncate(r.Error, 120))
			}
			if !compareHTTP {
				continue
			}
			h, err := httpQuery(w, ref, map[string]any{"metric": m.ID})
			if err != nil {
				t.Fatalf("metric %s: HTTP API: %v", m.ID, err)
			}
			if d := sameAnswer(r, frames, h); d != "" {
				failed = append(failed, fmt.Sprintf("%s: %s", m.ID, d))
			} else {
				for _, f := range frames {
					for _, fld := range f.Fields {
						for i := 0; i < fld.Len(); i++ {
							if _, ok := fld.ConcreteAt(i); ok {
								compared++
							}
						}
					}
				}
			}
		}
		if len(failed) == 0 {
			if compareHTTP {
				t.Logf("gRPC == HTTP for %d metrics (%d non-null values compared)", len(cat), compared)
			}
			return
		}
		// A sample can land between the gRPC and the HTTP call; ask again before calling it a mismatch.
		t.Logf("attempt %d: %d metrics differ, retrying: %v", attempt, len(failed), failed)
	}
	t.Errorf("gRPC and HTTP answers differ for the same query: %s", strings.Join(failed, "; "))
}

// ---- local mode ----

func TestLocalMode(t *testing.T) {
	if cfg.nodePath == "" {
		t.Skip("PGPULSE_NODE not set: local mode needs node on the 'Grafana host'")
	}
	env := append([]string{
		"GF_PLUGIN_MODE=local",
		"GF_PLUGIN_NODE_PATH=" + cfg.nodePath,
		"GF_PLUGIN_TOKEN=" + cfg.token,
	}, cfg.localEnv...)
	if cfg.localEntry != "" {
		env = append(env, "GF_PLUGIN_SIDECAR_ENTRY="+cfg.localEntry)
	}
	pc := launch(t, env)
	killed := false
	defer func() {
		if !killed {
			pc.client.Kill()
		}
	}()

	ctx, cancel := ctxTimeout()
	h, err := pc.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pluginCtx(cfg.token, "")})
	cancel()
	if err != nil || h.Status == pluginv2.CheckHealthResponse_UNKNOWN {
		t.Fatalf("CheckHealth: %v %+v", err, h)
	}
	t.Logf("local CheckHealth: %s: %s", h.Status, h.Message)

	ctx, cancel = ctxTimeout()
	h, err = pc.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pluginCtx("wrong", "")})
	cancel()
	if err != nil || h.Status != pluginv2.CheckHealthResponse_ERROR {
		t.Errorf("local mode, wrong token: %v %+v", err, h)
	}

	code, body, _ := callResource(t, pc, cfg.token, "catalog")
	if code != 200 {
		t.Errorf("local catalog: %d %s", code, truncate(string(body), 200))
	}
	// The local sidecar keeps its own (young) history: shapes only, no HTTP comparison.
	queryEveryMetric(t, pc, false)

	// Kill = Shutdown over gRPC, then wait: a local plugin must exit by itself.
	pc.client.Kill()
	killed = true
	logs := pc.logs.String()
	if strings.Contains(logs, "plugin failed to exit gracefully") {
		t.Errorf("local mode: the plugin did not exit after Shutdown")
	}
	// Everything the plugin process writes on stderr should be hclog JSON (Grafana logs other
	// lines at debug level only).
	for _, line := range strings.Split(logs, "\n") {
		if i := strings.Index(line, "gpx_pgpulse_linux_amd64: {"); i >= 0 {
			t.Errorf("plugin stderr line not in hclog shape (Grafana shows it at debug only): %s", truncate(line[i+25:], 160))
		}
	}
	if strings.Contains(logs, cfg.token) {
		t.Errorf("the token appears in the plugin's log output")
	}
}

// sameFrame explains the first difference between two SDK frames, or "".
func sameFrame(a, b *data.Frame) string {
	if len(a.Fields) != len(b.Fields) || a.Rows() != b.Rows() {
		return fmt.Sprintf("%d×%d vs %d×%d", len(a.Fields), a.Rows(), len(b.Fields), b.Rows())
	}
	for j := range a.Fields {
		fa, fb := a.Fields[j], b.Fields[j]
		if fa.Name != fb.Name || fa.Type() != fb.Type() {
			return fmt.Sprintf("field %d: %s %s vs %s %s", j, fa.Name, fa.Type(), fb.Name, fb.Type())
		}
		for i := 0; i < fa.Len(); i++ {
			va, oka := fa.ConcreteAt(i)
			vb, okb := fb.ConcreteAt(i)
			if oka != okb || fmt.Sprint(va) != fmt.Sprint(vb) {
				return fmt.Sprintf("field %s row %d: %v vs %v", fa.Name, i, va, vb)
			}
		}
	}
	return ""
}
