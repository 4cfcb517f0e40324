package embedded

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Purposes of the ports the embedded server binds, as reported in PortInUseError.Purpose.
const (
	PurposeFrontend     = "frontend"      // gRPC frontend (Config.FrontendAddress)
	PurposeFrontendHTTP = "frontend-http" // HTTP API of the frontend (Config.FrontendHTTPPort)
	PurposeHistory      = "history"       // internal history service (Config.HistoryPort)
	PurposeMatching     = "matching"      // internal matching service (Config.MatchingPort)
	PurposeWorker       = "worker"        // internal worker service (Config.WorkerPort)
	PurposeUI           = "ui"            // Web UI (Config.UIAddress)
)

// PortInUseError reports that an address the embedded server needs cannot be bound.
// Start checks every address before it starts anything, because the Temporal server and
// the UI server end the process when a listener fails.
type PortInUseError struct {
	Address string // host:port that could not be bound
	Purpose string // one of the Purpose* constants: which setting to change
	Err     error  // the error from the bind attempt, if any
}

func (e *PortInUseError) Error() string {
	msg := fmt.Sprintf("embedded temporal: %s address %s is already in use", e.Purpose, e.Address)
	if e.Err != nil && !errors.Is(e.Err, syscall.EADDRINUSE) {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// binding is one address the server will listen on.
type binding struct {
	purpose string
	host    string // IP literal to bind on
	port    int    // 0 until allocated
}

func (b binding) address() string { return net.JoinHostPort(b.host, strconv.Itoa(b.port)) }

// allocatePorts gives every binding with port 0 a free port on its host. All listeners
// are held open until every port is chosen, so no two bindings receive the same port.
func allocatePorts(bs []*binding) error {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	for _, b := range bs {
		if b.port != 0 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(b.host, "0"))
		if err != nil {
			return fmt.Errorf("embedded temporal: no free port for %s on %s: %w", b.purpose, b.host, err)
		}
		held = append(held, l)
		b.port = l.Addr().(*net.TCPAddr).Port
	}
	return nil
}

// checkPorts binds and releases every address, in order, and returns a *PortInUseError
// for the first that cannot be bound. Two bindings on the same port are refused too.
func checkPorts(bs []*binding) error {
	seen := map[int]string{}
	for _, b := range bs {
		if other, dup := seen[b.port]; dup {
			return &PortInUseError{Address: b.address(), Purpose: b.purpose,
				Err: fmt.Errorf("port %d is also configured for %s", b.port, other)}
		}
		seen[b.port] = b.purpose
	}
	for _, b := range bs {
		l, err := net.Listen("tcp", b.address())
		if err != nil {
			return &PortInUseError{Address: b.address(), Purpose: b.purpose, Err: err}
		}
		_ = l.Close()
	}
	return nil
}

// splitAddress parses "host:port" into a bind IP and a port. An empty host or
// "localhost" means 127.0.0.1; port 0 asks for a free port.
func splitAddress(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: invalid port %q", addr, p)
	}
	switch h {
	case "", "localhost":
		h = "127.0.0.1"
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return "", 0, fmt.Errorf("address %q: host must be an IP address or localhost", addr)
	}
	return ip.String(), port, nil
}

// dialHost is the host a local client uses to reach a listener bound on host.
func dialHost(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return host
}
