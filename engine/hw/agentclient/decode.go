package agentclient

import (
	"encoding/json"
	"fmt"
	"io"
)

func decode(r io.Reader, v any) error {
	if err := json.NewDecoder(r).Decode(v); err != nil {
		return fmt.Errorf("reading the agent's answer: %w", err)
	}
	return nil
}
