package conformance

// Shared harness: configuration, the sidecar process, go-plugin clients built exactly like
// Grafana's (SDK handshake config, gRPC only, plugin set "diagnostics"/"resource"/"data").

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

type config struct {
	locator    string // dist/gpx_pgpulse_linux_amd64
	token      string
	httpURL    string // the sidecar's HTTP API, for ground truth
	grpcAddr   string // remote mode: what the locator hands to go-plugin
	sidecarCmd string // how to (re)start the sidecar; empty: already running, restart test skipped
	nodePath   string // local mode: absolute path to node
	localEntry string // local mode: GF_PLUGIN_SIDECAR_ENTRY (empty: the locator's default)
	localEnv   []string
}

var cfg config

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func loadConfig() config {
	root, _ := filepath.Abs("../..")
	c := config{
		locator:    envOr("PGPULSE_LOCATOR", filepath.Join(root, "dist", "gpx_pgpulse_linux_amd64")),
		token:      os.Getenv("PGPULSE_TOKEN"),
		httpURL:    envOr("PGPULSE_HTTP_URL", "http://"+envOr("PGPULSE_HTTP_ADDR", "127.0.0.1:7700")),
		grpcAddr:   envOr("PGPULSE_GRPC_ADDR", "127.0.0.1:7701"),
		sidecarCmd: os.Getenv("PGPULSE_SIDECAR_CMD"),
		nodePath:   os.Getenv("PGPULSE_NODE"),
		localEntry: os.Getenv("PGPULSE_LOCAL_ENTRY"),
	}
	// Local mode gets the sidecar's settings the way Grafana passes them: GF_PLUGIN_<KEY>.
	for _, kv := range [][2]string{{"DATABASE_URL", "GF_PLUGIN_DATABASE_URL"}, {"PGPULSE_CONFIG", "GF_PLUGIN_CONFIG"}, {"PGPULSE_INTERVAL", "GF_PLUGIN_INTERVAL"}, {"PGPULSE_LOCAL_DATA_DIR", "GF_PLUGIN_DATA_DIR"}} {
		if v := os.Getenv(kv[0]); v != "" {
			c.localEnv = append(c.localEnv, kv[1]+"="+v)
		}
	}
	return c
}

// ---- the sidecar process (remote mode) ----

type sidecar struct {
	mu  sync.Mutex
	cmd *exec.Cmd
}

var side sidecar

func (s *sidecar) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg.sidecarCmd == "" {
		return waitHTTP(60 * time.Second)
	}
	cmd := exec.Command("/bin/sh", "-c", "exec "+cfg.sidecarCmd)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	return waitHTTP(90 * time.Second)
}

func (s *sidecar) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
}

func waitHTTP(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(cfg.httpURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("sidecar HTTP API at %s did not answer /healthz within %s", cfg.httpURL, limit)
}

// ---- the sidecar's HTTP API: ground truth ----

func httpJSON(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, cfg.httpURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+cfg.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %v: %s", method, path, err, truncate(string(raw), 300))
		}
	}
	return resp.StatusCode, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

type catalogMetric struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Unit    string   `json:"unit"`
	Kind    string   `json:"kind"`
	Options []string `json:"options"`
}

func httpCatalog(t *testing.T) []catalogMetric {
	t.Helper()
	var cat struct {
		Metrics []catalogMetric `json:"metrics"`
	}
	code, err := httpJSON("GET", "/api/v1/catalog", nil, &cat)
	if err != nil || code != 200 {
		t.Fatalf("GET /api/v1/catalog: code %d, %v", code, err)
	}
	if len(cat.Metrics) == 0 {
		t.Fatal("GET /api/v1/catalog: no metrics")
	}
	return cat.Metrics
}

// ---- go-plugin client, as Grafana builds it ----

type pluginClients struct {
	client      *plugin.Client
	diagnostics grpcplugin.DiagnosticsClient
	resource    grpcplugin.ResourceClient
	data        grpcplugin.DataClient
	logs        *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	os.Stderr.Write(p)
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// launch starts the locator the way Grafana does: no host environment, only GF_PLUGIN_* keys.
func launch(t *testing.T, env []string) *pluginClients {
	t.Helper()
	if st, err := os.Stat(cfg.locator); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("locator %s missing or not executable (run npm run build:locator): %v", cfg.locator, err)
	}
	logs := &lockedBuffer{}
	cmd := exec.Command(cfg.locator)
	cmd.Env = append([]string{"GF_VERSION=12.4.0", "GF_EDITION=oss"}, env...)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]plugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
				"data":        &grpcplugin.DataGRPCPlugin{},
			},
		},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     60 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin.pgpulse", Level: hclog.Debug, Output: logs, JSONFormat: false}),
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
		},
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		t.Fatalf("go-plugin could not start %s: %v\nlogs:\n%s", cfg.locator, err, logs.String())
	}
	pc := &pluginClients{client: client, logs: logs}
	for name, dst := range map[string]any{"diagnostics": &pc.diagnostics, "resource": &pc.resource, "data": &pc.data} {
		raw, err := rpc.Dispense(name)
		if err != nil {
			client.Kill()
			t.Fatalf("dispense %s: %v", name, err)
		}
		switch d := dst.(type) {
		case *grpcplugin.DiagnosticsClient:
			*d = raw.(grpcplugin.DiagnosticsClient)
		case *grpcplugin.ResourceClient:
			*d = raw.(grpcplugin.ResourceClient)
		case *grpcplugin.DataClient:
			*d = raw.(grpcplugin.DataClient)
		}
	}
	return pc
}

func remoteEnv() []string {
	return []string{"GF_PLUGIN_SIDECAR_ADDRESS=" + cfg.grpcAddr, "GF_PLUGIN_WAIT_SECONDS=45"}
}

func pluginCtx(token string, target string) *pluginv2.PluginContext {
	jd := map[string]any{}
	if target != "" {
		jd["target"] = target
	}
	raw, _ := json.Marshal(jd)
	secure := map[string]string{}
	if token != "" {
		secure["token"] = token
	}
	return &pluginv2.PluginContext{
		OrgId:    1,
		PluginId: "pgpulse-postgres-datasource",
		DataSourceInstanceSettings: &pluginv2.DataSourceInstanceSettings{
			Id: 1, Uid: "pgpulse", Name: "pgpulse", JsonData: raw, DecryptedSecureJsonData: secure,
		},
	}
}

func ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}

func callResource(t *testing.T, pc *pluginClients, token, path string) (int, []byte, map[string][]string) {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	stream, err := pc.resource.CallResource(ctx, &pluginv2.CallResourceRequest{
		PluginContext: pluginCtx(token, ""), Path: strings.SplitN(path, "?", 2)[0], Method: "GET", Url: path,
	})
	if err != nil {
		t.Fatalf("CallResource %s: %v", path, err)
	}
	var code int
	var body []byte
	headers := map[string][]string{}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("CallResource %s: %v", path, err)
		}
		if msg.Code != 0 {
			code = int(msg.Code)
		}
		for k, v := range msg.Headers {
			headers[k] = v.Values
		}
		body = append(body, msg.Body...)
	}
	return code, body, headers
}
