// Command controlapi drives fakeqemu's control API from Go, with the standard library
// only: the session of tests/integration/control_session.sh (curl and socat) and of
// examples/control_api.py.  It injects a GenericError on migrate and sees the QMP client
// get it, lists and removes the fault, plays the stall-at:60 scenario on the fake's
// virtual clock and sees remaining plateau at 40% of RAM, raises downtime-limit and sees
// the migration complete, then reads and clears the journal.  The migration itself is
// driven over QMP (JSON lines on the monitor sockets), as a real tool would.
//
//	fakeqemu serve --unix /tmp/dst.sock --incoming defer &
//	fakeqemu serve --unix /tmp/src.sock --control unix:/tmp/ctl.sock --clock virtual --memory 1G &
//	(cd examples/control_api_go && go run . unix:/tmp/ctl.sock unix:/tmp/src.sock unix:/tmp/dst.sock)
//
// Addresses are unix:PATH or tcp:HOST:PORT; left out, they come from $FAKEQEMU_CONTROL,
// $FAKEQEMU_SOURCE and $FAKEQEMU_DESTINATION.  Any unexpected answer ends it with a
// message on stderr and exit status 1.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const desc = "injected by the Go example"

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// address splits unix:PATH or tcp:HOST:PORT into net.Dial's network and address.
func address(where string) (string, string) {
	network, rest, found := strings.Cut(where, ":")
	if !found || (network != "unix" && network != "tcp") {
		fail("%q is not unix:PATH or tcp:HOST:PORT", where)
	}
	return network, rest
}

// api is an HTTP client whose every connection goes to the control address, so URLs
// only name the path (the host in them is never resolved).
type api struct{ client *http.Client }

func newAPI(control string) api {
	network, addr := address(control)
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	return api{&http.Client{Transport: transport, Timeout: 30 * time.Second}}
}

