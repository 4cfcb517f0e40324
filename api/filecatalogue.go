package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/transfer/storage"
)

// The file catalogue, DIRAC style: logical file names (LFNs) in a directory
// tree, with replicas, sizes, checksums and metadata. As in DIRAC's REST
// interface, a path in a URL is the URL-safe base64 (RFC 4648 §5: '-' for
// '+', '_' for '/'; padding optional) of the absolute path: "Lw==" is "/",
// "L2FsaWNl" is "/alice". Everyone authenticated reads everything; a user
// writes under /<their name>, an administrator anywhere.

// encodeLFN is the form of a path in URLs and uids: padded, as Python's
// base64.urlsafe_b64encode writes it.
func encodeLFN(p string) string { return base64.URLEncoding.EncodeToString([]byte(p)) }

// decodeLFN reads the path parameter param: URL-safe base64, with or without
// padding, of an absolute catalogue path.
func decodeLFN(param, enc string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
	if err != nil || enc == "" {
		hint := ""
		if strings.ContainsAny(enc, "+/") {
			hint = " ('+' and '/' are the standard alphabet: write '-' and '_' instead)"
		}
		msg := fmt.Sprintf("%s: %q is not URL-safe base64 (RFC 4648 §5)%s; encode the absolute path, e.g. %s for / or %s for /alice",
			param, enc, hint, encodeLFN("/"), encodeLFN("/alice"))
		return "", huma.Error400BadRequest(msg, &huma.ErrorDetail{Location: "path." + param, Message: msg, Value: enc})
	}
	p, err := store.CleanLFN(string(raw))
	if err != nil {
		msg := fmt.Sprintf("%s: %q decodes to %s", param, enc, trimStoreErr(err, store.ErrInvalid))
		return "", huma.Error422UnprocessableEntity(msg, &huma.ErrorDetail{Location: "path." + param, Message: msg, Value: enc})
	}
	return p, nil
}

// trimStoreErr turns a store error into a message for the client.
func trimStoreErr(err, sentinel error) string {
	return strings.TrimSuffix(strings.TrimPrefix(err.Error(), "store: "), ": "+sentinel.Error())
}

// catalogError maps the store's refusals to problems that say what was wrong.
func catalogError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound(trimStoreErr(err, store.ErrNotFound))
	case errors.Is(err, store.ErrConflict):
		return huma.Error409Conflict(trimStoreErr(err, store.ErrConflict))
	case errors.Is(err, store.ErrInvalid):
		return huma.Error422UnprocessableEntity(trimStoreErr(err, store.ErrInvalid))
	}
	return huma.Error500InternalServerError("file catalogue: " + err.Error())
}

// writableLFN decodes a base64 path parameter and checks that the caller
// may change what it names.
func writableLFN(ctx context.Context, what, raw string) (string, error) {
	p, err := decodeLFN(what, raw)
	if err != nil {
		return "", err
	}
	return p, mayWrite(ctx, p)
}

// mayWrite answers 403 unless the caller may change path: an administrator,
// or a user under /<name>.
func mayWrite(ctx context.Context, path string) error {
	p := caller(ctx)
	if p.User.Admin {
		return nil
	}
	home := "/" + p.User.Name
	if path == home || strings.HasPrefix(path, home+"/") {
		return nil
	}
	return huma.Error403Forbidden(fmt.Sprintf("you may write in the file catalogue only under %s (%s is outside it); administrators write anywhere", home, path))
}

// MetaConditionQuery collects a request's metadata conditions: every query
// parameter but the operation's own, in DIRAC's form key=op|value.
type MetaConditionQuery struct {
	raw url.Values
}

// Resolve implements huma.Resolver: it keeps the query for conditions().
func (q *MetaConditionQuery) Resolve(ctx huma.Context) []error {
	u := ctx.URL()
	q.raw = u.Query()
	return nil
}

