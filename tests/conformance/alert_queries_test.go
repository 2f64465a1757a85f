package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

// alertQueries mirrors provisioning/alert-queries.json, generated with the alert rules by
// `npm run dashboards`: query A of every provisioned rule.
type alertQueries struct {
	Queries []struct {
		Rule              string `json:"rule"`
		RefID             string `json:"refId"`
		RelativeTimeRange struct {
			From int64 `json:"from"`
			To   int64 `json:"to"`
		} `json:"relativeTimeRange"`
		IntervalMs         int64          `json:"intervalMs"`
		Query              map[string]any `json:"query"`
		AcceptedFrameTypes []string       `json:"acceptedFrameTypes"`
	} `json:"queries"`
}

// Every provisioned alert rule's query, evaluated the way Grafana's alerting does (FromAlert
// header, the rule's relative range and interval), must return frames the SDK reads as the
// shapes server-side expressions accept.
func TestAlertRuleQueries(t *testing.T) {
	if strings.Contains(os.Getenv("PGPULSE_SIDECAR_CMD"), "stub-sidecar") {
		t.Skip("alert rule queries need the real sidecar and catalog")
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "provisioning", "alert-queries.json"))
	if err != nil {
		t.Fatalf("read alert queries: %v", err)
	}
	var aq alertQueries
	if err := json.Unmarshal(raw, &aq); err != nil {
		t.Fatalf("alert-queries.json: %v", err)
	}
	if len(aq.Queries) == 0 {
		t.Fatal("no alert queries")
	}
	pc := launch(t, remoteEnv())
	defer pc.client.Kill()
	for _, q := range aq.Queries {
		q := q
		t.Run(q.Rule, func(t *testing.T) {
			now := time.Now()
			w := window{from: now.Add(-time.Duration(q.RelativeTimeRange.From) * time.Second), to: now.Add(-time.Duration(q.RelativeTimeRange.To) * time.Second)}
			dq := dataQuery(q.RefID, q.Query, w)
			dq.IntervalMS = q.IntervalMs
			res := queryData(t, pc, cfg.token, map[string]string{"FromAlert": "true"}, dq)
			r := res.Responses[q.RefID]
			if r == nil {
				t.Fatalf("refId %s not answered", q.RefID)
			}
			if r.Error != "" {
				// the test database has no pgvector / neon: those rules may only fail by naming it
				if strings.Contains(r.Error, "extension") {
					t.Logf("%s: %s", q.Rule, r.Error)
					return
				}
				t.Fatalf("%s: %s", q.Rule, r.Error)
			}
			frames, err := data.UnmarshalArrowFrames(r.Frames)
			if err != nil {
				t.Fatalf("UnmarshalArrowFrames: %v", err)
			}
			for i, f := range frames {
				if len(f.Fields) == 0 {
					continue
				}
				ok := false
				for _, ft := range q.AcceptedFrameTypes {
					if f.Meta != nil && string(f.Meta.Type) == ft {
						ok = true
					}
				}
				if !ok {
					t.Errorf("frame %d: type %v not in %v", i, f.Meta, q.AcceptedFrameTypes)
				}
				for _, fld := range f.Fields {
					if fld.Type() == data.FieldTypeString || fld.Type() == data.FieldTypeNullableString {
						t.Errorf("frame %d: string field %q: alerting would say \"input data must be a wide series but got type long\"", i, fld.Name)
					}
				}
				switch f.Meta.Type {
				case data.FrameTypeTimeSeriesMulti:
					checkSeriesFrame(t, q.Rule, f)
				case data.FrameTypeNumericMulti:
					checkNumericFrame(t, q.Rule, f)
				}
			}
			_ = pluginv2.DataFrameFormat_ARROW
		})
	}
}
