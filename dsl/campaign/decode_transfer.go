package campaign

import (
	"encoding/hex"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// TransferSchemes are the endpoint schemes a transfer may use: files under
// the engine's configured roots, web servers, and node storage served by the
// node agents (node://<host>/<path>).
var TransferSchemes = []string{"file", "http", "https", "node"}

// checksumLengths are the hex digest lengths of the supported algorithms.
var checksumLengths = map[string]int{"adler32": 8, "md5": 32, "sha256": 64}

func (d *decoder) transfer(b *body) Spec {
	s := &TransferSpec{}
	files := b.nested("files")
	if len(files) == 0 && !d.diags.HasErrors() {
		b.errorf(b.block.DefRange, "Missing files block",
			"A transfer moves at least one file: add a block such as\n  files {\n    source      = \"http://data.example.org/set.tar\"\n    destination = \"node://${reservation.exp.nodes[0]}/tmp/set.tar\"\n  }")
	}
	if len(files) > MaxBlocks {
		b.errorf(files[MaxBlocks].block.DefRange, "Too many files blocks", "A transfer may have at most %d files blocks; split it into several transfers.", MaxBlocks)
		files = files[:MaxBlocks]
	}
	for _, f := range files {
		tf := TransferFile{}
		src, srcs := f.content.Attributes["source"], f.content.Attributes["sources"]
		switch {
		case src != nil && srcs != nil:
			f.errorf(srcs.Range, "Conflicting arguments", "Give either source (one URL) or sources (alternatives for the same file), not both.")
		case src == nil && srcs == nil:
			f.errorf(f.block.DefRange, "Missing required argument \"source\"",
				"A files block needs a source, for example: source = \"http://data.example.org/set.tar\" (or sources = [...] for alternatives).")
		case src != nil:
			if u, a, ok := f.str("source"); ok {
				f.checkURL(u, a.Expr.Range(), "source")
				tf.Sources = []string{u}
			}
		default:
			if list := f.strList("sources"); list != nil {
				if len(list) == 0 {
					f.errorf(srcs.Expr.Range(), "No sources", "sources lists at least one URL.")
				}
				for _, u := range list {
					f.checkURL(u, srcs.Expr.Range(), "source")
				}
				tf.Sources = list
			}
		}
		if u, a, ok := f.str("destination"); ok {
			f.checkURL(u, a.Expr.Range(), "destination")
			tf.Destination = u
		}
		if lfn, a, ok := f.str("lfn"); ok {
			if !strings.HasPrefix(lfn, "/") || strings.Contains(lfn, "//") || strings.HasSuffix(lfn, "/") {
				f.errorf(a.Expr.Range(), "Invalid logical file name",
					"%q is not a file of the catalogue: write /<user>/<dir>/<name>, as in \"/alice/exp/results.tar\".", lfn)
			} else {
				tf.LFN = lfn
			}
		}
		if sum, a, ok := f.str("checksum"); ok {
			algo, digest, hasDigest := strings.Cut(sum, ":")
			algo = strings.ToLower(algo)
			want, known := checksumLengths[algo]
			switch {
			case !known:
				f.errorf(a.Expr.Range(), "Unknown checksum algorithm",
					"%q is not a checksum algorithm.%s Write \"adler32\", \"md5\" or \"sha256\", optionally followed by the expected digest: \"sha256:<hex>\".",
					algo, didYouMean(algo, sortedKeys(checksumLengths)))
			case hasDigest && (len(digest) != want || !isHex(digest)):
				f.errorf(a.Expr.Range(), "Invalid checksum",
					"A %s digest is %d hexadecimal digits; %q is not. Leave the digest out to compare source and destination instead.", algo, want, digest)
			default:
				tf.ChecksumAlgorithm, tf.Checksum = algo, strings.ToLower(digest)
			}
		}
		s.Files = append(s.Files, tf)
	}
	s.VerifyChecksum = b.boolean("verify_checksum", true)
	s.Overwrite = b.boolean("overwrite", false)
	s.Retry = b.whole("retry", 0, 0, 100)
	s.RetryDelay = b.duration("retry_delay", 0)
	s.Priority = b.whole("priority", 3, 1, 5)
	s.pending = d.finish()
	return s
}

// checkURL checks an endpoint URL; node URLs name the host of a reserved node.
func (b *body) checkURL(raw string, rng hcl.Range, what string) {
	if what == "source" && strings.HasPrefix(strings.ToLower(raw), "lfn:") {
		// A logical file name: the engine reads the file catalogue's
		// replicas of it when the step runs.
		if p := raw[len("lfn:"):]; !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || len(p) < 2 {
			b.errorf(rng, "Invalid logical file name",
				"%q is not a file of the catalogue: write lfn:/<user>/<dir>/<name>, as in \"lfn:/alice/exp/set.tar\".", raw)
		}
		return
	}
	if what == "destination" && strings.HasPrefix(strings.ToLower(raw), "lfn:") {
		b.errorf(rng, "A logical file name is not a destination",
			"Copy to a storage URL (%s) and register the copy in the file catalogue with lfn = %q in the files block.",
			quotedList(TransferSchemes), raw[len("lfn:"):])
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		b.errorf(rng, "Invalid "+what+" URL",
			"%q is not a URL. Write scheme://host/path with one of the schemes %s, as in \"node://${reservation.exp.nodes[0]}/tmp/data\".",
			raw, quotedList(TransferSchemes))
		return
	}
	if !contains(TransferSchemes, u.Scheme) {
		b.errorf(rng, "Unsupported URL scheme",
			"%s://… cannot be transferred.%s The schemes are %s.", u.Scheme, didYouMean(u.Scheme, TransferSchemes), quotedList(TransferSchemes))
		return
	}
	if (u.Scheme == "node" || u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		b.errorf(rng, "Missing host in URL", "%q names no host: write %s://<host>/<path>.", raw, u.Scheme)
		return
	}
	if u.Path == "" || u.Path == "/" {
		b.errorf(rng, "Missing path in URL", "%q names no file: add its path, as in %s://%s/data/set.tar.", raw, u.Scheme, u.Host)
	}
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}