// conditions parses the conditions; a malformed one is a 422 naming its
// parameter.
func (q *MetaConditionQuery) conditions() ([]store.MetaCondition, error) {
	var out []store.MetaCondition
	keys := make([]string, 0, len(q.raw))
	for k := range q.raw {
		if !slices.Contains(store.ReservedMetaKeys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range q.raw[k] {
			c, err := store.ParseMetaCondition(k, v)
			if err != nil {
				msg := "query." + k + ": " + trimStoreErr(err, store.ErrInvalid)
				return nil, huma.Error422UnprocessableEntity(msg, &huma.ErrorDetail{Location: "query." + k, Message: msg, Value: v})
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// extra re-encodes the conditions for page links.
func (q *MetaConditionQuery) extra() string {
	v := url.Values{}
	for k, vs := range q.raw {
		if k != "offset" && k != "limit" {
			v[k] = vs
		}
	}
	return v.Encode()
}

const conditionsDoc = " Metadata conditions are further query parameters, DIRAC style: `key=op|value` with op `<`, `>`, `=`, `<=` or `>=` " +
	"and a number for number keys, or `in` and a comma-separated list for string keys (e.g. `?run=>=|1200&run=<|1300&site=in|rennes,lyon`); all must hold. " +
	"A directory's metadata applies below it unless a subdirectory or file sets the key itself."

// --- bodies ----------------------------------------------------------------

// CatalogReplicaItem is one replica of a file.
type CatalogReplicaItem struct {
	URL       string    `json:"url" example:"node://paravance-1/data/run1/out.dat"`
	SE        string    `json:"se" doc:"The storage element the URL belongs to" example:"node://paravance-1"`
	CreatedAt time.Time `json:"created_at"`
}

func replicaItems(rs []store.CatalogReplica) []CatalogReplicaItem {
	out := make([]CatalogReplicaItem, len(rs))
	for i, r := range rs {
		out[i] = CatalogReplicaItem{URL: r.URL, SE: r.SE, CreatedAt: r.CreatedAt}
	}
	return out
}

// CatalogEntryItem is a subdirectory or file in a directory listing.
type CatalogEntryItem struct {
	UID       string               `json:"uid" doc:"The path in URL-safe base64"`
	Type      string               `json:"type" enum:"directory,file"`
	Name      string               `json:"name"`
	Path      string               `json:"path"`
	Owner     string               `json:"owner"`
	CreatedAt time.Time            `json:"created_at"`
	Size      *int64               `json:"size,omitempty" doc:"Files, verbose listings"`
	Checksum  string               `json:"checksum,omitempty" doc:"Files, verbose listings"`
	Replicas  []CatalogReplicaItem `json:"replicas,omitempty" doc:"Files, verbose listings"`
	Metadata  map[string]any       `json:"metadata,omitempty" doc:"The entry's own metadata, verbose listings"`
	Links     []Link               `json:"links"`
}

// CatalogDirItem is a directory with its metadata.
type CatalogDirItem struct {
	itemMedia
	UID           string            `json:"uid" doc:"The path in URL-safe base64" example:"L2FsaWNl"`
	Path          string            `json:"path" example:"/alice"`
	Owner         string            `json:"owner"`
	CreatedAt     time.Time         `json:"created_at"`
	Metadata      map[string]any    `json:"metadata" doc:"Its own metadata and what it inherits from the directories above"`
	InheritedFrom map[string]string `json:"inherited_from,omitempty" doc:"For each inherited key, the directory that sets it"`
	Compatible    map[string][]any  `json:"compatible,omitempty" doc:"For each key, the values it takes at and below this directory where the conditions hold"`
	Links         []Link            `json:"links"`
}

// CatalogFileItem is a file's attributes.
type CatalogFileItem struct {
	itemMedia
	UID       string               `json:"uid" doc:"The path in URL-safe base64"`
	Path      string               `json:"path" example:"/alice/run1/out.dat"`
	Name      string               `json:"name"`
	Directory string               `json:"directory"`
	Owner     string               `json:"owner"`
	Size      int64                `json:"size"`
	Checksum  string               `json:"checksum,omitempty" example:"adler32:062c0215"`
	CreatedAt time.Time            `json:"created_at"`
	Replicas  []CatalogReplicaItem `json:"replicas"`
	Links     []Link               `json:"links"`
}

// CatalogFileMetaItem is a file's metadata.
type CatalogFileMetaItem struct {
	itemMedia
	UID           string            `json:"uid"`
	Path          string            `json:"path"`
	Metadata      map[string]any    `json:"metadata" doc:"Its own metadata and what it inherits from its directories"`
	InheritedFrom map[string]string `json:"inherited_from,omitempty" doc:"For each inherited key, the directory that sets it"`
	Links         []Link            `json:"links"`
}

// CatalogSearchItem is a directory a metadata search found.
type CatalogSearchItem struct {
	UID      string         `json:"uid"`
	Path     string         `json:"path"`
	Files    int            `json:"files" doc:"Files in it and below it"`
	Size     int64          `json:"size" doc:"Their total size in bytes"`
	Metadata map[string]any `json:"metadata" doc:"Its own and inherited metadata"`
	Links    []Link         `json:"links"`
}

// CatalogMetaKeyItem is a metadata key.
type CatalogMetaKeyItem struct {
	UID    string `json:"uid"`
	Key    string `json:"key"`
	Type   string `json:"type" enum:"number,string"`
	Values []any  `json:"values" doc:"The values it takes where the conditions hold"`
	Links  []Link `json:"links"`
}

// CatalogDirCreate is the optional body of a directory creation.
type CatalogDirCreate struct {
	Metadata map[string]any `json:"metadata,omitempty" doc:"Metadata of the new directory: key → number or string"`
}

// CatalogMetaChange sets metadata.
type CatalogMetaChange struct {
	Metadata map[string]any `json:"metadata" doc:"Keys to set (number or string) or, with null, to remove; other keys stay. A key's first use fixes its type" example:"{\"run\":1234,\"site\":\"rennes\",\"old\":null}"`
}

// CatalogFileRegistration registers a file.
type CatalogFileRegistration struct {
	Size     int64          `json:"size" minimum:"0" doc:"Size in bytes"`
	Checksum string         `json:"checksum,omitempty" maxLength:"100" doc:"algorithm:hex with adler32, md5 or sha256" example:"adler32:062c0215"`
	Replicas []string       `json:"replicas,omitempty" maxItems:"100" doc:"Storage URLs holding its bytes" example:"[\"node://paravance-1/data/out.dat\"]"`
	Metadata map[string]any `json:"metadata,omitempty" doc:"key → number or string"`
}

// CatalogReplicaAdd adds a replica.
type CatalogReplicaAdd struct {
	URL string `json:"url" minLength:"1" maxLength:"8192" doc:"Storage URL: file:///path, http(s)://host/path or node://NODE/path" example:"node://paravance-2/data/out.dat"`
}

// --- items -------------------------------------------------------------------

func lfnName(p string) string {
	if p == "/" {
		return "/"
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

func lfnDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func dirPath(p string) string  { return "/filecatalogue/directory/" + encodeLFN(p) }
func filePath(p string) string { return "/filecatalogue/file/" + encodeLFN(p) }

func dirLinks(ctx context.Context, p string) []Link {
	links := []Link{
		link(ctx, "self", dirPath(p)+"/metadata", ItemType),
		link(ctx, "contents", dirPath(p), CollectionType),
		link(ctx, "search", dirPath(p)+"/search", CollectionType),
	}
	if p != "/" {
		links = append(links, link(ctx, "parent", dirPath(lfnDir(p))+"/metadata", ItemType))
	}
	return links
}

func fileLinks(ctx context.Context, p string) []Link {
	return []Link{
		link(ctx, "self", filePath(p)+"/attributes", ItemType),
		link(ctx, "parent", dirPath(lfnDir(p))+"/metadata", ItemType),
		link(ctx, "metadata", filePath(p)+"/metadata", ItemType),
		link(ctx, "replicas", filePath(p)+"/replicas", ItemType),
	}
}

func metaMap(m store.Metadata) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func catalogDirItem(ctx context.Context, d store.CatalogDir) CatalogDirItem {
	return CatalogDirItem{UID: encodeLFN(d.Path), Path: d.Path, Owner: d.Owner, CreatedAt: d.CreatedAt,
		Metadata: metaMap(d.Metadata), InheritedFrom: d.InheritedFrom, Links: dirLinks(ctx, d.Path)}
}

func catalogFileItem(ctx context.Context, f store.CatalogFile) CatalogFileItem {
	return CatalogFileItem{UID: encodeLFN(f.Path), Path: f.Path, Name: lfnName(f.Path), Directory: lfnDir(f.Path), Owner: f.Owner,
		Size: f.Size, Checksum: f.Checksum, CreatedAt: f.CreatedAt, Replicas: replicaItems(f.Replicas), Links: fileLinks(ctx, f.Path)}
}

func catalogFileMetaItem(ctx context.Context, f store.CatalogFile) CatalogFileMetaItem {
	return CatalogFileMetaItem{UID: encodeLFN(f.Path), Path: f.Path, Metadata: metaMap(f.Metadata), InheritedFrom: f.InheritedFrom, Links: []Link{
		link(ctx, "self", filePath(f.Path)+"/metadata", ItemType),
		link(ctx, "parent", filePath(f.Path)+"/attributes", ItemType),
	}}
}

func catalogEntryItem(ctx context.Context, e store.CatalogEntry, verbose bool) CatalogEntryItem {
	it := CatalogEntryItem{UID: encodeLFN(e.Path), Type: e.Kind, Name: lfnName(e.Path), Path: e.Path, Owner: e.Owner, CreatedAt: e.CreatedAt}
	if e.Kind == store.CatalogKindDir {
		it.Links = []Link{link(ctx, "self", dirPath(e.Path), CollectionType), link(ctx, "metadata", dirPath(e.Path)+"/metadata", ItemType)}
	} else {
		it.Links = []Link{link(ctx, "self", filePath(e.Path)+"/attributes", ItemType), link(ctx, "metadata", filePath(e.Path)+"/metadata", ItemType)}
	}
	if verbose {
		it.Metadata = metaMap(e.Metadata)
		if e.Kind == store.CatalogKindFile {
			size := e.Size
			it.Size, it.Checksum, it.Replicas = &size, e.Checksum, replicaItems(e.Replicas)
		}
	}
	return it
}

// --- paths -------------------------------------------------------------------

// CatalogDirPath addresses a directory.
type CatalogDirPath struct {
	Dir string `path:"dir" maxLength:"2048" doc:"The directory's absolute path in URL-safe base64 (RFC 4648 §5), padding optional" example:"L2FsaWNl"`
}

// CatalogFilePath addresses a file.
type CatalogFilePath struct {
	File string `path:"file" maxLength:"2048" doc:"The file's absolute path in URL-safe base64 (RFC 4648 §5), padding optional" example:"L2FsaWNlL3J1bjEvb3V0LmRhdA=="`
}

// canonicalReplica checks a storage URL with the transfer service's rules
// and returns its canonical form.
func canonicalReplica(location, raw string) (string, error) {
	u, err := storage.Parse(raw)
	if err != nil {
		msg := location + ": " + err.Error()
		return "", huma.Error422UnprocessableEntity(msg, &huma.ErrorDetail{Location: location, Message: msg, Value: raw})
	}
	return u.String(), nil
}

func (s *Server) registerFileCatalogue(api huma.API) {
	const tag = "filecatalogue"

	// --- directories ---

	list := op("list-catalogue-directory", http.MethodGet, "/v1/filecatalogue/directory/{dir}", "The contents of a directory: subdirectories, then files, by name", tag)
	list.Description = "With `verbose=true`, files carry their size, checksum and replicas, and every entry its own metadata."
	huma.Register(api, list, func(ctx context.Context, in *struct {
		CatalogDirPath
		Paging
		Verbose bool `query:"verbose" doc:"Add sizes, checksums, replicas and metadata"`
	}) (*struct{ Body Collection[CatalogEntryItem] }, error) {
		p, err := decodeLFN("dir", in.Dir)
		if err != nil {
			return nil, err
		}
		entries, total, err := s.eng.Store.ListCatalogDir(ctx, p, in.Verbose, in.Offset, in.Limit)
		if err != nil {
			return nil, catalogError(err)
		}
		items := make([]CatalogEntryItem, len(entries))
		for i, e := range entries {
			items[i] = catalogEntryItem(ctx, e, in.Verbose)
		}
		extra := ""
		if in.Verbose {
			extra = "verbose=true"
		}
		c := storePage(ctx, items, total, in.Paging, dirPath(p), dirPath(p)+"/metadata", extra)
		c.Links = append(c.Links, link(ctx, "search", dirPath(p)+"/search", CollectionType))
		return &struct{ Body Collection[CatalogEntryItem] }{c}, nil
	})

	dirMeta := op("get-catalogue-directory-metadata", http.MethodGet, "/v1/filecatalogue/directory/{dir}/metadata", "A directory's metadata, and the values compatible with conditions below it", tag)
	dirMeta.Description = "`metadata` is what applies to the directory (its own keys and inherited ones); `compatible` lists, per key, the values found at and below it where the conditions hold." + conditionsDoc
	huma.Register(api, dirMeta, func(ctx context.Context, in *struct {
		CatalogDirPath
		MetaConditionQuery
	}) (*struct{ Body CatalogDirItem }, error) {
		p, err := decodeLFN("dir", in.Dir)
		if err != nil {
			return nil, err
		}
		conds, err := in.conditions()
		if err != nil {
			return nil, err
		}
		d, err := s.eng.Store.GetCatalogDir(ctx, p)
		if err != nil {
			return nil, catalogError(err)
		}
		compat, err := s.eng.Store.CompatibleCatalogMetadata(ctx, p, conds)
		if err != nil {
			return nil, catalogError(err)
		}
		it := catalogDirItem(ctx, d)
		it.Compatible = compat
		return &struct{ Body CatalogDirItem }{it}, nil
	})

	search := op("search-catalogue-directories", http.MethodGet, "/v1/filecatalogue/directory/{dir}/search", "Directories at and below a directory whose metadata matches conditions", tag)
	search.Description = "Each directory found comes with the number of files in it and below it and their total size." + conditionsDoc
	huma.Register(api, search, func(ctx context.Context, in *struct {
		CatalogDirPath
		Paging
		MetaConditionQuery
	}) (*struct{ Body Collection[CatalogSearchItem] }, error) {
		p, err := decodeLFN("dir", in.Dir)
		if err != nil {
			return nil, err
		}
		conds, err := in.conditions()
		if err != nil {
			return nil, err
		}
		found, err := s.eng.Store.SearchCatalogDirs(ctx, p, conds)
		if err != nil {
			return nil, catalogError(err)
		}
		items := make([]CatalogSearchItem, len(found))
		for i, u := range found {
			items[i] = CatalogSearchItem{UID: encodeLFN(u.Path), Path: u.Path, Files: u.Files, Size: u.Size, Metadata: metaMap(u.Metadata), Links: []Link{
				link(ctx, "self", dirPath(u.Path)+"/metadata", ItemType),
				link(ctx, "contents", dirPath(u.Path), CollectionType),
			}}
		}
		return &struct{ Body Collection[CatalogSearchItem] }{page(ctx, items, in.Paging, dirPath(p)+"/search", dirPath(p)+"/metadata", in.extra())}, nil
	})

	type dirCreated struct {
		Status   int
		Location string `header:"Location"`
		Body     CatalogDirItem
	}
	makeDir := func(exclusive bool) func(ctx context.Context, in *struct {
		CatalogDirPath
		Body *CatalogDirCreate
	}) (*dirCreated, error) {
		return func(ctx context.Context, in *struct {
			CatalogDirPath
			Body *CatalogDirCreate
		}) (*dirCreated, error) {
			p, err := writableLFN(ctx, "dir", in.Dir)
			if err != nil {
				return nil, err
			}
			var meta store.Metadata
			if in.Body != nil {
				meta = in.Body.Metadata
			}
			d, created, err := s.eng.Store.MakeCatalogDir(ctx, p, caller(ctx).User.Name, meta, exclusive)
			if err != nil {
				return nil, catalogError(err)
			}
			status := http.StatusOK
			if created {
				status = http.StatusCreated
			}
			return &dirCreated{status, base(ctx) + dirPath(p) + "/metadata", catalogDirItem(ctx, d)}, nil
		}
	}
	put := op("put-catalogue-directory", http.MethodPut, "/v1/filecatalogue/directory/{dir}", "Create a directory, and its missing parents, or set metadata of an existing one", tag)
	put.Description = "201 when made, 200 when it existed (the body's metadata is then applied to it)."
	put.DefaultStatus = http.StatusCreated
	huma.Register(api, put, makeDir(false))
	alsoAnswers(api, http.MethodPut, "/v1/filecatalogue/directory/{dir}", http.StatusOK, "The directory existed; the body's metadata was applied to it")
	post := op("create-catalogue-directory", http.MethodPost, "/v1/filecatalogue/directory/{dir}", "Create a directory and its missing parents", tag)
	post.Description = "409 when it exists already."
	post.DefaultStatus = http.StatusCreated
	huma.Register(api, post, makeDir(true))

	delDir := op("delete-catalogue-directory", http.MethodDelete, "/v1/filecatalogue/directory/{dir}", "Remove an empty directory and its metadata", tag)
	delDir.Description = "A directory that still holds files or subdirectories is a 409: unregister or remove them first. The root stays."
	delDir.DefaultStatus = http.StatusNoContent
	huma.Register(api, delDir, func(ctx context.Context, in *CatalogDirPath) (*struct{}, error) {
		p, err := writableLFN(ctx, "dir", in.Dir)
		if err != nil {
			return nil, err
		}
		return nil, catalogError(s.eng.Store.DeleteCatalogDir(ctx, p))
	})

	huma.Register(api, op("set-catalogue-directory-metadata", http.MethodPut, "/v1/filecatalogue/directory/{dir}/metadata", "Set or remove metadata of a directory", tag),
		func(ctx context.Context, in *struct {
			CatalogDirPath
			Body CatalogMetaChange
		}) (*struct{ Body CatalogDirItem }, error) {
			p, err := writableLFN(ctx, "dir", in.Dir)
			if err != nil {
				return nil, err
			}
			d, err := s.eng.Store.SetCatalogDirMetadata(ctx, p, in.Body.Metadata)
			if err != nil {
				return nil, catalogError(err)
			}
			return &struct{ Body CatalogDirItem }{catalogDirItem(ctx, d)}, nil
		})

	// --- files ---

	huma.Register(api, op("get-catalogue-file-attributes", http.MethodGet, "/v1/filecatalogue/file/{file}/attributes", "A file's size, checksum, owner, creation date and replicas", tag),
		func(ctx context.Context, in *CatalogFilePath) (*struct{ Body CatalogFileItem }, error) {
			p, err := decodeLFN("file", in.File)
			if err != nil {
				return nil, err
			}
			f, err := s.eng.Store.GetCatalogFile(ctx, p)
			if err != nil {
				return nil, catalogError(err)
			}
			return &struct{ Body CatalogFileItem }{catalogFileItem(ctx, f)}, nil
		})

	huma.Register(api, op("get-catalogue-file-metadata", http.MethodGet, "/v1/filecatalogue/file/{file}/metadata", "A file's metadata, its own and its directories'", tag),
		func(ctx context.Context, in *CatalogFilePath) (*struct{ Body CatalogFileMetaItem }, error) {
			p, err := decodeLFN("file", in.File)
			if err != nil {
				return nil, err
			}
			f, err := s.eng.Store.GetCatalogFile(ctx, p)
			if err != nil {
				return nil, catalogError(err)
			}
			return &struct{ Body CatalogFileMetaItem }{catalogFileMetaItem(ctx, f)}, nil
		})

	reg := op("register-catalogue-file", http.MethodPut, "/v1/filecatalogue/file/{file}", "Register a file with its size, checksum, replicas and metadata", tag)
	reg.Description = "Missing parent directories are made. A path already registered (as a file or a directory) is 409: add replicas to it instead."
	reg.DefaultStatus = http.StatusCreated
	huma.Register(api, reg, func(ctx context.Context, in *struct {
		CatalogFilePath
		Body CatalogFileRegistration
	}) (*struct {
		Location string `header:"Location"`
		Body     CatalogFileItem
	}, error) {
		p, err := writableLFN(ctx, "file", in.File)
		if err != nil {
			return nil, err
		}
		b := in.Body
		f := store.CatalogFile{Path: p, Owner: caller(ctx).User.Name, Size: b.Size, Metadata: b.Metadata}
		if b.Checksum != "" {
			sum, err := checksum.Parse(b.Checksum)
			if err != nil {
				msg := "body.checksum: " + err.Error()
				return nil, huma.Error422UnprocessableEntity(msg, &huma.ErrorDetail{Location: "body.checksum", Message: msg, Value: b.Checksum})
			}
			f.Checksum = sum.String()
		}
		for i, r := range b.Replicas {
			u, err := canonicalReplica(fmt.Sprintf("body.replicas[%d]", i), r)
			if err != nil {
				return nil, err
			}
			f.Replicas = append(f.Replicas, store.CatalogReplica{URL: u})
		}
		f, err = s.eng.Store.RegisterCatalogFile(ctx, f)
		if err != nil {
			return nil, catalogError(err)
		}
		return &struct {
			Location string `header:"Location"`
			Body     CatalogFileItem
		}{base(ctx) + filePath(p) + "/attributes", catalogFileItem(ctx, f)}, nil
	})

	addReplica := op("add-catalogue-replica", http.MethodPost, "/v1/filecatalogue/file/{file}/replicas", "Add a replica to a file", tag)
	addReplica.Description = "Answers 201 with the file's attributes; a URL the file already has is 409."
	addReplica.DefaultStatus = http.StatusCreated
	huma.Register(api, addReplica, func(ctx context.Context, in *struct {
		CatalogFilePath
		Body CatalogReplicaAdd
	}) (*struct {
		Location string `header:"Location"`
		Body     CatalogFileItem
	}, error) {
		p, err := writableLFN(ctx, "file", in.File)
		if err != nil {
			return nil, err
		}
		u, err := canonicalReplica("body.url", in.Body.URL)
		if err != nil {
			return nil, err
		}
		f, err := s.eng.Store.AddCatalogReplica(ctx, p, u)
		if err != nil {
			return nil, catalogError(err)
		}
		return &struct {
			Location string `header:"Location"`
			Body     CatalogFileItem
		}{base(ctx) + filePath(p) + "/attributes", catalogFileItem(ctx, f)}, nil
	})

	delReplica := op("remove-catalogue-replica", http.MethodDelete, "/v1/filecatalogue/file/{file}/replicas", "Remove a replica of a file", tag)
	delReplica.Description = "Only the catalogue entry goes; the bytes at the URL stay. The file stays registered, with its other replicas or none."
	delReplica.DefaultStatus = http.StatusNoContent
	huma.Register(api, delReplica, func(ctx context.Context, in *struct {
		CatalogFilePath
		URL string `query:"url" required:"true" maxLength:"8192" doc:"The replica's URL, as registered"`
	}) (*struct{}, error) {
		p, err := writableLFN(ctx, "file", in.File)
		if err != nil {
			return nil, err
		}
		u := in.URL
		if c, err := storage.Parse(u); err == nil {
			u = c.String() // as it was registered
		}
		return nil, catalogError(s.eng.Store.RemoveCatalogReplica(ctx, p, u))
	})

	del := op("delete-catalogue-file", http.MethodDelete, "/v1/filecatalogue/file/{file}", "Unregister a file with its replicas and metadata", tag)
	del.Description = "Only the catalogue entry goes; the bytes at its replicas stay."
	del.DefaultStatus = http.StatusNoContent
	huma.Register(api, del, func(ctx context.Context, in *CatalogFilePath) (*struct{}, error) {
		p, err := writableLFN(ctx, "file", in.File)
		if err != nil {
			return nil, err
		}
		return nil, catalogError(s.eng.Store.DeleteCatalogFile(ctx, p))
	})

	huma.Register(api, op("set-catalogue-file-metadata", http.MethodPut, "/v1/filecatalogue/file/{file}/metadata", "Set or remove metadata of a file", tag),
		func(ctx context.Context, in *struct {
			CatalogFilePath
			Body CatalogMetaChange
		}) (*struct{ Body CatalogFileMetaItem }, error) {
			p, err := writableLFN(ctx, "file", in.File)
			if err != nil {
				return nil, err
			}
			f, err := s.eng.Store.SetCatalogFileMetadata(ctx, p, in.Body.Metadata)
			if err != nil {
				return nil, catalogError(err)
			}
			return &struct{ Body CatalogFileMetaItem }{catalogFileMetaItem(ctx, f)}, nil
		})

	// --- metadata keys ---

	keys := op("list-catalogue-metadata", http.MethodGet, "/v1/filecatalogue/metadata", "The metadata keys, their types and the values compatible with conditions", tag)
	keys.Description = "Every key, with the values it takes in the catalogue where the conditions hold." + conditionsDoc
	huma.Register(api, keys, func(ctx context.Context, in *struct {
		Paging
		MetaConditionQuery
	}) (*struct {
		Body Collection[CatalogMetaKeyItem]
	}, error) {
		conds, err := in.conditions()
		if err != nil {
			return nil, err
		}
		ks, err := s.eng.Store.CatalogMetaKeys(ctx)
		if err != nil {
			return nil, catalogError(err)
		}
		compat, err := s.eng.Store.CompatibleCatalogMetadata(ctx, "/", conds)
		if err != nil {
			return nil, catalogError(err)
		}
		items := make([]CatalogMetaKeyItem, len(ks))
		for i, k := range ks {
			values := compat[k.Key]
			if values == nil {
				values = []any{}
			}
			items[i] = CatalogMetaKeyItem{UID: k.Key, Key: k.Key, Type: k.Type, Values: values, Links: []Link{
				link(ctx, "parent", "/filecatalogue/metadata", CollectionType),
				link(ctx, "search", dirPath("/")+"/search", CollectionType),
			}}
		}
		return &struct {
			Body Collection[CatalogMetaKeyItem]
		}{page(ctx, items, in.Paging, "/filecatalogue/metadata", "", in.extra())}, nil
	})
}
