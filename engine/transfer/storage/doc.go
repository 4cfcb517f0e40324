// Package storage parses and polices the storage URLs of transfers and
// copies one file's bytes from one of its sources to its destination.
//
// URLs are file:///abs/path (under a root of the Policy), http(s)://…
// (sources only, from allowed hosts) and node://NODE/rel/path (the file
// area of a node, through its hw.Files driver: sim or agent). Parse checks
// syntax (errors: IsInvalid, HTTP 422), Endpoints.Check the policy
// (IsForbidden, HTTP 403).
//
// Endpoints.Copy streams: the bytes pass through one buffer of BufferSize,
// hashed on the way (the algorithm of the user's checksum, else
// DefaultAlgorithm), never held whole in memory. A file destination is
// written to a temporary name beside it (".NAME.gridflow-ID.part"),
// synced, verified, then renamed — or hard-linked, when it must not
// replace a file, so that the check is atomic. A node destination is the
// node's Put, which does the same on the node. Sources are tried in turn.
// Errors are *CopyError, with the phase that failed, a reason meant for the
// user, and whether a retry may help.
package storage
