// Command specgen writes Gridflow's OpenAPI document to a file: the valid
// OpenAPI 3.0 form that the generated client is made from (see
// ../../generate.go), or with -3.1 the API's own 3.1 document.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gridflow/gridflow/apiclient/internal/spec"
)

func main() {
	out := flag.String("o", "openapi-3.0.json", "file to write the document to")
	v31 := flag.Bool("3.1", false, "write the OpenAPI 3.1 document instead of its 3.0 form")
	flag.Parse()
	b, err := spec.Document(*v31)
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "specgen:", err)
		os.Exit(1)
	}
}
