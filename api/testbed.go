package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/hashicorp/hcl/v2"
)

// hclTypes are the content types accepted for HCL sources.
var hclTypes = []string{"text/x-hcl", "application/hcl", "text/plain"}

// diagnosticErrors turns HCL diagnostics into problem details whose location is
// file:line:column, so API users see the same positions as the CLI.
func diagnosticErrors(diags hcl.Diagnostics) []error {
	var out []error
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		loc := ""
		if d.Subject != nil {
			loc = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		out = append(out, &huma.ErrorDetail{Message: msg, Location: loc})
	}
	return out
}

func isHCL(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	for _, t := range hclTypes {
		if ct == t {
			return true
		}
	}
	return false
}

type testbedPut struct {
	ContentType string `header:"Content-Type"`
	Message     string `query:"message" maxLength:"500" doc:"Why the testbed changes (kept in …/versions)"`
	RawBody     []byte `contentType:"text/x-hcl"`
}

func (s *Server) registerTestbed(api huma.API) {
	put := op("put-testbed", http.MethodPut, "/v1/testbed", "Replace the testbed description (administrators); a change becomes a new version", "reference")
	put.MaxBodyBytes = 8 << 20
	huma.Register(api, put, func(ctx context.Context, in *testbedPut) (*struct{ Body VersionItem }, error) {
		if err := requireAdmin(ctx, "change the testbed"); err != nil {
			return nil, err
		}
		if !isHCL(in.ContentType) {
			return nil, huma.NewError(http.StatusUnsupportedMediaType, "send the testbed as text/x-hcl, not "+quote(in.ContentType))
		}
		snap, _, _, diags := s.eng.LoadTestbed(ctx, in.RawBody, "testbed.hcl", caller(ctx).User.Name, in.Message)
		if diags.HasErrors() {
			return nil, huma.Error422UnprocessableEntity("the testbed has errors", diagnosticErrors(diags)...)
		}
		return &struct{ Body VersionItem }{versionItem(ctx, snap.Version, "/versions")}, nil
	})
}
