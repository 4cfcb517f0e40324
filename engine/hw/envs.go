package hw

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// PublicEnvironment is an environment of the built-in catalog (the public
// images every testbed offers, as Grid'5000's kadeploy environments).
type PublicEnvironment struct {
	Name        string // "debian12-min@2024.1"
	Description string
	URL         string
	Checksum    string // "sha256:<hex>"
}

// DefaultEnvironment is what a node runs before anything is deployed.
const DefaultEnvironment = "debian12-std@2024.1"

var publicEnvironments = func() []PublicEnvironment {
	list := []PublicEnvironment{
		{Name: "debian12-std@2024.1", Description: "Debian 12, the standard environment nodes run when nothing is deployed"},
		{Name: "debian12-min@2024.1", Description: "Debian 12, minimal"},
		{Name: "debian12-base@2024.1", Description: "Debian 12 with the usual tools"},
		{Name: "debian12-nfs@2024.1", Description: "Debian 12 with NFS home directories"},
		{Name: "debian12-big@2024.1", Description: "Debian 12 with compilers, MPI and CUDA"},
		{Name: "ubuntu2404-min@2024.1", Description: "Ubuntu 24.04, minimal"},
		{Name: "rocky9-min@2024.1", Description: "Rocky Linux 9, minimal"},
	}
	for i := range list {
		e := &list[i]
		e.URL = "https://environments.gridflow.invalid/" + strings.ReplaceAll(e.Name, "@", "-") + ".tar.zst"
		// The images are not downloadable: the checksum identifies the
		// catalog entry, and simulated nodes check it.
		sum := sha256.Sum256([]byte("gridflow public environment " + e.Name))
		e.Checksum = "sha256:" + hex.EncodeToString(sum[:])
	}
	return list
}()

// PublicEnvironments returns the built-in catalog; the slice is a copy.
func PublicEnvironments() []PublicEnvironment {
	return append([]PublicEnvironment(nil), publicEnvironments...)
}

// LookupPublicEnvironment finds a built-in environment by name.
func LookupPublicEnvironment(name string) (PublicEnvironment, bool) {
	for _, e := range publicEnvironments {
		if e.Name == name {
			return e, true
		}
	}
	return PublicEnvironment{}, false
}
