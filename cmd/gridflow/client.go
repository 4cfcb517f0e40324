package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// clientFlags are shared by every verb that talks to the REST API.
var clientFlags = []cli.Flag{
	stringFlag("api", "http://127.0.0.1:8080", "base URL of a Gridflow API"),
	stringFlag("token", "", "bearer token (gridflow dev prints the admin's)"),
}

// call sends a request to the API and decodes a JSON answer into out (if not
// nil); problem+json errors come back as their detail.
func call(c *cli.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(c.Context, method, strings.TrimRight(c.String("api"), "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if t := c.String("token"); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the API at %s: %w (is gridflow running? set --api)", c.String("api"), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var p struct {
			Detail string `json:"detail"`
			Errors []struct {
				Message  string `json:"message"`
				Location string `json:"location"`
			} `json:"errors"`
		}
		if json.Unmarshal(raw, &p) == nil && p.Detail != "" {
			msg := fmt.Sprintf("%s %s: %s", method, path, p.Detail)
			for _, e := range p.Errors {
				msg += "\n  " + e.Location + ": " + e.Message
			}
			return fmt.Errorf("%s (HTTP %d)", msg, resp.StatusCode)
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// printJSON shows an API answer indented, for humans and for jq.
func printJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