// call sends body (nil for none) as JSON, checks the status and decodes the answer.
func (a api) call(method, path string, body any, want int, answer any) {
	var payload io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			fail("%s %s: %v", method, path, err)
		}
		payload = bytes.NewReader(data)
	}
	request, err := http.NewRequest(method, "http://fakeqemu"+path, payload)
	if err != nil {
		fail("%s %s: %v", method, path, err)
	}
	request.Header.Set("Content-Type", "application/json")
	response, err := a.client.Do(request)
	if err != nil {
		fail("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	data, err := io.ReadAll(response.Body)
	if err != nil {
		fail("%s %s: reading the answer: %v", method, path, err)
	}
	if response.StatusCode != want {
		fail("%s %s answered %d, not %d: %s", method, path, response.StatusCode, want, data)
	}
	if err := json.Unmarshal(data, answer); err != nil {
		fail("%s %s: the answer is not what was expected: %v: %s", method, path, err, data)
	}
}

// monitor is one QMP connection, negotiated; events are read and skipped.
type monitor struct {
	conn    net.Conn
	decoder *json.Decoder
}

type reply struct {
	Event  string          `json:"event"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

func openMonitor(where string) *monitor {
	network, addr := address(where)
	conn, err := net.DialTimeout(network, addr, 10*time.Second)
	if err != nil {
		fail("QMP %s: %v", where, err)
	}
	m := &monitor{conn, json.NewDecoder(conn)}
	var greeting map[string]json.RawMessage
	m.read(&greeting)
	if _, ok := greeting["QMP"]; !ok {
		fail("QMP %s: no greeting", where)
	}
	m.mustReturn("qmp_capabilities", nil, nil)
	return m
}

func (m *monitor) read(into any) {
	_ = m.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := m.decoder.Decode(into); err != nil {
		fail("QMP: reading: %v", err)
	}
}

// execute sends one command and returns its reply (events before it are skipped).
func (m *monitor) execute(command string, arguments any) reply {
	message := map[string]any{"execute": command}
	if arguments != nil {
		message["arguments"] = arguments
	}
	data, _ := json.Marshal(message)
	if _, err := m.conn.Write(data); err != nil {
		fail("QMP: sending %s: %v", command, err)
	}
	for {
		var r reply
		m.read(&r)
		if r.Event == "" {
			return r
		}
	}
}

// mustReturn executes a command that must succeed and decodes its return value.
func (m *monitor) mustReturn(command string, arguments any, into any) {
	r := m.execute(command, arguments)
	if r.Error != nil {
		fail("%s answered %s: %s", command, r.Error.Class, r.Error.Desc)
	}
	if into != nil {
		if err := json.Unmarshal(r.Return, into); err != nil {
			fail("%s returned %s: %v", command, r.Return, err)
		}
	}
}

type fault struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

type migrationView struct {
	Model struct {
		Status               string `json:"status"`
		Pass                 int    `json:"pass"`
		RemainingAtPassStart int64  `json:"remaining-at-pass-start"`
		Total                int64  `json:"total"`
	} `json:"model"`
}

func argument(index int, variable string) string {
	if len(os.Args) > index {
		return os.Args[index]
	}
	if value := os.Getenv(variable); value != "" {
		return value
	}
	fail("usage: controlapi CONTROL SOURCE DESTINATION (unix:PATH or tcp:HOST:PORT each), or $%s", variable)
	return ""
}

func main() {
	ctl := newAPI(argument(1, "FAKEQEMU_CONTROL"))
	source := openMonitor(argument(2, "FAKEQEMU_SOURCE"))
	destination := openMonitor(argument(3, "FAKEQEMU_DESTINATION"))

	var health map[string]string
	ctl.call("GET", "/health", nil, 200, &health)
	if health["status"] != "ok" || health["role"] != "source" || health["clock"] != "virtual" {
		fail("health: %v (serve the source with --control and --clock virtual)", health)
	}
	fmt.Printf("health: ok, profile %s, shape %s, clock virtual\n", health["profile"], health["shape"])

	// The destination listens on a free port; its query-migrate says which.
	destination.mustReturn("migrate-incoming", map[string]string{"uri": "tcp:127.0.0.1:0"}, nil)
	var incoming struct {
		SocketAddress []struct {
			Port string `json:"port"`
		} `json:"socket-address"`
	}
	destination.mustReturn("query-migrate", nil, &incoming)
	if len(incoming.SocketAddress) == 0 {
		fail("the destination's query-migrate names no socket address")
	}
	uri := "tcp:127.0.0.1:" + incoming.SocketAddress[0].Port
	fmt.Println("destination listening on", uri)
	migrate := map[string]string{"uri": uri}

	// 1. A GenericError on migrate: injected, seen by the QMP client, listed, removed.
	var added fault
	ctl.call("POST", "/faults", map[string]string{
		"kind": "error", "command": "migrate", "class": "GenericError", "desc": desc,
	}, 201, &added)
	r := source.execute("migrate", migrate)
	if r.Error == nil || r.Error.Class != "GenericError" || r.Error.Desc != desc {
		fail("migrate should have answered the injected error, answered %s", r.Return)
	}
	fmt.Printf("fault %s: migrate answered %s: %s\n", added.ID, r.Error.Class, r.Error.Desc)
	var faults []fault
	ctl.call("GET", "/faults", nil, 200, &faults)
	if len(faults) != 1 || faults[0].ID != added.ID || faults[0].Kind != "error" {
		fail("GET /faults: %v, not the fault %s", faults, added.ID)
	}
	var removed map[string]string
	ctl.call("DELETE", "/faults/"+added.ID, nil, 200, &removed)
	ctl.call("GET", "/faults", nil, 200, &faults)
	if removed["removed"] != added.ID || len(faults) != 0 {
		fail("DELETE /faults/%s: %v, faults left: %v", added.ID, removed, faults)
	}
	var problem map[string]string
	ctl.call("DELETE", "/faults/nope", nil, 404, &problem)
	fmt.Printf("fault %s removed; an unknown one is a 404: %s\n", added.ID, problem["error"])

	// 2. stall-at:60 on the virtual clock: each pass starts with 40% of RAM dirty.
	var scenario struct {
		Scenario struct {
			Name string `json:"name"`
		} `json:"scenario"`
	}
	ctl.call("PUT", "/scenario", map[string]string{"scenario": "stall-at:60"}, 200, &scenario)
	if scenario.Scenario.Name != "stall-at:60" {
		fail("PUT /scenario: %v", scenario)
	}
	source.mustReturn("migrate", migrate, nil)
	var passes []int
	var view migrationView
	for i := 0; i < 6; i++ {
		var advanced map[string]any
		ctl.call("POST", "/clock/advance", map[string]int{"seconds": 2}, 200, &advanced)
		if advanced["status"] != "active" {
			fail("after advancing the clock the migration is %v, not active", advanced["status"])
		}
		ctl.call("GET", "/migration", nil, 200, &view)
		model := view.Model
		passes = append(passes, model.Pass)
		// From the third pass on, each starts with at least 40% of RAM dirty: the plateau.
		if model.Pass >= 3 && model.RemainingAtPassStart*100 < model.Total*40 {
			fail("remaining fell to %d of %d at pass %d", model.RemainingAtPassStart, model.Total, model.Pass)
		}
	}
	if passes[5] <= passes[0] {
		fail("no new passes: %v", passes)
	}
	fmt.Printf("plateau: passes %v, remaining at pass start >= 40%% of %d\n", passes, view.Model.Total)

	// 3. A higher downtime-limit lets it switch over: the migration completes.
	source.mustReturn("migrate-set-parameters", map[string]int{"downtime-limit": 5000}, nil)
	var advanced map[string]any
	ctl.call("POST", "/clock/advance", map[string]int{"seconds": 10}, 200, &advanced)
	var waited map[string]string
	ctl.call("POST", "/wait", map[string]any{"status": "completed", "timeout": 10}, 200, &waited)
	var info map[string]any
	source.mustReturn("query-migrate", nil, &info)
	if waited["status"] != "completed" || info["status"] != "completed" {
		fail("not completed: /wait %v, query-migrate %v", waited, info)
	}
	fmt.Println("completed once downtime-limit was 5000 ms")

	// 4. The journal: every call with its reply, and the fault that answered migrate.
	var journal struct {
		Calls []struct {
			Command   string         `json:"command"`
			Arguments map[string]any `json:"arguments"`
		} `json:"calls"`
		Faults []fault `json:"faults"`
	}
	ctl.call("GET", "/journal", nil, 200, &journal)
	raised := false
	for _, call := range journal.Calls {
		raised = raised || (call.Command == "migrate-set-parameters" && call.Arguments["downtime-limit"] == 5000.0)
	}
	if !raised || len(journal.Faults) != 1 || journal.Faults[0].ID != added.ID {
		fail("the journal misses the downtime-limit call or the fault: %+v", journal)
	}
	var cleared map[string]int
	ctl.call("DELETE", "/journal", nil, 200, &cleared)
	fmt.Printf("journal: %d calls, %d fault; %d cleared\n", len(journal.Calls), len(journal.Faults), cleared["cleared"])
	fmt.Println("control session passed")
}
